"""The story after a deploy: the endpoint is monitored, its reports reach the right people.

Walked from :meth:`tests.journey.journey.Journey._stage` for every stage of every model:

- 10 the schedule: the endpoint template the pipeline ships (read from the source zip in the
  tree) holds a data-quality schedule that is ON in a monitored stage and compares against
  the package's own baselines: the select project's buildspec is RUN (``sh``, with an ``aws``
  stub answering as the central registry would) and its ``selected.json`` feeds the template;
- 11 the deploy role (CloudFormation's, the endpoint deployer) creates and updates the schedule
  with the subnets and volume key the inline job definition sends, under the account's SCPs,
  and passes only the monitoring role;
- 12 the monitoring role reads the captured data and the baselines, and writes its reports;
- 13 the hub's governance officer and ML engineer read the reports, the team's data scientist
  reads its own team's, another team's data scientist does not;
- 14 the endpoint's alarms notify the team's topic, and CloudWatch may publish to it;
- 15 with batch inference, the deployer creates the batch pipeline and passes its role only;
- 16 images: the team's endpoint role pulls from the team's repository in the hub, another
  team's endpoint role may not.

Only iam-simulate decides; this module builds the requests.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from mlgov.platform import governance as assets
from mlgov.platform import naming
from mlgov.review import policies as collector

# A stand-in for the AWS CLI answering as the central registry would: the package ARN for the
# list query, and the package itself (DescribeModelPackage's JSON) for the describe call; and as
# S3 would for an artifact's replication status ($STUB_REPLICATION, default COMPLETED).
AWS_STUB = """#!{python}
import json, os, sys
args = sys.argv[1:]
if args[:2] == ["sagemaker", "list-model-packages"]:
    print(os.environ["STUB_ARN"])
elif args[:2] == ["sagemaker", "describe-model-package"] and args[args.index("--output") + 1] == "json":
    print(os.environ["STUB_PACKAGE"])
elif args[:2] == ["s3api", "head-object"] and args[args.index("--query") + 1] == "ReplicationStatus":
    print(os.environ.get("STUB_REPLICATION", "COMPLETED"))
else:
    sys.exit("unexpected aws call: " + " ".join(args))
"""


def shipped_template(world, hub_stack) -> dict[str, Any] | None:
    """The endpoint template inside the pipelines' source zip, as the tree holds it."""
    data = world.tree.get(f"stacks/{hub_stack.name}/{assets.ENDPOINT_SOURCE_ZIP}")
    if data is None:
        return None
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return json.loads(archive.read(assets.ENDPOINT_TEMPLATE))


def registered_package(arn: str, statistics: str, constraints: str, **fields: Any) -> dict[str, Any]:
    """DescribeModelPackage's answer for an approved central package with those data-quality
    baselines (``None``: absent), one container; ``fields`` replace top-level fields."""
    baselines = {
        kind: {"ContentType": "application/json", "S3Uri": uri}
        for kind, uri in (("Statistics", statistics), ("Constraints", constraints))
        if uri not in (None, "None")
    }
    package: dict[str, Any] = {
        "ModelPackageArn": arn,
        "ModelApprovalStatus": "Approved",
        "InferenceSpecification": {
            "Containers": [
                {
                    "Image": "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:1.7-1",
                    "ImageDigest": "sha256:" + "0" * 64,
                    "ModelDataUrl": arn.replace(":model-package/", ":model/") + "/model.tar.gz",
                }
            ]
        },
    }
    if baselines:
        package["DriftCheckBaselines"] = {"ModelDataQuality": baselines}
    package.update(fields)
    return package


