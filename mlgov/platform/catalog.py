"""Service Catalog products: view models from the spec, rendered templates, immutability.

Every product version renders ``templates/<template>.yaml.j2`` with a view model built here
from the validated spec, into ``generated/products/<portfolio>/<product>/<version>.yaml``.
The hub stack uploads the same text (:func:`product_artifacts`), so what Service Catalog
serves is byte-for-byte what is committed in ``generated/``.

A released version is immutable: :func:`released_changes` compares a rendered tree with the
output directory and names every version whose bytes would change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlgov.platform import naming, pipeline
from mlgov.platform.templates import render_template
from mlgov.spec.catalog import Persona, Portfolio, Product, ProductVersion
from mlgov.spec.model import Layer, OrgSpec

PRODUCTS_DIR = "products"

# Cost tags every product takes as parameters: (parameter name, tag key, CostTags field).
COST_TAGS = (
    ("Environment", "environment", "environment"),
    ("FinanceOwner", "finance-owner", "finance_owner"),
    ("BusinessUnit", "business-unit", "business_unit"),
    ("CostCenter", "cost-center", "cost_center"),
)

# Defaults of template parameters when the spec gives none (`parameters:` overrides them).
BASE_DEFAULTS = {
    "AuthMode": "IAM",
    "ProcessingInstanceType": "ml.m5.xlarge",
    "TrainingInstanceType": "ml.m5.xlarge",
    "EndpointInstanceType": "ml.m5.large",
    "MinimumAuc": "0.7",
}


@dataclass(frozen=True)
class ProductArtifact:
    """One rendered product version, as the hub stack and generated/ both need it."""

    portfolio: str
    product: str
    version: str
    key: str
    text: str


def persona_role(spec: OrgSpec, persona: Persona) -> str:
    """Fixed name of a persona's role, which the domain product creates once per dev account."""
    return naming.product_role(spec, persona.value)


def team_stages(spec: OrgSpec) -> list[dict[str, str]]:
    """Per dev account: the team and its first test and prod accounts, for deploy defaults."""
    rows = []
    for name, team in sorted(spec.teams.items()):
        first: dict[Layer, str] = {}
        for stage in team.stages:
            layer = spec.accounts[stage.account].layer
            first.setdefault(layer, spec.accounts[stage.account].id)
        rows.append(
            {
                "dev_account_id": spec.accounts[team.dev_account].id,
                "team": name,
                "test_account_id": first.get(Layer.test, ""),
                "prod_account_id": first.get(Layer.prod, ""),
            }
        )
    return sorted(rows, key=lambda r: r["dev_account_id"])


def pipeline_definition_v1(spec: OrgSpec) -> str:
    """The v1 model-build pipeline: runs as the account's fixed model build role, no VPC, and
    registers into the project's own group with a status the starter may override (frozen)."""
    role = f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/{naming.product_role(spec, 'model-build')}"
    return pipeline.definition(
        pipeline.BuildPipeline(
            role_arn=role, key_arn="${KmsKey.Arn}", bucket="s3://${ArtifactBucket}", group="${SageMakerProjectName}"
        )
    )


def view_model(
    spec: OrgSpec, portfolio_key: str, portfolio: Portfolio, product_key: str, product: Product, version: ProductVersion
) -> dict[str, Any]:
    """Everything a product template may print; templates only loop and branch over it."""
    catalog = spec.service_catalog
    assert catalog is not None
    defaults = dict(BASE_DEFAULTS)
    defaults.update(product.parameters)
    cost = catalog.cost_tags
    summary = f"{product.display_name} {version.name} (mlgov {portfolio_key}/{product_key})"
    if product.description:
        summary += f": {product.description}"
    return {
        "description": summary[:1024],
        "version": version.name,
        "org": spec.organization.name,
        # Fixed role names (see naming.PRODUCT_ROLES); keys with "_" so templates write roles.model_build.
        "roles": {purpose.replace("-", "_"): name for purpose, name in naming.product_roles(spec).items()},
        "persona_role": {p.name: persona_role(spec, p) for p in Persona},
        "studio_policy": naming.product_studio_policy(spec),
        "projects_function": naming.product_projects_function(spec),
        "hub_account_id": spec.accounts[spec.hub].id,
        "org_id": spec.organization.id,
        "cost_tags": [
            {"parameter": param, "key": key, "default": getattr(cost, field)} for param, key, field in COST_TAGS
        ],
        "defaults": defaults,
        "team_stages": team_stages(spec),
        "pipeline_definition": pipeline_definition_v1(spec),
    }


def product_artifacts(spec: OrgSpec) -> list[ProductArtifact]:
    """Every product version of the spec, rendered, sorted by key."""
    catalog = spec.service_catalog
    if catalog is None:
        return []
    out = []
    for pkey, portfolio in sorted(catalog.portfolios.items()):
        for key, product in sorted(portfolio.products.items()):
            for version in product.versions:
                text = render_template(
                    version.template or product.template, view_model(spec, pkey, portfolio, key, product, version)
                )
                out.append(
                    ProductArtifact(pkey, key, version.name, naming.catalog_template_key(pkey, key, version.name), text)
                )
    return sorted(out, key=lambda a: a.key)


def render_products(spec: OrgSpec) -> dict[str, bytes]:
    """The extra renderer for generated/: ``products/<portfolio>/<product>/<version>.yaml``."""
    return {a.key: a.text.encode("utf-8") for a in product_artifacts(spec)}


def released_changes(tree: dict[str, bytes], current: dict[str, bytes]) -> list[str]:
    """Messages for product versions already in ``current`` that ``tree`` would change.

    Removing a version is allowed (it retires the provisioning artifact); changing one is not,
    because users who provisioned it would silently get different infrastructure on update.
    """
    problems = []
    for rel in sorted(set(tree) & set(current)):
        if rel.startswith(f"{PRODUCTS_DIR}/") and tree[rel] != current[rel]:
            _, portfolio, product, file = rel.split("/")
            version = file.removesuffix(".yaml")
            problems.append(
                f"{rel}: released version {version!r} of product {portfolio}/{product} would change; "
                f"versions are immutable: add a new version name to "
                f"service_catalog.portfolios.{portfolio}.products.{product}.versions (and pin {version!r} "
                f"to a frozen copy of its template with `template:`)"
            )
    return problems
