"""The build steps of the story (tests/journey/build_steps.py), and broken copies of each handoff.

The default spec's story (tests/journey/test_journey.py) walks these steps with the rest; here
each seam of the build is broken in a copy of the tree and the walk must name the step that
breaks, or (for a backup control) nothing may open. All copies run in ONE simulator batch.
"""

from __future__ import annotations

import json

import pytest

from tests.journey.journey import Journey, broken_lines
from tests.journey.test_journey import _policy_edit, _text_edit, drop
from tests.test_separation_of_duties import no_gate_scp

pytestmark = pytest.mark.slow  # node (iam-simulate) and sh/python subprocesses (the select step)

DEV = "ml-dev-fraud"
NEWEST = "products/sagemaker-projects/model-build/v4.yaml"  # the newest build, the one the journey walks


def _allow(sid: str, actions: list[str], resource: str):
    def edit(policy: dict) -> None:
        policy["Statement"].append({"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resource})

    return edit


def _widen(sid: str, resource: str):
    def edit(policy: dict) -> None:
        (stmt,) = [s for s in policy["Statement"] if s.get("Sid") == sid]
        stmt["Resource"] = resource

    return edit


def _both(*edits):
    def apply(tree: dict[str, bytes]) -> None:
        for edit in edits:
            edit(tree)

    return apply


def _no_boundary(tree: dict[str, bytes]) -> None:
    path = f"stacks/{DEV}/cdk.tf.json"
    doc = json.loads(tree[path])
    del doc["resource"]["aws_iam_role"]["fraud_codebuild"]["permissions_boundary"]
    tree[path] = json.dumps(doc).encode()


ROLE = 'ServiceRole:\n        Fn::Sub: "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/nwa-'
CODEBUILD = ("aws_iam_role_policy", "fraud_codebuild", "policy")
CODEPIPELINE = ("aws_iam_role_policy", "fraud_codepipeline", "policy")
BOUNDARY = ("aws_iam_policy", "catalog_product_boundary", "policy")


# seam -> (tree edit, the step its failure must name; None: a backup control, nothing may open)
def _without_version_reads(policy: dict) -> None:
    (stmt,) = [s for s in policy["Statement"] if s.get("Sid") == "HubPromotionReadsArtifacts"]
    stmt["Action"] = [a for a in stmt["Action"] if a != "s3:GetObjectVersion"]


BROKEN = {
    # B4: the package's content is bound by S3 versions recorded at registration
    "registers-without-sealing-the-model": (
        _text_edit(
            NEWEST,
            '"mlgov:version:InferenceSpecification.Containers.0.ModelDataUrl"',
            '"mlgov:unsealed:InferenceSpecification.Containers.0.ModelDataUrl"',
        ),
        "B4 seal the registered artifacts",
    ),
    "evaluation-report-in-the-project-bucket": (
        _text_edit(
            NEWEST,
            '"s3://${ModelsBucket}/projects/${SageMakerProjectName}/evaluations"',
            '"s3://${ArtifactBucket}/runs"',
        ),
        "B4 seal the registered artifacts",
    ),
    "hub-cannot-read-the-sealed-version": (
        _policy_edit(DEV, "aws_s3_bucket_policy", "models", "policy", _without_version_reads),
        "B4 seal the registered artifacts (the hub copies that version)",
    ),
    "connection-unusable": (_policy_edit(DEV, *CODEPIPELINE, drop("UseTheConnection")), "B1 push"),
    "build-not-started": (_policy_edit(DEV, *CODEPIPELINE, drop("StartTheBuild")), "B1 push"),
    "trigger-on-another-branch": (
        _text_edit(
            NEWEST,
            "Includes:\n                    - Fn::If: [AccountBranch, Ref: DefaultBranch, Ref: BranchName]",
            "Includes:\n                    - release",
        ),
        "B1 push",
    ),
    "build-cannot-start-pipeline": (
        _policy_edit(DEV, *CODEBUILD, drop("ProjectPipeline")),
        "B2 build (sagemaker:StartPipelineExecution)",
    ),
    "build-cannot-pass-execution-role": (
        _policy_edit(DEV, *CODEBUILD, drop("PassTheExecutionRole")),
        "B2 build (iam:PassRole)",
    ),
    # the role's own policy opened to every pipeline: the boundary still holds it to its account
    "build-policy-starts-any-pipeline": (
        _policy_edit(DEV, *CODEBUILD, _widen("ProjectPipeline", "arn:aws:sagemaker:*:*:pipeline/*")),
        None,
    ),
    # ... and with the boundary opened too: another team's pipeline is in another account, and a
    # SageMaker pipeline has no resource policy that could let a foreign role in
    "build-starts-any-pipeline": (
        _both(
            _policy_edit(DEV, *CODEBUILD, _widen("ProjectPipeline", "arn:aws:sagemaker:*:*:pipeline/*")),
            _policy_edit(DEV, *BOUNDARY, _widen("BuildPipelines", "arn:aws:sagemaker:*:*:pipeline/*")),
        ),
        None,
    ),
    # an approval grant in the role's policy alone: the boundary grants no approval
    "build-policy-approves": (
        _policy_edit(DEV, *CODEBUILD, _allow("Approve", ["sagemaker:UpdateModelPackage"], "*")),
        None,
    ),
    # the role's policy and its boundary both opened to approving, and the gate SCP removed
    "build-approves": (
        _both(
            _policy_edit(DEV, *CODEBUILD, drop("NeverApprove")),
            _policy_edit(DEV, *CODEBUILD, _allow("Approve", ["sagemaker:UpdateModelPackage"], "*")),
            _policy_edit(DEV, *BOUNDARY, _allow("Approve", ["sagemaker:UpdateModelPackage"], "*")),
            no_gate_scp,
        ),
        "B2 build (sagemaker:UpdateModelPackage, denied)",
    ),
    # ... with the gate SCP in place: only the approvers' roles may update packages, nothing opens
    "build-approves-gate-scp-kept": (
        _both(
            _policy_edit(DEV, *CODEBUILD, drop("NeverApprove")),
            _policy_edit(DEV, *CODEBUILD, _allow("Approve", ["sagemaker:UpdateModelPackage"], "*")),
            _policy_edit(DEV, *BOUNDARY, _allow("Approve", ["sagemaker:UpdateModelPackage"], "*")),
        ),
        None,
    ),
    "build-without-boundary": (_no_boundary, "B2 build: the codebuild role has no permissions boundary"),
    "build-runs-as-another-role": (
        _text_edit(
            NEWEST,
            ROLE + '${TeamName}-codebuild"',
            ROLE + 'sc-model-build"',
        ),
        "B2 build",
    ),
    # the story's step 2 walks the newest build's jobs too (and v2's): one such job without its volume key is denied
    "newest-job-without-volume-key": (
        _text_edit(NEWEST, '"VolumeKmsKeyId": "${KmsKeyArn}",', '"VolumeKmsKeyIdX": "${KmsKeyArn}",'),
        "2 train in the VPC",
    ),
    "registers-without-baselines": (
        _text_edit(NEWEST, '"DriftCheckBaselines": {', '"DriftCheckBaseline": {'),
        "B3 register with baselines",
    ),
    "baseline-outside-the-models-bucket": (
        _text_edit(
            NEWEST,
            '"s3://${ModelsBucket}/projects/${SageMakerProjectName}/baselines"',
            '"s3://${ArtifactBucket}/baselines"',
        ),
        "B3 register with baselines",
    ),
    "hub-cannot-read-baselines": (
        _policy_edit(DEV, "aws_s3_bucket_policy", "models", "policy", drop("HubPromotionReadsArtifacts")),
        "B3 register with baselines (the hub copies it)",
    ),
}


@pytest.fixture(scope="module")
def broken_results(bridge, default_world) -> dict[str, list[str]]:
    return broken_lines(default_world, BROKEN, ["fraud"])


def test_the_build_steps_are_walked(default_world):
    journey = Journey(default_world, ["fraud"])
    steps = {c.step.split("] ", 1)[1].split(" (")[0] for c in journey.contracts if "] B" in c.step}
    assert steps == {"B1 push", "B2 build", "B3 register with baselines", "B4 seal the registered artifacts"}
    # both models of the team, each with its own project
    assert len({c.step.split("]")[0] for c in journey.contracts if "] B" in c.step}) == 2


@pytest.mark.parametrize("seam", sorted(BROKEN))
def test_a_broken_build_fails_at_its_step(broken_results, seam):
    new = broken_results[seam]
    step = BROKEN[seam][1]
    if step is None:
        assert new == []  # a backup control: nothing opens
        return
    assert new, f"breaking {seam} went unnoticed"
    assert any(step in line for line in new), new