def run_select(
    buildspec: str,
    package: str,
    statistics: str,
    constraints: str,
    *,
    described: dict[str, Any] | None = None,
    environment: dict[str, str] | None = None,
) -> dict[str, Any] | str:
    """Run a select buildspec's commands in ``sh`` with a stub ``aws`` (the package registered
    with those data-quality baselines, or as ``described``), with the action's ``environment``:
    its selected.json, or its error.

    The exported pipeline variables come back under ``"$exported"``, the region copies of the
    pin and the stages' template configuration files, when the build writes some, under
    ``"$files"`` (by file name)."""
    commands = json.loads(buildspec)["phases"]["build"]["commands"]
    exported = json.loads(buildspec).get("env", {}).get("exported-variables", [])
    probe = [f'printf "%s\\n" "${name}" > exported.{name}' for name in exported]
    with tempfile.TemporaryDirectory(prefix="mlgov-select-") as tmp:
        stub = Path(tmp) / "aws"
        stub.write_text(AWS_STUB.format(python=sys.executable))
        stub.chmod(0o755)
        env = dict(
            os.environ,
            PATH=f"{tmp}:{os.environ.get('PATH', '')}",
            STUB_ARN=package,
            STUB_PACKAGE=json.dumps(described or registered_package(package, statistics, constraints)),
            **(environment or {}),
        )
        proc = subprocess.run(
            ["sh", "-ec", "\n".join(commands + probe)], cwd=tmp, env=env, capture_output=True, text=True, timeout=30
        )
        if proc.returncode != 0:
            return proc.stderr.strip() or f"exit {proc.returncode}"
        text = (Path(tmp) / assets.SELECTED_FILE).read_text()
        try:
            selected = json.loads(text, object_pairs_hook=_unique_keys)
        except ValueError as exc:
            return f"selected.json is not one JSON object with unique keys: {exc}"
        selected["$exported"] = {n: (Path(tmp) / f"exported.{n}").read_text().strip() for n in exported}
        # The region copies of the pin the build wrote beside it (stages in other regions), if any.
        files = {
            f.name: json.loads(f.read_text())
            for pattern in ("selected-*.json", assets.deploy_config_file("*"))
            for f in sorted(Path(tmp).glob(pattern))
        }
        if files:
            selected["$files"] = files
        return selected


def deploy_parameters(
    buildspec: str, configuration: dict[str, str], package: str, selected: dict[str, Any] | None = None
) -> dict[str, Any] | str:
    """What CloudFormation receives from a deploy action: the ``Parameters`` of the template
    configuration file its ``TemplateConfiguration`` names, as the select build (``buildspec``,
    run by :func:`run_select` for ``package``, or its result ``selected``) wrote it into the
    ``selected`` artifact; or an error. The action's ``ParameterOverrides``, if any, win."""
    if selected is None:
        ran = run_select(buildspec, package, "s3://baselines/statistics.json", "s3://baselines/constraints.json")
        if isinstance(ran, str):
            return ran
        selected = ran
    artifact, _, file = configuration.get("TemplateConfiguration", "").partition("::")
    if artifact != "selected" or file not in selected.get("$files", {}):
        return (
            f"TemplateConfiguration {configuration.get('TemplateConfiguration')!r} names no file the select step wrote"
        )
    parameters = dict(selected["$files"][file]["Parameters"])
    parameters.update(json.loads(configuration.get("ParameterOverrides", "{}")))
    return parameters


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object's members; a key given twice (an injected field) is an error, not last-wins."""
    keys = [k for k, _ in pairs]
    if duplicates := sorted({k for k in keys if keys.count(k) > 1}):
        raise ValueError(f"selected.json repeats {duplicates}")
    return dict(pairs)


def select_buildspec(world, hub_stack, spec, team: str, group: str) -> str | None:
    name = naming.select_project(spec, team, group)
    for member in world.family(hub_stack):  # the team's pipelines are in its slice of the hub
        for attrs in member.resources("aws_codebuild_project").values():
            if attrs.get("name") == name:
                return (attrs.get("source") or {}).get("buildspec")
    return None


def registered_baselines(j, team: str, group: str) -> dict[str, str]:
    """Where the promotion function put the package's baselines (tests/test_promotion.py): the team's prefix."""
    source = naming.bucket_name(j.spec, j.hub, j.hub_region, "model-artifacts")
    return {
        kind: f"s3://{source}/{naming.artifact_prefix(j.spec, team, group)}/v1/0123456789abcdef/{kind}.json"
        for kind in ("statistics", "constraints")
    }


