"""ML development layer: one account per team.

Reads ``teams`` (the team whose ``dev_account`` this is), ``accounts`` and ``service_catalog``.
Creates the account baseline, the account's network in every region (:mod:`mlgov.modules.network`),
the team's registry, personas and approval-event forwarding (:mod:`mlgov.modules.governance_dev`),
the team's data access (Athena workgroup, resource links and Lake Formation grants of what the data
account shares: :mod:`mlgov.modules.data_access`), the Service Catalog launch role the hub's launch
constraints name (:mod:`mlgov.modules.catalog`) and, with ``accounts.<key>.source``, the connection
to the team's Git provider and its build roles (:mod:`mlgov.modules.repositories`). IAM is global,
so account-wide resources go only into the stack of the account's primary region.
"""

from __future__ import annotations

from constructs import Construct

from mlgov.modules.base import AccountStack
from mlgov.modules.blocks import ref as ref_of
from mlgov.modules.catalog import CatalogLaunchRole
from mlgov.modules.data_access import DevDataAccess
from mlgov.modules.governance_dev import DevGovernance
from mlgov.modules.repositories import Repositories
from mlgov.platform import naming
from mlgov.platform.iam import data as iam_data
from mlgov.spec.model import OrgSpec, StackRef


class DevAccountStack(AccountStack):
    """Stack of one team's ML development account."""

    def __init__(self, scope: Construct, id: str, *, spec: OrgSpec, ref: StackRef) -> None:
        super().__init__(scope, id, spec=spec, ref=ref)
        self.build_network()
        if ref.region != naming.primary_region(spec, ref.account):
            return
        if self.team_name:
            statements = iam_data.data_statements(
                spec,
                self.team_name,
                self.account_id,
                ref.region,
                self.platform_bucket.bucket_name,
                self.platform_key.arn,
            )
            governance = DevGovernance(
                self,
                "governance",
                spec=spec,
                team=self.team_name,
                account_key=ref.account,
                region=ref.region,
                data_statements=statements,
            )
            DevDataAccess(
                self,
                "data",
                spec=spec,
                team=self.team_name,
                account_key=ref.account,
                region=ref.region,
                platform_bucket=self.platform_bucket.bucket_name,
                platform_key_arn=self.platform_key.arn,
                readers=governance.readers,
            )
        launch = None
        if spec.service_catalog and spec.service_catalog.portfolios:
            regions = spec.account_regions(ref.account)
            launch = CatalogLaunchRole(self, "catalog_launch", spec=spec, account_id=self.account_id, regions=regions)
        if self.team_name and spec.accounts[ref.account].source is not None:
            Repositories(
                self,
                "repositories",
                spec=spec,
                team=self.team_name,
                account_key=ref.account,
                region=ref.region,
                boundary_arn=ref_of(launch.boundary, "arn") if launch else None,
            )

    @property
    def team_name(self) -> str | None:
        """The team that owns this dev account (validation guarantees at most one)."""
        owners = [name for name, team in self.spec.teams.items() if team.dev_account == self.account_key]
        return owners[0] if owners else None
