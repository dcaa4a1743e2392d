"""Day zero and the account lifecycle (docs/day-zero.md): the spec, the bootstrap, closing.

The spec while accounts wait for their ids; the bootstrap's trust, its CloudFormation delivery
(cfn-lint, and applied against moto: the management stack, then its StackSet), its trusts counted
by the quota model; the state objects a closed team leaves (``clean-state``, moto). The walk from
an organization with only its management account to its first team and the close transition is
the journey's day-zero step (tests/journey/day_zero_steps.py, tests/journey/test_day_zero_journey.py).
"""

from __future__ import annotations

import ast
import json
import subprocess
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from mlgov.cli import cli
from mlgov.errors import SpecError
from mlgov.platform import bootstrap, naming
from mlgov.platform.iam import bootstrap as iam_bootstrap
from mlgov.spec.located import load_yaml
from mlgov.validation import parse_spec
from tests.conftest import ROOT
from tests.journey.day_zero_steps import MGMT, closed_churn_data, day_zero_data, spec_text
from tests.test_catalog import cfn_lint


def problems_of(text: str) -> list[str]:
    try:
        parse_spec(load_yaml(text, "day0.yaml"))
    except SpecError as exc:
        return [str(p) for p in exc.problems]
    return []


# -- the spec: what waits, and says which step to run ---------------------------------------


def test_day_zero_spec_has_only_the_management_stack(render_spec):
    # GIVEN an org where only the management account exists, every other account to be created
    text = spec_text(day_zero_data(teams=False))
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
    lines = problems_of(spec_text(day_zero_data(teams=True)))
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
    assert [line for line in problems_of(spec_text(data)) if expected in line], problems_of(spec_text(data))


# -- the bootstrap ---------------------------------------------------------------------------


def test_terraform_role_trusts_only_the_management_pipeline_and_the_apply_environment(default_spec):
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
    # no pull request's token, no drift environment's: those plan with the plan role
    assert ci["Condition"] == {
        "StringEquals": {
            f"{host}:aud": "sts.amazonaws.com",
            f"{host}:sub": ["repo:northwind/ml-platform:environment:mlgov-apply"],
        }
    }


