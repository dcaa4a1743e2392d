"""Service Catalog constructs: the hub's portfolios and products, the dev accounts' launch role.

:class:`CatalogHub` (hub stack) reads ``service_catalog`` (portfolios, products, versions,
sharing, principals, tag options), ``organization`` (id, OUs, management account) and the
rendered templates handed in as :class:`CatalogView` (built from the spec by
:func:`catalog_view`; the construct reads no file). It creates:

- the template bucket (``SecureBucket``, SSE-KMS with its own ``catalog`` key), readable only
  by principals of the organization (``aws:PrincipalOrgID``), and one ``aws_s3_object`` per
  rendered product version;
- one portfolio per spec portfolio; one product per spec product (first version as its
  initial provisioning artifact, later versions as ``aws_servicecatalog_provisioning_artifact``);
- the product <-> portfolio association and a LAUNCH constraint with the LOCAL role name of the
  portfolio's own launch role (:func:`mlgov.platform.naming.catalog_launch_role`) on every pair,
  except for retired products
  (``retired: true``), which stay in the hub with their versions but leave the portfolio;
- an organization-node share (``ORGANIZATIONAL_UNIT``, principal and tag-option sharing on)
  per portfolio and OU; ``IAM_PATTERN`` principal associations for its role patterns and one
  per persona it names, ``<org>-*-<persona>`` (every team's role of that persona: the count
  does not grow with the teams; :func:`mlgov.platform.catalog.portfolio_principal_patterns`);
- tag options and their portfolio associations.

The share needs Service Catalog's organizations access and the hub registered as delegated
administrator; both live in the management stack.

:class:`CatalogLaunchRole` (dev stacks) creates one launch role per portfolio, the one that
portfolio's constraints name, allowed to create exactly what that portfolio's product templates
declare and nothing else (a launch through a portfolio whose products declare no Studio domain or
user profile cannot pass a persona role, whoever may launch through it), and the permissions
boundary (:func:`mlgov.platform.naming.product_boundary`) every role it creates must carry. IAM is global, so an
account built in several regions gets the role once (first region), covering all of them.

Every policy document here (template key and bucket, launch role trust and policy, boundary) is
built by :mod:`mlgov.platform.iam.catalog`; the constructs only attach them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from cdktf_cdktf_provider_aws.iam_policy import IamPolicy
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.s3_object import S3Object
from cdktf_cdktf_provider_aws.servicecatalog_constraint import ServicecatalogConstraint
from cdktf_cdktf_provider_aws.servicecatalog_portfolio import ServicecatalogPortfolio
from cdktf_cdktf_provider_aws.servicecatalog_portfolio_share import ServicecatalogPortfolioShare
from cdktf_cdktf_provider_aws.servicecatalog_principal_portfolio_association import (
    ServicecatalogPrincipalPortfolioAssociation,
)
from cdktf_cdktf_provider_aws.servicecatalog_product import (
    ServicecatalogProduct,
    ServicecatalogProductProvisioningArtifactParameters,
)
from cdktf_cdktf_provider_aws.servicecatalog_product_portfolio_association import (
    ServicecatalogProductPortfolioAssociation,
)
from cdktf_cdktf_provider_aws.servicecatalog_provisioning_artifact import ServicecatalogProvisioningArtifact
from cdktf_cdktf_provider_aws.servicecatalog_tag_option import ServicecatalogTagOption
from cdktf_cdktf_provider_aws.servicecatalog_tag_option_resource_association import (
    ServicecatalogTagOptionResourceAssociation,
)
from constructs import Construct

from mlgov.modules.blocks import PlatformKey, SecureBucket, named, ref
from mlgov.platform import naming
from mlgov.platform.catalog import ProductArtifact, portfolio_principal_patterns, product_artifacts
from mlgov.platform.iam import arns
from mlgov.platform.iam import catalog as iam_catalog
from mlgov.spec.catalog import Portfolio, Product
from mlgov.spec.model import OrgSpec

STUDIO_VISIBILITY_TAG = "sagemaker:studio-visibility"


@dataclass(frozen=True)
class CatalogView:
    """What the hub construct needs beyond the spec: every rendered product version."""

    artifacts: tuple[ProductArtifact, ...]

    def text(self, key: str) -> str:
        return next(a.text for a in self.artifacts if a.key == key)


def catalog_view(spec: OrgSpec) -> CatalogView:
    """Render the spec's product versions (the same bytes generated/products/ holds)."""
    return CatalogView(tuple(product_artifacts(spec)))


def terraform_literal(text: str) -> str:
    """Escape Terraform template sequences so ``${AWS::Region}`` reaches S3 verbatim."""
    return text.replace("${", "$${").replace("%{", "%%{")


def ou_arn(spec: OrgSpec, ou_name: str) -> str:
    """ARN of an OU, as portfolio shares take it (owned by the management account)."""
    org = spec.organization
    mgmt = spec.accounts[org.management_account].id
    return arns.arn("organizations", "", mgmt, f"ou/{org.id}/{org.organizational_units[ou_name].id}")


