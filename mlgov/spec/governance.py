"""Spec of the model governance flow: registries, promotion and endpoint settings.

``Team.governance`` names the team's model package groups and tunes the endpoint of each
deployment stage; ``OrgSpec.governance`` sizes the hub's promotion function. Every field has
a safe default, so a team with no ``governance`` block still gets one model package group
(``models``), network-isolated, KMS-encrypted endpoints with data capture and autoscaling,
and two instances in prod.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Annotated

from pydantic import Field, StrictBool, StringConstraints

from mlgov.spec.base import Name, SpecModel
from mlgov.spec.catalog import Email

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


# A SageMaker monitoring schedule expression: hourly, daily, or a cron of AWS's six fields.
ScheduleExpression = Annotated[
    str, StringConstraints(strict=True, max_length=256, pattern=r"^(hourly|daily|cron\(.+\))$")
]
# A feature (column) name as Model Monitor puts it into its metric names.
FeatureName = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")]


class ProblemType(str, Enum):
    """Model-quality problem types (SageMaker ``ModelQualityAppSpecification.ProblemType``)."""

    binary_classification = "BinaryClassification"
    multiclass_classification = "MulticlassClassification"
    regression = "Regression"


class ModelQualityMonitor(SpecModel):
    """Model-quality monitor: compares predictions with ground truth the team uploads."""

    problem_type: ProblemType = Field(description="What the model predicts; picks the quality metrics.")
    metric: Annotated[str, StringConstraints(strict=True, pattern=r"^[a-z0-9_]{1,40}$")] | None = Field(
        default=None,
        description="Model-quality metric to alarm on (default: auc for binary, accuracy for multiclass, rmse "
        "for regression).",
    )
    threshold: float = Field(
        default=0.0, ge=0, description="Alarm when the metric crosses this value (below it; above it for rmse/mae/mse)."
    )


class BiasMonitor(SpecModel):
    """Bias-drift monitor (SageMaker Clarify) on the captured data; its analysis config is the package's
    ``DriftCheckBaselines.Bias.ConfigFile``."""

    enabled: StrictBool = Field(default=True, description="Run the bias-drift schedule.")


class MonitoringSettings(SpecModel):
    """Model monitoring of a team's endpoints: schedule, contacts, alarms and optional monitors.

    Every prod stage is monitored; test stages only when listed in ``stages``."""

    stages: list[Name] | None = Field(
        default=None, description="Stages whose endpoints are monitored; default: every prod stage (prod always is)."
    )
    contacts: list[Email] = Field(
        default_factory=list, max_length=20, description="E-mail addresses subscribed to the team's alarm topic."
    )
    schedule: ScheduleExpression = Field(
        default="hourly", description="When the monitors run: hourly, daily or a cron(...) expression."
    )
    instance_type: InstanceType = Field(default="ml.m5.large", description="Instance type of the monitoring jobs.")
    max_runtime_seconds: int = Field(
        default=1800, ge=60, le=3600, description="Stop a monitoring job after this long (at most an hour)."
    )
    drift_features: dict[Name, list[FeatureName]] = Field(
        default_factory=dict,
        description="Per model package group: features whose baseline drift raises an alarm (Model Monitor "
        "publishes one drift metric per feature).",
    )
    drift_threshold: float = Field(
        default=0.1, gt=0, le=1, description="Alarm when a listed feature's baseline drift exceeds this distance."
    )
    latency_ms: int = Field(
        default=1000, ge=1, le=600000, description="Alarm when the p99 model latency exceeds this many milliseconds."
    )
    errors_5xx: int = Field(
        default=1, ge=1, le=100000, description="Alarm when 5XX errors in five minutes reach this count."
    )
    model_quality: ModelQualityMonitor | None = Field(
        default=None, description="Model-quality monitor (needs ground truth); off unless set."
    )
    bias: BiasMonitor | None = Field(default=None, description="Bias-drift monitor; off unless set.")


class BatchTransform(SpecModel):
    """Batch inference for one model package group: a transform pipeline in its stages."""

    instance_type: InstanceType = Field(default="ml.m5.large", description="Instance type of the transform job.")
    instance_count: int = Field(default=1, ge=1, le=100, description="Instances of the transform job.")
    stages: list[Name] | None = Field(
        default=None, description="Stages that get the batch pipeline; default: every stage of the team."
    )


class TeamGovernance(SpecModel):
    """A team's registries, the endpoint settings of each of its stages, monitoring and batch inference."""

    model_package_groups: list[Name] = Field(
        default_factory=lambda: ["models"],
        min_length=1,
        description="Model package groups in the team's dev registry; each gets a central group and a deployment "
        "pipeline in the hub.",
    )
    endpoints: dict[Name, EndpointSettings] = Field(
        default_factory=dict, description="Endpoint settings by stage name; stages not listed get the defaults."
    )
    monitoring: MonitoringSettings = Field(
        default_factory=MonitoringSettings,
        description="Model monitoring of the team's endpoints (prod always; test when listed).",
    )
    batch: dict[Name, BatchTransform] = Field(
        default_factory=dict,
        description="Batch inference by model package group: a transform pipeline beside the endpoint.",
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
    image_keep_count: int = Field(
        default=100, ge=1, le=10000, description="Tagged images each team's ECR repository keeps (newest first)."
    )
    untagged_image_days: int = Field(
        default=7, ge=1, le=3650, description="Days after which an untagged image in a team's repository expires."
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


def monitored_stages(spec: OrgSpec, team_name: str) -> list[str]:
    """Names of the team's stages whose endpoints get monitoring schedules and alarms."""
    team = spec.teams[team_name]
    listed = team.governance.monitoring.stages
    return [s.name for s in team.stages if (s.name in listed if listed is not None else is_prod_stage(spec, s))]


def batch_stages(spec: OrgSpec, team_name: str, group: str) -> list[str]:
    """Names of the team's stages that get the batch pipeline of a group (none without a batch entry)."""
    team = spec.teams[team_name]
    given = team.governance.batch.get(group)
    if given is None:
        return []
    return [s.name for s in team.stages if given.stages is None or s.name in given.stages]


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
