"""The accounts mlgov owns (``accounts.<key>.email``), in the management stack (docs/day-zero.md).

Method ``organizations``: ``aws_organizations_account.<key>`` (Organizations CreateAccount), in
its OU. The provider closes an account whose resource leaves the configuration
(``close_on_deletion``, always on): a retired account with ``management.vending.on_retire: close``,
or an owned account removed from the spec. With ``suspend`` a retired account stays and moves
to the suspended OU. Method ``control_tower``: a provisioned Account Factory
product ``aws_servicecatalog_provisioned_product.account_<key>`` per account. The facts (which
accounts, where, imports) come from :mod:`mlgov.platform.lifecycle`.
"""

from __future__ import annotations

from cdktf import TerraformResourceLifecycle
from cdktf_cdktf_provider_aws.organizations_account import OrganizationsAccount
from cdktf_cdktf_provider_aws.servicecatalog_provisioned_product import (
    ServicecatalogProvisionedProduct,
    ServicecatalogProvisionedProductProvisioningParameters,
)
from constructs import Construct

from mlgov.modules.blocks import named
from mlgov.platform import lifecycle, naming
from mlgov.spec.model import OrgSpec


class Accounts(Construct):
    """Every account of :func:`mlgov.platform.lifecycle.vended`.

    Attributes:
        ids: spec key -> the account's id as a Terraform expression (``${...}``).
    """

    def __init__(self, scope: Construct, id: str, *, spec: OrgSpec, target_ids: dict[str, str]) -> None:
        super().__init__(scope, id)
        self.ids: dict[str, str] = {}
        vending = spec.management.vending
        for account in lifecycle.vended(spec):
            if lifecycle.control_tower(spec):
                factory = vending.control_tower
                assert factory is not None
                params = lifecycle.factory_parameters(spec, account, target_ids[account.ou])
                named(
                    ServicecatalogProvisionedProduct(
                        self,
                        naming.construct_id("factory", account.key),
                        name=naming.resource_name(spec, "account", account.key),
                        product_name=factory.product_name,
                        provisioning_artifact_name=factory.provisioning_artifact_name,
                        provisioning_parameters=[
                            ServicecatalogProvisionedProductProvisioningParameters(key=k, value=v)
                            for k, v in sorted(params.items())
                        ],
                    ),
                    naming.construct_id("account", account.key),
                )
            else:
                named(
                    OrganizationsAccount(
                        self,
                        naming.construct_id("account", account.key),
                        name=account.name,
                        email=account.email,
                        parent_id=target_ids[account.ou],
                        role_name=vending.role_name,
                        iam_user_access_to_billing=vending.iam_user_access_to_billing,
                        # Whatever on_retire says: an owned account that leaves the configuration is
                        # closed, never merely removed from the organization (it would stand alone).
                        close_on_deletion=True,
                        # Both are read at creation only; an adopted account must not be replaced over them.
                        lifecycle=TerraformResourceLifecycle(
                            ignore_changes=["role_name", "iam_user_access_to_billing"]
                        ),
                    ),
                    naming.construct_id(account.key),
                )
            self.ids[account.key] = "${" + lifecycle.account_id_expression(spec, account.key) + "}"
