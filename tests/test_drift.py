"""`plan --detailed-exitcode`, what the scheduled drift jobs run: real terraform decides whether a
stack's plan holds changes, against a state an apply of the committed configuration left.

The state comes from the session's offline apply (tests/offline_apply.py, shared with
test_summarize and test_transitions). An offline plan cannot refresh, so a change made outside
Terraform is written into the state the way a refresh would have read it back.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from mlgov.cli import cli
from mlgov.cli.common import EXIT_CHANGES
from mlgov.review import plan as planning
from tests.conftest import ROOT

GENERATED = ROOT / "generated" / "stacks"
STACK = "ml-dev-churn"  # applied offline by test_transitions too: the session applies it once
EDITED = "edited-outside-terraform"


def _tagged(state: dict) -> tuple[str, dict]:
    """The first managed resource instance of ``state`` with tags of its own: (address, attributes)."""
    for resource in state["resources"]:
        for instance in resource["instances"]:
            if resource["mode"] == "managed" and instance["attributes"].get("tags"):
                return f"{resource['type']}.{resource['name']}", instance["attributes"]
    raise AssertionError("no tagged resource in the state")


def _plan(states, out) -> object:
    args = ["plan", "--offline", "--detailed-exitcode", "--stack", STACK, "--jobs", "1"]
    args += ["--stacks-dir", str(GENERATED), "--state-dir", str(states), "--out", str(out)]
    return CliRunner().invoke(cli, args)


@pytest.mark.slow
@pytest.mark.terraform
def test_detailed_exitcode_is_0_in_step_and_4_on_drift(offline_applied, tmp_path):
    # GIVEN the state an apply of the committed ml-dev-churn stack left, with its outputs (the
    # offline apply records resources only; a real apply also records the outputs' values)
    applied = offline_applied(STACK)[STACK]
    state = json.loads((applied.ws.workdir / "terraform.tfstate").read_text())
    state["outputs"] = applied.settled["planned_values"].get("outputs", {})
    states = tmp_path / "states"
    states.mkdir()
    (states / f"{STACK}.tfstate").write_text(json.dumps(state))
    # WHEN planned with --detailed-exitcode THEN exit 0: terraform found nothing to change
    clean = _plan(states, tmp_path / "clean")
    assert clean.exit_code == 0, clean.output
    assert "no changes" in clean.output.splitlines()
    # GIVEN one resource's tag changed outside Terraform (as a refresh records it)
    address, attributes = _tagged(state)
    key = sorted(attributes["tags"])[0]
    attributes["tags"][key] = attributes["tags_all"][key] = EDITED
    (states / f"{STACK}.tfstate").write_text(json.dumps(state))
    # WHEN planned again THEN exit 4, the stack named, and its plan updates that resource back
    drifted = _plan(states, tmp_path / "drifted")
    assert drifted.exit_code == EXIT_CHANGES, drifted.output
    assert f"changes: {STACK}" in drifted.output.splitlines()
    plan = json.loads((tmp_path / "drifted" / STACK / planning.PLAN_JSON).read_text())
    updates = [c["address"] for c in plan["resource_changes"] if c["change"]["actions"] == ["update"]]
    assert updates == [address]


def test_refresh_needs_a_real_plan(tmp_path):
    # GIVEN --refresh (read the live resources) with --offline (dummy credentials) THEN one line, exit 2
    result = CliRunner().invoke(
        cli, ["plan", "--offline", "--refresh", "--stacks-dir", str(GENERATED), "--out", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert result.output == "error: --refresh reads every resource from AWS: it needs a real plan (got --offline)\n"


def test_only_a_drift_plan_refreshes(tmp_path, monkeypatch):
    # GIVEN a workspace whose terraform calls are recorded instead of run
    from mlgov.review import terraform

    calls = []
    monkeypatch.setattr(terraform.Workspace, "run", lambda self, *args, **kw: calls.append(args))
    ws = terraform.Workspace(GENERATED / STACK, tmp_path / "ws", tmp_path / "terraformrc")
    # WHEN a review plan and a drift plan are asked for
    ws.plan("p", detailed=True)
    ws.plan("p", refresh=True, detailed=True)
    # THEN only the drift plan reads the live resources; both let terraform say whether anything changes
    review, drift = calls
    assert "-refresh=false" in review and "-refresh=false" not in drift
    assert "-detailed-exitcode" in review and "-detailed-exitcode" in drift
