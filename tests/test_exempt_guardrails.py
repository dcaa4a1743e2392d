"""No workload account exempts anyone from the guardrails (path 5 of the gate review).

org.yaml used to list every account in ``management.guardrails.exempt_accounts``: whoever could
create ``nwa-break-glass`` in a dev, test or prod account escaped the region and audit
guardrails there. The default spec now exempts no account; an administrator of the fraud dev
account acting as a role of that name is refused by the SCPs the synthesized management stack
attaches (iam-simulate decides). The broken copy puts the old exemption back into the SCPs'
content and the same requests pass.
"""

from __future__ import annotations

import json

import pytest

from mlgov.review import iam
from tests.journey import decisions
from tests.journey.world import World

pytestmark = pytest.mark.slow  # node (iam-simulate)

DEV, DEV_ID = "ml-dev-fraud", "330000000003"
BREAK_GLASS = f"arn:aws:iam::{DEV_ID}:role/nwa-break-glass"
# (what, action, resource, request context)
ASKS = {
    "create a bucket outside the allowed regions": (
        "s3:CreateBucket",
        "arn:aws:s3:::escape-bucket",
        {"aws:RequestedRegion": "us-east-1"},
    ),
    "stop the organization trail": (
        "cloudtrail:StopLogging",
        f"arn:aws:cloudtrail:eu-west-1:{DEV_ID}:trail/nwa-org-trail",
        {"aws:RequestedRegion": "eu-west-1"},
    ),
    "create the break-glass role": ("iam:CreateRole", BREAK_GLASS, {"aws:RequestedRegion": "eu-west-1"}),
}
# Every account of org.yaml, as the exemption used to list them.
OLD_EXEMPT = [
    f"arn:aws:iam::{i}:role/nwa-break-glass"
    for i in ("220000000002", "330000000003", "330000000004", "440000000005", "550000000006", "660000000007")
]


def old_exemption(tree: dict[str, bytes]) -> None:
    """A tree edit: every Deny of the region and audit SCPs leaves out each account's
    break-glass role again, and the role may be created in every one of them."""
    path = "stacks/management/cdk.tf.json"
    doc = json.loads(tree[path])
    for address in ("region_restriction", "protect_audit"):
        attrs = doc["resource"]["aws_organizations_policy"][address]
        content = json.loads(attrs["content"])
        for stmt in content["Statement"]:
            if stmt["Sid"] == "DenyExemptRoleNamesElsewhere":
                stmt["Condition"] = {"StringNotEquals": {"aws:ResourceAccount": [a.split(":")[4] for a in OLD_EXEMPT]}}
            elif stmt["Sid"] in ("DenyOutsideAllowedRegions", "ProtectCloudTrail"):
                stmt.setdefault("Condition", {})["ArnNotEquals"] = {"aws:PrincipalArn": OLD_EXEMPT}
        attrs["content"] = json.dumps(content)
    tree[path] = json.dumps(doc).encode()


def requests(world: World) -> list[iam.Request]:
    return [
        decisions.account_admin_request(world.scps(DEV), DEV_ID, BREAK_GLASS, action, resource, context)
        for action, resource, context in ASKS.values()
    ]


@pytest.fixture(scope="module")
def decided(bridge, default_world) -> dict[tuple[str, bool], iam.Decision]:
    broken = dict(default_world.tree)
    old_exemption(broken)
    worlds = {False: default_world, True: World(default_world.spec, broken)}
    out = {}
    for is_broken, world in worlds.items():
        for what, decision in zip(ASKS, decisions.simulate(requests(world)), strict=True):
            out[(what, is_broken)] = decision
    return out


@pytest.mark.parametrize("what", sorted(ASKS))
def test_a_break_glass_role_in_a_dev_account_is_not_exempt(decided, what):
    # GIVEN the default spec (no exempt account) and an administrator acting as nwa-break-glass
    # in the fraud dev account WHEN it asks THEN an SCP denies it
    decision = decided[(what, False)]
    assert decision.decision == "ExplicitlyDenied", (what, decision.explanation)
    assert any(b.kind == "scp" for b in decision.denied_by), decision.explanation


@pytest.mark.parametrize("what", sorted(ASKS))
def test_the_old_exemption_reopens_it(decided, what):
    # GIVEN the SCPs as the old exemption list made them THEN the same request is allowed:
    # the test above would fail on that copy
    assert decided[(what, True)].allowed, (what, decided[(what, True)].explanation)
