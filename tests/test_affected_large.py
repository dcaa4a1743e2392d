"""A pull request against a generated 20-team org: exactly the changed team's stacks (and the
hub) are selected, and a removed team's stacks are planned as destroys.

Real synthesis of both specs into a temporary git repository (the base commit holds the
first generated tree, the working tree the second); the selection is read through the
`affected` command and `plan --changed-since`, and one removed stack is planned with real
terraform (a destroy of the base commit's copy).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from mlgov.cli import cli
from mlgov.review import affected as affecting
from mlgov.spec.large_org import large_org
from mlgov.spec.model import team_stack_name
from mlgov.synth.incremental import Cache
from mlgov.synth.tree import render, write_tree
from mlgov.validation import load_spec
from tests.conftest import require_tool

TEAMS = 20
CHANGED, REMOVED = "team-0003", f"team-{TEAMS:04d}"
pytestmark = pytest.mark.slow  # a synthesis of 62 stacks, then an incremental one


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def synth(doc: dict, repo: Path, cache: Cache) -> None:
    """Synthesize as a pull request's CI would, with the incremental cache (``synth --cache``):
    the second synthesis rebuilds only the changed team's stacks and the core ones."""
    spec_path = repo / "org.yaml"
    spec_path.write_text(yaml.safe_dump(doc, sort_keys=False))
    tree, _ = render(load_spec(spec_path), cache=cache)
    write_tree(tree, repo / "generated")


@pytest.fixture(scope="module")
def pull_request(tmp_path_factory) -> Path:
    """Base commit: the 20-team org. Working tree: one team's model groups changed, the last team removed."""
    repo = tmp_path_factory.mktemp("pr-repo")
    cache = Cache(tmp_path_factory.mktemp("synth-cache"))
    git(repo, "init", "-q", "-b", "main")
    doc = large_org(TEAMS)
    synth(doc, repo, cache)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    doc["teams"][CHANGED]["governance"] = {"model_package_groups": ["scoring", "pricing"]}
    del doc["teams"][REMOVED]
    for layer in ("dev", "test", "prod"):
        del doc["accounts"][f"ml-{layer}-{REMOVED}"]
    synth(doc, repo, cache)
    return repo


def test_exactly_the_changed_team_and_the_hub_are_affected(pull_request: Path, monkeypatch) -> None:
    monkeypatch.chdir(pull_request)
    result = CliRunner().invoke(cli, ["affected", "--since", "HEAD", "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    # Deployment order: the hub's core (rank 1) before the team's dev account and hub slice
    # (rank 2), before the team's slices of its test and prod accounts (rank 3). The core
    # stacks of its test and prod accounts hold nothing of the team's: not affected.
    assert doc["plan"] == ["ml-shared-services", f"ml-dev-{CHANGED}", *team_slices(CHANGED)]
    assert doc["destroy"] == [
        f"ml-dev-{REMOVED}",
        f"ml-prod-{REMOVED}",
        team_stack_name("ml-shared-services", REMOVED),
        f"ml-test-{REMOVED}",
        *team_slices(REMOVED)[1:],
    ]
    ranks = {s["name"]: s["rank"] for s in doc["stacks"]}
    assert ranks["ml-shared-services"] == 1
    assert all(
        rank == (3 if name.startswith(("ml-prod-", "ml-test-")) and "-team-team-" in name else 2)
        for name, rank in ranks.items()
        if name != "ml-shared-services"
    )
    assert all(s["destroy"] == (REMOVED in s["name"]) for s in doc["stacks"])
    stacks_now = 2 + 3 * (TEAMS - 1) + 3 * (TEAMS - 1)  # each team's three accounts and three slices
    assert len(doc["unchanged"]) == stacks_now - 5
    assert "management" in doc["unchanged"] and f"ml-dev-{CHANGED}" not in doc["unchanged"]
    assert f"ml-prod-{CHANGED}" in doc["unchanged"] and f"ml-test-{CHANGED}" in doc["unchanged"]


def team_slices(team: str) -> list[str]:
    """A team's slices, in deployment order: of the hub, then of its prod and test accounts."""
    return [
        team_stack_name("ml-shared-services", team),
        *(team_stack_name(f"ml-{s}-{team}", team) for s in ("prod", "test")),
    ]


@pytest.mark.terraform
def test_a_removed_stack_is_planned_as_a_destroy(pull_request: Path, monkeypatch, tmp_path: Path) -> None:
    require_tool("terraform")
    monkeypatch.chdir(pull_request)
    out = tmp_path / "plans"
    stack = f"ml-dev-{REMOVED}"
    assert not (pull_request / "generated" / "stacks" / stack).exists()
    result = CliRunner().invoke(
        cli, ["plan", "--changed-since", "HEAD", "--stack", stack, "--offline", "--jobs", "1", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "0 stack(s) to plan, 1 to destroy" in result.output and "(1 as destroys)" in result.output
    plan = json.loads((out / stack / "plan.json").read_text())
    # Offline there is no state: a destroy plan creates nothing (a plan of the stack would create ~50).
    assert not [c for c in plan.get("resource_changes", []) if "create" in c["change"]["actions"]]
    assert json.loads((out / affecting.AFFECTED_FILE).read_text())["destroy"] == [
        f"ml-dev-{REMOVED}",
        f"ml-prod-{REMOVED}",
        team_stack_name("ml-shared-services", REMOVED),
        f"ml-test-{REMOVED}",
        *team_slices(REMOVED)[1:],
    ]
    summary = CliRunner().invoke(cli, ["summarize", str(out / stack / "plan.json"), "--manifest", "/nonexistent"])
    assert summary.exit_code == 0, summary.output
    assert f"**Left the spec, planned as destroys:** `ml-dev-{REMOVED}`" in summary.output
    assert [line for line in summary.output.splitlines() if line.startswith("No configuration change")] == [
        line
        for line in summary.output.splitlines()
        if "not planned (111 stacks)" in line  # 116 stacks now, 5 affected
    ]
