"""Hub side of the model governance flow: central bus, registry promotion, deployment pipelines.

Reads ``organization`` (name, id), ``governance`` (promotion sizing), every team's
``dev_account``, ``governance`` (groups, endpoint settings) and ``stages``. Creates, in the
hub's home-region stack:

- KMS key ``alias/<org>/model-artifacts`` and buckets ``<org>-model-artifacts-<id>-<region>``
  (promoted artifacts; readable only by the stage accounts' endpoint roles) and
  ``<org>-deploy-pipelines-<id>-<region>`` (pipeline artifact store and template source);
- central bus ``<org>-model-governance``, PutEvents allowed only to the dev accounts'
  forwarder roles inside the organization (``aws:PrincipalOrgID``);
- function ``<org>-model-promotion`` (role, log group with retention, dead-letter queue),
  invoked by rule ``<org>-promote-approved-models`` (retry policy + dead-letter queue);
- per team and group: CodePipeline ``<org>-<team>-<group>-deploy`` (source template ->
  select the NEWEST approved package -> each stage's deploy, a manual approval before every
  stage that asks for one), started by rule ``<org>-<team>-<group>-approved`` on the default
  bus when a package of the central group becomes Approved (never on Rejected).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from cdktf_cdktf_provider_aws.cloudwatch_event_bus import CloudwatchEventBus
from cdktf_cdktf_provider_aws.cloudwatch_event_bus_policy import CloudwatchEventBusPolicy
from cdktf_cdktf_provider_aws.cloudwatch_event_rule import CloudwatchEventRule
from cdktf_cdktf_provider_aws.cloudwatch_event_target import CloudwatchEventTarget
from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.codebuild_project import CodebuildProject
from cdktf_cdktf_provider_aws.codepipeline import (
    Codepipeline,
    CodepipelineArtifactStore,
    CodepipelineArtifactStoreEncryptionKey,
    CodepipelineStage,
    CodepipelineStageAction,
)
from cdktf_cdktf_provider_aws.lambda_function import LambdaFunction
from cdktf_cdktf_provider_aws.lambda_permission import LambdaPermission
from cdktf_cdktf_provider_aws.s3_object import S3Object
from constructs import Construct

from mlgov.modules.blocks import PlatformKey, SecureBucket, named, ref
from mlgov.modules.governance_common import (
    RETRY_ATTEMPTS,
    RETRY_MAX_AGE_SECONDS,
    approval_pattern,
    dead_letter_queue,
    only_role,
    register_pending,
    role,
    service_trust,
)
from mlgov.platform import governance as assets
from mlgov.platform import images, monitoring, naming, policy
from mlgov.platform.naming import construct_id
from mlgov.spec.governance import resolve_endpoint
from mlgov.spec.model import OrgSpec

SOURCE_KEY = "sources/endpoint-source.zip"
PROMOTION_CONCURRENCY = 5  # reserved concurrent executions of the promotion function
BUILD_IMAGE = "aws/codebuild/amazonlinux2-x86_64-standard:5.0"
ARTIFACT_KEY_ACTIONS = (
    "kms:Decrypt",
    "kms:DescribeKey",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
)


def stage_roles(spec: OrgSpec, team: str) -> dict[str, dict[str, str]]:
    """Per stage account id of a team: its deploy, CloudFormation and endpoint role ARNs."""
    out: dict[str, dict[str, str]] = {}
    for stage in spec.teams[team].stages:
        account_id = spec.accounts[stage.account].id
        out[account_id] = {
            purpose: policy.role_arn(account_id, naming.team_role(spec, team, purpose))
            for purpose in ("deploy", "endpoint-deployer", "endpoint", "monitoring", "batch")
        }
    return dict(sorted(out.items()))


def approval_action_name(stage_name: str) -> str:
    """Name of the manual approval action before a stage's deploy action."""
    return f"approve-{stage_name}"


def verify_action_name(stage_name: str) -> str:
    """Name of the pin check between a stage's approval and its deploy action."""
    return f"verify-pin-{stage_name}"


