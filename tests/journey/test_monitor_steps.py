"""Steps 10-15 of the story (:mod:`tests.journey.monitor_steps`): each one fails on a broken copy.

The default spec walks them clean in ``test_journey.py``; here every seam of monitoring is
broken once in a copy of the tree and the fraud team's story must fail at that step, naming
the principal and what denied it. All copies are decided in ONE simulator batch.
"""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from mlgov.platform import governance as assets
from tests.journey.journey import Journey, broken_lines, lines_of
from tests.journey.test_journey import HUB, _attr_edit, _policy_edit, drop

pytestmark = pytest.mark.slow  # node (iam-simulate) and sh/python subprocesses (the select step)

PROD, DEV, CHURN_DEV = "ml-prod", "ml-dev-fraud", "ml-dev-churn"


def _template_edit(edit):
    """A tree edit of the endpoint template inside the pipelines' source zip."""

    def apply(tree: dict[str, bytes]) -> None:
        path = f"stacks/{HUB}/{assets.ENDPOINT_SOURCE_ZIP}"
        with zipfile.ZipFile(io.BytesIO(tree[path])) as archive:
            template = json.loads(archive.read(assets.ENDPOINT_TEMPLATE))
        edit(template)
        data = (json.dumps(template, sort_keys=True, indent=2) + "\n").encode()
        tree[path] = assets.deterministic_zip({assets.ENDPOINT_TEMPLATE: data})

    return apply


def _no_schedule(template: dict) -> None:
    del template["Resources"]["DataQualitySchedule"]


def _fixed_baseline(template: dict) -> None:
    definition = template["Resources"]["DataQualitySchedule"]["Properties"]["MonitoringScheduleConfig"]
    baseline = definition["MonitoringJobDefinition"]["BaselineConfig"]
    baseline["StatisticsResource"]["S3Uri"] = "s3://somewhere-else/statistics.json"


def _select_without_baselines(attrs: dict) -> None:
    field = "DriftCheckBaselines.ModelDataQuality.Statistics.S3Uri"
    assert field in attrs["source"]["buildspec"]
    attrs["source"]["buildspec"] = attrs["source"]["buildspec"].replace(field, "DriftCheckBaselines.Nothing")


def _objects_anywhere(sid: str, bucket: str):
    def edit(policy: dict) -> None:
        (s,) = [s for s in policy["Statement"] if s.get("Sid") == sid]
        s["Resource"] = [f"arn:aws:s3:::{bucket}/*"]

    return edit


def _unmatch(sid: str, pattern: str):
    """The statement no longer admits the roles of one name pattern."""

    def edit(policy: dict) -> None:
        (s,) = [s for s in policy["Statement"] if s.get("Sid") == sid]
        s["Condition"]["ArnLike"]["aws:PrincipalArn"].remove(pattern)

    return edit


def _both(*edits):
    def apply(tree: dict[str, bytes]) -> None:
        for edit in edits:
            edit(tree)

    return apply


REPORTS = "nwa-monitoring-550000000006-eu-west-1"

