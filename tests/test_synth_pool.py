"""Parallel synthesis (mlgov/synth_pool.py): same bytes as one process, clear failures."""

from __future__ import annotations

import tempfile

import pytest

from mlgov.errors import MlgovError
from mlgov.platform import bootstrap
from mlgov.platform.manifest import dependencies
from mlgov.spec.model import Layer
from mlgov.synth import pool as synth_pool


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

    parallel, summaries = synth_stacks(default_spec, jobs=2, with_bootstrap=True)
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
