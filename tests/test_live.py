"""discover and doctor against moto (Organizations, STS, IAM, S3 in-process).

moto 5.2.5 has no CodeConnections backend, so the pending-connection check alone talks to
a botocore Stubber; everything else goes through moto's real request handling.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import boto3
import pytest
from botocore.stub import Stubber
from click.testing import CliRunner
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID, set_initial_no_auth_action_count

from mlgov import live
from mlgov.cli import cli
from mlgov.spec.located import load_yaml
from mlgov.validation import parse_spec
from tests.conftest import ROOT

EXTRA_WORKLOAD_ACCOUNTS = 24  # + the two platform accounts there: 26 in one OU, two pages of 20

SPEC_TEMPLATE = """\
# Test org for discover/doctor; ids come from moto.
organization:
  name: nwa
  id: {org_id}   # the organization
  root_id: {root_id}
  management_account: management
  home_region: eu-west-1
  allowed_regions: [eu-west-1, eu-central-1]
  organizational_units:
    infrastructure:
      id: {ou_infrastructure}
    ml-workloads:
      id: {ou_ml_workloads}  # keep this comment
      description: Team dev accounts.
    ml-deployment:
      id: {ou_ml_deployment}

accounts:
  management: {{id: "{management}", layer: management, ou: root}}
  ml-shared-services:
    id: "{ml_shared_services}"
    layer: hub
    ou: infrastructure
  ml-dev-fraud:
    id: '{ml_dev_fraud}'
    layer: dev
    ou: ml-workloads
    network: {{cidr: 10.10.0.0/16}}
  ml-test:
    id: "{ml_test}"
    layer: test
    ou: {ml_test_ou}
    network: {{cidr: 10.20.0.0/16}}
  ml-prod:
    id: "{ml_prod}"
    layer: prod
    ou: ml-deployment
    network: {{cidr: 10.30.0.0/16}}

teams:
  fraud:
    dev_account: ml-dev-fraud
    stages:
      - {{name: test, account: ml-test}}
      - {{name: prod, account: ml-prod, manual_approval: true}}

terraform:
  state:
    bucket: nwa-terraform-state-{management}
    region: eu-west-1
  role_name: mlgov-terraform
"""


@pytest.fixture
def aws_env(monkeypatch):
    """Fake credentials only; nothing can reach real AWS."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)


def build_org() -> dict[str, str]:
    """A moto organization: 3 platform OUs + sandbox, 5 platform accounts, 24 more workloads, 2 sandbox."""
    org = boto3.client("organizations", region_name="us-east-1")
    ids = {"org_id": org.create_organization(FeatureSet="ALL")["Organization"]["Id"], "management": DEFAULT_ACCOUNT_ID}
    ids["root_id"] = root = org.list_roots()["Roots"][0]["Id"]
    for name in ("infrastructure", "ml-workloads", "ml-deployment", "sandbox"):
        ids[f"ou_{name.replace('-', '_')}"] = org.create_organizational_unit(ParentId=root, Name=name)[
            "OrganizationalUnit"
        ]["Id"]

    def account(name: str, ou: str) -> str:
        status = org.create_account(AccountName=name, Email=f"{name}@example.com")["CreateAccountStatus"]
        account_id = status["AccountId"]
        org.move_account(AccountId=account_id, SourceParentId=root, DestinationParentId=ids[ou])
        return account_id

    ids["ml_shared_services"] = account("ml-shared-services", "ou_infrastructure")
    ids["ml_dev_fraud"] = account("ml-dev-fraud", "ou_ml_workloads")
    ids["ml_test"] = account("ml-test", "ou_ml_deployment")
    ids["ml_prod"] = account("ml-prod", "ou_ml_deployment")
    for i in range(EXTRA_WORKLOAD_ACCOUNTS):
        account(f"workload-{i:02d}", "ou_ml_workloads")
    for i in range(2):
        account(f"sandbox-{i}", "ou_sandbox")
    return ids


def spec_text(ids: dict[str, str], **changes: str) -> str:
    values = dict(ids, ml_test_ou="ml-deployment")
    values.update(changes)
    return SPEC_TEMPLATE.format(**values)


def load_text(text: str):
    return parse_spec(load_yaml(text, "<test>"))


