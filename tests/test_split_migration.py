"""Day two: an org applied with the combined stacks moves to the team slices, nothing destroyed.

tests/cases/unsplit/ holds two stacks exactly as the previous layout generated them for
org.yaml (commit 32491ff's generated/, the release before the slices: the hub and ml-prod, each
holding every team's resources, the hub also every team's artifact store). The moto-appliable
part of each is applied to moto (a real ``terraform apply``); ``mlgov migrate split-stacks``
then reads that state and writes the ``import`` and ``removed`` blocks; and real ``terraform
plan`` runs against moto show the core stack forgetting the moved resources (no destroy) and
each team slice importing them (no create, no destroy, no replace).

moto serves IAM, S3, SQS, EventBridge, SNS and CloudWatch alarms, so the moved roles, role
policies, artifact stores, dead-letter queues and their policies, approval rules and targets,
alarm topics, their policies and e-mail subscriptions and the alarms are planned for real. It
does not serve what the provider needs of CodeBuild projects, CodePipeline pipelines and ECR
repositories (:mod:`mlgov.review.localapply`): their import ids are checked by value below
(names only) but not planned.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlgov.cli import cli
from mlgov.review import localapply, terraform
from mlgov.review import migrate as migration
from mlgov.spec.model import team_stack_name
from tests.conftest import ROOT, reset_moto

UNSPLIT = ROOT / "tests" / "cases" / "unsplit"
GENERATED = ROOT / "generated"
# What moto serves of the moved resources (besides localapply.MOTO_SUPPORTED).
MOVED_TYPES = localapply.MOTO_SUPPORTED | {
    "aws_sns_topic",
    "aws_sns_topic_policy",
    "aws_sns_topic_subscription",
    "aws_cloudwatch_metric_alarm",
}
SERVICES = (*localapply.SERVICES, "sns", "cloudwatch")
MOTO_ACCOUNT = "123456789012"  # moto's default account


def _generated_tree() -> dict[str, bytes]:
    return {p.relative_to(GENERATED).as_posix(): p.read_bytes() for p in GENERATED.rglob("*.json")}


def _state(address_ids: dict[str, str]) -> dict:
    resources = []
    for address, rid in sorted(address_ids.items()):
        rtype, name = address.split(".")
        resources.append(
            {
                "mode": "managed",
                "type": rtype,
                "name": name,
                "provider": 'provider["registry.terraform.io/hashicorp/aws"]',
                "instances": [{"schema_version": 0, "attributes": {"id": rid}}],
            }
        )
    return {"version": 4, "terraform_version": "1.11.4", "serial": 1, "lineage": "x", "resources": resources}


# -- the blocks (fast) -------------------------------------------------------------------------


def test_every_moved_resource_gets_an_import_id_from_its_names(default_spec, tmp_path):
    # GIVEN the old ml-prod state (every address of the combined stack, subscriptions by ARN)
    old = json.loads((UNSPLIT / "ml-prod.tf.json").read_text())["resource"]
    ids = {f"{t}.{n}": f"old-id-of-{n}" for t, items in old.items() for n in items}
    (tmp_path / "ml-prod.tfstate").write_text(json.dumps(_state(ids)))
    # WHEN the migration is planned
    fragments = migration.plan_fragments(
        default_spec, _generated_tree(), {"ml-prod": tmp_path / "ml-prod.tfstate"}, {"ml-prod"}
    )
    # THEN every resource of ml-prod's slices is imported, and forgotten (never destroyed) by the core
    slices = [ref for ref in default_spec.stack_refs() if ref.core == "ml-prod" and ref.is_slice]
    moved = set()
    for ref in slices:
        stack = json.loads((GENERATED / "stacks" / ref.name / "cdk.tf.json").read_text())
        addresses = {f"{t}.{n}" for t, items in stack["resource"].items() for n in items}
        assert {b["to"] for b in fragments[ref.name]["import"]} == addresses
        moved |= addresses
    assert fragments["ml-prod"] == {"removed": [{"from": a, "lifecycle": {"destroy": False}} for a in sorted(moved)]}
    by_address = {b["to"]: b["id"] for ref in slices for b in fragments[ref.name]["import"]}
    # ids from names, as AWS knows them; the subscription's from the old state
    assert by_address["aws_iam_role.fraud_endpoint"] == "nwa-fraud-endpoint"
    assert by_address["aws_iam_role_policy.fraud_endpoint"] == "nwa-fraud-endpoint:nwa-fraud-endpoint"
    assert by_address["aws_sns_topic.fraud_monitoring"] == "arn:aws:sns:eu-west-1:550000000006:nwa-fraud-monitoring"
    assert by_address["aws_sns_topic_policy.fraud_monitoring"] == by_address["aws_sns_topic.fraud_monitoring"]
    assert by_address["aws_cloudwatch_metric_alarm.fraud_card_scoring_5xx"] == "nwa-fraud-card-scoring-5xx"
    sub = "aws_sns_topic_subscription.fraud_contact_fraud_ml_northwind_example"
    assert by_address[sub] == "old-id-of-fraud_contact_fraud_ml_northwind_example"


def test_hub_slices_import_by_name(default_spec):
    fragments = migration.plan_fragments(default_spec, _generated_tree(), {}, {"ml-shared-services"})
    ids = {b["to"]: b["id"] for b in fragments["ml-shared-services-team-fraud"]["import"]}
    assert ids["aws_codepipeline.fraud_card_scoring"] == "nwa-fraud-card-scoring-deploy"
    assert ids["aws_codebuild_project.fraud_card_scoring"] == "nwa-fraud-card-scoring-select"
    assert ids["aws_cloudwatch_event_rule.fraud_card_scoring"] == "nwa-fraud-card-scoring-approved"
    assert ids["aws_cloudwatch_event_target.fraud_card_scoring"] == "nwa-fraud-card-scoring-approved/deploy-pipeline"
    # the team's artifact store and its configuration: by the bucket's name
    store = "nwa-pipeline-fraud-220000000002-eu-west-1"
    assert {a: i for a, i in ids.items() if a.split(".")[0].startswith("aws_s3_bucket")} == {
        f"{rtype}.pipeline_fraud": store
        for rtype in (
            "aws_s3_bucket",
            "aws_s3_bucket_lifecycle_configuration",
            "aws_s3_bucket_ownership_controls",
            "aws_s3_bucket_policy",
            "aws_s3_bucket_public_access_block",
            "aws_s3_bucket_server_side_encryption_configuration",
            "aws_s3_bucket_versioning",
        )
    }
    assert ids["aws_ecr_repository.fraud"] == ids["aws_ecr_repository_policy.fraud"] == "nwa/fraud"
    queue = "https://sqs.eu-west-1.amazonaws.com/220000000002/nwa-fraud-card-scoring-approved-dlq"
    assert ids["aws_sqs_queue.fraud_card_scoring_approved_dlq"] == queue
    assert ids["aws_sqs_queue_policy.fraud_card_scoring_approved_dlq"] == queue
    removed = {b["from"] for b in fragments["ml-shared-services"]["removed"]}
    assert set(ids) <= removed and all(
        b["lifecycle"] == {"destroy": False} for b in fragments["ml-shared-services"]["removed"]
    )


def test_generated_ids_are_never_guessed(tmp_path):
    # GIVEN no old state: an SNS subscription's ARN is AWS's choice, so the command refuses in one line
    shutil.copy(ROOT / "org.yaml", tmp_path / "org.yaml")
    result = CliRunner().invoke(cli, ["migrate", "split-stacks", str(tmp_path / "org.yaml")])
    assert result.exit_code == 2
    (line,) = result.output.splitlines()
    assert line.startswith("error: ml-prod-team-fraud: aws_sns_topic_subscription.") and "--state ml-prod=FILE" in line
    assert not (tmp_path / "customizations").exists()


def test_unknown_resource_type_is_refused(default_spec):
    tree = _generated_tree()
    name = "stacks/ml-test-team-churn/cdk.tf.json"
    stack = json.loads(tree[name])
    stack["resource"]["aws_new_thing"] = {"x": {"name": "x"}}
    tree[name] = json.dumps(stack).encode()
    with pytest.raises(migration.MigrationError, match=r"aws_new_thing.x: no known import id for aws_new_thing"):
        migration.plan_fragments(default_spec, tree, {}, {"ml-test"})


def test_fragments_are_deterministic_and_never_overwrite(default_spec, tmp_path):
    files = migration.fragment_files(
        migration.plan_fragments(default_spec, _generated_tree(), {"ml-prod": _old(tmp_path)}, {"ml-prod"})
    )
    assert files == migration.fragment_files(
        migration.plan_fragments(default_spec, _generated_tree(), {"ml-prod": _old(tmp_path)}, {"ml-prod"})
    )
    migration.write_fragments(tmp_path, files)
    migration.write_fragments(tmp_path, files)  # the same bytes again: fine
    target = tmp_path / next(iter(sorted(files)))
    target.write_text("{}\n")
    with pytest.raises(migration.MigrationError, match="already exists with other content"):
        migration.write_fragments(tmp_path, files)


def _old(tmp_path: Path) -> Path:
    old = json.loads((UNSPLIT / "ml-prod.tf.json").read_text())["resource"]
    path = tmp_path / "old-ml-prod.tfstate"
    path.write_text(json.dumps(_state({f"{t}.{n}": f"id-{n}" for t, items in old.items() for n in items})))
    return path


# -- real plans against moto -------------------------------------------------------------------


def _workspace(stack: dict, src: Path, work: Path, cli_config: Path, endpoint: str) -> terraform.Workspace:
    src.mkdir(parents=True)
    (src / "cdk.tf.json").write_text(json.dumps(stack, indent=2))
    ws = terraform.Workspace(src, work, cli_config, offline=False)
    override = localapply.endpoint_override(endpoint, stack["provider"]["aws"][0]["region"], SERVICES)
    (ws.workdir / "mlgov_local_override.tf.json").write_text(json.dumps(override, indent=2))
    init = ws.init()
    assert init.ok, init.stderr
    return ws


def _in_moto(rid: str, account_id: str) -> str:
    """An import id with the account of an ARN (``:id:``) or a queue URL (``/id/``) moto's."""
    return rid.replace(f":{account_id}:", f":{MOTO_ACCOUNT}:").replace(f"/{account_id}/", f"/{MOTO_ACCOUNT}/")


