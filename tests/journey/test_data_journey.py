"""The data step (tests/journey/data_steps.py) fails on each broken copy of the default tree.

Each copy breaks one thing the data step depends on: the IAM side of a reader role, a Lake
Formation grant in the data stack or in the dev stack, a grant widened to more columns or to
another account, another team's policy opened to the lake. The walk covers the fraud team only
(every seam broken here is fraud's or shared) and runs every copy in ONE simulator batch.
"""

from __future__ import annotations

import json

import pytest

from tests.journey.journey import Journey, broken_lines, lines_of
from tests.journey.test_journey import _drop_resource, _policy_edit, drop
from tests.journey.world import World
from tests.test_separation_of_duties import no_gate_scp

pytestmark = pytest.mark.slow  # node (iam-simulate) and sh/python subprocesses (the select step)

DATA, DEV, OTHER = "data-lake", "ml-dev-fraud", "ml-dev-churn"
LF = "aws_lakeformation_permissions"


def _edit_resource(stack: str, rtype: str, address: str, edit):
    def apply(tree: dict[str, bytes]) -> None:
        path = f"stacks/{stack}/cdk.tf.json"
        doc = json.loads(tree[path])
        edit(doc["resource"][rtype][address])
        tree[path] = json.dumps(doc).encode()

    return apply


def _all_columns(attrs: dict) -> None:
    t = attrs.pop("table_with_columns")
    attrs["table"] = {k: v for k, v in t.items() if k != "column_names"}
    attrs["permissions"] = attrs["permissions_with_grant_option"] = ["DESCRIBE", "SELECT"]


def _open_catalog(policy: dict) -> None:
    policy["Statement"].append(
        {"Sid": "AllOfGlue", "Effect": "Allow", "Action": ["glue:GetTable"], "Resource": "arn:aws:glue:*:*:table/*/*"}
    )


# (tree edit, text the new failure lines must contain)
# The data scientist granted UpdateModelPackage (its CannotApprove deny dropped).
_DS_APPROVES = _policy_edit(
    DEV,
    "aws_iam_role_policy",
    "fraud_data_scientist",
    "policy",
    lambda p: (
        p["Statement"].append(
            {
                "Sid": "Approve",
                "Effect": "Allow",
                "Action": ["sagemaker:UpdateModelPackage"],
                "Resource": "arn:aws:sagemaker:*:*:model-package/*",
            }
        )
        or drop("CannotApprove")(p)
    ),
)


BROKEN = {
    "reader-misses-glue": (
        _policy_edit(DEV, "aws_iam_role_policy", "fraud_data_scientist", "policy", drop("ReadSharedCatalog")),
        "data: data scientist reads payments.transactions",
    ),
    "reader-misses-get-data-access": (
        _policy_edit(
            DEV, "aws_iam_role_policy", "fraud_sagemaker_execution", "policy", drop("LakeFormationDataAccess")
        ),
        "data: sagemaker execution queries",
    ),
    "reader-misses-workgroup": (
        _policy_edit(DEV, "aws_iam_role_policy", "fraud_lead_data_scientist", "policy", drop("AthenaTeamWorkgroup")),
        "data: lead data scientist queries",
    ),
    "lake-grant-missing": (
        _drop_resource(DATA, LF, "fraud__payments__transactions"),
        "data: the lake grants exactly what the spec names",
    ),
    "in-account-grant-missing": (
        _drop_resource(DEV, LF, "data_scientist__payments__transactions"),
        "data: data scientist reads exactly what was shared (Lake Formation)",
    ),
    "lake-grant-not-grantable": (
        _edit_resource(DATA, LF, "fraud__payments__transactions", lambda a: a.pop("permissions_with_grant_option")),
        "data: the lake grants with the grant option",
    ),
    "column-grant-widened": (
        _edit_resource(DATA, LF, "fraud__payments__cardholders__columns", _all_columns),
        "data: the lake grants exactly what the spec names",
    ),
    "lake-grants-another-account": (
        _edit_resource(DATA, LF, "fraud__payments__transactions", lambda a: a.update(principal="440000000005")),
        "data: the lake grants only to named teams",
    ),
    "lake-grants-the-other-team": (
        _edit_resource(DATA, LF, "fraud__payments__transactions", lambda a: a.update(principal="330000000004")),
        "data: team churn cannot read payments.transactions",
    ),
    "other-team-reads-all-of-glue": (
        _policy_edit(OTHER, "aws_iam_role_policy", "churn_data_scientist", "policy", _open_catalog),
        "data: team churn cannot read payments.transactions",
    ),
    "workgroup-not-enforced": (
        _edit_resource(
            DEV,
            "aws_athena_workgroup",
            "team",
            lambda a: a["configuration"].update(enforce_workgroup_configuration=False),
        ),
        "data: workgroup",
    ),
    # (with the gate SCP removed too: it denies deciding packages to all but the approvers)
    "data-scientist-may-approve": (
        lambda tree: (_DS_APPROVES(tree), no_gate_scp(tree)),
        "data: data scientist still cannot approve",
    ),
}


@pytest.fixture(scope="module")
def data_broken(bridge, default_world) -> dict[str, list[str]]:
    """New problem lines of each broken copy (fraud only), every copy in ONE batch."""
    return broken_lines(default_world, BROKEN, ["fraud"])


@pytest.mark.parametrize("seam", sorted(BROKEN))
def test_a_broken_data_copy_fails_at_its_step(data_broken, seam):
    # GIVEN the default tree with one seam of data access broken WHEN fraud's story is walked
    new = data_broken[seam]
    # THEN the data step breaks, naming the step
    assert new, f"breaking {seam} went unnoticed"
    assert any(BROKEN[seam][1] in line for line in new), new


def test_the_default_spec_shares_and_walks_data(default_world):
    # The default spec exercises the data step: fraud reads a table and two columns, churn a
    # feature group, each through both grants and its IAM.
    journey = Journey(default_world)
    steps = {c.step for c in journey.contracts}
    assert "[fraud] data: data scientist reads payments.cardholders" in steps
    assert "[churn] data: data scientist reads nwa_feature_store.customer_activity" in steps
    assert "[fraud] data: team churn cannot read payments.transactions" in steps


def test_a_column_grant_in_any_order_walks(bridge, render_spec):
    # GIVEN the default spec with fraud's column grant listed out of alphabetical order
    from mlgov.spec.located import load_yaml
    from mlgov.validation import parse_spec
    from tests.conftest import ROOT

    text = (ROOT / "org.yaml").read_text()
    assert "columns: [card_id, country]" in text
    text = text.replace("columns: [card_id, country]", "columns: [country, card_id]")
    spec = parse_spec(load_yaml(text, "org.yaml"))
    # WHEN fraud's story is walked THEN the granted columns compare as sets: nothing breaks
    (lines,) = lines_of([Journey(World(spec, render_spec(text)), ["fraud"])])
    assert lines == []
