"""Data account layer: the Lake Formation governed lake and what it shares with the dev accounts.

Reads ``data`` (databases, tables, LF-tags, the feature store, grants), ``teams`` (each granted
team's dev account) and ``terraform.role_name``. Creates, in the data account's primary region:

- ``aws_lakeformation_data_lake_settings.this``: the Terraform role is the only administrator and
  new databases and tables get NO default permissions (the IAM-only default is off: nothing is
  readable until a Lake Formation grant says so); cross-account grants use version 4 (RAM);
- the ``lake`` KMS key and bucket (the platform baseline), registered with Lake Formation through
  the named role ``<org>-lake-data-access`` (see :class:`DataLake` for why not the service-linked role);
- every Glue database (``aws_glue_catalog_database.<db>``) and table (``aws_glue_catalog_table.<db>__<table>``)
  with its columns and storage under ``s3://<lake>/<db>/<table>/``;
- the LF-tags (``aws_lakeformation_lf_tag.<key>``) and their assignments (``aws_lakeformation_resource_lf_tags``);
- when ``data.feature_store`` is set: the ``feature-store`` key and offline store bucket (also
  registered), the role Feature Store writes it with, each feature group (offline store only) and its
  Glue table in ``<org>_feature_store``;
- per granted team, the cross-account grants to the team's dev ACCOUNT id (never a role of it, never
  another account): DESCRIBE on each database it reads and SELECT (+DESCRIBE) on the tables, columns,
  LF-tag expression or feature group table of each grant, all with the grant option so the dev
  account's administrator can pass them on to the team's roles (:mod:`mlgov.modules.data_access`).
  Lake Formation shares them through RAM, which the management stack enables for the organization.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from cdktf import TerraformResource
from cdktf_cdktf_provider_aws.glue_catalog_database import GlueCatalogDatabase
from cdktf_cdktf_provider_aws.glue_catalog_table import (
    GlueCatalogTable,
    GlueCatalogTablePartitionKeys,
    GlueCatalogTableStorageDescriptor,
    GlueCatalogTableStorageDescriptorColumns,
    GlueCatalogTableStorageDescriptorSerDeInfo,
)
from cdktf_cdktf_provider_aws.lakeformation_data_lake_settings import LakeformationDataLakeSettings
from cdktf_cdktf_provider_aws.lakeformation_lf_tag import LakeformationLfTag
from cdktf_cdktf_provider_aws.lakeformation_permissions import (
    LakeformationPermissions,
    LakeformationPermissionsDatabase,
    LakeformationPermissionsLfTagPolicy,
    LakeformationPermissionsLfTagPolicyExpression,
    LakeformationPermissionsTable,
    LakeformationPermissionsTableWithColumns,
)
from cdktf_cdktf_provider_aws.lakeformation_resource import LakeformationResource
from cdktf_cdktf_provider_aws.lakeformation_resource_lf_tags import (
    LakeformationResourceLfTags,
    LakeformationResourceLfTagsDatabase,
    LakeformationResourceLfTagsLfTag,
    LakeformationResourceLfTagsTable,
)
from cdktf_cdktf_provider_aws.sagemaker_feature_group import (
    SagemakerFeatureGroup,
    SagemakerFeatureGroupFeatureDefinition,
    SagemakerFeatureGroupOfflineStoreConfig,
    SagemakerFeatureGroupOfflineStoreConfigDataCatalogConfig,
    SagemakerFeatureGroupOfflineStoreConfigS3StorageConfig,
)
from constructs import Construct

from mlgov.modules.base import AccountStack
from mlgov.modules.blocks import PlatformKey, SecureBucket, named, ref
from mlgov.modules.governance_common import role, service_trust
from mlgov.platform import data as facts
from mlgov.platform import naming
from mlgov.platform.iam import data as iam
from mlgov.platform.naming import construct_id
from mlgov.spec.data import Column
from mlgov.spec.model import OrgSpec, StackRef

# Lake Formation's cross-account grant protocol: version 4 shares named resources and LF-tag
# expressions through RAM resource shares (the dev account's administrator accepts them by default
# inside the organization).
CROSS_ACCOUNT_VERSION = "4"


class DataAccountStack(AccountStack):
    """Stack of the data (lake) account."""

    def __init__(self, scope: Construct, id: str, *, spec: OrgSpec, ref: StackRef) -> None:
        super().__init__(scope, id, spec=spec, ref=ref)
        if ref.region == naming.primary_region(spec, ref.account):
            DataLake(self, "lake", spec=spec, account_id=self.account_id, region=ref.region)


def lake_settings(scope: Construct, spec: OrgSpec, account_key: str, *, iam_default: bool) -> TerraformResource:
    """``aws_lakeformation_data_lake_settings.this``: the Terraform role administers Lake Formation.

    ``iam_default`` False: new databases and tables get no permissions at all (the lake); True
    keeps AWS's IAM-only default for the account's own new objects (a dev account, whose products
    may create Glue tables of their own; shared data is governed in the lake's catalog anyway).
    """
    defaults = [{"principal": "IAM_ALLOWED_PRINCIPALS", "permissions": ["ALL"]}] if iam_default else []
    return named(
        LakeformationDataLakeSettings(
            scope,
            "lake_settings",
            admins=[spec.terraform_role_arn(account_key)],
            create_database_default_permissions=defaults,
            create_table_default_permissions=defaults,
            parameters={"CROSS_ACCOUNT_VERSION": CROSS_ACCOUNT_VERSION},
        ),
        "this",
    )


def _columns(columns: list[Column], cls: type) -> list:
    return [cls(name=c.name, type=c.type, comment=c.description or None) for c in columns]


class DataLake(Construct):
    """The lake, its catalog, LF-tags, the feature store and the cross-account grants.

    The registered locations use a NAMED role, not Lake Formation's service-linked role: the
    named role's policy is this stack's, scoped to exactly the lake and feature store buckets and
    their keys, and reviewed with every other policy; the service-linked role is account-wide,
    created outside Terraform, and its fixed policy cannot be narrowed to these buckets.
    """

    def __init__(self, scope: Construct, id: str, *, spec: OrgSpec, account_id: str, region: str) -> None:
        super().__init__(scope, id)
        data = spec.data
        account_key = naming.data_account(spec) or ""
        settings = lake_settings(self, spec, account_key, iam_default=False)
        store = data.feature_store if data else None

        self.lake_key = PlatformKey(
            self,
            "lake_key",
            name="lake",
            account_id=account_id,
            alias=naming.kms_alias(spec, "lake"),
            description="mlgov data lake",
        )
        lake_bucket = naming.lake_bucket(spec)
        self.lake_bucket = SecureBucket(
            self, "lake_bucket", name="lake", bucket_name=lake_bucket, kms_key_arn=self.lake_key.arn
        )
        keys = [self.lake_key.arn]
        if store is not None:
            self.store_key = PlatformKey(
                self,
                "store_key",
                name="feature_store",
                account_id=account_id,
                alias=naming.kms_alias(spec, "feature-store"),
                description="mlgov feature store offline store",
            )
            store_bucket = naming.feature_store_bucket(spec)
            self.store_bucket = SecureBucket(
                self, "store_bucket", name="feature_store", bucket_name=store_bucket, kms_key_arn=self.store_key.arn
            )
            keys.append(self.store_key.arn)

        access = role(
            self,
            "lake_data_access",
            name=naming.lake_access_role(spec),
            trust=service_trust("lakeformation.amazonaws.com", account_id),
            description="Lake Formation reads and writes the registered lake locations for its grantees",
            statements=iam.lake_access_statements(spec, keys),
        )
        locations = {"lake": self.lake_bucket}
        if store is not None:
            locations["feature_store"] = self.store_bucket
        for name, bucket in locations.items():
            named(
                LakeformationResource(
                    self,
                    f"{name}_location",
                    arn=bucket.arn,
                    role_arn=ref(access, "arn"),
                    hybrid_access_enabled=False,
                    depends_on=[settings],
                ),
                name,
            )

        tags = {}
        for key, values in sorted((data.lf_tags if data else {}).items()):
            tags[key] = named(
                LakeformationLfTag(
                    self,
                    construct_id("lf_tag", naming.free_text_id(key)),
                    key=key,
                    values=sorted(values),
                    depends_on=[settings],
                ),
                naming.free_text_id(key),
            )

        self.databases: dict[str, GlueCatalogDatabase] = {}
        # (database, table or None) -> its LF-tag assignment: a tag grant matches only once they exist.
        self.assignments: dict[tuple[str, str | None], TerraformResource] = {}
        self.tables: dict[tuple[str, str], GlueCatalogTable] = {}
        for dname, db in sorted((data.databases if data else {}).items()):
            self.databases[dname] = named(
                GlueCatalogDatabase(
                    self,
                    construct_id("db", dname),
                    name=dname,
                    description=db.description or None,
                    location_uri=f"s3://{lake_bucket}/{dname}/",
                    depends_on=[settings],
                ),
                dname,
            )
            if db.lf_tags:
                self.assignments[(dname, None)] = named(
                    LakeformationResourceLfTags(
                        self,
                        construct_id("db_tags", dname),
                        database=LakeformationResourceLfTagsDatabase(name=ref(self.databases[dname], "name")),
                        lf_tag=[
                            LakeformationResourceLfTagsLfTag(key=k, value=v) for k, v in sorted(db.lf_tags.items())
                        ],
                        depends_on=[tags[k] for k in sorted(db.lf_tags)],
                    ),
                    dname,
                )
            for tname, table in sorted(db.tables.items()):
                fmt = facts.FORMATS[table.format]
                address = facts.table_address(dname, tname)
                self.tables[(dname, tname)] = named(
                    GlueCatalogTable(
                        self,
                        construct_id("table", address),
                        name=tname,
                        database_name=ref(self.databases[dname], "name"),
                        description=table.description or None,
                        table_type="EXTERNAL_TABLE",
                        parameters={"EXTERNAL": "TRUE", "classification": table.format},
                        partition_keys=_columns(table.partition_keys, GlueCatalogTablePartitionKeys) or None,
                        storage_descriptor=GlueCatalogTableStorageDescriptor(
                            location=f"s3://{lake_bucket}/{dname}/{tname}/",
                            input_format=fmt[0],
                            output_format=fmt[1],
                            ser_de_info=GlueCatalogTableStorageDescriptorSerDeInfo(
                                serialization_library=fmt[2], parameters=fmt[3] or None
                            ),
                            columns=_columns(table.columns, GlueCatalogTableStorageDescriptorColumns),
                        ),
                    ),
                    address,
                )
                if table.lf_tags:
                    self.assignments[(dname, tname)] = named(
                        LakeformationResourceLfTags(
                            self,
                            construct_id("table_tags", address),
                            table=LakeformationResourceLfTagsTable(
                                database_name=ref(self.databases[dname], "name"),
                                name=ref(self.tables[(dname, tname)], "name"),
                            ),
                            lf_tag=[
                                LakeformationResourceLfTagsLfTag(key=k, value=v)
                                for k, v in sorted(table.lf_tags.items())
                            ],
                            depends_on=[tags[k] for k in sorted(table.lf_tags)],
                        ),
                        address,
                    )

        self.groups: dict[str, SagemakerFeatureGroup] = {}
        if store is not None:
            self._feature_store(spec, account_id, region, settings)
        self._grants(spec, tags)

    def _feature_store(self, spec: OrgSpec, account_id: str, region: str, settings: TerraformResource) -> None:
        """Feature groups with an offline store only, and their Glue tables (created here, not by
        Feature Store, so the table exists before the grants on it and carries no IAM-only default)."""
        store = spec.data.feature_store if spec.data else None
        if store is None:
            return
        bucket = naming.feature_store_bucket(spec)
        writer = role(
            self,
            "feature_store",
            name=naming.feature_store_role(spec),
            trust=service_trust("sagemaker.amazonaws.com", account_id),
            description="SageMaker Feature Store writes the offline store of the central feature groups",
            statements=iam.feature_store_statements(spec, self.store_key.arn),
        )
        database = named(
            GlueCatalogDatabase(
                self,
                "db_feature_store",
                name=naming.feature_store_database(spec),
                description="Offline stores of the central feature groups",
                location_uri=f"s3://{bucket}/offline-store/",
                depends_on=[settings],
            ),
            naming.feature_store_database(spec),
        )
        self.databases[naming.feature_store_database(spec)] = database
        for gname, group in sorted(store.feature_groups.items()):
            address = construct_id(gname)
            table_name = naming.feature_group_table(gname)
            fg = named(
                SagemakerFeatureGroup(
                    self,
                    construct_id("feature_group", gname),
                    feature_group_name=naming.feature_group(spec, gname),
                    description=group.description or None,
                    record_identifier_feature_name=group.record_identifier,
                    event_time_feature_name=group.event_time,
                    role_arn=ref(writer, "arn"),
                    feature_definition=[
                        SagemakerFeatureGroupFeatureDefinition(feature_name=f.name, feature_type=f.type)
                        for f in group.features
                    ],
                    offline_store_config=SagemakerFeatureGroupOfflineStoreConfig(
                        s3_storage_config=SagemakerFeatureGroupOfflineStoreConfigS3StorageConfig(
                            s3_uri=f"s3://{bucket}/offline-store", kms_key_id=self.store_key.arn
                        ),
                        data_catalog_config=SagemakerFeatureGroupOfflineStoreConfigDataCatalogConfig(
                            catalog="AwsDataCatalog", database=ref(database, "name"), table_name=table_name
                        ),
                        disable_glue_table_creation=True,
                        table_format="Glue",
                    ),
                    depends_on=[settings],
                ),
                address,
            )
            self.groups[gname] = fg
            columns = [{"name": f.name.lower(), "type": facts.FEATURE_TYPES[f.type]} for f in group.features]
            columns += [{"name": n, "type": t} for n, t in facts.OFFLINE_STORE_COLUMNS]
            fmt = facts.FORMATS["parquet"]
            self.tables[(naming.feature_store_database(spec), table_name)] = named(
                GlueCatalogTable(
                    self,
                    construct_id("table_feature_group", gname),
                    name=table_name,
                    database_name=ref(database, "name"),
                    description=f"Offline store of feature group {naming.feature_group(spec, gname)}",
                    table_type="EXTERNAL_TABLE",
                    parameters={"EXTERNAL": "TRUE", "classification": "parquet"},
                    storage_descriptor=GlueCatalogTableStorageDescriptor(
                        location=ref(fg, "offline_store_config[0].s3_storage_config[0].resolved_output_s3_uri"),
                        input_format=fmt[0],
                        output_format=fmt[1],
                        ser_de_info=GlueCatalogTableStorageDescriptorSerDeInfo(serialization_library=fmt[2]),
                        columns=[
                            GlueCatalogTableStorageDescriptorColumns(name=c["name"], type=c["type"]) for c in columns
                        ],
                    ),
                ),
                facts.table_address(naming.feature_store_database(spec), table_name),
            )

    def _grants(self, spec: OrgSpec, tags: Mapping[str, TerraformResource]) -> None:
        """Cross-account grants to each granted team's dev account id, with the grant option."""
        for team in facts.granted_teams(spec):
            principal = spec.accounts[spec.teams[team].dev_account].id
            former = naming.former_team(spec, team)  # a renamed team's grants move to its new addresses
            for database in facts.shared_databases(spec, team):
                if database not in self.databases:
                    continue
                named(
                    LakeformationPermissions(
                        self,
                        f"grant_db_{facts.database_grant_address(team, database)}",
                        principal=principal,
                        permissions=list(facts.DATABASE_PERMISSIONS),
                        permissions_with_grant_option=list(facts.DATABASE_PERMISSIONS),
                        database=LakeformationPermissionsDatabase(name=ref(self.databases[database], "name")),
                    ),
                    facts.database_grant_address(team, database),
                    was=facts.database_grant_address(former, database) if former else None,
                )
            for grant in facts.team_grants(spec, team):
                kwargs: dict = {}
                depends: list = []
                perms: tuple[str, ...]
                if grant.kind == "lf_tags":
                    perms = facts.TABLE_PERMISSIONS
                    kwargs["lf_tag_policy"] = LakeformationPermissionsLfTagPolicy(
                        resource_type="TABLE",
                        expression=[
                            LakeformationPermissionsLfTagPolicyExpression(key=k, values=list(v))
                            for k, v in grant.expression
                        ],
                    )
                    depends = [tags[k] for k, _ in grant.expression]
                    # The tables and their tag assignments must exist for the expression to match them.
                    for t in grant.tables:
                        depends.append(self.tables[(t.database, t.table)])
                        depends += [
                            self.assignments[key]
                            for key in ((t.database, None), (t.database, t.table))
                            if key in self.assignments and self.assignments[key] not in depends
                        ]
                elif grant.kind == "database":
                    perms = facts.TABLE_PERMISSIONS
                    kwargs["table"] = LakeformationPermissionsTable(
                        database_name=ref(self.databases[grant.database], "name"), wildcard=True
                    )
                    depends = [self.tables[(t.database, t.table)] for t in grant.tables if not t.wildcard]
                else:
                    t = grant.tables[0]
                    table = self.tables[(t.database, t.table)]
                    if grant.kind == "columns":
                        perms = facts.COLUMN_PERMISSIONS
                        kwargs["table_with_columns"] = LakeformationPermissionsTableWithColumns(
                            database_name=ref(table, "database_name"),
                            name=ref(table, "name"),
                            column_names=list(t.columns or ()),
                        )
                    else:
                        perms = facts.TABLE_PERMISSIONS
                        kwargs["table"] = LakeformationPermissionsTable(
                            database_name=ref(table, "database_name"), name=ref(table, "name")
                        )
                named(
                    LakeformationPermissions(
                        self,
                        f"grant_{grant.address}",
                        principal=principal,
                        permissions=list(perms),
                        permissions_with_grant_option=list(perms),
                        depends_on=depends or None,
                        **kwargs,
                    ),
                    grant.address,
                    was=dataclasses.replace(grant, team=former).address if former else None,
                )
