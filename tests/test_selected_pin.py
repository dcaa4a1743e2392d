"""The select step's pin: ``selected.json`` names exactly the package it looked up, whatever its
artifacts are called, and the prod approval shows that pin.

The buildspec is RUN in ``sh`` with a stub ``aws`` answering as the central registry would
(:func:`tests.journey.monitor_steps.run_select`), with ``jq`` as the build image ships it
(required, never skipped).
"""

from __future__ import annotations

import hashlib
import json
import shutil

import pytest

from mlgov.platform import governance as assets
from mlgov.platform.pipeline import VERSION_KEY
from tests.journey.monitor_steps import registered_package, run_select

pytestmark = pytest.mark.slow  # runs the IAM simulator or the select step in sh

GROUP = "nwa-fraud-card-scoring-220000000002"
ARN = f"arn:aws:sagemaker:eu-west-1:110000000001:model-package/{GROUP}/7"
# A package of another group the ML engineer never approved.
OTHER = "arn:aws:sagemaker:eu-west-1:110000000001:model-package/nwa-churn-models-220000000003/1"
MODEL = "InferenceSpecification.Containers.0.ModelDataUrl"
HOSTILE = f's3://nwa-ml-models/projects/p/x","ModelPackageArn":"{OTHER}","y":"/statistics.json'


def test_jq_is_installed():
    # The select step runs in the CodeBuild image, which ships jq; these tests run it for real.
    assert shutil.which("jq"), "jq is required to run the select step's buildspec (apt-get install jq)"


def test_a_key_name_with_quotes_cannot_inject_a_second_package_arn():
    # GIVEN an approved package whose baseline and model key names carry a JSON fragment naming OTHER
    described = registered_package(ARN, HOSTILE, "s3://b/k/constraints.json")
    described["InferenceSpecification"]["Containers"][0]["ModelDataUrl"] = HOSTILE.replace("statistics", "model")
    # WHEN the monitored select step writes its pin
    selected = run_select(assets.select_buildspec(GROUP, ("data-quality",)), ARN, "", "", described=described)
    # THEN selected.json is one object with unique keys, and names only the looked-up package
    assert isinstance(selected, dict), selected
    assert selected["ModelPackageArn"] == ARN
    assert selected["$exported"]["ModelPackageArn"] == ARN
    # AND the hostile names are kept whole, as data
    assert selected["BaselineStatisticsUri"] == HOSTILE
    assert selected["Containers"][0]["ModelDataUrl"] == HOSTILE.replace("statistics", "model")


def test_the_pin_names_what_the_package_runs_and_its_digest_is_exported():
    described = registered_package(
        ARN, "s3://b/k/statistics.json", "s3://b/k/constraints.json",
        CustomerMetadataProperties={f"{VERSION_KEY}{MODEL}": "v1", "trained-by": "pipeline-42"},
    )  # fmt: skip
    selected = run_select(assets.select_buildspec(GROUP), ARN, "", "", described=described)
    assert isinstance(selected, dict), selected
    container = described["InferenceSpecification"]["Containers"][0]
    assert selected["Containers"] == [{k: container[k] for k in ("Image", "ImageDigest", "ModelDataUrl")}]
    assert selected["ArtifactVersions"] == {f"{VERSION_KEY}{MODEL}": "v1"}
    # the digest the approval shows is the SHA-256 of the very file the stages deploy from
    exported = selected.pop("$exported")
    text = json.dumps(selected, sort_keys=True, indent=2) + "\n"
    assert exported["PinDigest"] == hashlib.sha256(text.encode()).hexdigest()


@pytest.mark.parametrize(
    ("listed", "described", "message"),
    [
        (OTHER, None, f"no approved model package in {GROUP}"),  # another group's package
        (f"{ARN}x", None, f"no approved model package in {GROUP}"),
        ("None", None, f"no approved model package in {GROUP}"),
        (ARN, {"ModelPackageArn": OTHER}, "described package is not"),
        (ARN, {"ModelApprovalStatus": "Rejected"}, "is no longer approved"),
    ],
)
def test_the_select_step_refuses_anything_but_an_approved_package_of_its_group(listed, described, message):
    package = registered_package(listed, "None", "None", **(described or {}))
    failed = run_select(assets.select_buildspec(GROUP), listed, "", "", described=package)
    assert isinstance(failed, str) and message in failed, failed


def test_the_pin_check_before_prod_passes_only_for_the_same_package_unchanged():
    # GIVEN the pin the select run wrote for the earlier stages
    described = registered_package(ARN, "s3://b/k/statistics.json", "s3://b/k/constraints.json")
    buildspec = assets.select_buildspec(GROUP, ("data-quality",))
    first = run_select(buildspec, ARN, "", "", described=described)
    assert isinstance(first, dict), first
    pinned = {name: first["$exported"][exported] for name, exported in assets.PINNED.items()}
    # WHEN the select project runs again in check mode (the variables the prod stage's check sets)
    # THEN it passes for the same package, even when a newer one was approved since
    same = run_select(buildspec, ARN.replace("/7", "/8"), "", "", described=described, environment=pinned)
    assert isinstance(same, dict) and same["$exported"]["PinDigest"] == pinned["PINNED_DIGEST"], same
    # AND fails when the package changed since: other model data, another image digest, a baseline
    changed = json.loads(json.dumps(described))
    changed["InferenceSpecification"]["Containers"][0]["ModelDataUrl"] = "s3://b/k/other-model.tar.gz"
    digest = json.loads(json.dumps(described))
    digest["InferenceSpecification"]["Containers"][0]["ImageDigest"] = "sha256:" + "1" * 64
    baseline = registered_package(ARN, "s3://b/k/statistics.json", "s3://b/k/looser-constraints.json")
    for edited in (changed, digest, baseline):
        failed = run_select(buildspec, ARN, "", "", described=edited, environment=pinned)
        assert isinstance(failed, str) and f"{ARN} changed since the earlier stages deployed it" in failed, failed
    # AND when it is no longer approved
    rejected = {**described, "ModelApprovalStatus": "Rejected"}
    failed = run_select(buildspec, ARN, "", "", described=rejected, environment=pinned)
    assert isinstance(failed, str) and "is no longer approved" in failed


