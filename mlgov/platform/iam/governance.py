"""Policy documents of the governance hub: registry key and buckets, central bus, promotion
function, deployment pipelines and the two gate personas.

Each is a pure function of the validated spec and the hub region (and, where a policy names
the hub key, of that key's ARN). Cross-account principals are the other account's root plus
an ``aws:PrincipalArn`` condition naming the exact roles (:func:`only_role`): IAM, S3 and KMS
refuse a policy naming a role that does not exist yet, and this keeps every stack deployable
on its own while still admitting only those roles.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mlgov.platform import governance, monitoring, naming, policy
from mlgov.platform.iam import arns
from mlgov.platform.iam.actions import LOG_DELIVERY, LOG_GROUP_CREATE
from mlgov.platform.iam.common import approve_packages, only_role, register_pending, service_trust
from mlgov.spec.model import OrgSpec

# Action sets of the hub's documents.
KEY_READ = ("kms:Decrypt", "kms:DescribeKey")
LOGS_KEY_USE = ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*")
PROMOTION_KEY_USE = ("kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey")
PIPELINE_KEY_USE = (
    "kms:Decrypt",
    "kms:DescribeKey",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
)
OBJECT_READ = ("s3:GetObject",)
OBJECT_VERSION_READ = ("s3:GetObject", "s3:GetObjectVersion")
OBJECT_READ_WRITE = ("s3:GetObject", "s3:PutObject")
BUCKET_READ = ("s3:GetObject", "s3:ListBucket")
# Promotion copies the exact S3 version recorded at registration (GetObject with a VersionId).
VERSIONED_BUCKET_READ = ("s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket")
ARTIFACT_WRITE = ("s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject")
PIPELINE_STORE = ("s3:GetBucketVersioning", "s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket", "s3:PutObject")
PUT_EVENTS = ("events:PutEvents",)
SEND_MESSAGE = ("sqs:SendMessage",)
ASSUME_ROLE = ("sts:AssumeRole",)
# ListModelPackages and X-Ray trace submission have no resource-level permissions.
LIST_PACKAGES = ("sagemaker:ListModelPackages",)
TRACING = ("xray:PutTelemetryRecords", "xray:PutTraceSegments")
DESCRIBE_PACKAGE = ("sagemaker:DescribeModelPackage",)
DESCRIBE_CARD = ("sagemaker:DescribeModelCard",)
REGISTER_PACKAGE = ("sagemaker:CreateModelPackage",)
CENTRAL_REGISTRY_WRITE = (
    "sagemaker:AddTags",
    "sagemaker:CreateModelCard",
    "sagemaker:CreateModelPackageGroup",
    "sagemaker:DescribeModelCard",
    "sagemaker:DescribeModelPackage",
    "sagemaker:DescribeModelPackageGroup",
    "sagemaker:PutModelPackageGroupPolicy",
    "sagemaker:UpdateModelCard",
)
CENTRAL_REGISTRY_READ = ("sagemaker:DescribeModelCard", "sagemaker:DescribeModelPackageGroup")
SELECT_BUILD = ("codebuild:BatchGetBuilds", "codebuild:StartBuild")
START_PIPELINE = ("codepipeline:StartPipelineExecution",)
PUT_APPROVAL = ("codepipeline:PutApprovalResult",)
PIPELINE_READ = (
    "codepipeline:GetPipeline",
    "codepipeline:GetPipelineExecution",
    "codepipeline:GetPipelineState",
    "codepipeline:ListActionExecutions",
    "codepipeline:ListPipelineExecutions",
)
# Resource-side grants that are one action, not a statement.
INVOKE_FUNCTION = "lambda:InvokeFunction"
# The S3 server-side encryption algorithm of objects written under a customer key.
SSE_KMS = "aws:kms"

# Services that assume the hub's roles.
LAMBDA = "lambda.amazonaws.com"
CODEPIPELINE = "codepipeline.amazonaws.com"
CODEBUILD = "codebuild.amazonaws.com"
EVENTS = "events.amazonaws.com"


def _hub_id(spec: OrgSpec) -> str:
    return spec.accounts[spec.hub].id


def _stage_roles(spec: OrgSpec) -> dict[str, dict[str, dict[str, str]]]:
    return {t: governance.stage_roles(spec, t) for t in naming.by_label(spec, spec.teams)}


def _stage_accounts(spec: OrgSpec) -> list[str]:
    return sorted({a for roles in _stage_roles(spec).values() for a in roles})


def _central(region: str, hub_id: str, kind: str, groups: Sequence[str]) -> list[str]:
    """ARNs of the hub registry's ``kind`` (model-package-group, model-package, model-card) of ``groups``."""
    suffix = "/*" if kind == "model-package" else ""
    return [arns.sagemaker(region, hub_id, f"{kind}/{g}{suffix}") for g in groups]


