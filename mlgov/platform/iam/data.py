"""Documents of the data account (:mod:`mlgov.modules.data`): the role Lake Formation reads the
registered locations with, and the role Feature Store writes the offline store with.

The keys' ARNs are Terraform references (a key's id is random): the documents take them as arguments.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mlgov.platform import naming, policy
from mlgov.platform.iam import actions
from mlgov.spec.model import OrgSpec

LAKE_ADMIN_ACTIONS = ("s3:DeleteObject", "s3:GetObject", "s3:ListBucket", "s3:PutObject")
OFFLINE_STORE_ACTIONS = ("s3:GetBucketAcl", "s3:GetObject", "s3:PutObject")


def lake_access_statements(buckets: Sequence[str], key_arns: Sequence[str]) -> list[dict[str, Any]]:
    """Lake Formation's role: read and write the registered ``buckets`` under their keys."""
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
