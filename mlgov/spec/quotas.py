"""Spec of ``quotas:``: the AWS quota raises an organization has been granted.

AWS enforces quotas at apply time; ``validate`` computes each one for the spec
(:mod:`mlgov.validation.quotas`) against AWS's default. An org whose accounts have had an
ADJUSTABLE quota raised (Service Quotas, a support case) says so here, e.g.
``quotas: {iam_roles_per_account: 5000}``; the raised value then applies to every account.
Hard quotas cannot be raised by AWS, so naming one here is an error (the key and why are in
:data:`HARD_QUOTAS`); the table of every quota, its default, maximum and source is
:mod:`mlgov.platform.quotas` (docs/quotas.md).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, StrictInt, model_validator
from pydantic_core import PydanticCustomError

from mlgov.spec.base import SpecModel

Raise = Annotated[StrictInt, Field(ge=1)]

# Quotas AWS does not raise (keys of mlgov.platform.quotas.QUOTAS with adjustable=False):
# listed here so that naming one under `quotas:` says so instead of "unknown field".
HARD_QUOTAS = frozenset(
    {
        "portfolio_iam_pattern_principals",
        "ecr_replication_rules",
        "ecr_replication_filters_per_rule",
        "iam_role_inline_policies_chars",
        "iam_managed_policy_chars",
        "s3_bucket_policy_bytes",
        "kms_key_policy_bytes",
        "sns_topic_policy_bytes",
        "sqs_queue_policy_bytes",
        "lambda_resource_policy_bytes",
        "codepipeline_action_configuration_value_chars",
        "scp_chars",
        "scps_per_target",
        "organization_ous",
        "ou_nesting_depth",
        "lf_tags_per_resource",
        "tags_per_resource",
    }
)


class QuotaRaises(SpecModel):
    """Adjustable AWS quotas the organization has had raised; each omitted one is AWS's default."""

    iam_roles_per_account: Raise | None = Field(
        default=None, description="IAM roles in one account (AWS default 1,000, at most 5,000)."
    )
    iam_role_trust_policy_chars: Raise | None = Field(
        default=None,
        description="Characters of a role trust policy, whitespace not counted (AWS default 2,048, at most 4,096).",
    )
    event_rules_per_bus: Raise | None = Field(
        default=None, description="EventBridge rules on one event bus (AWS default 300)."
    )
    event_bus_policy_chars: Raise | None = Field(
        default=None,
        description="Characters of one EventBridge event bus's resource-based policy (AWS default 10,240).",
    )
    event_pattern_chars: Raise | None = Field(
        default=None, description="Characters of one EventBridge event pattern (AWS default 2,048, at most 4,096)."
    )
    codepipeline_pipelines_per_region: Raise | None = Field(
        default=None, description="CodePipeline pipelines in one account and region (AWS default 1,000)."
    )
    vpc_interface_endpoints_per_vpc: Raise | None = Field(
        default=None, description="Interface VPC endpoints in one VPC (AWS default 50)."
    )
    security_group_inbound_rules: Raise | None = Field(
        default=None, description="Inbound rules of one security group (AWS default 60)."
    )
    security_group_outbound_rules: Raise | None = Field(
        default=None, description="Outbound rules of one security group (AWS default 60)."
    )
    security_groups_per_network_interface: Raise | None = Field(
        default=None, description="Security groups on one network interface (AWS default 5, at most 16)."
    )
    organization_accounts: Raise | None = Field(
        default=None, description="Accounts in the organization (AWS default 10 for a new organization)."
    )
    lf_tags_per_account: Raise | None = Field(
        default=None, description="LF-tags the data account defines (AWS default 1,000)."
    )
    lf_tag_values: Raise | None = Field(default=None, description="Values of one LF-tag (AWS default 1,000).")
    lf_cross_account_grants: Raise | None = Field(
        default=None,
        description="Lake Formation grants the data account makes to other accounts by named resource "
        "(AWS default 1,600; raised through RAM's resource shares quota).",
    )

    @model_validator(mode="before")
    @classmethod
    def _hard_quotas_cannot_be_raised(cls, data: Any) -> Any:
        if isinstance(data, dict):
            hard = sorted(k for k in data if k in HARD_QUOTAS)
            if hard:
                raise PydanticCustomError(
                    "hard_quota",
                    "{key} is a hard AWS quota, AWS does not raise it (remove it; only adjustable quotas can be "
                    "raised: see docs/quotas.md)",
                    {"key": hard[0]},
                )
        return data

    def raised(self) -> dict[str, int]:
        """The quotas this spec raises, by key."""
        return {key: value for key, value in self.model_dump().items() if value is not None}
