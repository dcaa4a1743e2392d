"""Facts of governed data access, derived from ``spec.data`` (no cdktf).

What each team may read, resolved to tables: a database grant covers its tables, an LF-tag
expression covers every table whose tags (the database's, overridden by the table's own)
match it, a feature group grant covers its offline store's table. The data stack grants these
to the team's dev ACCOUNT, the dev stack re-grants them to the team's ROLES, and the IAM side
of those roles (Glue read on exactly these objects, Athena on the team's workgroup) is built
from these facts (:mod:`mlgov.platform.iam.data`), so the three can never disagree.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass

from mlgov.platform import naming
from mlgov.spec.data import DataSettings, Grant
from mlgov.spec.model import OrgSpec

# Hive storage of each table format: (input format, output format, serde, serde parameters).
FORMATS: dict[str, tuple[str, str, str, dict[str, str]]] = {
    "parquet": (
        "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
        "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
        "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
        {},
    ),
    "json": (
        "org.apache.hadoop.mapred.TextInputFormat",
        "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
        "org.openx.data.jsonserde.JsonSerDe",
        {},
    ),
    "csv": (
        "org.apache.hadoop.mapred.TextInputFormat",
        "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
        "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
        {"field.delim": ","},
    ),
}
# Glue types of feature types, and the columns Feature Store adds to every offline store record.
FEATURE_TYPES = {"String": "string", "Integral": "bigint", "Fractional": "double"}
OFFLINE_STORE_COLUMNS = (("write_time", "timestamp"), ("api_invocation_time", "timestamp"), ("is_deleted", "boolean"))

# What a reader gets: Lake Formation's permissions (the data account grants them with the grant
# option, so the dev account's administrator can pass them to the team's roles, and only those).
DATABASE_PERMISSIONS = ("DESCRIBE",)
TABLE_PERMISSIONS = ("DESCRIBE", "SELECT")
COLUMN_PERMISSIONS = ("SELECT",)


@dataclass(frozen=True)
class SharedTable:
    """One table a team reads: where it is in the data catalog and which columns (None: all)."""

    database: str
    table: str
    columns: tuple[str, ...] | None = None
    wildcard: bool = False  # the whole database: every table of it, also those added later


@dataclass(frozen=True)
class TeamGrant:
    """One grant of the spec, resolved."""

    team: str
    index: int
    kind: str  # database | table | columns | lf_tags | feature_group
    database: str
    tables: tuple[SharedTable, ...]
    expression: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def address(self) -> str:
        """Stable Terraform address of the data stack's grant, from what it grants (``__`` joins
        spec names; :func:`mlgov.platform.addresses.data_addresses` refuses collisions)."""
        team = naming.construct_id(self.team)
        if self.kind == "lf_tags":
            digest = hashlib.sha256(json.dumps(self.expression).encode()).hexdigest()[:10]
            return f"{team}__tags_{digest}"
        if self.kind == "database":
            return f"{team}__{self.database}__all_tables"
        table = self.tables[0]
        suffix = "__columns" if self.kind == "columns" else ""
        return f"{team}__{table.database}__{table.table}{suffix}"


def database_grant_address(team: str, database: str) -> str:
    """Address of the data stack's DESCRIBE grant of a database to a team's dev account."""
    return f"{naming.construct_id(team)}__{database}"


def table_address(database: str, table: str) -> str:
    """Address of a Glue table (and its tag assignment) in the data stack."""
    return f"{database}__{table}"


# The roles of a team that read its shared data, by address fragment -> naming.team_role purpose.
READER_ROLES = {
    "data_scientist": "data-scientist",
    "lead_data_scientist": "lead-data-scientist",
    "sagemaker_execution": "sagemaker-execution",
}


def reader_link_address(persona: str, database: str) -> str:
    """Address of a dev stack's grant to one role on its resource link to ``database``."""
    return f"{persona}_link__{database}"


def reader_database_address(persona: str, database: str) -> str:
    """Address of a dev stack's grant to one role on a shared database (in the lake's catalog)."""
    return f"{persona}__{database}"


def reader_table_address(persona: str, table: SharedTable) -> str:
    """Address of a dev stack's grant to one role on a shared table (or all of a database's)."""
    return f"{persona}__{table.database}__{'all_tables' if table.wildcard else table.table}"


