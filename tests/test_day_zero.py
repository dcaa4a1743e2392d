"""Day zero and the account lifecycle (docs/day-zero.md), walked as a journey with real tools.

From an organization with only its management account (moto): the bootstrap (Terraform, applied
by terraform against moto; CloudFormation, cfn-lint), the vending plan and apply of the management
stack (Organizations CreateAccount in the spec's OUs), `discover --from-state --write` filling the
ids in place, the first team's stacks planned against the vended ids, then the close transition
(CloseAccount, or MoveAccount to the suspended OU).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from mlgov.cli import cli
from mlgov.errors import SpecError
from mlgov.platform import bootstrap, lifecycle
from mlgov.platform.iam import bootstrap as iam_bootstrap
from mlgov.review import localapply, terraform
from mlgov.review import plan as planning
from mlgov.spec.located import load_yaml
from mlgov.validation import parse_spec
from tests.conftest import ROOT
from tests.test_catalog import cfn_lint

MGMT = "management"
CREDS = {"aws_access_key_id": "mlgov-local", "aws_secret_access_key": "mlgov-local"}


def day_zero_data(*, teams: bool) -> dict:
    """org.yaml as it is before anything but the management account exists: every other account
    declared with an email and no id (the teams only when ``teams``)."""
    data = yaml.safe_load((ROOT / "org.yaml").read_text())
    for key, account in data["accounts"].items():
        if key != MGMT:
            del account["id"]
            account["email"] = f"aws+{key}@northwind.example"
    if not teams:
        data["teams"] = {}
        data["data"].pop("grants")
    return data


def _text(data: dict) -> str:
    return yaml.safe_dump(data, sort_keys=False)


def problems_of(text: str) -> list[str]:
    try:
        parse_spec(load_yaml(text, "day0.yaml"))
    except SpecError as exc:
        return [str(p) for p in exc.problems]
    return []


# -- the spec: what waits, and says which step to run ---------------------------------------


def test_day_zero_spec_has_only_the_management_stack(render_spec):
    # GIVEN an org where only the management account exists, every other account to be created
    text = _text(day_zero_data(teams=False))
    spec = parse_spec(load_yaml(text, "day0.yaml"))
    tree = render_spec(text)
    # THEN the only stack is the management account's, and it creates the six accounts
    assert [r.name for r in spec.stack_refs()] == [MGMT]
    stack = json.loads(tree["stacks/management/cdk.tf.json"])
    accounts = stack["resource"]["aws_organizations_account"]
    assert sorted(accounts) == ["data_lake", "ml_dev_churn", "ml_dev_fraud", "ml_prod", "ml_shared_services", "ml_test"]
    assert accounts["ml_dev_churn"]["parent_id"] == "${aws_organizations_organizational_unit.ml_workloads.id}"
    # AND what needs a new account's id inside it refers to the account, never a guessed id
    admin = stack["resource"]["aws_organizations_delegated_administrator"]["servicecatalog_hub"]
    assert admin["account_id"] == "${aws_organizations_account.ml_shared_services.id}"
    assert stack["output"]["account_ids"]["value"]["ml-test"] == "${aws_organizations_account.ml_test.id}"
    # AND the bootstrap comes with it
    assert {bootstrap.MEMBER_TEMPLATE, bootstrap.MANAGEMENT_TEMPLATE, bootstrap.TERRAFORM_STACK} <= set(tree)


def test_a_team_waits_for_its_accounts_with_one_line_naming_the_step():
    # GIVEN the teams declared while their accounts are not created yet
    lines = problems_of(_text(day_zero_data(teams=True)))
    # THEN validate refuses, one line per reference, naming the step to run (no id is guessed)
    assert lines[0] == (
        "day0.yaml:80: teams.fraud.dev_account: account 'ml-dev-fraud' is not created yet (no id), and team "
        "'fraud' needs its id: apply the management stack (it creates the account), then run `mlgov discover "
        "--write` (or `mlgov discover --write --from-state STATE`) to fill in its id"
    )
    assert len(lines) == 6 and all("not created yet" in line for line in lines)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda d: d["accounts"]["ml-test"].pop("email"), "accounts.ml-test.id: required field is missing"),
        (
            lambda d: d["accounts"]["ml-test"].update(retired=True),
            "accounts.ml-test.retired: an account that was never created cannot be retired",
        ),
        (
            lambda d: d["accounts"]["ml-prod"].update(email="aws+ml-test@northwind.example"),
            "accounts.ml-test.email: duplicate email",
        ),
        (
            lambda d: d["management"].update(vending={"method": "control_tower"}),
            "management.vending.control_tower: method control_tower needs",
        ),
        (
            lambda d: d["management"].update(vending={"suspended_ou": "nowhere"}),
            "management.vending.suspended_ou: unknown OU",
        ),
    ],
)
def test_lifecycle_mistakes_are_one_line_each(edit, expected):
    data = day_zero_data(teams=False)
    edit(data)
    assert [line for line in problems_of(_text(data)) if expected in line], problems_of(_text(data))


# -- the bootstrap ---------------------------------------------------------------------------


def test_terraform_role_trusts_only_the_management_pipeline_and_the_repository(default_spec):
    trust = iam_bootstrap.terraform_trust(default_spec, "440000000005")
    (pipeline, ci) = trust["Statement"]
    assert pipeline["Principal"] == {"AWS": ["arn:aws:iam::110000000001:root", "arn:aws:iam::440000000005:root"]}
    assert pipeline["Condition"] == {
        "ArnEquals": {
            "aws:PrincipalArn": [
                "arn:aws:iam::110000000001:role/mlgov-terraform",
                "arn:aws:iam::440000000005:role/mlgov-terraform",
            ]
        }
    }
    host = "token.actions.githubusercontent.com"
    assert ci["Principal"] == {"Federated": f"arn:aws:iam::440000000005:oidc-provider/{host}"}
    assert ci["Condition"] == {
        "StringEquals": {
            f"{host}:aud": "sts.amazonaws.com",
            f"{host}:sub": [
                "repo:northwind/ml-platform:environment:mlgov-apply",
                "repo:northwind/ml-platform:environment:mlgov-drift",
                "repo:northwind/ml-platform:pull_request",
            ],
        }
    }
    # AND with drift detection off, its environment is not trusted
    off = default_spec.model_copy(
        update={
            "terraform": default_spec.terraform.model_copy(
                update={
                    "ci": default_spec.terraform.ci.model_copy(
                        update={"drift": default_spec.terraform.ci.drift.model_copy(update={"enabled": False})}
                    )
                }
            )
        }
    )
    assert "repo:northwind/ml-platform:environment:mlgov-drift" not in iam_bootstrap.oidc_subjects(off)


def _cfn_files(tree: dict[str, bytes], root: Path) -> list[Path]:
    paths = []
    for rel in (bootstrap.MEMBER_TEMPLATE, bootstrap.MANAGEMENT_TEMPLATE):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(tree[rel])
        paths.append(root / rel)
    return paths


@pytest.mark.slow  # starts cfn-lint
def test_bootstrap_templates_pass_cfn_lint_and_a_broken_copy_does_not(tree, tmp_path):
    files = _cfn_files(tree, tmp_path)
    proc = subprocess.run([*cfn_lint(), "--format", "parseable", *map(str, files)], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout == "", proc.stdout + proc.stderr
    # AND the StackSet is service-managed, deploys to the root, the role template inline
    management = yaml.safe_load(tree[bootstrap.MANAGEMENT_TEMPLATE].decode().replace("!", "_"))
    stack_set = management["Resources"]["TerraformRoleStackSet"]["Properties"]
    assert stack_set["PermissionModel"] == "SERVICE_MANAGED" and stack_set["AutoDeployment"]["Enabled"] is True
    assert stack_set["StackInstancesGroup"][0]["DeploymentTargets"]["OrganizationalUnitIds"] == ["r-nw4a"]
    assert stack_set["TemplateBody"] == tree[bootstrap.MEMBER_TEMPLATE].decode().replace("!", "_")
    # AND a broken copy (versioning misspelt) is caught
    files[1].write_text(files[1].read_text().replace("{Status: Enabled}", "{Status: Paused}", 1))
    proc = subprocess.run([*cfn_lint(), "--format", "parseable", str(files[1])], capture_output=True, text=True)
    assert proc.returncode != 0 and "Paused" in proc.stdout


# Not the AdministratorAccess attachment: moto does not load AWS managed policies by default.
BOOTSTRAP_TYPES = (localapply.MOTO_SUPPORTED - {"aws_iam_role_policy_attachment"}) | {
    "aws_iam_openid_connect_provider",
    "aws_s3_bucket_logging",
}


def _moto_workspace(stack: dict, work: Path, endpoint: str, cli_config: Path, services: tuple[str, ...]):
    src = work / "src"
    src.mkdir(parents=True)
    (src / "cdk.tf.json").write_text(json.dumps(stack, indent=2))
    ws = terraform.Workspace(src, work / "ws", cli_config, offline=False)
    region = stack["provider"]["aws"][0]["region"]
    (ws.workdir / "mlgov_local_override.tf.json").write_text(
        json.dumps(localapply.endpoint_override(endpoint, region, services), indent=2)
    )
    init = ws.init()
    assert init.ok, init.stderr
    return ws


def _apply(ws) -> None:
    done = ws.run("apply", "-auto-approve", "-input=false", "-no-color", "-lock=false", timeout=900)
    assert done.ok, done.stderr[-4000:]


def _plan(ws) -> dict:
    planned = ws.run("plan", "-input=false", "-no-color", "-lock=false", "-out=plan.tfplan", timeout=900)
    assert planned.ok, planned.stderr[-4000:]
    return json.loads(ws.show_json("plan.tfplan").stdout)


def _management_slice(tree: dict[str, bytes]) -> dict:
    """The management stack's OUs, accounts, imports and the ids output (what moto's Organizations covers)."""
    stack = json.loads(tree["stacks/management/cdk.tf.json"])
    slim = {k: v for k, v in stack.items() if k in ("terraform", "provider", "import", "output")}
    slim["resource"] = {
        t: stack["resource"][t]
        for t in ("aws_organizations_organizational_unit", "aws_organizations_account")
        if t in stack["resource"]
    }
    slim["output"] = {k: v for k, v in stack.get("output", {}).items() if k == lifecycle.ACCOUNT_IDS_OUTPUT}
    return slim


@pytest.mark.slow
@pytest.mark.terraform
def test_day_zero_journey(render_spec, tf_cli_config, moto_endpoint, tmp_path):
    import boto3

    from tests.conftest import reset_moto

    reset_moto(moto_endpoint)
    org = boto3.client("organizations", endpoint_url=moto_endpoint, region_name="us-east-1", **CREDS)
    # GIVEN an organization (moto) with only its management account, and the day-zero spec
    made = org.create_organization(FeatureSet="ALL")["Organization"]
    data = day_zero_data(teams=False)
    data["organization"]["id"] = made["Id"]
    data["organization"]["root_id"] = root = org.list_roots()["Roots"][0]["Id"]
    data["accounts"][MGMT]["id"] = made["MasterAccountId"]
    data["terraform"]["state"]["bucket"] = f"nwa-terraform-state-{made['MasterAccountId']}"
    data["management"]["vending"] = {"on_retire": "suspend", "suspended_ou": "suspended"}
    data["organization"]["organizational_units"]["suspended"] = {
        "id": "ou-nw4a-suspend1",
        "description": "Retired accounts.",
    }
    for portfolio in data["service_catalog"]["portfolios"].values():  # another org: not Northwind's released copies
        for product in portfolio["products"].values():
            for version in product["versions"]:
                version.pop("frozen", None)
    spec_file = tmp_path / "org.yaml"
    spec_file.write_text(_text(data))
    tree = render_spec(spec_file)

    # WHEN the bootstrap's Terraform delivery is applied (S3, KMS and IAM: what moto covers)
    stack, dropped = localapply.filter_stack(json.loads(tree[bootstrap.TERRAFORM_STACK]), BOOTSTRAP_TYPES)
    assert dropped == [
        "aws_cloudformation_stack_set.terraform_role",
        "aws_cloudformation_stack_set_instance.terraform_role",
        "aws_iam_role_policy_attachment.terraform_administrator",
    ]
    ws = _moto_workspace(stack, tmp_path / "bootstrap", moto_endpoint, tf_cli_config, ("iam", "kms", "s3", "sts"))
    _apply(ws)
    # THEN the state bucket is versioned, access logged, TLS only; the role trusts only the pipeline and CI
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="eu-west-1", **CREDS)
    bucket = data["terraform"]["state"]["bucket"]
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    assert s3.get_bucket_logging(Bucket=bucket)["LoggingEnabled"]["TargetBucket"] == f"{bucket}-logs"
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    assert policy["Statement"][0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    iam_client = boto3.client("iam", endpoint_url=moto_endpoint, region_name="us-east-1", **CREDS)
    trust = iam_client.get_role(RoleName="mlgov-terraform")["Role"]["AssumeRolePolicyDocument"]
    assert [s["Sid"] for s in trust["Statement"]] == ["ManagementPipeline", "CiPipeline"]

    # WHEN the management stack's vending part is planned and applied (Organizations in moto)
    mgmt = _moto_workspace(
        _management_slice(tree), tmp_path / "management", moto_endpoint, tf_cli_config, ("organizations", "sts")
    )
    plan = _plan(mgmt)
    # THEN it creates the platform's OUs and the six accounts, nothing else
    assert planning.count_actions(plan) == {"create": 11, "update": 0, "replace": 0, "delete": 0}
    _apply(mgmt)
    accounts = {a["Name"]: a for a in org.list_accounts()["Accounts"]}
    assert set(accounts) - {"master"} == set(data["accounts"]) - {MGMT}  # moto names the management account "master"
    ous = {o["Name"]: o["Id"] for o in org.list_organizational_units_for_parent(ParentId=root)["OrganizationalUnits"]}
    dev = accounts["ml-dev-churn"]["Id"]
    assert org.list_parents(ChildId=dev)["Parents"][0]["Id"] == ous["ml-workloads"]

    # WHEN discover fills the ids in from the management stack's state, in place
    state = mgmt.workdir / "terraform.tfstate"
    result = CliRunner().invoke(cli, ["discover", str(spec_file), "--from-state", str(state), "--write"])
    assert result.exit_code == 0, result.output
    written = yaml.safe_load(spec_file.read_text())
    assert {k: a["id"] for k, a in written["accounts"].items()} == {
        MGMT: made["MasterAccountId"],
        **{k: a["Id"] for k, a in accounts.items() if k != "master"},
    }
    assert '    id: "' + dev + '"\n    layer: dev' in spec_file.read_text()  # a new line, the rest untouched

    # WHEN the first teams are added (and the OU ids the management stack created are filled in)
    for name in data["organization"]["organizational_units"]:
        if name in ous:
            written["organization"]["organizational_units"][name]["id"] = ous[name]
    original = yaml.safe_load((ROOT / "org.yaml").read_text())
    written["teams"], written["data"]["grants"] = original["teams"], original["data"]["grants"]
    spec_file.write_text(_text(written))
    tree = render_spec(spec_file)
    # THEN every account has its stacks, which name the vended ids
    names = sorted(p.split("/")[1] for p in tree if p.startswith("stacks/") and p.endswith("/cdk.tf.json"))
    assert names == sorted(
        ["data-lake", MGMT, "ml-dev-churn", "ml-dev-fraud", "ml-prod", "ml-shared-services", "ml-test"]
        + [
            f"{account}-team-{team}"
            for account in ("ml-prod", "ml-shared-services", "ml-test")
            for team in ("churn", "fraud")
        ]
    )
    churn = json.loads(tree["stacks/ml-dev-churn/cdk.tf.json"])
    assert churn["provider"]["aws"][0]["allowed_account_ids"] == [dev]
    # AND the team's dev stack plans (real terraform, offline)
    src = tmp_path / "churn"
    src.mkdir()
    (src / "cdk.tf.json").write_bytes(tree["stacks/ml-dev-churn/cdk.tf.json"])
    for rel, blob in tree.items():
        if rel.startswith("stacks/ml-dev-churn/") and not rel.endswith("cdk.tf.json"):
            (src / rel.split("/", 2)[2]).write_bytes(blob)
    team = terraform.Workspace(src, tmp_path / "churn-ws", tf_cli_config)
    assert team.init().ok
    planned = team.plan()
    assert planned.ok, planned.stderr[-3000:]
    assert planning.count_actions(json.loads(team.show_json().stdout))["create"] > 50
    # AND the management stack, now with literal ids, plans no change to the accounts (import blocks are no-ops)
    (mgmt.workdir / "cdk.tf.json").write_text(json.dumps(_management_slice(tree), indent=2))
    again = _plan(mgmt)
    assert planning.count_actions(again) == {"create": 0, "update": 0, "replace": 0, "delete": 0}

    # WHEN team churn leaves and its account is retired (on_retire: suspend)
    del written["teams"]["churn"], written["data"]["grants"]["churn"]
    written["accounts"]["ml-dev-churn"]["retired"] = True
    assert "ml-dev-churn" not in written["management"]["guardrails"]["exempt_accounts"]  # none is exempt
    written["organization"]["organizational_units"]["suspended"]["id"] = ous["suspended"]
    suspended = render_spec(_text(written))
    assert "stacks/ml-dev-churn/cdk.tf.json" not in suspended  # its stack is planned as a destroy
    (mgmt.workdir / "cdk.tf.json").write_text(json.dumps(_management_slice(suspended), indent=2))
    plan = _plan(mgmt)
    # THEN the account moves to the suspended OU (an in-place update), and is not closed
    changed = {
        rc["address"]: rc["change"]["actions"]
        for rc in plan["resource_changes"]
        if rc["change"]["actions"] != ["no-op"]
    }
    assert changed == {"aws_organizations_account.ml_dev_churn": ["update"]}
    _apply(mgmt)
    assert org.list_parents(ChildId=dev)["Parents"][0]["Id"] == ous["suspended"]
    # AND the suspended OU carries the deny-all SCP
    scps = json.loads(suspended["stacks/management/cdk.tf.json"])["resource"]["aws_organizations_policy_attachment"]
    assert scps["suspended_accounts__suspended"]["target_id"] == "${aws_organizations_organizational_unit.suspended.id}"

    # WHEN the org closes retired accounts instead (on_retire: close)
    written["management"]["vending"] = {"on_retire": "close"}
    closing = render_spec(_text(written))
    config = _management_slice(closing)
    (mgmt.workdir / "cdk.tf.json").write_text(json.dumps(config, indent=2))
    plan = _plan(mgmt)
    # THEN the retired account's resource leaves the configuration: a delete that closes the account
    deleted = [rc["address"] for rc in plan["resource_changes"] if rc["change"]["actions"] == ["delete"]]
    assert deleted == ["aws_organizations_account.ml_dev_churn"]
    before = next(r for r in json.loads(state.read_text())["resources"] if r["name"] == "ml_dev_churn")
    assert before["instances"][0]["attributes"]["close_on_deletion"] is True  # CloseAccount, never RemoveAccount
    _apply(mgmt)
    assert org.describe_account(AccountId=dev)["Account"]["Status"] != "ACTIVE"
