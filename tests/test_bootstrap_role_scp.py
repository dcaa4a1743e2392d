"""Only the bootstrap's StackSet makes or changes an account's Terraform and plan roles.

The state bucket admits every account's Terraform role and plan role by name, and the persona
statement of protect_audit exempts the Terraform role's name: an administrator of a member
account who could rewrite that account's Terraform role's trust could read every account's
state and make persona roles. The synthesized protect_audit SCP (its
``DenyBootstrapRoleNamesButStackSets`` statement) refuses it; iam-simulate decides with the
SCPs the management stack attaches. The broken copy drops that statement and the same requests
pass.
"""

from __future__ import annotations

import json

import pytest

from mlgov.review import iam
from tests.journey import decisions
from tests.journey.world import World

pytestmark = pytest.mark.slow  # node (iam-simulate)

DEV, DEV_ID = "ml-dev-fraud", "330000000003"
ACCOUNT_ADMIN = f"arn:aws:iam::{DEV_ID}:role/account-admin"
STACKSET = f"arn:aws:iam::{DEV_ID}:role/stacksets-exec-0123456789abcdef0123456789abcdef"
TERRAFORM = f"arn:aws:iam::{DEV_ID}:role/mlgov-terraform"
# (what, principal, action, resource)
ASKS = {
    "admin rewrites the Terraform role's trust": (ACCOUNT_ADMIN, "iam:UpdateAssumeRolePolicy", TERRAFORM),
    "admin widens the plan role": (ACCOUNT_ADMIN, "iam:PutRolePolicy", f"{TERRAFORM}-plan"),
    "admin makes a StackSet execution role": (
        ACCOUNT_ADMIN,
        "iam:CreateRole",
        f"arn:aws:iam::{DEV_ID}:role/stacksets-exec-mine",
    ),
}
STACKSET_ASK = ("StackSet makes the Terraform role", STACKSET, "iam:CreateRole", TERRAFORM)


def without_bootstrap_statement(tree: dict[str, bytes]) -> None:
    """A tree edit: protect_audit without its DenyBootstrapRoleNamesButStackSets statement."""
    path = "stacks/management/cdk.tf.json"
    doc = json.loads(tree[path])
    attrs = doc["resource"]["aws_organizations_policy"]["protect_audit"]
    content = json.loads(attrs["content"])
    content["Statement"] = [s for s in content["Statement"] if s["Sid"] != "DenyBootstrapRoleNamesButStackSets"]
    attrs["content"] = json.dumps(content)
    tree[path] = json.dumps(doc).encode()


@pytest.fixture(scope="module")
def decided(bridge, default_world) -> dict[tuple[str, bool], iam.Decision]:
    broken = dict(default_world.tree)
    without_bootstrap_statement(broken)
    asks = {**ASKS, STACKSET_ASK[0]: STACKSET_ASK[1:]}
    out = {}
    for is_broken, world in {False: default_world, True: World(default_world.spec, broken)}.items():
        found = decisions.simulate(
            [decisions.account_admin_request(world.scps(DEV), DEV_ID, *ask) for ask in asks.values()]
        )
        out.update({(what, is_broken): d for what, d in zip(asks, found, strict=True)})
    return out


@pytest.mark.parametrize("what", sorted(ASKS))
def test_a_member_admin_cannot_make_or_change_the_bootstrap_roles(decided, what):
    # GIVEN an administrator of the fraud dev account WHEN it asks THEN protect_audit denies it
    decision = decided[(what, False)]
    assert decision.decision == "ExplicitlyDenied", (what, decision.explanation)
    assert any(b.kind == "scp" and b.sid == "DenyBootstrapRoleNamesButStackSets" for b in decision.denied_by), (
        decision.explanation
    )
    # AND on the broken copy without the statement, the same request is allowed
    assert decided[(what, True)].allowed, (what, decided[(what, True)].explanation)


def test_the_stacksets_execution_role_still_makes_them(decided):
    # GIVEN the StackSet's execution role in the account THEN the SCP lets it make the Terraform role
    decision = decided[(STACKSET_ASK[0], False)]
    assert decision.allowed, decision.explanation
