"""Stage side of the model governance flow (test and prod accounts).

Reads one team with a stage in this account (``teams.<team>.stages``,
``governance.model_package_groups``), the account's network parameters and the hub
account. Creates, in the team's slice of the account (``<account>-team-<team>``, its own
state; :class:`mlgov.modules.stage.StageTeamStack`):

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
  of its transform pipeline, and the deployer's rights to create that pipeline;
- where a staging stage of the team deploys (a stage before a manual approval,
  :func:`mlgov.platform.governance.staging_stages`): ``<org>-<team>-endpoint-tester``, the role
  of the endpoint-tests CodeBuild project the endpoint stack creates (invokes the team's
  endpoints here only), the deployer's rights to create that project and pass only that role,
  and the deploy role's right to start it (the pipeline's test action).

Access to every key (the hub's, the account's platform and monitoring keys) is by alias
(``kms:ResourceAliases``): their ids are random and in other stacks. The hub's key and bucket
policies name these roles in return.
"""

from __future__ import annotations

from cdktf_cdktf_provider_aws.iam_role import IamRole
from constructs import Construct

from mlgov.modules.governance_common import service_trust, team_role
from mlgov.modules.monitoring import TeamMonitoring
from mlgov.platform import governance, monitoring, naming
from mlgov.platform.iam import monitoring as iam_monitoring
from mlgov.platform.iam import stage as iam
from mlgov.spec.model import OrgSpec


class StageTeamGovernance(Construct):
    """Deploy, CloudFormation and endpoint roles (and, where used, monitoring and batch roles,
    alarm topic and alarms) of one team deploying into this account: the team's slice of it."""

    def __init__(self, scope: Construct, id: str, *, spec: OrgSpec, account_key: str, region: str, team: str) -> None:
        super().__init__(scope, id)
        self.roles: dict[str, IamRole] = {}
        account_id = spec.accounts[account_key].id
        monitored = account_key in monitoring.monitored_accounts(spec)
        self.monitoring = None
        if monitored and team in iam_monitoring.monitored_teams(spec, account_key):
            self.monitoring = TeamMonitoring(
                self, "monitoring", spec=spec, team=team, account_key=account_key, region=region
            )
        label = naming.team_label(spec, team)  # a renamed team keeps its AWS names (team_role)
        watched, batch_groups, in_network = governance.stage_team_scope(spec, team, account_key, monitored)
        deploy = team_role(
            self,
            spec,
            team,
            "deploy",
            trust=iam.deploy_trust(spec, team),
            description=f"Assumed by team {label}'s hub deployment pipeline only",
            statements=iam.deploy_statements(spec, team, account_key, region),
        )
        team_role(
            self,
            spec,
            team,
            "endpoint-deployer",
            trust=service_trust("cloudformation.amazonaws.com", account_id),
            description=f"CloudFormation builds team {label}'s endpoints with this role",
            statements=iam.deployer_statements(
                spec, team, account_key, region, watched=watched, batch_groups=batch_groups
            ),
        )
        self.roles[team] = team_role(
            self,
            spec,
            team,
            "endpoint",
            trust=service_trust("sagemaker.amazonaws.com", account_id),
            description=f"SageMaker runs team {label}'s endpoints with this role",
            statements=iam.endpoint_statements(
                spec, team, account_key, region, batch_groups=batch_groups, in_network=in_network
            ),
        )
        self.roles[f"{team}-deploy"] = deploy
        if watched:
            self._monitoring_role(spec, team, account_key, region)
        if batch_groups:
            self._batch_role(spec, team, account_key, region, batch_groups)
        if account_key in governance.tested_accounts(spec, team):
            self._tester_role(spec, team, account_key, region)

    def _tester_role(self, spec: OrgSpec, team: str, account_key: str, region: str) -> None:
        """The role a team's endpoint tests run as (the endpoint stack's CodeBuild project)."""
        label = naming.team_label(spec, team)  # AWS keeps a renamed team's name (renamed_from)
        self.roles[f"{team}-endpoint-tester"] = team_role(
            self,
            spec,
            team,
            "endpoint-tester",
            trust=service_trust("codebuild.amazonaws.com", spec.accounts[account_key].id),
            description=f"CodeBuild runs team {label}'s endpoint tests with this role; it invokes the team's "
            "endpoints here and opens no gate",
            statements=iam.tester_statements(spec, team, account_key, region),
        )

    def _monitoring_role(self, spec: OrgSpec, team: str, account_key: str, region: str) -> None:
        """The role a team's monitoring jobs run as: captured data and baselines in, reports out."""
        label = naming.team_label(spec, team)  # a renamed team keeps its prefixes (renamed_from)
        self.roles[f"{team}-monitoring"] = team_role(
            self,
            spec,
            team,
            "monitoring",
            trust=service_trust("sagemaker.amazonaws.com", spec.accounts[account_key].id),
            description=f"SageMaker runs team {label}'s monitoring jobs with this role",
            statements=iam.monitoring_statements(spec, team, account_key, region),
        )

    def _batch_role(self, spec: OrgSpec, team: str, account_key: str, region: str, batch_groups: list[str]) -> None:
        """The role of a team's batch pipelines: transform jobs, which run as the model's role."""
        label = naming.team_label(spec, team)  # AWS keeps a renamed team's name (renamed_from)
        self.roles[f"{team}-batch"] = team_role(
            self,
            spec,
            team,
            "batch",
            trust=service_trust("sagemaker.amazonaws.com", spec.accounts[account_key].id),
            description=f"SageMaker runs team {label}'s batch inference pipelines with this role",
            statements=iam.batch_statements(spec, team, account_key, region, batch_groups),
        )
