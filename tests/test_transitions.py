"""Day-two transitions with REAL plans: the "before" tree is committed in a git repository and
applied by terraform (against moto) into a state; the "after" tree is synthesized from the
changed spec; `plan --changed-since HEAD --offline --state-dir` plans the difference."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
import yaml
from click.testing import CliRunner

from mlgov.cli import cli
from mlgov.review import localapply, summary, terraform
from mlgov.review import plan as planning
from mlgov.synth.tree import write_tree
from tests.conftest import ROOT
from tests.test_local_apply import moto_endpoint  # noqa: F401 - the module's moto server fixture

GENERATED = ROOT / "generated"


def _spec_without_churn() -> str:
    data = yaml.safe_load((ROOT / "org.yaml").read_text())
    del data["teams"]["churn"]
    del data["accounts"]["ml-dev-churn"]
    guardrails = data["management"]["guardrails"]
    guardrails["exempt_accounts"] = [a for a in guardrails.get("exempt_accounts", []) if a != "ml-dev-churn"]
    return yaml.safe_dump(data, sort_keys=False)


def _git(cwd, *args):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def before_repo(tmp_path):
    """A git repository whose HEAD holds the committed generated/ ("before")."""
    repo = tmp_path / "repo"
    shutil.copytree(GENERATED, repo / "generated")
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "before")
    return repo


def moto_state(stack_name, endpoint, cli_config, work) -> dict:
    """Apply the moto-appliable part of a committed stack with real terraform; its state."""
    stack = json.loads((GENERATED / "stacks" / stack_name / "cdk.tf.json").read_text())
    filtered, _ = localapply.filter_stack(stack)
    src = work / "src"
    shutil.copytree(GENERATED / "stacks" / stack_name, src)
    (src / "cdk.tf.json").write_text(json.dumps(filtered, indent=2))
    region = stack["provider"]["aws"][0]["region"]
    ws = terraform.Workspace(src, work / "ws", cli_config, offline=False)
    (ws.workdir / "mlgov_local_override.tf.json").write_text(
        json.dumps(localapply.endpoint_override(endpoint, region), indent=2)
    )
    assert ws.init().ok
    applied = ws.run("apply", "-auto-approve", "-input=false", "-no-color", "-lock=false", timeout=900)
    assert applied.ok, applied.stderr[-3000:]
    return json.loads((ws.workdir / "terraform.tfstate").read_text())


@pytest.mark.slow
@pytest.mark.terraform
def test_removed_team_stack_is_planned_for_destroy(render_spec, tf_cli_config, moto_endpoint, tmp_path):  # noqa: F811
    # GIVEN "before" committed, with ml-dev-churn applied by terraform (moto) into a state
    repo = before_repo(tmp_path)
    state = moto_state("ml-dev-churn", moto_endpoint, tf_cli_config, tmp_path / "apply")
    in_state = [r for r in state["resources"] if r["mode"] == "managed"]
    assert len(in_state) > 10
    states = tmp_path / "states"
    states.mkdir()
    (states / "ml-dev-churn.tfstate").write_text(json.dumps(state))
    # AND the spec without team churn and its dev account synthesized over it ("after")
    write_tree(render_spec(_spec_without_churn()), repo / "generated")
    assert not (repo / "generated" / "stacks" / "ml-dev-churn").exists()
    # WHEN plan runs offline on what changed since HEAD, against that state
    out = tmp_path / "plans"
    result = CliRunner().invoke(
        cli,
        [
            "plan",
            "--offline",
            "--changed-since",
            "HEAD",
            "--stacks-dir",
            str(repo / "generated" / "stacks"),
            "--stack",
            "ml-dev-churn",
            "--state-dir",
            str(states),
            "--out",
            str(out),
        ],
    )
    # THEN the stack's destroy is planned: one delete per resource in its state, nothing else
    assert result.exit_code == 0, result.output
    plan = json.loads((out / "ml-dev-churn" / planning.PLAN_JSON).read_text())
    assert planning.count_actions(plan) == {"create": 0, "update": 0, "replace": 0, "delete": len(in_state)}
    # AND summarize puts the whole-stack destroy at the very top
    summarized = CliRunner().invoke(cli, ["summarize", str(out / "ml-dev-churn" / planning.PLAN_JSON)])
    assert summarized.exit_code == 0, summarized.output
    lines = summarized.output.splitlines()
    assert lines[2:5] == [
        "> [!CAUTION]",
        "> **1 whole stack will be DESTROYED: every resource in it is deleted.**",
        f"> - **DESTROY STACK** `ml-dev-churn` (ml-dev-churn (330000000004)): {len(in_state)} resources",
    ]
    report = summary.load_reports([out / "ml-dev-churn" / planning.PLAN_JSON])
    assert summary.as_json(report)["destroyed_stacks"] == [
        {"name": "ml-dev-churn", "account": None, "delete": len(in_state)}
    ]


def test_state_dir_needs_offline(tmp_path):
    result = CliRunner().invoke(cli, ["plan", "--state-dir", str(tmp_path), "--stacks-dir", str(GENERATED / "stacks")])
    assert result.exit_code == 2 and "--state-dir needs --offline" in result.output


def test_changed_since_refuses_a_foreign_out_before_writing(tmp_path):
    repo = before_repo(tmp_path)
    out = tmp_path / "work"
    out.mkdir()
    (out / "important.txt").write_text("mine\n")
    result = CliRunner().invoke(
        cli,
        [
            "plan",
            "--offline",
            "--changed-since",
            "HEAD",
            "--stacks-dir",
            str(repo / "generated" / "stacks"),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 2 and "refusing to plan into" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["important.txt"]


def test_whole_stack_destroy_is_recognised_only_when_nothing_stays():
    change = {"address": "aws_s3_bucket.x", "type": "aws_s3_bucket", "change": {"actions": ["delete"]}}
    gone = {"resource_changes": [change], "planned_values": {"root_module": {}}}
    stays = dict(gone, planned_values={"root_module": {"resources": [{"address": "aws_kms_key.k"}]}})
    assert summary.stack_report("s", gone).removed
    assert not summary.stack_report("s", stays).removed
    assert not summary.stack_report("s", {"resource_changes": []}).removed


# -- adoption: OUs that already exist are imported, not created ------------------------------


def _moto_org_spec(endpoint) -> dict:
    """The default spec pointed at an organization created in moto: its OUs exist already."""
    import boto3

    org = boto3.client(
        "organizations",
        endpoint_url=endpoint,
        region_name="us-east-1",
        **{"aws_access_key_id": "mlgov-local", "aws_secret_access_key": "mlgov-local"},
    )
    data = yaml.safe_load((ROOT / "org.yaml").read_text())
    data["organization"]["id"] = org.create_organization(FeatureSet="ALL")["Organization"]["Id"]
    root = org.list_roots()["Roots"][0]["Id"]
    data["organization"]["root_id"] = root
    units = data["organization"]["organizational_units"]
    for name in sorted(units, key=lambda n: units[n].get("parent") is not None):
        parent = units[units[name]["parent"]]["id"] if units[name].get("parent") else root
        units[name]["id"] = org.create_organizational_unit(ParentId=parent, Name=name)["OrganizationalUnit"]["Id"]
    data["management"]["own_ous"] = True
    return data


def _ou_plan(render_spec, data, endpoint, cli_config, work) -> dict:
    """Real terraform plan of the management stack's OUs (and import blocks) against moto."""
    tree = render_spec(yaml.safe_dump(data, sort_keys=False))
    stack = json.loads(tree["stacks/management/cdk.tf.json"])
    ous = {"aws_organizations_organizational_unit": stack["resource"]["aws_organizations_organizational_unit"]}
    slim = {k: v for k, v in stack.items() if k in ("terraform", "provider", "import")}
    slim["resource"] = ous
    src = work / "src"
    src.mkdir(parents=True)
    (src / "cdk.tf.json").write_text(json.dumps(slim, indent=2))
    region = stack["provider"]["aws"][0]["region"]
    ws = terraform.Workspace(src, work / "ws", cli_config, offline=False)
    override = localapply.endpoint_override(endpoint, region)
    override["provider"]["aws"]["endpoints"][0]["organizations"] = endpoint
    (ws.workdir / "mlgov_local_override.tf.json").write_text(json.dumps(override, indent=2))
    assert ws.init().ok
    planned = ws.run("plan", "-input=false", "-no-color", "-lock=false", "-out=plan.tfplan", timeout=600)
    assert planned.ok, planned.stderr[-3000:]
    return json.loads(ws.show_json("plan.tfplan").stdout)