# --- registry: key and buckets ----------------------------------------------------------------


def artifact_key_statements(spec: OrgSpec, region: str) -> list[dict[str, Any]]:
    """Hub key: the stage accounts' deploy, endpoint and monitoring roles decrypt; CloudWatch
    Logs encrypts the promotion function's log group."""
    endpoint_roles = _stage_roles(spec)
    readers = sorted(
        {
            r[p]
            for roles in endpoint_roles.values()
            for r in roles.values()
            for p in ("deploy", "endpoint", "monitoring")
        }
    )
    statements = []
    for account_id in _stage_accounts(spec):
        principal, condition = only_role(account_id, sorted(r for r in readers if f"::{account_id}:" in r))
        statements.append(
            policy.statement(
                f"StageRolesDecrypt{account_id}", KEY_READ, "*", principals=principal, conditions=condition
            )
        )
    log_group_arn = arns.log_group(region, _hub_id(spec), governance.promotion_log_group(spec))
    statements.append(
        policy.statement(
            "CloudWatchLogsEncryptsPromotionLogs",
            LOGS_KEY_USE,
            "*",
            principals={"Service": f"logs.{region}.amazonaws.com"},
            conditions={"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": log_group_arn}},
        )
    )
    return statements


def artifact_bucket_statements(spec: OrgSpec, region: str) -> list[dict[str, Any]]:
    """Artifact bucket: each stage account's endpoint role (and monitoring role, where the team
    monitors) reads its team's promoted artifacts."""
    artifact_bucket = naming.bucket_name(spec, spec.hub, region, "model-artifacts")
    statements = []
    for team, stage_roles in _stage_roles(spec).items():
        prefixes = [
            arns.objects(artifact_bucket, naming.central_model_package_group(spec, team, g))
            for g in spec.teams[team].governance.model_package_groups
        ]
        watched = {spec.accounts[k].id for k in monitoring.monitoring_accounts(spec, team)}
        title = naming.construct_id(naming.team_label(spec, team)).title().replace("_", "")
        for account_id, roles in stage_roles.items():
            principal, condition = only_role(account_id, [roles["endpoint"]])
            statements.append(
                policy.statement(
                    f"{title}Endpoint{account_id}", OBJECT_READ, prefixes, principals=principal, conditions=condition
                )
            )
            if account_id in watched:
                # The monitors read the drift baselines promoted beside the model.
                principal, condition = only_role(account_id, [roles["monitoring"]])
                statements.append(
                    policy.statement(
                        f"{title}Monitoring{account_id}",
                        OBJECT_READ,
                        prefixes,
                        principals=principal,
                        conditions=condition,
                    )
                )
    return statements


def pipeline_bucket_statements(spec: OrgSpec, region: str) -> list[dict[str, Any]]:
    """Pipeline bucket: each stage account's deploy roles read the pipeline artifacts."""
    pipeline_bucket = naming.bucket_name(spec, spec.hub, region, "deploy-pipelines")
    endpoint_roles = _stage_roles(spec)
    statements = []
    for account_id in _stage_accounts(spec):
        principal, condition = only_role(
            account_id,
            [r["deploy"] for roles in endpoint_roles.values() for a, r in roles.items() if a == account_id],
        )
        statements.append(
            policy.statement(
                f"StageDeployRolesRead{account_id}",
                OBJECT_VERSION_READ,
                [arns.objects(pipeline_bucket)],
                principals=principal,
                conditions=condition,
            )
        )
    return statements


# --- central bus ------------------------------------------------------------------------------


def bus_policy(spec: OrgSpec, region: str) -> str | None:
    """Central bus: PutEvents only by the dev accounts' forwarder roles inside the organization;
    None when no team has a dev account to forward from."""
    forwarders = sorted(
        arns.role(spec.accounts[spec.teams[t].dev_account].id, naming.team_role(spec, t, "event-forwarder"))
        for t in naming.by_label(spec, spec.teams)
    )
    if not forwarders:
        return None
    return policy.document(
        policy.statement(
            "OrgDevForwardersPutEvents",
            PUT_EVENTS,
            arns.event_bus(region, _hub_id(spec), naming.central_bus(spec)),
            principals={"AWS": "*"},
            conditions={
                "StringEquals": {"aws:PrincipalOrgID": spec.organization.id},
                "ArnEquals": {"aws:PrincipalArn": forwarders},
            },
        )
    )


# --- promotion function -----------------------------------------------------------------------


