"""Tier 1 for the model governance flow: the synthesized dev, hub and stage stacks.

Reads the default spec's stacks (``stacks`` fixture). Event patterns are checked exactly and
also evaluated against sample events with a small matcher of EventBridge's exact-match
semantics, so "Rejected does not start the pipeline" is shown, not just asserted by shape.
"""

from __future__ import annotations

import io
import json
import shlex
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from moto.events.models import EventPattern

from mlgov.errors import SpecError
from mlgov.platform import governance as assets
from mlgov.spec.model import team_stack_name
from mlgov.validation import load_spec
from tests.conftest import ROOT, require_tool
from tests.helpers import all_resources, as_list, resources, statements

HUB, FRAUD_DEV, TEST, PROD = "ml-shared-services", "ml-dev-fraud", "ml-test", "ml-prod"
# Each team's pipelines and hub roles live in its slice of the hub, its stage roles in its slice
# of each test/prod account (docs/architecture.md, "Stacks").
FRAUD_HUB, CHURN_HUB = team_stack_name(HUB, "fraud"), team_stack_name(HUB, "churn")
HUB_ID, FRAUD_ID, CHURN_ID, TEST_ID, PROD_ID = (
    "220000000002",
    "330000000003",
    "330000000004",
    "440000000005",
    "550000000006",
)
BUS_ARN = f"arn:aws:events:eu-west-1:{HUB_ID}:event-bus/nwa-model-governance"
STATE_CHANGE = "SageMaker Model Package State Change"


def matches(pattern: dict, event: dict) -> bool:
    """EventBridge's matching (moto's implementation: exact values and the ``prefix`` operator)."""
    return EventPattern.load(json.dumps(pattern)).matches_event(event)


def event(group: str, status: str, account: str = FRAUD_ID) -> dict:
    return {
        "source": "aws.sagemaker",
        "detail-type": STATE_CHANGE,
        "account": account,
        "detail": {
            "ModelPackageGroupName": group,
            "ModelApprovalStatus": status,
            "ModelPackageArn": f"arn:aws:sagemaker:eu-west-1:{account}:model-package/{group}/1",
        },
    }


def role_policy(stack: dict, address: str) -> list[dict]:
    return statements(resources(stack, "aws_iam_role_policy")[address]["policy"])


def test_dev_rule_forwards_exactly_the_teams_approvals_to_the_central_bus(stacks):
    stack = stacks[FRAUD_DEV]
    rule = resources(stack, "aws_cloudwatch_event_rule")["model_approved"]
    pattern = json.loads(rule["event_pattern"])
    assert rule["name"] == "nwa-fraud-model-approved" and "event_bus_name" not in rule  # the default bus
    assert pattern == {
        "source": ["aws.sagemaker"],
        "detail-type": [STATE_CHANGE],
        "detail": {
            "ModelApprovalStatus": ["Approved"],
            "ModelPackageGroupName": ["nwa-fraud-card-scoring", "nwa-fraud-merchant-risk"],
        },
    }
    assert matches(pattern, event("nwa-fraud-card-scoring", "Approved"))
    assert not matches(pattern, event("nwa-fraud-card-scoring", "Rejected"))
    assert not matches(pattern, event("someone-elses-group", "Approved"))
    target = resources(stack, "aws_cloudwatch_event_target")["model_approved"]
    assert target["arn"] == BUS_ARN
    assert target["role_arn"] == "${aws_iam_role.event_forwarder.arn}"
    assert target["dead_letter_config"] == {"arn": "${aws_sqs_queue.model_approved_dlq.arn}"}
    assert target["retry_policy"]["maximum_retry_attempts"] > 2
    # the target role may put events on the central bus and do nothing else
    assert role_policy(stack, "event_forwarder") == [
        {"Sid": "PutOnCentralBus", "Effect": "Allow", "Action": ["events:PutEvents"], "Resource": [BUS_ARN]}
    ]
    trust = statements(resources(stack, "aws_iam_role")["event_forwarder"]["assume_role_policy"])[0]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"} and trust["Condition"] == {
        "StringEquals": {"aws:SourceAccount": FRAUD_ID}
    }


