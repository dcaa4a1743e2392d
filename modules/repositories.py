"""Model-build repositories of one team's dev account: the connection and the team's build CI roles.

Reads ``accounts.<key>.source`` (provider, owner, branch), the team and ``organization.name``.
Creates, in the account's primary region:

- ``aws_codestarconnections_connection.source``: ``<org>-<provider>``, the account's connection to
  its Git provider. AWS creates it PENDING; someone with access to the provider completes the
  handshake once in the console (``mlgov doctor`` reports a connection still pending);
- SSM parameters ``/<org>/source/connection-arn``, ``/<org>/source/owner`` and
  ``/<org>/source/branch``: what the model-build product (v3) reads at launch;
- roles ``<org>-<team>-codebuild`` (the build every push runs: uploads the project's code,
  updates and starts the project's SageMaker pipeline, passes only the team's execution role,
  never approves or registers a model) and ``<org>-<team>-codepipeline`` (uses the connection,
  starts the project's build), each under the catalog's product permissions boundary when the
  account has one. Project resources are matched by the names the product gives them
  (``<project>-build``) and by the buckets and keys product stacks create.
"""

from __future__ import annotations

from typing import Any

from cdktf_cdktf_provider_aws.codestarconnections_connection import CodestarconnectionsConnection
from cdktf_cdktf_provider_aws.ssm_parameter import SsmParameter
from constructs import Construct

from mlgov.modules.blocks import named, ref
from mlgov.modules.governance_common import role, service_trust
from mlgov.platform import naming, policy
from mlgov.platform.naming import construct_id
from mlgov.spec.model import OrgSpec

# What the product names a project's CodeBuild project, CodePipeline pipeline, SageMaker pipeline
# and build log group: "<project>-build" (the project name is chosen at launch).
PROJECT_SUFFIX = "-build"


def product_stack_keys(account_id: str, region: str, actions: list[str], sid: str) -> dict[str, Any]:
    """Use of the keys product stacks created (CloudFormation's stack-name tag, set by no one else)."""
    return policy.statement(
        sid,
        actions,
        [f"arn:aws:kms:{region}:{account_id}:key/*"],
        conditions={"StringLike": {"aws:ResourceTag/aws:cloudformation:stack-name": f"SC-{account_id}-pp-*"}},
    )


def project_buckets(account_id: str) -> list[str]:
    """The buckets product stacks create (CloudFormation names them after the stack) and their objects."""
    return policy.bucket_arns(f"sc-{account_id}-pp-*")


def codebuild_statements(spec: OrgSpec, team: str, account_id: str, region: str) -> list[dict[str, Any]]:
    """What a project's build may do: its logs, the project's bucket and key, the project's
    SageMaker pipeline (update, start) as the team's execution role, network interfaces in the
    account's VPC; never approve or register a model package."""
    sm = f"arn:aws:sagemaker:{region}:{account_id}"
    logs = f"arn:aws:logs:{region}:{account_id}:log-group:/aws/codebuild/*{PROJECT_SUFFIX}"
    execution = policy.role_arn(account_id, naming.team_role(spec, team, "sagemaker-execution"))
    return [
        policy.statement("BuildLogs", ["logs:CreateLogStream", "logs:PutLogEvents"], [logs, f"{logs}:*"]),
        policy.statement(
            "ProjectArtifacts",
            ["s3:GetBucketLocation", "s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket", "s3:PutObject"],
            project_buckets(account_id),
        ),
        product_stack_keys(
            account_id, region, ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"], "ProjectKey"
        ),
        policy.statement(
            "ProjectPipeline",
            [
                "sagemaker:AddTags",
                "sagemaker:CreatePipeline",
                "sagemaker:DescribePipeline",
                "sagemaker:DescribePipelineExecution",
                "sagemaker:StartPipelineExecution",
                "sagemaker:UpdatePipeline",
            ],
            [f"{sm}:pipeline/*{PROJECT_SUFFIX}", f"{sm}:pipeline/*{PROJECT_SUFFIX}/execution/*"],
        ),
        policy.statement(
            "PassTheExecutionRole",
            ["iam:PassRole"],
            [execution],
            conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
        ),
        # CodeBuild runs the build in the account's VPC; EC2 offers no resource scoping at creation.
        policy.statement(
            "BuildNetworkInterfaces",
            [
                "ec2:CreateNetworkInterface",
                "ec2:DeleteNetworkInterface",
                "ec2:DescribeDhcpOptions",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeSubnets",
                "ec2:DescribeVpcs",
            ],
            "*",
            conditions={"StringEquals": {"aws:RequestedRegion": region}},
        ),
        policy.statement(
            "BuildNetworkInterfacePermission",
            ["ec2:CreateNetworkInterfacePermission"],
            [f"arn:aws:ec2:{region}:{account_id}:network-interface/*"],
            conditions={"StringEquals": {"ec2:AuthorizedService": "codebuild.amazonaws.com"}},
        ),
        # The pipeline registers (as the execution role, PendingManualApproval); the build never does.
        policy.statement("NeverApprove", ["sagemaker:UpdateModelPackage"], f"{sm}:model-package/*", effect="Deny"),
        policy.statement(
            "NeverRegisterApproved",
            ["sagemaker:CreateModelPackage"],
            f"{sm}:model-package/*",
            effect="Deny",
            conditions={"StringNotEquals": {"sagemaker:ModelApprovalStatus": "PendingManualApproval"}},
        ),
    ]


