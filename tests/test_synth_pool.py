"""Parallel synthesis (mlgov/synth_pool.py): same bytes as one process, clear failures."""

from __future__ import annotations

import json
import os
import pickle
import tempfile

import pytest
from click.testing import CliRunner

from mlgov.cli import cli
from mlgov.errors import MlgovError
from mlgov.platform import bootstrap
from mlgov.platform.manifest import dependencies
from mlgov.spec.model import Layer
from mlgov.synth import pool as synth_pool
from tests.conftest import ROOT


def _cdktf_files(tree):
    """What cdktf itself writes: the manifest and each stack's JSON (not the assets we add)."""
    return {
        path: data
        for path, data in tree.items()
        if path == "manifest.json" or (path.startswith("stacks/") and path.endswith("/cdk.tf.json"))
    }


@pytest.mark.slow  # starts synth worker processes
def test_workers_give_the_bytes_of_one_process_including_manifest_dependencies(tree, default_spec):
    from mlgov.synth.tree import synth_stacks

    # (the workers started early, as `mlgov synth` starts them while the spec is checked)
    with synth_pool.Warmup(2) as warm:
        warm.typed(default_spec)
        assert len(warm.workers) == 2
        parallel, summaries = synth_stacks(default_spec, jobs=2, with_bootstrap=True, warm=warm)
        assert warm.workers == []
    # The bootstrap's Terraform is synthesized by a worker too (the parent starts no jsii runtime).
    expected = {**_cdktf_files(tree), bootstrap.TERRAFORM_STACK: tree[bootstrap.TERRAFORM_STACK]}
    assert sorted(parallel) == sorted(expected)
    for path in expected:
        assert parallel[path] == expected[path], path
    # The manifest carries cross-stack dependencies no single worker's App could have recorded.
    assert b'"ml-shared-services"' in parallel["manifest.json"]
    assert [s.name for s in summaries] == [ref.name for ref in default_spec.stack_refs()]


@pytest.mark.slow  # starts synth worker processes
def test_a_failing_stack_ends_the_run_with_its_name_and_leaves_no_temporary_files(default_spec, tmp_path, monkeypatch):
    # A private temporary directory: other synths on the machine must not decide the outcome.
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    refs = default_spec.stack_refs()
    bogus = refs[0]._replace(name="no-such-stack")
    leftovers = lambda: set(tmp_path.glob("mlgov-synth-*"))  # noqa: E731
    before = leftovers()
    with pytest.raises(MlgovError) as info:
        synth_pool.synth_parallel(default_spec, [*refs[:1], bogus], 2, dependencies(default_spec))
    message = str(info.value)
    assert "no-such-stack" in message and "\n" not in message
    assert leftovers() == before


@pytest.mark.parametrize(
    ("requested", "stacks", "cpus", "env", "want"),
    [
        (None, 6, 8, {}, 1),  # small spec: one process beats worker start-up
        (None, 23, 8, {}, 1),
        (None, 24, 8, {}, 2),  # at least STACKS_PER_JOB stacks per worker
        (None, 302, 2, {}, 2),  # one per CPU
        (None, 302, 16, {}, synth_pool.MAX_JOBS),
        (None, 302, 1, {}, 1),
        (3, 6, 1, {}, 3),  # explicit wins over the heuristics
        (8, 2, 8, {}, 2),  # never more workers than stacks
        (None, 6, 8, {synth_pool.JOBS_ENV: "2"}, 2),
        (1, 302, 8, {synth_pool.JOBS_ENV: "4"}, 1),  # the option beats the environment
    ],
)
def test_resolve_jobs(monkeypatch, requested, stacks, cpus, env, want):
    monkeypatch.setattr(synth_pool, "cpu_count", lambda: cpus)
    assert synth_pool.resolve_jobs(requested, stacks, environ=env) == want


@pytest.mark.parametrize("value", ["0", "two", "-1", "1.5"])
def test_bad_jobs_environment_is_one_clear_error(value):
    with pytest.raises(MlgovError, match=synth_pool.JOBS_ENV):
        synth_pool.resolve_jobs(None, 302, environ={synth_pool.JOBS_ENV: value})


