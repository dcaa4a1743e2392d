"""Semantic checks of ``data``: references, grants that can never match, AWS's name limits.

Limits (Glue and Lake Formation API references): database, table and column names 1-255
characters; an LF-tag key 1-128 characters, a value up to 256; a feature group at most 2500
features. The values per LF-tag, an adjustable quota, is checked with the others in
:mod:`mlgov.validation.quotas`.
"""

from __future__ import annotations

from collections.abc import Iterator

from mlgov.platform import data as facts
from mlgov.platform import naming
from mlgov.spec.model import Layer, OrgSpec

GLUE_NAME_LIMIT = 255
LF_TAG_KEY_LIMIT = 128
LF_TAG_VALUE_LIMIT = 256
FEATURES_LIMIT = 2500

Finding = tuple[tuple, str]


def data_problems(spec: OrgSpec) -> Iterator[Finding]:
    """Semantic checks of the data account and the data section, as ``(spec path, message)``."""
    accounts = spec.keys_in_layer(Layer.data)
    if len(accounts) > 1:
        yield ("accounts",), f"expected at most one account with layer 'data' (got {len(accounts)}: {accounts})"
        return
    data = spec.data
    if data is None:
        return
    if not accounts:
        yield ("data",), "a data section needs an account with layer 'data' to own the lake (got none)"
        return
    yield from _names(spec)
    yield from _tags(spec)
    yield from _feature_store(spec)
    yield from _grants(spec, accounts[0])


def _glue_name(path: tuple, what: str, name: str) -> Iterator[Finding]:
    if len(name) > GLUE_NAME_LIMIT:
        yield path, f"{what} name is too long for Glue ({len(name)} characters, expected at most {GLUE_NAME_LIMIT})"


def _names(spec: OrgSpec) -> Iterator[Finding]:
    data = spec.data
    assert data is not None
    reserved = naming.feature_store_database(spec)
    for dname, db in sorted(data.databases.items()):
        dpath = ("data", "databases", dname)
        yield from _glue_name(dpath, "database", dname)
        if data.feature_store is not None and dname == reserved:
            yield dpath, f"database name is taken by the feature store's offline tables (got {dname!r})"
        for tname, table in sorted(db.tables.items()):
            tpath = dpath + ("tables", tname)
            yield from _glue_name(tpath, "table", tname)
            seen: set[str] = set()
            for field in ("columns", "partition_keys"):
                for i, column in enumerate(getattr(table, field)):
                    cpath = tpath + (field, i, "name")
                    yield from _glue_name(cpath, "column", column.name)
                    if column.name in seen:
                        yield cpath, f"duplicate column (got {column.name!r} twice in table {tname!r})"
                    seen.add(column.name)


def _tags(spec: OrgSpec) -> Iterator[Finding]:
    data = spec.data
    assert data is not None
    for key, values in sorted(data.lf_tags.items()):
        path = ("data", "lf_tags", key)
        if len(key) > LF_TAG_KEY_LIMIT:
            yield path, f"LF-tag key is too long ({len(key)} characters, expected at most {LF_TAG_KEY_LIMIT})"
        if not values:
            yield path, "an LF-tag needs at least one value (got none)"
        for i, value in enumerate(values):
            if len(value) > LF_TAG_VALUE_LIMIT:
                yield (
                    path + (i,),
                    f"LF-tag value is too long ({len(value)} characters, expected at most {LF_TAG_VALUE_LIMIT})",
                )
            if value in values[:i]:
                yield path + (i,), f"duplicate LF-tag value (got {value!r} twice)"
    for dname, db in sorted(data.databases.items()):
        dpath = ("data", "databases", dname)
        yield from _assigned(data.lf_tags, dpath, db.lf_tags)
        for tname, table in sorted(db.tables.items()):
            yield from _assigned(data.lf_tags, dpath + ("tables", tname), table.lf_tags)


def _assigned(declared: dict[str, list[str]], path: tuple, tags: dict[str, str]) -> Iterator[Finding]:
    for key, value in sorted(tags.items()):
        if key not in declared:
            yield path + ("lf_tags", key), f"unknown LF-tag (got {key!r}, expected one of {sorted(declared)})"
        elif value not in declared[key]:
            yield (
                path + ("lf_tags", key),
                f"value is not one of the LF-tag's values (got {value!r}, expected one of {declared[key]})",
            )


