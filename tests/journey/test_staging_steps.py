"""The staging test gates the prod approval: the tests' real command against a moto endpoint.

GIVEN the fraud team's pipeline as the generated Terraform holds it, the endpoint-tests project its
test stage's endpoint stack creates (from the pipelines' source zip, which CodeBuild gets as its
source) and a moto server whose SageMaker endpoint answers as configured
WHEN the project's buildspec runs (``sh``, the image's ``python3`` being this interpreter, with
boto3) against that endpoint, and the pipeline is walked in CodePipeline's order with that outcome
(:func:`tests.journey.staging_steps.run_pipeline`)
THEN a passing test reaches the governance officer's approval and a failing one never does; a
copy of the pipeline whose test runs after the approval lets a failing test through (the order is
what gates). The IAM hops of the staging test are the journey's (:mod:`tests.journey.staging_steps`);
their broken copies fail at their step here.
"""

from __future__ import annotations

import copy
import io
import json
import os
import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path

import pytest

from mlgov.platform import governance as assets
from tests.journey.journey import broken_lines
from tests.journey.monitor_steps import deploy_parameters
from tests.journey.staging_steps import run_pipeline
from tests.journey.test_journey import _attr_edit, _policy_edit, drop

pytestmark = pytest.mark.slow  # iam-simulate; the tests' command in a process against moto

FRAUD_HUB = "ml-shared-services-team-fraud"
TEST_STACK = "ml-test"
# A moto server answers for its default account (no credentials map to the spec's).
MOTO_ACCOUNT = "123456789012"


def _resource(sid: str, resource: str):
    def edit(policy: dict) -> None:
        (s,) = [s for s in policy["Statement"] if s.get("Sid") == sid]
        s["Resource"] = resource

    return edit


def _without_tester(policy: dict) -> None:
    (s,) = [s for s in policy["Statement"] if s.get("Sid") == "OwnStageDeployRolesRead"]
    readers = s["Condition"]["ArnEquals"]["aws:PrincipalArn"]
    s["Condition"]["ArnEquals"]["aws:PrincipalArn"] = [a for a in readers if not a.endswith("-endpoint-tester")]


def _without_test_action(pipeline: dict) -> None:
    for stage in pipeline["stage"]:
        stage["action"] = [a for a in stage["action"] if a["category"] != "Test"]


BROKEN = {
    # the tester may invoke any endpoint: another team's in the same account too
    "tester-invokes-any-endpoint": (
        _policy_edit(
            TEST_STACK,
            "aws_iam_role_policy",
            "fraud_endpoint_tester",
            "policy",
            _resource("InvokeOwnEndpoints", "arn:aws:sagemaker:*:*:endpoint/*"),
        ),
        "endpoint tests (not team nwa-churn-models's endpoint)",
    ),
    # the pipeline deploys to test and goes on without testing
    "no-test-action": (
        _attr_edit("ml-shared-services", "aws_codepipeline", "fraud_card_scoring", _without_test_action),
        "pipeline has no endpoint-tests-test action after its deploy",
    ),
    # the action's role may not start the build
    "deploy-role-cannot-start-tests": (
        _policy_edit(TEST_STACK, "aws_iam_role_policy", "fraud_deploy", "policy", drop("RunEndpointTests")),
        "10 test endpoint tests: arn:aws:iam::440000000005:role/nwa-fraud-deploy codebuild:StartBuild on",
    ),
    # the tests cannot be read: the artifact store no longer admits the tester
    "store-closed-to-tester": (
        _policy_edit(
            "ml-shared-services",
            "aws_s3_bucket_policy",
            "pipeline_fraud",
            "policy",
            _without_tester,
        ),
        "endpoint tests (reads the tests)",
    ),
}


@pytest.fixture(scope="module")
def broken_results(bridge, default_world) -> dict[str, list[str]]:
    return broken_lines(default_world, BROKEN, ["fraud"])


@pytest.mark.parametrize("seam", sorted(BROKEN))
def test_a_broken_staging_copy_fails_at_its_step(broken_results, seam):
    new = broken_results[seam]
    assert new, f"breaking {seam} went unnoticed"
    assert any(BROKEN[seam][1] in line for line in new), new


# --- the tests' command against moto, and the pipeline's order ---------------------------------


def _pipeline(stacks) -> dict:
    return stacks[FRAUD_HUB]["resource"]["aws_codepipeline"]["fraud_card_scoring"]


def _staging(pipeline: dict) -> tuple[dict, dict]:
    """(the test action, the deploy action of its stage)."""
    ((stage, test),) = [(s, a) for s in pipeline["stage"] for a in s["action"] if a["category"] == "Test"]
    (deploy,) = [a for a in stage["action"] if a["category"] == "Deploy"]
    return test, deploy


