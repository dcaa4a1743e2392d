"""The Terraform addresses mlgov derives from more than one spec name, or from free text.

A name the spec restricts to ``[a-z0-9-]`` maps to one construct id
(:func:`mlgov.platform.naming.construct_id`) and back; but two names joined (``team`` +
``group``: ``a`` + ``b-c`` and ``a-b`` + ``c`` are both ``a_b_c``) or free text collapsed
(:func:`mlgov.platform.naming.free_text_id`: ``Team``/``team``, ``*sagemaker*``/``sagemaker``)
are not one-to-one, and two resources of one type with one address would crash synthesis
(``named()`` refuses them). Each such family of addresses is listed here, built with the same
helper the construct calls, so validation can refuse a collision with one line before any
synthesis; the property tests check that validate-accepted specs synthesize.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass

from mlgov.platform import data as data_facts
from mlgov.platform import naming
from mlgov.platform import tags as tags_of
from mlgov.spec.model import OrgSpec

# Suffixes of the per-team roles each account kind holds (mlgov/modules/governance_*.py).
HUB_TEAM_ROLES = ("deploy_pipeline", "select_model", "start_deploy")
STAGE_TEAM_ROLES = ("deploy", "endpoint_deployer", "endpoint", "monitoring", "batch")


@dataclass(frozen=True)
class Address:
    """One derived address fragment.

    Attributes:
        spec_path: the spec field it derives from (where a collision is reported).
        scope: the account (or group of accounts) whose stacks hold it.
        family: the resources sharing the address (one namespace: same resource types).
        name: the derived fragment (``<type>.<name>`` for each type of the family).
        source: the spec value(s) it derives from, as the user wrote them.
    """

    spec_path: tuple[str | int, ...]
    scope: str
    family: str
    name: str
    source: str


def catalog_addresses(spec: OrgSpec) -> Iterator[Address]:
    """Service Catalog resources in the hub (mlgov/modules/catalog.py CatalogHub)."""
    catalog = spec.service_catalog
    if catalog is None:
        return
    hub = spec.hub
    for pkey, portfolio in sorted(catalog.portfolios.items()):
        ppath = ("service_catalog", "portfolios", pkey)
        for ou in sorted(set(portfolio.share_with_ous)):
            i = portfolio.share_with_ous.index(ou)
            yield Address(ppath + ("share_with_ous", i), hub, "portfolio share", naming.construct_id(pkey, ou), ou)
        for i, pattern in enumerate(portfolio.role_patterns):
            yield Address(
                ppath + ("role_patterns", i), hub, "portfolio principal", naming.free_text_id(pkey, pattern), pattern
            )
        for i, persona in enumerate(portfolio.personas):
            pattern = naming.persona_role_pattern(spec, persona.value)
            yield Address(
                ppath + ("personas", i), hub, "portfolio principal", naming.free_text_id(pkey, pattern), pattern
            )
        for tag_key in sorted(portfolio.tag_options):
            yield Address(
                ppath + ("tag_options", tag_key),
                hub,
                "portfolio tag option",
                naming.free_text_id(pkey, tag_key),
                tag_key,
            )
        for key, product in sorted(portfolio.products.items()):
            prpath = ppath + ("products", key)
            yield Address(prpath, hub, "product", naming.construct_id(pkey, key), f"{pkey}/{key}")
            for i, version in enumerate(product.versions):
                yield Address(
                    prpath + ("versions", i, "name"),
                    hub,
                    "product version",
                    naming.free_text_id(pkey, key, version.name),
                    f"{pkey}/{key}/{version.name}",
                )


def governance_addresses(spec: OrgSpec) -> Iterator[Address]:
    """Per-team governance resources in the hub and in the stage accounts teams share; for a
    renamed team also the addresses its ``moved`` blocks come from (a ``moved`` source must not
    be another resource's address)."""
    for team_name, team in sorted(spec.teams.items()):
        names: list[tuple[tuple[str | int, ...], str, str]] = [(("teams", team_name), team_name, team_name)]
        if team.renamed_from:
            names.append((("teams", team_name, "renamed_from"), team.renamed_from, f"{team_name} (renamed_from)"))
        stage_accounts = sorted({stage.account for stage in team.stages})
        for tpath, name, shown in names:
            for suffix in HUB_TEAM_ROLES:
                yield Address(tpath, spec.hub, "team role", naming.construct_id(name, suffix), shown)
            for account in stage_accounts:
                for suffix in STAGE_TEAM_ROLES:
                    yield Address(tpath, account, "team role", naming.construct_id(name, suffix), shown)
            for i, group in enumerate(team.governance.model_package_groups):
                gpath = ("teams", team_name, "governance", "model_package_groups", i) if name == team_name else tpath
                yield Address(gpath, spec.hub, "team model group", naming.construct_id(name, group), f"{shown}/{group}")

        # mlgov/modules/monitoring.py: one subscription per contact and one drift alarm per feature,
        # from free text (their team and group parts are covered by the families above).
        mpath = ("teams", team_name, "governance", "monitoring")
        for i, contact in enumerate(team.governance.monitoring.contacts):
            yield Address(
                mpath + ("contacts", i),
                team_name,
                "alarm subscription",
                naming.free_text_id(team_name, "contact", contact),
                contact,
            )
        for group, features in sorted(team.governance.monitoring.drift_features.items()):
            for i, feature in enumerate(features):
                yield Address(
                    mpath + ("drift_features", group, i),
                    f"{team_name}/{group}",
                    "drift alarm",
                    naming.free_text_id(naming.construct_id(team_name, group), f"drift-{feature}"),
                    feature,
                )


def data_addresses(spec: OrgSpec) -> Iterator[Address]:
    """The data stack's LF-tags, tables and grants (spec names joined with ``__``)."""
    data = spec.data
    account = naming.data_account(spec)
    if data is None or account is None:
        return
    for key in sorted(data.lf_tags):
        yield Address(("data", "lf_tags", key), account, "LF-tag", naming.free_text_id(key), key)
    for database, table in data_facts.iter_tables(data):
        path = ("data", "databases", database, "tables", table)
        yield Address(path, account, "Glue table", data_facts.table_address(database, table), f"{database}.{table}")
    for team in sorted(data.grants):
        if team not in spec.teams:
            continue
        for database in data_facts.shared_databases(spec, team):
            address = data_facts.database_grant_address(team, database)
            yield Address(("data", "grants", team), account, "Lake Formation grant", address, f"{team}/{database}")
        for grant in data_facts.team_grants(spec, team):
            source = f"{team}/{grant.kind}/{grant.database}/{[t.table for t in grant.tables]}"
            yield Address(("data", "grants", team, grant.index), account, "Lake Formation grant", grant.address, source)
        if former := spec.teams[team].renamed_from:  # where its moved blocks come from
            renamed = ("teams", team, "renamed_from")
            for database in data_facts.shared_databases(spec, team):
                address = data_facts.database_grant_address(former, database)
                yield Address(renamed, account, "Lake Formation grant", address, f"{team} (renamed_from)/{database}")
            for grant in data_facts.team_grants(spec, team):
                address = dataclasses.replace(grant, team=former).address
                yield Address(renamed, account, "Lake Formation grant", address, f"{team} (renamed_from)/{grant.index}")
        dev = spec.teams[team].dev_account
        for persona in data_facts.READER_ROLES:
            for database in data_facts.shared_databases(spec, team):
                for name in (
                    data_facts.reader_link_address(persona, database),
                    data_facts.reader_database_address(persona, database),
                ):
                    yield Address(("data", "grants", team), dev, "Lake Formation grant", name, database)
            for shared in data_facts.shared_tables(spec, team):
                name = data_facts.reader_table_address(persona, shared)
                yield Address(
                    ("data", "grants", team), dev, "Lake Formation grant", name, f"{shared.database}.{shared.table}"
                )


def cost_allocation_addresses(spec: OrgSpec) -> Iterator[Address]:
    """The management stack's cost allocation tags (mlgov/modules/management.py), one per tag key."""
    if not spec.management.cost_allocation_tags:
        return
    management = spec.organization.management_account
    for key in tags_of.cost_allocation_tag_keys(spec):
        path: tuple[str | int, ...] = ("management", "cost_allocation_tags")
        if key in spec.organization.tags:
            path = ("organization", "tags", key)
        else:
            path = next((("teams", n, "tags", key) for n, t in sorted(spec.teams.items()) if key in t.tags), path)
        yield Address(path, management, "cost allocation tag", naming.free_text_id(key), key)


def derived_addresses(spec: OrgSpec) -> Iterator[Address]:
    """Every address of the families above, for the collision check at validate time."""
    yield from catalog_addresses(spec)
    yield from cost_allocation_addresses(spec)
    yield from governance_addresses(spec)
    yield from data_addresses(spec)


def ou_address(name: str) -> str:
    """Address of an OU the management stack owns (mlgov/modules/guardrails.py OrganizationalUnits)."""
    return f"aws_organizations_organizational_unit.{naming.construct_id(name)}"


def ou_imports(spec: OrgSpec) -> list[dict[str, str]]:
    """Terraform ``import`` blocks adopting every owned OU by its spec id (``management.adopt_ous``)."""
    if not (spec.management.own_ous and spec.management.adopt_ous):
        return []
    units = spec.organization.organizational_units
    return [{"to": ou_address(name), "id": units[name].id} for name in sorted(units)]
