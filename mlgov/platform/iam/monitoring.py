"""Documents of model monitoring in a stage account (:mod:`mlgov.modules.monitoring`).

The monitoring key (CloudWatch publishes to the encrypted topics, report readers decrypt
through S3 only), the report bucket (the hub's governance officer and ML engineer read every
report, a team's data scientists their own team's prefix) and each team's alarm topic.
"""

from __future__ import annotations

from typing import Any

from mlgov.platform import monitoring, naming, policy
from mlgov.platform.iam import actions, arns
from mlgov.platform.iam.common import only_role
from mlgov.platform.naming import construct_id
from mlgov.spec.model import OrgSpec

CLOUDWATCH = "cloudwatch.amazonaws.com"


def report_readers(spec: OrgSpec, account_key: str) -> tuple[list[str], dict[str, list[str]]]:
    """(hub persona role ARNs, {team: its dev persona role ARNs}) that read this account's reports."""
    hub_id = spec.accounts[spec.hub].id
    hub = sorted(arns.role(hub_id, naming.role_name(spec, p)) for p in ("governance-officer", "ml-engineer"))
    teams = {}
    for team in naming.by_label(spec, spec.teams):
        if account_key in monitoring.monitoring_accounts(spec, team):
            dev_id = spec.accounts[spec.teams[team].dev_account].id
            teams[team] = sorted(
                arns.role(dev_id, naming.team_role(spec, team, p)) for p in ("data-scientist", "lead-data-scientist")
            )
    return hub, teams


def key_statements(spec: OrgSpec, account_key: str, region: str) -> list[dict[str, Any]]:
    """The monitoring key: CloudWatch publishes to the topics; each reader account's report readers decrypt via S3."""
    account_id = spec.accounts[account_key].id
    hub_readers, team_readers = report_readers(spec, account_key)
    via_s3 = {"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}}
    statements = [
        policy.statement(
            "CloudWatchPublishesToTopics",
            actions.KMS_DECRYPT + ("kms:GenerateDataKey*",),
            "*",
            principals={"Service": CLOUDWATCH},
            conditions={"StringEquals": {"aws:SourceAccount": account_id}},
        )
    ]
    readers = {spec.accounts[spec.hub].id: hub_readers}
    for team, role_arns in team_readers.items():
        readers.setdefault(spec.accounts[spec.teams[team].dev_account].id, []).extend(role_arns)
    for reader_account, role_arns in sorted(readers.items()):
        principal, condition = only_role(reader_account, role_arns)
        statements.append(
            policy.statement(
                f"ReportReadersDecrypt{reader_account}",
                actions.KMS_DECRYPT,
                "*",
                principals=principal,
                conditions={**condition, **via_s3},
            )
        )
    return statements


def bucket_statements(spec: OrgSpec, account_key: str) -> list[dict[str, Any]]:
    """The report bucket: the hub personas read every report, each team's personas their own prefix."""
    bucket = naming.monitoring_bucket(spec, account_key)
    hub_readers, team_readers = report_readers(spec, account_key)
    principal, condition = only_role(spec.accounts[spec.hub].id, hub_readers)
    statements = [
        policy.statement(
            "HubPersonasReadReports",
            actions.S3_READ,
            [arns.bucket(bucket), arns.objects(bucket)],
            principals=principal,
            conditions=condition,
        )
    ]
    for team, role_arns in team_readers.items():
        principal, condition = only_role(spec.accounts[spec.teams[team].dev_account].id, role_arns)
        label = naming.team_label(spec, team)  # a renamed team keeps its prefix and statement ids
        title = construct_id(label).title().replace("_", "")
        statements += [
            policy.statement(
                f"{title}ReadsOwnReports",
                actions.S3_GET,
                [arns.objects(bucket, label)],
                principals=principal,
                conditions=condition,
            ),
            policy.statement(
                f"{title}ListsOwnReports",
                actions.S3_LIST,
                [arns.bucket(bucket)],
                principals=principal,
                conditions={**condition, "StringLike": {"s3:prefix": [f"{label}/*"]}},
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