def test_dead_letter_queues_accept_only_their_source(stacks):
    expected = {
        FRAUD_DEV: {"model_approved_dlq": f"arn:aws:events:eu-west-1:{FRAUD_ID}:rule/nwa-fraud-model-approved"},
        HUB: {
            "promotion_rule_dlq": f"arn:aws:events:eu-west-1:{HUB_ID}:rule/nwa-model-governance/nwa-promote-approved-models",  # noqa: E501 (an ARN reads best whole)
            "promotion_function_dlq": f"arn:aws:lambda:eu-west-1:{HUB_ID}:function:nwa-model-promotion",
        },
        FRAUD_HUB: {
            "fraud_card_scoring_approved_dlq": f"arn:aws:events:eu-west-1:{HUB_ID}:rule/nwa-fraud-card-scoring-approved",  # noqa: E501 (an ARN reads best whole)
        },
    }
    for stack_name, queues in expected.items():
        for address, source in queues.items():
            queue = resources(stacks[stack_name], "aws_sqs_queue")[address]
            assert queue["sqs_managed_sse_enabled"] is True
            (stmt,) = statements(resources(stacks[stack_name], "aws_sqs_queue_policy")[address]["policy"])
            assert stmt["Action"] == ["sqs:SendMessage"] and stmt["Condition"] == {
                "ArnEquals": {"aws:SourceArn": source}
            }


def test_central_bus_policy_admits_only_org_principals_on_that_bus(stacks):
    stack = stacks[HUB]
    assert resources(stack, "aws_cloudwatch_event_bus")["model_governance"]["name"] == "nwa-model-governance"
    (stmt,) = statements(resources(stack, "aws_cloudwatch_event_bus_policy")["model_governance"]["policy"])
    assert stmt["Action"] == ["events:PutEvents"] and stmt["Resource"] == BUS_ARN
    # every team's forwarder by the name pattern mlgov owns, from the organization's accounts
    # (not the hub's): one statement whatever the number of teams
    assert stmt["Condition"] == {
        "StringEquals": {"aws:PrincipalOrgID": "o-nw4a8k2j6q"},
        "StringNotEquals": {"aws:PrincipalAccount": HUB_ID},
        "ArnLike": {"aws:PrincipalArn": ["arn:aws:iam::*:role/nwa-*-event-forwarder"]},
    }


def test_promotion_rule_and_function(stacks, tree):
    stack = stacks[HUB]
    rule = resources(stack, "aws_cloudwatch_event_rule")["promote_approved_models"]
    pattern = json.loads(rule["event_pattern"])
    assert rule["event_bus_name"] == "${aws_cloudwatch_event_bus.model_governance.name}"
    # one prefix, not a list of groups and accounts: the function checks its sources mapping
    assert pattern["detail"] == {"ModelApprovalStatus": ["Approved"], "ModelPackageGroupName": [{"prefix": "nwa-"}]}
    assert "account" not in pattern
    assert matches(pattern, event("nwa-fraud-card-scoring", "Approved"))
    assert not matches(pattern, event("other-card-scoring", "Approved"))
    target = resources(stack, "aws_cloudwatch_event_target")["promote_approved_models"]
    assert target["arn"] == "${aws_lambda_function.model_promotion.arn}"
    assert (
        target["dead_letter_config"] == {"arn": "${aws_sqs_queue.promotion_rule_dlq.arn}"} and "retry_policy" in target
    )
    fn = resources(stack, "aws_lambda_function")["model_promotion"]
    assert fn["function_name"] == "nwa-model-promotion" and fn["timeout"] == 900 and fn["memory_size"] == 2048
    assert fn["dead_letter_config"] == {"target_arn": "${aws_sqs_queue.promotion_function_dlq.arn}"}
    # the package sits next to cdk.tf.json and its hash is the hash of the committed bytes
    assert fn["filename"] == "assets/promotion.zip"
    assert fn["source_code_hash"] == assets.base64_sha256(tree[f"stacks/{HUB}/assets/promotion.zip"])
    assert resources(stack, "aws_cloudwatch_log_group")["model_promotion"] == {
        **resources(stack, "aws_cloudwatch_log_group")["model_promotion"],
        "name": "/aws/lambda/nwa-model-promotion",
        "retention_in_days": 365,
        "kms_key_id": "${aws_kms_key.model_artifacts.arn}",
    }
    # the sources mapping ships in the package (it grows with the teams; Lambda's environment is 4 KB)
    assert "SOURCES" not in fn["environment"]["variables"]
    with zipfile.ZipFile(io.BytesIO(tree[f"stacks/{HUB}/assets/promotion.zip"])) as package:
        env = json.loads(package.read("sources.json"))
    assert env[FRAUD_ID]["groups"] == {
        "nwa-fraud-card-scoring": "nwa-fraud-card-scoring-330000000003",
        "nwa-fraud-merchant-risk": "nwa-fraud-merchant-risk-330000000003",
    }
    assert env[FRAUD_ID]["deploy_accounts"] == [TEST_ID, PROD_ID]


