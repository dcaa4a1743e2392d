"""Spec of the model governance flow: registries, promotion and endpoint settings.

``Team.governance`` names the team's model package groups and tunes the endpoint of each
deployment stage; ``OrgSpec.governance`` sizes the hub's promotion function. Every field has
a safe default, so a team with no ``governance`` block still gets one model package group
(``models``), network-isolated, KMS-encrypted endpoints with data capture and autoscaling,
and two instances in prod.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from pydantic import Field, StrictBool, StringConstraints

from mlgov.spec.base import Name, SpecModel

if TYPE_CHECKING:  # pragma: no cover
    from mlgov.spec.model import OrgSpec, Stage

InstanceType = Annotated[str, StringConstraints(strict=True, pattern=r"^ml\.[a-z0-9]+\.[a-z0-9]+$")]
SubnetId = Annotated[str, StringConstraints(strict=True, pattern=r"^subnet-[0-9a-f]{8,17}$")]
SecurityGroupId = Annotated[str, StringConstraints(strict=True, pattern=r"^sg-[0-9a-f]{8,17}$")]

# CloudWatch Logs accepts only these retention periods (days).
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)
# Prod serves traffic: one instance is one availability zone and no rolling update headroom.
MIN_PROD_INSTANCES = 2


class EndpointVpc(SpecModel):
    """Subnets and security groups the endpoint's model containers run in."""

    subnet_ids: list[SubnetId] = Field(
        min_length=1, max_length=16, description="Private subnet ids in the stage account."
    )
    security_group_ids: list[SecurityGroupId] = Field(
        min_length=1, max_length=5, description="Security group ids in the stage account."
    )


class EndpointSettings(SpecModel):
    """Real-time endpoint settings for one stage; unset fields take the stage's safe default."""

    instance_type: InstanceType = Field(
        default="ml.m5.large", description="SageMaker instance type of the production variant."
    )
    instance_count: int | None = Field(
        default=None,
        ge=1,
        le=100,
        description="Initial instance count; default 1 in test, 2 in prod (prod refuses fewer than 2).",
    )
    min_capacity: int | None = Field(
        default=None, ge=1, le=100, description="Autoscaling minimum; default: instance_count."
    )
    max_capacity: int | None = Field(
        default=None, ge=1, le=100, description="Autoscaling maximum; default: twice instance_count."
    )
    invocations_per_instance: int = Field(
        default=100, ge=1, le=100000, description="Target tracking value: invocations per instance per minute."
    )
    data_capture_percent: int = Field(
        default=20, ge=0, le=100, description="Share of requests captured to S3 (0 turns capture off)."
    )
    network_isolation: StrictBool = Field(default=True, description="Run model containers without network access.")
    vpc: EndpointVpc | None = Field(
        default=None,
        description=(
            "Superseded (refused by validation): endpoints run in the stage account's network "
            "(accounts.<key>.network); kept so an old spec gets that message, not 'unknown field'."
        ),
    )


class TeamGovernance(SpecModel):
    """A team's registries and the endpoint settings of each of its stages."""

    model_package_groups: list[Name] = Field(
        default_factory=lambda: ["models"],
        min_length=1,
        description="Model package groups in the team's dev registry; each gets a central group and a deployment "
        "pipeline in the hub.",
    )
    endpoints: dict[Name, EndpointSettings] = Field(
        default_factory=dict, description="Endpoint settings by stage name; stages not listed get the defaults."
    )


class GovernanceSettings(SpecModel):
    """Hub-wide settings of the governance flow."""

    promotion_memory_mb: int = Field(
        default=1024,
        ge=256,
        le=10240,
        description="Memory of the promotion function (also its CPU share for artifact copies).",
    )
    promotion_timeout_seconds: int = Field(
        default=900,
        ge=60,
        le=900,
        description="Timeout of the promotion function; multi-GB artifact copies need minutes.",
    )
    log_retention_days: int = Field(
        default=365, description="Retention of the promotion function's log group (a CloudWatch value)."
    )


@dataclass(frozen=True)
class ResolvedEndpoint:
    """Endpoint settings of one team stage with every default applied."""

    instance_type: str
    instance_count: int
    min_capacity: int
    max_capacity: int
    invocations_per_instance: int
    data_capture_percent: int
    network_isolation: bool
    subnet_ids: tuple[str, ...]
    security_group_ids: tuple[str, ...]


def is_prod_stage(spec: OrgSpec, stage: Stage) -> bool:
    return stage.account in spec.accounts and spec.accounts[stage.account].layer.value == "prod"


def resolve_endpoint(spec: OrgSpec, team_name: str, stage: Stage) -> ResolvedEndpoint:
    """The endpoint settings a team's stage deploys with."""
    given = spec.teams[team_name].governance.endpoints.get(stage.name) or EndpointSettings()
    count = given.instance_count or (MIN_PROD_INSTANCES if is_prod_stage(spec, stage) else 1)
    low = given.min_capacity or count
    high = given.max_capacity or max(low, 2 * count)
    vpc = given.vpc
    return ResolvedEndpoint(
        instance_type=given.instance_type,
        instance_count=count,
        min_capacity=low,
        max_capacity=high,
        invocations_per_instance=given.invocations_per_instance,
        data_capture_percent=given.data_capture_percent,
        network_isolation=given.network_isolation,
        subnet_ids=tuple(sorted(vpc.subnet_ids)) if vpc else (),
        security_group_ids=tuple(sorted(vpc.security_group_ids)) if vpc else (),
    )
