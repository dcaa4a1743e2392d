"""The day-zero steps of the story (docs/day-zero.md): an organization from its management account
alone to its first team, and a team's departure, with real terraform against moto.

- bootstrap: the bootstrap's Terraform delivery applied (S3, KMS, IAM: what moto covers): the
  state bucket versioned, access logged, TLS only; the Terraform role and the read-only plan role
  trusting only the management pipeline and the CI.
- vend: the management stack's OUs and accounts planned (the platform's OUs and every account
  declared without an id: creates only) and applied (Organizations CreateAccount, each account in
  its OU).
- discover: ``discover --from-state --write`` fills the ids in place from the management stack's state.
- first team: the teams added; every account has its stacks, naming the vended ids; the team's
  dev stack plans (offline); the management stack, now with literal ids, plans no change.
- close: team churn leaves and its account is retired. Its stacks (its dev account's, its slices
  of the hub and the stage accounts) leave the tree; the stacks that stay lose exactly its grants
  (the data lake's); with ``on_retire: suspend`` the account moves to the suspended OU (under the
  deny-all SCP), with ``close`` its resource leaves the configuration and the provider closes it.

The walk is one test (tests/journey/test_day_zero_journey.py): each step needs the state the
previous one left in moto. The state objects the closed team leaves are cleaned by ``mlgov
clean-state`` (tests/test_day_zero.py, moto), its grants' destroy is planned against a real
state there too (the data lake's stack).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import yaml
from click.testing import CliRunner

from mlgov.cli import cli
from mlgov.platform import bootstrap, lifecycle
from mlgov.review import localapply, terraform
from mlgov.review import plan as planning
from tests.conftest import ROOT

MGMT = "management"
CREDS = {"aws_access_key_id": "mlgov-local", "aws_secret_access_key": "mlgov-local"}
# Not the AdministratorAccess attachment: moto does not load AWS managed policies by default.
BOOTSTRAP_TYPES = (localapply.MOTO_SUPPORTED - {"aws_iam_role_policy_attachment"}) | {
    "aws_iam_openid_connect_provider",
    "aws_s3_bucket_logging",
}
CLOSED_TEAM, CLOSED_ACCOUNT = "churn", "ml-dev-churn"


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


def spec_text(data: dict) -> str:
    return yaml.safe_dump(data, sort_keys=False)


def close_team(data: dict) -> None:
    """The spec edit of a team's departure: team churn and its grants removed, its dev account retired."""
    del data["teams"][CLOSED_TEAM], data["data"]["grants"][CLOSED_TEAM]
    data["accounts"][CLOSED_ACCOUNT]["retired"] = True


def closed_churn_data() -> dict:
    """org.yaml after team churn left: its dev account retired (owned, suspended), its grants gone."""
    data = yaml.safe_load((ROOT / "org.yaml").read_text())
    data["accounts"][CLOSED_ACCOUNT]["email"] = f"aws+{CLOSED_ACCOUNT}@northwind.example"
    close_team(data)
    data["management"]["vending"] = {"on_retire": "suspend", "suspended_ou": "suspended"}
    data["organization"]["organizational_units"]["suspended"] = {"id": "ou-nw4a-suspend1", "description": "Retired."}
    return data


def stack_names(tree: dict[str, bytes]) -> set[str]:
    return {p.split("/")[1] for p in tree if p.startswith("stacks/") and p.endswith("/cdk.tf.json")}


def addresses(tree: dict[str, bytes], stack: str) -> set[str]:
    doc = json.loads(tree[f"stacks/{stack}/cdk.tf.json"])
    return {f"{t}.{n}" for t, items in doc.get("resource", {}).items() for n in items}


def removed_by_close(before: dict[str, bytes], after: dict[str, bytes]) -> tuple[set[str], dict[str, set[str]]]:
    """(stacks that leave the tree, {stack that stays: addresses it loses}) between two trees."""
    gone = stack_names(before) - stack_names(after)
    lost = {s: addresses(before, s) - addresses(after, s) for s in sorted(stack_names(before) & stack_names(after))}
    return gone, {s: a for s, a in lost.items() if a}


