"""Spec models for the Service Catalog: portfolios, products and their released versions.

The hub owns the portfolios; each is shared to OUs of the organization and opened to
principals by IAM role-name pattern or by persona. A product names its Jinja template in
``templates/`` and lists its versions; a released version is immutable, so a changed template
ships as a new version name (older versions stay listed and keep their provisioning artifacts).
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated

from pydantic import Field, StrictBool, StringConstraints

from mlgov.spec.base import Name, SpecModel, TagKey, TagValue, Text

VersionName = Annotated[str, StringConstraints(strict=True, pattern=r"^v[0-9]{1,4}(\.[0-9]{1,4}){0,2}$")]
TemplateName = Annotated[str, StringConstraints(strict=True, pattern=r"^[a-z][a-z0-9-]{0,60}[a-z0-9]$")]
# Role-name pattern as IAM_PATTERN principal associations take it (the part after role/).
RolePattern = Annotated[str, StringConstraints(strict=True, pattern=r"^[\w+=,.@*?-]{1,64}$")]
DisplayName = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=100, pattern=r"^[\w .,:()&/+-]+$")]
# CloudFormation parameter names are alphanumeric.
ParameterName = Annotated[str, StringConstraints(strict=True, pattern=r"^[A-Za-z][A-Za-z0-9]{0,254}$")]
ParameterValue = Annotated[str, StringConstraints(strict=True, max_length=4096, pattern=r"^[^\n\r\"\\]*$")]
Email = Annotated[str, StringConstraints(strict=True, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$")]
Url = Annotated[str, StringConstraints(strict=True, max_length=2083, pattern=r"^https://[^\s\"]+$")]


class Persona(str, Enum):
    """Persona roles of a team, owned by the team's dev stack (``<org>-<team>-<persona>``).

    A portfolio that names a persona is opened to that persona's role of every team, by one
    role-name pattern ``<org>-*-<persona>`` (the data scientist's pattern also matches the lead's
    roles, so a portfolio that names data-scientist names lead-data-scientist too)."""

    data_scientist = "data-scientist"
    lead_data_scientist = "lead-data-scientist"


class CostTags(SpecModel):
    """Defaults of the cost-allocation tag parameters every product template takes."""

    environment: TagValue = Field(default="dev", description="Default of the Environment tag parameter.")
    finance_owner: TagValue = Field(description="Default of the FinanceOwner tag parameter (who pays).")
    business_unit: TagValue = Field(
        description="Default of the BusinessUnit tag parameter; a team's `business-unit` tag overrides it in per-team "
        "defaults."
    )
    cost_center: TagValue = Field(description="Default of the CostCenter tag parameter.")


class ProductVersion(SpecModel):
    """One released provisioning artifact of a product."""

    name: VersionName = Field(description="Version name, e.g. v1 or v1.2; immutable once rendered into generated/.")
    description: Text = Field(
        default="", description="What changed in this version (shown to users in Service Catalog)."
    )
    template: TemplateName | None = Field(
        default=None,
        description="Template (templates/<name>.yaml.j2 beside the spec, else mlgov's) this version renders; "
        "default: the product's template. "
        "Pin an older version to a frozen copy before changing the product's template. model-build-v3 needs a "
        "`source` on every team's dev account; with a domain product defaulting to AuthMode SSO, the last version "
        "of a user-profile product must be studio-user-profile-v3 (it sets the single sign-on user).",
    )
    frozen: StrictBool = Field(
        default=False,
        description="Serve this released version byte for byte from its released copy, "
        "released/<org name>/<portfolio>/<product>/<version>.yaml beside the spec (a copy of "
        "generated/products/...), instead of rendering it: spec values it prints (teams, accounts, cost tags) stay "
        "as released. mlgov's own copies serve only its example org (nwa).",
    )


class Product(SpecModel):
    """A CloudFormation product of a portfolio."""

    display_name: DisplayName = Field(description="Product name shown in Service Catalog.")
    description: Text = Field(default="", description="What the product provisions.")
    template: TemplateName = Field(
        description="Template templates/<template>.yaml.j2: beside the spec, else mlgov's own."
    )
    owner: DisplayName = Field(description="Owner shown in Service Catalog.")
    distributor: DisplayName | None = Field(default=None, description="Distributor shown in Service Catalog.")
    support_email: Email | None = Field(default=None, description="Support contact e-mail.")
    support_url: Url | None = Field(default=None, description="Support page (https).")
    support_description: Text = Field(default="", description="How to get support.")
    parameters: dict[ParameterName, ParameterValue] = Field(
        default_factory=dict, description="Defaults for template parameters, by CloudFormation parameter name."
    )
    versions: list[ProductVersion] = Field(
        min_length=1, description="Released versions, oldest first; the last is the one users should pick."
    )
    renamed_from: Name | None = Field(
        default=None,
        description="The product's previous key in this portfolio, when it was renamed: addresses move to the new "
        "key, its template objects and released bytes stay under the old one; see docs/changing-the-platform.md.",
    )
    retired: StrictBool = Field(
        default=False,
        description="Retire the product: it stays in the hub with its released versions (their bytes are kept) "
        "but leaves its portfolio, so nobody can launch it any more. Terminate its provisioned products first.",
    )


class Portfolio(SpecModel):
    """A Service Catalog portfolio in the hub, shared to OUs."""

    display_name: DisplayName = Field(description="Portfolio name shown in Service Catalog.")
    description: Text = Field(default="", description="What the portfolio is for.")
    provider: DisplayName = Field(description="Provider name shown in Service Catalog.")
    share_with_ous: list[Name] = Field(
        default_factory=list,
        description="OUs (keys of organization.organizational_units) the portfolio is shared with.",
    )
    role_patterns: list[RolePattern] = Field(
        default_factory=list,
        description="IAM role-name patterns (IAM_PATTERN principal associations), e.g. *sagemaker*; apply in every "
        "account the portfolio reaches.",
    )
    personas: list[Persona] = Field(
        default_factory=list,
        description="Personas whose roles (one per team, created by the team's dev stack) may launch the products: "
        "one IAM_PATTERN principal <org>-*-<persona> each, whatever the number of teams; data-scientist needs "
        "lead-data-scientist too (its pattern matches the lead's roles).",
    )
    studio_visible: StrictBool = Field(
        default=False,
        description="Tag the products sagemaker:studio-visibility=true so SageMaker Studio lists them as project "
        "templates.",
    )
    tag_options: dict[TagKey, TagValue] = Field(
        default_factory=dict, description="Tag options attached to the portfolio (applied to provisioned products)."
    )
    renamed_from: Name | None = Field(
        default=None,
        description="The portfolio's previous key, when it was renamed: addresses move to the new key, launch roles "
        "and template paths keep the old one; see docs/changing-the-platform.md.",
    )
    products: dict[Name, Product] = Field(min_length=1, description="Products by key (the key names generated/ paths).")


class ServiceCatalog(SpecModel):
    """The platform's Service Catalog: portfolios owned by the hub."""

    cost_tags: CostTags = Field(description="Defaults of the cost tag parameters of every product.")
    portfolios: dict[Name, Portfolio] = Field(default_factory=dict, description="Portfolios by key.")