def _feature_store(spec: OrgSpec) -> Iterator[Finding]:
    store = spec.data.feature_store if spec.data else None
    if store is None:
        return
    for gname, group in sorted(store.feature_groups.items()):
        gpath = ("data", "feature_store", "feature_groups", gname)
        types: dict[str, str] = {}
        for i, feature in enumerate(group.features):
            if feature.name in types:
                yield gpath + ("features", i, "name"), f"duplicate feature (got {feature.name!r} twice)"
            types.setdefault(feature.name, feature.type)
            reserved = {name for name, _ in facts.OFFLINE_STORE_COLUMNS}
            if feature.name.lower() in reserved:
                yield (
                    gpath + ("features", i, "name"),
                    f"feature name is reserved by the offline store (got {feature.name!r}, "
                    f"expected none of {sorted(reserved)})",
                )
        if len(group.features) > FEATURES_LIMIT:
            yield (
                gpath + ("features",),
                f"too many features (got {len(group.features)}, expected at most {FEATURES_LIMIT})",
            )
        for field in ("record_identifier", "event_time"):
            name = getattr(group, field)
            if name not in types:
                yield gpath + (field,), f"unknown feature (got {name!r}, expected one of {sorted(types)})"
        if group.event_time in types and types[group.event_time] not in ("String", "Fractional"):
            yield (
                gpath + ("event_time",),
                f"the event time feature must be String or Fractional (got {types[group.event_time]!r})",
            )


def _grants(spec: OrgSpec, account: str) -> Iterator[Finding]:
    data = spec.data
    assert data is not None
    lake_region = naming.primary_region(spec, account)
    groups = data.feature_store.feature_groups if data.feature_store else {}
    for team, grants in sorted(data.grants.items()):
        tpath = ("data", "grants", team)
        if team not in spec.teams:
            yield tpath, f"unknown team (got {team!r}, expected one of {sorted(spec.teams)})"
            continue
        dev = spec.teams[team].dev_account
        if dev not in spec.accounts or spec.accounts[dev].layer != Layer.dev:
            yield tpath, f"team {team!r} has no dev account to share with (got dev_account {dev!r}, not a dev account)"
            continue
        allowed = set(spec.organization.allowed_regions)
        if set(spec.account_regions(dev)) <= allowed and naming.primary_region(spec, dev) != lake_region:
            yield (
                tpath,
                (
                    f"the dev account of team {team!r} is built in another region than the lake (got "
                    f"{naming.primary_region(spec, dev)!r}, expected {lake_region!r}); the lake shares within its "
                    "region: give both the same primary region"
                ),
            )
        seen: dict[str, int] = {}
        for i, grant in enumerate(grants):
            gpath = tpath + (i,)
            kinds = [k for k in ("database", "lf_tags", "feature_group") if getattr(grant, k) is not None]
            if len(kinds) != 1:
                yield gpath, f"a grant names exactly one of database, lf_tags or feature_group (got {kinds or 'none'})"
                continue
            canonical = repr(
                (grant.database, grant.table, grant.columns, facts.expression_of(grant), grant.feature_group)
            )
            if canonical in seen:
                yield gpath, f"duplicate grant (the same as grant {seen[canonical]})"
            seen.setdefault(canonical, i)
            if grant.feature_group is not None:
                if grant.feature_group not in groups:
                    yield (
                        gpath + ("feature_group",),
                        f"unknown feature group (got {grant.feature_group!r}, expected one of {sorted(groups)})",
                    )
                continue
            if grant.lf_tags is not None:
                yield from _expression(data, gpath, grant.lf_tags)
                if grant.table is not None or grant.columns is not None:
                    yield gpath, "an LF-tag grant takes no table or columns (the expression selects the tables)"
                continue
            yield from _named(data, gpath, grant)


def _expression(data, gpath: tuple, expression: dict[str, list[str]]) -> Iterator[Finding]:
    broken = False
    for key, values in sorted(expression.items()):
        epath = gpath + ("lf_tags", key)
        if key not in data.lf_tags:
            yield epath, f"unknown LF-tag (got {key!r}, expected one of {sorted(data.lf_tags)})"
            broken = True
            continue
        for j, value in enumerate(values):
            if value not in data.lf_tags[key]:
                yield (
                    epath + (j,),
                    f"value is not one of the LF-tag's values (got {value!r}, expected one of {data.lf_tags[key]})",
                )
                broken = True
    if broken:
        return
    canonical = tuple((k, tuple(sorted(set(v)))) for k, v in sorted(expression.items()))
    if not facts.matching_tables(data, canonical):
        wanted = ", ".join(f"{k} in {list(v)}" for k, v in canonical)
        yield gpath + ("lf_tags",), f"the grant can never match: no table carries {wanted} (got no matching table)"


def _named(data, gpath: tuple, grant) -> Iterator[Finding]:
    if grant.database not in data.databases:
        yield (
            gpath + ("database",),
            f"unknown database (got {grant.database!r}, expected one of {sorted(data.databases)})",
        )
        return
    tables = data.databases[grant.database].tables
    if grant.table is None:
        if grant.columns is not None:
            yield gpath + ("columns",), "columns need a table (got columns without `table`)"
        return
    if grant.table not in tables:
        yield (
            gpath + ("table",),
            f"unknown table of database {grant.database!r} (got {grant.table!r}, expected one of {sorted(tables)})",
        )
        return
    table = tables[grant.table]
    known = [c.name for c in table.columns] + [c.name for c in table.partition_keys]
    for j, column in enumerate(grant.columns or []):
        if column not in known:
            yield (
                gpath + ("columns", j),
                f"unknown column of table {grant.database}.{grant.table} (got {column!r}, "
                f"expected one of {sorted(known)})",
            )
