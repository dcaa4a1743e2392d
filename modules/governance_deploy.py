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
  promoted artifacts from the hub bucket, decrypts with the hub key, writes data capture,
  pulls images from the team's hub repository or AWS's registries only; runs the batch
  transform jobs, which read and write the group's batch prefix);
- where the team's stage is monitored (``governance.monitoring``): ``<org>-<team>-monitoring``,
  the role of its monitoring jobs (reads the captured data and the package's baselines, writes
  reports into the account's monitoring bucket, :mod:`mlgov.modules.monitoring`), and the
  deployer's rights to create the schedules and pass only that role;
- where a group has batch inference (``governance.batch``): ``<org>-<team>-batch``, the role
  of its transform pipeline, and the deployer's rights to create that pipeline.

Access to the hub's key is by alias (``kms:ResourceAliases``), as its id is not known from
the spec; the hub's key and bucket policies name these roles in return.
"""

from __future__ import annotations

from cdktf_cdktf_provider_aws.iam_role import IamRole
from constructs import Construct

from mlgov.modules.governance_common import kms_by_alias, only_role, role, service_trust, vpc_network_interfaces
from mlgov.modules.monitoring import StageMonitoring
from mlgov.platform import images, monitoring, naming, network, policy
from mlgov.platform.naming import construct_id
from mlgov.spec.governance import batch_stages, monitored_stages
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
        self.monitoring = None
        if account_key in monitoring.monitored_accounts(spec):
            self.monitoring = StageMonitoring(self, "monitoring", spec=spec, account_key=account_key, region=region)
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
            here = {s.name for s in stages}
            watched = self.monitoring is not None and bool(here & set(monitored_stages(spec, team)))
            batch_groups = [g for g in groups if here & set(batch_stages(spec, team, g))]
            extra = self._monitoring_rights(spec, team, account_id, region, watched, batch_groups)
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
                    *extra,
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
                # GetAuthorizationToken has no resource; images come from the team's repository in
                # the hub or AWS's SageMaker registries (what the promotion function lets through).
                policy.statement("EcrLogin", ["ecr:GetAuthorizationToken"], "*"),
                policy.statement(
                    "PullImages",
                    ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                    images.pull_repositories(spec, team, region),
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
            if batch_groups:
                # Transform jobs run as the model's role: the group's batch input and output.
                statements.append(
                    policy.statement(
                        "BatchData",
                        ["s3:GetObject", "s3:PutObject", "s3:ListBucket"],
                        [f"arn:aws:s3:::{platform_bucket}"]
                        + [
                            f"arn:aws:s3:::{platform_bucket}/{naming.batch_bucket_prefix(team, g)}/*"
                            for g in batch_groups
                        ],
                    )
                )
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
            if watched:
                self._monitoring_role(spec, team, account_key, region, platform_key_arn, platform_bucket)
            if batch_groups:
                self._batch_role(spec, team, account_id, region, batch_groups)

    def _monitoring_rights(
        self, spec: OrgSpec, team: str, account_id: str, region: str, watched: bool, batch_groups: list[str]
    ) -> list[dict]:
        """What CloudFormation (the endpoint deployer) needs for a team's monitors and batch
        pipelines here: their create/update/delete calls on their names only, and passing
        exactly the monitoring and batch roles to SageMaker."""
        sm = f"arn:aws:sagemaker:{region}:{account_id}"
        groups = spec.teams[team].governance.model_package_groups
        out: list[dict] = []
        if watched:
            endpoints = [naming.endpoint_name(spec, team, g) for g in groups]
            out += [
                policy.statement(
                    "MonitoringSchedules",
                    [
                        "sagemaker:AddTags",
                        "sagemaker:CreateMonitoringSchedule",
                        "sagemaker:DeleteMonitoringSchedule",
                        "sagemaker:DescribeMonitoringSchedule",
                        "sagemaker:ListTags",
                        "sagemaker:UpdateMonitoringSchedule",
                    ],
                    [f"{sm}:monitoring-schedule/{e}-*" for e in endpoints],
                ),
                policy.statement(
                    "MonitorJobDefinitions",
                    [
                        "sagemaker:AddTags",
                        "sagemaker:CreateModelBiasJobDefinition",
                        "sagemaker:CreateModelQualityJobDefinition",
                        "sagemaker:DeleteModelBiasJobDefinition",
                        "sagemaker:DeleteModelQualityJobDefinition",
                        "sagemaker:DescribeModelBiasJobDefinition",
                        "sagemaker:DescribeModelQualityJobDefinition",
                        "sagemaker:ListTags",
                    ],
                    [f"{sm}:model-quality-job-definition/{e}-mq-*" for e in endpoints]
                    + [f"{sm}:model-bias-job-definition/{e}-bias-*" for e in endpoints],
                ),
                policy.statement(
                    "PassMonitoringRole",
                    ["iam:PassRole"],
                    [policy.role_arn(account_id, naming.team_role(spec, team, "monitoring"))],
                    conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
                ),
            ]
        if batch_groups:
            out += [
                policy.statement(
                    "BatchPipelines",
                    [
                        "sagemaker:AddTags",
                        "sagemaker:CreatePipeline",
                        "sagemaker:DeletePipeline",
                        "sagemaker:DescribePipeline",
                        "sagemaker:ListTags",
                        "sagemaker:UpdatePipeline",
                    ],
                    [f"{sm}:pipeline/{naming.batch_pipeline(spec, team, g)}" for g in batch_groups],
                ),
                policy.statement(
                    "PassBatchRole",
                    ["iam:PassRole"],
                    [policy.role_arn(account_id, naming.team_role(spec, team, "batch"))],
                    conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
                ),
            ]
        return out

    def _monitoring_role(
        self, spec: OrgSpec, team: str, account_key: str, region: str, platform_key_arn: str, platform_bucket: str
    ) -> None:
        """The role a team's monitoring jobs run as: captured data and baselines in, reports out."""
        assert self.monitoring is not None
        account_id = spec.accounts[account_key].id
        hub_id = spec.accounts[spec.hub].id
        hub_region = naming.hub_region(spec)
        artifact_bucket = naming.bucket_name(spec, spec.hub, hub_region, "model-artifacts")
        groups = spec.teams[team].governance.model_package_groups
        central = [naming.central_model_package_group(spec, team, g) for g in groups]
        reports = naming.monitoring_bucket(spec, account_key)
        monitor_images = [
            f"arn:aws:ecr:{region}:{uri.split('.', 1)[0]}:repository/{uri.split('/', 1)[1].split(':')[0]}"
            for uri in (images.model_monitor_image(region), images.clarify_image(region))
        ]
        log_group = f"arn:aws:logs:{region}:{account_id}:log-group:/aws/sagemaker/ProcessingJobs"
        self.roles[f"{team}-monitoring"] = role(
            self,
            construct_id(team, "monitoring"),
            name=naming.team_role(spec, team, "monitoring"),
            tags={"mlgov:team": team},
            trust=service_trust("sagemaker.amazonaws.com", account_id),
            description=f"SageMaker runs team {team}'s monitoring jobs with this role",
            statements=[
                policy.statement(
                    "ReadCapturedData", ["s3:GetObject"], [f"arn:aws:s3:::{platform_bucket}/data-capture/{team}/*"]
                ),
                policy.statement(
                    "ListCapturedData",
                    ["s3:ListBucket"],
                    [f"arn:aws:s3:::{platform_bucket}"],
                    conditions={"StringLike": {"s3:prefix": [f"data-capture/{team}/*"]}},
                ),
                policy.statement("CapturedDataKey", ["kms:Decrypt"], [platform_key_arn]),
                policy.statement(
                    "ReadBaselines", ["s3:GetObject"], [f"arn:aws:s3:::{artifact_bucket}/{c}/*" for c in central]
                ),
                kms_by_alias(
                    "HubArtifactKey",
                    ["kms:Decrypt"],
                    hub_region,
                    hub_id,
                    naming.kms_alias(spec, "model-artifacts"),
                ),
                policy.statement(
                    "WriteReports",
                    ["s3:GetObject", "s3:PutObject"],
                    [f"arn:aws:s3:::{reports}/{team}/*"],
                ),
                policy.statement(
                    "ListReports",
                    ["s3:ListBucket"],
                    [f"arn:aws:s3:::{reports}"],
                    conditions={"StringLike": {"s3:prefix": [f"{team}/*"]}},
                ),
                policy.statement(
                    "MonitoringKey",
                    ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:CreateGrant"],
                    [self.monitoring.key.arn],
                ),
                vpc_network_interfaces(region),
                policy.statement("EcrLogin", ["ecr:GetAuthorizationToken"], "*"),
                policy.statement(
                    "PullMonitorImages",
                    ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                    monitor_images,
                ),
                policy.statement(
                    "Logs",
                    ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                    [log_group, f"{log_group}:*"],
                ),
                policy.statement(
                    "Metrics",
                    ["cloudwatch:PutMetricData"],
                    "*",
                    conditions={"StringLike": {"cloudwatch:namespace": ["aws/sagemaker/Endpoints/*"]}},
                ),
            ],
        )

    def _batch_role(self, spec: OrgSpec, team: str, account_id: str, region: str, batch_groups: list[str]) -> None:
        """The role of a team's batch pipelines: transform jobs, which run as the model's role."""
        sm = f"arn:aws:sagemaker:{region}:{account_id}"
        self.roles[f"{team}-batch"] = role(
            self,
            construct_id(team, "batch"),
            name=naming.team_role(spec, team, "batch"),
            tags={"mlgov:team": team},
            trust=service_trust("sagemaker.amazonaws.com", account_id),
            description=f"SageMaker runs team {team}'s batch inference pipelines with this role",
            statements=[
                policy.statement(
                    "TransformJobs",
                    [
                        "sagemaker:AddTags",
                        "sagemaker:CreateTransformJob",
                        "sagemaker:DescribeTransformJob",
                        "sagemaker:StopTransformJob",
                    ],
                    [f"{sm}:transform-job/*"],
                ),
                policy.statement(
                    "DeployedModels",
                    ["sagemaker:DescribeModel"],
                    [f"{sm}:model/{naming.endpoint_name(spec, team, g)}-*" for g in batch_groups],
                ),
            ],
        )
