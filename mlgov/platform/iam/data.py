"""Documents of governed data: in the data account (:mod:`mlgov.modules.data`) the role Lake
Formation reads the registered locations with and the role Feature Store writes the offline
store with; in a team's dev account the data access of its reader roles (:func:`data_statements`).

The keys' ARNs are Terraform references (a key's id is random): the documents take them as arguments.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mlgov.platform import naming, policy
from mlgov.platform.data import shared_databases, shared_tables
from mlgov.platform.iam import actions, arns
from mlgov.spec.model import OrgSpec

LAKE_ADMIN_ACTIONS = ("s3:DeleteObject", "s3:GetObject", "s3:ListBucket", "s3:PutObject")
OFFLINE_STORE_ACTIONS = ("s3:GetBucketAcl", "s3:GetObject", "s3:PutObject")
GLUE_READ_ACTIONS = (
    "glue:BatchGetPartition",
    "glue:GetDatabase",
    "glue:GetDatabases",
    "glue:GetPartition",
    "glue:GetPartitions",
    "glue:GetTable",
    "glue:GetTables",
)
ATHENA_ACTIONS = (
    "athena:GetQueryExecution",
    "athena:GetQueryResults",
    "athena:GetWorkGroup",
    "athena:StartQueryExecution",
    "athena:StopQueryExecution",
)


def lake_access_statements(spec: OrgSpec, key_arns: Sequence[str]) -> list[dict[str, Any]]:
    """Lake Formation's role: read and write the registered locations (the lake bucket and, with a
    feature store, its offline store bucket) under their keys (``key_arns``, Terraform references)."""
    buckets = [naming.lake_bucket(spec)]
    if spec.data is not None and spec.data.feature_store is not None:
        buckets.append(naming.feature_store_bucket(spec))
    return [
        policy.statement(
            "RegisteredLocations", LAKE_ADMIN_ACTIONS, [a for b in buckets for a in policy.bucket_arns(b)]
        ),
        policy.statement("RegisteredLocationKeys", actions.KMS_DECRYPT + actions.KMS_DATA_KEY, key_arns),
    ]


def feature_store_statements(spec: OrgSpec, store_key_arn: str) -> list[dict[str, Any]]:
    """Feature Store's role: the offline store bucket and its key."""
    return [
        policy.statement("OfflineStore", OFFLINE_STORE_ACTIONS, policy.bucket_arns(naming.feature_store_bucket(spec))),
        policy.statement("OfflineStoreKey", actions.KMS_READ + actions.KMS_DATA_KEY, [store_key_arn]),
    ]


def glue_arns(spec: OrgSpec, team: str, dev_account_id: str, region: str) -> list[str]:
    """Exactly the Glue objects a team's roles read: its catalog, resource links and their
    tables in the dev account, and the shared databases and tables in the data account."""
    data_id = spec.accounts[naming.data_account(spec) or ""].id

    def dev(resource: str) -> str:
        return arns.arn("glue", region, dev_account_id, resource)

    def lake(resource: str) -> str:
        return arns.arn("glue", region, data_id, resource)

    found = [dev("catalog"), lake("catalog")]
    for database in shared_databases(spec, team):
        found += [dev(f"database/{naming.resource_link(database)}"), lake(f"database/{database}")]
    for t in shared_tables(spec, team):
        name = "*" if t.wildcard else t.table
        found += [dev(f"table/{naming.resource_link(t.database)}/{name}"), lake(f"table/{t.database}/{name}")]
    return sorted(set(found))


def data_statements(
    spec: OrgSpec, team: str, dev_account_id: str, region: str, platform_bucket: str, platform_key_arn: str
) -> list[dict[str, Any]]:
    """IAM statements of a team's persona and execution roles for its shared data: Athena in the
    team's workgroup with results under its prefix of the platform bucket, and, when something
    is shared, Glue read on exactly the shared objects and Lake Formation's data access."""
    workgroup = arns.arn("athena", region, dev_account_id, f"workgroup/{naming.athena_workgroup(spec, team)}")
    prefix = naming.athena_results_prefix(naming.team_label(spec, team))
    statements = [
        policy.statement("AthenaTeamWorkgroup", ATHENA_ACTIONS, [workgroup]),
        policy.statement(
            "AthenaResults",
            ("s3:AbortMultipartUpload",) + actions.S3_GET + actions.S3_PUT,
            [arns.bucket(f"{platform_bucket}/{prefix}*")],
        ),
        policy.statement(
            "AthenaResultsList",
            actions.S3_LIST,
            [arns.bucket(platform_bucket)],
            conditions={"StringLike": {"s3:prefix": [f"{prefix}*"]}},
        ),
        policy.statement("AthenaResultsBucket", ["s3:GetBucketLocation"], [arns.bucket(platform_bucket)]),
        policy.statement(
            "AthenaResultsKey",
            actions.KMS_DECRYPT + actions.KMS_DATA_KEY,
            [platform_key_arn],
            conditions={"StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"}},
        ),
    ]
    if shared_tables(spec, team):
        statements += [
            policy.statement("ReadSharedCatalog", GLUE_READ_ACTIONS, glue_arns(spec, team, dev_account_id, region)),
            # GetDataAccess has no resource type: Lake Formation's grants decide what it vends.
            policy.statement("LakeFormationDataAccess", ["lakeformation:GetDataAccess"], "*"),
        ]
    return statements
