"""Documents of an account's network (:mod:`mlgov.modules.network`, :mod:`mlgov.modules.base`).

The policy every VPC endpoint carries, and the platform key and bucket statements that let VPC
flow log delivery write the account's flow logs (:func:`mlgov.platform.network.flow_log_destination`).
"""

from __future__ import annotations

from typing import Any

from mlgov.platform import images, policy
from mlgov.platform.iam import actions, arns
from mlgov.platform.network import FLOW_LOG_PREFIX
from mlgov.spec.model import OrgSpec

LOG_DELIVERY_SERVICE = "delivery.logs.amazonaws.com"


# AWS-owned resources the workloads reach through an endpoint: they belong to no account of the
# organization, so the resource side of the endpoint policy names them. ECR serves image layers
# from an S3 bucket of AWS's (Amazon ECR User Guide, "Amazon ECR interface VPC endpoints",
# minimum Amazon S3 bucket permissions: ``prod-<region>-starport-layer-bucket``); SageMaker's
# built-in, framework and monitor images live in AWS's registries of the region
# (:func:`mlgov.platform.images.aws_registry_accounts`).
def aws_owned_resources(endpoint: str, region: str) -> list[str]:
    """ARNs of the AWS-owned resources the endpoint ``endpoint`` (a key of
    :data:`mlgov.platform.network.ENDPOINTS`) must reach outside the organization."""
    if endpoint in ("ecr_api", "ecr_dkr"):
        return [arns.arn("ecr", region, a, "repository/*") for a in images.aws_registry_accounts(region)]
    if endpoint == "s3":
        bucket = f"prod-{region}-starport-layer-bucket"
        return [arns.bucket(bucket), arns.objects(bucket)]
    return []


def endpoint_policy(spec: OrgSpec, endpoint: str = "", region: str = "") -> str:
    """Policy of a VPC endpoint: only principals of the organization may use it, and only on
    resources of the organization (or the AWS-owned ones the platform needs,
    :func:`aws_owned_resources`).

    An endpoint policy filters and never grants (IAM still decides), so the statement names
    every action and resource; the principal condition keeps credentials from outside the
    org from using the platform's private path to AWS, the resource condition keeps the org's
    own credentials from writing to another organization's resources through it (data
    exfiltration to foreign accounts with the platform's roles).

    ``aws:ResourceOrgID`` is a global condition key AWS sets when the resource's account is a
    member of an organization, for every action except the excluded ones (@cloud-copilot/iam-utils
    ``isAwsResourceInfoExcludedAction``: none of an endpoint's services here;
    ``tests/test_endpoint_perimeter.py`` asks it for every endpoint's service). The Deny applies
    when the key is present and names another organization; a request without it (a call on
    no resource, e.g. ``ecr:GetAuthorizationToken``, or a resource of an account in no
    organization) is left to the caller's identity policy, which names the platform's own
    resources.
    """
    deny: dict[str, Any] = {"Sid": "OnlyOrganizationResources", "Effect": "Deny", "Principal": "*", "Action": "*"}
    exceptions = aws_owned_resources(endpoint, region)
    if exceptions:
        deny["NotResource"] = sorted(exceptions)
    else:
        deny["Resource"] = "*"
    deny["Condition"] = {
        "Null": {"aws:ResourceOrgID": "false"},
        "StringNotEquals": {"aws:ResourceOrgID": spec.organization.id},
    }
    return policy.document(
        policy.statement(
            "OnlyOrganizationPrincipals",
            ["*"],
            "*",
            principals="*",
            conditions={"StringEquals": {"aws:PrincipalOrgID": spec.organization.id}},
        ),
        deny,
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
            actions.KMS_USE_ACTIONS,
            "*",
            principals={"Service": LOG_DELIVERY_SERVICE},
            conditions=_from_this_account(account_id, region),
        )
    ]