# seam -> (tree edit, the step text the new failure must contain)
BROKEN = {
    "template-has-no-schedule": (_template_edit(_no_schedule), "10 prod schedule from the package's baselines"),
    "schedule-ignores-package-baseline": (
        _template_edit(_fixed_baseline),
        "10 prod schedule from the package's baselines",
    ),
    "select-step-drops-baselines": (
        _attr_edit(HUB, "aws_codebuild_project", "fraud_card_scoring", _select_without_baselines),
        # the select build refuses a pin without its baselines: no template configuration to deploy
        "deploy to test (template configuration)",
    ),
    "deployer-cannot-create-schedule": (
        _policy_edit(PROD, "aws_iam_role_policy", "fraud_endpoint_deployer", "policy", drop("MonitoringSchedules")),
        "11 prod deployer creates the schedule",
    ),
    "deployer-cannot-pass-monitoring-role": (
        _policy_edit(PROD, "aws_iam_role_policy", "fraud_endpoint_deployer", "policy", drop("PassMonitoringRole")),
        "11 prod deployer creates the schedule",
    ),
    "monitor-cannot-read-capture": (
        _policy_edit(PROD, "aws_iam_role_policy", "fraud_monitoring", "policy", drop("ReadCapturedData")),
        "12 prod monitor reads capture",
    ),
    "hub-bucket-closed-to-monitor": (
        _policy_edit(
            HUB,
            "aws_s3_bucket_policy",
            "model_artifacts",
            "policy",
            _unmatch("StageRolesReadOwnTeamArtifacts", "arn:aws:iam::*:role/nwa-*-monitoring"),
        ),
        "12 prod monitor reads capture and baselines, writes reports (statistics baseline)",
    ),
    "monitor-cannot-write-reports": (
        _policy_edit(PROD, "aws_iam_role_policy", "fraud_monitoring", "policy", drop("WriteReports")),
        "12 prod monitor reads capture and baselines, writes reports",
    ),
    "officer-cannot-read-reports": (
        _policy_edit(HUB, "aws_iam_role_policy", "governance_officer", "policy", drop("MonitoringReportsObjects")),
        "13 prod reports reach their readers (governance-officer)",
    ),
    "reports-bucket-closed-to-hub": (
        _policy_edit(PROD, "aws_s3_bucket_policy", "monitoring", "policy", drop("HubPersonasReadReports")),
        "13 prod reports reach their readers (ml-engineer)",
    ),
    "reports-key-closed-to-hub": (
        _policy_edit(PROD, "aws_kms_key", "monitoring", "policy", drop("HubPersonasDecrypt")),
        "13 prod reports reach their readers (governance-officer)",
    ),
    "own-data-scientist-reads-nothing": (
        _policy_edit(DEV, "aws_iam_role_policy", "fraud_data_scientist", "policy", drop("OwnMonitoringReportsObjects")),
        "13 prod reports reach their readers (own data scientist)",
    ),
    "other-team-reads-fraud-reports": (
        _both(
            _policy_edit(
                CHURN_DEV,
                "aws_iam_role_policy",
                "churn_data_scientist",
                "policy",
                _objects_anywhere("OwnMonitoringReportsObjects", REPORTS),
            ),
            _policy_edit(
                PROD, "aws_s3_bucket_policy", "monitoring", "policy", _objects_anywhere("TeamsReadOwnReports", REPORTS)
            ),
        ),
        "13 prod reports reach their readers (churn data scientist)",
    ),
    "other-team-grants-itself-only": (
        # One side alone (the churn role's own policy) must not open fraud's reports.
        _policy_edit(
            CHURN_DEV,
            "aws_iam_role_policy",
            "churn_data_scientist",
            "policy",
            _objects_anywhere("OwnMonitoringReportsObjects", REPORTS),
        ),
        None,
    ),
    "alarm-notifies-another-topic": (
        _attr_edit(
            PROD,
            "aws_cloudwatch_metric_alarm",
            "fraud_card_scoring_5xx",
            lambda a: a.update(alarm_actions=["${aws_sns_topic.churn_monitoring.arn}"]),
        ),
        "14 prod alarms notify the team",
    ),
    "topic-closed-to-cloudwatch": (
        _policy_edit(PROD, "aws_sns_topic_policy", "fraud_monitoring", "policy", drop("TeamAlarmsPublish")),
        "14 prod alarms notify the team",
    ),
    "repository-closed-to-stages": (
        _policy_edit(HUB, "aws_ecr_repository_policy", "fraud", "policy", drop("StageAccountsPull")),
        "16 prod endpoint pulls the team's image",
    ),
    "endpoint-pulls-any-repository": (
        # One side alone: an endpoint role that may pull everywhere still cannot read fraud's repository.
        _policy_edit(
            PROD,
            "aws_iam_role_policy",
            "churn_endpoint",
            "policy",
            lambda p: [s.update(Resource="*") for s in p["Statement"] if s.get("Sid") == "PullImages"],
        ),
        None,
    ),
    "deployer-cannot-create-batch-pipeline": (
        _policy_edit(PROD, "aws_iam_role_policy", "fraud_endpoint_deployer", "policy", drop("BatchPipelines")),
        "15 prod deployer creates the batch pipeline",
    ),
}


@pytest.fixture(scope="module")
def monitor_results(bridge, default_world) -> tuple[list[str], dict[str, list[str]]]:
    """Fraud's problem lines on the default tree, and the new lines of each broken copy."""
    baseline = lines_of([Journey(default_world, ["fraud"])])[0]
    return baseline, broken_lines(default_world, BROKEN, ["fraud"])


def test_the_monitoring_steps_are_walked(monitor_results, default_world):
    # GIVEN the default spec WHEN fraud's story is walked THEN every monitoring step ran clean
    baseline, _ = monitor_results
    assert baseline == []
    journey = Journey(default_world, ["fraud"])
    steps = {c.step.split("] ", 1)[1].split(" (")[0] for c in journey.contracts} | {
        f.step.split("] ", 1)[1] for f in journey.facts
    }
    for expected in (
        "10 prod schedule from the package's baselines",
        "10 test schedule from the package's baselines",  # fraud monitors test too (org.yaml)
        "11 prod deployer creates the schedule",
        "12 prod monitor reads capture and baselines, writes reports",
        "13 prod reports reach their readers",
        "14 prod alarms notify the team",
        "15 prod deployer creates the batch pipeline",
        "16 prod endpoint pulls the team's image",
    ):
        assert expected in steps, sorted(steps)


@pytest.mark.parametrize("seam", sorted(BROKEN))
def test_a_broken_monitoring_seam_fails_at_its_step(monitor_results, seam):
    new = monitor_results[1][seam]
    step = BROKEN[seam][1]
    if step is None:
        assert new == []  # THEN one side of a two-sided grant opens nothing
        return
    assert new, f"breaking {seam} went unnoticed"
    assert any(step in line for line in new), new