def promotion_trust(spec: OrgSpec) -> str:
    return service_trust(LAMBDA, _hub_id(spec))


def promotion_statements(spec: OrgSpec, region: str, key_arn: str) -> list[dict[str, Any]]:
    """Promotion function: reads approved dev packages and their artifacts, writes the central
    registry (pending approval only) and the artifact bucket under the hub key."""
    hub_id = _hub_id(spec)
    artifact_bucket = naming.bucket_name(spec, spec.hub, region, "model-artifacts")
    log_group_arn = arns.log_group(region, hub_id, governance.promotion_log_group(spec))
    read_sources, read_statements = [], []
    for team in naming.by_label(spec, spec.teams):
        t = spec.teams[team]
        dev_id = spec.accounts[t.dev_account].id
        dev_regions = spec.account_regions(t.dev_account)
        groups = [naming.model_package_group(spec, team, g) for g in t.governance.model_package_groups]
        read_sources += [arns.sagemaker(r, dev_id, f"model-package/{g}/*") for r in dev_regions for g in groups]
        dev_buckets = [naming.bucket_name(spec, t.dev_account, r, "models") for r in dev_regions]
        read_statements.append(
            policy.statement(
                f"ReadArtifacts{dev_id}",
                VERSIONED_BUCKET_READ,
                [a for b in dev_buckets for a in policy.bucket_arns(b)],
            )
        )
        read_statements.append(
            policy.statement(
                f"DecryptArtifacts{dev_id}",
                KEY_READ,
                [arns.kms_keys(r, dev_id) for r in dev_regions],
                conditions={
                    "ForAnyValue:StringEquals": {"kms:ResourceAliases": [naming.kms_alias(spec, "models")]},
                    "StringEquals": {"kms:ViaService": sorted(f"s3.{r}.amazonaws.com" for r in dev_regions)},
                },
            )
        )
    central = governance.central_groups(spec)
    packages = _central(region, hub_id, "model-package", central)
    return [
        policy.statement("Logs", LOG_DELIVERY, [f"{log_group_arn}:*"]),
        policy.statement(
            "DeadLetter",
            SEND_MESSAGE,
            [arns.queue(region, hub_id, naming.dlq(naming.promotion_function(spec)))],
        ),
        policy.statement("DescribeSourcePackages", DESCRIBE_PACKAGE, read_sources),
        policy.statement("ListCentralPackages", LIST_PACKAGES, "*"),
        policy.statement(
            "WriteCentralRegistry",
            CENTRAL_REGISTRY_WRITE,
            _central(region, hub_id, "model-package-group", central)
            + packages
            + _central(region, hub_id, "model-card", central),
        ),
        register_pending("RegisterCentralPendingOnly", packages),
        policy.statement("WriteArtifacts", ARTIFACT_WRITE, [arns.objects(artifact_bucket, g) for g in central]),
        policy.statement("ArtifactKey", PROMOTION_KEY_USE, [key_arn]),
        policy.statement("Tracing", TRACING, "*"),
        *read_statements,
    ]


# --- deployment pipelines (one set of roles per team) -----------------------------------------


def pipeline_trust(spec: OrgSpec) -> str:
    return service_trust(CODEPIPELINE, _hub_id(spec))


def select_trust(spec: OrgSpec) -> str:
    return service_trust(CODEBUILD, _hub_id(spec))


def start_deploy_trust(spec: OrgSpec) -> str:
    return service_trust(EVENTS, _hub_id(spec))


def _pipeline_key(key_arn: str) -> dict[str, Any]:
    return policy.statement("ArtifactKey", PIPELINE_KEY_USE, [key_arn])


SOURCE_WRITE = ("s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutObject")


def _sources_read_only(pipeline_bucket: str) -> dict[str, Any]:
    """The pipelines' source (every team's endpoint template) is Terraform's: the roles that use the
    artifact store may read it, never replace it."""
    source_prefix = governance.SOURCE_KEY.rsplit("/", 1)[0]
    return policy.statement(
        "SourcesReadOnly", SOURCE_WRITE, [arns.objects(pipeline_bucket, source_prefix)], effect="Deny"
    )


