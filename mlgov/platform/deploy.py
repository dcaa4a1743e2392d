"""What each deploy action of a team's pipeline hands CloudFormation: the endpoint template's
parameters per stage and the action's configuration.

CodePipeline holds every action configuration value to 1,000 characters (CodePipeline API
Reference, ``ActionConfigurationValue``; CodePipeline User Guide, "AWS CloudFormation deploy
action reference": ``ParameterOverrides`` "has a maximum size of 1 kilobyte"), and a stage's
parameters pass 2,000. So the deploy action names a template configuration file instead
(``TemplateConfiguration``), which the select step writes into the ``selected`` artifact beside
the pin (:func:`mlgov.platform.governance.select_buildspec`); its dynamic values come from the
pin files themselves. :func:`action_configurations` is what the hub builds the pipeline from
and what validate measures (:func:`mlgov.validation.quotas.pipeline_configuration_rows`).
"""

from __future__ import annotations

from typing import Any

from mlgov.platform import governance, monitoring, naming
from mlgov.platform.iam import arns
from mlgov.spec.governance import resolve_endpoint
from mlgov.spec.model import OrgSpec, Stage


def stage_parameters(spec: OrgSpec, team: str, group: str, stage: Stage, roles: dict[str, str]) -> dict[str, Any]:
    """CloudFormation parameters of one stage; the package ARN and the baselines (``Fn::GetParam``
    values) come from the select step's pin files."""
    e = resolve_endpoint(spec, team, stage)
    account_id = spec.accounts[stage.account].id
    region = naming.stage_region(spec, stage.account)
    capture_bucket = naming.bucket_name(spec, stage.account, region, "platform")
    return {
        "ModelPackageArn": {"Fn::GetParam": ["selected", governance.SELECTED_FILE, "ModelPackageArn"]},
        **governance.container_parameters(spec, region),
        "EndpointName": naming.endpoint_name(spec, team, group),
        "SettingsHash": governance.settings_hash(spec, team, stage),
        "ModelExecutionRoleArn": roles["endpoint"],
        "KmsKeyArn": arns.kms_alias(region, account_id, naming.kms_alias(spec, "platform")),
        "InstanceType": e.instance_type,
        "InstanceCount": str(e.instance_count),
        "MinCapacity": str(e.min_capacity),
        "MaxCapacity": str(e.max_capacity),
        "InvocationsPerInstance": str(e.invocations_per_instance),
        "DataCapturePercent": str(e.data_capture_percent),
        "DataCaptureUri": f"s3://{capture_bucket}/data-capture/{naming.team_label(spec, team)}/{group}",
        "NetworkIsolation": "true" if e.network_isolation else "false",
        **monitoring.endpoint_parameters(spec, team, group, stage),
        **endpoint_tests_parameters(spec, team, group, stage, roles),
        # SubnetIds / SecurityGroupIds keep the template's defaults: the names of the SSM
        # parameters the stage account's stack writes (its network, docs/network.md).
    }


def endpoint_tests_parameters(
    spec: OrgSpec, team: str, group: str, stage: Stage, roles: dict[str, str]
) -> dict[str, str]:
    """The endpoint template's parameters that create the endpoint-tests project in a staging
    stage (:func:`mlgov.platform.governance.staging_stages`); none elsewhere (the template's
    defaults create nothing)."""
    if stage.name not in governance.staging_stages(spec, team):
        return {}
    return {
        "EndpointTestsEnabled": "true",
        "EndpointTestsProject": naming.endpoint_tests_project(spec, team, group),
        "EndpointTesterRoleArn": roles["endpoint-tester"],
    }


def _roles(spec: OrgSpec, team: str, stage: Stage) -> dict[str, str]:
    return governance.stage_roles(spec, team)[spec.accounts[stage.account].id]


def deploy_configs(spec: OrgSpec, team: str, group: str) -> tuple[tuple[str, dict[str, Any]], ...]:
    """Per stage of the team: its template configuration file and the parameters it holds, for
    the select step to write (:func:`mlgov.platform.governance.select_buildspec`)."""
    return tuple(
        (governance.deploy_config_file(s.name), stage_parameters(spec, team, group, s, _roles(spec, team, s)))
        for s in spec.teams[team].stages
    )


def deploy_configuration(spec: OrgSpec, team: str, group: str, stage: Stage) -> dict[str, str]:
    """The CloudFormation deploy action's configuration of one stage: the stack, the template, the
    role CloudFormation deploys as, and the stage's template configuration file in ``selected``."""
    return {
        "ActionMode": "CREATE_UPDATE",
        "StackName": naming.endpoint_stack(spec, team, group),
        "TemplatePath": f"template::{governance.ENDPOINT_TEMPLATE}",
        "RoleArn": _roles(spec, team, stage)["endpoint-deployer"],
        "TemplateConfiguration": f"selected::{governance.deploy_config_file(stage.name)}",
    }


def action_configurations(spec: OrgSpec, team: str, group: str) -> dict[str, dict[str, str]]:
    """Every action of the group's pipeline with its configuration, by action name: the values AWS
    receives (the construct gives the select and verify actions' ``ProjectName`` as a reference
    to the select project, which names the same project)."""
    central = naming.central_model_package_group(spec, team, group)
    staging = governance.staging_stages(spec, team)
    select = naming.select_project(spec, team, group)
    out: dict[str, dict[str, str]] = {
        "template": {
            "S3Bucket": naming.bucket_name(spec, spec.hub, naming.hub_region(spec), "deploy-pipelines"),
            "S3ObjectKey": governance.SOURCE_KEY,
            "PollForSourceChanges": "false",
        },
        "newest-approved": {"ProjectName": select},
    }
    for stage in spec.teams[team].stages:
        if stage.manual_approval:
            summary = governance.approval_summary(central, stage.name, stage.account, staging)
            out[governance.approval_action_name(stage.name)] = {"CustomData": summary}
            out[governance.verify_action_name(stage.name)] = {
                "ProjectName": select,
                "EnvironmentVariables": governance.verify_pin_variables(),
            }
        out[f"deploy-{stage.name}"] = deploy_configuration(spec, team, group, stage)
        if stage.name in staging:
            out[governance.endpoint_tests_action_name(stage.name)] = {
                "ProjectName": naming.endpoint_tests_project(spec, team, group)
            }
    return out