def codepipeline_statements(account_id: str, region: str, connection_arn: str) -> list[dict[str, Any]]:
    """What a project's source pipeline may do: use the account's connection, keep its artifacts
    in the project's bucket under the project's key, and start the project's build."""
    return [
        # Connections created today carry the codeconnections prefix (the service's current name).
        policy.statement("UseTheConnection", ["codeconnections:UseConnection"], [connection_arn]),
        policy.statement(
            "ProjectArtifacts",
            ["s3:GetBucketLocation", "s3:GetBucketVersioning", "s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"],
            project_buckets(account_id),
        ),
        product_stack_keys(account_id, region, ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"], "ProjectKey"),
        policy.statement(
            "StartTheBuild",
            ["codebuild:BatchGetBuilds", "codebuild:StartBuild"],
            [f"arn:aws:codebuild:{region}:{account_id}:project/*{PROJECT_SUFFIX}"],
        ),
    ]


class Repositories(Construct):
    """The connection, its SSM parameters and the team's build roles in one dev account."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        spec: OrgSpec,
        team: str,
        account_key: str,
        region: str,
        boundary_arn: str | None,
    ) -> None:
        super().__init__(scope, id)
        source = spec.accounts[account_key].source
        assert source is not None
        account_id = spec.accounts[account_key].id
        tags = {"mlgov:team": team}
        connection = named(
            CodestarconnectionsConnection(
                self,
                "connection",
                name=naming.source_connection(spec, account_key),
                provider_type=source.provider.value,
                tags=tags,
            ),
            "source",
        )
        for parts, value in (
            (("source", "connection-arn"), ref(connection, "arn")),
            (("source", "owner"), source.owner),
            (("source", "branch"), source.branch),
        ):
            named(
                SsmParameter(
                    self,
                    f"param_{construct_id(*parts)}",
                    name=naming.ssm_parameter(spec, *parts),
                    type="String",
                    value=value,
                    description=naming.PARAMETERS[parts],
                    tags=tags,
                ),
                construct_id(*parts),
            )
        self.codebuild = role(
            self,
            construct_id(team, "codebuild"),
            name=naming.team_role(spec, team, "codebuild"),
            trust=service_trust(naming.BUILD_ROLES["codebuild"], account_id),
            description=f"Model-build projects of team {team}: the build every push runs",
            tags=tags,
            statements=codebuild_statements(spec, team, account_id, region),
            permissions_boundary=boundary_arn,
        )
        self.codepipeline = role(
            self,
            construct_id(team, "codepipeline"),
            name=naming.team_role(spec, team, "codepipeline"),
            trust=service_trust(naming.BUILD_ROLES["codepipeline"], account_id),
            description=f"Model-build projects of team {team}: the source pipeline of each repository",
            tags=tags,
            statements=codepipeline_statements(account_id, region, ref(connection, "arn")),
            permissions_boundary=boundary_arn,
        )