@pytest.mark.slow
@pytest.mark.terraform
def test_existing_ous_are_adopted_by_import_blocks(render_spec, tf_cli_config, moto_endpoint, tmp_path):  # noqa: F811
    # GIVEN an organization (moto) whose OUs already exist, and a spec that owns them
    data = _moto_org_spec(moto_endpoint)
    names = sorted(data["organization"]["organizational_units"])
    # WHEN the spec says to adopt them and terraform plans the management stack's OUs
    data["management"]["adopt_ous"] = True
    plan = _ou_plan(render_spec, data, moto_endpoint, tf_cli_config, tmp_path / "adopt")
    # THEN every OU is imported by its id, none is created or destroyed
    assert planning.count_actions(plan)["create"] == planning.count_actions(plan)["delete"] == 0
    changes = [rc for rc in plan["resource_changes"] if rc["type"] == "aws_organizations_organizational_unit"]
    assert len(changes) == len(names)
    for rc in changes:
        # imported, then (moto's OUs carry no tags) updated in place with the spec's tags
        assert rc["change"]["actions"] in (["no-op"], ["update"]), rc["change"]["actions"]
        assert (
            rc["change"]["importing"]["id"]
            == data["organization"]["organizational_units"][rc["change"]["after"]["name"]]["id"]
        )
    # AND without adoption the same plan would create duplicates (what the first apply failed on)
    data["management"]["adopt_ous"] = False
    plan = _ou_plan(render_spec, data, moto_endpoint, tf_cli_config, tmp_path / "create")
    assert planning.count_actions(plan)["create"] == len(names)


def test_adopt_ous_needs_own_ous():
    from mlgov.errors import SpecError
    from mlgov.spec.source import load_yaml
    from mlgov.validation import parse_spec

    data = yaml.safe_load((ROOT / "org.yaml").read_text())
    data["management"].update(own_ous=False, adopt_ous=True)
    with pytest.raises(SpecError, match=r"management.adopt_ous: adopt_ous imports the OUs mlgov owns"):
        parse_spec(load_yaml(yaml.safe_dump(data, sort_keys=False), "<t>"))
