"""Model monitoring in a stage account: report bucket and key, team alarm topics, alarms.

Reads every team's ``governance.monitoring`` (stages, contacts, drift features, thresholds,
model_quality) and ``stages``. Creates, in a test or prod account where some team's stage is
monitored (:func:`mlgov.platform.monitoring.monitored_accounts`):

- KMS key ``alias/<org>/monitoring`` (monitoring job volumes and reports, alarm topics):
  CloudWatch may use it to publish to the encrypted topics, and the report readers may
  decrypt through S3 only;
- bucket ``<org>-monitoring-<id>-<region>``: one prefix per team (``<team>/<group>/<monitor>``).
  The hub's governance officer and ML engineer read every report; a team's data scientists
  read their own team's prefix only (each side grants: this policy and their roles);
- per monitored team, in the team's slice of the account (``<account>-team-<team>``): topic
  ``<org>-<team>-monitoring`` (KMS) with an e-mail subscription per contact, and per model and
  monitored stage the alarms ``<endpoint>-5xx``,
  ``<endpoint>-latency``, ``<endpoint>-drift-<feature>`` (each listed feature) and
  ``<endpoint>-quality`` (with a model-quality monitor), all notifying that topic.

The schedules themselves are created by the endpoint stack the hub's pipeline deploys
(``mlgov/templates/governance/endpoint.json.j2``), under the names these alarms watch.
"""

from __future__ import annotations

from typing import Any

from cdktf_cdktf_provider_aws.cloudwatch_metric_alarm import CloudwatchMetricAlarm
from cdktf_cdktf_provider_aws.sns_topic import SnsTopic
from cdktf_cdktf_provider_aws.sns_topic_policy import SnsTopicPolicy
from cdktf_cdktf_provider_aws.sns_topic_subscription import SnsTopicSubscription
from constructs import Construct

from mlgov.modules.blocks import PlatformKey, SecureBucket, named, ref
from mlgov.platform import monitoring, naming
from mlgov.platform import tags as tags_of
from mlgov.platform.iam import monitoring as iam
from mlgov.platform.naming import construct_id, free_text_id
from mlgov.spec.governance import monitored_stages
from mlgov.spec.model import OrgSpec

PERIOD_SECONDS = 300
# Model Monitor publishes its metrics once per run: look at one schedule period.
RUN_PERIODS = {"hourly": 3600, "daily": 86400}


# A monitor's alarm goes off when its metric stops coming (the schedule was stopped or deleted,
# or its job failed): silence is a finding, not a pass. An endpoint's own metrics stay quiet
# without traffic, so its error and latency alarms keep treating a gap as not breaching.
MISSING_DATA = {"drift": "breaching", "quality": "breaching"}


class StageMonitoring(Construct):
    """Report bucket and key of one stage account (its core stack)."""

    def __init__(self, scope: Construct, id: str, *, spec: OrgSpec, account_key: str, region: str) -> None:
        super().__init__(scope, id)
        account_id = spec.accounts[account_key].id
        bucket = naming.monitoring_bucket(spec, account_key)
        self.teams = iam.monitored_teams(spec, account_key)
        self.key = PlatformKey(
            self,
            "key",
            name="monitoring",
            account_id=account_id,
            alias=naming.kms_alias(spec, "monitoring"),
            description="mlgov model monitoring: job volumes, reports and alarm topics",
            extra_statements=iam.key_statements(spec, account_key, region),
        )
        self.bucket = SecureBucket(
            self,
            "bucket",
            name="monitoring",
            bucket_name=bucket,
            kms_key_arn=self.key.arn,
            extra_statements=iam.bucket_statements(spec, account_key),
        )


