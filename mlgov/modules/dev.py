"""ML development layer: one account per team.

Reads ``teams`` (the team whose ``dev_account`` this is), ``accounts`` and ``service_catalog``.
Creates the account baseline, the account's network in every region (:mod:`mlgov.modules.network`),
the team's registry, personas and approval-event forwarding (:mod:`mlgov.modules.governance_dev`),
the team's data access (Athena workgroup, resource links and Lake Formation grants of what the data
account shares: :mod:`mlgov.modules.data_access`), the Service Catalog launch role the hub's launch
constraints name (:mod:`mlgov.modules.catalog`) and, with ``accounts.<key>.source``, the connection
to the team's Git provider and its build roles (:mod:`mlgov.modules.repositories`). IAM is global,
so account-wide resources go only into the stack of the account's primary region. The launch-time
SSM parameters the products read (team, cost tags, data, source: every one but the network's,
which each region's stack writes for its own VPC) are written by the primary stack into each of
the account's other regions too, through an aliased provider: their values are attributes of
resources of this stack (the models key ARN, the workgroup, the connection), so no stack reads
another's state.
"""

from __future__ import annotations

from cdktf_cdktf_provider_aws.ssm_parameter import SsmParameter
from constructs import Construct

from mlgov.modules.base import AccountStack
from mlgov.modules.blocks import named
from mlgov.modules.blocks import ref as ref_of
from mlgov.modules.catalog import CatalogLaunchRole
from mlgov.modules.data_access import DevDataAccess
from mlgov.modules.governance_dev import DevGovernance
from mlgov.modules.repositories import Repositories
from mlgov.platform import governance, naming
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
        self._write_parameters_in_other_regions()

    def _write_parameters_in_other_regions(self) -> None:
        """Copy this stack's launch-time parameters (not the network's) into the account's other regions."""
        others = [r for r in self.spec.account_regions(self.account_key) if r != self.region]
        if not others:  # the usual case: no walk over the stack's constructs (a costly jsii call)
            return
        network_prefix = naming.ssm_parameter(self.spec, "network") + "/"
        params = [
            c
            for c in self.node.find_all()
            if isinstance(c, SsmParameter) and not str(c.name_input).startswith(network_prefix)
        ]
        for region in others:
            alias = naming.construct_id(region)
            provider = self.provider(region, alias=alias)
            for param in params:
                address = param._mlgov_address.split(".", 1)[1]  # type: ignore[attr-defined]
                named(
                    SsmParameter(
                        self,
                        f"{alias}_{address}",
                        provider=provider,
                        name=str(param.name_input),
                        type=str(param.type_input),
                        value=param.value_input,
                        description=param.description_input,
                        tags=param.tags_input,
                    ),
                    f"{address}_{alias}",
                )

    @property
    def team_name(self) -> str | None:
        """The team that owns this dev account (validation guarantees at most one)."""
        return governance.dev_team(self.spec, self.account_key)