def deploy_pipeline_statements(spec: OrgSpec, team: str, region: str, key_arn: str) -> list[dict[str, Any]]:
    """A team's pipelines: the artifact store, its select builds, and its stage deploy roles only."""
    hub_id = _hub_id(spec)
    pipeline_bucket = naming.bucket_name(spec, spec.hub, region, "deploy-pipelines")
    groups = spec.teams[team].governance.model_package_groups
    return [
        policy.statement("ArtifactStore", PIPELINE_STORE, policy.bucket_arns(pipeline_bucket)),
        _sources_read_only(pipeline_bucket),
        _pipeline_key(key_arn),
        policy.statement(
            "SelectBuild",
            SELECT_BUILD,
            [arns.codebuild_project(region, hub_id, naming.select_project(spec, team, g)) for g in groups],
        ),
        policy.statement(
            "AssumeStageDeployRoles",
            ASSUME_ROLE,
            sorted(r["deploy"] for r in governance.stage_roles(spec, team).values()),
        ),
    ]


def select_model_statements(spec: OrgSpec, team: str, region: str, key_arn: str) -> list[dict[str, Any]]:
    """A team's select builds: list and describe its central packages, use the artifact store, log."""
    hub_id = _hub_id(spec)
    pipeline_bucket = naming.bucket_name(spec, spec.hub, region, "deploy-pipelines")
    groups = spec.teams[team].governance.model_package_groups
    log_groups = [
        arns.log_group(region, hub_id, f"/aws/codebuild/{naming.select_project(spec, team, g)}") for g in groups
    ]
    return [
        policy.statement("ListPackages", LIST_PACKAGES, "*"),
        # The selected package's drift baselines go to the deploy actions with its ARN.
        policy.statement(
            "DescribeSelectedPackage",
            DESCRIBE_PACKAGE,
            _central(
                region, hub_id, "model-package", [naming.central_model_package_group(spec, team, g) for g in groups]
            ),
        ),
        policy.statement("ArtifactStore", OBJECT_READ_WRITE, [arns.objects(pipeline_bucket)]),
        _sources_read_only(pipeline_bucket),
        _pipeline_key(key_arn),
        policy.statement("Logs", LOG_GROUP_CREATE + LOG_DELIVERY, [f"{g}:*" for g in log_groups] + log_groups),
    ]


def start_deploy_statements(spec: OrgSpec, team: str, region: str) -> list[dict[str, Any]]:
    """The central approval rules of a team start its pipelines, and nothing else."""
    hub_id = _hub_id(spec)
    return [
        policy.statement(
            "StartPipelines",
            START_PIPELINE,
            [
                arns.pipeline(region, hub_id, naming.deploy_pipeline(spec, team, g))
                for g in spec.teams[team].governance.model_package_groups
            ],
        )
    ]


# --- gate personas ----------------------------------------------------------------------------


def people_trust(spec: OrgSpec) -> str:
    """People signed in to the hub account with MFA."""
    return policy.document(
        policy.statement(
            "PeopleWithMfa",
            ASSUME_ROLE,
            principals={"AWS": arns.account_root(_hub_id(spec))},
            conditions={"Bool": {"aws:MultiFactorAuthPresent": "true"}},
        )
    )


def _reports(spec: OrgSpec) -> list[dict[str, Any]]:
    # Both personas read every team's monitoring reports in the stage accounts (the stage
    # buckets and keys name these roles in return).
    return monitoring.report_read_statements(spec, "MonitoringReports", monitoring.monitored_accounts(spec))


def ml_engineer_statements(spec: OrgSpec, region: str) -> list[dict[str, Any]]:
    """ML engineer: reviews and approves packages of the central registry (which starts deployment)."""
    hub_id = _hub_id(spec)
    central = governance.central_groups(spec)
    packages = _central(region, hub_id, "model-package", central)
    return [
        approve_packages("ApproveCentralPackages", packages),
        policy.statement("DescribeCentralPackages", DESCRIBE_PACKAGE, packages),
        policy.statement(
            "ReadCentralRegistry",
            CENTRAL_REGISTRY_READ,
            _central(region, hub_id, "model-package-group", central) + _central(region, hub_id, "model-card", central),
        ),
        policy.statement("ListPackages", LIST_PACKAGES, "*"),
        *_reports(spec),
    ]


def governance_officer_statements(spec: OrgSpec, region: str) -> list[dict[str, Any]]:
    """Governance officer: reads pipelines and model cards, gives the manual approvals before prod."""
    hub_id = _hub_id(spec)
    pipelines = [
        arns.pipeline(region, hub_id, naming.deploy_pipeline(spec, t, g))
        for t in naming.by_label(spec, spec.teams)
        for g in spec.teams[t].governance.model_package_groups
    ]
    return [
        policy.statement("ApproveProd", PUT_APPROVAL, governance.approval_actions(spec, region)),
        policy.statement("ReadPipelines", PIPELINE_READ, pipelines),
        policy.statement(
            "ReadModelCards", DESCRIBE_CARD, _central(region, hub_id, "model-card", governance.central_groups(spec))
        ),
        *_reports(spec),
    ]