def test_assets_are_deterministic_zips(tree):
    for name in ("promotion.zip", "endpoint-source.zip"):
        data = tree[f"stacks/{HUB}/assets/{name}"]
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            assert [i.filename for i in infos] == sorted(i.filename for i in infos)
            assert all(i.date_time == (1980, 1, 1, 0, 0, 0) and i.external_attr >> 16 == 0o100644 for i in infos)
    with zipfile.ZipFile(io.BytesIO(tree[f"stacks/{HUB}/assets/promotion.zip"])) as archive:
        assert (
            archive.read("promotion.py")
            == (Path(assets.__file__).parents[1] / "functions" / "promotion.py").read_bytes()
        )
    assert assets.deterministic_zip({"b": b"2", "a": b"1"}) == assets.deterministic_zip({"a": b"1", "b": b"2"})


def test_central_approval_starts_the_pipeline_and_rejection_does_not(stacks):
    stack = stacks[FRAUD_HUB]
    rule = resources(stack, "aws_cloudwatch_event_rule")["fraud_card_scoring"]
    pattern = json.loads(rule["event_pattern"])
    central = "nwa-fraud-card-scoring-330000000003"
    assert pattern == {
        "source": ["aws.sagemaker"],
        "detail-type": [STATE_CHANGE],
        "detail": {"ModelApprovalStatus": ["Approved"], "ModelPackageGroupName": [central]},
    }
    assert matches(pattern, event(central, "Approved", account=HUB_ID))
    assert not matches(pattern, event(central, "Rejected", account=HUB_ID))
    assert not matches(pattern, event(central, "PendingManualApproval", account=HUB_ID))
    target = resources(stack, "aws_cloudwatch_event_target")["fraud_card_scoring"]
    assert target["arn"] == "${aws_codepipeline.fraud_card_scoring.arn}"
    assert target["role_arn"] == "${aws_iam_role.fraud_start_deploy.arn}" and "dead_letter_config" in target
    assert role_policy(stack, "fraud_start_deploy")[0]["Action"] == ["codepipeline:StartPipelineExecution"]


def _deploy_parameters(stack: dict, address: str, deploy: dict) -> dict:
    """The parameters CloudFormation receives from a deploy action: the template configuration
    file the pipeline's select build writes (run in sh with jq, :mod:`tests.journey.monitor_steps`)."""
    from tests.journey.monitor_steps import deploy_parameters

    project = resources(stack, "aws_codebuild_project")[address]
    group = project["description"].removeprefix("Newest approved package of ")
    package = f"arn:aws:sagemaker:eu-west-1:{group.rsplit('-', 1)[1]}:model-package/{group}/1"
    params = deploy_parameters(project["source"]["buildspec"], deploy["configuration"], package)
    assert isinstance(params, dict), params
    return params