def test_plan_role_trusts_pull_requests_and_the_drift_environment(default_spec):
    trust = iam_bootstrap.plan_trust(default_spec, "440000000005")
    (pipeline, ci) = trust["Statement"]
    assert pipeline["Principal"] == {"AWS": "arn:aws:iam::110000000001:root"}
    assert pipeline["Condition"] == {
        "ArnEquals": {"aws:PrincipalArn": ["arn:aws:iam::110000000001:role/mlgov-terraform"]}
    }
    host = "token.actions.githubusercontent.com"
    assert ci["Condition"] == {
        "StringEquals": {
            f"{host}:aud": "sts.amazonaws.com",
            f"{host}:sub": [
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
    assert iam_bootstrap.plan_subjects(off) == ["repo:northwind/ml-platform:pull_request"]


def test_on_gitlab_only_the_apply_branch_applies_and_every_branch_plans(default_spec):
    ci = default_spec.terraform.ci.model_copy(update={"provider": "gitlab", "repository": "northwind/ml/platform"})
    gitlab = default_spec.model_copy(update={"terraform": default_spec.terraform.model_copy(update={"ci": ci})})
    (_, apply) = iam_bootstrap.terraform_trust(gitlab, "440000000005")["Statement"]
    assert apply["Condition"] == {
        "StringEquals": {
            "gitlab.com:aud": "sts.amazonaws.com",
            "gitlab.com:sub": ["project_path:northwind/ml/platform:ref_type:branch:ref:main"],
        }
    }
    (_, plan) = iam_bootstrap.plan_trust(gitlab, "440000000005")["Statement"]
    assert plan["Condition"] == {
        "StringEquals": {"gitlab.com:aud": "sts.amazonaws.com"},
        "StringLike": {"gitlab.com:sub": ["project_path:northwind/ml/platform:ref_type:branch:ref:*"]},
    }


def test_both_deliveries_create_the_same_plan_role(tree, default_spec):
    from mlgov.review import policies as collector

    # GIVEN the bootstrap's Terraform stack and its CloudFormation management template
    stack = json.loads(tree[bootstrap.TERRAFORM_STACK])["resource"]
    cfn = collector.parse_template(tree[bootstrap.MANAGEMENT_TEMPLATE].decode())["Resources"]["PlanRole"]["Properties"]
    member = collector.parse_template(tree[bootstrap.MEMBER_TEMPLATE].decode())["Resources"]["PlanRole"]["Properties"]
    role = stack["aws_iam_role"]["terraform_plan"]
    # THEN both name the role alike, attach ReadOnlyAccess (and nothing more) and carry the same documents
    assert role["name"] == cfn["RoleName"] == member["RoleName"] == naming.terraform_plan_role(default_spec)
    attached = [
        a["policy_arn"] for a in stack["aws_iam_role_policy_attachment"].values() if "terraform_plan" in a["role"]
    ]
    assert attached == cfn["ManagedPolicyArns"] == member["ManagedPolicyArns"] == [iam_bootstrap.READ_ONLY_POLICY]
    assert json.loads(role["assume_role_policy"]) == cfn["AssumeRolePolicyDocument"]
    (inline,) = cfn["Policies"]
    assert [p["PolicyName"] for p in member["Policies"]] == [inline["PolicyName"]]
    assert json.loads(stack["aws_iam_role_policy"]["terraform_plan"]["policy"]) == inline["PolicyDocument"]
    assert member["Policies"][0]["PolicyDocument"] == inline["PolicyDocument"]  # no account in it


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


def test_the_bootstrap_trusts_are_counted_by_the_quota_model():
    # GIVEN a CI repository path long enough that the Terraform role's trust passes IAM's 2,048
    # characters (a GitLab project path may be deeply nested)
    data = yaml.safe_load((ROOT / "org.yaml").read_text())
    data["terraform"]["ci"]["repository"] = "northwind/" + "/".join(["platform-group"] * 60)
    lines = problems_of(spec_text(data))
    # THEN validate says so, naming the bootstrap's largest trust first: the plan role's, which names
    # the repository twice (pull requests, the drift environment)
    (line,) = [line for line in lines if "iam_role_trust_policy_chars" in line]
    assert "mlgov-terraform-plan bootstrap:aws_iam_role.terraform_plan" in line and "> 2,048" in line
    # AND the same spec with the default repository is within the quota
    assert not [
        line for line in problems_of(spec_text(yaml.safe_load((ROOT / "org.yaml").read_text()))) if "quota" in line
    ]


# -- closing: the state objects a closed team leaves ------------------------------------------


def test_clean_state_deletes_exactly_the_closed_teams_states(tmp_path, monkeypatch):
    import boto3
    from moto import mock_aws

    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    data = closed_churn_data()
    spec_file = tmp_path / "org.yaml"
    spec_file.write_text(spec_text(data))
    state = data["terraform"]["state"]
    empty = json.dumps({"version": 4, "resources": []})
    holding = json.dumps({"version": 4, "resources": [{"mode": "managed", "type": "aws_iam_role", "instances": [{}]}]})
    p = state["key_prefix"]
    objects = {
        # the spec's stacks, fraud's slices among them: never touched
        f"{p}/management.tfstate": [empty],
        f"{p}/ml-dev-fraud.tfstate": [empty],
        f"{p}/ml-shared-services-team-fraud.tfstate": [empty],
        # churn's slices and its retired dev account's stack, destroyed: deleted, every version and the lock
        f"{p}/ml-shared-services-team-churn.tfstate": [holding, empty],
        f"{p}/ml-shared-services-team-churn.tfstate.tflock": ["{}"],
        f"{p}/ml-test-team-churn.tfstate": [empty],
        f"{p}/ml-dev-churn.tfstate": [holding, empty],
        # churn's prod slice whose destroy was not applied: kept, and said so
        f"{p}/ml-prod-team-churn.tfstate": [holding],
        # not mlgov's stacks: the bootstrap's migrated state, another prefix, a nested key
        f"{p}/bootstrap.tfstate": [empty],
        f"other/{p}/ml-test-team-churn.tfstate": [empty],
        f"{p}/nested/ml-test-team-churn.tfstate": [empty],
    }
    with mock_aws():
        s3 = boto3.client("s3", region_name=state["region"])
        s3.create_bucket(Bucket=state["bucket"], CreateBucketConfiguration={"LocationConstraint": state["region"]})
        s3.put_bucket_versioning(Bucket=state["bucket"], VersioningConfiguration={"Status": "Enabled"})
        for key, bodies in objects.items():
            for body in bodies:
                s3.put_object(Bucket=state["bucket"], Key=key, Body=body.encode())
        s3.delete_object(Bucket=state["bucket"], Key=f"{p}/ml-test-team-churn.tfstate")  # a delete marker on top

        def remaining() -> set[str]:
            listed = s3.list_object_versions(Bucket=state["bucket"])
            return {v["Key"] for v in listed.get("Versions", []) + listed.get("DeleteMarkers", [])}

        dry = CliRunner().invoke(cli, ["clean-state", str(spec_file), "--dry-run"])
        assert remaining() == set(objects)
        result = CliRunner().invoke(cli, ["clean-state", str(spec_file)])
        gone = set(objects) - remaining()
    deleted = {
        f"{p}/ml-dev-churn.tfstate",
        f"{p}/ml-shared-services-team-churn.tfstate",
        f"{p}/ml-shared-services-team-churn.tfstate.tflock",
        f"{p}/ml-test-team-churn.tfstate",
    }
    # THEN exactly the closed team's destroyed states are gone, every version of them
    assert gone == deleted
    # AND the state still holding resources is kept, the exit code says so, one line each
    assert result.exit_code == 1, result.output
    assert result.output.splitlines() == [
        f"deleted {p}/ml-dev-churn.tfstate (2 version(s), lock included)",
        f"kept {p}/ml-prod-team-churn.tfstate: still holds 1 resource(s); apply the stack's destroy first",
        f"deleted {p}/ml-shared-services-team-churn.tfstate (3 version(s), lock included)",
        f"deleted {p}/ml-test-team-churn.tfstate (2 version(s), lock included)",
    ]
    assert dry.exit_code == 1 and dry.output.count("would delete") == 3


# -- the CloudFormation delivery, applied (moto) ----------------------------------------------


def _unordered(value):
    """A JSON value with every list sorted (an ARN list's order follows the account ids in it)."""
    if isinstance(value, dict):
        return {k: _unordered(v) for k, v in value.items()}
    if isinstance(value, list):
        return sorted((_unordered(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    return value


def test_cloudformation_bootstrap_applies_and_the_stackset_gives_each_member_its_role(tree, default_spec, monkeypatch):
    import boto3
    from moto import mock_aws

    from mlgov.review import policies as collector

    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    region = default_spec.terraform.state.region
    management = tree[bootstrap.MANAGEMENT_TEMPLATE].decode()
    with mock_aws():
        # GIVEN an organization (moto) with a member account in an OU under the root
        org = boto3.client("organizations", region_name="us-east-1")
        org.create_organization(FeatureSet="ALL")
        root = org.list_roots()["Roots"][0]["Id"]
        ou = org.create_organizational_unit(ParentId=root, Name="ml-workloads")["OrganizationalUnit"]["Id"]
        member = org.create_account(AccountName="ml-dev-risk", Email="aws+ml-dev-risk@northwind.example")
        member_id = member["CreateAccountStatus"]["AccountId"]
        org.move_account(AccountId=member_id, SourceParentId=root, DestinationParentId=ou)
        # WHEN the management template is deployed as a stack
        cfn = boto3.client("cloudformation", region_name=region)
        cfn.create_stack(StackName="mlgov-bootstrap", TemplateBody=management, Capabilities=["CAPABILITY_NAMED_IAM"])
        # THEN the stack completes; the state bucket is encrypted with the state key, and the role has its
        # trust (moto's CloudFormation applies no bucket versioning, logging or public access block, nor
        # the bucket policies, the OIDC provider or the StackSet resource: cfn-lint checks them above, the
        # Terraform delivery's moto apply in the day-zero journey applies the same settings)
        (stack,) = cfn.describe_stacks(StackName="mlgov-bootstrap")["Stacks"]
        assert stack["StackStatus"] == "CREATE_COMPLETE"
        s3 = boto3.client("s3", region_name=region)
        bucket = default_spec.terraform.state.bucket
        (rule,) = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
        aliases = boto3.client("kms", region_name=region).list_aliases()["Aliases"]
        (key_id,) = [a["TargetKeyId"] for a in aliases if a["AliasName"] == bootstrap.state_key_alias(default_spec)]
        assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
        assert rule["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"].endswith(f":key/{key_id}")
        assert bootstrap.log_bucket(default_spec) in {b["Name"] for b in s3.list_buckets()["Buckets"]}
        iam_client = boto3.client("iam", region_name="us-east-1")
        role = iam_client.get_role(RoleName=default_spec.terraform.role_name)["Role"]
        management_id = iam_bootstrap.management_id(default_spec)
        assert role["AssumeRolePolicyDocument"] == iam_bootstrap.terraform_trust(default_spec, management_id)
        # AND the read-only plan role beside it: its trust, ReadOnlyAccess and the inline policy
        _assert_plan_role(iam_client, default_spec, management_id)

        # WHEN the template's StackSet is created as the template declares it (service-managed,
        # automatic deployment) and its instances deployed. moto deploys a service-managed
        # StackSet into the management account too when the root is the target, which AWS never
        # does, so the instances target the OUs under the root (the same member accounts).
        props = collector.parse_template(management)["Resources"]["TerraformRoleStackSet"]["Properties"]
        (group,) = props["StackInstancesGroup"]
        assert group["DeploymentTargets"]["OrganizationalUnitIds"] == [default_spec.organization.root_id]
        cfn.create_stack_set(
            StackSetName=props["StackSetName"],
            TemplateBody=props["TemplateBody"],
            PermissionModel=props["PermissionModel"],
            AutoDeployment=props["AutoDeployment"],
            Capabilities=props["Capabilities"],
        )
        children = [o["Id"] for o in org.list_organizational_units_for_parent(ParentId=root)["OrganizationalUnits"]]
        cfn.create_stack_instances(
            StackSetName=props["StackSetName"],
            DeploymentTargets={"OrganizationalUnitIds": children},
            Regions=group["Regions"],
        )
        # THEN the member account has the Terraform role, trusting its own account's role, the
        # management pipeline and its own OIDC provider (the template's ${AWS::AccountId} resolved there)
        instances = cfn.list_stack_instances(StackSetName=props["StackSetName"])["Summaries"]
        assert [(i["Account"], i["Status"]) for i in instances] == [(member_id, "CURRENT")]
        creds = boto3.client("sts", region_name="us-east-1").assume_role(
            RoleArn=f"arn:aws:iam::{member_id}:role/{default_spec.management.vending.role_name}",
            RoleSessionName="day-zero-test",
        )["Credentials"]
        member_iam = boto3.client(
            "iam",
            region_name="us-east-1",
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
        )
        member_role = member_iam.get_role(RoleName=default_spec.terraform.role_name)["Role"]
        assert _unordered(member_role["AssumeRolePolicyDocument"]) == _unordered(
            iam_bootstrap.terraform_trust(default_spec, member_id)
        )
        # AND the same plan role as the management account's
        _assert_plan_role(member_iam, default_spec, member_id)


def _assert_plan_role(client, spec, account_id: str) -> None:
    """The plan role in ``account_id`` as the bootstrap describes it (:mod:`mlgov.platform.iam.bootstrap`):
    its trust and inline policy (moto's CloudFormation attaches no AWS managed policy, so ReadOnlyAccess,
    like the Terraform role's AdministratorAccess, is held by cfn-lint and the template tests only)."""
    name = naming.terraform_plan_role(spec)
    role = client.get_role(RoleName=name)["Role"]
    assert _unordered(role["AssumeRolePolicyDocument"]) == _unordered(iam_bootstrap.plan_trust(spec, account_id))
    inline = client.get_role_policy(RoleName=name, PolicyName=iam_bootstrap.PLAN_POLICY_NAME)["PolicyDocument"]
    if isinstance(inline, str):  # moto's CloudFormation stores the template's mapping as its Python repr
        inline = ast.literal_eval(inline)
    assert _unordered(inline) == _unordered(json.loads(iam_bootstrap.plan_policy_json(spec)))
