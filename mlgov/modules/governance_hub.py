"""Hub side of the model governance flow: central bus, registry promotion, deployment pipelines.

Composes, in the hub's home-region stack, one part per concern (each module's docstring
lists the spec fields it reads and what it creates):

- :mod:`~mlgov.modules.hub_registry`: KMS key ``alias/<org>/model-artifacts`` and buckets
  ``<org>-model-artifacts-<id>-<region>`` (promoted artifacts) and
  ``<org>-deploy-pipelines-<id>-<region>`` (the pipelines' template source) and one artifact store per team;
- :mod:`~mlgov.modules.hub_bus`: central bus ``<org>-model-governance``, PutEvents allowed only
  to the dev accounts' forwarder roles inside the organization (``aws:PrincipalOrgID``);
- :mod:`~mlgov.modules.hub_promotion`: function ``<org>-model-promotion`` (role, log group with
  retention, dead-letter queue), invoked by rule ``<org>-promote-approved-models``;
- :mod:`~mlgov.modules.hub_gates`: the ML engineer and governance officer roles.

Each team's pipelines (:mod:`~mlgov.modules.hub_pipelines`: per group, CodePipeline
``<org>-<team>-<group>-deploy`` started by rule ``<org>-<team>-<group>-approved``) are in the
team's own slice of the hub (:class:`mlgov.modules.hub.HubTeamStack`), not here: this stack
holds nothing that grows with the number of teams.

Every policy document comes from :mod:`mlgov.platform.iam.governance`; the facts both sides
agree on (stage roles, approval actions, settings hash) from :mod:`mlgov.platform.governance`.
"""

from __future__ import annotations

from constructs import Construct

from mlgov.modules.hub_bus import HubBus
from mlgov.modules.hub_gates import HubGates
from mlgov.modules.hub_promotion import HubPromotion
from mlgov.modules.hub_registry import HubRegistry
from mlgov.spec.model import OrgSpec


class HubGovernance(Construct):
    """Central bus, promotion function, artifact stores and gates of the hub.

    Its parts build into this construct, so every resource keeps the construct path
    ``<stack>/governance/<id>`` and its Terraform address.
    """

    def __init__(self, scope: Construct, id: str, *, spec: OrgSpec, region: str) -> None:
        super().__init__(scope, id)
        self.registry = HubRegistry(self, spec=spec, region=region)
        self.key = self.registry.key
        self.bus = HubBus(self, spec=spec, region=region)
        self.promotion = HubPromotion(self, spec=spec, region=region, registry=self.registry, bus=self.bus)
        HubGates(self, spec=spec, region=region)