def moto_workspace(stack: dict, work: Path, endpoint: str, cli_config: Path, services: tuple[str, ...]):
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


def apply(ws) -> None:
    done = ws.run("apply", "-auto-approve", "-input=false", "-no-color", "-lock=false", timeout=900)
    assert done.ok, done.stderr[-4000:]


def plan(ws) -> dict:
    planned = ws.run("plan", "-input=false", "-no-color", "-lock=false", "-out=plan.tfplan", timeout=900)
    assert planned.ok, planned.stderr[-4000:]
    return json.loads(ws.show_json("plan.tfplan").stdout)


def management_slice(tree: dict[str, bytes]) -> dict:
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


class DayZero:
    """The walk's state between steps: the spec file, moto's clients, the workspaces, the ids."""

    STEPS = ("bootstrap", "vend", "discover", "first_team", "close")

    def __init__(self, render_spec, cli_config: Path, endpoint: str, work: Path) -> None:
        import boto3

        from tests.conftest import reset_moto

        self.render, self.cli_config, self.endpoint, self.work = render_spec, cli_config, endpoint, work
        reset_moto(endpoint)
        self.org = boto3.client("organizations", endpoint_url=endpoint, region_name="us-east-1", **CREDS)
        self.boto3 = boto3
        # GIVEN an organization (moto) with only its management account, and the day-zero spec
        made = self.org.create_organization(FeatureSet="ALL")["Organization"]
        self.management_id = made["MasterAccountId"]
        data = day_zero_data(teams=False)
        data["organization"]["id"] = made["Id"]
        data["organization"]["root_id"] = self.root = self.org.list_roots()["Roots"][0]["Id"]
        data["accounts"][MGMT]["id"] = self.management_id
        data["terraform"]["state"]["bucket"] = f"nwa-terraform-state-{self.management_id}"
        data["management"]["vending"] = {"on_retire": "suspend", "suspended_ou": "suspended"}
        data["organization"]["organizational_units"]["suspended"] = {
            "id": "ou-nw4a-suspend1",
            "description": "Retired accounts.",
        }
        for portfolio in data["service_catalog"]["portfolios"].values():  # another org: not Northwind's copies
            for product in portfolio["products"].values():
                for version in product["versions"]:
                    version.pop("frozen", None)
        self.data = data
        self.spec_file = work / "org.yaml"
        self.spec_file.write_text(spec_text(data))
        self.tree = render_spec(self.spec_file)

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Names the step in a failure (the walk is one test)."""
        try:
            yield
        except AssertionError as exc:
            raise AssertionError(f"day zero, step {name!r}: {exc}") from exc

    def client(self, service: str, region: str):
        return self.boto3.client(service, endpoint_url=self.endpoint, region_name=region, **CREDS)

    def bootstrap(self) -> None:
        stack, dropped = localapply.filter_stack(json.loads(self.tree[bootstrap.TERRAFORM_STACK]), BOOTSTRAP_TYPES)
        assert dropped == [
            "aws_cloudformation_stack_set.terraform_role",
            "aws_cloudformation_stack_set_instance.terraform_role",
            "aws_iam_role_policy_attachment.terraform_administrator",
            "aws_iam_role_policy_attachment.terraform_plan_read_only",
        ]
        ws = moto_workspace(stack, self.work / "bootstrap", self.endpoint, self.cli_config, ("iam", "kms", "s3", "sts"))
        apply(ws)
        # THEN the state bucket is versioned, access logged, TLS only; the role trusts only the pipeline and CI
        s3 = self.client("s3", "eu-west-1")
        bucket = self.data["terraform"]["state"]["bucket"]
        assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
        assert s3.get_bucket_logging(Bucket=bucket)["LoggingEnabled"]["TargetBucket"] == f"{bucket}-logs"
        policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
        assert policy["Statement"][0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        iam = self.client("iam", "us-east-1")
        trust = iam.get_role(RoleName="mlgov-terraform")["Role"]["AssumeRolePolicyDocument"]
        assert [s["Sid"] for s in trust["Statement"]] == ["ManagementPipeline", "CiPipeline"]
        # AND the read-only plan role beside it: its own trust (the CI's plan tokens), its policy's deny
        plan_trust = iam.get_role(RoleName="mlgov-terraform-plan")["Role"]["AssumeRolePolicyDocument"]
        assert [s["Sid"] for s in plan_trust["Statement"]] == ["ManagementPipeline", "CiPipeline"]
        assert plan_trust["Statement"][1] != trust["Statement"][1]
        plan_policy = iam.get_role_policy(RoleName="mlgov-terraform-plan", PolicyName="terraform-plan")
        assert [s["Sid"] for s in plan_policy["PolicyDocument"]["Statement"]][-1] == "DenyWrites"

    def vend(self) -> None:
        self.mgmt = moto_workspace(
            management_slice(self.tree),
            self.work / "management",
            self.endpoint,
            self.cli_config,
            ("organizations", "sts"),
        )
        planned = plan(self.mgmt)
        # THEN it creates the platform's OUs and the six accounts, nothing else
        assert planning.count_actions(planned) == {"create": 11, "update": 0, "replace": 0, "delete": 0}
        apply(self.mgmt)
        self.accounts = {a["Name"]: a for a in self.org.list_accounts()["Accounts"]}
        # moto names the management account "master"
        assert set(self.accounts) - {"master"} == set(self.data["accounts"]) - {MGMT}
        self.ous = {
            o["Name"]: o["Id"]
            for o in self.org.list_organizational_units_for_parent(ParentId=self.root)["OrganizationalUnits"]
        }
        self.dev = self.accounts[CLOSED_ACCOUNT]["Id"]
        assert self.org.list_parents(ChildId=self.dev)["Parents"][0]["Id"] == self.ous["ml-workloads"]

    def discover(self) -> None:
        self.state = self.mgmt.workdir / "terraform.tfstate"
        result = CliRunner().invoke(cli, ["discover", str(self.spec_file), "--from-state", str(self.state), "--write"])
        assert result.exit_code == 0, result.output
        self.written = yaml.safe_load(self.spec_file.read_text())
        assert {k: a["id"] for k, a in self.written["accounts"].items()} == {
            MGMT: self.management_id,
            **{k: a["Id"] for k, a in self.accounts.items() if k != "master"},
        }
        assert (
            '    id: "' + self.dev + '"\n    layer: dev' in self.spec_file.read_text()
        )  # a new line, the rest untouched

    def first_team(self) -> None:
        written = self.written
        for name in self.data["organization"]["organizational_units"]:  # the OU ids the stack created
            if name in self.ous:
                written["organization"]["organizational_units"][name]["id"] = self.ous[name]
        original = yaml.safe_load((ROOT / "org.yaml").read_text())
        written["teams"], written["data"]["grants"] = original["teams"], original["data"]["grants"]
        self.spec_file.write_text(spec_text(written))
        self.tree = tree = self.render(self.spec_file)
        # THEN every account has its stacks, which name the vended ids
        assert sorted(stack_names(tree)) == sorted(
            ["data-lake", MGMT, "ml-dev-churn", "ml-dev-fraud", "ml-prod", "ml-shared-services", "ml-test"]
            + [
                f"{account}-team-{team}"
                for account in ("ml-prod", "ml-shared-services", "ml-test")
                for team in ("churn", "fraud")
            ]
        )
        churn = json.loads(tree["stacks/ml-dev-churn/cdk.tf.json"])
        assert churn["provider"]["aws"][0]["allowed_account_ids"] == [self.dev]
        # AND the team's dev stack plans (real terraform, offline)
        src = self.work / "churn"
        src.mkdir()
        (src / "cdk.tf.json").write_bytes(tree["stacks/ml-dev-churn/cdk.tf.json"])
        for rel, blob in tree.items():
            if rel.startswith("stacks/ml-dev-churn/") and not rel.endswith("cdk.tf.json"):
                (src / rel.split("/", 2)[2]).write_bytes(blob)
        team = terraform.Workspace(src, self.work / "churn-ws", self.cli_config)
        assert team.init().ok
        planned = team.plan()
        assert planned.ok, planned.stderr[-3000:]
        assert planning.count_actions(json.loads(team.show_json().stdout))["create"] > 50
        # AND the management stack, now with literal ids, plans no change to the accounts (import blocks are no-ops)
        (self.mgmt.workdir / "cdk.tf.json").write_text(json.dumps(management_slice(tree), indent=2))
        assert planning.count_actions(plan(self.mgmt)) == {"create": 0, "update": 0, "replace": 0, "delete": 0}

    def close(self) -> None:
        written = self.written
        close_team(written)
        assert CLOSED_ACCOUNT not in written["management"]["guardrails"]["exempt_accounts"]  # none is exempt
        written["organization"]["organizational_units"]["suspended"]["id"] = self.ous["suspended"]
        suspended = self.render(spec_text(written))
        # THEN the team's stacks leave the tree (planned as destroys), and the stacks that stay lose
        # exactly its grants: the data lake's Lake Formation permissions of the team, nothing else
        gone, lost = removed_by_close(self.tree, suspended)
        assert gone == {CLOSED_ACCOUNT} | {
            f"{a}-team-{CLOSED_TEAM}" for a in ("ml-prod", "ml-shared-services", "ml-test")
        }
        assert {s: sorted(a) for s, a in lost.items()} == {
            "data-lake": [
                f"aws_lakeformation_permissions.{CLOSED_TEAM}__nwa_feature_store",
                f"aws_lakeformation_permissions.{CLOSED_TEAM}__nwa_feature_store__customer_activity",
            ]
        }
        (self.mgmt.workdir / "cdk.tf.json").write_text(json.dumps(management_slice(suspended), indent=2))
        planned = plan(self.mgmt)
        # AND with on_retire: suspend the account moves to the suspended OU (an in-place update), not closed
        changed = {
            rc["address"]: rc["change"]["actions"]
            for rc in planned["resource_changes"]
            if rc["change"]["actions"] != ["no-op"]
        }
        assert changed == {"aws_organizations_account.ml_dev_churn": ["update"]}
        apply(self.mgmt)
        assert self.org.list_parents(ChildId=self.dev)["Parents"][0]["Id"] == self.ous["suspended"]
        # AND the suspended OU carries the deny-all SCP
        stack = json.loads(suspended["stacks/management/cdk.tf.json"])
        scps = stack["resource"]["aws_organizations_policy_attachment"]
        assert (
            scps["suspended_accounts__suspended"]["target_id"]
            == "${aws_organizations_organizational_unit.suspended.id}"
        )

        # WHEN the org closes retired accounts instead (on_retire: close)
        written["management"]["vending"] = {"on_retire": "close"}
        (self.mgmt.workdir / "cdk.tf.json").write_text(
            json.dumps(management_slice(self.render(spec_text(written))), indent=2)
        )
        planned = plan(self.mgmt)
        # THEN the retired account's resource leaves the configuration: a delete that closes the account
        deleted = [rc["address"] for rc in planned["resource_changes"] if rc["change"]["actions"] == ["delete"]]
        assert deleted == ["aws_organizations_account.ml_dev_churn"]
        before = next(r for r in json.loads(self.state.read_text())["resources"] if r["name"] == "ml_dev_churn")
        assert before["instances"][0]["attributes"]["close_on_deletion"] is True  # CloseAccount, never RemoveAccount
        apply(self.mgmt)
        assert self.org.describe_account(AccountId=self.dev)["Account"]["Status"] != "ACTIVE"
