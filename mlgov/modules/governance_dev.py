"""Dev side of the model governance flow (one team's dev account).

Reads ``teams.<team>.governance.model_package_groups``, the team's ``stages`` (nothing else
of them), ``organization.name`` and the hub account (for the central bus and the promotion
role). Creates:

- ``aws_sagemaker_model_package_group.<group>`` + policy: only the hub account may describe
  and list the group's packages;
- the ``models`` KMS key and bucket where pipelines write artifacts; the hub's promotion role
  (only it) may read them;
- persona roles ``<org>-<team>-data-scientist`` (trains, registers, denied UpdateModelPackage) and
  ``<org>-<team>-lead-data-scientist`` (also approves), the ONE set of personas of the team: the
  catalog products use them as Studio execution roles and never make their own; each may open
  Studio (presigned URL, apps) for its own user profile only (the session's source identity),
  read the domain, launch projects from the hub's products, and read their own team's
  monitoring reports in its stage accounts (no other team's); and
  ``<org>-<team>-sagemaker-execution``, the role of every job and pipeline (the only role the
  personas may pass). Every registration is pinned to ``PendingManualApproval``;
- SSM parameters ``/<org>/team/name`` and ``/<org>/team/model-package-groups`` for the products
  (a catalog project registers into one of the team's groups, so its approvals are forwarded);
- rule ``<org>-<team>-model-approved`` on the default bus forwarding approvals of the team's
  groups to the hub's central bus through ``<org>-<team>-event-forwarder`` (PutEvents on that
  bus only), with a retry policy and the dead-letter queue ``<org>-<team>-model-approved-dlq``.
"""

from __future__ import annotations

from cdktf_cdktf_provider_aws.cloudwatch_event_rule import CloudwatchEventRule
from cdktf_cdktf_provider_aws.cloudwatch_event_target import CloudwatchEventTarget
from cdktf_cdktf_provider_aws.sagemaker_model_package_group import SagemakerModelPackageGroup
from cdktf_cdktf_provider_aws.sagemaker_model_package_group_policy import SagemakerModelPackageGroupPolicy
from cdktf_cdktf_provider_aws.ssm_parameter import SsmParameter
from constructs import Construct

from mlgov.modules.blocks import PlatformKey, SecureBucket, named, ref
from mlgov.modules.governance_common import (
    RETRY_ATTEMPTS,
    RETRY_MAX_AGE_SECONDS,
    dead_letter_queue,
    role,
    service_trust,
    team_role,
)
from mlgov.platform import governance, naming
from mlgov.platform import tags as tags_of
from mlgov.platform.iam import arns
from mlgov.platform.iam import dev as iam
from mlgov.platform.naming import construct_id
from mlgov.spec.model import OrgSpec


