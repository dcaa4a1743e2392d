"""Day-two transitions with REAL plans: the "before" tree is committed in a git repository and
applied by terraform (against moto) into a state; the "after" tree is synthesized from the
changed spec; `plan --changed-since HEAD --offline --state-dir` plans the difference."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest
import yaml
from click.testing import CliRunner

from mlgov.cli import cli
from mlgov.platform import naming
from mlgov.platform.catalog import persona_pattern
from mlgov.review import iam, localapply, summary, terraform
from mlgov.review import plan as planning
from mlgov.spec.located import load_yaml
from mlgov.spec.model import OrgSpec, team_stack_name
from mlgov.synth.tree import write_tree
from mlgov.validation import parse_spec
from tests.conftest import ON_CI, ROOT, reset_moto
from tests.journey.journey import problems
from tests.journey.world import World
from tests.offline_apply import converge, plan_json, resource_schemas

GENERATED = ROOT / "generated"


def _spec_without_churn() -> str:
    data = yaml.safe_load((ROOT / "org.yaml").read_text())
    del data["teams"]["churn"]
    del data["accounts"]["ml-dev-churn"]
    data.get("data", {}).get("grants", {}).pop("churn", None)
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


@pytest.mark.slow
@pytest.mark.terraform
def test_removed_team_stack_is_planned_for_destroy(render_spec, moto_applied, tmp_path):
    # GIVEN "before" committed, with ml-dev-churn applied by terraform (moto) into a state
    # (the session's apply, tests/test_local_apply.py reads it back)
    repo = before_repo(tmp_path)
    state = moto_applied("ml-dev-churn").tfstate
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


@pytest.mark.slow  # starts git
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

    reset_moto(endpoint)  # another test of this worker may have left an organization there
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
    # Another organization (moto's id): mlgov's released copies are not its own.
    for portfolio in data["service_catalog"]["portfolios"].values():
        for product in portfolio["products"].values():
            for version in product["versions"]:
                version.pop("frozen", None)
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
def test_existing_ous_are_adopted_by_import_blocks(render_spec, tf_cli_config, moto_endpoint, tmp_path):
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

    data = yaml.safe_load((ROOT / "org.yaml").read_text())
    data["management"].update(own_ous=False, adopt_ous=True)
    with pytest.raises(SpecError, match=r"management.adopt_ous: adopt_ous imports the OUs mlgov owns"):
        parse_spec(load_yaml(yaml.safe_dump(data, sort_keys=False), "<t>"))


# -- renames and regions: each a real offline plan against an offline-applied state ----------
#
# The "before" state of each stack planned below is what an apply of the committed stack would
# leave (tests/offline_apply.py: converged until terraform plans no change); the "after" is the
# changed spec's stack. Terraform and the AWS provider decide every action. The stacks a
# transition touches but that are not planned here are compared resource by resource instead.


def _team_renamed(data):
    team = data["teams"].pop("churn")
    data["teams"]["retention"] = {"renamed_from": "churn", **team}
    grants = data.get("data", {}).get("grants", {})
    if "churn" in grants:  # what the data account shares with the team, by its new name
        grants["retention"] = grants.pop("churn")


def _account_renamed(data):
    account = data["accounts"].pop("ml-dev-churn")
    data["accounts"]["ml-dev-retention"] = {"renamed_from": "ml-dev-churn", **account}
    data["teams"]["churn"]["dev_account"] = "ml-dev-retention"


def _catalog_renamed(data):
    portfolios = data["service_catalog"]["portfolios"]
    portfolios["studio-admin"] = {"renamed_from": "ml-admin", **portfolios.pop("ml-admin")}
    products = portfolios["sagemaker-projects"]["products"]
    products["model-training"] = {"renamed_from": "model-build", **products.pop("model-build")}


def _region_added(data):
    data["accounts"]["ml-dev-churn"]["regions"] = ["eu-west-1", "eu-central-1"]


TRANSITIONS = {
    "team-renamed": _team_renamed,
    "account-renamed": _account_renamed,
    "catalog-renamed": _catalog_renamed,
    "region-added": _region_added,
}


def _edited(edit) -> str:
    data = yaml.safe_load((ROOT / "org.yaml").read_text())
    edit(data)
    return yaml.safe_dump(data, sort_keys=False)


@pytest.fixture(scope="module")
def after(render_spec):
    """{transition: the generated tree of the changed spec}, rendered once per module."""
    return {name: render_spec(_edited(edit), f"<{name}>") for name, edit in TRANSITIONS.items()}


def _stack(tree, name) -> dict:
    return json.loads(tree[f"stacks/{name}/cdk.tf.json"])


def _resources(stack: dict) -> dict[str, dict]:
    """{address: body without cdktf's metadata (construct paths name the new key)}."""
    return {
        f"{rtype}.{name}": {k: v for k, v in body.items() if k != "//"}
        for rtype, blocks in stack.get("resource", {}).items()
        for name, body in blocks.items()
    }


def moves_only(before: dict, after: dict) -> int:
    """Assert ``after`` is ``before`` with some addresses moved (a ``moved`` block for each)
    and nothing else changed; return the number of moves."""
    moved = {m["to"]: m["from"] for m in after.get("moved", [])}
    old, new = _resources(before), _resources(after)
    assert sorted(moved.get(a, a) for a in new) == sorted(old), "an address changed without a moved block"
    text = json.dumps(new, sort_keys=True)
    for to, frm in moved.items():  # references to a moved resource name its new address
        text = text.replace(f"{to}.", f"{frm}.").replace(f'"{to}"', f'"{frm}"')
    assert {moved.get(a, a): body for a, body in json.loads(text).items()} == old, "a resource body changed"
    return len(moved)


def test_team_rename_moves_addresses_and_keeps_every_aws_name(tree, after):
    # GIVEN team churn renamed to retention (renamed_from: churn)
    renamed = after["team-renamed"]
    # THEN every stack the team is in moves its addresses and changes nothing else
    moves = {name: moves_only(_stack(tree, name), _stack(renamed, name)) for name in sorted(_STACKS_OF_CHURN)}
    # the team's slices of the hub and its stage accounts: a new stack name, the old one's state
    for core in _CORES_OF_CHURN:
        old, new = _stack(tree, team_stack_name(core, "churn")), _stack(renamed, team_stack_name(core, "retention"))
        assert new["terraform"]["backend"] == old["terraform"]["backend"]  # mlgov/<core>-team-churn.tfstate
        assert new["terraform"]["backend"]["s3"]["key"] == f"mlgov/{team_stack_name(core, 'churn')}.tfstate"
        moves[team_stack_name(core, "retention")] = moves_only(old, new)
    assert moves == {
        "data-lake": 2,
        "ml-dev-churn": 10,
        "ml-prod": 0,
        "ml-prod-team-retention": 12,
        "ml-shared-services": 0,
        "ml-shared-services-team-retention": 15,
        "ml-test": 0,
        "ml-test-team-retention": 8,
    }
    # AND every other file (stacks, products) is byte for byte the same, the core stacks of the
    # shared accounts included; the manifests and pipelines name the slices' new stack names
    stacks = {f"stacks/{n}/cdk.tf.json" for n in _STACKS_OF_CHURN if n not in _CORES_OF_CHURN}
    stacks |= {f"stacks/{team_stack_name(c, t)}/cdk.tf.json" for c in _CORES_OF_CHURN for t in ("churn", "retention")}
    changed = {p for p in set(tree) | set(renamed) if tree.get(p) != renamed.get(p)}
    assert {p for p in changed if p.startswith(("stacks/", "products/"))} == stacks
    # the manifests and pipelines differ only by the slices' names
    listings = sorted(changed - stacks)
    # (the generated pipelines list every stack too: their drift jobs plan each one)
    assert listings == sorted(
        ["atlantis.yaml", "manifest.json", "mlgov-files.txt", "mlgov-manifest.json"]
        + ["ci/github/mlgov-plan-apply.yml", "ci/gitlab/mlgov-plan-apply.gitlab-ci.yml"]
    )
    for path in listings:
        named = renamed[path].replace(b"-team-retention", b"-team-churn")
        lines = [sorted(line.rstrip(b",") for line in text.splitlines()) for text in (named, tree[path])]
        assert lines[0] == lines[1], path  # (the order of the names in a list may change)
    # AND a broken copy without its moved blocks is caught
    broken = {k: v for k, v in _stack(renamed, "ml-test-team-retention").items() if k != "moved"}
    with pytest.raises(AssertionError, match="without a moved block"):
        moves_only(_stack(tree, "ml-test-team-churn"), broken)


_STACKS_OF_CHURN = ("ml-dev-churn", "ml-shared-services", "ml-test", "ml-prod", "data-lake")
_CORES_OF_CHURN = ("ml-shared-services", "ml-test", "ml-prod")  # the accounts with churn's slices


def test_catalog_rename_keeps_released_bytes_and_template_paths(tree, after):
    # GIVEN portfolio ml-admin renamed to studio-admin and product model-build to model-training
    renamed = after["catalog-renamed"]
    # THEN the hub and every dev stack (the portfolio's launch role) only move addresses
    moves = {n: moves_only(_stack(tree, n), _stack(renamed, n)) for n in ("ml-shared-services", "ml-dev-churn")}
    # (one persona pattern instead of one association per team; model-build v4: its artifact and template)
    assert moves == {"ml-shared-services": 27, "ml-dev-churn": 2}
    # AND the released product versions stay where they were, byte for byte
    products = sorted(p for p in tree if p.startswith("products/"))
    assert products == sorted(p for p in renamed if p.startswith("products/"))
    assert all(tree[p] == renamed[p] for p in products)


def test_account_rename_keeps_the_stack_state(tree, after):
    # GIVEN account ml-dev-churn renamed to ml-dev-retention
    renamed = after["account-renamed"]
    # THEN its stack has the new name, the old stack's configuration and the old stack's state
    assert "stacks/ml-dev-churn/cdk.tf.json" not in renamed
    new, old = _stack(renamed, "ml-dev-retention"), _stack(tree, "ml-dev-churn")
    assert new["terraform"] == old["terraform"]  # backend key mlgov/ml-dev-churn.tfstate
    assert new["terraform"]["backend"]["s3"]["key"] == "mlgov/ml-dev-churn.tfstate"
    assert moves_only(old, new) == 0 and new["provider"] == old["provider"] and new["output"] == old["output"]
    stacks = {s["name"]: s for s in json.loads(renamed["mlgov-manifest.json"])["stacks"]}
    assert stacks["ml-dev-retention"]["backend"]["key"] == "mlgov/ml-dev-churn.tfstate"
    # AND no other stack changes (the SCPs name accounts by id)
    same = [p for p in tree if p.startswith("stacks/") and "ml-dev-churn" not in p]
    assert [p for p in same if tree[p] != renamed.get(p)] == []


def test_added_region_keeps_the_stack_name(tree, after, render_spec, monkeypatch):
    # GIVEN ml-dev-churn built in eu-west-1 (the home region) and now also in eu-central-1
    added = after["region-added"]
    # THEN the existing stack keeps its name (and state); only the new region's stack is new
    assert region_stacks(tree, added) == (["ml-dev-churn-eu-central-1"], [])

    # AND a broken copy with the old naming (every region of a multi-region account suffixed)
    # is caught: it renames the existing stack, whose state would then be destroyed
    real_stack_refs = OrgSpec.stack_refs

    def old_stack_refs(self):
        refs = []
        for ref in real_stack_refs(self):
            if ref.is_slice or len(self.account_regions(ref.account)) == 1:
                refs.append(ref)  # team slices (of single-region accounts) as they are
                continue
            name = f"{ref.account}-{ref.region}"
            refs.append(ref._replace(name=name, state=name, core=name))
        return sorted(refs)

    monkeypatch.setattr(OrgSpec, "stack_refs", old_stack_refs)
    broken = render_spec(_edited(_region_added), "<region-broken>")
    assert region_stacks(tree, broken) == (["ml-dev-churn-eu-central-1", "ml-dev-churn-eu-west-1"], ["ml-dev-churn"])


def region_stacks(before, after) -> tuple[list[str], list[str]]:
    """(stacks added, stacks gone) between two trees."""
    names = [{p.split("/")[1] for p in t if p.startswith("stacks/")} for t in (before, after)]
    return sorted(names[1] - names[0]), sorted(names[0] - names[1])


APPLIED = ("ml-dev-churn", "ml-shared-services")
HUB_SLICE = team_stack_name("ml-shared-services", "churn")  # churn's slice of the hub


@pytest.fixture(scope="module")
def applied(offline_applied):
    """{stack: initialized workspace whose terraform.tfstate is the offline-applied committed stack}
    (the session's, tests/conftest.py: tests/test_summarize.py plans against the same states)."""
    return {name: found.ws for name, found in offline_applied(*APPLIED, HUB_SLICE).items()}


def plan_against_state(ws, stack: dict) -> dict:
    """Real plan (``-refresh=false``) of configuration ``stack`` against the workspace's applied state."""
    original = (ws.workdir / "cdk.tf.json").read_bytes()
    override = ws.workdir / terraform.OVERRIDE_NAME
    original_override = override.read_bytes()
    (ws.workdir / "cdk.tf.json").write_text(json.dumps(stack, indent=2))
    # The configuration may add aliased providers (a region added to a dev account): offline too.
    override.write_text(json.dumps(terraform.stack_offline_override(stack), indent=2))
    try:
        return plan_json(ws)
    finally:
        (ws.workdir / "cdk.tf.json").write_bytes(original)
        override.write_bytes(original_override)


def plan_figures(plan: dict) -> dict[str, int]:
    """create/update/replace/delete counts, and how many resources the plan moves."""
    moved = sum(1 for rc in plan["resource_changes"] if rc.get("previous_address"))
    return {**planning.count_actions(plan), "moved": moved}


NOTHING = {"create": 0, "update": 0, "replace": 0, "delete": 0}


@pytest.mark.slow
@pytest.mark.terraform
def test_renames_plan_moves_only(applied, after):
    # GIVEN the committed dev stack of churn and the hub, applied (offline) into a state
    # WHEN the renamed team's and the renamed portfolio/product's stacks are planned against it
    # (the renamed team's hub slice: a new stack name, the old slice's state)
    renamed_as = {("team-renamed", HUB_SLICE): team_stack_name("ml-shared-services", "retention")}

    def plan_all(name):  # one workspace per thread: the stacks plan side by side
        return {
            (transition, name): plan_against_state(
                applied[name], _stack(after[transition], renamed_as.get((transition, name), name))
            )
            for transition in ("team-renamed", "catalog-renamed")
        }

    with ThreadPoolExecutor(max_workers=2) as pool:
        plans = {key: plan for found in pool.map(plan_all, (*APPLIED, HUB_SLICE)) for key, plan in found.items()}
    figures = {key: plan_figures(plan) for key, plan in plans.items()}
    # THEN terraform moves each resource to its new address and changes nothing in AWS; the
    # hub's core stack holds nothing of the team's (its slice moves)
    assert figures == {
        ("team-renamed", "ml-dev-churn"): {**NOTHING, "moved": 10},
        ("team-renamed", "ml-shared-services"): {**NOTHING, "moved": 0},
        ("team-renamed", HUB_SLICE): {**NOTHING, "moved": 15},
        ("catalog-renamed", "ml-dev-churn"): {**NOTHING, "moved": 2},
        ("catalog-renamed", "ml-shared-services"): {
            **NOTHING,
            "moved": 27,
        },  # one persona pattern per portfolio; model-build v4
        ("catalog-renamed", HUB_SLICE): {**NOTHING, "moved": 0},
    }
    # AND summarize says so: moves, no caution
    names = {HUB_SLICE: team_stack_name("ml-shared-services", "retention")}
    reports = [
        summary.stack_report(names.get(name, name), plans[("team-renamed", name)]) for name in (*APPLIED, HUB_SLICE)
    ]
    text = summary.render_markdown(reports)
    assert "CAUTION" not in text
    assert (
        "**Moved to new addresses (renames; nothing changes in AWS):** `ml-dev-churn` 10, "
        "`ml-shared-services-team-retention` 15." in text
    )
    assert len(summary.as_json(reports)["moved"]) == 25
    # AND the broken copy (the same rename without its moved blocks) destroys what it renames
    broken = {k: v for k, v in _stack(after["team-renamed"], "ml-dev-churn").items() if k != "moved"}
    figures = plan_figures(plan_against_state(applied["ml-dev-churn"], broken))
    # (each renamed resource destroyed and created again under its unchanged AWS name)
    assert (figures["delete"], figures["create"], figures["moved"]) == (10, 10, 0)


@pytest.mark.slow
@pytest.mark.terraform
def test_added_region_plans_no_destroy(applied, after):
    # GIVEN ml-dev-churn applied; WHEN eu-central-1 is added to the account and its stack planned
    plan = plan_against_state(applied["ml-dev-churn"], _stack(after["region-added"], "ml-dev-churn"))
    # THEN nothing is destroyed in it: the launch roles and the product boundary widen to the
    # new region (3 updates), and it writes the team's launch parameters there (13 creates: team,
    # cost tags, data and source, through the new region's provider); the new region's 43
    # resources are a new stack
    assert plan_figures(plan) == {**NOTHING, "create": 13, "update": 3, "moved": 0}
    assert sorted(rc["address"] for rc in plan["resource_changes"] if rc["change"]["actions"] == ["update"]) == [
        "aws_iam_policy.catalog_product_boundary",
        "aws_iam_role_policy.catalog_launch_ml_admin",
        "aws_iam_role_policy.catalog_launch_sagemaker_projects",
    ]
    created = [rc for rc in plan["resource_changes"] if rc["change"]["actions"] == ["create"]]
    assert all(rc["type"] == "aws_ssm_parameter" and rc["address"].endswith("_eu_central_1") for rc in created), created
    assert len(_resources(_stack(after["region-added"], "ml-dev-churn-eu-central-1"))) == 43


@pytest.mark.slow
@pytest.mark.terraform
def test_account_rename_plans_no_change_and_no_destroy(applied, after, tmp_path):
    # GIVEN "before" committed, and ml-dev-churn's offline-applied state as its backend holds it
    repo = before_repo(tmp_path)
    states = tmp_path / "states"
    states.mkdir()
    shutil.copyfile(applied["ml-dev-churn"].workdir / "terraform.tfstate", states / "ml-dev-churn.tfstate")
    in_state = len(json.loads((states / "ml-dev-churn.tfstate").read_text())["resources"])
    # AND the spec with the account renamed to ml-dev-retention synthesized over it
    write_tree(after["account-renamed"], repo / "generated")

    def plan_changed(out, *extra):
        args = ["plan", "--offline", "--changed-since", "HEAD", "--stacks-dir", str(repo / "generated" / "stacks")]
        result = CliRunner().invoke(cli, [*args, "--state-dir", str(states), "--out", str(out), *extra])
        assert result.exit_code == 0, result.output
        return json.loads((out / "mlgov-affected.json").read_text())

    # WHEN plan runs on what changed since HEAD
    selection = plan_changed(tmp_path / "plans")
    # THEN the renamed stack is planned against the old stack's state, and no stack is destroyed
    assert (selection["plan"], selection["destroy"]) == (["ml-dev-retention"], [])
    assert [s["renamed_from"] for s in selection["stacks"]] == ["ml-dev-churn"]
    plan = json.loads((tmp_path / "plans" / "ml-dev-retention" / planning.PLAN_JSON).read_text())
    assert plan_figures(plan) == {**NOTHING, "moved": 0}
    assert len(plan["resource_changes"]) == in_state
    # AND a broken copy whose stack takes a state of its own name destroys the old stack and
    # creates every resource again
    stack_dir = repo / "generated" / "stacks" / "ml-dev-retention"
    config = json.loads((stack_dir / "cdk.tf.json").read_text())
    config["terraform"]["backend"]["s3"]["key"] = "mlgov/ml-dev-retention.tfstate"
    (stack_dir / "cdk.tf.json").write_text(json.dumps(config, indent=2))
    manifest = json.loads((repo / "generated" / "mlgov-manifest.json").read_text())
    for entry in manifest["stacks"]:
        if entry["name"] == "ml-dev-retention":
            entry["backend"]["key"] = "mlgov/ml-dev-retention.tfstate"
    (repo / "generated" / "mlgov-manifest.json").write_text(json.dumps(manifest, indent=2))
    selection = plan_changed(tmp_path / "broken", "--stack", "ml-dev-retention")
    assert selection["destroy"] == ["ml-dev-churn"]
    plan = json.loads((tmp_path / "broken" / "ml-dev-retention" / planning.PLAN_JSON).read_text())
    assert plan_figures(plan) == {**NOTHING, "create": in_state, "moved": 0}


def _everything_renamed(data):
    for edit in (_account_renamed, _team_renamed, _catalog_renamed):  # the account first: it names team churn
        edit(data)


@pytest.mark.slow  # starts sh and python (the select step)
def test_renamed_spec_story(render_spec):
    # GIVEN a team, its dev account, a portfolio and a product renamed at once
    if reason := iam.unavailable():
        if ON_CI:
            pytest.fail(f"{reason} (required on CI)")
        pytest.skip(reason)
    text = _edited(_everything_renamed)
    spec, tree = parse_spec(load_yaml(text, "<renamed>")), render_spec(text, "<renamed>")
    # WHEN the platform's story is walked on it (IAM simulator, every handoff)
    # THEN every handoff still works: products build the names the stacks kept
    assert problems(World(spec, tree)) == []
    # AND a broken copy whose dev stack tells products the new name (not the one its roles and
    # groups carry) breaks the launch handoff
    path = "stacks/ml-dev-retention/cdk.tf.json"
    stack = json.loads(tree[path])
    stack["resource"]["aws_ssm_parameter"]["team_name"]["value"] = "retention"
    assert any(
        "/nwa/team/name is not 'churn'" in line
        for line in problems(World(spec, {**tree, path: json.dumps(stack).encode()}))
    )


def _principals_per_team(stack: dict, spec: OrgSpec) -> dict:
    """The hub stack as mlgov built it before one principal pattern per persona: an association per
    team and persona, named after the role (``<portfolio>_<org>_<team>_<persona>``)."""
    out = copy.deepcopy(stack)
    assoc = out["resource"]["aws_servicecatalog_principal_portfolio_association"]
    assert spec.service_catalog is not None
    for pkey, portfolio in sorted(spec.service_catalog.portfolios.items()):
        for persona in portfolio.personas:
            del assoc[naming.free_text_id(pkey, persona_pattern(spec, persona))]
            for team in sorted(spec.teams):
                role = naming.team_role(spec, team, persona.value)
                assoc[naming.free_text_id(pkey, role)] = {
                    "portfolio_id": f"${{aws_servicecatalog_portfolio.{naming.construct_id(pkey)}.id}}",
                    "principal_arn": f"arn:aws:iam:::role/{role}",
                    "principal_type": "IAM_PATTERN",
                }
    return out


@pytest.mark.slow
@pytest.mark.terraform
def test_principal_patterns_replace_the_per_team_associations(default_spec, tf_cli_config, tmp_path):
    # GIVEN the hub as it was with one association per team and persona, applied (offline) into a state
    hub = "ml-shared-services"
    after = json.loads((GENERATED / "stacks" / hub / "cdk.tf.json").read_text())
    before = _principals_per_team(after, default_spec)
    src = tmp_path / "src"
    shutil.copytree(GENERATED / "stacks" / hub, src)
    (src / "cdk.tf.json").write_text(json.dumps(before, indent=2))
    ws = terraform.Workspace(src, tmp_path / "ws", tf_cli_config)
    assert ws.init().ok
    converge(ws, resource_schemas(ws), before["provider"]["aws"][0]["region"])
    # WHEN the committed hub (one pattern per persona) is planned against that state
    plan = plan_against_state(ws, after)
    # THEN the 3 pattern associations are created and the 6 per-team ones destroyed; nothing else changes
    assert plan_figures(plan) == {**NOTHING, "create": 3, "delete": 6, "moved": 0}
    changed = {
        rc["address"]: rc["change"]["actions"]
        for rc in plan["resource_changes"]
        if rc["change"]["actions"] not in (["no-op"], ["read"])
    }
    kind = "aws_servicecatalog_principal_portfolio_association"
    assert changed == {
        **{f"{kind}.{a}": ["delete"] for a in before["resource"][kind] if "_nwa_churn_" in a or "_nwa_fraud_" in a},
        f"{kind}.ml_admin_nwa_lead_data_scientist": ["create"],
        f"{kind}.sagemaker_projects_nwa_data_scientist": ["create"],
        f"{kind}.sagemaker_projects_nwa_lead_data_scientist": ["create"],
    }
    # AND the review summary lists each as a security-relevant change of the hub, no replacement
    text = summary.render_markdown([summary.stack_report(hub, plan)])
    assert f"| `{hub}` | - | 3 | 0 | 0 | 6 |" in text
    assert text.count("| Service Catalog share |") == 9
