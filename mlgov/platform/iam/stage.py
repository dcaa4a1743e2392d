"""Documents of the stage side of model governance (:mod:`mlgov.modules.governance_stage`).

Per team deploying into a test or prod account: the deploy role (assumed by the hub pipeline
role only), CloudFormation's endpoint deployer, the endpoints' execution role and, where used,
the monitoring and batch roles. These roles live in the team's own slice of the account
(``<account>-team-<team>``), so every key they use is addressed by its alias
(``kms:ResourceAliases``): a key's id is random and known only to the stack that creates it
(the account's core stack, or the hub's).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mlgov.platform import governance, images, naming, network, policy
from mlgov.platform.iam import actions, arns
from mlgov.platform.iam.common import (
    codebuild_network_interfaces,
    ecr_login,
    kms_by_alias,
    only_role,
    pass_role,
    vpc_network_interfaces,
)
from mlgov.spec.model import OrgSpec

AUTOSCALING_SLR = "sagemaker.application-autoscaling.amazonaws.com"
SAGEMAKER = "sagemaker.amazonaws.com"
STACK_ACTIONS = (
    "cloudformation:CreateStack",
    "cloudformation:DeleteStack",
    "cloudformation:DescribeStackEvents",
    "cloudformation:DescribeStacks",
    "cloudformation:GetTemplate",
    "cloudformation:UpdateStack",
)
ENDPOINT_ACTIONS = (
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
)
AUTOSCALING_ACTIONS = (
    "application-autoscaling:DeleteScalingPolicy",
    "application-autoscaling:DeregisterScalableTarget",
    "application-autoscaling:DescribeScalableTargets",
    "application-autoscaling:DescribeScalingPolicies",
    "application-autoscaling:PutScalingPolicy",
    "application-autoscaling:RegisterScalableTarget",
)
ALARM_ACTIONS = ("cloudwatch:DeleteAlarms", "cloudwatch:DescribeAlarms", "cloudwatch:PutMetricAlarm")
SCHEDULE_ACTIONS = (
    "sagemaker:CreateMonitoringSchedule",
    "sagemaker:DeleteMonitoringSchedule",
    "sagemaker:DescribeMonitoringSchedule",
    "sagemaker:UpdateMonitoringSchedule",
)
JOB_DEFINITION_ACTIONS = (
    "sagemaker:CreateModelBiasJobDefinition",
    "sagemaker:CreateModelQualityJobDefinition",
    "sagemaker:DeleteModelBiasJobDefinition",
    "sagemaker:DeleteModelQualityJobDefinition",
    "sagemaker:DescribeModelBiasJobDefinition",
    "sagemaker:DescribeModelQualityJobDefinition",
)
BATCH_PIPELINE_ACTIONS = (
    "sagemaker:CreatePipeline",
    "sagemaker:DeletePipeline",
    "sagemaker:DescribePipeline",
    "sagemaker:UpdatePipeline",
)
INVOKE_ENDPOINT = ("sagemaker:InvokeEndpoint",)
TRANSFORM_ACTIONS = ("sagemaker:CreateTransformJob", "sagemaker:DescribeTransformJob", "sagemaker:StopTransformJob")


def _hub(spec: OrgSpec) -> tuple[str, str]:
    """(hub account id, hub region)."""
    return spec.accounts[spec.hub].id, naming.hub_region(spec)


def _hub_artifacts(spec: OrgSpec, region: str) -> str:
    """The hub's promoted artifacts as seen from a stage in ``region``: the hub region's bucket,
    or its replica in the stage's region (SageMaker reads model data only from a bucket in the
    endpoint's region: CreateModel API reference, ContainerDefinition.ModelDataUrl)."""
    return naming.bucket_name(spec, spec.hub, region, "model-artifacts")


def _hub_key(sid: str, spec: OrgSpec, key_actions: Sequence[str], region: str) -> dict[str, Any]:
    """Use of the hub's model-artifacts key in ``region`` (the stage's: the hub region's key, or
    the key of the replica bucket and of the pipelines' store there), by its alias."""
    hub_id = spec.accounts[spec.hub].id
    return kms_by_alias(sid, key_actions, region, hub_id, naming.kms_alias(spec, "model-artifacts"))


