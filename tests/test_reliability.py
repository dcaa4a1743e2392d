"""Reliability in fresh processes: byte-identical output under other hash seeds and a shuffled
spec, and a synth killed by a real signal (injected at a named point of the write path) leaves its output
directory entirely old or entirely new."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap

import pytest
import yaml

from mlgov.synth import outdir
from tests.conftest import ROOT

SEEDS = ("0", "1", "3141592653")
# Lists whose order carries no meaning (stages, by contrast, are an ordered path).
UNORDERED_LISTS = {("organization", "allowed_regions")}


def _shuffled(value, rng, path=()):
    if isinstance(value, dict):
        keys = list(value)
        rng.shuffle(keys)
        return {k: _shuffled(value[k], rng, (*path, k)) for k in keys}
    if isinstance(value, list):
        items = [_shuffled(v, rng, (*path, i)) for i, v in enumerate(value)]
        if path in UNORDERED_LISTS:
            rng.shuffle(items)
        return items
    return value


def _snapshot(out):
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_shuffled_spec_under_three_hash_seeds_matches_committed_output(tmp_path):
    # GIVEN org.yaml with every mapping (and every order-free list) shuffled
    data = yaml.safe_load((ROOT / "org.yaml").read_text())
    shuffled = _shuffled(data, random.Random(8))
    assert list(shuffled) != list(data) or list(shuffled["accounts"]) != list(data["accounts"])
    # (named org.yaml: the generated pipelines pass the spec's file name)
    spec = tmp_path / "org.yaml"
    spec.write_text(yaml.safe_dump(shuffled, sort_keys=False))
    # WHEN `synth --check` runs on it in fresh processes under three PYTHONHASHSEED values
    procs = {
        seed: subprocess.Popen(
            [sys.executable, "main.py", "synth", str(spec), "--check", "--out", "generated"],
            cwd=ROOT,
            env=dict(os.environ, PYTHONHASHSEED=seed),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed in SEEDS
    }
    # THEN each renders exactly the committed generated/ (exit 0, no drift)
    for seed, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=900)
        assert proc.returncode == 0, f"PYTHONHASHSEED={seed}: {stderr}"
        assert "is up to date" in stdout


# Runs `synth --out OUT` with a fault injected at one point of the real code path: the process
# SIGKILLs itself there (no timing guesses, no hook in mlgov itself).
KILL_AT = textwrap.dedent(
    """
    import os, signal, sys
    sys.path.insert(0, ".")
    from mlgov.synth.stacks import prepare_runtime
    prepare_runtime()
    from mlgov.cli import main
    from mlgov.synth import pool, tree

    point, out = sys.argv[1], sys.argv[2]
    exchange = tree._exchange

    def die(*_args, **_kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

    def exchange_then_die(a, b):
        exchange(a, b)
        die()

    if point == "rendering":  # cdktf has synthesized a stack; reading it back is next
        pool.canonical_tree = die
    elif point == "staged":  # the new tree is complete beside out; the swap is next
        tree._exchange = die
    elif point == "swapped":  # the swap is done; removing the old tree is next
        tree._exchange = exchange_then_die
    sys.argv = ["main.py", "synth", "--out", out]
    main()
    """
)


def _synth_killed_at(point: str, out) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", KILL_AT, point, str(out)], cwd=ROOT, capture_output=True, text=True, timeout=600
    )


@pytest.fixture
def stale_out(tmp_path):
    """A copy of generated/ that a synth WOULD rewrite (one stack edited, one stale stack)."""
    out = tmp_path / "generated"
    shutil.copytree(ROOT / "generated", out)
    stack = out / "stacks" / "ml-prod" / "cdk.tf.json"
    stack.write_bytes(stack.read_bytes().replace(b'"deletion_window_in_days": 30', b'"deletion_window_in_days": 7'))
    (out / "stacks" / "retired").mkdir()
    (out / "stacks" / "retired" / "cdk.tf.json").write_text("{}\n")
    # The retired stack is one mlgov wrote (listed in the marker), so the synth owns the whole
    # directory and takes the atomic-swap path.
    marker = out / outdir.MARKER
    owned = [line for line in marker.read_text().splitlines() if line and not line.startswith("#")]
    marker.write_bytes(outdir.marker_bytes([*owned, "stacks/retired/cdk.tf.json"]))
    return out


@pytest.mark.slow
def test_synth_killed_while_rendering_leaves_output_untouched(stale_out):
    # GIVEN a synth that has synthesized the stacks but not yet read them back
    before = _snapshot(stale_out)
    # WHEN it is killed by a real signal right then
    proc = _synth_killed_at("rendering", stale_out)
    # THEN the output directory is byte-identical and no staging directory is left
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert _snapshot(stale_out) == before
    assert sorted(p.name for p in stale_out.parent.iterdir()) == ["generated"]


@pytest.mark.slow
@pytest.mark.parametrize(("point", "expected"), [("staged", "old"), ("swapped", "new")])
def test_synth_killed_at_write_time_leaves_old_or_new_never_a_mix(stale_out, point, expected):
    # GIVEN a synth that has written its new tree beside the output (and, for "swapped",
    # exchanged the two directories)
    trees = {"old": _snapshot(stale_out), "new": _snapshot(ROOT / "generated")}
    assert trees["old"] != trees["new"]
    # WHEN it is killed by a real signal right then
    proc = _synth_killed_at(point, stale_out)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    # THEN the directory is exactly the old tree or exactly the new one (atomic swap), and
    # what a killed process could not clean up is a hidden sibling, never `out` itself
    assert _snapshot(stale_out) == trees[expected]
    leftovers = [p.name for p in stale_out.parent.iterdir() if p.name != "generated"]
    assert len(leftovers) == 1 and leftovers[0].startswith(".generated.new-"), leftovers
