"""synth and plan write only where mlgov wrote before: foreign files, .git/, symlinks out of
the directory, `--out .`, CDKTF_OUTDIR and `plan`'s workspaces are never replaced or removed."""

from __future__ import annotations

import os

import pytest
from click.testing import CliRunner

from mlgov.cli import cli
from mlgov.review import plan as planning
from mlgov.synth import outdir
from mlgov.synth import tree as synthesis
from mlgov.synth.tree import read_tree, write_tree
from tests.conftest import ROOT

TREE = {"manifest.json": b"{}\n", "mlgov-manifest.json": b'{"order": ["a"]}\n', "stacks/a/cdk.tf.json": b"{}\n"}


def snapshot(root):
    """Every entry under root with its bytes (files) or target (symlinks), symlinks not followed."""
    found = {}
    for base, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(base, name)
            rel = os.path.relpath(path, root)
            if os.path.islink(path):
                found[rel] = ("link", os.readlink(path))
            elif os.path.isfile(path):
                with open(path, "rb") as handle:
                    found[rel] = ("file", handle.read())
            else:
                found[rel] = ("dir", None)
    return found


def checkout_like(root):
    """A directory that looks like somebody's work: a file, a .git/ folder, a README."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "important.txt").write_text("do not lose me\n")
    (root / ".git" / "objects").mkdir(parents=True)
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    return root


@pytest.fixture
def fake_render(monkeypatch, tree):
    """`synth` renders the default spec's tree without synthesizing again."""
    monkeypatch.setattr(
        synthesis, "render", lambda spec, jobs=None, progress=None, cache=None, warm=None: (dict(tree), [])
    )


def run_synth(*args, env=None):
    return CliRunner().invoke(cli, ["synth", str(ROOT / "org.yaml"), *args], env=env)


def test_foreign_directory_is_refused_and_untouched(tmp_path):
    # GIVEN a directory with a foreign file and a .git/ folder
    out = checkout_like(tmp_path / "work")
    before = snapshot(out)
    # WHEN mlgov is asked to write there THEN it refuses and nothing changed
    with pytest.raises(outdir.UnsafeOutput, match="holds files mlgov did not write"):
        write_tree(TREE, out)
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work"]  # no staging directory left


def test_cli_synth_out_foreign_dir_exits_2_with_one_line(tmp_path, fake_render):
    out = checkout_like(tmp_path / "work")
    before = snapshot(out)
    result = run_synth("--out", str(out))
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: refusing to write into {out}: it holds files mlgov"), lines
    assert snapshot(out) == before


def test_cli_synth_out_dot_in_a_checkout(tmp_path, fake_render, monkeypatch):
    checkout = checkout_like(tmp_path / "repo")
    (checkout / "org.yaml").write_bytes((ROOT / "org.yaml").read_bytes())
    before = snapshot(checkout)
    monkeypatch.chdir(checkout)
    result = CliRunner().invoke(cli, ["synth", "org.yaml", "--out", "."])
    assert result.exit_code == 2 and "refusing to write into" in result.output
    assert snapshot(checkout) == before


def test_cdktf_outdir_pointing_at_a_foreign_dir(tmp_path, fake_render):
    home = checkout_like(tmp_path / "home")
    before = snapshot(home)
    result = run_synth(env={"CDKTF_OUTDIR": str(home)})
    assert result.exit_code == 2 and "refusing to write into" in result.output
    assert snapshot(home) == before
    # --check does not read (or judge) a foreign directory either
    result = run_synth("--check", env={"CDKTF_OUTDIR": str(home)})
    assert result.exit_code == 2 and "refusing to write into" in result.output


def test_empty_and_new_directories_are_written(tmp_path, fake_render, tree):
    (tmp_path / "empty").mkdir()
    for out in (tmp_path / "empty", tmp_path / "new" / "deeper"):
        result = run_synth("--out", str(out))
        assert result.exit_code == 0, result.output
        assert read_tree(out) == tree
        assert run_synth("--out", str(out), "--check").exit_code == 0


def test_foreign_files_inside_an_mlgov_dir_are_kept_and_only_recorded_files_removed(tmp_path):
    # GIVEN a directory mlgov wrote, into which somebody put a README, a .git/ and a note in a stack dir
    out = tmp_path / "generated"
    write_tree(TREE, out)
    (out / "README.md").write_text("mine\n")
    (out / ".git").mkdir()
    (out / ".git" / "HEAD").write_text("ref\n")
    (out / "stacks" / "a" / "notes.txt").write_text("mine too\n")
    # WHEN the next synth drops stack a and adds b
    new = {"manifest.json": b"{}\n", "mlgov-manifest.json": b'{"order": ["b"]}\n', "stacks/b/cdk.tf.json": b"{}\n"}
    assert write_tree(new, out) is True
    # THEN a's generated file is gone, every foreign file stays, the marker lists exactly the new files
    files = read_tree(out)
    assert "stacks/a/cdk.tf.json" not in files and files["stacks/b/cdk.tf.json"] == b"{}\n"
    assert files["README.md"] == b"mine\n" and files[".git/HEAD"] == b"ref\n"
    assert files["stacks/a/notes.txt"] == b"mine too\n"
    assert files[outdir.MARKER] == outdir.marker_bytes(list(new))


