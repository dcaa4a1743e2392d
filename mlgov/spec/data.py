"""Spec of governed data access: the data account's lake, its LF-tags, the feature store, the grants.

``OrgSpec.data`` describes what the account of layer ``data`` owns (Glue databases and tables
in its Lake Formation governed lake, LF-tags and where they are attached, and optionally a
central feature store) and, per team, what the team's dev account may read: a whole database,
one table, some columns of a table, every table an LF-tag expression matches, or the offline
store of a feature group. Nothing is readable by a team the spec does not name.

Names are checked against AWS's limits in :mod:`mlgov.validation.data` (one line per mistake),
so the types here only fix the alphabets.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from mlgov.spec.base import Name, SpecModel, Text

# Glue database, table and column names: Athena and Lake Formation want lower case, digits and
# underscores (Glue lower-cases anything else). Lengths are checked semantically (<= 255).
GlueName = Annotated[str, StringConstraints(strict=True, pattern=r"^[a-z_][a-z0-9_]*$")]
# A Hive column type as Athena writes it: string, bigint, double, timestamp, decimal(10,2), ...
ColumnType = Annotated[
    str,
    StringConstraints(strict=True, pattern=r"^[a-z][a-z0-9_]*(\([0-9, ]+\)|<[a-z0-9_<>,: ]+>)?$", max_length=131072),
]
# LF-tag keys and values (Lake Formation's alphabet; lengths are checked semantically).
LfTagKey = Annotated[str, StringConstraints(strict=True, pattern=r"^[\w.:/=+@-]+$")]
LfTagValue = Annotated[str, StringConstraints(strict=True, pattern=r"^[\w.:/=+@*-]+$")]
# Feature names as SageMaker Feature Store accepts them.
FeatureName = Annotated[str, StringConstraints(strict=True, pattern=r"^[a-zA-Z0-9]([-_]*[a-zA-Z0-9]){0,63}$")]


class Column(SpecModel):
    """One column of a Glue table."""

    name: GlueName = Field(description="Column name (lower case, digits, underscores).")
    type: ColumnType = Field(description="Hive type as Athena reads it: string, bigint, double, timestamp, ...")
    description: Text = Field(default="", description="What the column holds (the Glue column comment).")


class Table(SpecModel):
    """A table of the lake: its schema and where its files are."""

    description: Text = Field(default="", description="What the table holds.")
    columns: list[Column] = Field(min_length=1, description="The table's columns, in order.")
    partition_keys: list[Column] = Field(default_factory=list, description="Partition columns (Hive style).")
    format: Literal["parquet", "json", "csv"] = Field(default="parquet", description="File format of its objects.")
    lf_tags: dict[LfTagKey, LfTagValue] = Field(
        default_factory=dict,
        description="LF-tags attached to the table (each key declared in data.lf_tags); a key here overrides the "
        "database's value for this table.",
    )


class Database(SpecModel):
    """A Glue database of the lake; its objects live under ``s3://<lake bucket>/<database>/``."""

    description: Text = Field(default="", description="What the database holds.")
    tables: dict[GlueName, Table] = Field(default_factory=dict, description="Tables by name.")
    lf_tags: dict[LfTagKey, LfTagValue] = Field(
        default_factory=dict, description="LF-tags attached to the database (its tables inherit them)."
    )


class Grant(SpecModel):
    """What one team may read. Exactly one of ``database``, ``lf_tags`` or ``feature_group``.

    ``database`` alone: every table of it; with ``table``: that table; with ``columns`` too: only
    those columns. ``lf_tags``: every table whose tags match (each key one of its values).
    """

    database: GlueName | None = Field(default=None, description="A database of data.databases.")
    table: GlueName | None = Field(default=None, description="A table of that database (needs `database`).")
    columns: list[GlueName] | None = Field(
        default=None, min_length=1, description="Only these columns of the table (needs `table`)."
    )
    lf_tags: dict[LfTagKey, list[LfTagValue]] | None = Field(
        default=None,
        min_length=1,
        description="LF-tag expression: key -> the values that match; a table matches when every key does.",
    )
    feature_group: Name | None = Field(
        default=None, description="A feature group of data.feature_store: read its offline store."
    )


class Feature(SpecModel):
    """One feature of a feature group."""

    name: FeatureName = Field(description="Feature name.")
    type: Literal["String", "Integral", "Fractional"] = Field(description="String | Integral | Fractional.")


class FeatureGroup(SpecModel):
    """A feature group of the central feature store (offline store only)."""

    description: Text = Field(default="", description="What the features describe.")
    record_identifier: FeatureName = Field(description="The feature that identifies a record.")
    event_time: FeatureName = Field(description="The feature holding the event time (String or Fractional).")
    features: list[Feature] = Field(min_length=1, description="Every feature, identifier and event time included.")


class FeatureStore(SpecModel):
    """The central feature store in the data account."""

    feature_groups: dict[Name, FeatureGroup] = Field(min_length=1, description="Feature groups by name.")


class DataSettings(SpecModel):
    """The data account's lake and who may read what of it."""

    lf_tags: dict[LfTagKey, list[LfTagValue]] = Field(
        default_factory=dict, description="LF-tags the data account defines: key -> its allowed values."
    )
    databases: dict[GlueName, Database] = Field(default_factory=dict, description="Glue databases by name.")
    feature_store: FeatureStore | None = Field(
        default=None, description="The central feature store (offline store bucket, key and feature groups)."
    )
    grants: dict[Name, list[Grant]] = Field(
        default_factory=dict,
        description="Team name -> what the team's dev account may read; the first table or feature group listed is "
        "the team's training source.",
    )
