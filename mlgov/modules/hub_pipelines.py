"""Per team deployment pipelines of the hub: approved central package -> stage endpoints.

Reads every team's ``stages``, ``governance`` (groups, endpoint settings, monitoring, batch)
and ``renamed_from``. Creates, per team, roles ``<org>-<team>-deploy-pipeline``,
``-select-model`` and ``-start-deploy``, the team's artifact store
``<org>-pipeline-<team>-<hub id>-<region>`` (readable by the team's stage deploy roles only; policies:
:mod:`mlgov.platform.iam.governance`) in the hub's region and in each other region of the team's
stages (through the slice's provider aliased to that region: the pipeline then names every store
with its region, and each stage's deploy action runs in its account's region), and per group: CodeBuild project
``<org>-<team>-<group>-select`` (the NEWEST approved package), CodePipeline
``<org>-<team>-<group>-deploy`` (source template -> select -> each stage's deploy, the endpoint
tests after the deploy of a stage before an approval, a manual approval before every stage that
asks for one) and rule ``<org>-<team>-<group>-approved`` on
the default bus that starts it when a package of the central group becomes Approved (never
on Rejected), with retry policy and dead-letter queue.
"""

from __future__ import annotations

from cdktf import TerraformStack
from cdktf_cdktf_provider_aws.cloudwatch_event_rule import CloudwatchEventRule
from cdktf_cdktf_provider_aws.cloudwatch_event_target import CloudwatchEventTarget
from cdktf_cdktf_provider_aws.codebuild_project import CodebuildProject
from cdktf_cdktf_provider_aws.codepipeline import (
    Codepipeline,
    CodepipelineArtifactStore,
    CodepipelineArtifactStoreEncryptionKey,
    CodepipelineStage,
    CodepipelineStageAction,
)
from constructs import Construct

from mlgov.modules.blocks import SecureBucket, named, ref
from mlgov.modules.governance_common import (
    RETRY_ATTEMPTS,
    RETRY_MAX_AGE_SECONDS,
    dead_letter_queue,
    team_role,
)
from mlgov.platform import deploy, governance, monitoring, naming
from mlgov.platform import tags as tags_of
from mlgov.platform.iam import arns
from mlgov.platform.iam import governance as iam
from mlgov.platform.naming import construct_id
from mlgov.spec.model import OrgSpec, Stage

BUILD_IMAGE = governance.BUILD_IMAGE


def endpoint_tests_action(
    configuration: dict[str, str], stage: Stage, roles: dict[str, str], region: str, run_order: int
) -> CodepipelineStageAction:
    """The staging test: after a stage's deploy action (``run_order``: the one after it), run the
    endpoint stack's tests project in the stage account, inside its VPC, as the stage's deploy role
    (a cross-account action, so it has no output artifact). A failed build fails the stage, and
    CodePipeline never starts a later stage of that execution: the next approval is unreachable."""
    return CodepipelineStageAction(
        name=governance.endpoint_tests_action_name(stage.name),
        category="Test",
        owner="AWS",
        provider="CodeBuild",
        version="1",
        run_order=run_order,
        input_artifacts=["template"],
        role_arn=roles["deploy"],
        region=region,
        configuration=configuration,
    )