def _plan(ws: terraform.Workspace) -> dict:
    planned = ws.run("plan", "-input=false", "-no-color", "-lock=false", "-out=plan.tfplan", timeout=900)
    assert planned.ok, planned.stderr[-4000:]
    shown = ws.show_json("plan.tfplan")
    assert shown.ok, shown.stderr
    return json.loads(shown.stdout)


@pytest.mark.slow
@pytest.mark.terraform
@pytest.mark.parametrize("core", ["ml-prod", "ml-shared-services"])
def test_migration_plans_no_destroy_and_no_replace(core, default_spec, tf_cli_config, moto_endpoint, tmp_path):
    # GIVEN the old combined stack applied to moto (what moto serves of it)
    reset_moto(moto_endpoint)
    old, _ = localapply.filter_stack(json.loads((UNSPLIT / f"{core}.tf.json").read_text()), MOVED_TYPES)
    before = _workspace(old, tmp_path / "old-src", tmp_path / "old", tf_cli_config, moto_endpoint)
    applied = before.run("apply", "-auto-approve", "-input=false", "-no-color", "-lock=false", timeout=900)
    assert applied.ok, applied.stderr[-4000:]
    state_file = before.workdir / "terraform.tfstate"
    # WHEN mlgov writes the migration from that state, and the new stacks are planned against moto
    fragments = migration.plan_fragments(default_spec, _generated_tree(), {core: state_file}, {core})
    new_core = json.loads((GENERATED / "stacks" / core / "cdk.tf.json").read_text())
    new_core, _ = localapply.filter_stack(new_core, MOVED_TYPES)
    new_core["removed"] = fragments[core]["removed"]
    after = _workspace(new_core, tmp_path / "core-src", tmp_path / "core", tf_cli_config, moto_endpoint)
    shutil.copy(state_file, after.workdir / "terraform.tfstate")
    core_plan = _plan(after)
    # THEN the core stack forgets what moved and destroys or replaces nothing
    actions = {rc["address"]: rc["change"]["actions"] for rc in core_plan["resource_changes"]}
    moved = {b["from"] for b in fragments[core]["removed"]}
    assert not [a for a, act in actions.items() if "delete" in act], actions
    forgotten = {a for a, act in actions.items() if act == ["forget"]}
    held = {f"{r['type']}.{r['name']}" for r in json.loads(state_file.read_text())["resources"]}
    assert forgotten == moved & held and forgotten
    assert all(act in (["no-op"], ["update"], ["forget"]) for act in actions.values()), actions
    # AND each team slice imports exactly those resources: nothing created, destroyed or replaced
    imported: set[str] = set()
    for ref in [r for r in default_spec.stack_refs() if r.core == core and r.is_slice]:
        stack = json.loads((GENERATED / "stacks" / ref.name / "cdk.tf.json").read_text())
        stack, _ = localapply.filter_stack(stack, MOVED_TYPES)
        kept = {f"{t}.{n}" for t, items in stack.get("resource", {}).items() for n in items}
        # moto keeps everything in its own account: an id naming the stack's account (an ARN, a
        # queue URL) names moto's instead; the id's form is otherwise exactly mlgov's, and a name
        # that merely contains the account id (an artifact store's bucket) stays as it is.
        account_id = default_spec.accounts[ref.account].id
        stack["import"] = [
            {"to": b["to"], "id": _in_moto(b["id"], account_id)}
            for b in fragments[ref.name]["import"]
            if b["to"] in kept
        ]
        ws = _workspace(stack, tmp_path / f"{ref.name}-src", tmp_path / ref.name, tf_cli_config, moto_endpoint)
        plan = _plan(ws)
        for rc in plan["resource_changes"]:
            assert rc["change"]["actions"] in (["no-op"], ["update"]), (
                ref.name,
                rc["address"],
                rc["change"]["actions"],
            )
            assert rc["change"].get("importing"), (ref.name, rc["address"])
            imported.add(rc["address"])
        assert {rc["address"] for rc in plan["resource_changes"]} == kept
    assert imported == forgotten
    assert team_stack_name(core, "fraud") in fragments