def _account_key(
    sid: str,
    spec: OrgSpec,
    account_key: str,
    region: str,
    purpose: str,
    key_actions: Sequence[str],
    conditions: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Use of one of the account's own keys (``platform``, ``monitoring``) by its alias: the team's
    roles live in the team's own stack, which knows the key only by name (its id is random and
    in the account's core stack)."""
    statement = kms_by_alias(sid, key_actions, region, spec.accounts[account_key].id, naming.kms_alias(spec, purpose))
    if conditions:
        statement["Condition"] = {**statement["Condition"], **conditions}
    return statement


def _platform_bucket(spec: OrgSpec, account_key: str, region: str) -> str:
    """The account's platform bucket (the baseline's, :mod:`mlgov.modules.base`): data capture and batch data."""
    return naming.bucket_name(spec, account_key, region, "platform")


def _endpoints(spec: OrgSpec, team: str) -> list[str]:
    return [naming.endpoint_name(spec, team, g) for g in spec.teams[team].governance.model_package_groups]


def _central(spec: OrgSpec, team: str) -> list[str]:
    return [naming.central_model_package_group(spec, team, g) for g in spec.teams[team].governance.model_package_groups]


def _artifact_prefixes(spec: OrgSpec, team: str) -> list[str]:
    """The team's prefixes in the hub's artifact bucket (``<team>/<central group>``)."""
    return [naming.artifact_prefix(spec, team, g) for g in spec.teams[team].governance.model_package_groups]


def deploy_trust(spec: OrgSpec, team: str) -> str:
    """The deploy role is assumed by the team's hub pipeline role only."""
    hub_id = spec.accounts[spec.hub].id
    principal, condition = only_role(hub_id, [arns.role(hub_id, naming.team_role(spec, team, "deploy-pipeline"))])
    return policy.document(
        policy.statement("OnlyHubPipelineRole", actions.ASSUME_ROLE, principals=principal, conditions=condition)
    )


def deploy_statements(spec: OrgSpec, team: str, account_key: str, region: str) -> list[dict[str, Any]]:
    """The deploy role: runs the team's endpoint stacks, reads the pipeline artifacts."""
    account_id = spec.accounts[account_key].id
    # CodePipeline copies a cross-region action's input artifacts to the store of its region.
    pipeline_bucket = naming.team_pipeline_bucket(spec, team, region)
    groups = spec.teams[team].governance.model_package_groups
    return [
        policy.statement(
            "EndpointStacks",
            STACK_ACTIONS,
            [arns.cloudformation_stack(region, account_id, naming.endpoint_stack(spec, team, g)) for g in groups],
        ),
        # CloudFormation resolves the template's AWS::SSM::Parameter::Value parameters
        # (the account's network) with the caller's credentials.
        policy.statement(
            "NetworkParameters", actions.SSM_GET_PARAMETERS, network.parameter_arns(spec, account_key, region)
        ),
        pass_role(
            "PassDeployerRole",
            [arns.role(account_id, naming.team_role(spec, team, "endpoint-deployer"))],
            "cloudformation.amazonaws.com",
        ),
        policy.statement(
            "PipelineArtifacts", actions.S3_GET + ("s3:GetObjectVersion",), [arns.objects(pipeline_bucket)]
        ),
        _hub_key("HubArtifactKey", spec, actions.KMS_READ, region),
        *_start_endpoint_tests(spec, team, account_key, region),
    ]


def _tests_projects(spec: OrgSpec, team: str, account_key: str, region: str) -> list[str]:
    """ARNs of the team's endpoint-tests projects in ``account_key`` (none unless a staging stage
    of the team deploys there: :func:`mlgov.platform.governance.tested_accounts`)."""
    if account_key not in governance.tested_accounts(spec, team):
        return []
    account_id = spec.accounts[account_key].id
    return [
        arns.codebuild_project(region, account_id, naming.endpoint_tests_project(spec, team, g))
        for g in spec.teams[team].governance.model_package_groups
    ]


def _start_endpoint_tests(spec: OrgSpec, team: str, account_key: str, region: str) -> list[dict[str, Any]]:
    """The pipeline's test action runs as the deploy role (a cross-account action): it starts the
    team's endpoint-tests builds here and reads their outcome, nothing else of CodeBuild."""
    projects = _tests_projects(spec, team, account_key, region)
    return [policy.statement("RunEndpointTests", actions.CODEBUILD_RUN, projects)] if projects else []


def deployer_statements(
    spec: OrgSpec,
    team: str,
    account_key: str,
    region: str,
    *,
    watched: bool,
    batch_groups: Sequence[str],
) -> list[dict[str, Any]]:
    """CloudFormation's role for the team's endpoint stacks: endpoints, autoscaling and, where the
    team is ``watched`` or runs ``batch_groups`` here, their monitors and batch pipelines."""
    account_id = spec.accounts[account_key].id
    hub_id, hub_region = _hub(spec)
    endpoints = _endpoints(spec, team)

    def sm(resource: str) -> str:
        return arns.sagemaker(region, account_id, resource)

    endpoint_arns = (
        [sm(f"endpoint/{e}") for e in endpoints]
        + [sm(f"endpoint-config/{e}-*") for e in endpoints]
        + [sm(f"model/{e}-*") for e in endpoints]
    )
    return [
        policy.statement("Endpoints", ENDPOINT_ACTIONS, endpoint_arns),
        policy.statement(
            "NetworkParameters", actions.SSM_GET_PARAMETERS, network.parameter_arns(spec, account_key, region)
        ),
        policy.statement(
            "CentralPackages",
            actions.SAGEMAKER_DESCRIBE_PACKAGE,
            [arns.sagemaker(hub_region, hub_id, f"model-package/{c}/*") for c in _central(spec, team)],
        ),
        pass_role("PassEndpointRole", [arns.role(account_id, naming.team_role(spec, team, "endpoint"))], SAGEMAKER),
        # Application Auto Scaling has no resource-level permissions for these.
        policy.statement("Autoscaling", AUTOSCALING_ACTIONS, "*"),
        policy.statement(
            "AutoscalingAlarms",
            ALARM_ACTIONS,
            [arns.alarm(region, account_id, f"TargetTracking-endpoint/{e}/*") for e in endpoints],
        ),
        policy.statement(
            "AutoscalingServiceLinkedRole",
            ["iam:CreateServiceLinkedRole"],
            [
                arns.service_linked_role(
                    account_id, AUTOSCALING_SLR, "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"
                )
            ],
            conditions={"StringEquals": {"iam:AWSServiceName": AUTOSCALING_SLR}},
        ),
        _account_key(
            "EndpointKeyGrants",
            spec,
            account_key,
            region,
            "platform",
            actions.KMS_GRANT,
            conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
        ),
        # DescribeKey requests never carry kms:GrantIsForAWSResource: a statement of its own.
        _account_key("EndpointKeyDescribe", spec, account_key, region, "platform", ["kms:DescribeKey"]),
        *_monitoring_rights(spec, team, account_id, region, watched, batch_groups),
        *_endpoint_tests_rights(spec, team, account_key, region),
    ]


def _endpoint_tests_rights(spec: OrgSpec, team: str, account_key: str, region: str) -> list[dict[str, Any]]:
    """What CloudFormation needs for the team's endpoint-tests projects where a staging stage
    deploys (the endpoint stack creates them): those projects only, and passing exactly the
    tester role to CodeBuild."""
    projects = _tests_projects(spec, team, account_key, region)
    if not projects:
        return []
    account_id = spec.accounts[account_key].id
    return [
        policy.statement("EndpointTestsProjects", actions.CODEBUILD_PROJECT_MANAGE, projects),
        pass_role(
            "PassEndpointTesterRole",
            [arns.role(account_id, naming.team_role(spec, team, "endpoint-tester"))],
            "codebuild.amazonaws.com",
        ),
    ]


def tester_statements(spec: OrgSpec, team: str, account_key: str, region: str) -> list[dict[str, Any]]:
    """The role a team's endpoint tests run as (CodeBuild, in the account's VPC): invoke the team's
    endpoints in this account, read the pipeline's source artifact (the tests) from the team's
    artifact store in this region (the hub's, or its copy in the stage's region), write the
    tests' logs, manage the build's network interfaces."""
    account_id = spec.accounts[account_key].id
    groups = spec.teams[team].governance.model_package_groups
    log_groups = [
        arns.log_group(region, account_id, f"/aws/codebuild/{naming.endpoint_tests_project(spec, team, g)}")
        for g in groups
    ]
    return [
        policy.statement(
            "InvokeOwnEndpoints",
            INVOKE_ENDPOINT,
            [arns.sagemaker(region, account_id, f"endpoint/{e}") for e in _endpoints(spec, team)],
        ),
        policy.statement(
            "PipelineSource",
            actions.S3_GET + ("s3:GetObjectVersion",),
            [arns.objects(naming.team_pipeline_bucket(spec, team, region))],
        ),
        _hub_key("HubArtifactKey", spec, actions.KMS_DECRYPT, region),
        policy.statement(
            "Logs", actions.LOG_GROUP_CREATE + actions.LOG_DELIVERY, log_groups + [f"{g}:*" for g in log_groups]
        ),
        codebuild_network_interfaces(region, account_id),
        # EC2 offers no resource scoping for these calls (the build's interfaces, in this region).
        policy.statement(
            "BuildNetwork",
            actions.NETWORK_DESCRIBE + actions.NETWORK_INTERFACES,
            "*",
            conditions={"StringEquals": {"aws:RequestedRegion": region}},
        ),
    ]


def _monitoring_rights(
    spec: OrgSpec, team: str, account_id: str, region: str, watched: bool, batch_groups: Sequence[str]
) -> list[dict[str, Any]]:
    """What CloudFormation (the endpoint deployer) needs for a team's monitors and batch
    pipelines here: their create/update/delete calls on their names only, and passing
    exactly the monitoring and batch roles to SageMaker."""

    def sm(resource: str) -> str:
        return arns.sagemaker(region, account_id, resource)

    tags = actions.SAGEMAKER_TAGS + actions.SAGEMAKER_TAGS_READ
    out: list[dict[str, Any]] = []
    if watched:
        endpoints = _endpoints(spec, team)
        out += [
            policy.statement(
                "MonitoringSchedules", SCHEDULE_ACTIONS + tags, [sm(f"monitoring-schedule/{e}-*") for e in endpoints]
            ),
            policy.statement(
                "MonitorJobDefinitions",
                JOB_DEFINITION_ACTIONS + tags,
                [sm(f"model-quality-job-definition/{e}-mq-*") for e in endpoints]
                + [sm(f"model-bias-job-definition/{e}-bias-*") for e in endpoints],
            ),
            pass_role(
                "PassMonitoringRole", [arns.role(account_id, naming.team_role(spec, team, "monitoring"))], SAGEMAKER
            ),
        ]
    if batch_groups:
        out += [
            policy.statement(
                "BatchPipelines",
                BATCH_PIPELINE_ACTIONS + tags,
                [sm(f"pipeline/{naming.batch_pipeline(spec, team, g)}") for g in batch_groups],
            ),
            pass_role("PassBatchRole", [arns.role(account_id, naming.team_role(spec, team, "batch"))], SAGEMAKER),
        ]
    return out


def endpoint_statements(
    spec: OrgSpec,
    team: str,
    account_key: str,
    region: str,
    *,
    batch_groups: Sequence[str],
    in_network: bool,
) -> list[dict[str, Any]]:
    """The endpoints' execution role: promoted artifacts from the hub, data capture into the
    account's platform bucket, images from the team's hub repository or AWS's registries, and the batch
    data of ``batch_groups``; ``in_network``: the endpoints run in the account's network."""
    account_id = spec.accounts[account_key].id
    label = naming.team_label(spec, team)
    endpoints = _endpoints(spec, team)
    platform_bucket = _platform_bucket(spec, account_key, region)
    artifact_bucket = _hub_artifacts(spec, region)
    statements = [
        policy.statement(
            "PromotedArtifacts",
            actions.S3_GET,
            [arns.objects(artifact_bucket, p) for p in _artifact_prefixes(spec, team)],
        ),
        _hub_key("HubArtifactKey", spec, actions.KMS_READ, region),
        policy.statement("DataCapture", actions.S3_PUT, [arns.objects(platform_bucket, f"data-capture/{label}")]),
        _account_key(
            "DataCaptureKey",
            spec,
            account_key,
            region,
            "platform",
            actions.KMS_DECRYPT + actions.KMS_ENCRYPT + actions.KMS_DATA_KEY,
        ),
        # Images come from the team's repository in the hub or AWS's SageMaker registries (what
        # the promotion function lets through).
        ecr_login(),
        policy.statement("PullImages", actions.ECR_PULL, images.pull_repositories(spec, team, region)),
        policy.statement(
            "Logs",
            actions.LOG_GROUP_CREATE + actions.LOG_DELIVERY,
            [arns.log_group(region, account_id, f"/aws/sagemaker/Endpoints/{e}:*") for e in endpoints]
            + [arns.log_group(region, account_id, f"/aws/sagemaker/Endpoints/{e}") for e in endpoints],
        ),
        policy.statement(
            "Metrics",
            actions.METRICS_PUT,
            "*",
            conditions={"StringLike": {"cloudwatch:namespace": ["/aws/sagemaker/Endpoints*", "AWS/SageMaker*"]}},
        ),
    ]
    if batch_groups:
        # Transform jobs run as the model's role: the group's batch input and output.
        statements.append(
            policy.statement(
                "BatchData",
                actions.S3_GET + actions.S3_PUT + actions.S3_LIST,
                [arns.bucket(platform_bucket)]
                + [arns.objects(platform_bucket, naming.batch_bucket_prefix(team, g)) for g in batch_groups],
            )
        )
    if in_network:
        # Endpoints run in the account's network (its SSM parameters): SageMaker manages
        # their ENIs with this role; EC2 offers no resource scoping for Describe*.
        statements.append(vpc_network_interfaces(region))
    return statements


def _image_repository(uri: str, region: str) -> str:
    """The repository ARN of an image URI ``<account>.dkr.ecr.<region>.amazonaws.com/<name>:<tag>``."""
    return arns.ecr_repository(region, uri.split(".", 1)[0], uri.split("/", 1)[1].split(":")[0])


def monitoring_statements(
    spec: OrgSpec,
    team: str,
    account_key: str,
    region: str,
) -> list[dict[str, Any]]:
    """The role a team's monitoring jobs run as: captured data and baselines in, reports out."""
    account_id = spec.accounts[account_key].id
    platform_bucket = _platform_bucket(spec, account_key, region)
    reports = naming.monitoring_bucket(spec, account_key)
    label = naming.team_label(spec, team)  # a renamed team keeps its prefixes (renamed_from)
    log_group = arns.log_group(region, account_id, "/aws/sagemaker/ProcessingJobs")
    monitor_images = [
        _image_repository(uri, region) for uri in (images.model_monitor_image(region), images.clarify_image(region))
    ]
    return [
        policy.statement("ReadCapturedData", actions.S3_GET, [arns.objects(platform_bucket, f"data-capture/{label}")]),
        policy.statement(
            "ListCapturedData",
            actions.S3_LIST,
            [arns.bucket(platform_bucket)],
            conditions={"StringLike": {"s3:prefix": [f"data-capture/{label}/*"]}},
        ),
        _account_key("CapturedDataKey", spec, account_key, region, "platform", actions.KMS_DECRYPT),
        policy.statement(
            "ReadBaselines",
            actions.S3_GET,
            [arns.objects(_hub_artifacts(spec, region), p) for p in _artifact_prefixes(spec, team)],
        ),
        _hub_key("HubArtifactKey", spec, actions.KMS_DECRYPT, region),
        policy.statement("WriteReports", actions.S3_GET + actions.S3_PUT, [arns.objects(reports, label)]),
        policy.statement(
            "ListReports",
            actions.S3_LIST,
            [arns.bucket(reports)],
            conditions={"StringLike": {"s3:prefix": [f"{label}/*"]}},
        ),
        _account_key(
            "MonitoringKey",
            spec,
            account_key,
            region,
            "monitoring",
            actions.KMS_DECRYPT + actions.KMS_ENCRYPT + actions.KMS_DATA_KEY + actions.KMS_GRANT,
        ),
        vpc_network_interfaces(region),
        ecr_login(),
        policy.statement("PullMonitorImages", actions.ECR_PULL, monitor_images),
        policy.statement("Logs", actions.LOG_GROUP_CREATE + actions.LOG_DELIVERY, [log_group, f"{log_group}:*"]),
        policy.statement(
            "Metrics",
            actions.METRICS_PUT,
            "*",
            conditions={"StringLike": {"cloudwatch:namespace": ["aws/sagemaker/Endpoints/*"]}},
        ),
    ]


def batch_statements(
    spec: OrgSpec, team: str, account_key: str, region: str, batch_groups: Sequence[str]
) -> list[dict[str, Any]]:
    """The role of a team's batch pipelines: transform jobs, which run as the model's role."""
    account_id = spec.accounts[account_key].id
    return [
        policy.statement(
            "TransformJobs",
            TRANSFORM_ACTIONS + actions.SAGEMAKER_TAGS,
            [arns.sagemaker(region, account_id, "transform-job/*")],
        ),
        policy.statement(
            "DeployedModels",
            actions.SAGEMAKER_DESCRIBE_MODEL,
            [
                arns.sagemaker(region, account_id, f"model/{naming.endpoint_name(spec, team, g)}-*")
                for g in batch_groups
            ],
        ),
    ]
