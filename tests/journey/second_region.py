"""A model deployed to a stage in another region than the hub's (issue 29).

Walked from :meth:`tests.journey.journey.Journey._stage` for a stage whose account runs in a
region other than the hub's:

- 10r the pipeline has an artifact store in the stage's region (and one, with its region, in
  the hub's): the team's bucket there, made through the hub slice's provider aliased to that
  region; the pipeline role writes it, the stage's deploy role reads it;
- 10r the select build, RUN (``sh`` with the ``aws`` stub), refuses to hand over a package whose
  artifacts S3 has not replicated yet, and otherwise writes the region's copy of the pin: model
  data in the hub's replica bucket of the region, the image in the region's registry;
- 10r the endpoint template, resolved with the deploy action's parameters from that copy,
  creates the model from that image and model data (not from the hub region's package);
- 16r the image is pullable there: the team's replica repository's policy admits the stage's
  endpoint role, and ECR replicates the team's repository to the region.

Only iam-simulate decides the calls; the facts read the synthesized tree.
"""

from __future__ import annotations

from typing import Any

from mlgov.platform import governance as assets
from mlgov.platform import naming
from mlgov.review import policies as collector
from tests.journey import monitor_steps


def stage_steps(j, tag: str, team: str, group: str, stage, actions: dict, pipeline_role, deploy, package: str) -> None:
    """The second-region steps of one stage of one model (``j`` is the :class:`Journey`)."""
    w, spec = j.w, j.spec
    region = naming.stage_region(spec, stage.account)
    step = f"{tag} 10r {stage.name} artifact store in {region}"
    pipeline = w.pipeline(j.hub_stack, naming.deploy_pipeline(spec, team, group)) or {}
    stores = {s.get("region"): s.get("location") for s in pipeline.get("artifact_store", [])}
    store = naming.team_pipeline_bucket(spec, team, region)
    j.fact(
        step,
        stores.get(region) == store and stores.get(j.hub_region) == naming.team_pipeline_bucket(spec, team),
        f"the pipeline's artifact stores are {stores}, expected {store} in {region} and the hub's in {j.hub_region}",
    )
    slice_ = next((m for m in w.family(j.hub_stack) if store in str(m.resources("aws_s3_bucket"))), None)
    made_there = slice_ is not None and any(
        a.get("bucket") == store and w._in_region(slice_, a, region) for a in slice_.resources("aws_s3_bucket").values()
    )
    j.fact(step, made_there, f"bucket {store} is not made through a provider of {region}")
    store_policy = w.resource_policy(j.hub_stack, "aws_s3_bucket_policy", "policy", store)
    obj = f"arn:aws:s3:::{store}/{naming.deploy_pipeline(spec, team, group)[:20]}/selected/run0001"
    j.call(f"{step} (pipeline copies in)", pipeline_role, "deploy-pipeline", "s3:PutObject", obj, j.hub_id,
           resource_policy=store_policy, scps_of=j.hub)  # fmt: skip
    j.call(f"{step} (deploy role reads)", deploy, "deploy", "s3:GetObject", obj, j.hub_id,
           resource_policy=store_policy, scps_of=stage.account)  # fmt: skip

    step = f"{tag} 10r {stage.name} pin copied to {region}"
    buildspec = monitor_steps.select_buildspec(w, j.hub_stack, spec, team, group)
    if buildspec is None:
        j.fact(step, False, f"select project {naming.select_project(spec, team, group)} has no buildspec")
        return
    source = naming.bucket_name(spec, j.hub, j.hub_region, "model-artifacts")
    prefix = f"s3://{source}/{naming.artifact_prefix(spec, team, group)}/v1"
    model_data = f"{prefix}/model.tar.gz"
    baselines = [f"{prefix}/0123456789abcdef/{kind}.json" for kind in ("statistics", "constraints")]
    described = monitor_steps.registered_package(package, *baselines)
    described["InferenceSpecification"]["Containers"][0]["ModelDataUrl"] = model_data
    pending = monitor_steps.run_select(
        buildspec, package, *baselines, described=described, environment={"STUB_REPLICATION": "PENDING"}
    )
    j.fact(step, isinstance(pending, str), f"the select step hands over unreplicated artifacts: {pending}")
    selected = monitor_steps.run_select(buildspec, package, *baselines, described=described)
    if isinstance(selected, str):
        j.fact(step, False, f"select step fails: {selected}")
        return
    copy: dict[str, Any] = selected.get("$files", {}).get(assets.selected_file(spec, region), {})
    replica = naming.bucket_name(spec, j.hub, region, "model-artifacts")
    image = str(copy.get("Image", ""))
    j.fact(
        step,
        copy.get("ModelDataUrl") == model_data.replace(f"s3://{source}/", f"s3://{replica}/")
        and f".dkr.ecr.{region}.amazonaws.com/" in image,
        f"{assets.selected_file(spec, region)} names {copy.get('ModelDataUrl')} and {image!r}, not copies in {region}",
    )

    step = f"{tag} 10r {stage.name} model from the {region} copies"
    deploy_action = actions.get(f"deploy-{stage.name}", {})
    config = deploy_action.get("configuration", {})
    # what CloudFormation receives: the stage's template configuration file, as this select run wrote it
    resolved = monitor_steps.deploy_parameters(buildspec, config, package, selected)
    j.fact(step, isinstance(resolved, dict), f"no parameters: {resolved}")
    parameters = resolved if isinstance(resolved, dict) else {}
    template = collector._Template(assets.endpoint_template(spec), "stack", region, w.account_id(stage.account))
    for key, value in parameters.items():
        if key in template.params:
            if isinstance(value, dict) and "Fn::GetParam" in value:
                _artifact, file, field = value["Fn::GetParam"]
                value = (copy if file != assets.SELECTED_FILE else selected).get(field, f"<{field} not in {file}>")
            template.params[key] = value
    model = next(
        (
            template.resolve(r["Properties"])
            for r in template.t["Resources"].values()
            if r["Type"] == "AWS::SageMaker::Model"
        ),
        {},
    )
    containers = model.get("Containers") or [{}]
    j.fact(
        step,
        containers[0].get("Image") == image and containers[0].get("ModelDataUrl") == copy.get("ModelDataUrl"),
        f"the model's container is {containers[0]}, not the {region} copies",
    )
    _image_replicated(j, tag, team, stage, region, parameters)