def table_tags(data: DataSettings, database: str, table: str) -> dict[str, str]:
    """LF-tags in force on a table: the database's, each overridden by the table's own."""
    db = data.databases[database]
    return {**db.lf_tags, **db.tables[table].lf_tags}


def expression_of(grant: Grant) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """An LF-tag grant's expression in canonical order."""
    return tuple((key, tuple(sorted(set(values)))) for key, values in sorted((grant.lf_tags or {}).items()))


def matching_tables(data: DataSettings, expression: tuple[tuple[str, tuple[str, ...]], ...]) -> list[tuple[str, str]]:
    """(database, table) of every table the expression matches, sorted (Lake Formation's rule:
    every key of the expression has one of its values on the table)."""
    out = []
    for dname, db in sorted(data.databases.items()):
        for tname in sorted(db.tables):
            tags = table_tags(data, dname, tname)
            if all(tags.get(key) in values for key, values in expression):
                out.append((dname, tname))
    return out


def team_grants(spec: OrgSpec, team: str) -> list[TeamGrant]:
    """A team's grants, in spec order, each with the tables it covers (validated spec only)."""
    data = spec.data
    if data is None:
        return []
    out = []
    for i, grant in enumerate(data.grants.get(team, [])):
        if grant.feature_group is not None:
            table = SharedTable(naming.feature_store_database(spec), naming.feature_group_table(grant.feature_group))
            out.append(TeamGrant(team, i, "feature_group", table.database, (table,)))
        elif grant.lf_tags is not None:
            expression = expression_of(grant)
            tables = tuple(SharedTable(d, t) for d, t in matching_tables(data, expression))
            out.append(TeamGrant(team, i, "lf_tags", "", tables, expression))
        elif grant.database is not None and grant.table is None:
            tables = tuple(SharedTable(grant.database, t) for t in sorted(data.databases[grant.database].tables))
            out.append(
                TeamGrant(team, i, "database", grant.database, (SharedTable(grant.database, "", wildcard=True),))
                if not tables
                else TeamGrant(team, i, "database", grant.database, tables)
            )
        elif grant.database is not None and grant.table is not None:
            columns = tuple(grant.columns) if grant.columns else None
            kind = "columns" if columns else "table"
            out.append(TeamGrant(team, i, kind, grant.database, (SharedTable(grant.database, grant.table, columns),)))
    return out


def shared_tables(spec: OrgSpec, team: str) -> list[SharedTable]:
    """Every table a team reads, once each (a table reached by several grants gets the union of
    their columns; a grant of all columns wins), sorted. A database grant's wildcard is kept."""
    merged: dict[tuple[str, str, bool], tuple[str, ...] | None] = {}
    for grant in team_grants(spec, team):
        for t in grant.tables:
            key = (t.database, t.table, t.wildcard)
            if key in merged:
                before = merged[key]
                merged[key] = None if before is None or t.columns is None else tuple(sorted({*before, *t.columns}))
            else:
                merged[key] = t.columns
    return [SharedTable(d, t, cols, w) for (d, t, w), cols in sorted(merged.items())]


def shared_databases(spec: OrgSpec, team: str) -> list[str]:
    """Databases of the data catalog a team reads from (each gets a resource link), sorted."""
    return sorted({t.database for t in shared_tables(spec, team)})


def training_source(spec: OrgSpec, team: str) -> str:
    """Value of ``/<org>/data/training-source``: the first table or feature group the team's
    grants list (``glue:<resource link>.<table>`` / ``feature-group:<name>``), else ``none``."""
    data = spec.data
    for grant in team_grants(spec, team):
        if grant.kind == "feature_group" and data is not None:
            name = data.grants[team][grant.index].feature_group or ""
            return f"feature-group:{naming.feature_group(spec, name)}"
        for table in grant.tables:
            if not table.wildcard:
                return f"glue:{naming.resource_link(table.database)}.{table.table}"
    return "none"


def granted_teams(spec: OrgSpec) -> list[str]:
    """Teams the data account shares something with, in the order of their AWS names."""
    return naming.by_label(spec, (team for team in spec.teams if team_grants(spec, team)))


def iter_tables(data: DataSettings) -> Iterator[tuple[str, str]]:
    """(database, table) of every table of the lake, sorted."""
    for dname, db in sorted(data.databases.items()):
        for tname in sorted(db.tables):
            yield dname, tname
