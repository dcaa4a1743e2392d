"""ML deployment layer: test and prod accounts that host model endpoints.

The core stack (:class:`StageAccountStack`, the account's key) reads ``accounts`` and the
teams deploying here. It creates the account baseline, the account's network in every region
(:mod:`mlgov.modules.network`) and, where some team's stage here is monitored, the monitoring
key and report bucket (:mod:`mlgov.modules.monitoring`): nothing whose count grows with the
teams.

Each team deploying here has its own slice (:class:`StageTeamStack`,
``<account>-team-<team>``, same account and primary region, its own state) with the team's
deploy, CloudFormation and endpoint roles, and its monitoring and batch roles, alarm topic and
alarms where used (:mod:`mlgov.modules.governance_stage`).
"""

from __future__ import annotations

from constructs import Construct

from mlgov.modules.base import AccountStack, PlatformStack
from mlgov.modules.governance_stage import StageTeamGovernance
from mlgov.modules.monitoring import StageMonitoring
from mlgov.platform import governance, monitoring, naming
from mlgov.spec.model import OrgSpec, StackRef


class StageAccountStack(AccountStack):
    """The core stack of a test or prod account."""

    def __init__(self, scope: Construct, id: str, *, spec: OrgSpec, ref: StackRef) -> None:
        super().__init__(scope, id, spec=spec, ref=ref)
        self.build_network()
        self.monitoring = None
        if (
            self.teams_deploying_here()
            and ref.region == naming.primary_region(spec, ref.account)
            and ref.account in monitoring.monitored_accounts(spec)
        ):
            # Construct path <stack>/governance/monitoring, as before the team slices.
            self.monitoring = StageMonitoring(
                _Folder(self, "governance"), "monitoring", spec=spec, account_key=ref.account, region=ref.region
            )

    def teams_deploying_here(self) -> list[str]:
        """Teams with a stage in this account, in the order of their AWS names."""
        return governance.stage_teams(self.spec, self.account_key)


class StageTeamStack(PlatformStack):
    """One team's slice of a test or prod account: the team's roles, topic and alarms there."""

    def __init__(self, scope: Construct, id: str, *, spec: OrgSpec, ref: StackRef) -> None:
        super().__init__(scope, id, spec=spec, ref=ref)
        assert ref.team is not None
        self.governance = StageTeamGovernance(
            self, "governance", spec=spec, account_key=ref.account, region=ref.region, team=ref.team
        )


class _Folder(Construct):
    """A construct that only groups its children under one path segment."""
