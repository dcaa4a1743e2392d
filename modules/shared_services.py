"""ML shared services (hub) layer.

Reads ``organization``, ``accounts`` and ``teams``. Creates the account baseline; the
Service Catalog portfolios (#3) and the central registry, event bus, promotion function and
deployment pipelines (#4) hang off this stack.
"""

from __future__ import annotations

from constructs import Construct

from mlgov import naming
from mlgov.spec import OrgSpec, StackRef
from modules.base import AccountStack
from modules.governance_hub import HubGovernance


class SharedServicesStack(AccountStack):
    """Stack of the ML hub account."""

    def __init__(self, scope: Construct, id: str, *, spec: OrgSpec, ref: StackRef) -> None:
        super().__init__(scope, id, spec=spec, ref=ref)
        if spec.teams and ref.region == naming.hub_region(spec):
            self.governance = HubGovernance(self, "governance", spec=spec, region=ref.region)
