"""Semantic checks of ``accounts.<key>.source`` (where model-build repositories live).

- only dev accounts declare a source (the connection serves the team's model-build projects);
- when a product version builds from a repository (its template is one of
  :data:`mlgov.platform.catalog.SOURCE_TEMPLATES`), every team's dev account declares one: the
  product reads the connection's SSM parameter at launch, so an account without it could not
  launch the product at all.
"""

from __future__ import annotations

from collections.abc import Iterator

from mlgov.platform.catalog import SOURCE_TEMPLATES
from mlgov.spec.model import Layer, OrgSpec

Finding = tuple[tuple, str]


def _source_products(spec: OrgSpec) -> list[str]:
    """``portfolio/product@version (template ...)`` of every live product version that builds from a repository."""
    catalog = spec.service_catalog
    if catalog is None:
        return []
    return [
        f"{pkey}/{key}@{version.name} (template {version.template or product.template})"
        for pkey, portfolio in sorted(catalog.portfolios.items())
        for key, product in sorted(portfolio.products.items())
        if not product.retired
        for version in product.versions
        if (version.template or product.template) in SOURCE_TEMPLATES
    ]


def repository_problems(spec: OrgSpec) -> Iterator[Finding]:
    """Every source finding, in account order."""
    for key, account in sorted(spec.accounts.items()):
        if account.source is not None and account.layer != Layer.dev:
            yield (
                ("accounts", key, "source"),
                f"only dev accounts keep model-build repositories (got a source on a {account.layer.value!r} account)",
            )
    needing = _source_products(spec)
    if not needing:
        return
    for team_key, team in sorted(spec.teams.items()):
        dev = spec.accounts.get(team.dev_account)
        if dev is None or dev.layer != Layer.dev or dev.source is not None:
            continue
        yield (
            ("accounts", team.dev_account),
            f"team {team_key}'s dev account has no source, but {needing[0]} builds from a repository "
            "(expected source: {provider: GitHub|GitLab|Bitbucket, owner: <organization>})",
        )
