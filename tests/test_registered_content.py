"""What a package was registered with stays what it was (path 4 of the gate review, the rest).

A registered package names each artifact's S3 version (model-build v4's seal); promotion copies
exactly those versions. The data scientist and the execution role write the team's models
bucket, so they must not be able to take a recorded version away (delete it, suspend
versioning, add a lifecycle rule that expires it): the models bucket's policy denies it to
everyone but the Terraform role, whatever an identity policy grants. The drift constraints and
statistics are recorded artifacts too; after the central approval the monitors read the hub's
copies, which no dev role may write. iam-simulate decides every request; the broken copy takes
the bucket policy's statement out and the same requests pass.
"""

from __future__ import annotations

import json

import pytest

from mlgov.platform import naming
from mlgov.review import iam
from tests.journey import decisions
from tests.journey.world import Role, World

pytestmark = pytest.mark.slow  # node (iam-simulate)

DEV, HUB, TEAM = "ml-dev-fraud", "ml-shared-services", "fraud"
EVERYTHING_ON = "GrantedByAnAdministrator"


def widened(role: Role, bucket: str) -> dict[str, dict]:
    """The role's own policies plus an administrator's grant of every S3 action on the bucket:
    the bucket policy alone has to hold."""
    grant = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:*", "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]}
        ],
    }
    return {**role.policies, EVERYTHING_ON: grant}


def without_recorded_versions_stay(tree: dict[str, bytes]) -> None:
    """A tree edit: the models bucket policy without its RecordedVersionsStay statement."""
    path = f"stacks/{DEV}/cdk.tf.json"
    doc = json.loads(tree[path])
    attrs = doc["resource"]["aws_s3_bucket_policy"]["models"]
    content = json.loads(attrs["policy"])
    content["Statement"] = [s for s in content["Statement"] if s.get("Sid") != "RecordedVersionsStay"]
    attrs["policy"] = json.dumps(content)
    tree[path] = json.dumps(doc).encode()


def asks(world: World) -> list[tuple[str, iam.Request, bool]]:
    spec = world.spec
    dev_id, hub_id = world.account_id(DEV), world.account_id(HUB)
    region = world.stack_of(DEV).region
    bucket = naming.bucket_name(spec, DEV, region, "models")
    policy = world.resource_policy(world.stack_of(DEV), "aws_s3_bucket_policy", "policy", bucket)
    group = naming.model_package_group(spec, TEAM, spec.teams[TEAM].governance.model_package_groups[0])
    key = f"arn:aws:s3:::{bucket}/{group}/1/model.tar.gz"
    constraints = f"arn:aws:s3:::{bucket}/{group}/1/baseline/constraints.json"
    out = []
    for persona in ("data-scientist", "sagemaker-execution"):
        role = world.role(DEV, naming.team_role(spec, TEAM, persona))
        assert role is not None
        for what, action, resource in (
            ("delete a recorded version", "s3:DeleteObjectVersion", key),
            ("delete a recorded drift constraint", "s3:DeleteObjectVersion", constraints),
            ("suspend versioning", "s3:PutBucketVersioning", f"arn:aws:s3:::{bucket}"),
            ("expire versions by lifecycle", "s3:PutLifecycleConfiguration", f"arn:aws:s3:::{bucket}"),
        ):
            context = {
                "aws:PrincipalArn": role.arn,
                "aws:PrincipalAccount": dev_id,
                "aws:SecureTransport": "true",
                "aws:RequestedRegion": region,
            }
            request = iam.Request(
                principal=role.arn,
                action=action,
                resource=resource,
                resource_account=dev_id,
                identity_policies=widened(role, bucket),
                resource_policy=policy,
                scps=world.scps(DEV),
                context=context,
            )
            out.append((f"{persona}: {what}", request, False))
        # the monitors' copy of the constraints, after the central approval: the hub's
        hub_region = naming.hub_region(spec)
        artifacts = naming.bucket_name(spec, HUB, hub_region, "model-artifacts")
        hub_policy = world.resource_policy(world.stack_of(HUB), "aws_s3_bucket_policy", "policy", artifacts)
        prefix = naming.artifact_prefix(spec, TEAM, spec.teams[TEAM].governance.model_package_groups[0])
        for action in ("s3:PutObject", "s3:DeleteObjectVersion"):
            request = iam.Request(
                principal=role.arn,
                action=action,
                resource=f"arn:aws:s3:::{artifacts}/{prefix}/v1/constraints.json",
                resource_account=hub_id,
                identity_policies=role.policies,
                resource_policy=hub_policy,
                scps=world.scps(DEV),
                context={
                    "aws:PrincipalArn": role.arn,
                    "aws:PrincipalAccount": dev_id,
                    "aws:SecureTransport": "true",
                    "aws:RequestedRegion": region,
                },
            )
            out.append((f"{persona}: {action} on the hub's drift constraints", request, False))
    # Terraform still manages the bucket's versioning and lifecycle.
    terraform = policy_of_terraform(world, dev_id)
    for action in ("s3:PutBucketVersioning", "s3:PutLifecycleConfiguration"):
        request = iam.Request(
            principal=terraform,
            action=action,
            resource=f"arn:aws:s3:::{bucket}",
            resource_account=dev_id,
            identity_policies={"AdministratorAccess": ADMIN},
            resource_policy=policy,
            scps=world.scps(DEV),
            context={
                "aws:PrincipalArn": terraform,
                "aws:PrincipalAccount": dev_id,
                "aws:SecureTransport": "true",
                "aws:RequestedRegion": region,
            },
        )
        out.append((f"terraform: {action}", request, True))
    return out


ADMIN = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def policy_of_terraform(world: World, account_id: str) -> str:
    return f"arn:aws:iam::{account_id}:role/{world.spec.terraform.role_name}"


@pytest.fixture(scope="module")
def decided(bridge, default_world) -> dict[tuple[str, bool], tuple[iam.Decision, bool]]:
    broken = dict(default_world.tree)
    without_recorded_versions_stay(broken)
    out = {}
    for is_broken, world in ((False, default_world), (True, World(default_world.spec, broken))):
        found = asks(world)
        for (what, _request, want), decision in zip(found, decisions.simulate([r for _, r, _ in found]), strict=True):
            out[(what, is_broken)] = (decision, want)
    return out


def test_no_person_or_job_takes_a_recorded_version_away(decided):
    # GIVEN the default tree and personas an administrator granted s3:* on the models bucket
    # WHEN they try to remove a recorded version THEN the bucket policy denies it; the hub's
    # copies are out of their reach; Terraform keeps managing the bucket
    wrong = [
        f"{what}: expected {'allowed' if want else 'denied'}, got {d.decision} ({d.explanation})"
        for (what, is_broken), (d, want) in sorted(decided.items())
        if not is_broken and d.allowed != want
    ]
    assert wrong == []


def test_without_the_bucket_statement_the_versions_can_be_removed(decided):
    # GIVEN the broken copy (no RecordedVersionsStay) THEN the dev-bucket removals pass: the
    # test above would fail on it
    reopened = sorted(what for (what, is_broken), (d, want) in decided.items() if is_broken and d.allowed and not want)
    assert len(reopened) == 8 and not any("hub" in what for what in reopened), "\n".join(reopened)