def test_generated_file_replaced_by_a_foreign_file_is_refused(tmp_path):
    out = tmp_path / "generated"
    write_tree(TREE, out)
    (out / "stacks" / "b").mkdir()
    (out / "stacks" / "b" / "cdk.tf.json").write_text("hand written\n")
    with pytest.raises(
        outdir.UnsafeOutput, match=r"refusing to overwrite .*stacks/b/cdk\.tf\.json: mlgov did not write it"
    ):
        write_tree({**TREE, "stacks/b/cdk.tf.json": b"{}\n"}, out)
    assert (out / "stacks" / "b" / "cdk.tf.json").read_text() == "hand written\n"


def test_symlink_pointing_out_of_the_directory_is_never_written_through(tmp_path):
    # GIVEN an mlgov directory whose stack folder was replaced by a symlink to somewhere else
    outside = checkout_like(tmp_path / "outside")
    before = snapshot(outside)
    out = tmp_path / "generated"
    write_tree(TREE, out)
    (out / "stacks" / "a" / "cdk.tf.json").unlink()
    (out / "stacks" / "a").rmdir()
    (out / "stacks" / "a").symlink_to(outside, target_is_directory=True)
    (out / "linked.txt").symlink_to(outside / "important.txt")
    # WHEN synth writes stack a again THEN it refuses; nothing outside changed, the links stay
    with pytest.raises(outdir.UnsafeOutput, match="is a symlink"):
        write_tree(TREE, out)
    assert snapshot(outside) == before
    assert (out / "stacks" / "a").is_symlink() and (out / "linked.txt").is_symlink()
    # AND a write that does not go through the link keeps it (foreign) and removes nothing outside
    write_tree({"manifest.json": b"2\n"}, out)
    assert snapshot(outside) == before and (out / "linked.txt").is_symlink()


def test_symlinked_generated_file_is_refused(tmp_path):
    outside = tmp_path / "secret.txt"
    outside.write_text("keep\n")
    out = tmp_path / "generated"
    write_tree(TREE, out)
    (out / "manifest.json").unlink()
    (out / "manifest.json").symlink_to(outside)
    with pytest.raises(outdir.UnsafeOutput, match="is a symlink"):
        write_tree(TREE, out)
    assert outside.read_text() == "keep\n"


def test_tree_written_before_the_marker_is_recognised_by_its_manifest(tmp_path):
    # GIVEN a generated/ as mlgov wrote it before the marker existed (the manifest names its stacks)
    out = tmp_path / "generated"
    for rel, data in TREE.items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_bytes(data)
    (out / "important.txt").write_text("mine\n")
    # WHEN synth writes THEN the legacy files are replaced and the foreign one stays
    assert write_tree({"manifest.json": b"2\n"}, out)
    assert read_tree(out) == {
        "manifest.json": b"2\n",
        "important.txt": b"mine\n",
        outdir.MARKER: outdir.marker_bytes(["manifest.json"]),
    }


def test_committed_generated_tree_carries_its_marker(tree):
    # The marker is part of the rendered tree, so `synth --check` compares it like any file.
    assert tree[outdir.MARKER] == outdir.marker_bytes(list(tree))
    assert read_tree(ROOT / "generated")[outdir.MARKER] == tree[outdir.MARKER]


def test_plan_refuses_a_foreign_out_dir_and_foreign_stack_dirs(tmp_path):
    stacks = {"management": ROOT / "generated" / "stacks" / "management"}
    # a checkout-like --out
    out = checkout_like(tmp_path / "repo")
    before = snapshot(out)
    with pytest.raises(outdir.UnsafeOutput, match="refusing to plan into"):
        planning.run_plans(stacks, out, offline=True, jobs=1, plan_one=lambda *a: None)
    assert snapshot(out) == before
    # an mlgov plans dir whose <out>/<stack> holds a foreign file
    plans = tmp_path / "plans"
    plans.mkdir()
    (plans / planning.OUT_MARKER).write_text("x\n")
    (plans / "management").mkdir()
    (plans / "management" / "notes.txt").write_text("mine\n")
    with pytest.raises(outdir.UnsafeOutput, match="management: it holds files mlgov did not write"):
        planning.run_plans(stacks, plans, offline=True, jobs=1, plan_one=lambda *a: None)
    assert (plans / "management" / "notes.txt").read_text() == "mine\n"


def test_cli_plan_foreign_out_exits_2(tmp_path):
    out = checkout_like(tmp_path / "repo")
    before = snapshot(out)
    result = CliRunner().invoke(
        cli, ["plan", "--offline", "--out", str(out), "--stacks-dir", str(ROOT / "generated" / "stacks")]
    )
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines()[-1].startswith(f"error: refusing to plan into {out}")
    assert snapshot(out) == before


def test_plan_workspace_is_cleared_of_its_own_entries_only(tmp_path):
    workdir = tmp_path / "plans" / "management"
    planning._record_workspace(workdir, ["cdk.tf.json", ".terraform"])
    (workdir / "cdk.tf.json").write_text("{}")
    (workdir / ".terraform").mkdir()
    (workdir / ".terraform" / "x").write_text("x")
    planning.clear_workspace(workdir)
    assert list(workdir.iterdir()) == []