@pytest.mark.slow  # runs the select step in sh
def test_pipeline_deploys_test_then_waits_for_approval_then_prod(stacks):
    pipeline = resources(stacks[FRAUD_HUB], "aws_codepipeline")["fraud_card_scoring"]
    assert pipeline["name"] == "nwa-fraud-card-scoring-deploy" and pipeline["pipeline_type"] == "V2"
    (store,) = as_list(pipeline["artifact_store"])
    # the team's own store, encrypted with the hub's artifacts key, named by alias (its core stack's)
    assert store["location"] == f"nwa-pipeline-fraud-{HUB_ID}-eu-west-1"
    assert store["encryption_key"] == {"id": f"arn:aws:kms:eu-west-1:{HUB_ID}:alias/nwa/model-artifacts", "type": "KMS"}
    stages = pipeline["stage"]
    assert [s["name"] for s in stages] == ["Source", "SelectModel", "test", "prod"]
    test_actions = sorted(stages[2]["action"], key=lambda a: a["run_order"])
    # the staging test: the endpoint tests run after the test deploy, in the test stage, before
    # the prod stage (and its approval) can start
    assert [(a["category"], a["run_order"]) for a in test_actions] == [("Deploy", 1), ("Test", 2)]
    tests = test_actions[1]
    assert (tests["provider"], tests["input_artifacts"]) == ("CodeBuild", ["template"])
    assert tests["role_arn"] == f"arn:aws:iam::{TEST_ID}:role/nwa-fraud-deploy"
    assert tests["configuration"] == {"ProjectName": "nwa-fraud-card-scoring-tests"}
    test_params = _deploy_parameters(stacks[FRAUD_HUB], "fraud_card_scoring", test_actions[0])
    assert test_params["EndpointTestsEnabled"] == "true"
    assert test_params["EndpointTestsProject"] == tests["configuration"]["ProjectName"]
    assert test_params["EndpointTesterRoleArn"] == f"arn:aws:iam::{TEST_ID}:role/nwa-fraud-endpoint-tester"
    approve, verify, deploy = sorted(stages[3]["action"], key=lambda a: a["run_order"])
    assert (approve["category"], approve["provider"], approve["run_order"]) == ("Approval", "Manual", 1)
    assert (verify["category"], verify["provider"], verify["run_order"]) == ("Build", "CodeBuild", 2)
    assert (deploy["category"], deploy["run_order"]) == ("Deploy", 3)
    # each deploy goes through the team's deploy role in its stage account
    assert test_actions[0]["role_arn"] == f"arn:aws:iam::{TEST_ID}:role/nwa-fraud-deploy"
    assert deploy["role_arn"] == f"arn:aws:iam::{PROD_ID}:role/nwa-fraud-deploy"
    assert deploy["configuration"]["RoleArn"] == f"arn:aws:iam::{PROD_ID}:role/nwa-fraud-endpoint-deployer"
    # the parameters are the stage's template configuration file, which the select build wrote
    # beside the pin: no configuration value passes CodePipeline's 1,000 characters
    assert deploy["configuration"]["TemplateConfiguration"] == "selected::deploy-prod.json"
    assert "selected" in deploy["input_artifacts"] and "ParameterOverrides" not in deploy["configuration"]
    params = _deploy_parameters(stacks[FRAUD_HUB], "fraud_card_scoring", deploy)
    assert "EndpointTestsEnabled" not in params  # prod keeps the template's default: no tests project
    # the package the pin names (selected.json, the select build's own output)
    assert params["ModelPackageArn"].endswith(":model-package/nwa-fraud-card-scoring-330000000003/1")
    assert int(params["InstanceCount"]) >= 2 and int(params["MinCapacity"]) >= 2 and params["MaxCapacity"] == "6"
    assert params["NetworkIsolation"] == "true" and params["DataCapturePercent"] == "10"
    assert params["KmsKeyArn"] == f"arn:aws:kms:eu-west-1:{PROD_ID}:alias/nwa/platform"
    # subnets and security groups are not overridden: the template reads the stage account's SSM parameters
    assert "SubnetIds" not in params and "SecurityGroupIds" not in params
    # churn's stages take the safe defaults: 1 instance in test, 2 in prod, isolated, capturing
    churn = resources(stacks[CHURN_HUB], "aws_codepipeline")["churn_models"]["stage"]
    test_p, prod_p = (
        _deploy_parameters(stacks[CHURN_HUB], "churn_models", a)
        for s in churn[2:]
        for a in s["action"]
        if a["category"] == "Deploy"
    )
    assert (test_p["InstanceCount"], prod_p["InstanceCount"], prod_p["MinCapacity"]) == ("1", "2", "2")
    assert prod_p["NetworkIsolation"] == "true" and prod_p["DataCapturePercent"] == "20" and "SubnetIds" not in prod_p