def make_prerequisites(
    ids: dict[str, str], *, skip_role_in: str | None = None, skip_plan_role_in: str | None = None
) -> None:
    """Everything doctor checks, in place (optionally without the Terraform role, or only without the
    plan role, in one account)."""
    org = boto3.client("organizations", region_name="us-east-1")
    org.enable_aws_service_access(ServicePrincipal="servicecatalog.amazonaws.com")
    org.register_delegated_administrator(
        AccountId=ids["ml_shared_services"], ServicePrincipal="servicecatalog.amazonaws.com"
    )
    org.enable_policy_type(RootId=ids["root_id"], PolicyType="SERVICE_CONTROL_POLICY")
    make_state_bucket(ids, versioned=True, encrypted=True)
    for key in ("management", "ml_shared_services", "ml_dev_fraud", "ml_test", "ml_prod"):
        if key != skip_role_in:
            make_role(ids[key], plan_role=key != skip_plan_role_in)


def make_state_bucket(ids: dict[str, str], *, versioned: bool, encrypted: bool) -> None:
    """The state bucket; a complete one (versioned and encrypted) is access logged and TLS only too,
    as the bootstrap makes it (generated/bootstrap/)."""
    s3 = boto3.client("s3", region_name="eu-west-1")
    bucket = f"nwa-terraform-state-{ids['management']}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    if versioned and encrypted:
        logs = f"{bucket}-logs"
        s3.create_bucket(Bucket=logs, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        s3.put_bucket_policy(
            Bucket=logs,
            Policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "logging.s3.amazonaws.com"},
                            "Action": "s3:PutObject",
                            "Resource": f"arn:aws:s3:::{logs}/*",
                        }
                    ],
                }
            ),
        )
        s3.put_bucket_logging(
            Bucket=bucket, BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": logs, "TargetPrefix": "state/"}}
        )
        tls_only = {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [tls_only]}))
    if versioned:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    if encrypted:
        s3.put_bucket_encryption(
            Bucket=bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]
            },
        )


