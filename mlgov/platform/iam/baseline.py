"""Key and bucket policies of the platform baseline (every PlatformKey and SecureBucket).

A layer adds its own statements (service principals, other accounts) after the baseline's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mlgov.platform import policy
from mlgov.platform.iam import arns


def key_policy(account_id: str, extra_statements: Sequence[dict[str, Any]] = ()) -> str:
    """The account root administers and uses the key (so IAM in that account decides), plus ``extra_statements``."""
    root = {"AWS": arns.account_root(account_id)}
    return policy.document(
        policy.statement("AccountAdministersKey", policy.KMS_ADMIN_ACTIONS, "*", principals=root),
        policy.statement("AccountUsesKey", policy.KMS_USE_ACTIONS, "*", principals=root),
        *extra_statements,
    )


def bucket_policy(bucket: str, extra_statements: Sequence[dict[str, Any]] = ()) -> str:
    """TLS only, plus ``extra_statements``."""
    return policy.document(policy.tls_only(bucket), *extra_statements)
