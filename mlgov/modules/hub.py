"""ML shared services (hub) layer: the hub's core stack and each team's slice of it.

The core stack (:class:`HubStack`, the account's key) reads ``organization``, ``accounts``,
``teams`` and ``service_catalog``. It creates the account baseline, the Service Catalog
portfolios, products and shares (:mod:`mlgov.modules.catalog`), the central registry, event
bus, promotion function and gates (:mod:`mlgov.modules.governance_hub`) and the images key:
nothing whose count grows with the teams; and, for each stage region other than the hub's, the
replicas of the promoted artifacts and of the images (:mod:`mlgov.modules.hub_regions`).

Each team's slice (:class:`HubTeamStack`, ``<hub>-team-<team>``, same account and region, its
own state) creates the team's deployment pipelines, their roles and rules
(:mod:`mlgov.modules.hub_pipelines`) and the team's image repository
(:mod:`mlgov.modules.images`), each with its copy in every region of the team's stages other
than the hub's (through the slice's provider aliased to that region). A slice names what it
uses of the core by deterministic names and alias ARNs, never by a Terraform reference across
stacks.
"""

from __future__ import annotations

from constructs import Construct

from mlgov.modules.base import AccountStack, PlatformStack
from mlgov.modules.catalog import CatalogHub, catalog_view
from mlgov.modules.governance_hub import HubGovernance
from mlgov.modules.hub_pipelines import HubPipelines
from mlgov.modules.hub_regions import HubStageRegions
from mlgov.modules.images import ImagesKey, TeamRepository
from mlgov.platform import naming
from mlgov.spec.model import OrgSpec, StackRef


class HubStack(AccountStack):
    """The core stack of the ML hub account."""

    def __init__(self, scope: Construct, id: str, *, spec: OrgSpec, ref: StackRef) -> None:
        super().__init__(scope, id, spec=spec, ref=ref)
        if spec.teams and ref.region == naming.hub_region(spec):
            self.governance = HubGovernance(self, "governance", spec=spec, region=ref.region)
            self.images = ImagesKey(self, "images", spec=spec)
            HubStageRegions(self, spec=spec, registry=self.governance.registry)
        if spec.service_catalog and spec.service_catalog.portfolios:
            CatalogHub(
                self, "catalog", spec=spec, account_id=self.account_id, region=ref.region, view=catalog_view(spec)
            )


class HubTeamStack(PlatformStack):
    """One team's slice of the hub: its deployment pipelines and its image repository."""

    def __init__(self, scope: Construct, id: str, *, spec: OrgSpec, ref: StackRef) -> None:
        super().__init__(scope, id, spec=spec, ref=ref)
        assert ref.team is not None
        HubPipelines(self, spec=spec, team=ref.team, region=ref.region)
        TeamRepository(self, "images", spec=spec, team=ref.team)
