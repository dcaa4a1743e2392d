"""Constructs of the management layer: platform OUs, SCP guardrails, org service access.

Reads ``organization`` (root_id, organizational_units), ``accounts`` (the hub's id) and
``management`` (own_ous, service_catalog_access, stacksets_delegated_admin, guardrails).
The SCP documents come from :mod:`mlgov.platform.guardrails`, the same values ``validate`` checks.

The AWS organization itself (``aws_organizations_organization``) is deliberately NOT
managed: taking it over would put every org-wide setting in one Terraform state. Access
is enabled through resources that leave the organization alone.
"""

from __future__ import annotations

from cdktf_cdktf_provider_aws.organizations_delegated_administrator import OrganizationsDelegatedAdministrator
from cdktf_cdktf_provider_aws.organizations_organizational_unit import OrganizationsOrganizationalUnit
from cdktf_cdktf_provider_aws.organizations_policy import OrganizationsPolicy
from cdktf_cdktf_provider_aws.organizations_policy_attachment import OrganizationsPolicyAttachment
from cdktf_cdktf_provider_aws.servicecatalog_organizations_access import ServicecatalogOrganizationsAccess
from constructs import Construct

from mlgov.modules.blocks import named, ref
from mlgov.platform import guardrails as scp
from mlgov.platform import lifecycle
from mlgov.platform.naming import construct_id
from mlgov.spec.model import OrgSpec

SERVICE_CATALOG_PRINCIPAL = "servicecatalog.amazonaws.com"
STACKSETS_PRINCIPAL = "member.org.stacksets.cloudformation.amazonaws.com"


class OrganizationalUnits(Construct):
    """The spec's OUs as ``aws_organizations_organizational_unit.<ou>`` when mlgov owns them.

    Attributes:
        target_ids: ``root`` and every OU name -> the id to attach policies to: a reference
            to the OU resource when owned, else the literal id from the spec.
    """

    def __init__(self, scope: Construct, id: str, *, spec: OrgSpec) -> None:
        super().__init__(scope, id)
        org = spec.organization
        self.target_ids: dict[str, str] = {scp.ROOT: org.root_id}
        # Accounts (the instance-type SCPs attach to one account each) by their literal id.
        self.target_ids.update({f"{scp.ACCOUNT_TARGET}{key}": a.id for key, a in spec.accounts.items()})
        if not spec.management.own_ous:
            self.target_ids.update({name: ou.id for name, ou in org.organizational_units.items()})
            return
        resources: dict[str, OrganizationsOrganizationalUnit] = {}

        def build(name: str) -> OrganizationsOrganizationalUnit:
            if name not in resources:
                parent = org.organizational_units[name].parent
                parent_id = build(parent).id if parent else org.root_id
                resources[name] = named(
                    OrganizationsOrganizationalUnit(self, construct_id("ou", name), name=name, parent_id=parent_id),
                    construct_id(name),
                )
            return resources[name]

        for name in sorted(org.organizational_units):
            self.target_ids[name] = ref(build(name), "id")


class Guardrails(Construct):
    """Every enabled SCP as ``aws_organizations_policy.<key>`` plus one
    ``aws_organizations_policy_attachment.<key>__<target>`` per target."""

    def __init__(self, scope: Construct, id: str, *, spec: OrgSpec, target_ids: dict[str, str]) -> None:
        super().__init__(scope, id)
        self.policies: dict[str, OrganizationsPolicy] = {}
        for policy in scp.service_control_policies(spec):
            resource = named(
                OrganizationsPolicy(
                    self,
                    construct_id("scp", policy.key),
                    name=policy.name,
                    description=policy.description,
                    type="SERVICE_CONTROL_POLICY",
                    content=policy.content,
                ),
                policy.key,
            )
            self.policies[policy.key] = resource
            for target in policy.targets:
                where = target.removeprefix(scp.ACCOUNT_TARGET)  # an account target: its key
                named(
                    OrganizationsPolicyAttachment(
                        self,
                        construct_id("attach", policy.key, where),
                        policy_id=ref(resource, "id"),
                        target_id=target_ids[target],
                    ),
                    f"{policy.key}__{construct_id(where)}",
                )


class OrganizationAccess(Construct):
    """Trusted access and delegated administration the hub needs to share portfolios to OUs.

    Creates ``aws_servicecatalog_organizations_access.this`` and
    ``aws_organizations_delegated_administrator.<service>_hub`` (Service Catalog, and
    StackSets when the spec asks). Declared here once; the hub layer relies on it.
    """

    def __init__(self, scope: Construct, id: str, *, spec: OrgSpec) -> None:
        super().__init__(scope, id)
        # A hub the management stack is creating is named by a reference to its account.
        hub_id = lifecycle.account_id(spec, spec.hub)
        settings = spec.management
        if settings.service_catalog_access:
            access = named(ServicecatalogOrganizationsAccess(self, "servicecatalog_access", enabled=True), "this")
            named(
                OrganizationsDelegatedAdministrator(
                    self,
                    "servicecatalog_admin",
                    account_id=hub_id,
                    service_principal=SERVICE_CATALOG_PRINCIPAL,
                    depends_on=[access],
                ),
                "servicecatalog_hub",
            )
        if settings.stacksets_delegated_admin:
            named(
                OrganizationsDelegatedAdministrator(
                    self, "stacksets_admin", account_id=hub_id, service_principal=STACKSETS_PRINCIPAL
                ),
                "stacksets_hub",
            )
