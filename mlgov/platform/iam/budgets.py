"""The budget action's role (management account): AWS Budgets attaches or detaches exactly the
deny-new-compute SCP on exactly the dev accounts whose budget has the action."""

from __future__ import annotations

from typing import Any

from mlgov.platform import policy
from mlgov.spec.model import OrgSpec

BUDGETS = "budgets.amazonaws.com"
ACTION_ACTIONS = ("organizations:AttachPolicy", "organizations:DetachPolicy")


def account_arn(spec: OrgSpec, account_id: str) -> str:
    """An account's ARN as Organizations names it (management account id, organization id)."""
    management = spec.accounts[spec.organization.management_account].id
    return f"arn:aws:organizations::{management}:account/{spec.organization.id}/{account_id}"


def action_statements(spec: OrgSpec, policy_arn: str, account_ids: list[str]) -> list[dict[str, Any]]:
    """Attach and detach the one SCP (``policy_arn``, a reference) on the listed accounts only."""
    return [
        policy.statement(
            "AttachDenyComputeToBudgetedAccounts",
            ACTION_ACTIONS,
            [policy_arn, *(account_arn(spec, a) for a in account_ids)],
        )
    ]
