"""Dev side of governed data access (one team's dev account, its primary region).

Reads ``data`` (what the team may read, through :mod:`mlgov.platform.data`), the data account's
id and region, and the account's platform bucket and key. Creates:

- ``aws_athena_workgroup.team``: ``<org>-<team>-data`` with its configuration ENFORCED (a query
  cannot pick another results location or turn encryption off): results SSE-KMS with the
  platform key under ``athena-results/<team>/`` of the platform bucket; always, as are
- SSM parameters ``/<org>/data/athena-workgroup`` and ``/<org>/data/training-source`` (the team's
  first shared table as ``glue:<database>.<table>``, its feature group as ``feature-group:<name>``,
  or ``none``), which the model build product reads;

and when something is shared with the team:

- ``aws_lakeformation_data_lake_settings.this``: the Terraform role administers Lake Formation here
  (the account's own new Glue objects keep AWS's IAM-only default);
- one resource link per shared database (``aws_glue_catalog_database.<db>``, same name, pointing at
  the data account's catalog);
- the in-account grants: the data account granted the tables to this ACCOUNT (with the grant
  option); here the account passes exactly those to the team's reader roles (data scientist,
  lead data scientist, SageMaker execution): DESCRIBE on each resource link and shared database,
  SELECT (+DESCRIBE) on each shared table or only its granted columns.

The IAM side of those roles (Glue read on exactly these objects, ``lakeformation:GetDataAccess``,
Athena on the workgroup, the results prefix and key) is :func:`mlgov.platform.iam.data.data_statements`,
which :class:`mlgov.modules.governance_dev.DevGovernance` puts into the roles' policies.
"""

from __future__ import annotations

from collections.abc import Mapping

from cdktf import TerraformResource
from cdktf_cdktf_provider_aws.athena_workgroup import (
    AthenaWorkgroup,
    AthenaWorkgroupConfiguration,
    AthenaWorkgroupConfigurationResultConfiguration,
    AthenaWorkgroupConfigurationResultConfigurationEncryptionConfiguration,
)
from cdktf_cdktf_provider_aws.glue_catalog_database import GlueCatalogDatabase, GlueCatalogDatabaseTargetDatabase
from cdktf_cdktf_provider_aws.lakeformation_permissions import (
    LakeformationPermissions,
    LakeformationPermissionsDatabase,
    LakeformationPermissionsTable,
    LakeformationPermissionsTableWithColumns,
)
from cdktf_cdktf_provider_aws.ssm_parameter import SsmParameter
from constructs import Construct

from mlgov.modules.blocks import named, ref
from mlgov.modules.data import lake_settings
from mlgov.platform import data as facts
from mlgov.platform import naming
from mlgov.platform import tags as tags_of
from mlgov.platform.iam import arns
from mlgov.platform.naming import construct_id
from mlgov.spec.model import OrgSpec


class DevDataAccess(Construct):
    """Athena workgroup, parameters, resource links and in-account grants of one team."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        spec: OrgSpec,
        team: str,
        account_key: str,
        region: str,
        platform_bucket: str,
        platform_key_arn: str,
        readers: Mapping[str, TerraformResource],
    ) -> None:
        super().__init__(scope, id)
        # AWS keeps the name a renamed team was created with (renamed_from).
        label = naming.team_label(spec, team)
        tags = tags_of.team_tags(spec, team)
        workgroup = named(
            AthenaWorkgroup(
                self,
                "workgroup",
                name=naming.athena_workgroup(spec, team),
                description=f"Team {label}: queries of the data shared with the team",
                force_destroy=False,
                configuration=AthenaWorkgroupConfiguration(
                    enforce_workgroup_configuration=True,
                    publish_cloudwatch_metrics_enabled=True,
                    result_configuration=AthenaWorkgroupConfigurationResultConfiguration(
                        output_location=f"s3://{platform_bucket}/{naming.athena_results_prefix(label)}",
                        encryption_configuration=AthenaWorkgroupConfigurationResultConfigurationEncryptionConfiguration(
                            encryption_option="SSE_KMS", kms_key_arn=platform_key_arn
                        ),
                    ),
                ),
                tags=tags,
            ),
            "team",
        )
        for parts, value in (
            (("data", "athena-workgroup"), ref(workgroup, "name")),
            (("data", "training-source"), facts.training_source(spec, team)),
        ):
            named(
                SsmParameter(
                    self,
                    f"param_{construct_id(*parts)}",
                    name=naming.ssm_parameter(spec, *parts),
                    type="String",
                    value=value,
                    description=naming.PARAMETERS[parts],
                    tags=tags,
                ),
                construct_id(*parts),
            )

        tables = facts.shared_tables(spec, team)
        data_key = naming.data_account(spec)
        if not tables or data_key is None:
            return
        data_id = spec.accounts[data_key].id
        settings = lake_settings(self, spec, account_key, iam_default=True)
        links = {}
        for database in facts.shared_databases(spec, team):
            links[database] = named(
                GlueCatalogDatabase(
                    self,
                    construct_id("link", database),
                    name=naming.resource_link(database),
                    description=f"Resource link to {database} in the data account",
                    target_database=GlueCatalogDatabaseTargetDatabase(
                        catalog_id=data_id, database_name=database, region=naming.data_region(spec)
                    ),
                ),
                naming.resource_link(database),
            )
        account_id = spec.accounts[account_key].id
        for persona, reader in sorted(readers.items()):
            # The role's ARN as IAM spells it (known from its name; Lake Formation checks its form
            # at plan time), and a dependency on the role: a grant needs its principal to exist.
            principal = arns.role(account_id, naming.team_role(spec, team, facts.READER_ROLES[persona]))
            after = [settings, reader]
            for database, link in sorted(links.items()):
                self._grant(
                    facts.reader_link_address(persona, database),
                    principal,
                    facts.DATABASE_PERMISSIONS,
                    after,
                    database=LakeformationPermissionsDatabase(name=ref(link, "name")),
                )
                self._grant(
                    facts.reader_database_address(persona, database),
                    principal,
                    facts.DATABASE_PERMISSIONS,
                    after,
                    database=LakeformationPermissionsDatabase(catalog_id=data_id, name=database),
                )
            for table in tables:
                address = facts.reader_table_address(persona, table)
                if table.columns:
                    self._grant(
                        address,
                        principal,
                        facts.COLUMN_PERMISSIONS,
                        after,
                        table_with_columns=LakeformationPermissionsTableWithColumns(
                            catalog_id=data_id,
                            database_name=table.database,
                            name=table.table,
                            column_names=list(table.columns),
                        ),
                    )
                elif table.wildcard:
                    self._grant(
                        address,
                        principal,
                        facts.TABLE_PERMISSIONS,
                        after,
                        table=LakeformationPermissionsTable(
                            catalog_id=data_id, database_name=table.database, wildcard=True
                        ),
                    )
                else:
                    self._grant(
                        address,
                        principal,
                        facts.TABLE_PERMISSIONS,
                        after,
                        table=LakeformationPermissionsTable(
                            catalog_id=data_id, database_name=table.database, name=table.table
                        ),
                    )

    def _grant(self, address: str, principal: str, permissions, depends_on, **resource) -> None:
        named(
            LakeformationPermissions(
                self,
                f"grant_{address}",
                principal=principal,
                permissions=list(permissions),
                depends_on=depends_on,
                **resource,
            ),
            address,
        )