def _configure(moto: str, region: str, body: str) -> None:
    """moto's documented way to set what its SageMaker endpoints answer (the next invocation)."""
    results = {"account_id": MOTO_ACCOUNT, "region": region, "results": [{"Body": body, "ContentType": "text/csv"}]}
    request = urllib.request.Request(
        f"{moto}/moto-api/static/sagemaker/endpoint-results",
        data=json.dumps(results).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    urllib.request.urlopen(request, timeout=30).read()


def _forget_answers(region: str) -> None:
    """moto keeps its first answer to a request for every same request (by endpoint name, which
    its server mode parses as None): forget the answers of this region's endpoints, and only
    those (other modules' state on the shared server stays)."""
    from moto.sagemakerruntime.models import sagemakerruntime_backends

    sagemakerruntime_backends[MOTO_ACCOUNT][region].results.clear()


def run_endpoint_tests(tree, stacks, moto: str, tmp_path: Path, answer: str) -> subprocess.CompletedProcess:
    """The test stage's tests project, as its endpoint stack creates it, run against moto's
    endpoint (created there under the stage's name) answering ``answer``."""
    import boto3

    test, deploy = _staging(_pipeline(stacks))
    project = stacks[FRAUD_HUB]["resource"]["aws_codebuild_project"]["fraud_card_scoring"]
    group = project["description"].removeprefix("Newest approved package of ")
    package = f"arn:aws:sagemaker:eu-west-1:{group.rsplit('-', 1)[1]}:model-package/{group}/1"
    parameters = deploy_parameters(project["source"]["buildspec"], deploy["configuration"], package)
    assert isinstance(parameters, dict), parameters
    region, endpoint = deploy["region"], parameters["EndpointName"]
    source = tmp_path / "src"
    with zipfile.ZipFile(io.BytesIO(tree[f"stacks/ml-shared-services/{assets.ENDPOINT_SOURCE_ZIP}"])) as archive:
        archive.extractall(source)  # what CodeBuild checks out from the action's input artifact
    template = json.loads((source / assets.ENDPOINT_TEMPLATE).read_text())
    project = template["Resources"]["EndpointTests"]["Properties"]
    assert parameters["EndpointTestsProject"] == test["configuration"]["ProjectName"]
    (variable,) = project["Environment"]["EnvironmentVariables"]
    assert variable["Value"] == {"Fn::GetAtt": ["Endpoint", "EndpointName"]}
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": region,
        "AWS_ENDPOINT_URL": moto,
    }
    sm = boto3.client(
        "sagemaker", region_name=region, endpoint_url=moto, aws_access_key_id="t", aws_secret_access_key="t"
    )
    if endpoint not in [e["EndpointName"] for e in sm.list_endpoints()["Endpoints"]]:
        sm.create_model(
            ModelName=f"{endpoint}-v1",
            ExecutionRoleArn=parameters["ModelExecutionRoleArn"],
            PrimaryContainer={"Image": "xgboost", "ModelDataUrl": "s3://artifacts/model.tar.gz"},
        )
        sm.create_endpoint_config(
            EndpointConfigName=f"{endpoint}-v1",
            ProductionVariants=[
                {
                    "VariantName": "main",
                    "ModelName": f"{endpoint}-v1",
                    "InstanceType": "ml.m5.large",
                    "InitialInstanceCount": 1,
                }
            ],
        )
        sm.create_endpoint(EndpointName=endpoint, EndpointConfigName=f"{endpoint}-v1")
    _forget_answers(region)
    _configure(moto, region, answer)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(sys.executable)  # the image's python3, with boto3
    commands = json.loads(project["Source"]["BuildSpec"])["phases"]["build"]["commands"]
    return subprocess.run(
        ["sh", "-ec", "\n".join(commands)],
        cwd=source,
        env={**os.environ, **env, "PATH": f"{bin_dir}:{os.environ['PATH']}", variable["Name"]: endpoint},
        capture_output=True,
        text=True,
        timeout=60,
    )


def _sample_rows(tree) -> int:
    with zipfile.ZipFile(io.BytesIO(tree[f"stacks/ml-shared-services/{assets.ENDPOINT_SOURCE_ZIP}"])) as archive:
        return len([line for line in archive.read(assets.ENDPOINT_TESTS[1]).decode().splitlines() if line.strip()])


def walk(pipeline: dict, tests_passed: bool) -> list[str]:
    """The actions one execution starts, the test action failing or not, everything else passing."""
    return run_pipeline(pipeline, lambda a: tests_passed if a["category"] == "Test" else True)


@pytest.mark.parametrize("passes", [True, False], ids=["tests-pass", "tests-fail"])
def test_the_prod_approval_is_reached_only_after_the_endpoint_tests_pass(tree, stacks, moto_endpoint, tmp_path, passes):
    rows = _sample_rows(tree)
    answer = ",".join(["0.25"] * rows) if passes else "0.25"  # a failing model answers one row of three
    done = run_endpoint_tests(tree, stacks, moto_endpoint, tmp_path, answer)
    assert (done.returncode == 0) == passes, done.stdout + done.stderr
    if not passes:
        assert f"expected {rows} scores (one per row), got 1" in done.stderr
    pipeline = _pipeline(stacks)
    test, _ = _staging(pipeline)
    started = walk(pipeline, tests_passed=done.returncode == 0)
    approve = assets.approval_action_name("prod")
    assert test["name"] in started
    if passes:
        assert started.index(approve) > started.index(test["name"]) and started[-1] == "deploy-prod"
    else:
        assert started[-1] == test["name"] and approve not in started and "deploy-prod" not in started


def test_a_pipeline_testing_after_the_approval_lets_a_failing_test_through(stacks):
    # GIVEN a broken copy: the test action moved into the prod stage, after the approval
    pipeline = copy.deepcopy(_pipeline(stacks))
    test, _ = _staging(pipeline)
    _without_test_action(pipeline)
    prod = pipeline["stage"][-1]
    prod["action"].append({**test, "run_order": 2})
    # THEN a failing test no longer keeps the officer from being asked
    assert assets.approval_action_name("prod") in walk(pipeline, tests_passed=False)
    # AND the intact pipeline keeps it (the same walk)
    assert assets.approval_action_name("prod") not in walk(_pipeline(stacks), tests_passed=False)