def _address(*parts: str) -> str:
    """Address fragment from free text (tag keys, role patterns): :func:`naming.free_text_id`."""
    return naming.free_text_id(*parts)


class CatalogHub(Construct):
    """Portfolios, products, launch constraints and OU shares in the hub account.

    One method per concern, each creating its resources in this construct's scope: a nested
    construct would add a level to every resource's construct path, which the synthesized JSON
    records, so the output would change.
    """

    def __init__(
        self, scope: Construct, id: str, *, spec: OrgSpec, account_id: str, region: str, view: CatalogView
    ) -> None:
        super().__init__(scope, id)
        catalog = spec.service_catalog
        assert catalog is not None and catalog.portfolios
        self.spec = spec
        self.region = region
        self.view = view
        self.key = PlatformKey(
            self,
            "key",
            name="catalog",
            account_id=account_id,
            alias=naming.kms_alias(spec, "catalog"),
            description="mlgov Service Catalog product templates",
            extra_statements=iam_catalog.template_key_statements(spec, region),
        )
        self.bucket_name = naming.bucket_name(spec, spec.hub, region, "catalog")
        self.bucket = SecureBucket(
            self,
            "bucket",
            name="catalog",
            bucket_name=self.bucket_name,
            kms_key_arn=self.key.arn,
            extra_statements=iam_catalog.template_bucket_statements(spec, self.bucket_name),
        )
        for pkey, portfolio in sorted(catalog.portfolios.items()):
            pf = self._portfolio(pkey, portfolio)
            for key, product in sorted(portfolio.products.items()):
                self._product(pkey, portfolio, pf, key, product)

    def _portfolio(self, pkey: str, portfolio: Portfolio) -> ServicecatalogPortfolio:
        """The portfolio, its OU shares, the principals that see it and its tag options."""
        spec = self.spec
        # A renamed portfolio (or product) moves its addresses; AWS names and template paths stay.
        fp = naming.former_portfolio(spec, pkey)
        pf = named(
            ServicecatalogPortfolio(
                self,
                f"portfolio_{pkey}",
                name=portfolio.display_name,
                description=portfolio.description or None,
                provider_name=portfolio.provider,
            ),
            naming.construct_id(pkey),
            was=naming.moved_id(fp),
        )
        for ou in sorted(set(portfolio.share_with_ous)):
            named(
                ServicecatalogPortfolioShare(
                    self,
                    f"share_{pkey}_{ou}",
                    portfolio_id=ref(pf, "id"),
                    principal_id=ou_arn(spec, ou),
                    type="ORGANIZATIONAL_UNIT",
                    share_principals=True,
                    share_tag_options=True,
                ),
                naming.construct_id(pkey, ou),
                was=naming.moved_id(fp, ou),
            )
        for pattern in portfolio_principal_patterns(spec, pkey):
            named(
                ServicecatalogPrincipalPortfolioAssociation(
                    self,
                    f"principal_{pkey}_{pattern}",
                    portfolio_id=ref(pf, "id"),
                    # IAM_PATTERN ARNs carry no account: they match in every account the share reaches.
                    principal_arn=arns.arn("iam", "", "", f"role/{pattern}"),
                    principal_type="IAM_PATTERN",
                ),
                _address(pkey, pattern),
                was=fp and _address(fp, pattern),
            )
        for tag_key, tag_value in sorted(portfolio.tag_options.items()):
            option = named(
                ServicecatalogTagOption(self, f"tag_option_{pkey}_{tag_key}", key=tag_key, value=tag_value),
                _address(pkey, tag_key),
                was=fp and _address(fp, tag_key),
            )
            named(
                ServicecatalogTagOptionResourceAssociation(
                    self,
                    f"tag_option_assoc_{pkey}_{tag_key}",
                    resource_id=ref(pf, "id"),
                    tag_option_id=ref(option, "id"),
                ),
                _address(pkey, tag_key),
                was=fp and _address(fp, tag_key),
            )
        return pf

    def _product(
        self, pkey: str, portfolio: Portfolio, pf: ServicecatalogPortfolio, key: str, product: Product
    ) -> None:
        """One product: its templates, the product with every version, and its place in the portfolio."""
        spec = self.spec
        address = naming.construct_id(pkey, key)
        fp = naming.former_portfolio(spec, pkey)
        fprod = naming.former_product(spec, pkey, key)
        old = (fp or pkey, fprod or key) if fp or fprod else None
        was = naming.construct_id(*old) if old else None
        objects = self._templates(pkey, key, product, old)

        def url(version_name: str) -> str:
            object_key = naming.product_template_key(spec, pkey, key, version_name)
            return f"https://{self.bucket_name}.s3.{self.region}.amazonaws.com/{object_key}"

        first, *later = product.versions
        sc_product = named(
            ServicecatalogProduct(
                self,
                f"product_{address}",
                name=product.display_name,
                owner=product.owner,
                type="CLOUD_FORMATION_TEMPLATE",
                description=product.description or None,
                distributor=product.distributor,
                support_email=product.support_email,
                support_url=product.support_url,
                support_description=product.support_description or None,
                tags={STUDIO_VISIBILITY_TAG: "true"} if portfolio.studio_visible and not product.retired else None,
                provisioning_artifact_parameters=ServicecatalogProductProvisioningArtifactParameters(
                    name=first.name,
                    description=first.description or None,
                    template_url=url(first.name),
                    type="CLOUD_FORMATION_TEMPLATE",
                ),
                depends_on=[objects[first.name], self.bucket.policy],
            ),
            address,
            was=was,
        )
        for version in later:
            named(
                ServicecatalogProvisioningArtifact(
                    self,
                    f"artifact_{address}_{version.name}",
                    product_id=sc_product.id,
                    name=version.name,
                    description=version.description or None,
                    template_url=url(version.name),
                    type="CLOUD_FORMATION_TEMPLATE",
                    depends_on=[objects[version.name]],
                ),
                _address(pkey, key, version.name),
                was=old and _address(*old, version.name),
            )
        if product.retired:
            # Out of the portfolio: nobody can launch it; the product and its released
            # templates stay (provisioned copies can still be terminated).
            return
        self._launch(pkey, pf, sc_product, product, address, was)

    def _templates(self, pkey: str, key: str, product: Product, old: tuple[str, str] | None) -> dict[str, S3Object]:
        """One template object per version of a product, the bytes generated/products/ holds."""
        objects = {}
        address = naming.construct_id(pkey, key)
        for version in product.versions:
            object_key = naming.product_template_key(self.spec, pkey, key, version.name)
            objects[version.name] = named(
                S3Object(
                    self,
                    f"template_{address}_{version.name}",
                    bucket=ref(self.bucket.bucket, "id"),
                    key=object_key,
                    content=terraform_literal(self.view.text(object_key)),
                    content_type="application/x-yaml",
                ),
                _address(pkey, key, version.name),
                was=old and _address(*old, version.name),
            )
        return objects

    def _launch(
        self,
        pkey: str,
        pf: ServicecatalogPortfolio,
        sc_product: ServicecatalogProduct,
        product: Product,
        address: str,
        was: str | None,
    ) -> None:
        """The product in the portfolio, launched with the portfolio's own (LOCAL) launch role."""
        launch_role_name = naming.catalog_launch_role(self.spec, pkey)
        association = named(
            ServicecatalogProductPortfolioAssociation(
                self, f"association_{address}", portfolio_id=ref(pf, "id"), product_id=ref(sc_product, "id")
            ),
            address,
            was=was,
        )
        named(
            ServicecatalogConstraint(
                self,
                f"launch_{address}",
                portfolio_id=ref(pf, "id"),
                product_id=ref(sc_product, "id"),
                type="LAUNCH",
                parameters=json.dumps({"LocalRoleName": launch_role_name}),
                description=f"Launch {product.display_name} with the local role {launch_role_name}",
                depends_on=[association],
            ),
            address,
            was=was,
        )


