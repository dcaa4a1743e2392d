"""Pieces shared by the governance constructs of the dev, hub and stage accounts.

Cross-account principals are written as the other account's root plus an
``aws:PrincipalArn`` condition naming the exact role: IAM, S3 and KMS refuse a policy that
names a role which does not exist yet, and this form keeps every stack deployable on its own
while still trusting only that one role.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.sqs_queue import SqsQueue
from cdktf_cdktf_provider_aws.sqs_queue_policy import SqsQueuePolicy
from constructs import Construct

from mlgov.modules.blocks import named, ref
from mlgov.platform import policy

# EventBridge keeps retrying a failed delivery for up to a day before the DLQ gets it.
RETRY_ATTEMPTS = 185
RETRY_MAX_AGE_SECONDS = 86400
DLQ_RETENTION_SECONDS = 14 * 86400
MODEL_PACKAGE_STATE_CHANGE = "SageMaker Model Package State Change"
PENDING = "PendingManualApproval"


def register_pending(sid: str, arns: Sequence[str]) -> dict[str, Any]:
    """CreateModelPackage only with status PendingManualApproval: nobody registers a package that is
    already approved, so an approver's UpdateModelPackage is the only way to Approved."""
    return policy.statement(
        sid,
        ["sagemaker:CreateModelPackage"],
        arns,
        conditions={"StringEquals": {"sagemaker:ModelApprovalStatus": PENDING}},
    )


def only_role(account_id: str, role_arns: Sequence[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(principal, condition) that admit exactly ``role_arns`` of ``account_id``."""
    return {"AWS": policy.account_root(account_id)}, {"ArnEquals": {"aws:PrincipalArn": sorted(role_arns)}}


def service_trust(service: str, account_id: str) -> str:
    """Trust policy for an AWS service acting on behalf of this account only."""
    return policy.document(
        policy.statement(
            "ServiceAssumesRole",
            ["sts:AssumeRole"],
            principals={"Service": service},
            conditions={"StringEquals": {"aws:SourceAccount": account_id}},
        )
    )


def role(
    scope: Construct,
    address: str,
    *,
    name: str,
    trust: str,
    statements: Sequence[dict[str, Any]],
    description: str,
    tags: dict[str, str] | None = None,
    was: str | None = None,
    permissions_boundary: str | None = None,
) -> IamRole:
    """An IAM role with one inline policy, both at ``<type>.<address>`` (moved from ``<type>.<was>``;
    with a permissions boundary if given)."""
    iam_role = named(
        IamRole(
            scope,
            f"{address}_role",
            name=name,
            assume_role_policy=trust,
            description=description,
            max_session_duration=3600,
            tags=tags,
            permissions_boundary=permissions_boundary,
        ),
        address,
        was=was,
    )
    named(
        IamRolePolicy(
            scope, f"{address}_policy", name=name, role=ref(iam_role, "name"), policy=policy.document(*statements)
        ),
        address,
        was=was,
    )
    return iam_role


def kms_by_alias(
    sid: str, actions: Sequence[str], region: str, account_id: str, alias: str, via_services: Sequence[str] = ()
) -> dict[str, Any]:
    """Use of a key known only by its alias (its id is random): any key of that account with that alias."""
    conditions: dict[str, Any] = {"ForAnyValue:StringEquals": {"kms:ResourceAliases": [alias]}}
    if via_services:
        conditions["StringEquals"] = {"kms:ViaService": sorted(f"{s}.{region}.amazonaws.com" for s in via_services)}
    return policy.statement(sid, actions, [f"arn:aws:kms:{region}:{account_id}:key/*"], conditions=conditions)


def dead_letter_queue(
    scope: Construct,
    address: str,
    *,
    name: str,
    region: str,
    account_id: str,
    sender_arn: str,
    sender_service: str,
    was: str | None = None,
) -> SqsQueue:
    """Encrypted SQS queue that only ``sender_service`` acting for ``sender_arn`` may write to."""
    queue = named(
        SqsQueue(
            scope,
            f"{address}_queue",
            name=name,
            sqs_managed_sse_enabled=True,
            message_retention_seconds=DLQ_RETENTION_SECONDS,
        ),
        address,
        was=was,
    )
    arn = f"arn:aws:sqs:{region}:{account_id}:{name}"
    named(
        SqsQueuePolicy(
            scope,
            f"{address}_queue_policy",
            queue_url=ref(queue, "url"),
            policy=policy.document(
                policy.statement(
                    "OnlyTheSourceSends",
                    ["sqs:SendMessage"],
                    [arn],
                    principals={"Service": sender_service},
                    conditions={"ArnEquals": {"aws:SourceArn": sender_arn}},
                )
            ),
        ),
        address,
        was=was,
    )
    return queue


def approval_pattern(groups: Sequence[str], accounts: Sequence[str] = ()) -> dict[str, Any]:
    """Event pattern: a package of one of ``groups`` became Approved (nothing else matches)."""
    pattern: dict[str, Any] = {
        "source": ["aws.sagemaker"],
        "detail-type": [MODEL_PACKAGE_STATE_CHANGE],
        "detail": {"ModelApprovalStatus": ["Approved"], "ModelPackageGroupName": sorted(groups)},
    }
    if accounts:
        pattern["account"] = sorted(accounts)
    return pattern


def vpc_network_interfaces(region: str) -> dict[str, Any]:
    """What SageMaker needs of a role whose jobs or endpoints run in a VPC: the network
    interfaces it creates in the account's subnets (EC2 offers no resource scoping for these
    calls at creation), in that region only."""
    return policy.statement(
        "VpcNetworkInterfaces",
        [
            "ec2:CreateNetworkInterface",
            "ec2:CreateNetworkInterfacePermission",
            "ec2:DeleteNetworkInterface",
            "ec2:DeleteNetworkInterfacePermission",
            "ec2:DescribeDhcpOptions",
            "ec2:DescribeNetworkInterfaces",
            "ec2:DescribeSecurityGroups",
            "ec2:DescribeSubnets",
            "ec2:DescribeVpcs",
        ],
        "*",
        conditions={"StringEquals": {"aws:RequestedRegion": region}},
    )
