"""Semantic checks of the governance settings: log retention, model package groups, endpoints,
monitoring and batch inference."""

from __future__ import annotations

from collections.abc import Iterator

from mlgov.platform import images, monitoring, naming
from mlgov.spec.governance import LOG_RETENTION_DAYS, MIN_PROD_INSTANCES, is_prod_stage, resolve_endpoint
from mlgov.spec.model import Layer, OrgSpec


def governance_problems(spec: OrgSpec) -> Iterator[tuple[tuple, str]]:
    """Semantic checks of the governance settings, as ``(spec path, message)``."""
    retention = spec.governance.log_retention_days
    if retention not in LOG_RETENTION_DAYS:
        yield (
            ("governance", "log_retention_days"),
            (f"not a CloudWatch Logs retention period (got {retention}, expected one of {list(LOG_RETENTION_DAYS)})"),
        )
    for team_name, team in sorted(spec.teams.items()):
        yield from _monitoring_problems(spec, team_name)
        gpath = ("teams", team_name, "governance")
        groups = team.governance.model_package_groups
        for i, group in enumerate(groups):
            if group in groups[:i]:
                yield gpath + ("model_package_groups", i), f"duplicate model package group (got {group!r} twice)"
        for i, stage in enumerate(team.stages):
            if stage.account not in spec.accounts or not spec.keys_in_layer(Layer.hub):
                continue  # reported by the reference and layer checks
            # A stage may run in another region than the hub's (the pipeline's deploy action runs
            # there); the account's regions are already within organization.allowed_regions
            # (mlgov.validation.checks), so the region guardrail lets the deployment through. The
            # AWS images a package names are swapped for that region's (platform.images).
            there = naming.stage_region(spec, stage.account)
            if there != naming.hub_region(spec) and there not in images.known_regions():
                yield (
                    ("teams", team_name, "stages", i, "account"),
                    (
                        f"stage account {stage.account!r} runs in a region whose AWS SageMaker image registries "
                        f"mlgov does not know, so a package's AWS images have no copy there (got {there!r}, "
                        f"expected one of {images.known_regions()})"
                    ),
                )
        stages = {s.name: s for s in team.stages}
        for stage_name, given in sorted(team.governance.endpoints.items()):
            epath = gpath + ("endpoints", stage_name)
            if stage_name not in stages:
                yield epath, f"unknown stage (got {stage_name!r}, expected one of {sorted(stages)})"
                continue
            stage = stages[stage_name]
            if given.vpc is not None:
                yield (
                    epath + ("vpc",),
                    (
                        f"superseded by the network of account {stage.account!r}: endpoints run in the subnets and "
                        "security groups its stack publishes in SSM (got subnet_ids "
                        f"{list(given.vpc.subnet_ids)}; remove this block, or adopt that VPC in "
                        f"accounts.{stage.account}.network)"
                    ),
                )
            resolved = resolve_endpoint(spec, team_name, stage)
            if is_prod_stage(spec, stage):
                if resolved.instance_count < MIN_PROD_INSTANCES:
                    yield (
                        epath + ("instance_count",),
                        (
                            f"a prod endpoint needs at least {MIN_PROD_INSTANCES} instances (got "
                            f"{resolved.instance_count})"
                        ),
                    )
                if given.min_capacity is not None and given.min_capacity < MIN_PROD_INSTANCES:
                    yield (
                        epath + ("min_capacity",),
                        (
                            f"a prod endpoint must not scale below {MIN_PROD_INSTANCES} instances (got "
                            f"{resolved.min_capacity})"
                        ),
                    )
            if resolved.min_capacity > resolved.max_capacity:
                yield (
                    epath + ("max_capacity",),
                    (
                        f"autoscaling maximum is below the minimum (got {resolved.max_capacity}, expected at least "
                        f"{resolved.min_capacity})"
                    ),
                )
            elif not resolved.min_capacity <= resolved.instance_count <= resolved.max_capacity:
                yield (
                    epath + ("instance_count",),
                    (
                        f"instance count is outside the autoscaling range (got {resolved.instance_count}, "
                        f"expected {resolved.min_capacity}..{resolved.max_capacity})"
                    ),
                )


def _monitoring_problems(spec: OrgSpec, team_name: str) -> Iterator[tuple[tuple, str]]:
    """Monitoring and batch settings of one team: names they refer to exist, prod stays monitored."""
    team = spec.teams[team_name]
    gpath = ("teams", team_name, "governance")
    mpath = gpath + ("monitoring",)
    m = team.governance.monitoring
    stages = {s.name: s for s in team.stages}
    groups = team.governance.model_package_groups
    if m.stages is not None:
        for i, name in enumerate(m.stages):
            if name not in stages:
                yield mpath + ("stages", i), f"unknown stage (got {name!r}, expected one of {sorted(stages)})"
        for name, stage in stages.items():
            if is_prod_stage(spec, stage) and name not in m.stages:
                yield (
                    mpath + ("stages",),
                    f"prod stage {name!r} must be monitored (got {list(m.stages)}, expected {name!r} among them)",
                )
    for i, contact in enumerate(m.contacts):
        if contact in m.contacts[:i]:
            yield mpath + ("contacts", i), f"duplicate contact (got {contact!r} twice)"
    for group, features in sorted(m.drift_features.items()):
        if group not in groups:
            yield (
                mpath + ("drift_features", group),
                f"unknown model package group (got {group!r}, expected one of {sorted(groups)})",
            )
        for i, feature in enumerate(features):
            if feature in features[:i]:
                yield mpath + ("drift_features", group, i), f"duplicate feature (got {feature!r} twice)"
    quality = m.model_quality
    if quality is not None and quality.metric is not None:
        allowed = monitoring.QUALITY_METRICS[quality.problem_type.value]
        if quality.metric not in allowed:
            yield (
                mpath + ("model_quality", "metric"),
                (
                    f"not a {quality.problem_type.value} metric of the model-quality monitor (got "
                    f"{quality.metric!r}, expected one of {list(allowed)})"
                ),
            )
    # The deployment's select step requires the package's baselines of every monitor that is on
    # (mlgov.platform.governance.MONITOR_BASELINES); model-build registers only the data-quality
    # one, so with these monitors on every deployment would fail.
    for field, monitor, baseline in (
        ("model_quality", quality, "ModelQuality.Constraints"),
        (
            "bias",
            m.bias if m.bias is not None and m.bias.enabled else None,
            "Bias.ConfigFile and PostTrainingConstraints",
        ),
    ):
        if monitor is not None:
            yield (
                mpath + (field,),
                f"this monitor needs the model package's DriftCheckBaselines.{baseline}, which no model-build "
                f"version registers yet, so every deployment would fail (expected: leave {field} unset)",
            )
    for group, batch in sorted(team.governance.batch.items()):
        bpath = gpath + ("batch", group)
        if group not in groups:
            yield bpath, f"unknown model package group (got {group!r}, expected one of {sorted(groups)})"
        for i, name in enumerate(batch.stages or []):
            if name not in stages:
                yield bpath + ("stages", i), f"unknown stage (got {name!r}, expected one of {sorted(stages)})"