def test_select_step_picks_the_newest_approved_package(stacks, monkeypatch):
    # GIVEN the select project's CLI call, run with the same arguments through boto3 on moto
    boto3 = pytest.importorskip("boto3")
    from moto import mock_aws

    project = resources(stacks[FRAUD_HUB], "aws_codebuild_project")["fraud_card_scoring"]
    commands = json.loads(project["source"]["buildspec"])["phases"]["build"]["commands"]
    words = shlex.split(commands[0].removeprefix("arn=$(").removesuffix(")"))
    assert words[:3] == ["aws", "sagemaker", "list-model-packages"]
    flags = dict(zip(words[3::2], words[4::2], strict=False))
    kwargs = {
        k[2:].title().replace("-", ""): v for k, v in flags.items() if k not in ("--query", "--output", "--max-items")
    }
    assert int(flags["--max-items"]) == 1
    for var, value in (("AWS_ACCESS_KEY_ID", "t"), ("AWS_SECRET_ACCESS_KEY", "t"), ("AWS_DEFAULT_REGION", "eu-west-1")):
        monkeypatch.setenv(var, value)
    with mock_aws():
        sm = boto3.client("sagemaker")
        sm.create_model_package_group(ModelPackageGroupName=kwargs["ModelPackageGroupName"])
        spec = {
            "Containers": [{"Image": "img"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        }
        arns = [
            sm.create_model_package(
                ModelPackageGroupName=kwargs["ModelPackageGroupName"],
                InferenceSpecification=spec,
                ModelApprovalStatus=s,
            )["ModelPackageArn"]
            for s in ("Approved", "Approved", "Rejected")
        ]
        # WHEN listed as the build lists them THEN the first is the NEWEST approved one
        listed = sm.list_model_packages(**kwargs)["ModelPackageSummaryList"]
    assert listed[0]["ModelPackageArn"] == arns[1]
    assert kwargs["SortOrder"] == "Descending" and kwargs["ModelApprovalStatus"] == "Approved"


def test_stage_deploy_role_trusts_only_the_hub_pipeline_role(stacks):
    for stack_name, account_id in ((TEST, TEST_ID), (PROD, PROD_ID)):
        for team in ("fraud", "churn"):
            team_stack = stacks[team_stack_name(stack_name, team)]
            role = resources(team_stack, "aws_iam_role")[f"{team}_deploy"]
            assert role["name"] == f"nwa-{team}-deploy"
            (trust,) = statements(role["assume_role_policy"])
            assert trust["Principal"] == {"AWS": f"arn:aws:iam::{HUB_ID}:root"}
            assert trust["Condition"] == {
                "ArnEquals": {"aws:PrincipalArn": [f"arn:aws:iam::{HUB_ID}:role/nwa-{team}-deploy-pipeline"]}
            }
            passes = [s for s in role_policy(team_stack, f"{team}_deploy") if "iam:PassRole" in s["Action"]]
            assert passes == [
                {
                    "Sid": "PassDeployerRole",
                    "Effect": "Allow",
                    "Action": ["iam:PassRole"],
                    "Resource": [f"arn:aws:iam::{account_id}:role/nwa-{team}-endpoint-deployer"],
                    "Condition": {"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}},
                }
            ]
    # and the hub pipeline role may assume exactly those roles
    (assume,) = [
        s for s in role_policy(stacks[FRAUD_HUB], "fraud_deploy_pipeline") if s["Action"] == ["sts:AssumeRole"]
    ]
    assert assume["Resource"] == [
        f"arn:aws:iam::{TEST_ID}:role/nwa-fraud-deploy",
        f"arn:aws:iam::{PROD_ID}:role/nwa-fraud-deploy",
    ]


def test_dev_registry_personas(stacks):
    stack = stacks[FRAUD_DEV]
    group_policy = statements(
        resources(stack, "aws_sagemaker_model_package_group_policy")["team_card_scoring"]["resource_policy"]
    )
    assert [s["Principal"] for s in group_policy] == [{"AWS": f"arn:aws:iam::{HUB_ID}:root"}]
    assert group_policy[0]["Action"] == [
        "sagemaker:DescribeModelPackage",
        "sagemaker:DescribeModelPackageGroup",
        "sagemaker:ListModelPackages",
    ]
    ds = role_policy(stack, "fraud_data_scientist")
    assert any(s["Effect"] == "Deny" and s["Action"] == ["sagemaker:UpdateModelPackage"] for s in ds)
    assert not any(s["Effect"] == "Allow" and "sagemaker:UpdateModelPackage" in s["Action"] for s in ds)
    lead = role_policy(stack, "fraud_lead_data_scientist")
    assert any(s["Effect"] == "Allow" and s["Action"] == ["sagemaker:UpdateModelPackage"] for s in lead)
    assert (
        resources(stack, "aws_sagemaker_model_package_group")["team_card_scoring"]["model_package_group_name"]
        == "nwa-fraud-card-scoring"
    )


def _policy_documents(stacks):
    keys = {
        "aws_iam_role_policy": "policy",
        "aws_iam_role": "assume_role_policy",
        "aws_s3_bucket_policy": "policy",
        "aws_kms_key": "policy",
        "aws_sqs_queue_policy": "policy",
        "aws_cloudwatch_event_bus_policy": "policy",
        "aws_sagemaker_model_package_group_policy": "resource_policy",
    }
    for name, stack in sorted(stacks.items()):
        for rtype, address, config in all_resources(stack):
            if rtype in keys:
                yield f"{name}/{rtype}.{address}", statements(config[keys[rtype]])


def test_no_wildcard_actions_and_passrole_only_on_named_roles(stacks):
    checked = 0
    for where, stmts in _policy_documents(stacks):
        for s in stmts:
            if s["Effect"] != "Allow":
                continue
            actions = as_list(s["Action"])
            checked += 1
            assert not any(a == "*" or a.endswith(":*") for a in actions), (where, s)
            if "iam:PassRole" in actions:
                assert "*" not in as_list(s["Resource"]) and s["Condition"]["StringEquals"]["iam:PassedToService"], (
                    where,
                    s,
                )
            if s.get("Principal") == {"AWS": "*"}:
                assert "aws:PrincipalOrgID" in s["Condition"]["StringEquals"], (where, s)
    assert checked > 100


def test_stage_endpoint_role_reads_only_the_teams_promoted_artifacts(stacks):
    for team, groups in (("fraud", ["card-scoring", "merchant-risk"]), ("churn", ["models"])):
        endpoint = role_policy(stacks[team_stack_name(PROD, team)], f"{team}_endpoint")
        (read,) = [s for s in endpoint if s["Sid"] == "PromotedArtifacts"]
        assert read["Resource"] == [
            f"arn:aws:s3:::nwa-model-artifacts-{HUB_ID}-eu-west-1/{team}/nwa-{team}-{g}-{'330000000003' if team == 'fraud' else CHURN_ID}/*"  # noqa: E501 (an ARN reads best whole)
            for g in groups
        ]
    bucket_policy = statements(resources(stacks[HUB], "aws_s3_bucket_policy")["model_artifacts"]["policy"])
    (granted,) = [s for s in bucket_policy if s["Effect"] == "Allow"]
    # one statement for every team: the objects under the caller's own team tag
    # (tests/test_team_scoping.py has the simulator decide it)
    assert granted["Resource"] == [
        f"arn:aws:s3:::nwa-model-artifacts-{HUB_ID}-eu-west-1/$${{aws:PrincipalTag/mlgov:team}}/*"
    ]
    assert granted["Condition"]["ArnLike"] == {
        "aws:PrincipalArn": ["arn:aws:iam::*:role/nwa-*-endpoint", "arn:aws:iam::*:role/nwa-*-monitoring"]
    }


@pytest.mark.slow  # starts cfn-lint
def test_endpoint_template_passes_cfn_lint(tmp_path):
    venv_tool = Path(sys.executable).parent / "cfn-lint"
    tool = str(venv_tool) if venv_tool.exists() else require_tool("cfn-lint")
    with zipfile.ZipFile(io.BytesIO(assets.endpoint_source_zip(load_spec(ROOT / "org.yaml")))) as archive:
        template = archive.read(assets.ENDPOINT_TEMPLATE)
    path = tmp_path / "endpoint.json"
    path.write_bytes(template)
    proc = subprocess.run([tool, "--regions", "eu-west-1", "--", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    resources_ = json.loads(template)["Resources"]
    config = resources_["EndpointConfig"]["Properties"]
    assert config["KmsKeyId"] == {"Ref": "KmsKeyArn"} and config["DataCaptureConfig"]["Fn::If"][1]["KmsKeyId"] == {
        "Ref": "KmsKeyArn"
    }
    assert resources_["Model"]["Properties"]["EnableNetworkIsolation"] == {"Fn::If": ["Isolated", True, False]}
    # the model runs in the stage account's network, read from the SSM parameters its stack writes
    parameters = json.loads(template)["Parameters"]
    for name, ssm in (
        ("SubnetIds", "/nwa/network/subnet-ids"),
        ("SecurityGroupIds", "/nwa/network/security-group-ids"),
    ):
        assert parameters[name] == {
            "Type": "AWS::SSM::Parameter::Value<List<String>>",
            "Default": ssm,
            "Description": parameters[name]["Description"],
        }
    assert resources_["Model"]["Properties"]["VpcConfig"] == {
        "Subnets": {"Ref": "SubnetIds"},
        "SecurityGroupIds": {"Ref": "SecurityGroupIds"},
    }
    # the endpoint tests run in the same network, as the tester role, only where the pipeline asks
    tests = resources_["EndpointTests"]
    assert tests["Condition"] == "TestsOn" and parameters["EndpointTestsEnabled"]["Default"] == "false"
    assert tests["Properties"]["VpcConfig"] == {
        "VpcId": {"Ref": "VpcId"},
        **resources_["Model"]["Properties"]["VpcConfig"],
    }
    assert parameters["VpcId"]["Default"] == "/nwa/network/vpc-id"
    assert tests["Properties"]["ServiceRole"] == {"Ref": "EndpointTesterRoleArn"}
    assert tests["Properties"]["Source"] == {"Type": "CODEPIPELINE", "BuildSpec": assets.endpoint_tests_buildspec()}
    with zipfile.ZipFile(io.BytesIO(assets.endpoint_source_zip(load_spec(ROOT / "org.yaml")))) as archive:
        # the tests the buildspec runs are in the source, byte for byte the seed's
        assert {p: archive.read(p) for p in assets.ENDPOINT_TESTS} == {
            p: (ROOT / "mlgov" / "seed" / "model-build" / p).read_bytes() for p in assets.ENDPOINT_TESTS
        }


@pytest.mark.parametrize(
    "endpoints, line",
    [
        (
            {"prod": {"instance_count": 1}},
            "teams.fraud.governance.endpoints.prod.instance_count: a prod endpoint needs at least 2 instances (got 1)",
        ),
        (
            {"prod": {"min_capacity": 3, "max_capacity": 2}},
            "teams.fraud.governance.endpoints.prod.max_capacity: autoscaling maximum is below the minimum (got 2, "
            "expected at least 3)",
        ),
        (
            {"prod": {"min_capacity": 1}},
            "teams.fraud.governance.endpoints.prod.min_capacity: a prod endpoint must not scale below 2 instances "
            "(got 1)",
        ),
        (
            {"staging": {}},
            "teams.fraud.governance.endpoints.staging: unknown stage (got 'staging', expected one of ['prod', 'test'])",
        ),
    ],
)
def test_endpoint_settings_are_checked(endpoints, line):
    # GIVEN the default spec with the fraud team's endpoint settings replaced WHEN validated
    # THEN exactly that problem is reported at that path
    import yaml

    from mlgov.spec.located import load_yaml
    from mlgov.validation import parse_spec
    from tests.conftest import ROOT

    data = yaml.safe_load((ROOT / "org.yaml").read_text())
    data["teams"]["fraud"]["governance"]["endpoints"] = endpoints
    with pytest.raises(SpecError) as info:
        parse_spec(load_yaml(json.dumps(data), "spec.json"))
    assert [str(p).split(": ", 1)[1] for p in info.value.problems] == [line]


def test_hub_gate_roles_are_assumed_with_mfa_and_open_one_gate_each(stacks):
    # GIVEN the hub stack WHEN its two gate roles are read
    hub = stacks["ml-shared-services"]
    roles = resources(hub, "aws_iam_role")
    for address in ("ml_engineer", "governance_officer"):
        (trust,) = statements(roles[address]["assume_role_policy"])
        # THEN people of the hub account assume them, with MFA only
        assert trust["Principal"] == {"AWS": "arn:aws:iam::220000000002:root"}
        assert trust["Condition"] == {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
    engineer = {s["Sid"]: s for s in role_policy(hub, "ml_engineer")}
    # (by the org's prefix: one ARN whatever the number of teams; the hub registry holds only
    # the central groups)
    assert engineer["ApproveCentralPackages"]["Resource"] == [
        "arn:aws:sagemaker:eu-west-1:220000000002:model-package/nwa-*/*",
    ]
    officer = {s["Sid"]: s for s in role_policy(hub, "governance_officer")}
    # AND the officer approves the manual approval actions of the org's pipelines in the hub
    # (the deploy pipelines); which gates that opens, tests/test_separation_of_duties.py decides
    assert officer["ApproveProd"]["Resource"] == ["arn:aws:codepipeline:eu-west-1:220000000002:nwa-*"]


def test_dev_stack_writes_the_parameters_products_read(stacks):
    params = {p["name"]: p for p in resources(stacks["ml-dev-fraud"], "aws_ssm_parameter").values()}
    assert params["/nwa/team/name"]["value"] == "fraud"
    assert params["/nwa/team/model-package-groups"]["type"] == "StringList"
    assert params["/nwa/team/model-package-groups"]["value"] == "nwa-fraud-card-scoring,nwa-fraud-merchant-risk"
    assert params["/nwa/team/models-bucket"]["value"] == "nwa-models-330000000003-eu-west-1"
    assert params["/nwa/cost-tags/business-unit"]["value"] == "payments"  # the team's tag wins


def test_every_registration_grant_is_pinned_to_pending(stacks):
    for name, stack in stacks.items():
        for address in resources(stack, "aws_iam_role_policy"):
            for s in role_policy(stack, address):
                if "sagemaker:CreateModelPackage" in as_list(s["Action"]) and s["Effect"] == "Allow":
                    assert s["Condition"] == {
                        "StringEquals": {"sagemaker:ModelApprovalStatus": "PendingManualApproval"}
                    }, f"{name}: {address}: {s['Sid']}"