class CatalogLaunchRole(Construct):
    """One launch role per portfolio (the LOCAL role name its launch constraints give), in one dev
    account, and the permissions boundary of every role a product creates."""

    def __init__(self, scope: Construct, id: str, *, spec: OrgSpec, account_id: str, regions: list[str]) -> None:
        super().__init__(scope, id)
        assert spec.service_catalog is not None
        trust = iam_catalog.launch_role_trust()
        self.roles: dict[str, IamRole] = {}
        for pkey in sorted(spec.service_catalog.portfolios):
            address = naming.construct_id("catalog_launch", pkey)
            former = naming.former_portfolio(spec, pkey)
            was = naming.construct_id("catalog_launch", former) if former else None
            role = named(
                IamRole(
                    self,
                    f"role_{pkey}",
                    name=naming.catalog_launch_role(spec, pkey),
                    description=f"Service Catalog launch role of the {naming.portfolio_label(spec, pkey)} portfolio in "
                    "this account.",
                    assume_role_policy=trust,
                    max_session_duration=3600,
                ),
                address,
                was=was,
            )
            named(
                IamRolePolicy(
                    self,
                    f"policy_{pkey}",
                    name="provision-products",
                    role=ref(role, "id"),
                    policy=iam_catalog.launch_role_policy(spec, account_id, regions, pkey),
                ),
                address,
                was=was,
            )
            self.roles[pkey] = role
        self.boundary = named(
            IamPolicy(
                self,
                "boundary",
                name=naming.product_boundary(spec),
                description="Permissions boundary of every role a Service Catalog product creates in this account.",
                policy=iam_catalog.boundary_policy(spec, account_id, regions),
            ),
            "catalog_product_boundary",
        )


__all__ = [
    "CatalogHub",
    "CatalogLaunchRole",
    "CatalogView",
    "catalog_view",
    "ou_arn",
]
