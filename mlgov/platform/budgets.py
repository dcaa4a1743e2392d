"""Team budgets as plain data: one AWS Budget per team with a ``budget``, in the management account.

AWS Budgets' SCP actions are the management account's (only it can attach an SCP), so every
team's budget lives there, filtered to the team's dev account (``LinkedAccount``). With
``deny_compute_at_limit`` a budget action attaches the deny-new-compute SCP
(:func:`deny_compute_statements`, created unattached by the guardrails) to the dev account at
100% of the limit, automatically, through one role (:mod:`mlgov.platform.iam.budgets`) that may
attach and detach exactly that SCP on exactly those accounts.

AWS Budgets quotas ("Quotas and restrictions", AWS Cost Management User Guide,
``https://docs.aws.amazon.com/cost-management/latest/userguide/budgets-limits.html``): five
notifications per budget and ten email subscribers per notification; the spec's
``TeamBudget`` types hold both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlgov.platform import naming, policy, tags
from mlgov.spec.model import OrgSpec

# What "new compute" is: the SageMaker calls that start paid instances, and EC2's own.
DENY_COMPUTE_ACTIONS = (
    "ec2:RunInstances",
    "sagemaker:CreateApp",
    "sagemaker:CreateAutoMLJob",
    "sagemaker:CreateAutoMLJobV2",
    "sagemaker:CreateCluster",
    "sagemaker:CreateCompilationJob",
    "sagemaker:CreateEndpoint",
    "sagemaker:CreateHyperParameterTuningJob",
    "sagemaker:CreateNotebookInstance",
    "sagemaker:CreateProcessingJob",
    "sagemaker:CreateTrainingJob",
    "sagemaker:CreateTransformJob",
    "sagemaker:StartNotebookInstance",
    "sagemaker:StartPipelineExecution",
)
DENY_COMPUTE_KEY = "deny_new_compute"
ACTION_THRESHOLD_PERCENT = 100


@dataclass(frozen=True)
class Budget:
    """One team's budget: its name, account, limit, alerts and whether the action is on."""

    team: str
    name: str
    account_key: str
    account_id: str
    limit_usd: int
    contacts: tuple[str, ...]
    thresholds: tuple[int, ...]
    deny_compute: bool
    tags: dict[str, str]


def budgets(spec: OrgSpec) -> list[Budget]:
    """Every team budget, by team."""
    out = []
    for team, t in sorted(spec.teams.items()):
        if t.budget is None:
            continue
        out.append(
            Budget(
                team,
                naming.team_budget(spec, team),
                t.dev_account,
                spec.accounts[t.dev_account].id,
                t.budget.monthly_limit_usd,
                tuple(sorted(set(t.budget.contacts))),
                tuple(sorted(set(t.budget.thresholds))),
                t.budget.deny_compute_at_limit,
                tags.team_tags(spec, team),
            )
        )
    return out


def action_accounts(spec: OrgSpec) -> list[str]:
    """Ids of the accounts a budget action may deny new compute in."""
    return sorted(b.account_id for b in budgets(spec) if b.deny_compute)


def deny_compute_statements(_spec: OrgSpec) -> list[dict[str, Any]]:
    """The deny-new-compute SCP: nothing new starts; what runs keeps running, reads and deletes stay."""
    return [policy.statement("DenyNewCompute", DENY_COMPUTE_ACTIONS, "*", effect="Deny")]
