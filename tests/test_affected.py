"""`mlgov affected` and `plan --changed-since`'s selection, on a small git repository.

The generated tree here is hand-made (no synthesis): what is under test is the comparison
of a ref's tree with the working tree, the ranks from the manifest, and the CLI forms.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlgov.cli import cli
from mlgov.errors import MlgovError
from mlgov.platform.manifest import stack_ranks
from mlgov.review import affected as affecting


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def manifest(stacks: dict[str, list[str]]) -> bytes:
    docs = [
        {
            "name": n,
            "account": n,
            "account_id": f"1{i:011d}",
            "region": "eu-west-1",
            "depends_on": d,
            "role_arn": f"arn:aws:iam::1{i:011d}:role/mlgov-terraform",
        }
        for i, (n, d) in enumerate(stacks.items())
    ]
    return json.dumps({"version": 1, "order": list(stacks), "stacks": docs}).encode()


def write(root: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository whose committed generated/ has four stacks over three ranks."""
    gen = tmp_path / "generated"
    write(
        gen,
        {
            "mlgov-manifest.json": manifest({"mgmt": [], "hub": ["mgmt"], "dev-a": ["hub"], "dev-b": ["hub"]}),
            "stacks/mgmt/cdk.tf.json": b'{"m": 1}',
            "stacks/hub/cdk.tf.json": b'{"h": 1}',
            "stacks/hub/assets/fn.zip": b"zip-1",
            "stacks/dev-a/cdk.tf.json": b'{"a": 1}',
            "stacks/dev-b/cdk.tf.json": b'{"b": 1}',
            "products/p/v1.yaml": b"v1",
        },
    )
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "base")
    return tmp_path


@pytest.mark.slow  # starts git
def test_nothing_changed(repo: Path) -> None:
    found = affecting.affected(repo / "generated", "HEAD")
    assert found.stacks == []
    assert found.unchanged == ["dev-a", "dev-b", "hub", "mgmt"]


@pytest.mark.slow  # starts git
def test_changed_added_removed_with_ranks(repo: Path) -> None:
    gen = repo / "generated"
    write(
        gen,
        {
            "mlgov-manifest.json": manifest({"mgmt": [], "hub": ["mgmt"], "dev-a": ["hub"], "dev-c": ["hub"]}),
            "stacks/hub/assets/fn.zip": b"zip-2",  # an asset alone makes the stack affected
            "stacks/dev-c/cdk.tf.json": b'{"c": 1}',
            "products/p/v2.yaml": b"v2",  # outside stacks/: no stack by itself
        },
    )
    (gen / "stacks/dev-b/cdk.tf.json").unlink()
    (gen / "stacks/dev-b").rmdir()
    found = affecting.affected(gen, "HEAD")
    got = [(s.name, s.status, s.rank, s.files) for s in found.stacks]
    assert got == [
        ("hub", "changed", 1, ("stacks/hub/assets/fn.zip",)),
        ("dev-b", "removed", 2, ("stacks/dev-b/cdk.tf.json",)),
        ("dev-c", "added", 2, ("stacks/dev-c/cdk.tf.json",)),
    ]
    assert found.names("removed") == ["dev-b"]
    assert found.unchanged == ["dev-a", "mgmt"]
    assert found.other_files == ["mlgov-manifest.json", "products/p/v2.yaml"]
    removed = next(s for s in found.stacks if s.destroy)
    assert removed.account_id and removed.depends_on == ("hub",)  # from the ref's manifest

    out = affecting.materialize_removed(gen, found, "dev-b", repo / "tmp")
    assert (out / "cdk.tf.json").read_bytes() == b'{"b": 1}'


@pytest.mark.slow  # starts git
def test_committed_changes_count_too(repo: Path) -> None:
    write(repo / "generated", {"stacks/mgmt/cdk.tf.json": b'{"m": 2}'})
    git(repo, "commit", "-q", "-am", "change mgmt")
    assert affecting.affected(repo / "generated", "HEAD~1").names() == ["mgmt"]
    assert affecting.affected(repo / "generated", "HEAD").names() == []


