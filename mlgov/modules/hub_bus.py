"""The hub's central event bus, where the dev accounts forward their approvals.

Reads ``organization`` (name, id) and every team's ``dev_account``. Creates bus
``<org>-model-governance`` and its policy: PutEvents only by the dev accounts' forwarder
roles inside the organization (:func:`mlgov.platform.iam.governance.bus_policy`).
"""

from __future__ import annotations

from cdktf_cdktf_provider_aws.cloudwatch_event_bus import CloudwatchEventBus
from cdktf_cdktf_provider_aws.cloudwatch_event_bus_policy import CloudwatchEventBusPolicy
from constructs import Construct

from mlgov.modules.blocks import named, ref
from mlgov.platform import naming
from mlgov.platform.iam import governance as iam
from mlgov.spec.model import OrgSpec


class HubBus:
    """Central bus and its policy, built into ``scope`` (the governance hub; see
    :class:`mlgov.modules.hub_registry.HubRegistry` for why not a construct of its own)."""

    def __init__(self, scope: Construct, *, spec: OrgSpec, region: str) -> None:
        self.name = naming.central_bus(spec)
        self.bus = named(CloudwatchEventBus(scope, "bus", name=self.name), "model_governance")
        document = iam.bus_policy(spec, region)
        if document is not None:
            named(
                CloudwatchEventBusPolicy(scope, "bus_policy", event_bus_name=ref(self.bus, "name"), policy=document),
                "model_governance",
            )
