"""Reliability in fresh processes: byte-identical output under other hash seeds and a shuffled
spec, and a synth killed by a real signal leaves its output directory as it was."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time

import pytest
import yaml

from tests.conftest import ROOT

SEEDS = ("0", "1", "3141592653")
# Lists whose order carries no meaning (stages, by contrast, are an ordered path).
UNORDERED_LISTS = {("organization", "allowed_regions")}


def _shuffled(value, rng, path=()):
    if isinstance(value, dict):
        keys = list(value)
        rng.shuffle(keys)
        return {k: _shuffled(value[k], rng, path + (k,)) for k in keys}
    if isinstance(value, list):
        items = [_shuffled(v, rng, path + (i,)) for i, v in enumerate(value)]
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
    spec = tmp_path / "shuffled.yaml"
    spec.write_text(yaml.safe_dump(shuffled, sort_keys=False))
    # WHEN `synth --check` runs on it in fresh processes under three PYTHONHASHSEED values
    procs = {
        seed: subprocess.Popen(
            [sys.executable, "main.py", "synth", str(spec), "--check"],
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


def _start_synth(out):
    return subprocess.Popen(
        [sys.executable, "main.py", "synth", "--out", str(out)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def stale_out(tmp_path):
    """A copy of generated/ that a synth WOULD rewrite (one stack edited, one extra file)."""
    out = tmp_path / "generated"
    shutil.copytree(ROOT / "generated", out)
    stack = out / "stacks" / "ml-prod" / "cdk.tf.json"
    stack.write_bytes(stack.read_bytes().replace(b'"deletion_window_in_days": 30', b'"deletion_window_in_days": 7'))
    (out / "stacks" / "retired").mkdir()
    (out / "stacks" / "retired" / "cdk.tf.json").write_text("{}\n")
    return out


@pytest.mark.slow
def test_synth_killed_while_rendering_leaves_output_untouched(stale_out):
    # GIVEN a synth that has started (imports, rendering) but printed nothing yet
    before = _snapshot(stale_out)
    proc = _start_synth(stale_out)
    time.sleep(2)
    assert proc.poll() is None, "synth ended before it could be interrupted"
    # WHEN it is killed by a real signal
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    # THEN the output directory is byte-identical and no staging directory is left
    assert proc.returncode == -signal.SIGKILL
    assert _snapshot(stale_out) == before
    assert sorted(p.name for p in stale_out.parent.iterdir()) == ["generated"]


@pytest.mark.slow
def test_synth_killed_at_write_time_leaves_old_or_new_never_a_mix(stale_out):
    # GIVEN a synth that has rendered everything and begun reporting (the write comes next)
    before = _snapshot(stale_out)
    proc = _start_synth(stale_out)
    first = proc.stdout.readline()
    assert first.startswith("stack "), first + proc.stderr.read()
    # WHEN it is killed by a real signal right then
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    after = _snapshot(stale_out)
    # THEN the directory is either exactly the old tree or exactly the new one (atomic swap)
    if after != before:
        fresh = stale_out.parent / "fresh"
        done = subprocess.run(
            [sys.executable, "main.py", "synth", "--out", str(fresh)], cwd=ROOT, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        assert after == _snapshot(fresh), "killed synth left a mix of old and new files"
    # a killed process cannot clean up its staging directory; it is a hidden sibling, never `out`
    leftovers = [p.name for p in stale_out.parent.iterdir() if p.name not in {"generated", "fresh"}]
    assert all(name.startswith(".generated.new-") for name in leftovers), leftovers
