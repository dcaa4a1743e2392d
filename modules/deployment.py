"""ML deployment layer: test and prod accounts that host model endpoints.

Reads ``teams`` (stages that target this account) and ``accounts``. Creates the account
baseline, the account's network in every region (:mod:`mlgov.modules.network`) plus, per team
deploying here, the deploy, CloudFormation and endpoint roles
(:mod:`mlgov.modules.governance_deploy`).
"""

from __future__ import annotations

from constructs import Construct

from mlgov.modules.base import AccountStack
from mlgov.modules.governance_deploy import StageGovernance
from mlgov.platform import naming
from mlgov.spec.model import OrgSpec, StackRef


class DeploymentAccountStack(AccountStack):
    """Stack of a test or prod account."""

    def __init__(self, scope: Construct, id: str, *, spec: OrgSpec, ref: StackRef) -> None:
        super().__init__(scope, id, spec=spec, ref=ref)
        self.build_network()
        if self.teams_deploying_here() and ref.region == naming.primary_region(spec, ref.account):
            StageGovernance(
                self,
                "governance",
                spec=spec,
                account_key=ref.account,
                region=ref.region,
                platform_key_arn=self.platform_key.arn,
            )

    def teams_deploying_here(self) -> list[str]:
        """Teams with a stage in this account, in the order of their AWS names."""
        teams = (n for n, t in self.spec.teams.items() if any(s.account == self.account_key for s in t.stages))
        return naming.by_label(self.spec, teams)
