"""`summarize` on REAL plan JSON: terraform + the AWS provider plan spec changes offline.

How update/replace/delete plans are obtained without AWS (see tests/offline_apply.py): the
first plan of the default spec (all creates) is "applied" offline by writing the state an
apply would leave (Terraform's state format, placeholders for apply-time values), converged
until Terraform plans no change (once per session, shared with tests/test_transitions.py).
Each scenario then plans a changed spec's stacks against that state with ``-refresh=false``;
a stack that left the spec gets ``plan -destroy``. Every action in the goldens was decided by
Terraform, not by this test.

Goldens: tests/cases/summarize/<scenario>.md; regenerate with MLGOV_UPDATE_GOLDEN=1 after
the stacks' content changes (they are real plans of real stacks).
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor

import pytest
import yaml

from mlgov.review import summary
from tests.conftest import CASES, ROOT
from tests.offline_apply import plan_json

GOLDEN = CASES / "summarize"
UPDATE = os.environ.get("MLGOV_UPDATE_GOLDEN") == "1"
# An unchanged stack (shows the collapsed no-change line) and the team stack the edits touch.
PLANNED = ("management", "ml-dev-churn")


def _add_model_group(data):
    governance = data["teams"]["churn"].setdefault("governance", {})
    governance["model_package_groups"] = ["models", "forecasting"]


def _edit_org_name(data):
    data["organization"]["name"] = "nwan"
    # Released copies are keyed by the organization's name (released/<name>/ beside the spec;
    # mlgov's own serve only nwa): under the new name nothing is released yet.
    for portfolio in data["service_catalog"]["portfolios"].values():
        for product in portfolio["products"].values():
            for version in product["versions"]:
                version.pop("frozen", None)


def _remove_team(data):
    del data["teams"]["churn"]
    del data["accounts"]["ml-dev-churn"]
    data["data"]["grants"].pop("churn", None)  # its grants go with it


EDITS = {
    # The churn team gets a second model package group: its persona and forwarder IAM
    # policies and its approval rule are updated in place, the new group is created.
    "policy-update": _add_model_group,
    # A new organization slug renames every bucket and KMS alias: replacements everywhere.
    "replace": _edit_org_name,
    # The churn team and its dev account leave the spec: the stack's resources are destroyed.
    "delete-team": _remove_team,
}


def _stack_files(tree, name):
    prefix = f"stacks/{name}/"
    return {rel[len(prefix) :]: data for rel, data in tree.items() if rel.startswith(prefix)}


def _accounts(*trees):
    found = {}
    for tree in trees:
        for stack in json.loads(tree["mlgov-manifest.json"])["stacks"]:
            found[stack["name"]] = stack
    return {"stacks": list(found.values())}


@pytest.fixture(scope="module")
def scenario_plans(tree, render_spec, offline_applied):
    """{scenario: reports} from real offline plans of PLANNED stacks, against the session's
    offline-applied states (tests/conftest.py; tests/test_transitions.py plans against them too)."""
    data = yaml.safe_load((ROOT / "org.yaml").read_text())
    trees = {"first-apply": tree, "no-op": tree}
    for name, edit in EDITS.items():
        changed = json.loads(json.dumps(data))
        edit(changed)
        trees[name] = render_spec(yaml.safe_dump(changed, sort_keys=False), f"<{name}>")
    applied = offline_applied(*PLANNED)

    def run(stack):
        ws = applied[stack].ws
        # the first plan (no state: all creates) and the one after the offline apply (no change)
        plans = {"first-apply": applied[stack].first, "no-op": applied[stack].settled}
        base_config = (ws.workdir / "cdk.tf.json").read_bytes()
        assert base_config == _stack_files(tree, stack)["cdk.tf.json"], f"generated/stacks/{stack} is stale"
        try:
            for scenario in EDITS:
                files = _stack_files(trees[scenario], stack)
                if not files:
                    plans[scenario] = plan_json(ws, "-destroy")
                elif files["cdk.tf.json"] == base_config:
                    plans[scenario] = plans["no-op"]  # same config, same state: the same plan
                else:
                    (ws.workdir / "cdk.tf.json").write_bytes(files["cdk.tf.json"])
                    plans[scenario] = plan_json(ws)
                    (ws.workdir / "cdk.tf.json").write_bytes(base_config)
        finally:
            (ws.workdir / "cdk.tf.json").write_bytes(base_config)
        return stack, plans

    with ThreadPoolExecutor(max_workers=len(PLANNED)) as pool:
        results = dict(pool.map(run, PLANNED))
    out = {}
    for scenario in trees:
        manifest = _accounts(tree, trees[scenario])
        accounts = {s["name"]: f"{s['account']} ({s['account_id']})" for s in manifest["stacks"]}
        reports = [summary.stack_report(stack, results[stack][scenario], accounts[stack]) for stack in PLANNED]
        out[scenario] = reports
    return out


def _check_golden(name, text):
    path = GOLDEN / f"{name}.md"
    if UPDATE:
        path.write_text(text)
    assert path.is_file(), f"no golden {path}; run with MLGOV_UPDATE_GOLDEN=1"
    assert text == path.read_text()


pytestmark = pytest.mark.terraform


def test_first_apply_is_all_creates(scenario_plans):
    # GIVEN the default spec planned with no prior state
    reports = scenario_plans["first-apply"]
    # THEN only creates, no warning, and the policy-bearing resources are called out
    totals = summary.totals(reports)
    assert totals["create"] > 0 and totals["update"] == totals["replace"] == totals["delete"] == 0
    text = summary.markdown(reports)
    assert "[!CAUTION]" not in text
    assert "| `ml-dev-churn` | create | `aws_kms_key.platform` | KMS key policy |" in text
    _check_golden("first-apply", text)


def test_no_op_collapses_every_stack_into_one_line(scenario_plans):
    reports = scenario_plans["no-op"]
    text = summary.markdown(reports)
    assert all(not r.changes for r in reports)
    assert "No changes: `management`, `ml-dev-churn`." in text
    _check_golden("no-op", text)


def test_policy_update_is_security_relevant(scenario_plans):
    # GIVEN the churn team got a second model package group
    reports = {r.name: r for r in scenario_plans["policy-update"]}
    changes = reports["ml-dev-churn"].changes
    # THEN terraform updates the team's IAM policies in place and creates the new group,
    # nothing is destroyed, and the summary lists every policy update as security-relevant
    updated = [c for c in changes if c.action == "update" and c.address.startswith("aws_iam_role_policy.")]
    assert updated and all(c.security == "IAM policy" and "policy" in c.attributes for c in updated)
    assert any(c.action == "create" and c.address.startswith("aws_sagemaker_model_package_group.") for c in changes)
    assert not [c for c in changes if c.action in ("delete", "replace")]
    assert not reports["management"].changes
    text = summary.markdown(list(reports.values()))
    assert "[!CAUTION]" not in text
    for c in updated:
        assert f"| `ml-dev-churn` | update | `{c.address}` | IAM policy (changes `policy`) |" in text
    _check_golden("policy-update", text)


def test_replacement_is_warned_first(scenario_plans):
    reports = scenario_plans["replace"]
    text = summary.markdown(reports)
    replaced = [c for r in reports for c in r.changes if c.action == "replace"]
    assert any(c.address == "aws_s3_bucket.platform" and "bucket" in c.attributes for c in replaced)
    # The warning comes before every other section and names each replaced resource.
    assert text.index("[!CAUTION]") < text.index("### ")
    for c in replaced:
        assert f"**REPLACE** `{c.address}` in `{c.stack}`" in text
    _check_golden("replace", text)


def test_deleted_team_is_flagged(scenario_plans):
    reports = scenario_plans["delete-team"]
    deleted = [c for r in reports for c in r.changes if c.action == "delete"]
    assert {c.stack for c in deleted} == {"ml-dev-churn"}
    assert "aws_s3_bucket.platform" in {c.address for c in deleted}
    text = summary.markdown(reports)
    assert f"**{len(deleted)} resources will be DESTROYED" in text
    for c in deleted:
        assert f"**DELETE** `{c.address}` in `ml-dev-churn`" in text
    _check_golden("delete-team", text)
