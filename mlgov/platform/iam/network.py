"""Documents of an account's network (:mod:`mlgov.modules.network`, :mod:`mlgov.modules.base`).

The policy every VPC endpoint carries, and the platform key and bucket statements that let VPC
flow log delivery write the account's flow logs (:func:`mlgov.platform.network.flow_log_destination`).
"""

from __future__ import annotations

from typing import Any

from mlgov.platform import policy
from mlgov.platform.iam import actions, arns
from mlgov.platform.network import FLOW_LOG_PREFIX
from mlgov.spec.model import OrgSpec

LOG_DELIVERY_SERVICE = "delivery.logs.amazonaws.com"
FLOW_LOG_KEY_ACTIONS = ("kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*")


def endpoint_policy(spec: OrgSpec) -> str:
    """Policy of every VPC endpoint: only principals of the organization may use it.

    An endpoint policy filters and never grants (IAM still decides), so the statement names
    every action and resource; the organization condition keeps credentials from outside the
    org from using the platform's private path to AWS (data exfiltration to foreign accounts).
    """
    return policy.document(
        policy.statement(
            "OnlyOrganizationPrincipals",
            ["*"],
            "*",
            principals="*",
            conditions={"StringEquals": {"aws:PrincipalOrgID": spec.organization.id}},
        )
    )


def _from_this_account(account_id: str, region: str) -> dict[str, dict[str, str]]:
    """Log delivery acting for this account's log sources in this region."""
    return {
        "StringEquals": {"aws:SourceAccount": account_id},
        "ArnLike": {"aws:SourceArn": arns.arn("logs", region, account_id, "*")},
    }


def flow_log_bucket_statements(account_id: str, region: str, bucket: str) -> list[dict[str, Any]]:
    """Platform bucket policy statements that let VPC flow log delivery write into its folder only."""
    conditions = _from_this_account(account_id, region)
    return [
        policy.statement(
            "FlowLogDeliveryAclCheck",
            ["s3:GetBucketAcl"],
            [arns.bucket(bucket)],
            principals={"Service": LOG_DELIVERY_SERVICE},
            conditions=conditions,
        ),
        policy.statement(
            "FlowLogDeliveryWrite",
            actions.S3_PUT,
            [arns.objects(bucket, f"{FLOW_LOG_PREFIX}/AWSLogs/{account_id}")],
            principals={"Service": LOG_DELIVERY_SERVICE},
            conditions={
                **conditions,
                "StringEquals": {"aws:SourceAccount": account_id, "s3:x-amz-acl": "bucket-owner-full-control"},
            },
        ),
    ]


def flow_log_key_statements(account_id: str, region: str) -> list[dict[str, Any]]:
    """Platform key policy statement: log delivery encrypts flow log objects (SSE-KMS bucket)."""
    return [
        policy.statement(
            "FlowLogDeliveryEncrypts",
            FLOW_LOG_KEY_ACTIONS,
            "*",
            principals={"Service": LOG_DELIVERY_SERVICE},
            conditions=_from_this_account(account_id, region),
        )
    ]