class TeamMonitoring(Construct):
    """Alarm topic, subscriptions and alarms of one monitored team in a stage account (the
    team's slice). The topic is encrypted with the account's monitoring key, named by its alias
    (the key is in the account's core stack, and its id is random)."""

    def __init__(self, scope: Construct, id: str, *, spec: OrgSpec, team: str, account_key: str, region: str) -> None:
        super().__init__(scope, id)
        t = spec.teams[team]
        m = t.governance.monitoring
        # AWS keeps the name a renamed team was created with; addresses move (renamed_from).
        former = naming.former_team(spec, team)
        tags = tags_of.team_tags(spec, team)
        address = construct_id(team)
        was = construct_id(former) if former else None
        topic_name = naming.monitoring_topic(spec, team)
        topic = named(
            SnsTopic(
                self,
                f"{address}_topic",
                name=topic_name,
                kms_master_key_id=naming.kms_alias(spec, "monitoring"),
                tags=tags,
            ),
            f"{address}_monitoring",
            was=was and f"{was}_monitoring",
        )
        self.topic = topic
        named(
            SnsTopicPolicy(
                self,
                f"{address}_topic_policy",
                arn=ref(topic, "arn"),
                policy=iam.topic_policy(spec, team, account_key, region),
            ),
            f"{address}_monitoring",
            was=was and f"{was}_monitoring",
        )
        for contact in sorted(m.contacts):
            named(
                SnsTopicSubscription(
                    self,
                    free_text_id(team, "contact", contact),
                    topic_arn=ref(topic, "arn"),
                    protocol="email",
                    endpoint=contact,
                ),
                free_text_id(team, "contact", contact),
                was=former and free_text_id(former, "contact", contact),
            )
        stages = [s for s in t.stages if s.account == account_key and s.name in monitored_stages(spec, team)]
        if not stages:
            return
        actions = [ref(topic, "arn")]
        run = RUN_PERIODS.get(m.schedule, 3600)
        for group in t.governance.model_package_groups:
            endpoint = naming.endpoint_name(spec, team, group)
            gaddress = construct_id(team, group)
            gwas = naming.moved_id(former, group)
            variant = {"EndpointName": endpoint, "VariantName": "AllTraffic"}
            alarms: list[tuple[str, dict[str, Any]]] = [
                (
                    "5xx",
                    {
                        "namespace": "AWS/SageMaker",
                        "metric_name": "Invocation5XXErrors",
                        "dimensions": variant,
                        "statistic": "Sum",
                        "period": PERIOD_SECONDS,
                        "evaluation_periods": 1,
                        "threshold": m.errors_5xx,
                        "comparison_operator": "GreaterThanOrEqualToThreshold",
                        "alarm_description": f"{endpoint}: {m.errors_5xx}+ 5XX errors in five minutes",
                    },
                ),
                (
                    "latency",
                    {
                        "namespace": "AWS/SageMaker",
                        "metric_name": "ModelLatency",
                        "dimensions": variant,
                        "extended_statistic": "p99",
                        "period": PERIOD_SECONDS,
                        "evaluation_periods": 3,
                        "threshold": m.latency_ms * 1000,  # ModelLatency is in microseconds
                        "comparison_operator": "GreaterThanThreshold",
                        "alarm_description": f"{endpoint}: p99 model latency above {m.latency_ms} ms for 15 minutes",
                    },
                ),
            ]
            schedule = {
                "Endpoint": endpoint,
                "MonitoringSchedule": naming.monitoring_schedule(spec, team, group, "data-quality"),
            }
            for feature in m.drift_features.get(group, []):
                alarms.append(
                    (
                        f"drift-{feature}",
                        {
                            "namespace": monitoring.DATA_METRICS_NAMESPACE,
                            "metric_name": f"feature_baseline_drift_{feature}",
                            "dimensions": schedule,
                            "statistic": "Maximum",
                            "period": run,
                            "evaluation_periods": 1,
                            "threshold": m.drift_threshold,
                            "comparison_operator": "GreaterThanThreshold",
                            "alarm_description": f"{endpoint}: data-quality monitor finds {feature} drifting from "
                            "its training baseline",
                        },
                    )
                )
            metric = monitoring.quality_metric(spec, team)
            if metric and m.model_quality:
                worse = metric in monitoring.HIGHER_IS_WORSE
                alarms.append(
                    (
                        "quality",
                        {
                            "namespace": monitoring.MODEL_METRICS_NAMESPACE,
                            "metric_name": metric,
                            "dimensions": {
                                "Endpoint": endpoint,
                                "MonitoringSchedule": naming.monitoring_schedule(spec, team, group, "model-quality"),
                            },
                            "statistic": "Maximum" if worse else "Minimum",
                            "period": run,
                            "evaluation_periods": 1,
                            "threshold": m.model_quality.threshold,
                            "comparison_operator": "GreaterThanThreshold" if worse else "LessThanThreshold",
                            "alarm_description": f"{endpoint}: model-quality monitor's {metric} crossed "
                            f"{m.model_quality.threshold}",
                        },
                    )
                )
            for what, settings in alarms:
                named(
                    CloudwatchMetricAlarm(
                        self,
                        free_text_id(gaddress, what),
                        alarm_name=naming.endpoint_alarm(spec, team, group, what),
                        treat_missing_data=MISSING_DATA.get(what.split("-")[0], "notBreaching"),
                        alarm_actions=actions,
                        ok_actions=actions,
                        tags=tags,
                        **settings,
                    ),
                    free_text_id(gaddress, what),
                    was=gwas and free_text_id(gwas, what),
                )
