"""`plan`: real terraform over every generated stack, offline, in parallel; failures named."""

from __future__ import annotations

import io
import json
import shutil
from collections import Counter

import pytest
from click.testing import CliRunner

from mlgov.cli import cli
from mlgov.review import plan as planning
from mlgov.synth.stacks import resource_count
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


def _management_with_imports(tmp_path, targets: dict[str, str]):
    """The default management stack with ``import`` blocks ({OU address: id}), as adopt_ous writes them."""
    stacks = tmp_path / "stacks"
    shutil.copytree(GENERATED / "management", stacks / "management")
    doc = json.loads((stacks / "management" / "cdk.tf.json").read_text())
    doc["import"] = [{"id": ou, "to": f"aws_organizations_organizational_unit.{to}"} for to, ou in targets.items()]
    (stacks / "management" / "cdk.tf.json").write_text(json.dumps(doc))
    return stacks


@pytest.mark.terraform
def test_offline_plan_of_adopted_ous_validates_the_imports_and_plans_creates(tf_cli_config, tmp_path):
    # GIVEN a management stack that adopts two OUs (import blocks: live Organizations reads)
    stacks = _management_with_imports(tmp_path, {"data": "ou-nw4a-data0001", "infrastructure": "ou-nw4a-infra001"})
    # WHEN it is planned offline with no state
    stream = io.StringIO()
    (run,) = planning.run_plans(
        {"management": stacks / "management"}, tmp_path / "plans", offline=True, jobs=1, stream=stream
    )
    # THEN the plan succeeds without AWS, the adopted OUs planned as creates, and the output says so
    assert run.status == "ok", run.error
    planned = json.loads(run.plan_json.read_text())
    ous = [c for c in planned["resource_changes"] if c["type"] == "aws_organizations_organizational_unit"]
    assert ous and all(c["change"]["actions"] == ["create"] for c in ous)
    assert "2 import block(s) validated, planned as creates" in stream.getvalue()
    # and the committed stack is untouched (only the workspace copy lost its imports)
    assert "import" in json.loads((stacks / "management" / "cdk.tf.json").read_text())


@pytest.mark.terraform
def test_offline_plan_refuses_an_import_of_no_resource(tf_cli_config, tmp_path):
    # GIVEN an import block whose target the configuration does not declare
    stacks = _management_with_imports(tmp_path, {"no_such_ou": "ou-nw4a-data0001"})
    # WHEN planned offline THEN the imports step (before they are dropped) fails it, naming the target
    (run,) = planning.run_plans(
        {"management": stacks / "management"}, tmp_path / "plans", offline=True, jobs=1, stream=io.StringIO()
    )
    assert run.status == "failed" and "terraform imports failed" in run.error, run.error
    assert "aws_organizations_organizational_unit.no_such_ou" in run.error


@pytest.mark.terraform
def test_offline_destroy_without_a_state_says_deletes_are_not_counted(tf_cli_config, tmp_path):
    # GIVEN a stack that left the spec, planned as a destroy offline with no --state-dir
    stream = io.StringIO()
    (run,) = planning.run_plans(
        {"management": GENERATED / "management"},
        tmp_path / "plans",
        offline=True,
        jobs=1,
        stream=stream,
        destroy=["management"],
    )
    # THEN its line does not claim a silent "-0": it says the deletes were not counted
    assert run.status == "ok", run.error
    line = next(x for x in stream.getvalue().splitlines() if x.startswith("management ") and " ok " in x)
    assert line.endswith(planning.DESTROY_WITHOUT_STATE), line


@pytest.mark.slow
@pytest.mark.terraform
def test_every_kitchen_sink_stack_plans_offline(tf_cli_config, tmp_path):
    # GIVEN the spec that turns every documented option on (adopted OUs and VPC, a second dev
    # region, two prods, renames, every monitor and grant kind), synthesized to disk
    from tests import modules_root
    from tests.conftest import spec_case

    case = spec_case(ROOT / "mlgov" / "examples" / "kitchen-sink.yaml")
    out = tmp_path / "out"
    for rel, data in case.tree.items():
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    stacks = sorted(ref.name for ref in case.spec.stack_refs())
    alone = modules_root.with_imports(out, stacks)
    together = [name for name in stacks if name not in alone]
    assert alone and together
    # WHEN the stacks with import blocks (the adopted OUs) are planned by `mlgov plan --offline`
    # (init, the imports validated, plan, show -json)
    args = ["plan", "--offline", "--jobs", "2", "--out", str(tmp_path / "plans")]
    args += [f"--stack={name}" for name in alone]
    result = CliRunner().invoke(cli, [*args, "--stacks-dir", str(out / "stacks")])
    # THEN each one plans (its imports validated, then planned as creates)
    assert result.exit_code == 0, result.output
    planned = sorted(p.parent.name for p in (tmp_path / "plans").glob(f"*/{planning.PLAN_JSON}"))
    assert planned == alone, result.output
    # WHEN every other stack is planned offline by the real terraform as a module of one root
    # (one provider schema for all of them instead of one per stack and command)
    run, plan = modules_root.plan_as_modules(out, together, tf_cli_config)
    # THEN the plan holds every resource of every stack, each a create
    assert run.ok and plan is not None, run.stderr
    changes = [rc for rc in plan["resource_changes"] if rc["mode"] == "managed"]
    counts = Counter(modules_root.module_of(rc["address"]) for rc in changes)
    expected = {name: resource_count(json.loads(case.tree[f"stacks/{name}/cdk.tf.json"])) for name in together}
    assert dict(counts) == expected
    assert {tuple(rc["change"]["actions"]) for rc in changes} == {("create",)}


