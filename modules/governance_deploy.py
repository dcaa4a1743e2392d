"""Stage side of the model governance flow (test and prod accounts).

Reads every team with a stage in this account (``teams.<team>.stages``,
``governance.model_package_groups``), the account's network parameters and the hub
account. Creates, per team:

- ``<org>-<team>-deploy``: assumed by the hub pipeline role ONLY (hub account root with an
  ``aws:PrincipalArn`` condition naming ``<org>-<team>-deploy-pipeline``); runs the team's
  endpoint CloudFormation stacks and reads the pipeline artifacts;
- ``<org>-<team>-endpoint-deployer``: CloudFormation's role for those stacks (SageMaker model,
  endpoint config, endpoint and autoscaling of the team's endpoints only);
- ``<org>-<team>-endpoint``: the SageMaker execution role of the endpoints (reads the team's
  promoted artifacts from the hub bucket, decrypts with the hub key, writes data capture).

Access to the hub's key is by alias (``kms:ResourceAliases``), as its id is not known from
the spec; the hub's key and bucket policies name these roles in return.
"""

from __future__ import annotations

from cdktf_cdktf_provider_aws.iam_role import IamRole
from constructs import Construct

from mlgov.modules.governance_common import kms_by_alias, only_role, role, service_trust, vpc_network_interfaces
from mlgov.platform import naming, network, policy
from mlgov.platform.naming import construct_id
from mlgov.spec.model import OrgSpec

AUTOSCALING_SLR = "sagemaker.application-autoscaling.amazonaws.com"