def test_queue_puts_the_hub_first_and_deployment_stacks_last(default_spec):
    queued = synth_pool.queue_order(default_spec.stack_refs())
    cores = [ref.layer for ref in queued if not ref.is_slice]
    assert cores[0] is Layer.hub
    assert set(cores[-2:]) == {Layer.test, Layer.prod}
    # the teams' (small) slices of the shared accounts come after every core stack
    assert [ref.is_slice for ref in queued] == sorted(ref.is_slice for ref in queued)


@pytest.mark.slow  # starts synth worker processes
def test_worker_warnings_reach_the_user_once(default_spec, monkeypatch, capfd):
    # An unknown provider-import mode makes every worker print the same warning line.
    monkeypatch.setenv("MLGOV_PROVIDER_IMPORT", "sideways")
    refs = default_spec.stack_refs()
    synth_pool.synth_parallel(default_spec, refs[:2], 2, dependencies(default_spec))
    err = capfd.readouterr().err
    assert err.count("MLGOV_PROVIDER_IMPORT='sideways' is not one of lazy, eager; using lazy") == 1, err


@pytest.mark.parametrize(
    ("count", "cpus", "want"),
    [
        (2, [0, 1], [0, 1]),  # one worker per CPU: each keeps to its own
        (4, [3, 1, 2, 0], [0, 1, 2, 3]),
        (2, [0, 1, 2, 3], None),  # fewer workers than CPUs: never crowd other synths' cores
        (3, [0, 1], None),  # more workers than CPUs: the scheduler decides
        (1, [5], None),
    ],
)
def test_workers_are_pinned_only_one_per_cpu(count, cpus, want):
    assert synth_pool.pinned_cpus(count, cpus) == want


def _affinities(pid: int) -> dict[int, set[int]]:
    """The CPU affinity of ``pid`` and of every process below it."""
    found, todo = {}, [pid]
    while todo:
        current = todo.pop()
        found[current] = os.sched_getaffinity(current)
        for task in os.listdir(f"/proc/{current}/task"):
            todo += [int(c) for c in open(f"/proc/{current}/task/{task}/children").read().split()]  # noqa: SIM115
    return found


@pytest.mark.slow  # starts a synth worker process
@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="CPU affinity is Linux's")
def test_a_pinned_worker_and_its_node_process_keep_to_their_cpu(default_spec):
    # GIVEN a worker told to keep to the last CPU this process may use
    cpu = sorted(os.sched_getaffinity(0))[-1]
    worker = synth_pool._Worker(cpu)
    try:
        # WHEN it has synthesized a stack (its jsii Node process is running)
        worker.start(pickle.dumps(default_spec), default_spec.stack_refs()[-1].name)
        reply = synth_pool._recv(worker.proc.stdout)
        assert reply[0] == "ok", reply
        # THEN the worker and everything it started (Node) run on that CPU only
        affinities = _affinities(worker.proc.pid)
        assert len(affinities) >= 2, affinities  # the worker and its Node process
        assert all(cpus == {cpu} for cpus in affinities.values()), affinities
        worker.give(None)
        assert worker.proc.wait(timeout=60) == 0
    finally:
        worker.stop()


@pytest.mark.slow  # starts synth worker processes
def test_workers_started_early_stop_when_the_spec_is_refused(monkeypatch, tmp_path):
    # GIVEN a spec whose types are fine but whose semantic checks fail, synthesized with 2 jobs
    started: list[synth_pool._Worker] = []
    start_workers = synth_pool._start_workers

    def spy(count, already=None):
        workers = start_workers(count, already)
        started.extend(w for w in workers if w not in started)
        return workers

    monkeypatch.setattr(synth_pool, "_start_workers", spy)
    path = ROOT / "tests" / "cases" / "bad" / "deploys-to-own-dev-account.yaml"
    expected = json.loads((path.parent / "expected.json").read_text())[path.name]
    # WHEN `mlgov synth` runs
    result = CliRunner().invoke(cli, ["synth", str(path), "--jobs", "2", "--out", str(tmp_path / "out")])
    # THEN the workers had started during the checks, the refusal is the usual one line, and no
    # worker outlives the command
    assert len(started) == 2
    assert result.exit_code == 2, result.output
    assert result.stderr.splitlines() == [line.replace("{file}", str(path)) for line in expected]
    assert all(worker.proc.returncode is not None for worker in started)
    assert not (tmp_path / "out").exists()
