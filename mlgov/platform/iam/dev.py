"""Documents of a team's dev account governance (:mod:`mlgov.modules.governance_dev`).

The registry's group policies, the ``models`` key and bucket statements for the hub's
promotion role, the personas' trust and policies (data scientist, lead data scientist, the
SageMaker execution role) and the approval forwarder's. The models key's ARN is a Terraform
reference (a key's id is random), so the documents that name it take it as an argument.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mlgov.platform import images, monitoring, naming, policy
from mlgov.platform.iam import actions, arns
from mlgov.platform.iam.common import (
    approve_packages,
    ecr_login,
    only_role,
    pass_role,
    register_pending,
    vpc_network_interfaces,
)
from mlgov.spec.model import OrgSpec

READ_REGISTRY_ACTIONS = actions.SAGEMAKER_READ_PACKAGES + actions.SAGEMAKER_TAGS
# Jobs a pipeline (or a data scientist) starts; each runs as the team's execution role.
JOB_ACTIONS = (
    "sagemaker:CreateProcessingJob",
    "sagemaker:CreateTrainingJob",
    "sagemaker:DescribeProcessingJob",
    "sagemaker:DescribeTrainingJob",
    "sagemaker:StopProcessingJob",
    "sagemaker:StopTrainingJob",
)
PIPELINE_ACTIONS = actions.SAGEMAKER_PIPELINE_RUN + ("sagemaker:ListPipelineExecutionSteps",)
# Launching a project from the hub's shared portfolios; the products live in the hub account.
CATALOG_PRODUCT_ACTIONS = (
    "servicecatalog:DescribeProduct",
    "servicecatalog:DescribeProvisioningParameters",
    "servicecatalog:ListLaunchPaths",
    "servicecatalog:ProvisionProduct",
)
# What could take a recorded artifact version away: deleting it, suspending versioning, a
# lifecycle rule that expires it.
VERSION_REMOVING_ACTIONS = ("s3:DeleteObjectVersion", "s3:PutBucketVersioning", "s3:PutLifecycleConfiguration")
MODEL_ARTIFACT_ACTIONS = ("s3:AbortMultipartUpload", "s3:GetObject", "s3:ListBucket", "s3:PutObject")
# IAM's policy variable for the session's source identity (the user profile's name), with its
# ``$`` doubled: Terraform would read a bare ``${`` as an interpolation.
OWN_PROFILE = "$${aws:SourceIdentity}"
SAGEMAKER = "sagemaker.amazonaws.com"


def _account_id(spec: OrgSpec, team: str) -> str:
    return spec.accounts[spec.teams[team].dev_account].id


def _promotion_role(spec: OrgSpec) -> tuple[dict[str, Any], dict[str, Any]]:
    """(principal, condition) of the hub's promotion role, the only reader of the team's artifacts."""
    hub_id = spec.accounts[spec.hub].id
    return only_role(hub_id, [arns.role(hub_id, naming.role_name(spec, "model-promotion"))])


def models_bucket(spec: OrgSpec, team: str, region: str) -> str:
    return naming.bucket_name(spec, spec.teams[team].dev_account, region, "models")


def central_bus_arn(spec: OrgSpec) -> str:
    """The hub's central bus, where every team's approvals go."""
    return arns.event_bus(naming.hub_region(spec), spec.accounts[spec.hub].id, naming.central_bus(spec))


def group_policy(spec: OrgSpec, team: str, region: str, name: str) -> str:
    """Resource policy of the model package group ``name``: the hub account describes and lists its packages."""
    account_id = _account_id(spec, team)
    return policy.document(
        policy.statement(
            "HubReadsPackages",
            actions.SAGEMAKER_READ_PACKAGES,
            [
                arns.sagemaker(region, account_id, f"model-package-group/{name}"),
                arns.sagemaker(region, account_id, f"model-package/{name}/*"),
            ],
            principals={"AWS": arns.account_root(spec.accounts[spec.hub].id)},
        )
    )


def models_key_statements(spec: OrgSpec, region: str) -> list[dict[str, Any]]:
    """The models key: the hub's promotion role decrypts through S3 only."""
    principal, condition = _promotion_role(spec)
    return [
        policy.statement(
            "HubPromotionReadsArtifacts",
            actions.KMS_READ,
            "*",
            principals=principal,
            conditions={**condition, "StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}},
        )
    ]


def models_bucket_statements(spec: OrgSpec, team: str, region: str) -> list[dict[str, Any]]:
    """The models bucket: the hub's promotion role reads the artifacts, by version (it copies
    exactly the version recorded at registration)."""
    principal, condition = _promotion_role(spec)
    bucket = models_bucket(spec, team, region)
    terraform = arns.role(_account_id(spec, team), spec.terraform.role_name)
    return [
        policy.statement(
            "HubPromotionReadsArtifacts",
            actions.S3_VERSIONED_READ,
            policy.bucket_arns(bucket),
            principals=principal,
            conditions=condition,
        ),
        # A registered package names its artifacts' S3 versions (model-build v4's seal; approvers
        # cannot change them): a version, once written, is never removed by a person or a job.
        # Overwriting a key writes a new version and leaves the recorded one as it was; nobody
        # but the Terraform role deletes a version, suspends versioning or changes the lifecycle
        # (which could expire the recorded versions early).
        policy.statement(
            "RecordedVersionsStay",
            VERSION_REMOVING_ACTIONS,
            policy.bucket_arns(bucket),
            effect="Deny",
            principals={"AWS": "*"},
            conditions={"ArnNotEquals": {"aws:PrincipalArn": terraform}},
        ),
    ]


def persona_trust(spec: OrgSpec, team: str) -> str:
    """Studio runs a persona as its user profile's execution role and, with the domain's
    USER_PROFILE_NAME identity config, sets the profile name as the session's source
    identity. People assume it with their account's own IAM (SSO permission sets or
    federation) through the account root and must set their source identity to their
    own profile name: that IAM pins sts:SourceIdentity to the person (docs/security.md)."""
    account_id = _account_id(spec, team)
    assume = actions.ASSUME_ROLE + actions.SET_SOURCE_IDENTITY
    return policy.document(
        policy.statement("AccountAssumesPersona", assume, principals={"AWS": arns.account_root(account_id)}),
        policy.statement(
            "StudioRunsPersona",
            assume,
            principals={"Service": SAGEMAKER},
            conditions={"StringEquals": {"aws:SourceAccount": account_id}},
        ),
    )


def _package_arns(spec: OrgSpec, team: str, region: str) -> list[str]:
    account_id = _account_id(spec, team)
    groups = spec.teams[team].governance.model_package_groups
    return [
        arns.sagemaker(region, account_id, f"model-package/{naming.model_package_group(spec, team, g)}/*")
        for g in groups
    ]


def _common(spec: OrgSpec, team: str, region: str, models_key_arn: str) -> dict[str, list[dict[str, Any]]]:
    """What every role of the team has: the registry, jobs and pipelines, the model artifacts."""
    account_id = _account_id(spec, team)
    groups = spec.teams[team].governance.model_package_groups
    group_arns = [
        arns.sagemaker(region, account_id, f"model-package-group/{naming.model_package_group(spec, team, g)}")
        for g in groups
    ]
    package_arns = _package_arns(spec, team, region)

    def sm(resource: str) -> str:
        return arns.sagemaker(region, account_id, resource)

    execution_arn = arns.role(account_id, naming.team_role(spec, team, "sagemaker-execution"))
    return {
        "registry": [
            register_pending("RegisterPendingOnly", package_arns),
            policy.statement("ReadRegistry", READ_REGISTRY_ACTIONS, group_arns + package_arns),
        ],
        "jobs": [
            policy.statement("RunJobs", JOB_ACTIONS, [sm("training-job/*"), sm("processing-job/*")]),
            policy.statement("Pipelines", PIPELINE_ACTIONS, [sm("pipeline/*"), sm("pipeline/*/execution/*")]),
            pass_role("PassExecutionRoleOnly", [execution_arn], SAGEMAKER),
        ],
        "artifacts": [
            policy.statement(
                "ModelArtifacts", MODEL_ARTIFACT_ACTIONS, policy.bucket_arns(models_bucket(spec, team, region))
            ),
            policy.statement(
                "ModelArtifactsKey",
                actions.KMS_READ + actions.KMS_DATA_KEY,
                [models_key_arn],
            ),
        ],
    }


def _studio(spec: OrgSpec, team: str, region: str) -> list[dict[str, Any]]:
    """Studio for the caller's own profile only: the profile and app ARNs carry the profile
    name, and the session's source identity is that name (set by Studio or the person)."""
    account_id = _account_id(spec, team)
    hub_products = arns.catalog_product(naming.hub_region(spec), spec.accounts[spec.hub].id, "*")

    def sm(resource: str) -> str:
        return arns.sagemaker(region, account_id, resource)

    return [
        policy.statement(
            "OpenOwnStudio", ["sagemaker:CreatePresignedDomainUrl"], [sm(f"user-profile/*/{OWN_PROFILE}")]
        ),
        policy.statement(
            "OwnStudioApps", ["sagemaker:CreateApp", "sagemaker:DeleteApp"], [sm(f"app/*/{OWN_PROFILE}/*")]
        ),
        policy.statement("ReadStudioDomain", ["sagemaker:DescribeDomain"], [sm("domain/*")]),
        policy.statement("ReadStudioProfiles", ["sagemaker:DescribeUserProfile"], [sm("user-profile/*/*")]),
        # ListApps, ListUserProfiles, SearchProducts and DescribeRecord take no resource.
        policy.statement(
            "ListStudio",
            [
                "sagemaker:ListApps",
                "sagemaker:ListUserProfiles",
                "servicecatalog:DescribeRecord",
                "servicecatalog:SearchProducts",
            ],
            "*",
        ),
        policy.statement("CreateProjects", ["sagemaker:CreateProject"], [sm("project/*")]),
        policy.statement("LaunchHubProducts", CATALOG_PRODUCT_ACTIONS, [hub_products]),
    ]


def _reports(spec: OrgSpec, team: str) -> list[dict[str, Any]]:
    """The team's own monitoring reports in its stage accounts, and no other team's."""
    label = naming.team_label(spec, team)
    watched = monitoring.monitoring_accounts(spec, team)
    return monitoring.report_read_statements(spec, "OwnMonitoringReports", watched, {a: [f"{label}/"] for a in watched})


def persona_statements(
    spec: OrgSpec, team: str, region: str, models_key_arn: str, data: Sequence[dict[str, Any]], *, lead: bool
) -> list[dict[str, Any]]:
    """The data scientist's policy (trains and registers, denied approval) or, with ``lead``, the
    lead data scientist's (also approves); ``data`` is the team's data access (the same in every reader)."""
    common = _common(spec, team, region, models_key_arn)
    package_arns = _package_arns(spec, team, region)
    if lead:
        approval = approve_packages("ApproveModels", package_arns)
    else:
        approval = policy.statement("CannotApprove", actions.SAGEMAKER_APPROVE, package_arns, effect="Deny")
    return [
        *common["registry"],
        *common["jobs"],
        *_studio(spec, team, region),
        *common["artifacts"],
        *data,
        *_reports(spec, team),
        approval,
    ]


def execution_statements(
    spec: OrgSpec, team: str, region: str, models_key_arn: str, data: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The role of every job and pipeline of the team."""
    account_id = _account_id(spec, team)
    common = _common(spec, team, region, models_key_arn)
    return [
        *common["registry"],
        *common["jobs"],
        *common["artifacts"],
        *data,
        policy.statement(
            "Logs",
            actions.LOG_GROUP_CREATE + actions.LOG_DELIVERY,
            [arns.log_group(region, account_id, "/aws/sagemaker/*")],
        ),
        # Images come from AWS's SageMaker registries of the region and the team's own repository,
        # never from another account's (or another team's) repository.
        ecr_login(),
        policy.statement("PullImages", actions.ECR_PULL, images.pull_repositories(spec, team, region)),
        # Jobs in the VPC attach network interfaces; EC2 offers no resource scoping for these.
        vpc_network_interfaces(region),
    ]


def forwarder_statements(spec: OrgSpec) -> list[dict[str, Any]]:
    """The approval rule's role: PutEvents on the hub's central bus, and nothing else."""
    return [policy.statement("PutOnCentralBus", actions.EVENTS_PUT, [central_bus_arn(spec)])]
