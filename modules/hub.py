"""ML shared services (hub) layer.

Reads ``organization``, ``accounts``, ``teams`` and ``service_catalog``. Creates the account
baseline, the Service Catalog portfolios, products and shares (:mod:`mlgov.modules.catalog`),
the central registry, event bus, promotion function and deployment pipelines
(:mod:`mlgov.modules.governance_hub`), and each team's image repository
(:mod:`mlgov.modules.images`).
"""

from __future__ import annotations

from constructs import Construct

from mlgov.modules.base import AccountStack
from mlgov.modules.catalog import CatalogHub, catalog_view
from mlgov.modules.governance_hub import HubGovernance
from mlgov.modules.images import TeamImages
from mlgov.platform import naming
from mlgov.spec.model import OrgSpec, StackRef


class HubStack(AccountStack):
    """Stack of the ML hub account."""

    def __init__(self, scope: Construct, id: str, *, spec: OrgSpec, ref: StackRef) -> None:
        super().__init__(scope, id, spec=spec, ref=ref)
        if spec.teams and ref.region == naming.hub_region(spec):
            self.governance = HubGovernance(self, "governance", spec=spec, region=ref.region)
            self.images = TeamImages(self, "images", spec=spec)
        if spec.service_catalog and spec.service_catalog.portfolios:
            CatalogHub(
                self, "catalog", spec=spec, account_id=self.account_id, region=ref.region, view=catalog_view(spec)
            )
