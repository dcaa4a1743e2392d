"""Model monitoring and batch inference facts both sides of the flow agree on (no cdktf).

The hub's deployment pipelines pass :func:`endpoint_parameters` to the endpoint template
(``mlgov/templates/governance/endpoint.json.j2``): whether the stage monitors the endpoint, the
monitoring role, key and report location in the stage account, the schedule, AWS's monitor
images and, from the select step's ``selected.json``, the package's drift baselines. The
stage stacks create what those parameters name (:mod:`mlgov.modules.governance_stage`), and
the readers of the reports get their identity side here (:func:`report_read_statements`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mlgov.platform import governance as assets
from mlgov.platform import images, naming, policy
from mlgov.spec.governance import batch_stages, monitored_stages
from mlgov.spec.memo import cached, grouped
from mlgov.spec.model import OrgSpec, Stage

SCHEDULES = {"hourly": "cron(0 * ? * * *)", "daily": "cron(0 0 ? * * *)"}
# Model-quality metric to alarm on when the spec names none, and whether lower is worse.
DEFAULT_QUALITY_METRIC = {"BinaryClassification": "auc", "MulticlassClassification": "accuracy", "Regression": "rmse"}
HIGHER_IS_WORSE = ("rmse", "mae", "mse")
# The metrics Model Monitor's model-quality job publishes, by problem type.
QUALITY_METRICS = {
    "BinaryClassification": ("accuracy", "auc", "f1", "precision", "recall", "true_positive_rate"),
    "MulticlassClassification": ("accuracy", "weighted_f1", "weighted_precision", "weighted_recall"),
    "Regression": ("mae", "mse", "r2", "rmse"),
}
DATA_METRICS_NAMESPACE = "aws/sagemaker/Endpoints/data-metrics"
MODEL_METRICS_NAMESPACE = "aws/sagemaker/Endpoints/model-metrics"


def schedule_expression(spec: OrgSpec, team: str) -> str:
    given = spec.teams[team].governance.monitoring.schedule
    return SCHEDULES.get(given, given)


def monitors(spec: OrgSpec, team: str) -> tuple[str, ...]:
    """The monitors a team's monitored endpoints run (data quality always)."""
    m = spec.teams[team].governance.monitoring
    return ("data-quality",) + (("model-quality",) if m.model_quality else ()) + (("bias",) if m.bias else ())


def required_monitors(spec: OrgSpec, team: str) -> tuple[str, ...]:
    """Monitors whose baselines the select step insists on (none if no stage is monitored)."""
    return monitors(spec, team) if monitored_stages(spec, team) else ()


def quality_metric(spec: OrgSpec, team: str) -> str | None:
    quality = spec.teams[team].governance.monitoring.model_quality
    if quality is None:
        return None
    return quality.metric or DEFAULT_QUALITY_METRIC[quality.problem_type.value]


def monitoring_accounts(spec: OrgSpec, team: str) -> list[str]:
    """Account keys where a team has a monitored stage."""
    names = set(monitored_stages(spec, team))
    return sorted({s.account for s in spec.teams[team].stages if s.name in names})


def monitored_accounts(spec: OrgSpec) -> list[str]:
    """Account keys with at least one monitored team stage (they get a monitoring bucket and key)."""
    return sorted(monitored_teams_by_account(spec))


def monitored_teams_by_account(spec: OrgSpec) -> Mapping[str, tuple[str, ...]]:
    """Account key -> the teams with a monitored stage there, sorted by key (once per spec object:
    every stage account and every team's roles ask)."""

    return cached(
        spec,
        "monitored_teams_by_account",
        lambda: grouped((account, team) for team in sorted(spec.teams) for account in monitoring_accounts(spec, team)),
    )


def reports_uri(spec: OrgSpec, account_key: str, team: str, group: str) -> str:
    return f"s3://{naming.monitoring_bucket(spec, account_key)}/{naming.team_label(spec, team)}/{group}"


def key_alias_arn(spec: OrgSpec, account_key: str) -> str:
    region = naming.primary_region(spec, account_key)
    return f"arn:aws:kms:{region}:{spec.accounts[account_key].id}:{naming.kms_alias(spec, 'monitoring')}"


