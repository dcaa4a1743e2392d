"""IAM policy documents as plain data, serialized canonically.

Policies are built from spec values (account ids, ARNs made from names), never from
Terraform references, so a reviewer sees the final JSON in generated/ and in the plan.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any


def statement(
    sid: str,
    actions: Iterable[str],
    resources: Iterable[str] | None = None,
    *,
    effect: str = "Allow",
    principals: dict[str, Any] | str | None = None,
    conditions: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """One policy statement; actions are sorted so output does not depend on call order."""
    stmt: dict[str, Any] = {"Sid": sid, "Effect": effect, "Action": sorted(set(actions))}
    if principals is not None:
        stmt["Principal"] = principals
    if resources is not None:
        stmt["Resource"] = sorted(set(resources)) if not isinstance(resources, str) else resources
    if conditions:
        stmt["Condition"] = conditions
    return stmt


def document(*statements: dict[str, Any]) -> str:
    """A policy document string: version 2012-10-17, sorted keys, compact separators."""
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)}, sort_keys=True, separators=(",", ":"))


def account_root(account_id: str) -> str:
    """The ARN that delegates trust to an account's own IAM policies."""
    return f"arn:aws:iam::{account_id}:root"


def role_arn(account_id: str, name: str) -> str:
    return f"arn:aws:iam::{account_id}:role/{name}"


def bucket_arns(bucket: str) -> list[str]:
    """The bucket and every object in it."""
    return [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]


def tls_only(bucket: str) -> dict[str, Any]:
    """Deny any request to the bucket that does not use TLS."""
    return statement(
        "DenyInsecureTransport",
        ["s3:*"],
        bucket_arns(bucket),
        effect="Deny",
        principals={"AWS": "*"},
        conditions={"Bool": {"aws:SecureTransport": "false"}},
    )
