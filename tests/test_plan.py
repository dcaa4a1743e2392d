"""`plan`: real terraform over every generated stack, offline, in parallel; failures named."""

from __future__ import annotations

import io
import json
import shutil

import pytest
from click.testing import CliRunner

from mlgov.cli import cli
from mlgov.review import plan as planning
from tests.conftest import ROOT

GENERATED = ROOT / "generated" / "stacks"


@pytest.mark.terraform
def test_offline_plan_of_every_default_stack(default_plans):
    # GIVEN the committed stacks WHEN planned offline, two at a time (the session's one plan run,
    # tests/conftest.py: `plan --offline --jobs 2` through the CLI)
    result, out = default_plans.result, default_plans.out
    assert result.exit_code == 0, result.output
    stacks = sorted(p.name for p in GENERATED.iterdir())
    assert stacks == default_plans.stacks
    # THEN every stack has plan JSON that creates exactly its declared resources
    for name in stacks:
        planned = json.loads((out / name / planning.PLAN_JSON).read_text())
        declared = json.loads((GENERATED / name / "cdk.tf.json").read_text())["resource"]
        creates = [c for c in planned["resource_changes"] if c["change"]["actions"] == ["create"]]
        assert len(creates) == sum(len(v) for v in declared.values())
        assert (out / name / planning.PLAN_FILE).is_file()
        # and the progress (plain lines: not a terminal) reported the stack done
        assert any(line.startswith(name + " ") and " ok " in line for line in result.output.splitlines())
    assert f"{len(stacks)}/{len(stacks)} stacks planned" in result.output


@pytest.mark.terraform
def test_failed_stack_is_named_with_terraforms_error(tf_cli_config, tmp_path, monkeypatch):
    # GIVEN one good stack and one whose configuration terraform rejects, and a relative --out
    # (like the default `plans/`; terraform runs in other directories)
    monkeypatch.chdir(tmp_path)
    stacks = tmp_path / "stacks"
    shutil.copytree(GENERATED / "management", stacks / "management")
    broken = stacks / "zz-broken"
    shutil.copytree(GENERATED / "management", broken)
    doc = json.loads((broken / "cdk.tf.json").read_text())
    doc["resource"]["aws_s3_bucket"]["platform"]["no_such_argument"] = True
    (broken / "cdk.tf.json").write_text(json.dumps(doc))
    # WHEN both are planned
    result = CliRunner().invoke(cli, ["plan", "--offline", "--out", "plans", "--stacks-dir", str(stacks)])
    # THEN exit 1, the broken stack is named with terraform's own error, the good one still planned
    assert result.exit_code == 1
    assert "stack zz-broken failed: terraform plan failed:" in result.output
    assert "Error: " in result.output and '"no_such_argument"' in result.output
    assert "failed: zz-broken" in result.output
    assert (tmp_path / "plans" / "management" / planning.PLAN_JSON).is_file()


def test_unknown_stack_is_bad_input(tmp_path):
    result = CliRunner().invoke(
        cli, ["plan", "--stack", "nope", "--stacks-dir", str(GENERATED), "--out", str(tmp_path)]
    )
    assert result.exit_code == 2 and "unknown stack(s) nope" in result.output


def test_progress_plain_lines_on_change_and_live_redraw():
    runs = [planning.StackRun("a"), planning.StackRun("b")]
    plain = io.StringIO()
    progress = planning.Progress(runs, plain, live=False)
    runs[0].status, runs[0].started = "plan", 0.0
    progress.update()
    progress.update()  # no change: no new line
    runs[0].status, runs[0].ended = "ok", 1.0
    runs[0].changes = {"create": 3, "update": 1, "replace": 0, "delete": 2}
    progress.update()
    lines = plain.getvalue().splitlines()
    assert len(lines) == 2 and lines[0].split()[:2] == ["a", "plan"]
    assert lines[1].split()[:2] == ["a", "ok"] and lines[1].endswith("+3 ~1 ±0 -2")
    live = io.StringIO()
    progress = planning.Progress(runs, live, live=True)
    progress.update()
    progress.update()
    text = live.getvalue()
    assert text.count("\x1b[2F") == 1 and text.count("\x1b[2K") == 4 and "b" in text and "queued" in text
