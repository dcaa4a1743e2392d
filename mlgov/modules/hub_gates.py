"""The people at the hub's two gates.

The ML engineer approves central packages (which starts deployment); the governance officer
gives the manual approvals before prod. Each can open only its own gate; both are assumed by
people signed in to the hub account with MFA, and both read the monitoring reports of every
team's endpoints. Reads every team's groups and stages. Creates roles ``<org>-ml-engineer``
and ``<org>-governance-officer``; policies: :mod:`mlgov.platform.iam.governance`.
"""

from __future__ import annotations

from constructs import Construct

from mlgov.modules.governance_common import role
from mlgov.platform import naming
from mlgov.platform.iam import governance as iam
from mlgov.spec.model import OrgSpec


class HubGates:
    """The two gate persona roles, built into ``scope`` (the governance hub; see
    :class:`mlgov.modules.hub_registry.HubRegistry` for why)."""

    def __init__(self, scope: Construct, *, spec: OrgSpec, region: str) -> None:
        trust = iam.people_trust(spec)
        role(
            scope,
            "ml_engineer",
            name=naming.role_name(spec, "ml-engineer"),
            trust=trust,
            description="ML engineer: reviews and approves packages in the central registry (starts deployment)",
            statements=iam.ml_engineer_statements(spec, region),
        )
        role(
            scope,
            "governance_officer",
            name=naming.role_name(spec, "governance-officer"),
            trust=trust,
            description="Governance officer: reads test results and gives the manual approval before prod",
            statements=iam.governance_officer_statements(spec, region),
        )
