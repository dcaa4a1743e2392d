"""The build part of the story: a push to a project's repository becomes a registered model.

For every team and model, with the newest model-build product (v3 and later build from a repository)
launched as a project named after the model, in the team's dev account, with the values the
account's stack writes into the SSM parameters the product reads:

- B1 push: the project's source pipeline runs on pushes to the account's branch of
  ``<owner>/<project>`` through the account's connection, as the team's ``codepipeline`` role,
  which may use that connection, keep the source in the project's bucket and start the build;
- B2 build: the project's build runs as the team's ``codebuild`` role (under the catalog's
  permissions boundary): it uploads the code, updates and starts ITS team's pipeline (another
  team's is denied), passes only the team's execution role, and can neither approve a model
  package nor register one Approved;
- B3 register: the pipeline (run as the team's execution role, the role the data path grants)
  registers PendingManualApproval with the run's data-quality baseline as its
  ``DriftCheckBaselines``, written to the team's models bucket, where the hub's promotion role
  reads it;
- B4 seal: every artifact the package names (model, baselines, evaluation report) is in the
  team's models bucket, with its S3 version recorded at registration by the run's seal step;
  the hub's promotion role reads exactly that version.

The jobs between B2 and B3 are the story's step 2 (train in the VPC), whose requests come from
the same newest definition. Hooked into :class:`tests.journey.journey.Journey` by one call.
"""

from __future__ import annotations

import json
from typing import Any

from mlgov.platform import naming
from mlgov.platform.pipeline import VERSION_KEY
from mlgov.review import policies as collector

PENDING, APPROVED = "PendingManualApproval", "Approved"
JSON = "application/json"


def _steps(steps: list) -> list[dict]:
    out = []
    for step in steps:
        out.append(step)
        args = step.get("Arguments") or {}
        out += _steps(args.get("IfSteps", [])) + _steps(args.get("ElseSteps", []))
    return out


def _boundary(j: Any, stack: Any, role_name: str) -> dict | None:
    """The permissions boundary document of a Terraform role of ``stack`` (None without one)."""
    for attrs in stack.resources("aws_iam_role").values():
        if attrs.get("name") == role_name and attrs.get("permissions_boundary"):
            policy_address = attrs["permissions_boundary"].split(".")[1]
            return j.w.collected.get(f"stacks/{stack.name}:aws_iam_policy.{policy_address}:policy")
    return None


