"""Containers, monitoring and batch inference in the synthesized stacks of the default spec.

The handoffs between accounts are walked with the IAM simulator in
``tests/journey/test_monitor_steps.py``; these are the facts of each stack on its own.
"""

from __future__ import annotations

import json

import pytest

from mlgov.platform import governance as assets
from mlgov.platform import monitoring
from mlgov.spec.model import team_stack_name
from tests.journey.monitor_steps import run_select

HUB, TEST, PROD = "ml-shared-services", "ml-test", "ml-prod"
FRAUD_HUB = team_stack_name(HUB, "fraud")  # the team's slice of the hub: its pipelines and repository
ORG_ID = "o-nw4a8k2j6q"


def resources(stacks, stack: str, rtype: str) -> dict:
    return stacks[stack]["resource"].get(rtype, {})


def account_resources(stacks, core: str, rtype: str) -> dict:
    """One type's resources of an account: its core stack's and its team slices',
    {"<stack>/<address>": config}."""
    return {
        f"{name}/{address}": config
        for name in sorted(stacks)
        if name == core or name.startswith(team_stack_name(core, ""))
        for address, config in resources(stacks, name, rtype).items()
    }


def test_each_team_has_an_immutable_scanned_kms_repository_with_a_lifecycle(stacks):
    # each team's repository is in its slice of the hub; the hub's images key in the core stack,
    # named by its alias (a key ARN is what AWS reports back, so the slice ignores that change)
    repos = account_resources(stacks, HUB, "aws_ecr_repository")
    assert {a: r["name"] for a, r in repos.items()} == {
        f"{team_stack_name(HUB, 'churn')}/churn": "nwa/churn",
        f"{team_stack_name(HUB, 'fraud')}/fraud": "nwa/fraud",
    }
    assert resources(stacks, HUB, "aws_kms_alias")["images"]["name"] == "alias/nwa/images"
    for repo in repos.values():
        assert repo["image_tag_mutability"] == "IMMUTABLE"
        assert repo["image_scanning_configuration"] == {"scan_on_push": True}
        images_key = "arn:aws:kms:eu-west-1:220000000002:alias/nwa/images"
        assert repo["encryption_configuration"] == [{"encryption_type": "KMS", "kms_key": images_key}]
    rules = json.loads(resources(stacks, FRAUD_HUB, "aws_ecr_lifecycle_policy")["fraud"]["policy"])["rules"]
    assert [r["selection"]["tagStatus"] for r in rules] == ["untagged", "any"]
    assert rules[1]["selection"]["countNumber"] == 100


def test_repository_policy_lets_exactly_dev_push_and_the_stage_endpoints_pull(stacks):
    doc = json.loads(resources(stacks, FRAUD_HUB, "aws_ecr_repository_policy")["fraud"]["policy"])
    push, pull = doc["Statement"]
    assert push["Principal"] == {"AWS": ["arn:aws:iam::330000000003:root"]}
    assert "ecr:PutImage" in push["Action"] and push["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": ORG_ID}}
    assert pull["Principal"] == {"AWS": ["arn:aws:iam::440000000005:root", "arn:aws:iam::550000000006:root"]}
    assert "ecr:PutImage" not in pull["Action"]
    assert pull["Condition"]["StringEquals"] == {"aws:PrincipalOrgID": ORG_ID}
    assert pull["Condition"]["ArnEquals"]["aws:PrincipalArn"] == [
        "arn:aws:iam::440000000005:role/nwa-fraud-endpoint",
        "arn:aws:iam::550000000006:role/nwa-fraud-endpoint",
    ]