class DevGovernance(Construct):
    """Registry, personas and approval forwarding of one team's dev account."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        spec: OrgSpec,
        team: str,
        account_key: str,
        region: str,
        data_statements: list[dict] | None = None,
    ) -> None:
        super().__init__(scope, id)
        # The team's data access (mlgov.platform.data): the same statements in every reader role.
        data = list(data_statements or ())
        account_id = spec.accounts[account_key].id
        groups = spec.teams[team].governance.model_package_groups
        group_names = [naming.model_package_group(spec, team, g) for g in groups]
        label = naming.team_label(spec, team)  # a renamed team keeps its AWS names (renamed_from)
        tags = tags_of.team_tags(spec, team)

        for group, name in zip(groups, group_names, strict=True):
            address = construct_id("team", group)
            pkg_group = named(
                SagemakerModelPackageGroup(
                    self,
                    f"{address}_group",
                    model_package_group_name=name,
                    model_package_group_description=f"Team {label}: {group}",
                    tags=tags,
                ),
                address,
            )
            named(
                SagemakerModelPackageGroupPolicy(
                    self,
                    f"{address}_group_policy",
                    model_package_group_name=ref(pkg_group, "model_package_group_name"),
                    resource_policy=iam.group_policy(spec, team, region, name),
                ),
                address,
            )

        self.models_key = PlatformKey(
            self,
            "models_key",
            name="models",
            account_id=account_id,
            alias=naming.kms_alias(spec, "models"),
            description=f"mlgov model artifacts of team {label}",
            extra_statements=iam.models_key_statements(spec, region),
        )
        models_bucket = iam.models_bucket(spec, team, region)
        self.models_bucket = SecureBucket(
            self,
            "models_bucket",
            name="models",
            bucket_name=models_bucket,
            kms_key_arn=self.models_key.arn,
            extra_statements=iam.models_bucket_statements(spec, team, region),
        )
        trust_persona = iam.persona_trust(spec, team)
        self.readers = {}
        self.readers["data_scientist"] = team_role(
            self,
            spec,
            team,
            "data-scientist",
            trust=trust_persona,
            description=f"Data scientist of team {label}: trains and registers models, cannot approve them",
            statements=iam.persona_statements(spec, team, region, self.models_key.arn, data, lead=False),
        )
        self.readers["lead_data_scientist"] = team_role(
            self,
            spec,
            team,
            "lead-data-scientist",
            trust=trust_persona,
            description=f"Lead data scientist of team {label}: reviews and approves models in the dev registry",
            statements=iam.persona_statements(spec, team, region, self.models_key.arn, data, lead=True),
        )
        self.readers["sagemaker_execution"] = team_role(
            self,
            spec,
            team,
            "sagemaker-execution",
            trust=service_trust("sagemaker.amazonaws.com", account_id),
            description=f"SageMaker jobs and pipelines of team {label}",
            statements=iam.execution_statements(spec, team, region, self.models_key.arn, data),
        )

        # What the products read at launch: the team, its governed groups, where models go,
        # and the values of the cost tags in this account.
        written = [
            (("team", "name"), "String", label),
            (("team", "model-package-groups"), "StringList", ",".join(group_names)),
            (("team", "models-bucket"), "String", models_bucket),
            (("team", "models-key-arn"), "String", self.models_key.arn),
        ]
        if spec.service_catalog is not None:
            for key, value in tags_of.team_cost_tags(spec, team).items():
                written.append((("cost-tags", key), "String", value))
        for parts, kind, value in written:
            named(
                SsmParameter(
                    self,
                    f"param_{construct_id(*parts)}",
                    name=naming.ssm_parameter(spec, *parts),
                    type=kind,
                    value=value,
                    description=naming.PARAMETERS[parts],
                    tags=tags,
                ),
                construct_id(*parts),
            )

        # Forward approvals to the hub. The rule's pattern is exact: approvals of this team's
        # groups only, so a rejection or another group's event never leaves the account.
        bus_arn = iam.central_bus_arn(spec)
        rule_name = naming.approval_forward_rule(spec, team)
        forwarder = role(
            self,
            "event_forwarder",
            name=naming.team_role(spec, team, "event-forwarder"),
            trust=service_trust("events.amazonaws.com", account_id),
            tags=tags,
            description="Lets the approval rule put events on the hub's central bus, and nothing else",
            statements=iam.forwarder_statements(spec),
        )
        dlq = dead_letter_queue(
            self,
            "model_approved_dlq",
            name=naming.dlq(rule_name),
            region=region,
            account_id=account_id,
            sender_arn=arns.event_rule(region, account_id, rule_name),
            sender_service="events.amazonaws.com",
            tags=tags,
        )
        rule = named(
            CloudwatchEventRule(
                self,
                "rule",
                name=rule_name,
                description=f"Approved model packages of team {label} -> hub central bus",
                event_pattern=governance.forward_pattern(spec, team),
                tags=tags,
            ),
            "model_approved",
        )
        named(
            CloudwatchEventTarget(
                self,
                "target",
                rule=ref(rule, "name"),
                target_id="central-bus",
                arn=bus_arn,
                role_arn=ref(forwarder, "arn"),
                dead_letter_config={"arn": ref(dlq, "arn")},
                retry_policy={
                    "maximum_event_age_in_seconds": RETRY_MAX_AGE_SECONDS,
                    "maximum_retry_attempts": RETRY_ATTEMPTS,
                },
            ),
            "model_approved",
        )