def build(j: Any, team: str, group: str) -> None:
    """Add the build steps of one team's model to journey ``j`` (nothing without a v3 product)."""
    found = j.w.newest_template("model-build")
    if found is None or "SourcePipeline" not in (found[1].get("Resources") or {}):
        return
    _path, template = found
    w, spec = j.w, j.spec
    dev = spec.teams[team].dev_account
    dev_id = w.account_id(dev)
    stack = w.stack_of(dev)
    region = stack.region
    tag = f"[{team}/{group}]"
    source = spec.accounts[dev].source
    if source is None:
        j.fact(f"{tag} B1 push", False, f"{dev} declares no source (accounts.{dev}.source)")
        return

    project = group  # the project the team launches for this model
    resolver = collector._Template(template, f"SC-{dev_id}-pp-{project}", region, dev_id)
    resolver.params["SageMakerProjectName"] = project
    w.launch_parameters(template, resolver, dev)
    params = w.ssm(stack)
    connection_param = params.get(naming.ssm_parameter(spec, "source", "connection-arn"))
    if connection_param is not None:  # the stack writes the connection's ARN (a reference)
        resolver.params["ConnectionArn"] = stack.resolve(connection_param[1])
    resources = template["Resources"]

    def props(logical: str) -> dict:
        return resolver.resolve(resources[logical].get("Properties") or {})

    bucket = resolver.ref("ArtifactBucket")
    bucket_policy = props("ArtifactBucketPolicy")["PolicyDocument"]
    pipeline_arn = f"arn:aws:sagemaker:{region}:{dev_id}:pipeline/{project}-build"
    codepipeline = w.role(dev, naming.team_role(spec, team, "codepipeline"))
    codebuild = w.role(dev, naming.team_role(spec, team, "codebuild"))
    execution = w.role(dev, naming.team_role(spec, team, "sagemaker-execution"))

    # B1 push -> the project's source pipeline
    step = f"{tag} B1 push"
    source_pipeline = props("SourcePipeline")
    (checkout,) = [
        a for s in source_pipeline["Stages"] for a in s["Actions"] if a["ActionTypeId"]["Category"] == "Source"
    ]
    config = checkout["Configuration"]
    pushes = [
        b
        for t in source_pipeline.get("Triggers", [])
        for p in t["GitConfiguration"]["Push"]
        for b in p["Branches"]["Includes"]
    ]
    j.fact(
        step, source.branch in pushes, f"the source pipeline does not run on pushes to {source.branch!r} (got {pushes})"
    )
    j.fact(
        step,
        config["FullRepositoryId"] == f"{source.owner}/{project}" and config["BranchName"] == source.branch,
        f"the source pipeline checks out {config['FullRepositoryId']}@{config['BranchName']} "
        f"(expected {source.owner}/{project}@{source.branch})",
    )
    j.fact(
        step,
        codepipeline is not None and source_pipeline["RoleArn"] == codepipeline.arn,
        f"the source pipeline runs as {source_pipeline['RoleArn']} (expected the team's codepipeline role)",
    )
    j.call(
        step,
        codepipeline,
        "codepipeline role",
        "codeconnections:UseConnection",
        config["ConnectionArn"],
        dev_id,
        boundary=_boundary(j, stack, naming.team_role(spec, team, "codepipeline")),
    )
    j.call(
        step,
        codepipeline,
        "codepipeline role",
        "s3:PutObject",
        f"arn:aws:s3:::{bucket}/{project}-build/Code/a.zip",
        dev_id,
        resource_policy=bucket_policy,
        boundary=_boundary(j, stack, naming.team_role(spec, team, "codepipeline")),
    )
    j.call(
        step,
        codepipeline,
        "codepipeline role",
        "codebuild:StartBuild",
        f"arn:aws:codebuild:{region}:{dev_id}:project/{props('BuildProject')['Name']}",
        dev_id,
        boundary=_boundary(j, stack, naming.team_role(spec, team, "codepipeline")),
    )

    # B2 build -> the team's SageMaker pipeline, and nothing past the gates
    step = f"{tag} B2 build"
    project_props = props("BuildProject")
    env = {v["Name"]: v["Value"] for v in project_props["Environment"]["EnvironmentVariables"]}
    j.fact(
        step,
        codebuild is not None and project_props["ServiceRole"] == codebuild.arn,
        f"the build runs as {project_props['ServiceRole']} (expected the team's codebuild role)",
    )
    j.fact(
        step,
        execution is not None and env.get("ExecutionRoleArn") == execution.arn == props("BuildPipeline")["RoleArn"],
        f"the build passes {env.get('ExecutionRoleArn')} to the pipeline (expected the team's execution role)",
    )
    boundary = _boundary(j, stack, naming.team_role(spec, team, "codebuild"))
    j.fact(step, boundary is not None, "the codebuild role has no permissions boundary")
    sagemaker = {"iam:PassedToService": "sagemaker.amazonaws.com"}
    for action, resource, account, context, ok in (
        ("s3:PutObject", f"arn:aws:s3:::{bucket}/code/preprocess.py", dev_id, {}, True),
        ("sagemaker:UpdatePipeline", pipeline_arn, dev_id, {}, True),
        ("sagemaker:StartPipelineExecution", pipeline_arn, dev_id, {}, True),
        ("iam:PassRole", execution.arn if execution else "", dev_id, sagemaker, True),
        (
            "iam:PassRole",
            f"arn:aws:iam::{dev_id}:role/{naming.team_role(spec, team, 'lead-data-scientist')}",
            dev_id,
            sagemaker,
            False,
        ),
        (
            "sagemaker:UpdateModelPackage",
            f"arn:aws:sagemaker:{region}:{dev_id}:model-package/{naming.model_package_group(spec, team, group)}/1",
            dev_id,
            {"sagemaker:ModelApprovalStatus": APPROVED},
            False,
        ),
        (
            "sagemaker:CreateModelPackage",
            f"arn:aws:sagemaker:{region}:{dev_id}:model-package/{naming.model_package_group(spec, team, group)}/1",
            dev_id,
            {"sagemaker:ModelApprovalStatus": APPROVED},
            False,
        ),
    ):
        j.call(
            f"{step} ({action}{'' if ok else ', denied'})",
            codebuild,
            "codebuild role",
            action,
            resource,
            account,
            resource_policy=bucket_policy if action.startswith("s3:") else None,
            scps_of=dev,
            context=context,
            allowed=ok,
            boundary=boundary,
        )
    for other, other_team in sorted(spec.teams.items()):
        if other == team:
            continue
        other_dev = other_team.dev_account
        other_arn = f"arn:aws:sagemaker:{region}:{w.account_id(other_dev)}:pipeline/{project}-build"
        j.call(
            f"{step} (another team's pipeline, denied)",
            codebuild,
            "codebuild role",
            "sagemaker:StartPipelineExecution",
            other_arn,
            w.account_id(other_dev),
            allowed=False,
            boundary=boundary,
        )

    # B3 register: pending, with the run's data-quality baseline as DriftCheckBaselines
    step = f"{tag} B3 register with baselines"
    body = props("BuildPipeline")["PipelineDefinition"]["PipelineDefinitionBody"]
    definition = json.loads(body) if isinstance(body, str) else body
    steps = {s["Name"]: s for s in _steps(definition["Steps"])}
    registers = [s for s in steps.values() if s["Type"] == "RegisterModel"]
    j.fact(step, len(registers) == 1, f"the pipeline has {len(registers)} registration steps (expected 1)")
    models_bucket = (params.get(naming.ssm_parameter(spec, "team", "models-bucket")) or ("", ""))[1]
    prefix = f"s3://{models_bucket}/projects/{project}/baselines"
    for register in registers:
        args = register["Arguments"]
        j.fact(step, args.get("ModelApprovalStatus") == PENDING, f"registers {args.get('ModelApprovalStatus')!r}")
        quality = (args.get("DriftCheckBaselines") or {}).get("ModelDataQuality") or {}
        for part in ("Statistics", "Constraints"):
            entry = quality.get(part) or {}
            uri = (entry.get("S3Uri") or {}).get("Std:Join", {}).get("Values", [None])[0]
            source_step = str((uri or {}).get("Get", "")).split(".")[1] if isinstance(uri, dict) else ""
            outputs = (steps.get(source_step, {}).get("Arguments") or {}).get("ProcessingOutputConfig", {})
            written = [o["S3Output"]["S3Uri"]["Std:Join"]["Values"][0] for o in outputs.get("Outputs", [])]
            j.fact(
                step,
                entry.get("ContentType") == JSON and written == [prefix],
                f"DriftCheckBaselines.ModelDataQuality.{part} is not a JSON object the pipeline writes under {prefix} "
                f"(got {entry or 'nothing'}, written under {written})",
            )
    models_policy = w.resource_policy(stack, "aws_s3_bucket_policy", "policy", where=models_bucket)
    baseline_object = f"arn:aws:s3:::{models_bucket}/projects/{project}/baselines/run-1/statistics.json"
    j.call(step, execution, "execution role", "s3:PutObject", baseline_object, dev_id, resource_policy=models_policy)
    promotion = w.role(spec.hub, naming.role_name(spec, "model-promotion"))
    j.call(
        f"{step} (the hub copies it)",
        promotion,
        "promotion role",
        "s3:GetObject",
        baseline_object,
        dev_id,
        resource_policy=models_policy,
    )
    _sealed(j, tag, registers, steps, models_bucket, project, models_policy, dev_id, execution, promotion)