_SELECTED: dict[tuple[str, str], dict[str, Any] | str] = {}


def stage_selected(j, team: str, group: str, central_package: str) -> dict[str, Any] | str:
    """The select step's output for the group's package with its registered baselines (the pin,
    the region copies and the stages' template configuration files), run once per buildspec."""
    buildspec = select_buildspec(j.w, j.hub_stack, j.spec, team, group)
    if buildspec is None:
        return f"select project {naming.select_project(j.spec, team, group)} has no buildspec"
    if (buildspec, central_package) not in _SELECTED:
        registered = registered_baselines(j, team, group)
        _SELECTED[(buildspec, central_package)] = run_select(
            buildspec, central_package, registered["statistics"], registered["constraints"]
        )
    return _SELECTED[(buildspec, central_package)]


def stage_parameters(j, team: str, group: str, configuration: dict[str, str], central_package: str) -> dict | str:
    """What CloudFormation receives from a stage's deploy action (its ``configuration``), or an error."""
    selected = stage_selected(j, team, group, central_package)
    if isinstance(selected, str):
        return selected
    return deploy_parameters("", configuration, central_package, selected)


def stage_steps(j, tag: str, team: str, group: str, stage, parameters: dict, deployer, central_package: str) -> None:
    """Steps 10-15 for one stage of one model (``j`` is the :class:`Journey`)."""
    w, spec = j.w, j.spec
    account = stage.account
    account_id = w.account_id(account)
    stack = w.stack_of(account)
    region = stack.region
    sm = f"arn:aws:sagemaker:{region}:{account_id}"
    endpoint = parameters.get("EndpointName", naming.endpoint_name(spec, team, group))
    if parameters.get("BatchEnabled") == "true":
        _batch(j, tag, stage, parameters, deployer, account, account_id, sm)
    _images(j, tag, team, stage, parameters, account)
    if parameters.get("MonitoringEnabled") != "true":
        return
    step = f"{tag} 10 {stage.name} schedule from the package's baselines"
    template = shipped_template(w, j.hub_stack)
    if template is None:
        j.fact(step, False, "the pipelines' source zip holds no endpoint template")
        return
    source = naming.bucket_name(spec, j.hub, j.hub_region, "model-artifacts")
    registered = registered_baselines(j, team, group)
    # A stage in another region compares against the same keys in the hub's replica there.
    artifact_bucket = naming.bucket_name(spec, j.hub, region, "model-artifacts")
    baselines = {k: u.replace(f"s3://{source}/", f"s3://{artifact_bucket}/") for k, u in registered.items()}
    buildspec = select_buildspec(w, j.hub_stack, spec, team, group)
    if buildspec is None:
        j.fact(step, False, f"select project {naming.select_project(spec, team, group)} has no buildspec")
        return
    selected = stage_selected(j, team, group, central_package)
    if isinstance(selected, str):
        j.fact(step, False, f"select step fails: {selected}")
        return
    resolver = collector._Template(template, parameters.get("EndpointName", "stack"), region, account_id)
    for key, value in parameters.items():
        if key in resolver.params:
            if isinstance(value, dict) and "Fn::GetParam" in value:
                _artifact, file, field = value["Fn::GetParam"]
                pin = selected if file == assets.SELECTED_FILE else selected.get("$files", {}).get(file, {})
                value = pin.get(field, f"<{field} not in {file}>")
            resolver.params[key] = value
    resolver.params["ModelPackageArn"] = selected.get("ModelPackageArn", central_package)
    schedules = {
        name: r
        for name, r in (template.get("Resources") or {}).items()
        if r.get("Type") == "AWS::SageMaker::MonitoringSchedule"
        and (resolver.resolve(r.get("Properties") or {}).get("MonitoringScheduleConfig") or {}).get("MonitoringType")
        == "DataQuality"
    }
    if not schedules:
        j.fact(step, False, "the endpoint template has no data-quality monitoring schedule")
        return
    ((_logical, schedule),) = schedules.items()
    on = "Condition" not in schedule or resolver.condition(schedule["Condition"])
    j.fact(step, on, f"the data-quality schedule is off in monitored stage {stage.name}")
    props = resolver.resolve(schedule.get("Properties") or {})
    config = props.get("MonitoringScheduleConfig") or {}
    definition = config.get("MonitoringJobDefinition") or {}
    got = {
        "statistics": ((definition.get("BaselineConfig") or {}).get("StatisticsResource") or {}).get("S3Uri"),
        "constraints": ((definition.get("BaselineConfig") or {}).get("ConstraintsResource") or {}).get("S3Uri"),
    }
    j.fact(step, got == baselines, f"the schedule compares against {got}, not the package's baselines {baselines}")
    inputs = [i.get("EndpointInput") or {} for i in definition.get("MonitoringInputs") or []]
    j.fact(
        step,
        any(i.get("EndpointName") == endpoint for i in inputs),
        f"the schedule does not read {endpoint}'s captured data",
    )
    name = props.get("MonitoringScheduleName", "?")
    watched = naming.monitoring_schedule(spec, team, group, "data-quality")
    j.fact(step, name == watched, f"schedule is named {name}, but the alarms watch {watched}")

    # 11 CloudFormation creates it with what the inline definition sends.
    step = f"{tag} 11 {stage.name} deployer creates the schedule"
    network = (definition.get("NetworkConfig") or {}).get("VpcConfig") or {}
    cluster = (definition.get("MonitoringResources") or {}).get("ClusterConfig") or {}
    ctx = {"aws:RequestedRegion": region}
    if network.get("Subnets"):
        ctx["sagemaker:VpcSubnets"] = network["Subnets"]
        ctx["sagemaker:VpcSecurityGroupIds"] = network.get("SecurityGroupIds", [])
    if cluster.get("VolumeKmsKeyId"):
        ctx["sagemaker:VolumeKmsKeyArn"] = cluster["VolumeKmsKeyId"]
    for action in ("sagemaker:CreateMonitoringSchedule", "sagemaker:UpdateMonitoringSchedule"):
        j.call(
            step,
            deployer,
            "endpoint-deployer",
            action,
            f"{sm}:monitoring-schedule/{name}",
            account_id,
            scps_of=account,
            context=ctx,
        )
    monitoring_role_arn = str(definition.get("RoleArn", "?"))
    j.call(
        step,
        deployer,
        "endpoint-deployer",
        "iam:PassRole",
        monitoring_role_arn,
        account_id,
        context={"iam:PassedToService": "sagemaker.amazonaws.com"},
    )
    # The deployer passes nothing else to SageMaker: not the deploy role (a gate).
    j.call(
        f"{step} (passes no other role)",
        deployer,
        "endpoint-deployer",
        "iam:PassRole",
        f"arn:aws:iam::{account_id}:role/{naming.team_role(spec, team, 'deploy')}",
        account_id,
        context={"iam:PassedToService": "sagemaker.amazonaws.com"},
        allowed=False,
    )

    # 12 the monitoring job: captured data and baselines in, reports out.
    step = f"{tag} 12 {stage.name} monitor reads capture and baselines, writes reports"
    monitor = w.roles.get(monitoring_role_arn)
    platform_bucket = naming.bucket_name(spec, account, region, "platform")
    label = naming.team_label(spec, team)  # the prefix a renamed team's endpoints keep capturing under
    capture = f"arn:aws:s3:::{platform_bucket}/data-capture/{label}/{group}/AllTraffic/2026/12/01/10/capture.jsonl"
    j.call(
        step,
        monitor,
        "monitoring",
        "s3:GetObject",
        capture,
        account_id,
        resource_policy=w.resource_policy(stack, "aws_s3_bucket_policy", "policy", platform_bucket),
    )
    platform_alias = naming.kms_alias(spec, "platform")
    j.call(
        step,
        monitor,
        "monitoring",
        "kms:Decrypt",
        w.key_arn(stack, platform_alias) or "",
        account_id,
        resource_policy=w.key_policy(stack, platform_alias),
        context={"kms:ResourceAliases": [platform_alias]},  # AWS adds the key's aliases to every request
    )
    for kind, url in sorted(baselines.items()):
        j.call(
            f"{step} ({kind} baseline)",
            monitor,
            "monitoring",
            "s3:GetObject",
            "arn:aws:s3:::" + url.removeprefix("s3://"),
            j.hub_id,
            resource_policy=w.resource_policy(j.hub_stack, "aws_s3_bucket_policy", "policy", artifact_bucket),
            scps_of=account,
        )
    hub_alias = naming.kms_alias(spec, "model-artifacts")
    j.call(
        f"{step} (baseline key)",
        monitor,
        "monitoring",
        "kms:Decrypt",
        w.key_arn(j.hub_stack, hub_alias, region) or "",
        j.hub_id,
        resource_policy=w.key_policy(j.hub_stack, hub_alias, region),
        scps_of=account,
        context={"kms:ResourceAliases": [hub_alias], "kms:ViaService": f"s3.{region}.amazonaws.com"},
    )
    outputs = (definition.get("MonitoringOutputConfig") or {}).get("MonitoringOutputs") or []
    report_prefix = ((outputs[0].get("S3Output") or {}).get("S3Uri", "") if outputs else "").removeprefix("s3://")
    report = f"arn:aws:s3:::{report_prefix}/2026/12/01/10/constraint_violations.json"
    reports_bucket = naming.monitoring_bucket(spec, account)
    bucket_policy = w.resource_policy(stack, "aws_s3_bucket_policy", "policy", reports_bucket)
    j.call(step, monitor, "monitoring", "s3:PutObject", report, account_id, resource_policy=bucket_policy)
    monitoring_alias = naming.kms_alias(spec, "monitoring")
    monitoring_key = w.key_arn(stack, monitoring_alias) or ""
    key_policy = w.key_policy(stack, monitoring_alias)
    j.call(
        step,
        monitor,
        "monitoring",
        "kms:GenerateDataKey",
        monitoring_key,
        account_id,
        resource_policy=key_policy,
        context={"kms:ResourceAliases": [monitoring_alias]},
    )

    # 13 who reads the reports.
    step = f"{tag} 13 {stage.name} reports reach their readers"
    via = {"kms:ViaService": f"s3.{region}.amazonaws.com", "kms:ResourceAliases": [monitoring_alias]}
    readers = [(w.role(j.hub, naming.role_name(spec, p)), p, True) for p in ("governance-officer", "ml-engineer")]
    readers.append((w.role(spec.teams[team].dev_account, naming.team_role(spec, team, "data-scientist")), "own", True))
    for other in sorted(t for t in spec.teams if t != team):
        readers.append(
            (w.role(spec.teams[other].dev_account, naming.team_role(spec, other, "data-scientist")), other, False)
        )
    for role, who, allowed in readers:
        label = (
            f"{step} ({who} data scientist)" if who not in ("governance-officer", "ml-engineer") else f"{step} ({who})"
        )
        j.call(
            label,
            role,
            who,
            "s3:GetObject",
            report,
            account_id,
            resource_policy=bucket_policy,
            scps_of=_account_of(spec, role) if role else None,
            allowed=allowed,
        )
        if allowed:
            j.call(
                label,
                role,
                who,
                "kms:Decrypt",
                monitoring_key,
                account_id,
                resource_policy=key_policy,
                scps_of=_account_of(spec, role) if role else None,
                context=via,
            )

    # 14 alarms notify the team's topic.
    step = f"{tag} 14 {stage.name} alarms notify the team"
    topic_arn = f"arn:aws:sns:{region}:{account_id}:{naming.monitoring_topic(spec, team)}"
    alarms = {  # the team's alarms are in its slice of the account
        a.get("alarm_name"): member.resolve(a)
        for member in w.family(stack)
        for a in member.resources("aws_cloudwatch_metric_alarm").values()
    }
    for what in ("5xx", "latency"):
        alarm_name = naming.endpoint_alarm(spec, team, group, what)
        alarm = alarms.get(alarm_name)
        j.fact(
            step,
            alarm is not None and topic_arn in (alarm.get("alarm_actions") or []),
            f"alarm {alarm_name} is missing or does not notify {topic_arn}",
        )
    for feature in spec.teams[team].governance.monitoring.drift_features.get(group, []):
        alarm_name = naming.endpoint_alarm(spec, team, group, f"drift-{feature}")
        alarm = alarms.get(alarm_name) or {}
        j.fact(
            step,
            topic_arn in (alarm.get("alarm_actions") or [])
            and (alarm.get("dimensions") or {}).get("MonitoringSchedule") == name,
            f"drift alarm {alarm_name} is missing, does not notify {topic_arn} or does not watch schedule {name}",
        )
    alarm_arn = f"arn:aws:cloudwatch:{region}:{account_id}:alarm:{naming.endpoint_alarm(spec, team, group, '5xx')}"
    source = {"aws:SourceAccount": account_id, "aws:SourceArn": alarm_arn}
    j.service_call(
        step,
        "cloudwatch.amazonaws.com",
        "sns:Publish",
        topic_arn,
        account_id,
        w.resource_policy(stack, "aws_sns_topic_policy", "policy", topic_arn),
        source,
    )
    j.service_call(
        f"{step} (topic key)",
        "cloudwatch.amazonaws.com",
        "kms:GenerateDataKey",
        monitoring_key,
        account_id,
        key_policy,
        source,
    )