@pytest.mark.slow  # starts git
def test_unknown_ref_is_one_clear_error(repo: Path) -> None:
    with pytest.raises(MlgovError, match="no-such-ref: not a commit"):
        affecting.affected(repo / "generated", "no-such-ref")


def test_the_plan_role_comes_from_the_manifest(default_spec) -> None:
    # GIVEN the synthesized manifest THEN each stack names its account's plan role, which affected passes on
    from mlgov.platform.manifest import manifest as manifest_of

    (entry, *_) = manifest_of(default_spec)["stacks"]
    assert entry["plan_role_arn"] == f"arn:aws:iam::{entry['account_id']}:role/mlgov-terraform-plan"
    assert affecting._plan_role_arn(entry) == entry["plan_role_arn"]
    assert (
        affecting._plan_role_arn({**entry, "plan_role_arn": "arn:aws:iam::1:role/other"}) == "arn:aws:iam::1:role/other"
    )
    assert affecting._plan_role_arn({}) == ""


def test_rank_cycle_is_reported() -> None:
    with pytest.raises(MlgovError, match="cycle"):
        stack_ranks({"stacks": [{"name": "a", "depends_on": ["b"]}, {"name": "b", "depends_on": ["a"]}]})


@pytest.mark.slow  # starts git
def test_cli_json_and_text(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(repo / "generated", {"stacks/dev-a/cdk.tf.json": b'{"a": 2}'})
    monkeypatch.chdir(repo)
    result = CliRunner().invoke(cli, ["affected", "--since", "HEAD", "--format", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["plan"] == ["dev-a"] and doc["destroy"] == [] and doc["ranks"] == [2]
    assert doc["stacks"][0]["role_arn"].endswith(":role/mlgov-terraform")
    # (this manifest predates the plan role: its name follows the Terraform role's)
    assert doc["stacks"][0]["plan_role_arn"] == doc["stacks"][0]["role_arn"] + "-plan"
    text = CliRunner().invoke(cli, ["affected", "--since", "HEAD"]).output
    assert text.splitlines()[0].split() == ["changed", "rank", "2", "dev-a"]
    bad = CliRunner().invoke(cli, ["affected", "--since", "nope"])
    assert bad.exit_code == 2 and "nope: not a commit" in bad.output


def test_summarize_reports_unplanned_in_one_line(tmp_path: Path) -> None:
    selection = {"unchanged": ["dev-a", "mgmt"], "destroy": ["dev-b"], "plan": []}
    (tmp_path / affecting.AFFECTED_FILE).write_text(json.dumps(selection))
    plan_dir = tmp_path / "hub"
    plan_dir.mkdir()
    (plan_dir / "plan.json").write_text(json.dumps({"resource_changes": []}))
    result = CliRunner().invoke(cli, ["summarize", str(plan_dir / "plan.json"), "--manifest", "/nonexistent"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if "not planned" in line]
    assert lines == ["No configuration change, not planned (2 stacks): `dev-a`, `mgmt`."]
    assert "**Left the spec, planned as destroys:** `dev-b`." in result.output
    doc = json.loads(CliRunner().invoke(cli, ["summarize", "--format", "json", str(plan_dir / "plan.json")]).output)
    assert doc["unplanned"] == ["dev-a", "mgmt"] and doc["removed"] == ["dev-b"]


@pytest.mark.slow  # starts git
def test_plan_changed_since_rejects_all(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(repo)
    result = CliRunner().invoke(cli, ["plan", "--changed-since", "HEAD", "--all"])
    assert result.exit_code == 2 and "--changed-since" in result.output
    result = CliRunner().invoke(cli, ["plan", "--changed-since", "HEAD", "--stack", "hub"])
    assert result.exit_code == 2 and "--stack hub: no configuration change since HEAD" in result.output