def test_alarms_exist_only_for_monitored_stages(stacks):
    # fraud monitors test and prod (org.yaml); churn only prod (the default)
    test_alarms = sorted(
        a["alarm_name"] for a in account_resources(stacks, TEST, "aws_cloudwatch_metric_alarm").values()
    )
    assert all(a.startswith("nwa-fraud-") for a in test_alarms) and test_alarms
    prod_alarms = {a["alarm_name"] for a in account_resources(stacks, PROD, "aws_cloudwatch_metric_alarm").values()}
    assert {"nwa-churn-models-5xx", "nwa-churn-models-latency", "nwa-fraud-card-scoring-drift-amount"} <= prod_alarms
    # each team's alarms are in its own slice, none in the core stacks
    for core in (TEST, PROD):
        for address, alarm in account_resources(stacks, core, "aws_cloudwatch_metric_alarm").items():
            team = address.split("/")[0].removeprefix(team_stack_name(core, ""))
            assert address.startswith(team_stack_name(core, "")) and alarm["alarm_name"].startswith(f"nwa-{team}-")
    assert "nwa-churn-monitoring" not in {t["name"] for t in account_resources(stacks, TEST, "aws_sns_topic").values()}
    (subscription,) = account_resources(stacks, PROD, "aws_sns_topic_subscription").values()
    assert subscription["protocol"] == "email" and subscription["endpoint"] == "fraud-ml@northwind.example"


def test_batch_role_exists_only_where_a_group_asks_for_batch(stacks):
    assert "fraud_batch" in resources(stacks, team_stack_name(PROD, "fraud"), "aws_iam_role")
    test_roles = account_resources(stacks, TEST, "aws_iam_role")
    assert test_roles and not [
        a for a in test_roles if a.endswith("/fraud_batch")
    ]  # merchant-risk batches in prod only


@pytest.mark.slow  # starts sh and python (the select step)
def test_select_step_refuses_a_package_without_baselines_when_a_stage_is_monitored():
    # GIVEN the buildspec of a monitored team WHEN the newest package has no data-quality baseline
    arn = "arn:aws:sagemaker:eu-west-1:220000000002:model-package/g-1/3"
    monitored = assets.select_buildspec("g-1", ("data-quality",))
    failed = run_select(monitored, arn, "None", "None")
    # THEN the pipeline stops with a line naming the missing field
    assert isinstance(failed, str) and "has no DriftCheckBaselines.ModelDataQuality" in failed
    # AND an unmonitored team's select step hands over "none" instead
    selected = run_select(assets.select_buildspec("g-1"), arn, "None", "None")
    assert selected["ModelPackageArn"] == arn and selected["BaselineStatisticsUri"] == "none"
    # AND with baselines both are handed over as registered
    ok = run_select(monitored, arn, "s3://b/k/statistics.json", "s3://b/k/constraints.json")
    assert ok["BaselineStatisticsUri"] == "s3://b/k/statistics.json"
    assert ok["BaselineConstraintsUri"] == "s3://b/k/constraints.json"


def test_required_monitors_follow_the_spec(default_spec):
    assert monitoring.required_monitors(default_spec, "fraud") == ("data-quality",)
    assert monitoring.monitoring_accounts(default_spec, "fraud") == ["ml-prod", "ml-test"]
    assert monitoring.monitoring_accounts(default_spec, "churn") == ["ml-prod"]


def test_monitor_alarms_go_off_when_the_monitor_stops_reporting(stacks):
    # GIVEN the prod stack's alarms THEN every drift (and quality) alarm treats missing data as
    # breaching: stopping or deleting the schedule raises the alarm instead of silencing it;
    # the endpoint's own error and latency alarms stay quiet without traffic
    alarms = account_resources(stacks, PROD, "aws_cloudwatch_metric_alarm")
    monitors = {k: a for k, a in alarms.items() if "_drift_" in k or k.endswith("_quality")}
    assert monitors
    assert {k: a["treat_missing_data"] for k, a in monitors.items()} == dict.fromkeys(monitors, "breaching")
    others = {k: a["treat_missing_data"] for k, a in alarms.items() if k not in monitors}
    assert others and set(others.values()) == {"notBreaching"}
