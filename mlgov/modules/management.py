"""Management account layer: the organization's own account.

Reads ``organization``, ``accounts`` and ``management``. Creates the account baseline, the
accounts that carry an ``email`` (:mod:`mlgov.modules.vending`), the
platform OUs when ``management.own_ous`` (else they are referenced by id; with
``management.adopt_ous`` existing ones are imported by id), one SCP per
enabled guardrail with its attachments, the cost allocation tags
(``management.cost_allocation_tags``), the teams' budgets
(:mod:`mlgov.modules.budgets`), and Service Catalog organizations access with the
hub as delegated administrator (see :mod:`mlgov.modules.guardrails`), and RAM sharing within the
organization when the data account shares anything (Lake Formation's cross-account grants are RAM shares).
"""

from __future__ import annotations

from cdktf_cdktf_provider_aws.ce_cost_allocation_tag import CeCostAllocationTag
from cdktf_cdktf_provider_aws.ram_sharing_with_organization import RamSharingWithOrganization
from constructs import Construct

from mlgov.modules.base import AccountStack
from mlgov.modules.blocks import named
from mlgov.modules.budgets import TeamBudgets
from mlgov.modules.guardrails import Guardrails, OrganizationAccess, OrganizationalUnits
from mlgov.modules.vending import Accounts
from mlgov.platform import budgets as budgets_facts
from mlgov.platform import data as data_facts
from mlgov.platform import lifecycle
from mlgov.platform import tags as tags_of
from mlgov.platform.addresses import ou_imports
from mlgov.platform.naming import free_text_id
from mlgov.spec.model import OrgSpec, StackRef


class ManagementStack(AccountStack):
    """Stack of the organization's management account."""

    def __init__(self, scope: Construct, id: str, *, spec: OrgSpec, ref: StackRef) -> None:
        super().__init__(scope, id, spec=spec, ref=ref)
        ous = OrganizationalUnits(self, "organizational_units", spec=spec)
        accounts = Accounts(self, "accounts", spec=spec, target_ids=ous.target_ids)
        if imports := ou_imports(spec) + lifecycle.account_imports(spec):
            # Adoption: the first apply imports the existing OUs and accounts (Terraform >= 1.5
            # import blocks; no-ops once they are in the state).
            self.add_override("import", imports)
        if accounts.ids:
            self.output(
                lifecycle.ACCOUNT_IDS_OUTPUT,
                accounts.ids,
                "Ids of the accounts mlgov owns, by spec key (`mlgov discover --from-state` reads them).",
            )
        guardrails = Guardrails(self, "guardrails", spec=spec, target_ids=ous.target_ids)
        TeamBudgets(self, "budgets", spec=spec, deny_compute=guardrails.policies.get(budgets_facts.DENY_COMPUTE_KEY))
        OrganizationAccess(self, "organization_access", spec=spec)
        if spec.management.cost_allocation_tags:
            # Billing's cost allocation tags are the management account's (the payer's) setting.
            for key in tags_of.cost_allocation_tag_keys(spec):
                named(
                    CeCostAllocationTag(self, f"cost_tag_{free_text_id(key)}", tag_key=key, status="Active"),
                    free_text_id(key),
                )
        if data_facts.granted_teams(spec):
            # Lake Formation shares cross-account grants as RAM resource shares; inside the
            # organization they need no invitation once RAM sharing with it is on (declared once, here).
            named(RamSharingWithOrganization(self, "ram_sharing"), "this")