def _batch(j, tag, stage, parameters, deployer, account, account_id, sm) -> None:
    step = f"{tag} 15 {stage.name} deployer creates the batch pipeline"
    j.call(
        step,
        deployer,
        "endpoint-deployer",
        "sagemaker:CreatePipeline",
        f"{sm}:pipeline/{parameters.get('BatchPipelineName', '?')}",
        account_id,
        scps_of=account,
    )
    j.call(
        step,
        deployer,
        "endpoint-deployer",
        "iam:PassRole",
        parameters.get("BatchRoleArn", "?"),
        account_id,
        context={"iam:PassedToService": "sagemaker.amazonaws.com"},
    )


def _images(j, tag, team, stage, parameters, account) -> None:
    w, spec = j.w, j.spec
    step = f"{tag} 16 {stage.name} endpoint pulls the team's image"
    repository = naming.team_image_repository(spec, team)
    region = naming.stage_region(spec, account)
    arn = f"arn:aws:ecr:{region}:{j.hub_id}:repository/{repository}"
    # The team's repository in the stage's region: the hub's, or its replica in a second region.
    address_of = naming.construct_id(team, naming.region_alias(region) if region != j.hub_region else "")
    policy_doc = None
    for member in w.family(j.hub_stack):  # the team's repository is in its slice of the hub
        for address, attrs in member.resources("aws_ecr_repository_policy").items():
            if attrs.get("repository", "").endswith(f".{address_of}.name}}"):
                policy_doc = w.collected.get(f"stacks/{member.name}:aws_ecr_repository_policy.{address}:policy")
    if policy_doc is None:
        j.fact(step, False, f"repository {repository} has no repository policy")
        return
    endpoint_role = w.roles.get(parameters.get("ModelExecutionRoleArn", ""))
    for action in ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"):
        j.call(step, endpoint_role, "endpoint", action, arn, j.hub_id, resource_policy=policy_doc, scps_of=account)
    for other in sorted(t for t in spec.teams if t != team and any(s.account == account for s in spec.teams[t].stages)):
        intruder = w.role(account, naming.team_role(spec, other, "endpoint"))
        j.call(
            f"{step} (not {other}'s endpoint)",
            intruder,
            f"{other} endpoint",
            "ecr:BatchGetImage",
            arn,
            j.hub_id,
            resource_policy=policy_doc,
            scps_of=account,
            allowed=False,
        )


def _account_of(spec, role) -> str | None:
    return next((k for k, a in spec.accounts.items() if a.id == role.account), None)
