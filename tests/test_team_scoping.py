"""The constant-size resource policies keep each team to its own objects.

The hub's artifact bucket and each stage account's monitoring bucket admit every team's roles
by name pattern and scope them with the ``mlgov:team`` tag the roles carry (one statement for
any number of teams). Here the IAM simulator decides, with the policies of the default spec's
generated tree, the roles' real tags as principal tags, and an identity policy that allows the
role every object of the bucket (what an administrator of the role's own account could give
it): the resource policy alone must keep fraud's roles out of churn's prefix, and let them
into their own. Each broken copy (the tag scoping or the name pattern removed) makes a
cross-team read pass, and the test says which. The same for the other constant-size
conditions: the central bus admits only the forwarder roles' name pattern, and the promotion
role reads ``<org>-models-*`` buckets of the organization only. Without node/the npm packages: skip locally,
FAIL on CI.
"""

from __future__ import annotations

import json

import pytest

from mlgov.platform import naming
from mlgov.review import iam
from tests.conftest import ON_CI
from tests.journey.world import World

HUB, PROD, DEV = "ml-shared-services", "ml-prod", "ml-dev-fraud"
OWN_TEAM = "$${aws:PrincipalTag/mlgov:team}"


@pytest.fixture(scope="module")
def bridge() -> None:
    reason = iam.unavailable()
    if reason:
        if ON_CI:
            pytest.fail(f"{reason} (required on CI)")
        pytest.skip(reason)


def _wide_open(action: str, resources: list[str]) -> dict:
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": resources}]}