def endpoint_parameters(spec: OrgSpec, team: str, group: str, stage: Stage) -> dict[str, Any]:
    """The endpoint template's monitoring and batch parameters for one stage of one model."""
    m = spec.teams[team].governance.monitoring
    account_id = spec.accounts[stage.account].id
    region = naming.primary_region(spec, stage.account)
    on = stage.name in monitored_stages(spec, team)
    quality = m.model_quality
    batch = spec.teams[team].governance.batch.get(group)
    batch_on = stage.name in batch_stages(spec, team, group)
    platform_bucket = naming.bucket_name(spec, stage.account, region, "platform")
    known = region in images.known_regions()
    # A stage in another region than the hub's reads its region's copy of the pin (the baselines
    # in the hub's replica bucket there).
    pin = assets.selected_file(spec, region)
    selected = {k: {"Fn::GetParam": ["selected", pin, k]} for k in assets.BASELINES}
    return {
        "MonitoringEnabled": "true" if on else "false",
        "ModelQualityEnabled": "true" if on and quality else "false",
        "BiasEnabled": "true" if on and m.bias and m.bias.enabled else "false",
        "MonitoringRoleArn": policy.role_arn(account_id, naming.team_role(spec, team, "monitoring")),
        "MonitoringKmsKeyArn": key_alias_arn(spec, stage.account),
        "MonitoringReportsUri": reports_uri(spec, stage.account, team, group),
        "MonitoringScheduleExpression": schedule_expression(spec, team),
        "MonitoringInstanceType": m.instance_type,
        "MonitoringMaxRuntime": str(m.max_runtime_seconds),
        "MonitorImageUri": images.model_monitor_image(region) if known else "none",
        "ClarifyImageUri": images.clarify_image(region) if known else "none",
        **selected,
        "GroundTruthUri": f"{reports_uri(spec, stage.account, team, group)}/ground-truth",
        "ProblemType": quality.problem_type.value if quality else "BinaryClassification",
        "InferenceAttribute": "",
        "ProbabilityAttribute": "",
        "BatchEnabled": "true" if batch_on else "false",
        "BatchPipelineName": naming.batch_pipeline(spec, team, group),
        "BatchRoleArn": policy.role_arn(account_id, naming.team_role(spec, team, "batch")),
        "BatchInstanceType": batch.instance_type if batch else "ml.m5.large",
        "BatchInstanceCount": str(batch.instance_count if batch else 1),
        "BatchDataUri": f"s3://{platform_bucket}/{naming.batch_bucket_prefix(naming.team_label(spec, team), group)}",
    }


def report_read_statements(
    spec: OrgSpec, sid: str, accounts: list[str], prefixes: dict[str, list[str]] | None = None
) -> list[dict[str, Any]]:
    """Identity side of reading monitoring reports in stage accounts: the objects (all, or only
    ``prefixes[account]``), listing them, and decrypting through S3 with the account's monitoring key.

    Without ``prefixes`` (the hub's personas read every stage account's reports) the statements
    name every ``<org>-monitoring-`` bucket and monitoring key of an account of the organization
    (aws:ResourceOrgID, a global condition key: IAM User Guide, "AWS global condition context
    keys"), so their size does not grow with the stage accounts."""
    if not accounts:
        return []
    regions = sorted({naming.primary_region(spec, a) for a in accounts})
    key_conditions: dict[str, dict[str, Any]] = {
        "ForAnyValue:StringEquals": {"kms:ResourceAliases": [naming.kms_alias(spec, "monitoring")]},
        "StringEquals": {"kms:ViaService": [f"s3.{r}.amazonaws.com" for r in regions]},
    }
    if prefixes is None:
        in_org = {"StringEquals": {"aws:ResourceOrgID": spec.organization.id}}
        buckets = policy.bucket_arns(naming.bucket_name_pattern(spec, "monitoring"))
        key_conditions["StringEquals"]["aws:ResourceOrgID"] = spec.organization.id
        return [
            policy.statement(f"{sid}Objects", ["s3:GetObject"], [buckets[1]], conditions=in_org),
            policy.statement(f"{sid}List", ["s3:ListBucket"], [buckets[0]], conditions=in_org),
            policy.statement(
                f"{sid}Key", ["kms:Decrypt"], [f"arn:aws:kms:{r}:*:key/*" for r in regions], conditions=key_conditions
            ),
        ]
    objects, buckets, listing = [], [], []
    for account_key in accounts:
        bucket = naming.monitoring_bucket(spec, account_key)
        chosen = prefixes.get(account_key, [""])
        objects += [f"arn:aws:s3:::{bucket}/{p}*" for p in chosen]
        buckets.append(f"arn:aws:s3:::{bucket}")
        listing += [f"{p}*" for p in chosen if p]
    statements = [policy.statement(f"{sid}Objects", ["s3:GetObject"], objects)]
    list_conditions = {"StringLike": {"s3:prefix": sorted(set(listing))}} if listing else None
    statements.append(policy.statement(f"{sid}List", ["s3:ListBucket"], buckets, conditions=list_conditions))
    keys = [f"arn:aws:kms:{naming.primary_region(spec, a)}:{spec.accounts[a].id}:key/*" for a in accounts]
    statements.append(policy.statement(f"{sid}Key", ["kms:Decrypt"], keys, conditions=key_conditions))
    return statements