def make_role(account_id: str, *, plan_role: bool = True) -> None:
    """Create mlgov-terraform (and its plan role, mlgov-terraform-plan) in an account, acting from
    inside it (moto switches account on AssumeRole)."""
    creds = boto3.client("sts", region_name="eu-west-1").assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/OrganizationAccountAccessRole", RoleSessionName="setup"
    )["Credentials"]
    iam = boto3.client(
        "iam",
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    iam.create_role(RoleName="mlgov-terraform", AssumeRolePolicyDocument=json.dumps(trust))
    if plan_role:
        iam.create_role(RoleName="mlgov-terraform-plan", AssumeRolePolicyDocument=json.dumps(trust))


@pytest.fixture
def connections(monkeypatch):
    """Answer the doctor's CodeConnections calls from a Stubber (moto has no such backend)."""
    pages: list[dict] = []
    stubs: list[Stubber] = []
    real = live.make_client

    def make_client(sess, service, region=None):
        client = real(sess, service, region)
        if service == "codeconnections":
            stub = Stubber(client)
            for i, page in enumerate(pages):
                expected = {"NextToken": f"t{i}"} if i else {}
                stub.add_response("list_connections", page, expected)
            stub.activate()
            stubs.append(stub)
        return client

    monkeypatch.setattr(live, "make_client", make_client)
    yield pages
    for stub in stubs:
        stub.assert_no_pending_responses()


def connection(name: str, status: str) -> dict:
    return {
        "ConnectionName": name,
        "ConnectionStatus": status,
        "ProviderType": "GitHub",
        "ConnectionArn": f"arn:aws:codeconnections:eu-west-1:111111111111:connection/{name}",
    }


# --- discover ----------------------------------------------------------------------------


def test_discover_pages_through_a_large_org_and_matches_the_spec(aws_env):
    with mock_aws():
        # GIVEN an org with 31 accounts, 26 of them in one OU, and a spec that matches it
        ids = build_org()
        spec = load_text(spec_text(ids))
        sess = boto3.Session(region_name="eu-west-1")
        calls = []
        sess.events.register(
            "before-parameter-build.organizations.ListAccountsForParent", lambda params, **_: calls.append(dict(params))
        )
        # WHEN the organization is read
        org = live.read_organization(sess)
    # THEN every account is found, the big OU took more than one page, and only extras differ
    assert len(org.accounts) == 1 + 4 + EXTRA_WORKLOAD_ACCOUNTS + 2  # management + platform + extras
    workloads = [a for a in org.accounts.values() if a.parent_id == ids["ou_ml_workloads"]]
    assert len(workloads) == 1 + EXTRA_WORKLOAD_ACCOUNTS
    assert any("NextToken" in c for c in calls), "ListAccountsForParent was never called with a NextToken"
    assert org.ous[ids["ou_sandbox"]].path == ("sandbox",)
    diffs = live.compare(spec, org)
    assert {d.kind for d in diffs} == {"extra"}
    assert len(diffs) == 1 + EXTRA_WORKLOAD_ACCOUNTS + 2  # sandbox OU + the 26 accounts not in the spec


def test_discover_reports_disagreements_and_write_fixes_only_those_values(aws_env, tmp_path):
    with mock_aws():
        ids = build_org()
        # GIVEN a spec with a stale org id, a wrong OU id, an account in the wrong OU and an unknown account
        good = spec_text(ids)
        bad = spec_text(
            ids,
            org_id="o-aaaaaaaaaa",
            ou_ml_workloads="ou-zzzz-zzzzzzzz",
            ml_test_ou="ml-workloads",
            ml_prod="999999999999",
        )
        path = tmp_path / "org.yaml"
        path.write_text(bad)
        runner = CliRunner()
        # WHEN discover runs without --write
        result = runner.invoke(cli, ["discover", str(path)])
        # THEN each difference is one line, the exit code is 1, and the file is untouched
        assert result.exit_code == 1, result.output
        lines = result.output.splitlines()
        assert lines[0].startswith(
            f"organization {ids['org_id']} (root {ids['root_id']}, management {DEFAULT_ACCOUNT_ID}): 4 OUs, 31 accounts"
        )
        assert (
            f"  wrong    organization.id: spec says o-aaaaaaaaaa, the organization is {ids['org_id']}  [--write fixes]"
            in lines
        )
        assert (
            "  wrong    organization.organizational_units.ml-workloads.id: OU ml-workloads has id "
            f"{ids['ou_ml_workloads']} "
            "(spec says ou-zzzz-zzzzzzzz)  [--write fixes]"
        ) in lines
        assert (
            f"  moved    accounts.ml-test.ou: account {ids['ml_test']} sits in ml-deployment (spec: ml-workloads)  "
            "[--write fixes]" in lines
        )
        assert (
            f"  wrong    accounts.ml-prod.id: account named 'ml-prod' has id {ids['ml_prod']} (spec says "
            "999999999999)  [--write fixes]" in lines
        )
        assert f"  extra    OU sandbox ({ids['ou_sandbox']}) is not in the spec" in lines
        assert lines[-1] == "4 difference(s), 4 fixable with --write"
        assert path.read_text() == bad

        # WHEN discover --write runs
        result = runner.invoke(cli, ["discover", str(path), "--write"])
        # THEN exactly the four values changed, quoting and comments kept, and the org now matches
        assert result.exit_code == 0, result.output
        assert f"{path}: updated 4 value(s)" in result.output
        assert path.read_text() == good
        assert "# keep this comment" in path.read_text() and 'id: "' + ids["ml_prod"] + '"' in path.read_text()
        again = runner.invoke(cli, ["discover", str(path)])
        assert again.exit_code == 0 and again.output.splitlines()[-1] == f"{path}: matches the organization"


def test_discover_write_leaves_differences_that_need_a_decision(aws_env, tmp_path):
    with mock_aws():
        ids = build_org()
        org = boto3.client("organizations", region_name="us-east-1")
        # GIVEN a stale org id (certain fix), an OU renamed in the org and an account moved to
        # an OU the spec does not declare (both need a human decision)
        org.update_organizational_unit(OrganizationalUnitId=ids["ou_ml_deployment"], Name="deployment")
        org.move_account(
            AccountId=ids["ml_prod"], SourceParentId=ids["ou_ml_deployment"], DestinationParentId=ids["ou_sandbox"]
        )
        path = tmp_path / "org.yaml"
        path.write_text(spec_text(ids, org_id="o-aaaaaaaaaa"))
        # WHEN discover --write runs
        result = CliRunner().invoke(cli, ["discover", str(path), "--write"])
    # THEN only the org id is written; the rest is listed and the exit code is 1
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert (
        f"  moved    organization.organizational_units.ml-deployment: OU {ids['ou_ml_deployment']} is at deployment "
        "in the organization (spec: ml-deployment)"
    ) in lines
    assert (
        f"  moved    accounts.ml-prod.ou: account {ids['ml_prod']} sits in sandbox, an OU the spec does not declare "
        "(spec: ml-deployment)"
    ) in lines
    assert lines[-2:] == [
        f"{path}: updated 1 value(s)",
        "2 difference(s) need a decision (fix the spec or the organization by hand)",
    ]
    assert path.read_text() == spec_text(ids)


# --- doctor ------------------------------------------------------------------------------


def test_doctor_passes_when_every_prerequisite_is_in_place(aws_env, tmp_path, connections):
    with mock_aws():
        ids = build_org()
        make_prerequisites(ids)
        connections += [
            {"Connections": [connection("github-a", "AVAILABLE")], "NextToken": "t1"},
            {"Connections": [connection("github-b", "AVAILABLE")]},
        ]
        path = tmp_path / "org.yaml"
        path.write_text(spec_text(ids))
        result = CliRunner().invoke(cli, ["doctor", str(path)])
    assert result.exit_code == 0, result.output
    assert "FAIL" not in result.output
    lines = result.output.splitlines()
    assert (
        f"[pass] hub ml-shared-services ({ids['ml_shared_services']}) is delegated administrator for Service Catalog: "
        "servicecatalog.amazonaws.com" in lines
    )
    assert "[pass] trusted access for Service Catalog is enabled: servicecatalog.amazonaws.com" in lines
    assert "[pass] state bucket is versioned: Enabled" in lines
    assert (
        f"[pass] terraform role can be assumed in ml-prod ({ids['ml_prod']}): "
        f"arn:aws:iam::{ids['ml_prod']}:role/mlgov-terraform" in lines
    )
    assert f"[pass] plan role mlgov-terraform-plan exists in ml-prod ({ids['ml_prod']}): " in "\n".join(lines)
    assert "[pass] no CodeConnections in the hub wait for the console handshake: none pending" in lines
    assert lines[-1] == "25/25 checks pass"


def test_doctor_reports_a_missing_plan_role(aws_env, tmp_path, connections):
    with mock_aws():
        ids = build_org()
        # GIVEN every prerequisite but the read-only plan role in ml-prod (its Terraform role is there)
        make_prerequisites(ids, skip_plan_role_in="ml_prod")
        connections.append({"Connections": []})
        path = tmp_path / "org.yaml"
        path.write_text(spec_text(ids))
        result = CliRunner().invoke(cli, ["doctor", str(path)])
    # THEN doctor names the missing role and how to create it, and only that check fails
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert f"[FAIL] plan role mlgov-terraform-plan exists in ml-prod ({ids['ml_prod']}): role does not exist" in lines
    assert (
        f"       fix: create role mlgov-terraform-plan in {ids['ml_prod']}: deploy the bootstrap "
        "(generated/bootstrap/, docs/day-zero.md)"
    ) in lines
    assert lines[-1] == "24/25 checks pass"


def test_doctor_lists_each_missing_prerequisite_with_its_fix(aws_env, tmp_path, connections):
    with mock_aws():
        ids = build_org()
        # GIVEN an org with no trusted access, no delegated admin, SCPs not enabled, an
        # unversioned unencrypted state bucket, no terraform role in ml-prod, a misplaced account
        make_state_bucket(ids, versioned=False, encrypted=False)
        for key in ("management", "ml_shared_services", "ml_dev_fraud", "ml_test"):
            make_role(ids[key])
        org = boto3.client("organizations", region_name="us-east-1")
        org.move_account(
            AccountId=ids["ml_test"], SourceParentId=ids["ou_ml_deployment"], DestinationParentId=ids["ou_sandbox"]
        )
        connections.append({"Connections": [connection("github-ml", "PENDING"), connection("ok", "AVAILABLE")]})
        path = tmp_path / "org.yaml"
        path.write_text(spec_text(ids))
        result = CliRunner().invoke(cli, ["doctor", str(path)])
    assert result.exit_code == 1, result.output
    out = result.output
    hub = ids["ml_shared_services"]
    expected = [
        f"[FAIL] account ml-test ({ids['ml_test']}) exists and sits in ml-deployment: sits in sandbox",
        "[FAIL] trusted access for Service Catalog is enabled: servicecatalog.amazonaws.com",
        "       fix: apply the management stack (aws_servicecatalog_organizations_access) or run `aws servicecatalog "
        "enable-aws-organizations-access`",
        f"[FAIL] hub ml-shared-services ({hub}) is delegated administrator for Service Catalog: "
        "servicecatalog.amazonaws.com",
        "       fix: apply the management stack, or run `aws organizations register-delegated-administrator "
        f"--account-id {hub} --service-principal servicecatalog.amazonaws.com`",
        "[FAIL] service control policies are enabled on the root: not enabled",
        "[FAIL] state bucket is versioned: never enabled",
        "[FAIL] state bucket is encrypted by default: no default encryption",
        "[FAIL] state bucket is access logged: not logged",
        "[FAIL] state bucket allows TLS only: no TLS-only statement",
        f"[FAIL] terraform role can be assumed in ml-prod ({ids['ml_prod']}): role does not exist",
        "[FAIL] no CodeConnections in the hub wait for the console handshake: pending: github-ml",
    ]
    for line in expected:
        assert line in out.splitlines(), f"missing line: {line}\n{out}"
    assert out.splitlines()[-1] == "14/25 checks pass"


def test_doctor_reports_a_dev_accounts_pending_connection_with_the_handshake(aws_env, tmp_path, connections):
    with mock_aws():
        ids = build_org()
        make_prerequisites(ids)
        # GIVEN the dev account declares its Git provider and its connection still waits for the handshake
        connections.append({"Connections": [connection("nwa-github", "PENDING")]})
        text = spec_text(ids).replace(
            "    network: {cidr: 10.10.0.0/16}\n",
            "    network: {cidr: 10.10.0.0/16}\n    source: {provider: GitHub, owner: northwind}\n",
            1,
        )
        assert "source:" in text
        path = tmp_path / "org.yaml"
        path.write_text(text)
        result = CliRunner().invoke(cli, ["doctor", str(path)])
    assert result.exit_code == 1, result.output
    dev = ids["ml_dev_fraud"]
    lines = result.output.splitlines()
    assert f"[FAIL] connection nwa-github of ml-dev-fraud ({dev}) completed its handshake: PENDING" in lines
    assert (
        f"       fix: in account {dev} (eu-west-1) open Developer Tools > Settings > Connections, choose nwa-github, "
        "Update pending connection, and authorize the GitHub organization northwind"
    ) in lines


def test_doctor_reports_a_missing_state_bucket(aws_env, tmp_path, connections):
    with mock_aws():
        ids = build_org()
        for key in ("management", "ml_shared_services", "ml_dev_fraud", "ml_test", "ml_prod"):
            make_role(ids[key])
        connections.append({"Connections": []})
        path = tmp_path / "org.yaml"
        path.write_text(spec_text(ids))
        result = CliRunner().invoke(cli, ["doctor", str(path)])
    assert result.exit_code == 1
    assert (
        f"[FAIL] state bucket nwa-terraform-state-{DEFAULT_ACCOUNT_ID} exists: not found" in result.output.splitlines()
    )


# --- errors: one line, no traceback ------------------------------------------------------


@set_initial_no_auth_action_count(4)
def test_access_denied_is_one_line(aws_env, tmp_path):
    with mock_aws():
        # GIVEN credentials of a user who may only call sts:GetCallerIdentity (moto enforces IAM
        # after the first 4 setup calls)
        boto3.client("organizations", region_name="us-east-1").create_organization(FeatureSet="ALL")
        iam = boto3.client("iam", region_name="us-east-1")
        iam.create_user(UserName="reader")
        iam.put_user_policy(
            UserName="reader",
            PolicyName="only-whoami",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"}],
                }
            ),
        )
        key = iam.create_access_key(UserName="reader")["AccessKey"]
        sess = boto3.Session(
            aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"], region_name="eu-west-1"
        )
        # WHEN the organization is read THEN one line names the call and what to do
        with pytest.raises(live.LiveError) as info:
            live.read_organization(sess)
    message = str(info.value)
    # moto answers this JSON-protocol call with an XML body botocore cannot parse: the HTTP 403 decides
    assert message == (
        "access denied calling DescribeOrganization (403); use credentials of the management account "
        "(or a delegated administrator) allowed to call it"
    )


