"""Documents of a team's model-build CI roles (:mod:`mlgov.modules.repositories`).

The build every push runs (``<org>-<team>-codebuild``) and the source pipeline of each repository
(``<org>-<team>-codepipeline``). Project resources are matched by the names the product gives
them (``<project>-build``) and by the buckets and keys product stacks create.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mlgov.platform import naming, policy
from mlgov.platform.iam import actions, arns
from mlgov.platform.iam.common import PENDING, pass_role
from mlgov.spec.model import OrgSpec

# What the product names a project's CodeBuild project, CodePipeline pipeline, SageMaker pipeline
# and build log group: "<project>-build" (the project name is chosen at launch).
PROJECT_SUFFIX = "-build"
BUILD_ARTIFACT_ACTIONS = (
    "s3:GetBucketLocation",
    "s3:GetObject",
    "s3:GetObjectVersion",
    "s3:ListBucket",
    "s3:PutObject",
)
SOURCE_ARTIFACT_ACTIONS = (
    "s3:GetBucketLocation",
    "s3:GetBucketVersioning",
    "s3:GetObject",
    "s3:GetObjectVersion",
    "s3:PutObject",
)


def product_stack_keys(account_id: str, region: str, key_actions: Sequence[str], sid: str) -> dict[str, Any]:
    """Use of the keys product stacks created (CloudFormation's stack-name tag, set by no one else)."""
    return policy.statement(
        sid,
        key_actions,
        [arns.kms_keys(region, account_id)],
        conditions={"StringLike": {"aws:ResourceTag/aws:cloudformation:stack-name": f"SC-{account_id}-pp-*"}},
    )


def project_buckets(account_id: str) -> list[str]:
    """The buckets product stacks create (CloudFormation names them after the stack) and their objects."""
    return policy.bucket_arns(f"sc-{account_id}-pp-*")


def codebuild_statements(spec: OrgSpec, team: str, account_id: str, region: str) -> list[dict[str, Any]]:
    """What a project's build may do: its logs, the project's bucket and key, the project's
    SageMaker pipeline (update, start) as the team's execution role, network interfaces in the
    account's VPC; never approve or register a model package."""
    logs = arns.log_group(region, account_id, f"/aws/codebuild/*{PROJECT_SUFFIX}")
    packages = arns.sagemaker(region, account_id, "model-package/*")
    return [
        policy.statement("BuildLogs", actions.LOG_DELIVERY, [logs, f"{logs}:*"]),
        policy.statement("ProjectArtifacts", BUILD_ARTIFACT_ACTIONS, project_buckets(account_id)),
        product_stack_keys(
            account_id, region, actions.KMS_READ + actions.KMS_ENCRYPT + actions.KMS_DATA_KEY, "ProjectKey"
        ),
        policy.statement(
            "ProjectPipeline",
            actions.SAGEMAKER_PIPELINE_RUN + actions.SAGEMAKER_TAGS,
            [
                arns.sagemaker(region, account_id, f"pipeline/*{PROJECT_SUFFIX}"),
                arns.sagemaker(region, account_id, f"pipeline/*{PROJECT_SUFFIX}/execution/*"),
            ],
        ),
        pass_role(
            "PassTheExecutionRole",
            [arns.role(account_id, naming.team_role(spec, team, "sagemaker-execution"))],
            "sagemaker.amazonaws.com",
        ),
        # CodeBuild runs the build in the account's VPC; EC2 offers no resource scoping at creation.
        policy.statement(
            "BuildNetworkInterfaces",
            actions.NETWORK_INTERFACES + actions.NETWORK_DESCRIBE,
            "*",
            conditions={"StringEquals": {"aws:RequestedRegion": region}},
        ),
        policy.statement(
            "BuildNetworkInterfacePermission",
            ("ec2:CreateNetworkInterfacePermission",),
            [arns.network_interfaces(region, account_id)],
            conditions={"StringEquals": {"ec2:AuthorizedService": "codebuild.amazonaws.com"}},
        ),
        # The pipeline registers (as the execution role, PendingManualApproval); the build never does.
        policy.statement("NeverApprove", actions.SAGEMAKER_APPROVE, packages, effect="Deny"),
        policy.statement(
            "NeverRegisterApproved",
            actions.SAGEMAKER_REGISTER,
            packages,
            effect="Deny",
            conditions={"StringNotEquals": {"sagemaker:ModelApprovalStatus": PENDING}},
        ),
    ]


def codepipeline_statements(account_id: str, region: str, connection_arn: str) -> list[dict[str, Any]]:
    """What a project's source pipeline may do: use the account's connection (``connection_arn``, a
    Terraform reference), keep its artifacts in the project's bucket under the project's key, and
    start the project's build."""
    return [
        # Connections created today carry the codeconnections prefix (the service's current name).
        policy.statement("UseTheConnection", ["codeconnections:UseConnection"], [connection_arn]),
        policy.statement("ProjectArtifacts", SOURCE_ARTIFACT_ACTIONS, project_buckets(account_id)),
        product_stack_keys(account_id, region, actions.KMS_READ + actions.KMS_DATA_KEY, "ProjectKey"),
        policy.statement(
            "StartTheBuild",
            ["codebuild:BatchGetBuilds", "codebuild:StartBuild"],
            [arns.codebuild_project(region, account_id, f"*{PROJECT_SUFFIX}")],
        ),
    ]