class StageGovernance(Construct):
    """Deploy, CloudFormation and endpoint roles of every team deploying into this account."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        spec: OrgSpec,
        account_key: str,
        region: str,
        platform_key_arn: str,
        platform_bucket: str,
    ) -> None:
        super().__init__(scope, id)
        self.roles: dict[str, IamRole] = {}
        account_id = spec.accounts[account_key].id
        hub_id = spec.accounts[spec.hub].id
        hub_region = naming.hub_region(spec)
        hub_alias = naming.kms_alias(spec, "model-artifacts")
        pipeline_bucket = naming.bucket_name(spec, spec.hub, hub_region, "deploy-pipelines")
        artifact_bucket = naming.bucket_name(spec, spec.hub, hub_region, "model-artifacts")
        teams = naming.by_label(
            spec, (n for n, t in spec.teams.items() if any(s.account == account_key for s in t.stages))
        )
        network_parameters = network.parameter_arns(spec, account_key, region)
        sm = f"arn:aws:sagemaker:{region}:{account_id}"
        for team in teams:
            t = spec.teams[team]
            # AWS keeps the name a renamed team was created with; addresses move (renamed_from).
            label, former = naming.team_label(spec, team), naming.former_team(spec, team)
            tags = {"mlgov:team": label}
            groups = t.governance.model_package_groups
            endpoints = [naming.endpoint_name(spec, team, g) for g in groups]
            central = [naming.central_model_package_group(spec, team, g) for g in groups]
            stages = [s for s in t.stages if s.account == account_key]
            deployer_arn = policy.role_arn(account_id, naming.team_role(spec, team, "endpoint-deployer"))
            endpoint_role_arn = policy.role_arn(account_id, naming.team_role(spec, team, "endpoint"))
            pipeline_role = policy.role_arn(hub_id, naming.team_role(spec, team, "deploy-pipeline"))
            principal, condition = only_role(hub_id, [pipeline_role])

            deploy = role(
                self,
                construct_id(team, "deploy"),
                was=naming.moved_id(former, "deploy"),
                name=naming.team_role(spec, team, "deploy"),
                tags=tags,
                trust=policy.document(
                    policy.statement(
                        "OnlyHubPipelineRole", ["sts:AssumeRole"], principals=principal, conditions=condition
                    )
                ),
                description=f"Assumed by team {label}'s hub deployment pipeline only",
                statements=[
                    policy.statement(
                        "EndpointStacks",
                        [
                            "cloudformation:CreateStack",
                            "cloudformation:DeleteStack",
                            "cloudformation:DescribeStackEvents",
                            "cloudformation:DescribeStacks",
                            "cloudformation:GetTemplate",
                            "cloudformation:UpdateStack",
                        ],
                        [
                            f"arn:aws:cloudformation:{region}:{account_id}:stack/{naming.endpoint_stack(spec, team, g)}/*"  # noqa: E501 (an ARN reads best whole)
                            for g in groups
                        ],
                    ),
                    # CloudFormation resolves the template's AWS::SSM::Parameter::Value parameters
                    # (the account's network) with the caller's credentials.
                    policy.statement("NetworkParameters", ["ssm:GetParameters"], network_parameters),
                    policy.statement(
                        "PassDeployerRole",
                        ["iam:PassRole"],
                        [deployer_arn],
                        conditions={"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}},
                    ),
                    policy.statement(
                        "PipelineArtifacts",
                        ["s3:GetObject", "s3:GetObjectVersion"],
                        [f"arn:aws:s3:::{pipeline_bucket}/*"],
                    ),
                    kms_by_alias("HubArtifactKey", ["kms:Decrypt", "kms:DescribeKey"], hub_region, hub_id, hub_alias),
                ],
            )
            endpoint_arns = (
                [f"{sm}:endpoint/{e}" for e in endpoints]
                + [f"{sm}:endpoint-config/{e}-*" for e in endpoints]
                + [f"{sm}:model/{e}-*" for e in endpoints]
            )
            role(
                self,
                construct_id(team, "endpoint_deployer"),
                was=naming.moved_id(former, "endpoint_deployer"),
                name=naming.team_role(spec, team, "endpoint-deployer"),
                tags=tags,
                trust=service_trust("cloudformation.amazonaws.com", account_id),
                description=f"CloudFormation builds team {label}'s endpoints with this role",
                statements=[
                    policy.statement(
                        "Endpoints",
                        [
                            "sagemaker:AddTags",
                            "sagemaker:CreateEndpoint",
                            "sagemaker:CreateEndpointConfig",
                            "sagemaker:CreateModel",
                            "sagemaker:DeleteEndpoint",
                            "sagemaker:DeleteEndpointConfig",
                            "sagemaker:DeleteModel",
                            "sagemaker:DescribeEndpoint",
                            "sagemaker:DescribeEndpointConfig",
                            "sagemaker:DescribeModel",
                            "sagemaker:UpdateEndpoint",
                            "sagemaker:UpdateEndpointWeightsAndCapacities",
                        ],
                        endpoint_arns,
                    ),
                    policy.statement("NetworkParameters", ["ssm:GetParameters"], network_parameters),
                    policy.statement(
                        "CentralPackages",
                        ["sagemaker:DescribeModelPackage"],
                        [f"arn:aws:sagemaker:{hub_region}:{hub_id}:model-package/{c}/*" for c in central],
                    ),
                    policy.statement(
                        "PassEndpointRole",
                        ["iam:PassRole"],
                        [endpoint_role_arn],
                        conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
                    ),
                    # Application Auto Scaling has no resource-level permissions for these.
                    policy.statement(
                        "Autoscaling",
                        [
                            "application-autoscaling:DeleteScalingPolicy",
                            "application-autoscaling:DeregisterScalableTarget",
                            "application-autoscaling:DescribeScalableTargets",
                            "application-autoscaling:DescribeScalingPolicies",
                            "application-autoscaling:PutScalingPolicy",
                            "application-autoscaling:RegisterScalableTarget",
                        ],
                        "*",
                    ),
                    policy.statement(
                        "AutoscalingAlarms",
                        ["cloudwatch:DeleteAlarms", "cloudwatch:DescribeAlarms", "cloudwatch:PutMetricAlarm"],
                        [
                            f"arn:aws:cloudwatch:{region}:{account_id}:alarm:TargetTracking-endpoint/{e}/*"
                            for e in endpoints
                        ],
                    ),
                    policy.statement(
                        "AutoscalingServiceLinkedRole",
                        ["iam:CreateServiceLinkedRole"],
                        [
                            f"arn:aws:iam::{account_id}:role/aws-service-role/{AUTOSCALING_SLR}/AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"
                        ],
                        conditions={"StringEquals": {"iam:AWSServiceName": AUTOSCALING_SLR}},
                    ),
                    policy.statement(
                        "EndpointKeyGrants",
                        ["kms:CreateGrant"],
                        [platform_key_arn],
                        conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
                    ),
                    # DescribeKey requests never carry kms:GrantIsForAWSResource: a statement of its own.
                    policy.statement("EndpointKeyDescribe", ["kms:DescribeKey"], [platform_key_arn]),
                ],
            )
            capture = [f"arn:aws:s3:::{platform_bucket}/data-capture/{label}/*"]
            statements = [
                policy.statement(
                    "PromotedArtifacts", ["s3:GetObject"], [f"arn:aws:s3:::{artifact_bucket}/{c}/*" for c in central]
                ),
                kms_by_alias("HubArtifactKey", ["kms:Decrypt", "kms:DescribeKey"], hub_region, hub_id, hub_alias),
                policy.statement("DataCapture", ["s3:PutObject"], capture),
                policy.statement(
                    "DataCaptureKey", ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"], [platform_key_arn]
                ),
                # GetAuthorizationToken has no resource; images come from AWS's algorithm registries.
                policy.statement("EcrLogin", ["ecr:GetAuthorizationToken"], "*"),
                policy.statement(
                    "PullImages",
                    ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                    [f"arn:aws:ecr:{region}:*:repository/*"],
                ),
                policy.statement(
                    "Logs",
                    ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                    [f"arn:aws:logs:{region}:{account_id}:log-group:/aws/sagemaker/Endpoints/{e}:*" for e in endpoints]
                    + [f"arn:aws:logs:{region}:{account_id}:log-group:/aws/sagemaker/Endpoints/{e}" for e in endpoints],
                ),
                policy.statement(
                    "Metrics",
                    ["cloudwatch:PutMetricData"],
                    "*",
                    conditions={
                        "StringLike": {"cloudwatch:namespace": ["/aws/sagemaker/Endpoints*", "AWS/SageMaker*"]}
                    },
                ),
            ]
            if stages:
                # Endpoints run in the account's network (its SSM parameters): SageMaker manages
                # their ENIs with this role; EC2 offers no resource scoping for Describe*.
                statements.append(vpc_network_interfaces(region))
            self.roles[team] = role(
                self,
                construct_id(team, "endpoint"),
                was=naming.moved_id(former, "endpoint"),
                name=naming.team_role(spec, team, "endpoint"),
                tags=tags,
                trust=service_trust("sagemaker.amazonaws.com", account_id),
                description=f"SageMaker runs team {label}'s endpoints with this role",
                statements=statements,
            )
            self.roles[f"{team}-deploy"] = deploy
