"""Spec of cost governance: SageMaker instance-type allow lists and team budgets.

The layer lists live under ``management.guardrails.sagemaker_instance_types`` (one SCP per
account of a restricted layer, :mod:`mlgov.platform.guardrails`); a team's extra types under
``teams.<team>.instance_types``; a team's budget under ``teams.<team>.budget`` (AWS Budgets in
the management account, :mod:`mlgov.platform.budgets`).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictBool, StringConstraints

from mlgov.spec.base import SpecModel
from mlgov.spec.catalog import Email

# ml.<family>.<size>, the size may be `*` (every size of the family): ml.m5.xlarge, ml.g5.*.
InstanceTypePattern = Annotated[
    str, StringConstraints(strict=True, pattern=r"^ml\.[a-z0-9-]+\.([a-z0-9]+|\*)$", max_length=64)
]
Percent = Annotated[int, Field(ge=1, le=1000, strict=True)]


class LayerInstanceTypes(SpecModel):
    """Allowed SageMaker instance types per account layer (unset: that layer is not restricted)."""

    dev: list[InstanceTypePattern] | None = Field(
        default=None,
        description="Types allowed in the teams' dev accounts, e.g. [ml.t3.*, ml.m5.large, ml.m5.xlarge]; "
        "Studio's free `system` instance is always allowed.",
    )
    test: list[InstanceTypePattern] | None = Field(
        default=None, description="Types allowed in the test accounts (endpoints, monitoring, batch)."
    )
    prod: list[InstanceTypePattern] | None = Field(default=None, description="Types allowed in the prod accounts.")


class InstanceTypeGuardrail(LayerInstanceTypes):
    """Deny every SageMaker create or update call whose `sagemaker:InstanceTypes` names a type outside the
    layer's list (plus the team's own `instance_types`): one SCP per account of a restricted layer,
    attached to that account."""

    enabled: StrictBool = Field(default=True, description="Create and attach the SCPs (when a layer has a list).")


class TeamInstanceTypes(SpecModel):
    """Extra instance types one team may use on top of its layers' lists (e.g. GPU families)."""

    dev: list[InstanceTypePattern] = Field(
        default_factory=list, description="Extra types in the team's dev account, e.g. [ml.g5.*]."
    )
    test: list[InstanceTypePattern] = Field(
        default_factory=list, description="Extra types for the team's own roles in the accounts of its test stages."
    )
    prod: list[InstanceTypePattern] = Field(
        default_factory=list, description="Extra types for the team's own roles in the accounts of its prod stages."
    )


class TeamBudget(SpecModel):
    """A monthly AWS Budget over the team's dev account, created in the management account."""

    monthly_limit_usd: Annotated[int, Field(ge=1, le=100_000_000, strict=True)] = Field(
        description="Monthly cost limit of the team's dev account in USD (unblended cost)."
    )
    contacts: list[Email] = Field(min_length=1, max_length=10, description="Emails alerted at each threshold.")
    thresholds: list[Percent] = Field(
        default_factory=lambda: [80, 100],
        min_length=1,
        max_length=5,
        description="Alert when actual spend reaches these percentages of the limit (AWS Budgets allows 5 "
        "notifications per budget).",
    )
    deny_compute_at_limit: StrictBool = Field(
        default=False,
        description="Budget action: at 100% of the limit AWS Budgets attaches the deny-new-compute SCP to the dev "
        "account, automatically; reverse the action in AWS Budgets to lift it (docs/cost.md).",
    )
