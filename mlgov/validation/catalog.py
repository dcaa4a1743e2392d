"""Semantic checks of ``service_catalog``: references, versions, templates and parameters."""

from __future__ import annotations

from collections.abc import Iterator

import yaml

from mlgov.platform import naming
from mlgov.platform.catalog import view_model
from mlgov.platform.templates import known_templates, released_path, released_target, render_template, template_path
from mlgov.spec.model import OrgSpec

Finding = tuple[tuple, str]


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
