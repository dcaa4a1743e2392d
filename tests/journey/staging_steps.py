"""The staging test of the story: after a stage before an approval deploys, its endpoint tests run.

Step 10 of a staging stage (:func:`mlgov.platform.governance.staging_stages`): the pipeline's
test action comes after the deploy action in the same stage, and every stage that waits for an
approval comes after that stage (CodePipeline starts a stage only when the one before it
succeeded, so a failed test leaves the approval unreachable); the action runs as the stage's
deploy role, which starts exactly the endpoint stack's tests project; CloudFormation's role creates
that project and passes it exactly the tester role; the tester invokes the team's endpoint here,
reads the tests from the team's artifact store, and can do nothing else that matters: no other
team's endpoint, no gate. Every hop is an iam-simulate decision (:class:`tests.journey.journey.Journey`).

:func:`run_pipeline` walks a pipeline's stages in CodePipeline's order with given action outcomes;
``tests/journey/test_staging_steps.py`` runs the tests project's real command against a moto
endpoint and feeds its exit code to that walk.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from mlgov.platform import governance as assets
from mlgov.platform import naming


def stage_steps(j, tag: str, team: str, group: str, stage, actions: dict, pipeline_role, parameters: dict) -> None:
    """Step 10 (staging test) for one staging stage of one model (``j`` is the Journey)."""
    if stage.name not in assets.staging_stages(j.spec, team):
        return
    w, spec = j.w, j.spec
    account_id = w.account_id(stage.account)
    region = w.stack_of(stage.account).region
    step = f"{tag} 10 {stage.name} endpoint tests"
    test = actions.get(assets.endpoint_tests_action_name(stage.name))
    deploy = actions.get(f"deploy-{stage.name}")
    if test is None or deploy is None:
        j.fact(step, False, f"pipeline has no {assets.endpoint_tests_action_name(stage.name)} action after its deploy")
        return
    project = test.get("configuration", {}).get("ProjectName", "?")
    j.fact(
        step,
        test.get("category") == "Test" and test.get("run_order", 1) > deploy.get("run_order", 1),
        f"{test['name']} is not a test action that runs after deploy-{stage.name}",
    )
    j.fact(
        step,
        parameters.get("EndpointTestsEnabled") == "true" and parameters.get("EndpointTestsProject") == project,
        f"deploy-{stage.name} does not create the project {project} its test action runs",
    )
    pipeline = w.pipeline(j.hub_stack, naming.deploy_pipeline(spec, team, group)) or {}
    order = [s["name"] for s in pipeline.get("stage", [])]
    gated = [s.name for s in spec.teams[team].stages if s.manual_approval]
    j.fact(
        step,
        stage.name in order and all(order.index(g) > order.index(stage.name) for g in gated if g in order),
        f"an approval stage of {gated} does not come after {stage.name} ({order})",
    )
    # The action runs as the stage's deploy role: it starts the project and reads its builds.
    runner = w.roles.get(test.get("role_arn", ""))
    j.assume(step, pipeline_role, runner, test.get("role_arn", "?"))
    sm = f"arn:aws:sagemaker:{region}:{account_id}"
    project_arn = f"arn:aws:codebuild:{region}:{account_id}:project/{project}"
    for action in ("codebuild:StartBuild", "codebuild:BatchGetBuilds"):
        j.call(step, runner, "deploy", action, project_arn, account_id, scps_of=stage.account)
    # CloudFormation's role creates the project, handing it the tester role only.
    deployer = w.roles.get(deploy.get("configuration", {}).get("RoleArn", ""))
    j.call(f"{step} (project)", deployer, "endpoint-deployer", "codebuild:CreateProject", project_arn, account_id)
    tester_arn = parameters.get("EndpointTesterRoleArn", "?")
    j.call(
        f"{step} (project)",
        deployer,
        "endpoint-deployer",
        "iam:PassRole",
        tester_arn,
        account_id,
        context={"iam:PassedToService": "codebuild.amazonaws.com"},
    )
    # The tester: this endpoint, the tests from the team's store, and nothing else that matters.
    tester = w.roles.get(tester_arn)
    endpoint = parameters.get("EndpointName", naming.endpoint_name(spec, team, group))
    j.call(
        step,
        tester,
        "endpoint-tester",
        "sagemaker:InvokeEndpoint",
        f"{sm}:endpoint/{endpoint}",
        account_id,
        scps_of=stage.account,
    )
    store = naming.team_pipeline_bucket(spec, team)
    source = f"arn:aws:s3:::{store}/{naming.deploy_pipeline(spec, team, group)[:20]}/template/run0001"
    j.call(
        f"{step} (reads the tests)",
        tester,
        "endpoint-tester",
        "s3:GetObject",
        source,
        j.hub_id,
        resource_policy=w.resource_policy(j.hub_stack, "aws_s3_bucket_policy", "policy", store),
        scps_of=stage.account,
    )
    hub_alias = naming.kms_alias(spec, "model-artifacts")
    j.call(
        f"{step} (reads the tests)",
        tester,
        "endpoint-tester",
        "kms:Decrypt",
        j.w.key_arn(j.hub_stack, hub_alias) or "",
        j.hub_id,
        resource_policy=w.key_policy(j.hub_stack, hub_alias),
        scps_of=stage.account,
        context={"kms:ResourceAliases": [hub_alias], "kms:ViaService": f"s3.{j.hub_region}.amazonaws.com"},
    )
    others = [
        naming.endpoint_name(spec, o, g)
        for o, t in sorted(spec.teams.items())
        if o != team and any(s.account == stage.account for s in t.stages)
        for g in t.governance.model_package_groups
    ]
    for other in others[:1]:
        j.call(
            f"{step} (not team {other}'s endpoint)",
            tester,
            "endpoint-tester",
            "sagemaker:InvokeEndpoint",
            f"{sm}:endpoint/{other}",
            account_id,
            scps_of=stage.account,
            allowed=False,
        )
    for action, resource in (
        ("codebuild:UpdateProject", project_arn),
        ("codebuild:StartBuild", project_arn),
        ("sagemaker:UpdateEndpoint", f"{sm}:endpoint/{endpoint}"),
    ):
        j.call(
            f"{step} (tester cannot {action})",
            tester,
            "endpoint-tester",
            action,
            resource,
            account_id,
            scps_of=stage.account,
            allowed=False,
        )


def run_pipeline(pipeline: Mapping[str, Any], outcome: Callable[[dict], bool]) -> list[str]:
    """The actions one execution of ``pipeline`` (Terraform's ``aws_codepipeline`` attributes)
    starts, in order, when each action succeeds as ``outcome`` says (an approval: approved).

    CodePipeline's order (CodePipeline User Guide, "Pipeline structure reference"): stages in
    their order; in a stage, actions by ``run_order``, the same number in parallel; a stage
    succeeds only when all of its actions do, and a failed action fails its stage and stops the
    execution there (no later action of the stage, no later stage, starts)."""
    started: list[str] = []
    for stage in pipeline["stage"]:
        by_order: dict[int, list[dict]] = {}
        for action in stage["action"]:
            by_order.setdefault(action.get("run_order", 1), []).append(action)
        for order in sorted(by_order):
            batch = sorted(by_order[order], key=lambda a: a["name"])
            started += [a["name"] for a in batch]
            if not all(outcome(a) for a in batch):
                return started
    return started
