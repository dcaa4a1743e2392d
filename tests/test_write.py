"""The generated-tree writer: atomic swap, stale files removed, check/diff contract."""

from __future__ import annotations

import contextlib
from pathlib import Path

from mlgov.synth.outdir import with_marker
from mlgov.synth.tree import compare, read_tree, unified_diff, write_tree


def test_write_replaces_everything_and_removes_stale_files(tmp_path):
    out = tmp_path / "generated"
    assert write_tree({"stacks/a/cdk.tf.json": b"{}\n", "manifest.json": b"1\n"}, out) is True
    assert write_tree({"stacks/b/cdk.tf.json": b"{}\n", "manifest.json": b"2\n"}, out) is True
    assert read_tree(out) == with_marker({"stacks/b/cdk.tf.json": b"{}\n", "manifest.json": b"2\n"})
    # no staging directories left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["generated"]


def test_unchanged_tree_is_not_rewritten(tmp_path):
    out = tmp_path / "generated"
    tree = {"manifest.json": b"1\n"}
    write_tree(tree, out)
    before = (out / "manifest.json").stat().st_mtime_ns
    assert write_tree(tree, out) is False
    assert (out / "manifest.json").stat().st_mtime_ns == before


def test_failed_write_leaves_previous_output(tmp_path, monkeypatch):
    out = tmp_path / "generated"
    write_tree({"manifest.json": b"old\n"}, out)

    def boom(*_a, **_k):
        raise OSError("disk full")

    monkeypatch.setattr(Path, "write_bytes", boom)
    with contextlib.suppress(OSError):
        write_tree({"manifest.json": b"new\n"}, out)
    monkeypatch.undo()
    assert read_tree(out) == with_marker({"manifest.json": b"old\n"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["generated"]


def test_compare_and_diff():
    drift = compare({"a": b"1\n", "b": b"2\n"}, {"b": b"3\n", "c": b"4\n"})
    assert (drift.added, drift.removed, drift.changed) == (["a"], ["c"], ["b"])
    assert drift.lines() == ["missing  a", "stale    c", "differs  b"]
    diff = unified_diff({"b": b"2\n"}, {"b": b"3\n"}, compare({"b": b"2\n"}, {"b": b"3\n"}), "generated")
    assert "-3\n" in diff and "+2\n" in diff