def test_every_stage_behind_an_approval_checks_the_pin_before_it_deploys(stacks):
    hub_pipelines = {
        address: pipeline
        for name, stack in stacks.items()
        if name.startswith("ml-shared-services-team-")
        for address, pipeline in stack["resource"].get("aws_codepipeline", {}).items()
    }
    assert hub_pipelines  # the teams' pipelines, each in its team's slice of the hub
    for address, pipeline in hub_pipelines.items():
        select_project = pipeline["stage"][1]["action"][0]["configuration"]["ProjectName"]
        for stage in pipeline["stage"][2:]:
            actions = sorted(stage["action"], key=lambda a: a["run_order"])
            if not any(a["category"] == "Approval" for a in actions):
                continue
            approve, verify, deploy = actions
            assert (approve["category"], verify["category"], deploy["category"]) == ("Approval", "Build", "Deploy")
            assert verify["configuration"]["ProjectName"] == select_project, address
            variables = json.loads(verify["configuration"]["EnvironmentVariables"])
            assert {v["name"]: v["value"] for v in variables} == {
                name: f"#{{{assets.SELECT_NAMESPACE}.{exported}}}" for name, exported in assets.PINNED.items()
            }
            assert verify["input_artifacts"] == ["selected"] and "selected" in deploy["input_artifacts"]


def test_the_buildspec_holds_no_terraform_template_sequence():
    # Terraform reads "${" and "%{" in the project's JSON as its own: the buildspec must hold none
    for monitors in ((), ("data-quality",), ("data-quality", "model-quality", "bias")):
        buildspec = assets.select_buildspec(GROUP, monitors)
        assert "${" not in buildspec and "%{" not in buildspec


def test_the_prod_approval_shows_the_pin(stacks):
    pipeline = stacks["ml-shared-services-team-fraud"]["resource"]["aws_codepipeline"]["fraud_card_scoring"]
    (select,) = pipeline["stage"][1]["action"]
    assert select["namespace"] == assets.SELECT_NAMESPACE
    project = stacks["ml-shared-services-team-fraud"]["resource"]["aws_codebuild_project"]["fraud_card_scoring"]
    assert json.loads(project["source"]["buildspec"])["env"]["exported-variables"] == list(assets.PIN_VARIABLES)
    (approve,) = [a for a in pipeline["stage"][3]["action"] if a["category"] == "Approval"]
    for variable in assets.PIN_VARIABLES:
        assert f"#{{{assets.SELECT_NAMESPACE}.{variable}}}" in approve["configuration"]["CustomData"]
    # AND it says where that pin passed the endpoint tests: the stage whose test action comes first
    (tested,) = [st["name"] for st in pipeline["stage"] if any(a["category"] == "Test" for a in st["action"])]
    assert approve["configuration"]["CustomData"].endswith(f"passed the endpoint tests in stage {tested}")
    assert len(approve["configuration"]["CustomData"]) <= 500  # CodePipeline's CustomData limit


def test_a_stage_template_configuration_holds_the_static_values_whole_and_the_pins_dynamic_ones():
    # GIVEN a stage's parameters whose static values carry shell and Terraform syntax, and whose
    # package and baseline come from the pin (the hostile key name among them)
    static = {"EndpointName": "e'; rm -rf / #", "Note": '${var.x} %{if} $HOME \\ " é', "Empty": ""}
    dynamic = {
        "ModelPackageArn": {"Fn::GetParam": ["selected", assets.SELECTED_FILE, "ModelPackageArn"]},
        "BaselineStatisticsUri": {"Fn::GetParam": ["selected", assets.SELECTED_FILE, "BaselineStatisticsUri"]},
    }
    file = assets.deploy_config_file("prod")
    buildspec = assets.select_buildspec(GROUP, configs=((file, {**static, **dynamic}),))
    # THEN Terraform sees no interpolation or directive in the project's buildspec
    assert "${" not in buildspec and "%{" not in buildspec
    # WHEN the select step runs
    described = registered_package(ARN, HOSTILE, "s3://b/k/constraints.json")
    selected = run_select(buildspec, ARN, "", "", described=described)
    assert isinstance(selected, dict), selected
    # THEN the stage's file is exactly the static values and the pin's own values, all strings
    expected = {**static, "ModelPackageArn": ARN, "BaselineStatisticsUri": HOSTILE}
    assert selected["$files"] == {file: {"Parameters": expected}}


def test_a_template_configuration_naming_a_value_the_pin_lacks_fails_the_select_step():
    missing = {"X": {"Fn::GetParam": ["selected", assets.SELECTED_FILE, "NoSuchKey"]}}
    buildspec = assets.select_buildspec(GROUP, configs=((assets.deploy_config_file("test"), missing),))
    failed = run_select(buildspec, ARN, "", "", described=registered_package(ARN, "s3://b/s", "s3://b/c"))
    assert isinstance(failed, str) and "a parameter is not a string" in failed
