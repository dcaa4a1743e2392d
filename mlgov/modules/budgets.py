"""Team budgets in the management account (:mod:`mlgov.platform.budgets`).

Reads ``teams.<team>.budget``. Creates ``aws_budgets_budget.<team>`` (monthly cost of the team's
dev account, an e-mail alert per threshold) and, with ``deny_compute_at_limit``,
``aws_budgets_budget_action.<team>`` (at 100%: attach the deny-new-compute SCP to the dev
account, automatically) run as the one ``<org>-budget-action`` role, which may attach and
detach exactly that SCP on exactly those accounts.
"""

from __future__ import annotations

from cdktf_cdktf_provider_aws.budgets_budget import BudgetsBudget, BudgetsBudgetCostFilter, BudgetsBudgetNotification
from cdktf_cdktf_provider_aws.budgets_budget_action import (
    BudgetsBudgetAction,
    BudgetsBudgetActionActionThreshold,
    BudgetsBudgetActionDefinition,
    BudgetsBudgetActionDefinitionScpActionDefinition,
    BudgetsBudgetActionSubscriber,
)
from cdktf_cdktf_provider_aws.organizations_policy import OrganizationsPolicy
from constructs import Construct

from mlgov.modules.blocks import named, ref
from mlgov.modules.governance_common import role, service_trust
from mlgov.platform import budgets as facts
from mlgov.platform import naming
from mlgov.platform.iam import budgets as iam
from mlgov.platform.naming import construct_id
from mlgov.spec.model import OrgSpec


class TeamBudgets(Construct):
    """Every team's budget, its alerts and its optional action."""

    def __init__(self, scope: Construct, id: str, *, spec: OrgSpec, deny_compute: OrganizationsPolicy | None) -> None:
        super().__init__(scope, id)
        management_id = spec.accounts[spec.organization.management_account].id
        found = facts.budgets(spec)
        action_role = None
        if facts.action_accounts(spec):
            assert deny_compute is not None  # the guardrails create it whenever an action needs it
            action_role = role(
                self,
                "budget_action",
                name=naming.budget_action_role(spec),
                trust=service_trust(iam.BUDGETS, management_id),
                description="AWS Budgets attaches the deny-new-compute SCP to an overspent team's dev account",
                statements=iam.action_statements(spec, ref(deny_compute, "arn"), facts.action_accounts(spec)),
            )
        for budget in found:
            address = construct_id(budget.team)
            resource = named(
                BudgetsBudget(
                    self,
                    f"budget_{address}",
                    name=budget.name,
                    budget_type="COST",
                    limit_amount=str(budget.limit_usd),
                    limit_unit="USD",
                    time_unit="MONTHLY",
                    cost_filter=[BudgetsBudgetCostFilter(name="LinkedAccount", values=[budget.account_id])],
                    notification=[
                        BudgetsBudgetNotification(
                            comparison_operator="GREATER_THAN",
                            threshold=percent,
                            threshold_type="PERCENTAGE",
                            notification_type="ACTUAL",
                            subscriber_email_addresses=list(budget.contacts),
                        )
                        for percent in budget.thresholds
                    ],
                    tags=budget.tags,
                ),
                address,
            )
            if budget.deny_compute:
                assert deny_compute is not None and action_role is not None
                named(
                    BudgetsBudgetAction(
                        self,
                        f"action_{address}",
                        budget_name=ref(resource, "name"),
                        action_type="APPLY_SCP_POLICY",
                        approval_model="AUTOMATIC",
                        notification_type="ACTUAL",
                        execution_role_arn=ref(action_role, "arn"),
                        action_threshold=BudgetsBudgetActionActionThreshold(
                            action_threshold_type="PERCENTAGE",
                            action_threshold_value=facts.ACTION_THRESHOLD_PERCENT,
                        ),
                        definition=BudgetsBudgetActionDefinition(
                            scp_action_definition=BudgetsBudgetActionDefinitionScpActionDefinition(
                                policy_id=ref(deny_compute, "id"), target_ids=[budget.account_id]
                            )
                        ),
                        subscriber=[
                            BudgetsBudgetActionSubscriber(address=c, subscription_type="EMAIL") for c in budget.contacts
                        ],
                        tags=budget.tags,
                    ),
                    address,
                )