ARTIFACT_FIELDS = ("InferenceSpecification", "ModelMetrics", "DriftCheckBaselines")


def _artifact_fields(value: Any, path: str):
    """(field path, URL expression) of every artifact URL of a registration, as promotion names them."""
    if isinstance(value, dict):
        for name, item in value.items():
            if name in ("ModelDataUrl", "S3Uri"):
                yield f"{path}.{name}", item
            else:
                yield from _artifact_fields(item, f"{path}.{name}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _artifact_fields(item, f"{path}.{index}")


def _root(expression: Any, steps: dict) -> str:
    """Where an artifact URL expression of the definition lands: its literal prefix."""
    if isinstance(expression, str):
        return expression
    if "Std:Join" in expression:
        return _root(expression["Std:Join"]["Values"][0], steps)
    got = str(expression.get("Get", ""))
    parts = got.split(".")
    step = (steps.get(parts[1]) if len(parts) > 1 else None) or {}
    args = step.get("Arguments") or {}
    if got.endswith("ModelArtifacts.S3ModelArtifacts"):
        return str((args.get("OutputDataConfig") or {}).get("S3OutputPath"))
    if "ProcessingOutputConfig" in got:
        name = got.split("'")[1]
        for output in (args.get("ProcessingOutputConfig") or {}).get("Outputs", []):
            if output.get("OutputName") == name:
                return _root(output["S3Output"]["S3Uri"], steps)
    return f"<{got}>"


def _sealed(j, tag, registers, steps, models_bucket, project, models_policy, dev_id, execution, promotion) -> None:
    """B4 seal: every artifact the package names is in the team's models bucket and its S3 version
    is recorded at registration (``mlgov:version:<field path>``, from the run's seal step), so the
    hub promotes exactly the approved bytes; the execution role reads the versions, the hub's
    promotion role reads exactly those versions (``s3:GetObjectVersion``)."""
    step = f"{tag} B4 seal the registered artifacts"
    prefix = f"s3://{models_bucket}/projects/{project}/"
    for register in registers:
        args = register["Arguments"]
        recorded = args.get("CustomerMetadataProperties") or {}
        fields = [(p, e) for f in ARTIFACT_FIELDS for p, e in _artifact_fields(args.get(f), f)]
        j.fact(step, len(fields) >= 4, f"the registration names {len(fields)} artifacts (model, 2 baselines, report)")
        for path, expression in fields:
            root = _root(expression, steps)
            j.fact(step, root.startswith(prefix), f"{path} lands in {root}, not in the team's models bucket {prefix}")
            version = (recorded.get(VERSION_KEY + path) or {}).get("Std:JsonGet") or {}
            seal_name = str((version.get("PropertyFile") or {}).get("Get", "")).split(".")
            seal = steps.get(seal_name[1]) if len(seal_name) > 1 else None
            sealed = (seal or {}).get("Arguments", {}).get("AppSpecification", {}).get("ContainerArguments", [])
            name = str(version.get("Path", "")).removeprefix("versions.")
            pairs = {sealed[i + 1]: sealed[i + 2] for i, a in enumerate(sealed[:-2]) if a == "--artifact"}
            j.fact(
                step,
                bool(name) and pairs.get(name) == expression,
                f"{path} has no version recorded from a seal of that same object ({VERSION_KEY}{path})",
            )
    model_object = f"arn:aws:s3:::{models_bucket}/projects/{project}/models/run-1/output/model.tar.gz"
    j.call(step, execution, "execution role", "s3:GetObject", model_object, dev_id, resource_policy=models_policy)
    j.call(
        f"{step} (the hub copies that version)",
        promotion,
        "promotion role",
        "s3:GetObjectVersion",
        model_object,
        dev_id,
        resource_policy=models_policy,
    )