def _cases(world: World) -> list[tuple[str, bool, iam.Request]]:
    """(what, should be allowed, request): fraud's roles on their own and on churn's objects."""
    spec = world.spec
    hub_region = naming.hub_region(spec)
    artifacts = naming.bucket_name(spec, spec.hub, hub_region, "model-artifacts")
    reports = naming.monitoring_bucket(spec, PROD)
    cases: list[tuple[str, bool, iam.Request]] = []

    def request(role_key: str, role_name: str, action: str, resource: str, stack: str, bucket: str, **context):
        role = world.role(role_key, role_name)
        assert role is not None, role_name
        assert role.tags.get(naming.TEAM_TAG) == "fraud", f"{role_name} carries no team tag"
        return iam.Request(
            principal=role.arn,
            action=action,
            resource=resource,
            resource_account=world.account_id(stack),
            identity_policies={"wide-open": _wide_open(action, [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"])},
            resource_policy=world.resource_policy(world.stack_of(stack), "aws_s3_bucket_policy", "policy", bucket),
            context={
                "aws:PrincipalOrgID": spec.organization.id,
                "aws:PrincipalAccount": role.account,
                "aws:PrincipalArn": role.arn,
                **role.principal_tags,
                **context,
            },
        )

    for purpose in ("endpoint", "monitoring"):
        role_name = naming.team_role(spec, "fraud", purpose)
        for team, group, allowed in (("fraud", "card-scoring", True), ("churn", "churn", False)):
            key = f"{naming.artifact_prefix(spec, team, group)}/v1/0123456789abcdef/model.tar.gz"
            cases.append(
                (
                    f"{role_name} reads {team}'s artifact {key}",
                    allowed,
                    request(PROD, role_name, "s3:GetObject", f"arn:aws:s3:::{artifacts}/{key}", HUB, artifacts),
                )
            )
    for purpose in ("data-scientist", "lead-data-scientist"):
        role_name = naming.team_role(spec, "fraud", purpose)
        for team, allowed in (("fraud", True), ("churn", False)):
            key = f"{naming.monitoring_reports_prefix(team, 'card-scoring', 'data-quality')}/report.json"
            cases.append(
                (
                    f"{role_name} reads {team}'s report {key}",
                    allowed,
                    request(DEV, role_name, "s3:GetObject", f"arn:aws:s3:::{reports}/{key}", PROD, reports),
                )
            )
            cases.append(
                (
                    f"{role_name} lists {team}'s reports",
                    allowed,
                    request(
                        DEV,
                        role_name,
                        "s3:ListBucket",
                        f"arn:aws:s3:::{reports}",
                        PROD,
                        reports,
                        **{"s3:prefix": f"{team}/"},
                    ),
                )
            )
    cases += _org_cases(world)
    return cases


FOREIGN_ACCOUNT, FOREIGN_ORG = "999999999999", "o-foreign0001"


def _org_cases(world: World) -> list[tuple[str, bool, iam.Request]]:
    """The name patterns and the organization conditions hold: the central bus admits only the
    forwarder roles, and the promotion role reads models buckets of the organization only (the
    other side wide open: a bus or bucket owner who grants everything)."""
    spec = world.spec
    region = naming.hub_region(spec)
    hub_id = world.account_id(HUB)
    bus = f"arn:aws:events:{region}:{hub_id}:event-bus/{naming.central_bus(spec)}"
    bus_policy = world.resource_policy(world.stack_of(HUB), "aws_cloudwatch_event_bus_policy", "policy")
    cases = []
    for purpose, allowed in (("event-forwarder", True), ("data-scientist", False)):
        role = world.role(DEV, naming.team_role(spec, "fraud", purpose))
        assert role is not None
        cases.append(
            (
                f"{role.name} puts events on the central bus",
                allowed,
                iam.Request(
                    principal=role.arn,
                    action="events:PutEvents",
                    resource=bus,
                    resource_account=hub_id,
                    identity_policies={"wide-open": _wide_open("events:PutEvents", [bus])},
                    resource_policy=bus_policy,
                    context={
                        "aws:PrincipalOrgID": spec.organization.id,
                        "aws:PrincipalAccount": role.account,
                        "aws:PrincipalArn": role.arn,
                        **role.principal_tags,
                    },
                ),
            )
        )
    promotion = world.role(HUB, naming.role_name(spec, "model-promotion"))
    assert promotion is not None
    for account, org, allowed in (
        (world.account_id(DEV), spec.organization.id, True),
        (FOREIGN_ACCOUNT, FOREIGN_ORG, False),
    ):
        bucket = f"{spec.organization.name}-models-{account}-{region}"
        obj = f"arn:aws:s3:::{bucket}/model.tar.gz"
        cases.append(
            (
                f"{promotion.name} reads {bucket} (organization {org})",
                allowed,
                iam.Request(
                    principal=promotion.arn,
                    action="s3:GetObject",
                    resource=obj,
                    resource_account=account,
                    identity_policies=dict(promotion.policies),
                    resource_policy={
                        "Version": "2012-10-17",
                        "Statement": [
                            {"Effect": "Allow", "Principal": {"AWS": promotion.arn}, "Action": "s3:*", "Resource": obj}
                        ],
                    },
                    context={
                        "aws:PrincipalOrgID": spec.organization.id,
                        "aws:PrincipalAccount": promotion.account,
                        "aws:PrincipalArn": promotion.arn,
                        "aws:ResourceOrgID": org,
                    },
                ),
            )
        )
    return cases


def wrong(world: World) -> list[str]:
    """Every case the simulator decides otherwise than the contract says, as a line."""
    cases = _cases(world)
    lines = []
    for (what, allowed, _), decision in zip(cases, iam.simulate([r for _, _, r in cases]), strict=True):
        if decision.errors:
            lines.append(f"{what}: simulator error {decision.errors}")
        elif decision.allowed != allowed:
            got, want = ("allowed" if d else "denied" for d in (decision.allowed, allowed))
            lines.append(f"{what}: {got} (must be {want})")
    return lines


def _edit_bucket_policies(old: str, new: str):
    """A tree edit: replace ``old`` by ``new`` in every bucket policy of the hub and ml-prod stacks."""

    def apply(tree: dict[str, bytes]) -> None:
        for stack in (HUB, PROD):
            path = f"stacks/{stack}/cdk.tf.json"
            doc = json.loads(tree[path])
            for attrs in doc["resource"]["aws_s3_bucket_policy"].values():
                attrs["policy"] = attrs["policy"].replace(old, new)
            tree[path] = json.dumps(doc).encode()

    return apply


def _edit_hub(rtype: str, address: str, old: str, new: str):
    """A tree edit: replace ``old`` by ``new`` in one policy of the hub stack."""

    def apply(tree: dict[str, bytes]) -> None:
        path = f"stacks/{HUB}/cdk.tf.json"
        doc = json.loads(tree[path])
        attrs = doc["resource"][rtype][address]
        key = "policy"
        assert old in attrs[key], old
        attrs[key] = attrs[key].replace(old, new)
        tree[path] = json.dumps(doc).encode()

    return apply


# (broken copy, a line the failure must contain)
BROKEN = {
    # the team tag no longer scopes the objects: every team's roles read every team's prefix
    "tag-scoping-removed": (
        _edit_bucket_policies(f"/{OWN_TEAM}/", "/"),
        "nwa-fraud-endpoint reads churn's artifact",
    ),
    # the listing condition no longer names the team: fraud lists churn's reports
    "list-prefix-unscoped": (
        _edit_bucket_policies(f'["{OWN_TEAM}/*"]', '["*"]'),
        "nwa-fraud-data-scientist lists churn's reports: allowed",
    ),
    # the bus admits every role of the organization, not only the forwarders
    "bus-pattern-widened": (
        _edit_hub("aws_cloudwatch_event_bus_policy", "model_governance", "role/nwa-*-event-forwarder", "role/*"),
        "nwa-fraud-data-scientist puts events on the central bus: allowed",
    ),
    # the promotion role reads models buckets anywhere, not only in the organization
    "promotion-reads-outside-org": (
        _edit_hub(
            "aws_iam_role_policy",
            "model_promotion",
            '"Condition":{"StringEquals":{"aws:ResourceOrgID":"o-nw4a8k2j6q"}},',
            "",
        ),
        f"reads nwa-models-{FOREIGN_ACCOUNT}-eu-west-1 (organization {FOREIGN_ORG}): allowed",
    ),
    # the variable names another tag, which the roles do not carry: their own reads fail too
    "wrong-tag-key": (
        _edit_bucket_policies("aws:PrincipalTag/mlgov:team", "aws:PrincipalTag/team"),
        "nwa-fraud-endpoint reads fraud's artifact",
    ),
}


@pytest.fixture(scope="module")
def results(bridge, default_spec, tree) -> dict[str, list[str]]:
    out = {"default": wrong(World(default_spec, tree))}
    for name, (edit, _) in sorted(BROKEN.items()):
        broken = dict(tree)
        edit(broken)
        out[name] = wrong(World(default_spec, broken))
    return out


@pytest.mark.slow  # starts a process
def test_each_team_reads_only_its_own_prefix(results):
    # GIVEN the default tree WHEN fraud's roles read own and churn's objects THEN only their own
    assert results["default"] == []


@pytest.mark.slow  # starts the IAM simulator
@pytest.mark.parametrize("seam", sorted(BROKEN))
def test_a_broken_copy_lets_a_team_cross_or_locks_it_out(results, seam):
    # GIVEN a copy whose tag scoping is broken WHEN evaluated THEN the failure names the crossing
    assert any(BROKEN[seam][1] in line for line in results[seam]), results[seam]
