"""ML development layer: one account per team.

Reads ``teams`` (the team whose ``dev_account`` this is), ``accounts`` and
``service_catalog``. Creates the account baseline and the Service Catalog launch role the
hub's launch constraints name; team registries, personas and approval-event forwarding come
with #4.
"""

from __future__ import annotations

from modules.base import AccountStack


class DevAccountStack(AccountStack):
    """Stack of one team's ML development account."""

    def __init__(self, scope, id: str, **kwargs) -> None:
        super().__init__(scope, id, **kwargs)
        regions = self.spec.account_regions(self.account_key)
        if self.spec.service_catalog and self.spec.service_catalog.portfolios and self.region == regions[0]:
            from modules.catalog import CatalogLaunchRole  # IAM is global: one launch role per account

            CatalogLaunchRole(self, "catalog_launch", spec=self.spec, account_id=self.account_id, regions=regions)

    @property
    def team_name(self) -> str | None:
        """The team that owns this dev account (validation guarantees at most one)."""
        owners = [name for name, team in self.spec.teams.items() if team.dev_account == self.account_key]
        return owners[0] if owners else None