def test_plan_role_needs_a_real_plan(tmp_path):
    result = CliRunner().invoke(
        cli, ["plan", "--offline", "--plan-role", "--stacks-dir", str(GENERATED), "--out", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "error: --plan-role plans with the environment's AWS credentials: it needs a real plan (got --offline)"
    ]


@pytest.mark.slow  # starts terraform
def test_plan_role_workspace_assumes_no_role_in_any_provider(tf_cli_config, tmp_path):
    from mlgov.review import terraform

    # GIVEN a stack with its own provider and an aliased one (a dev stack's other region), both
    # assuming the Terraform role
    stack = tmp_path / "stack"
    shutil.copytree(GENERATED / "management", stack)
    doc = json.loads((stack / "cdk.tf.json").read_text())
    (own,) = doc["provider"]["aws"]
    assert own["assume_role"][0]["role_arn"].endswith(":role/mlgov-terraform")
    doc["provider"]["aws"].append(dict(own, alias="eu_central_1", region="eu-central-1"))
    (stack / "cdk.tf.json").write_text(json.dumps(doc))
    # WHEN a plan-role workspace is made of it (the CI's plan jobs: credentials of the plan role)
    ws = terraform.Workspace(stack, tmp_path / "ws", tf_cli_config, offline=False, plan_role=True)
    override = json.loads((tmp_path / "ws" / terraform.PLAN_ROLE_OVERRIDE_NAME).read_text())
    # THEN every provider, the aliased one too, assumes no role (an empty role_arn: the provider
    # uses the environment's credentials), and terraform merges the override into the configuration
    assert override == {
        "provider": {
            "aws": [{"assume_role": {"role_arn": ""}}, {"alias": "eu_central_1", "assume_role": {"role_arn": ""}}]
        }
    }
    assert ws.run("init", "-backend=false", "-input=false", "-no-color").ok
    result = ws.validate()
    assert result.ok, result.stdout + result.stderr
    # AND a workspace without the flag has no such override
    terraform.Workspace(stack, tmp_path / "plain", tf_cli_config, offline=False)
    assert not (tmp_path / "plain" / terraform.PLAN_ROLE_OVERRIDE_NAME).exists()


def _plan_tiny_stack(tmp_path, name):
    """Plan, offline, a stack that only configures the provider; returns the run and the cached
    provider's identity before and after."""
    from mlgov.review import terraform

    stack = tmp_path / name / "tiny"
    stack.mkdir(parents=True)
    required = {"aws": {"source": "aws", "version": terraform.PROVIDER_VERSION}}
    config = {"terraform": {"required_providers": required}, "provider": {"aws": [{"region": "eu-west-1"}]}}
    (stack / "cdk.tf.json").write_text(json.dumps(config))
    out = tmp_path / name / "plans"
    # the cache is warmed first (as run_plans does), then the stack's own init runs
    out.mkdir()
    (out / planning.OUT_MARKER).write_text("")
    cli_config = terraform.write_cli_config(
        out / ".terraform-config", out / ".plugin-cache", terraform.provider_source()
    )
    planning.warm_plugin_cache(out, cli_config)
    (cached,) = (out / ".plugin-cache" / terraform.PROVIDER / terraform.PROVIDER_VERSION).iterdir()  # <os>_<arch>
    # (the entry is a link into the mirror, or an unpacked copy: lstat sees it replaced either way)
    before = (cached.lstat().st_ino, cached.lstat().st_ctime_ns)
    (run,) = planning.run_plans({"tiny": stack}, out, offline=True, jobs=1, stream=io.StringIO())
    return run, before, (cached.lstat().st_ino, cached.lstat().st_ctime_ns)


@pytest.mark.terraform
def test_a_stacks_init_links_the_warm_plugin_cache_without_rewriting_it(tf_cli_config, tmp_path, monkeypatch):
    # GIVEN plan's warmed plugin cache WHEN a stack is planned THEN its init only links the cached
    # provider: a rewrite would pull it from under another stack's running plan ("no package ...
    # cached in .terraform/providers", seen on CI with two stacks planned in parallel)
    run, before, after = _plan_tiny_stack(tmp_path, "seeded")
    assert run.status == "ok", run.error
    assert before == after
    # and on a broken copy that gives the workspace no lock file, the same init rewrites the cache
    monkeypatch.setattr(planning, "_seed_lock_file", lambda out, workdir: None)
    run, before, after = _plan_tiny_stack(tmp_path, "unseeded")
    assert run.status == "ok", run.error
    assert before != after


@pytest.mark.terraform
def test_planning_stacks_as_modules_names_a_broken_one(tf_cli_config, tmp_path):
    from tests import modules_root

    # GIVEN two committed stacks, one with an argument its resource does not have
    for name in ("ml-dev-churn", "ml-test"):
        (tmp_path / "stacks" / name).mkdir(parents=True)
        doc = json.loads((GENERATED / name / "cdk.tf.json").read_text())
        if name == "ml-test":
            next(iter(doc["resource"]["aws_s3_bucket"].values()))["no_such_argument"] = True
        (tmp_path / "stacks" / name / "cdk.tf.json").write_text(json.dumps(doc))
    # WHEN they are planned as the modules of one root THEN the plan fails naming the broken stack's file
    run, plan = modules_root.plan_as_modules(tmp_path, ["ml-dev-churn", "ml-test"], tf_cli_config)
    assert not run.ok and plan is None
    assert "../stacks/ml-test/cdk.tf.json" in run.stderr and "no_such_argument" in run.stderr, run.stderr
    assert "ml-dev-churn" not in run.stderr