class HubPipelines:
    """Roles, select projects, pipelines and start rules of one team, built into ``scope`` (the
    team's slice of the hub, :class:`mlgov.modules.hub.HubTeamStack`; not a construct of its
    own, see :class:`mlgov.modules.hub_registry.HubRegistry` for why).

    The hub's core stack holds the key and the pipeline bucket; this slice names them: the
    bucket by its name, the key by its alias ARN (its id is random)."""

    def __init__(self, scope: Construct, *, spec: OrgSpec, team: str, region: str) -> None:
        hub_id = spec.accounts[spec.hub].id
        key_arn = iam.artifact_key_alias_arn(spec, region)
        t = spec.teams[team]
        # The team's own artifact store: its roles write nowhere else (addressed by the label,
        # which a rename keeps, as it keeps the bucket's name).
        artifact_store = naming.team_pipeline_bucket(spec, team)
        store_address = construct_id("pipeline", naming.team_label(spec, team))
        SecureBucket(
            scope,
            store_address,
            name=store_address,
            bucket_name=artifact_store,
            kms_key_arn=key_arn,
            extra_statements=iam.team_pipeline_bucket_statements(spec, team),
        )
        cross_region = bool(naming.team_remote_regions(spec, team))
        stores = [self._store(artifact_store, key_arn, region if cross_region else None)]
        for remote in naming.team_remote_regions(spec, team):
            stores.append(self._remote_store(scope, spec, team, remote, store_address))
        groups = t.governance.model_package_groups
        roles = governance.stage_roles(spec, team)
        # AWS keeps the name a renamed team was created with; addresses move (renamed_from).
        label, former = naming.team_label(spec, team), naming.former_team(spec, team)
        tags = tags_of.team_tags(spec, team)
        pipeline_role = team_role(
            scope,
            spec,
            team,
            "deploy-pipeline",
            trust=iam.pipeline_trust(spec),
            description=f"Deployment pipelines of team {label}; assumes only the team's deploy roles in its stage "
            "accounts",
            statements=iam.deploy_pipeline_statements(spec, team, region),
        )
        build_role = team_role(
            scope,
            spec,
            team,
            "select-model",
            trust=iam.select_trust(spec),
            description=f"Selects the newest approved central package of team {label}",
            statements=iam.select_model_statements(spec, team, region),
        )
        start_role = team_role(
            scope,
            spec,
            team,
            "start-deploy",
            trust=iam.start_deploy_trust(spec),
            description=f"Lets the central approval rules start team {label}'s pipelines, and nothing else",
            statements=iam.start_deploy_statements(spec, team, region),
        )
        for group in groups:
            address, was = construct_id(team, group), naming.moved_id(former, group)
            central = naming.central_model_package_group(spec, team, group)
            project = named(
                CodebuildProject(
                    scope,
                    f"{address}_select",
                    name=naming.select_project(spec, team, group),
                    service_role=ref(build_role, "arn"),
                    encryption_key=key_arn,
                    description=f"Newest approved package of {central}",
                    build_timeout=10,
                    tags=tags,
                    artifacts={"type": "CODEPIPELINE"},
                    source={
                        "type": "CODEPIPELINE",
                        "buildspec": governance.select_buildspec(
                            central,
                            monitoring.required_monitors(spec, team),
                            governance.region_copies(spec, team),
                            deploy.deploy_configs(spec, team, group),
                        ),
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
            configs = deploy.action_configurations(spec, team, group)
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
                            configuration=configs["template"],
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
                            namespace=governance.SELECT_NAMESPACE,
                            configuration={**configs["newest-approved"], "ProjectName": ref(project, "name")},
                        )
                    ],
                ),
            ]
            for stage in t.stages:
                r = roles[spec.accounts[stage.account].id]
                actions = []
                if stage.manual_approval:
                    actions.append(
                        CodepipelineStageAction(
                            name=governance.approval_action_name(stage.name),
                            category="Approval",
                            owner="AWS",
                            provider="Manual",
                            version="1",
                            run_order=1,
                            # The approver sees the pin the earlier stages deployed (variables the
                            # select build exported), so what is approved is what was tested.
                            configuration=configs[governance.approval_action_name(stage.name)],
                        )
                    )
                    # After the approval, before the deploy: the pinned package is still exactly
                    # what the earlier stages deployed (the select project, run in check mode).
                    actions.append(
                        CodepipelineStageAction(
                            name=governance.verify_action_name(stage.name),
                            category="Build",
                            owner="AWS",
                            provider="CodeBuild",
                            version="1",
                            run_order=2,
                            input_artifacts=["selected"],
                            configuration={
                                **configs[governance.verify_action_name(stage.name)],
                                "ProjectName": ref(project, "name"),
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
                        region=naming.stage_region(spec, stage.account),
                        # the parameters: the stage's template configuration file, which the select
                        # step wrote beside the pin (mlgov.platform.deploy)
                        configuration=configs[f"deploy-{stage.name}"],
                    )
                )
                if stage.name in governance.staging_stages(spec, team):
                    # after the deploy, in the stage's region (its account's tests project is there)
                    after = 4 if stage.manual_approval else 2
                    stage_region = naming.stage_region(spec, stage.account)
                    actions.append(
                        endpoint_tests_action(
                            configs[governance.endpoint_tests_action_name(stage.name)], stage, r, stage_region, after
                        )
                    )
                stages.append(CodepipelineStage(name=stage.name, action=actions))
            pipeline = named(
                Codepipeline(
                    scope,
                    f"{address}_pipeline",
                    name=naming.deploy_pipeline(spec, team, group),
                    role_arn=ref(pipeline_role, "arn"),
                    pipeline_type="V2",
                    execution_mode="QUEUED",
                    tags=tags,
                    artifact_store=stores,
                    stage=stages,
                ),
                address,
                was=was,
            )
            rule_name = naming.central_approval_rule(spec, team, group)
            dlq = dead_letter_queue(
                scope,
                f"{address}_approved_dlq",
                name=naming.dlq(rule_name),
                region=region,
                account_id=hub_id,
                sender_arn=arns.event_rule(region, hub_id, rule_name),
                sender_service=iam.EVENTS,
                was=was and f"{was}_approved_dlq",
                tags=tags,
            )
            rule = named(
                CloudwatchEventRule(
                    scope,
                    f"{address}_rule",
                    name=rule_name,
                    tags=tags,
                    description=f"{central}: package Approved -> deploy pipeline (Rejected does not match)",
                    event_pattern=governance.central_approval_pattern(spec, team, group),
                ),
                address,
                was=was,
            )
            named(
                CloudwatchEventTarget(
                    scope,
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
    def _store(bucket: str, key_arn: str, region: str | None) -> CodepipelineArtifactStore:
        """One ``artifact_store`` block; ``region`` is set only when the pipeline has cross-region
        actions (then every store, the pipeline region's too, names its region)."""
        return CodepipelineArtifactStore(
            location=bucket,
            type="S3",
            region=region,
            encryption_key=CodepipelineArtifactStoreEncryptionKey(id=key_arn, type="KMS"),
        )

    def _remote_store(
        self, scope: Construct, spec: OrgSpec, team: str, region: str, store_address: str
    ) -> CodepipelineArtifactStore:
        """The team's artifact store in a stage region (CodePipeline needs one in the region of
        each cross-region action: CodePipeline User Guide, "Add a cross-Region action in
        CodePipeline"), encrypted with the hub's key there (:mod:`mlgov.modules.hub_regions`),
        read only by the deploy roles of the team's stages in that region."""
        bucket = naming.team_pipeline_bucket(spec, team, region)
        key_arn = iam.artifact_key_alias_arn(spec, region)
        address = f"{store_address}_{naming.region_alias(region)}"
        SecureBucket(
            scope,
            address,
            name=address,
            bucket_name=bucket,
            kms_key_arn=key_arn,
            extra_statements=iam.team_pipeline_bucket_statements(spec, team, region),
            provider=TerraformStack.of(scope).region_provider(region),  # type: ignore[attr-defined]
        )
        return self._store(bucket, key_arn, region)