def _image_replicated(j, tag: str, team: str, stage, region: str, parameters: dict) -> None:
    """ECR replicates the team's repository to ``region``, where its policy admits the stage's endpoint role."""
    w, spec = j.w, j.spec
    step = f"{tag} 16r {stage.name} image pullable in {region}"
    repository = naming.team_image_repository(spec, team)
    rules = [
        r
        for attrs in j.hub_stack.resources("aws_ecr_replication_configuration").values()
        for config in [attrs.get("replication_configuration") or {}]
        for r in (config.get("rule") if isinstance(config, dict) else config[0].get("rule")) or []
    ]
    replicated = any(
        any(d.get("region") == region and d.get("registry_id") == j.hub_id for d in r.get("destination", []))
        and any(repository.startswith(f.get("filter", "?")) for f in r.get("repository_filter", []))
        for r in rules
    )
    j.fact(step, replicated, f"ECR does not replicate {repository} to {region}")
    policy_doc = None
    suffix = naming.construct_id(team, naming.region_alias(region))
    for member in w.family(j.hub_stack):
        for address, attrs in member.resources("aws_ecr_repository_policy").items():
            if attrs.get("repository", "").endswith(f".{suffix}.name}}"):
                policy_doc = w.collected.get(f"stacks/{member.name}:aws_ecr_repository_policy.{address}:policy")
    endpoint_role = w.roles.get(parameters.get("ModelExecutionRoleArn", ""))
    arn = f"arn:aws:ecr:{region}:{j.hub_id}:repository/{repository}"
    if policy_doc is None:
        j.fact(step, False, f"repository {repository} in {region} has no repository policy")
        return
    for action in ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"):
        j.call(step, endpoint_role, "endpoint", action, arn, j.hub_id, resource_policy=policy_doc,
               scps_of=stage.account)  # fmt: skip