def test_throttling_after_retries_is_one_line(aws_env, monkeypatch):
    real = live.make_client

    def throttled(sess, service, region=None):
        client = real(sess, service, region)
        stub = Stubber(client)
        stub.add_client_error(
            "describe_organization", service_error_code="TooManyRequestsException", service_message="Rate exceeded"
        )
        stub.activate()
        return client

    monkeypatch.setattr(live, "make_client", throttled)
    with pytest.raises(live.LiveError) as info:
        live.read_organization(boto3.Session(region_name="eu-west-1"))
    assert str(info.value) == "AWS kept throttling DescribeOrganization after 8 attempts; wait a minute and run again"


@pytest.mark.parametrize("command", ["discover", "doctor", "clean-state"])
@pytest.mark.slow  # starts the CLI in a subprocess
def test_missing_credentials_end_in_one_line_and_exit_3(command, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    proc = subprocess.run(
        [sys.executable, "main.py", command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 3
    assert (
        proc.stderr
        == "error: no usable AWS credentials (set AWS_PROFILE or pass --profile; for SSO run `aws sso login`)\n"
    )


@pytest.mark.slow  # starts the CLI in a subprocess
def test_unknown_profile_ends_in_one_line(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_CONFIG_FILE=str(tmp_path / "none"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"))
    proc = subprocess.run(
        [sys.executable, "main.py", "discover", "--profile", "prod-admin"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 3
    assert proc.stderr == "error: AWS profile 'prod-admin' not found (check ~/.aws/config or --profile)\n"


def test_doctor_checks_stacksets_only_when_the_spec_uses_them(aws_env, tmp_path, connections):
    with mock_aws():
        ids = build_org()
        make_prerequisites(ids)
        connections.append({"Connections": []})
        path = tmp_path / "org.yaml"
        # GIVEN everything for Service Catalog in place, and a spec that also wants StackSets
        path.write_text(spec_text(ids) + "\nmanagement:\n  stacksets_delegated_admin: true\n")
        result = CliRunner().invoke(cli, ["doctor", str(path)])
    # THEN the two StackSets items fail with their fixes, and nothing else
    assert result.exit_code == 1
    lines = result.output.splitlines()
    hub = ids["ml_shared_services"]
    assert [line for line in lines if line.startswith("[FAIL]")] == [
        "[FAIL] trusted access for CloudFormation StackSets is enabled: "
        "member.org.stacksets.cloudformation.amazonaws.com",
        f"[FAIL] hub ml-shared-services ({hub}) is delegated administrator for CloudFormation StackSets: "
        "member.org.stacksets.cloudformation.amazonaws.com",
    ]
    assert "       fix: run `aws cloudformation activate-organizations-access` in the management account" in lines
    assert lines[-1] == "25/27 checks pass"


# --- spec edits ----------------------------------------------------------------------------


def test_edit_scalars_keeps_quoting_comments_and_every_other_byte():
    from mlgov.spec.edit import edit_scalars

    text = "a:\n  id: o-old   # why\n  n: '0001'\n  m: \"x\"\n  p: 1234\n  flow: {k: v}\nb: [1, 2]\n"
    out = edit_scalars(
        text, {("a", "id"): "o-new", ("a", "n"): "0002", ("a", "m"): "y", ("a", "p"): "0099", ("a", "flow", "k"): "w"}
    )
    assert out == 'a:\n  id: o-new   # why\n  n: \'0002\'\n  m: "y"\n  p: "0099"\n  flow: {k: w}\nb: [1, 2]\n'
