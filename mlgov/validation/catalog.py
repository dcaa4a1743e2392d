"""Semantic checks of ``service_catalog``: references, versions, templates and parameters."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator

import yaml

from mlgov.platform import guardrails, naming
from mlgov.platform.catalog import (
    persona_pattern,
    persona_patterns,
    view_model,
)
from mlgov.platform.templates import (
    known_templates,
    released_path,
    released_target,
    render_template,
    template_path,
)
from mlgov.spec.catalog import Persona
from mlgov.spec.model import Layer, OrgSpec

Finding = tuple[tuple, str]

# Studio user-profile templates, and those that set the single sign-on user AWS requires of every
# profile in an SSO domain (SingleSignOnUserIdentifier/Value of AWS::SageMaker::UserProfile).
PROFILE_TEMPLATES = frozenset({"studio-user-profile", "studio-user-profile-v2", "studio-user-profile-v3"})
SSO_PROFILE_TEMPLATES = frozenset({"studio-user-profile-v3"})


def catalog_problems(spec: OrgSpec) -> Iterator[Finding]:
    """Findings for the Service Catalog part of the spec (nothing when it is absent)."""
    catalog = spec.service_catalog
    if catalog is None:
        return
    ous = spec.organization.organizational_units
    known = known_templates(spec)
    display: dict[str, tuple[str, ...]] = {}
    for pkey, portfolio in sorted(catalog.portfolios.items()):
        ppath = ("service_catalog", "portfolios", pkey)
        for i, ou in enumerate(portfolio.share_with_ous):
            if ou not in ous:
                yield ppath + ("share_with_ous", i), f"unknown OU (got {ou!r}, expected one of {sorted(ous)})"
        if portfolio.display_name in display:
            yield (
                ppath + ("display_name",),
                (
                    f"duplicate portfolio name (got {portfolio.display_name!r}, already used by "
                    f"{'.'.join(display[portfolio.display_name])})"
                ),
            )
        display.setdefault(portfolio.display_name, ppath)
        for key, product in sorted(portfolio.products.items()):
            path = ppath + ("products", key)
            templates: list[tuple[tuple[str | int, ...], str]] = [(path + ("template",), product.template)]
            seen: set[str] = set()
            for i, version in enumerate(product.versions):
                file = naming.product_template_key(spec, pkey, key, version.name)
                if version.frozen and released_path(spec, file) is None:
                    yield (
                        path + ("versions", i, "frozen"),
                        f"no released copy of this version (got none at {released_target(spec, file)} beside "
                        f"the spec, expected a copy of generated/{file})",
                    )
                if version.name in seen:
                    yield (
                        path + ("versions", i, "name"),
                        f"duplicate version name (got {version.name!r}); versions are immutable, add a new name",
                    )
                seen.add(version.name)
                if version.template is not None:
                    templates.append((path + ("versions", i, "template"), version.template))
            for tpath, name in templates:
                if template_path(spec, name) is None:
                    yield tpath, f"unknown template (got {name!r}, expected one of {known})"
            yield from _parameters(spec, pkey, key, path)
    yield from _sso_profiles(spec)


def _sso_profiles(spec: OrgSpec) -> Iterator[Finding]:
    """With a domain product defaulting to ``AuthMode: SSO``, the version users pick (the last)
    of every live user-profile product must set the single sign-on user: released versions
    never change, so the remedy is a new version on an SSO-capable template."""
    catalog = spec.service_catalog
    assert catalog is not None
    live = [
        (pkey, key, product)
        for pkey, portfolio in sorted(catalog.portfolios.items())
        for key, product in sorted(portfolio.products.items())
        if not product.retired
    ]
    sso = [f"{p}/{k}" for p, k, product in live if product.parameters.get("AuthMode") == "SSO"]
    if not sso:
        return
    for pkey, key, product in live:
        last = product.versions[-1]
        template = last.template or product.template
        if template in PROFILE_TEMPLATES and template not in SSO_PROFILE_TEMPLATES:
            yield (
                ("service_catalog", "portfolios", pkey, "products", key, "versions", len(product.versions) - 1),
                f"{sso[0]} makes SSO domains, but version {last.name!r} renders {template!r}, which does not set "
                f"the profile's single sign-on user (expected a new last version with template: "
                f"{sorted(SSO_PROFILE_TEMPLATES)[0]}; released versions stay as they are)",
            )


def persona_pattern_problems(spec: OrgSpec) -> Iterator[Finding]:
    """A portfolio's persona patterns (``<org>-*-<persona>``) must match only roles of the personas
    it names: a pattern cannot tell a team's data scientist from a team named ``<x>-lead``'s, nor
    from a portfolio's launch role named ``...-data-scientist``, and any role it matches may launch.

    Checked against every role name the spec plans (Terraform's and the products') once the
    references are valid, and the ``protect_audit`` SCP that keeps those names to Terraform must
    reach every account the portfolios are shared with and the hub.
    """
    catalog = spec.service_catalog
    if catalog is None:
        if guardrails.trusts_team_roles_by_name(spec):
            yield from _protected(spec)
        return
    owners: dict[str, set[Persona]] = {}  # role name -> the personas whose role it is
    for persona in Persona:
        for team in spec.teams:
            owners.setdefault(naming.team_role(spec, team, persona.value), set()).add(persona)
        owners.setdefault(naming.product_role(spec, persona.value), set()).add(persona)  # v1 products' personas
    roles: dict[str, tuple] = {}
    for planned in naming.planned_names(spec):
        if planned.kind is naming.Kind.IAM_ROLE:
            roles.setdefault(planned.name, planned.spec_path)
    for pkey, portfolio in sorted(catalog.portfolios.items()):
        ppath = ("service_catalog", "portfolios", pkey)
        named = set(portfolio.personas)
        for persona in sorted(named, key=lambda p: p.value):
            pattern = persona_pattern(spec, persona)
            for other in sorted(set(Persona) - named, key=lambda p: p.value):
                if fnmatch.fnmatchcase(naming.team_role(spec, "team", other.value), pattern):
                    yield (
                        ppath + ("personas",),
                        f"persona {persona.value!r} without {other.value!r} (got {sorted(p.value for p in named)}; "
                        f"its pattern {pattern} matches every team's {other.value} role too, expected both)",
                    )
                    named.add(other)
        for name, path in sorted(roles.items()):
            for persona in sorted(set(portfolio.personas), key=lambda p: p.value):
                pattern = persona_pattern(spec, persona)
                owned = owners.get(name, set())
                if fnmatch.fnmatchcase(name, pattern) and not (owned and owned <= named):
                    what = "/".join(sorted(p.value for p in owned)) or "no persona's"
                    yield (
                        path,
                        f"derived role name {name!r} ({what} role) matches {pattern}, the principal pattern of "
                        f"portfolio {pkey!r}, so it could launch that portfolio's products; rename what it derives "
                        f"from so that it does not end in '-{persona.value}'",
                    )
    if persona_patterns(spec) or guardrails.trusts_team_roles_by_name(spec):
        yield from _protected(spec)


def _protected(spec: OrgSpec) -> Iterator[Finding]:
    """The SCP statement that keeps role names trusted by pattern to Terraform must be on (attached
    to the OU, an ancestor or the root) over the hub and every OU a portfolio with personas is
    shared with, and, where the hub's and stage accounts' resource policies admit teams' roles by
    name from any account of the organization, over every OU that holds an account of the spec
    (the management account is outside every SCP)."""
    setting = spec.management.guardrails.protect_audit
    path = ("management", "guardrails", "protect_audit")
    ous = spec.organization.organizational_units
    reached: set[str] = set()
    reasons = []
    if spec.service_catalog is not None and persona_patterns(spec):
        reasons.append("portfolios open to persona patterns")
        reached |= {
            ou for p in spec.service_catalog.portfolios.values() if p.personas for ou in p.share_with_ous if ou in ous
        }
        reached.add(spec.accounts[spec.hub].ou)
    if guardrails.trusts_team_roles_by_name(spec):
        reasons.append("resource policies admit teams' roles by name from any account of the organization")
        reached |= {a.ou for a in spec.accounts.values() if a.layer is not Layer.management and a.ou in ous}
    why = "its DenyPersonaRoleNamesButTerraform statement keeps those role names to Terraform"
    if not setting.enabled:
        yield path + ("enabled",), f"protect_audit is off while {' and '.join(reasons)} ({why}); enable it"
        return
    targets = set(setting.targets) if setting.targets is not None else {guardrails.ROOT}
    for ou in sorted(reached):
        if not guardrails.reaches(spec, targets, ou):
            yield (
                path + ("targets",),
                f"protect_audit does not reach OU {ou!r} (got targets {sorted(targets)}; {why}), expected `root`, "
                f"{ou!r} or a parent of it",
            )


def _parameters(spec: OrgSpec, portfolio: str, product: str, path: tuple) -> Iterator[Finding]:
    """Every spec parameter default must name a parameter of each version's template."""
    catalog = spec.service_catalog
    assert catalog is not None  # only called for a spec with a catalog
    pf = catalog.portfolios[portfolio]
    prod = pf.products[product]
    if not prod.parameters:
        return
    reported: set[str] = set()
    for version in prod.versions:
        name = version.template or prod.template
        if template_path(spec, name) is None:
            continue
        try:
            text = render_template(name, view_model(spec, portfolio, pf, product, prod, version), spec)
        except (KeyError, IndexError):
            return  # references elsewhere in the spec are broken; their own checks report them
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available
        declared = set((yaml.load(text, Loader=loader) or {}).get("Parameters", {}))  # noqa: S506 - a safe loader
        for param in sorted(prod.parameters):
            if param not in declared and param not in reported:
                reported.add(param)
                yield (
                    path + ("parameters", param),
                    (
                        f"template {name!r} of version {version.name!r} has no such parameter (got {param!r}, "
                        f"expected one of {sorted(declared)})"
                    ),
                )
