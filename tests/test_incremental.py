"""Team stacks from their team's view of the spec, and the synth cache (mlgov/synth/incremental.py)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlgov.cli import cli
from mlgov.spec.large_org import write_large_org
from mlgov.synth import incremental, pool
from mlgov.synth.incremental import Cache, StackResult
from mlgov.validation import load_spec
from tests.conftest import DEFAULT_SPEC, ROOT

KITCHEN_SINK = ROOT / "mlgov" / "examples" / "kitchen-sink.yaml"


def _team_refs(spec):
    return [ref for ref in spec.stack_refs() if incremental.stack_team(spec, ref) is not None]


@pytest.mark.slow  # synthesizes every team stack twice (jsii)
@pytest.mark.parametrize("path", [DEFAULT_SPEC, KITCHEN_SINK, "large-org-3"], ids=lambda p: Path(p).stem)
def test_a_team_stack_from_its_teams_view_is_the_stack_from_the_whole_spec(path, tmp_path):
    # GIVEN a spec with several teams (the kitchen sink: data grants, own test accounts, slices;
    # the generated large org: each team its own test and prod accounts, whose core stacks are
    # then that team's)
    from cdktf import App

    from mlgov.modules.app import stack_class
    from mlgov.synth.stacks import canonical_tree

    if path == "large-org-3":
        path = write_large_org(tmp_path / "org.yaml", 3)
    spec = load_spec(path)
    refs = _team_refs(spec)
    assert {ref.team for ref in refs if ref.is_slice} and any(not ref.is_slice for ref in refs)
    stage_cores = [r for r in refs if not r.is_slice and r.layer.value in ("test", "prod")]
    assert bool(stage_cores) == (tmp_path in Path(path).parents), stage_cores
    for ref in refs:
        # WHEN the stack is built from the whole spec, as before views existed
        with tempfile.TemporaryDirectory(prefix="mlgov-test-view-") as tmp:
            app = App(outdir=tmp, stack_traces=False)
            stack_class(ref)(app, ref.name, spec=spec, ref=ref)
            app.synth()
            whole, _ = canonical_tree(Path(tmp))
        # THEN synth (which builds it from the team's view) gives the same bytes
        with tempfile.TemporaryDirectory(prefix="mlgov-test-view-") as tmp:
            viewed = pool._synth_one(spec, ref, Path(tmp))
        assert viewed.files == {rel: data for rel, data in whole.items() if rel != "manifest.json"}, ref.name


def test_the_view_holds_one_team_and_leaves_out_only_other_teams_dev_accounts(default_spec):
    team = sorted(default_spec.teams)[0]
    seen = incremental.view(default_spec, team)
    assert list(seen.teams) == [team]
    others = {t.dev_account for name, t in default_spec.teams.items() if name != team}
    assert set(seen.accounts) == set(default_spec.accounts) - others
    assert seen.home == default_spec.home


def _with_change(spec, **team_updates):
    """``spec`` with the first team's fields replaced (frozen models: a copy)."""
    first = sorted(spec.teams)[0]
    teams = dict(spec.teams, **{first: spec.teams[first].model_copy(update=team_updates)})
    return spec.model_copy(update={"teams": teams}), first


def test_a_teams_change_changes_the_keys_of_its_stacks_only(default_spec):
    refs = default_spec.stack_refs()
    before = incremental.stack_keys(default_spec, refs)
    changed, team = _with_change(default_spec, description="changed in a pull request")
    after = incremental.stack_keys(changed, refs)
    # Core stacks read the whole org: never cached, so they have no key.
    assert set(before) == {ref.name for ref in _team_refs(default_spec)}
    moved = {name for name in before if before[name] != after[name]}
    assert moved == {ref.name for ref in refs if incremental.stack_team(default_spec, ref) == team}


def test_an_org_wide_change_and_a_change_of_mlgov_change_every_key(default_spec, monkeypatch):
    refs = default_spec.stack_refs()
    before = incremental.stack_keys(default_spec, refs)
    org = default_spec.organization.model_copy(update={"tags": {**default_spec.organization.tags, "x": "y"}})
    retagged = incremental.stack_keys(default_spec.model_copy(update={"organization": org}), refs)
    assert all(before[name] != retagged[name] for name in before)
    monkeypatch.setattr(incremental, "code_fingerprint", lambda: "another mlgov")
    assert all(before[name] != key for name, key in incremental.stack_keys(default_spec, refs).items())


def test_the_cache_gives_back_what_was_put_and_ignores_what_it_cannot_trust(tmp_path):
    cache = Cache(tmp_path / "cache")
    result = StackResult({"stacks/a/cdk.tf.json": b'{"x": 1}\n'}, {"name": "a"}, "0.21.0", 3)
    assert cache.get("ab" * 32) is None
    cache.put("ab" * 32, result)
    assert cache.get("ab" * 32) == result
    # An entry filed under another key, or not JSON, is a miss, never an error.
    path = tmp_path / "cache" / "ab" / f"{'ab' * 32}.json"
    (tmp_path / "cache" / "cd").mkdir()
    (tmp_path / "cache" / "cd" / f"{'cd' * 32}.json").write_bytes(path.read_bytes())
    assert Cache(tmp_path / "cache").get("cd" * 32) is None
    path.write_text("{not json")
    assert cache.get("ab" * 32) is None


def test_cache_option_and_environment(tmp_path):
    assert incremental.cache_from(None, {}) is None
    assert incremental.cache_from(None, {incremental.CACHE_ENV: str(tmp_path)}).root == tmp_path
    assert incremental.cache_from(tmp_path / "a", {incremental.CACHE_ENV: str(tmp_path)}).root == tmp_path / "a"
    (tmp_path / "file").write_text("")
    with pytest.raises(Exception, match="not a directory"):
        incremental.cache_from(tmp_path / "file", {})


@pytest.mark.slow  # synthesizes the default spec (jsii)
def test_check_with_a_warm_cache_still_finds_a_hand_edited_stack(tmp_path, default_spec, monkeypatch):
    # GIVEN generated/ written by a synth that filled the cache
    out, cache = tmp_path / "generated", tmp_path / "cache"
    args = ["synth", str(DEFAULT_SPEC), "--out", str(out), "--cache", str(cache), "--quiet", "--jobs", "1"]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    # AND a team stack edited by hand
    team_stack = next(ref.name for ref in default_spec.stack_refs() if ref.is_slice)
    edited = out / "stacks" / team_stack / "cdk.tf.json"
    doc = json.loads(edited.read_text())
    doc["locals"] = {"hand": "edit"}
    edited.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    synthesized: list[str] = []
    real = pool._synth_one

    def watched(spec, ref, outdir, loaded=()):
        synthesized.append(ref.name)
        return real(spec, ref, outdir, loaded)

    monkeypatch.setattr(pool, "_synth_one", watched)
    # WHEN the spec is checked with the same cache
    check = CliRunner().invoke(cli, [*args, "--check"])
    # THEN only core stacks were synthesized again, and the edit is drift all the same
    cacheable = incremental.stack_keys(default_spec, default_spec.stack_refs())
    assert synthesized and not set(synthesized) & set(cacheable)
    assert check.exit_code == 1, check.output
    assert f"differs  stacks/{team_stack}/cdk.tf.json" in check.output