def approval_actions(spec: OrgSpec, region: str) -> list[str]:
    """ARNs of every manual approval action of every pipeline (the governance officer's gate)."""
    hub_id = spec.accounts[spec.hub].id
    return sorted(
        f"arn:aws:codepipeline:{region}:{hub_id}:{naming.deploy_pipeline(spec, t, g)}/{s.name}/{approval_action_name(s.name)}"  # noqa: E501 (an ARN reads best whole)
        for t, team in spec.teams.items()
        for g in team.governance.model_package_groups
        for s in team.stages
        if s.manual_approval
    )


def settings_hash(spec: OrgSpec, team: str, stage) -> str:
    """Short hash of what the endpoint template builds for a stage (new settings, new names)."""
    governance = spec.teams[team].governance
    data = json.dumps(
        [
            resolve_endpoint(spec, team, stage).__dict__,
            assets.base64_sha256(assets.endpoint_source_zip(spec)),
            # Monitor job definitions are named like the model: new monitoring settings, new names.
            governance.monitoring.model_dump(mode="json"),
            {g: b.model_dump(mode="json") for g, b in sorted(governance.batch.items())},
        ],
        sort_keys=True,
        default=list,
    )
    return hashlib.sha256(data.encode()).hexdigest()[:8]


class HubGovernance(Construct):
    """Central bus, promotion function, artifact stores and deployment pipelines of the hub."""

    def __init__(self, scope: Construct, id: str, *, spec: OrgSpec, region: str) -> None:
        super().__init__(scope, id)
        hub_key = spec.hub
        hub_id = spec.accounts[hub_key].id
        org = spec.organization
        teams = naming.by_label(spec, spec.teams)

        # --- keys and buckets -------------------------------------------------------------
        endpoint_roles = {t: stage_roles(spec, t) for t in teams}
        stage_accounts = sorted({a for roles in endpoint_roles.values() for a in roles})
        readers = sorted(
            {
                r[p]
                for roles in endpoint_roles.values()
                for r in roles.values()
                for p in ("deploy", "endpoint", "monitoring")
            }
        )
        key_statements = []
        for account_id in stage_accounts:
            arns = sorted(r for r in readers if f"::{account_id}:" in r)
            principal, condition = only_role(account_id, arns)
            key_statements.append(
                policy.statement(
                    f"StageRolesDecrypt{account_id}",
                    ["kms:Decrypt", "kms:DescribeKey"],
                    "*",
                    principals=principal,
                    conditions=condition,
                )
            )
        log_group = f"/aws/lambda/{naming.promotion_function(spec)}"
        log_group_arn = f"arn:aws:logs:{region}:{hub_id}:log-group:{log_group}"
        key_statements.append(
            policy.statement(
                "CloudWatchLogsEncryptsPromotionLogs",
                ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"],
                "*",
                principals={"Service": f"logs.{region}.amazonaws.com"},
                conditions={"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": log_group_arn}},
            )
        )
        self.key = PlatformKey(
            self,
            "artifact_key",
            name="model_artifacts",
            account_id=hub_id,
            alias=naming.kms_alias(spec, "model-artifacts"),
            description="mlgov model artifacts, deployment pipelines and promotion logs",
            extra_statements=key_statements,
        )
        artifact_bucket = naming.bucket_name(spec, hub_key, region, "model-artifacts")
        bucket_statements = []
        for team in teams:
            prefixes = [
                f"arn:aws:s3:::{artifact_bucket}/{naming.central_model_package_group(spec, team, g)}/*"
                for g in spec.teams[team].governance.model_package_groups
            ]
            watched = {spec.accounts[k].id for k in monitoring.monitoring_accounts(spec, team)}
            for account_id, roles in endpoint_roles[team].items():
                title = construct_id(naming.team_label(spec, team)).title().replace("_", "")
                principal, condition = only_role(account_id, [roles["endpoint"]])
                bucket_statements.append(
                    policy.statement(
                        f"{title}Endpoint{account_id}",
                        ["s3:GetObject"],
                        prefixes,
                        principals=principal,
                        conditions=condition,
                    )
                )
                if account_id in watched:
                    # The monitors read the drift baselines promoted beside the model.
                    principal, condition = only_role(account_id, [roles["monitoring"]])
                    bucket_statements.append(
                        policy.statement(
                            f"{title}Monitoring{account_id}",
                            ["s3:GetObject"],
                            prefixes,
                            principals=principal,
                            conditions=condition,
                        )
                    )
        self.artifacts = SecureBucket(
            self,
            "artifact_bucket",
            name="model_artifacts",
            bucket_name=artifact_bucket,
            kms_key_arn=self.key.arn,
            extra_statements=bucket_statements,
        )
        pipeline_bucket = naming.bucket_name(spec, hub_key, region, "deploy-pipelines")
        deploy_readers = []
        for account_id in stage_accounts:
            principal, condition = only_role(
                account_id,
                [r["deploy"] for roles in endpoint_roles.values() for a, r in roles.items() if a == account_id],
            )
            deploy_readers.append(
                policy.statement(
                    f"StageDeployRolesRead{account_id}",
                    ["s3:GetObject", "s3:GetObjectVersion"],
                    [f"arn:aws:s3:::{pipeline_bucket}/*"],
                    principals=principal,
                    conditions=condition,
                )
            )
        self.pipelines_bucket = SecureBucket(
            self,
            "pipeline_bucket",
            name="deploy_pipelines",
            bucket_name=pipeline_bucket,
            kms_key_arn=self.key.arn,
            extra_statements=deploy_readers,
        )
        source_zip = assets.endpoint_source_zip(spec)
        named(
            S3Object(
                self,
                "endpoint_source",
                bucket=pipeline_bucket,
                key=SOURCE_KEY,
                source=assets.ENDPOINT_SOURCE_ZIP,
                source_hash=hashlib.sha256(source_zip).hexdigest(),
                server_side_encryption="aws:kms",
                kms_key_id=self.key.arn,
                depends_on=[self.pipelines_bucket.bucket],
            ),
            "endpoint_source",
        )

        # --- central bus --------------------------------------------------------------------
        bus_name = naming.central_bus(spec)
        bus_arn = f"arn:aws:events:{region}:{hub_id}:event-bus/{bus_name}"
        bus = named(CloudwatchEventBus(self, "bus", name=bus_name), "model_governance")
        forwarders = sorted(
            policy.role_arn(spec.accounts[spec.teams[t].dev_account].id, naming.team_role(spec, t, "event-forwarder"))
            for t in teams
        )
        if forwarders:
            named(
                CloudwatchEventBusPolicy(
                    self,
                    "bus_policy",
                    event_bus_name=ref(bus, "name"),
                    policy=policy.document(
                        policy.statement(
                            "OrgDevForwardersPutEvents",
                            ["events:PutEvents"],
                            bus_arn,
                            principals={"AWS": "*"},
                            conditions={
                                "StringEquals": {"aws:PrincipalOrgID": org.id},
                                "ArnEquals": {"aws:PrincipalArn": forwarders},
                            },
                        )
                    ),
                ),
                "model_governance",
            )

        # --- promotion function -------------------------------------------------------------
        function_name = naming.promotion_function(spec)
        function_dlq_name = naming.dlq(function_name)
        function_arn = f"arn:aws:lambda:{region}:{hub_id}:function:{function_name}"
        function_dlq = dead_letter_queue(
            self,
            "promotion_function_dlq",
            name=function_dlq_name,
            region=region,
            account_id=hub_id,
            sender_arn=function_arn,
            sender_service="lambda.amazonaws.com",
        )
        sources: dict[str, dict[str, Any]] = {}
        read_sources, read_statements = [], []
        for team in teams:
            t = spec.teams[team]
            dev_id = spec.accounts[t.dev_account].id
            groups = {
                naming.model_package_group(spec, team, g): naming.central_model_package_group(spec, team, g)
                for g in t.governance.model_package_groups
            }
            dev_regions = spec.account_regions(t.dev_account)
            dev_buckets = [naming.bucket_name(spec, t.dev_account, r, "models") for r in dev_regions]
            sources[dev_id] = {
                "team": naming.team_label(spec, team),
                "groups": dict(sorted(groups.items())),
                "deploy_accounts": list(endpoint_roles[team]),
                "images": images.promotion_rules(spec, team),
                # The only buckets this team's artifacts may come from (another team's are refused).
                "buckets": sorted(dev_buckets),
            }
            read_sources += [f"arn:aws:sagemaker:{r}:{dev_id}:model-package/{g}/*" for r in dev_regions for g in groups]
            read_statements.append(
                policy.statement(
                    f"ReadArtifacts{dev_id}",
                    ["s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket"],
                    [a for b in dev_buckets for a in policy.bucket_arns(b)],
                )
            )
            read_statements.append(
                policy.statement(
                    f"DecryptArtifacts{dev_id}",
                    ["kms:Decrypt", "kms:DescribeKey"],
                    [f"arn:aws:kms:{r}:{dev_id}:key/*" for r in dev_regions],
                    conditions={
                        "ForAnyValue:StringEquals": {"kms:ResourceAliases": [naming.kms_alias(spec, "models")]},
                        "StringEquals": {"kms:ViaService": sorted(f"s3.{r}.amazonaws.com" for r in dev_regions)},
                    },
                )
            )
        central = sorted(g for s in sources.values() for g in s["groups"].values())
        sm = f"arn:aws:sagemaker:{region}:{hub_id}"
        promotion_role = role(
            self,
            "model_promotion",
            name=naming.role_name(spec, "model-promotion"),
            trust=service_trust("lambda.amazonaws.com", hub_id),
            description="Promotion function: reads approved dev packages, writes the central registry and artifact "
            "bucket",
            statements=[
                policy.statement("Logs", ["logs:CreateLogStream", "logs:PutLogEvents"], [f"{log_group_arn}:*"]),
                policy.statement(
                    "DeadLetter", ["sqs:SendMessage"], [f"arn:aws:sqs:{region}:{hub_id}:{function_dlq_name}"]
                ),
                policy.statement("DescribeSourcePackages", ["sagemaker:DescribeModelPackage"], read_sources),
                # ListModelPackages has no resource-level permissions.
                policy.statement("ListCentralPackages", ["sagemaker:ListModelPackages"], "*"),
                policy.statement(
                    "WriteCentralRegistry",
                    [
                        "sagemaker:AddTags",
                        "sagemaker:CreateModelPackageGroup",
                        "sagemaker:DescribeModelPackage",
                        "sagemaker:DescribeModelPackageGroup",
                        "sagemaker:PutModelPackageGroupPolicy",
                        "sagemaker:CreateModelCard",
                        "sagemaker:DescribeModelCard",
                        "sagemaker:UpdateModelCard",
                    ],
                    [f"{sm}:model-package-group/{g}" for g in central]
                    + [f"{sm}:model-package/{g}/*" for g in central]
                    + [f"{sm}:model-card/{g}" for g in central],
                ),
                register_pending("RegisterCentralPendingOnly", [f"{sm}:model-package/{g}/*" for g in central]),
                policy.statement(
                    "WriteArtifacts",
                    ["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"],
                    [f"arn:aws:s3:::{artifact_bucket}/{g}/*" for g in central],
                ),
                policy.statement(
                    "ArtifactKey",
                    ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
                    [self.key.arn],
                ),
                # X-Ray trace submission has no resource-level permissions.
                policy.statement("Tracing", ["xray:PutTelemetryRecords", "xray:PutTraceSegments"], "*"),
                *read_statements,
            ],
        )
        logs = named(
            CloudwatchLogGroup(
                self,
                "log_group",
                name=log_group,
                retention_in_days=spec.governance.log_retention_days,
                kms_key_id=self.key.arn,
            ),
            "model_promotion",
        )
        package = assets.promotion_zip()
        function = named(
            LambdaFunction(
                self,
                "function",
                function_name=function_name,
                description="mlgov: promote approved dev model packages into the central registry",
                role=ref(promotion_role, "arn"),
                runtime="python3.12",
                handler=assets.PROMOTION_HANDLER,
                filename=assets.PROMOTION_ZIP,
                source_code_hash=assets.base64_sha256(package),
                memory_size=spec.governance.promotion_memory_mb,
                timeout=spec.governance.promotion_timeout_seconds,
                ephemeral_storage={"size": 512},
                # Promotions are rare; a small cap keeps a burst of approvals from flooding the
                # registry and the artifact bucket with parallel multi-GB copies.
                reserved_concurrent_executions=PROMOTION_CONCURRENCY,
                tracing_config={"mode": "Active"},
                kms_key_arn=self.key.arn,  # environment variables encrypted with the hub key
                dead_letter_config={"target_arn": ref(function_dlq, "arn")},
                logging_config={"log_format": "Text", "log_group": log_group},
                environment={
                    "variables": {
                        "ARTIFACT_BUCKET": artifact_bucket,
                        "ARTIFACT_KMS_KEY_ARN": self.key.arn,
                        "SOURCES": json.dumps(dict(sorted(sources.items())), sort_keys=True, separators=(",", ":")),
                    }
                },
                depends_on=[logs],
            ),
            "model_promotion",
        )
        rule_name = naming.promotion_rule(spec)
        rule_arn = f"arn:aws:events:{region}:{hub_id}:rule/{bus_name}/{rule_name}"
        rule_dlq = dead_letter_queue(
            self,
            "promotion_rule_dlq",
            name=naming.dlq(rule_name),
            region=region,
            account_id=hub_id,
            sender_arn=rule_arn,
            sender_service="events.amazonaws.com",
        )
        dev_groups = sorted(g for s in sources.values() for g in s["groups"])
        rule = named(
            CloudwatchEventRule(
                self,
                "promotion_rule",
                name=rule_name,
                event_bus_name=ref(bus, "name"),
                description="Approvals forwarded from team dev accounts -> promotion function",
                event_pattern=json.dumps(approval_pattern(dev_groups, sorted(sources)), sort_keys=True),
            ),
            "promote_approved_models",
        )
        named(
            CloudwatchEventTarget(
                self,
                "promotion_target",
                rule=ref(rule, "name"),
                event_bus_name=ref(bus, "name"),
                target_id="promotion-function",
                arn=ref(function, "arn"),
                dead_letter_config={"arn": ref(rule_dlq, "arn")},
                retry_policy={
                    "maximum_event_age_in_seconds": RETRY_MAX_AGE_SECONDS,
                    "maximum_retry_attempts": RETRY_ATTEMPTS,
                },
            ),
            "promote_approved_models",
        )
        named(
            LambdaPermission(
                self,
                "promotion_permission",
                action="lambda:InvokeFunction",
                function_name=ref(function, "function_name"),
                principal="events.amazonaws.com",
                source_arn=rule_arn,
                statement_id="CentralBusRule",
            ),
            "promote_approved_models",
        )

        for team in teams:
            self._team_pipelines(spec, team, region, hub_id, pipeline_bucket, endpoint_roles[team])
        self._gate_personas(spec, region, hub_id, central)

    def _gate_personas(self, spec: OrgSpec, region: str, hub_id: str, central: list[str]) -> None:
        """The people at the hub's two gates: the ML engineer approves central packages, the
        governance officer gives the manual approvals before prod. Each can open only its own gate;
        both are assumed by people signed in to the hub account with MFA. Both read the
        monitoring reports of every team's endpoints."""
        sm = f"arn:aws:sagemaker:{region}:{hub_id}"
        # Both read every team's monitoring reports in the stage accounts (the stage buckets and
        # keys name these roles in return).
        reports = monitoring.report_read_statements(spec, "MonitoringReports", monitoring.monitored_accounts(spec))
        trust = policy.document(
            policy.statement(
                "PeopleWithMfa",
                ["sts:AssumeRole"],
                principals={"AWS": policy.account_root(hub_id)},
                conditions={"Bool": {"aws:MultiFactorAuthPresent": "true"}},
            )
        )
        role(
            self,
            "ml_engineer",
            name=naming.role_name(spec, "ml-engineer"),
            trust=trust,
            description="ML engineer: reviews and approves packages in the central registry (starts deployment)",
            statements=[
                policy.statement(
                    "ApproveCentralPackages",
                    ["sagemaker:DescribeModelPackage", "sagemaker:UpdateModelPackage"],
                    [f"{sm}:model-package/{g}/*" for g in central],
                ),
                policy.statement(
                    "ReadCentralRegistry",
                    ["sagemaker:DescribeModelPackageGroup", "sagemaker:DescribeModelCard"],
                    [f"{sm}:model-package-group/{g}" for g in central] + [f"{sm}:model-card/{g}" for g in central],
                ),
                # ListModelPackages has no resource-level permissions.
                policy.statement("ListPackages", ["sagemaker:ListModelPackages"], "*"),
                *reports,
            ],
        )
        pipelines = [
            f"arn:aws:codepipeline:{region}:{hub_id}:{naming.deploy_pipeline(spec, t, g)}"
            for t in naming.by_label(spec, spec.teams)
            for g in spec.teams[t].governance.model_package_groups
        ]
        role(
            self,
            "governance_officer",
            name=naming.role_name(spec, "governance-officer"),
            trust=trust,
            description="Governance officer: reads test results and gives the manual approval before prod",
            statements=[
                policy.statement("ApproveProd", ["codepipeline:PutApprovalResult"], approval_actions(spec, region)),
                policy.statement(
                    "ReadPipelines",
                    [
                        "codepipeline:GetPipeline",
                        "codepipeline:GetPipelineExecution",
                        "codepipeline:GetPipelineState",
                        "codepipeline:ListActionExecutions",
                        "codepipeline:ListPipelineExecutions",
                    ],
                    pipelines,
                ),
                policy.statement(
                    "ReadModelCards",
                    ["sagemaker:DescribeModelCard"],
                    [f"{sm}:model-card/{g}" for g in central],
                ),
                *reports,
            ],
        )

    def _team_pipelines(
        self, spec: OrgSpec, team: str, region: str, hub_id: str, pipeline_bucket: str, roles: dict
    ) -> None:
        """Roles, select projects, pipelines and start rules of one team."""
        t = spec.teams[team]
        groups = t.governance.model_package_groups
        # AWS keeps the name a renamed team was created with; addresses move (renamed_from).
        label, former = naming.team_label(spec, team), naming.former_team(spec, team)
        tags = {"mlgov:team": label}
        pipelines = {g: naming.deploy_pipeline(spec, team, g) for g in groups}
        projects = {g: naming.select_project(spec, team, g) for g in groups}
        store = [f"arn:aws:s3:::{pipeline_bucket}", f"arn:aws:s3:::{pipeline_bucket}/*"]
        key_use = policy.statement("ArtifactKey", ARTIFACT_KEY_ACTIONS, [self.key.arn])
        pipeline_role = role(
            self,
            construct_id(team, "deploy_pipeline"),
            was=naming.moved_id(former, "deploy_pipeline"),
            name=naming.team_role(spec, team, "deploy-pipeline"),
            trust=service_trust("codepipeline.amazonaws.com", hub_id),
            tags=tags,
            description=f"Deployment pipelines of team {label}; assumes only the team's deploy roles in its stage "
            "accounts",
            statements=[
                policy.statement(
                    "ArtifactStore",
                    ["s3:GetObject", "s3:GetObjectVersion", "s3:GetBucketVersioning", "s3:PutObject", "s3:ListBucket"],
                    store,
                ),
                key_use,
                policy.statement(
                    "SelectBuild",
                    ["codebuild:BatchGetBuilds", "codebuild:StartBuild"],
                    [f"arn:aws:codebuild:{region}:{hub_id}:project/{p}" for p in projects.values()],
                ),
                policy.statement(
                    "AssumeStageDeployRoles", ["sts:AssumeRole"], sorted(r["deploy"] for r in roles.values())
                ),
            ],
        )
        build_role = role(
            self,
            construct_id(team, "select_model"),
            was=naming.moved_id(former, "select_model"),
            name=naming.team_role(spec, team, "select-model"),
            trust=service_trust("codebuild.amazonaws.com", hub_id),
            tags=tags,
            description=f"Selects the newest approved central package of team {label}",
            statements=[
                # ListModelPackages has no resource-level permissions.
                policy.statement("ListPackages", ["sagemaker:ListModelPackages"], "*"),
                # The selected package's drift baselines go to the deploy actions with its ARN.
                policy.statement(
                    "DescribeSelectedPackage",
                    ["sagemaker:DescribeModelPackage"],
                    [
                        f"arn:aws:sagemaker:{region}:{hub_id}:model-package/{naming.central_model_package_group(spec, team, g)}/*"  # noqa: E501 (an ARN reads best whole)
                        for g in groups
                    ],
                ),
                policy.statement(
                    "ArtifactStore", ["s3:GetObject", "s3:PutObject"], [f"arn:aws:s3:::{pipeline_bucket}/*"]
                ),
                key_use,
                policy.statement(
                    "Logs",
                    ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                    [f"arn:aws:logs:{region}:{hub_id}:log-group:/aws/codebuild/{p}:*" for p in projects.values()]
                    + [f"arn:aws:logs:{region}:{hub_id}:log-group:/aws/codebuild/{p}" for p in projects.values()],
                ),
            ],
        )
        start_role = role(
            self,
            construct_id(team, "start_deploy"),
            was=naming.moved_id(former, "start_deploy"),
            name=naming.team_role(spec, team, "start-deploy"),
            trust=service_trust("events.amazonaws.com", hub_id),
            tags=tags,
            description=f"Lets the central approval rules start team {label}'s pipelines, and nothing else",
            statements=[
                policy.statement(
                    "StartPipelines",
                    ["codepipeline:StartPipelineExecution"],
                    [f"arn:aws:codepipeline:{region}:{hub_id}:{p}" for p in pipelines.values()],
                )
            ],
        )
        for group in groups:
            address, was = construct_id(team, group), naming.moved_id(former, group)
            central = naming.central_model_package_group(spec, team, group)
            project = named(
                CodebuildProject(
                    self,
                    f"{address}_select",
                    name=projects[group],
                    service_role=ref(build_role, "arn"),
                    encryption_key=ref(self.key, "arn"),
                    description=f"Newest approved package of {central}",
                    build_timeout=10,
                    tags=tags,
                    artifacts={"type": "CODEPIPELINE"},
                    source={
                        "type": "CODEPIPELINE",
                        "buildspec": assets.select_buildspec(central, monitoring.required_monitors(spec, team)),
                    },
                    environment={
                        "compute_type": "BUILD_GENERAL1_SMALL",
                        "image": BUILD_IMAGE,
                        "type": "LINUX_CONTAINER",
                    },
                    logs_config={"cloudwatch_logs": {"status": "ENABLED"}},
                ),
                address,
                was=was,
            )
            stages = [
                CodepipelineStage(
                    name="Source",
                    action=[
                        CodepipelineStageAction(
                            name="template",
                            category="Source",
                            owner="AWS",
                            provider="S3",
                            version="1",
                            output_artifacts=["template"],
                            configuration={
                                "S3Bucket": pipeline_bucket,
                                "S3ObjectKey": SOURCE_KEY,
                                "PollForSourceChanges": "false",
                            },
                        )
                    ],
                ),
                CodepipelineStage(
                    name="SelectModel",
                    action=[
                        CodepipelineStageAction(
                            name="newest-approved",
                            category="Build",
                            owner="AWS",
                            provider="CodeBuild",
                            version="1",
                            input_artifacts=["template"],
                            output_artifacts=["selected"],
                            namespace=assets.SELECT_NAMESPACE,
                            configuration={"ProjectName": ref(project, "name")},
                        )
                    ],
                ),
            ]
            for stage in t.stages:
                account_id = spec.accounts[stage.account].id
                r = roles[account_id]
                actions = []
                if stage.manual_approval:
                    actions.append(
                        CodepipelineStageAction(
                            name=approval_action_name(stage.name),
                            category="Approval",
                            owner="AWS",
                            provider="Manual",
                            version="1",
                            run_order=1,
                            # The approver sees the pin the earlier stages deployed (variables the
                            # select build exported), so what is approved is what was tested.
                            configuration={"CustomData": assets.approval_summary(central, stage.name, stage.account)},
                        )
                    )
                    # After the approval, before the deploy: the pinned package is still exactly
                    # what the earlier stages deployed (the select project, run in check mode).
                    actions.append(
                        CodepipelineStageAction(
                            name=verify_action_name(stage.name),
                            category="Build",
                            owner="AWS",
                            provider="CodeBuild",
                            version="1",
                            run_order=2,
                            input_artifacts=["selected"],
                            configuration={
                                "ProjectName": ref(project, "name"),
                                "EnvironmentVariables": assets.verify_pin_variables(),
                            },
                        )
                    )
                actions.append(
                    CodepipelineStageAction(
                        name=f"deploy-{stage.name}",
                        category="Deploy",
                        owner="AWS",
                        provider="CloudFormation",
                        version="1",
                        run_order=3 if stage.manual_approval else 1,
                        input_artifacts=["template", "selected"],
                        role_arn=r["deploy"],
                        region=region,
                        configuration={
                            "ActionMode": "CREATE_UPDATE",
                            "StackName": naming.endpoint_stack(spec, team, group),
                            "TemplatePath": f"template::{assets.ENDPOINT_TEMPLATE}",
                            "RoleArn": r["endpoint-deployer"],
                            "ParameterOverrides": json.dumps(
                                self._parameters(spec, team, group, stage, r), sort_keys=True
                            ),
                        },
                    )
                )
                stages.append(CodepipelineStage(name=stage.name, action=actions))
            pipeline = named(
                Codepipeline(
                    self,
                    f"{address}_pipeline",
                    name=pipelines[group],
                    role_arn=ref(pipeline_role, "arn"),
                    pipeline_type="V2",
                    execution_mode="QUEUED",
                    tags=tags,
                    artifact_store=[
                        CodepipelineArtifactStore(
                            location=pipeline_bucket,
                            type="S3",
                            encryption_key=CodepipelineArtifactStoreEncryptionKey(id=self.key.arn, type="KMS"),
                        )
                    ],
                    stage=stages,
                ),
                address,
                was=was,
            )
            rule_name = naming.central_approval_rule(spec, team, group)
            rule_arn = f"arn:aws:events:{region}:{hub_id}:rule/{rule_name}"
            dlq = dead_letter_queue(
                self,
                f"{address}_approved_dlq",
                name=naming.dlq(rule_name),
                region=region,
                account_id=hub_id,
                sender_arn=rule_arn,
                sender_service="events.amazonaws.com",
                was=was and f"{was}_approved_dlq",
            )
            rule = named(
                CloudwatchEventRule(
                    self,
                    f"{address}_rule",
                    name=rule_name,
                    tags=tags,
                    description=f"{central}: package Approved -> deploy pipeline (Rejected does not match)",
                    event_pattern=json.dumps(approval_pattern([central]), sort_keys=True),
                ),
                address,
                was=was,
            )
            named(
                CloudwatchEventTarget(
                    self,
                    f"{address}_target",
                    rule=ref(rule, "name"),
                    target_id="deploy-pipeline",
                    arn=ref(pipeline, "arn"),
                    role_arn=ref(start_role, "arn"),
                    dead_letter_config={"arn": ref(dlq, "arn")},
                    retry_policy={
                        "maximum_event_age_in_seconds": RETRY_MAX_AGE_SECONDS,
                        "maximum_retry_attempts": RETRY_ATTEMPTS,
                    },
                ),
                address,
                was=was,
            )

    @staticmethod
    def _parameters(spec: OrgSpec, team: str, group: str, stage, roles: dict) -> dict:
        """CloudFormation parameters of one stage; the package ARN comes from the select step."""
        e = resolve_endpoint(spec, team, stage)
        account_id = spec.accounts[stage.account].id
        region = naming.hub_region(spec)
        capture_bucket = naming.bucket_name(spec, stage.account, region, "platform")
        return {
            "ModelPackageArn": {"Fn::GetParam": ["selected", assets.SELECTED_FILE, "ModelPackageArn"]},
            "EndpointName": naming.endpoint_name(spec, team, group),
            "SettingsHash": settings_hash(spec, team, stage),
            "ModelExecutionRoleArn": roles["endpoint"],
            "KmsKeyArn": f"arn:aws:kms:{region}:{account_id}:{naming.kms_alias(spec, 'platform')}",
            "InstanceType": e.instance_type,
            "InstanceCount": str(e.instance_count),
            "MinCapacity": str(e.min_capacity),
            "MaxCapacity": str(e.max_capacity),
            "InvocationsPerInstance": str(e.invocations_per_instance),
            "DataCapturePercent": str(e.data_capture_percent),
            "DataCaptureUri": f"s3://{capture_bucket}/data-capture/{naming.team_label(spec, team)}/{group}",
            "NetworkIsolation": "true" if e.network_isolation else "false",
            **monitoring.endpoint_parameters(spec, team, group, stage),
            # SubnetIds / SecurityGroupIds keep the template's defaults: the names of the SSM
            # parameters the stage account's stack writes (its network, docs/network.md).
        }
