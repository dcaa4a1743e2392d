"""The bootstrap's documents: the two Terraform roles' trusts, the plan role's policy, the state
bucket's and key's policies, the access log bucket's policy (docs/day-zero.md).

Every account has two roles before mlgov's stacks apply:

- the Terraform role (``terraform.role_name``) applies. It is as powerful as an account
  administrator, so its trust names exactly two kinds of caller: the management account's
  Terraform role (the management pipeline; and, because the stacks' provider blocks assume the
  role again, the role itself), and the CI system's OIDC tokens of this repository's apply
  environment (GitHub) or default branch (GitLab) (``terraform.ci``). No pull request's token,
  nothing else of the organization, not even the account's own root, may assume it;
- the plan role (:func:`mlgov.platform.naming.terraform_plan_role`) plans: pull requests' and the
  drift jobs' tokens assume it. It reads (AWS's ReadOnlyAccess and the state), writes nothing,
  and may assume no role (:func:`plan_statements`).

``account_id`` may be ``${AWS::AccountId}`` when a CloudFormation template renders the
document (:func:`mlgov.platform.bootstrap.cfn_sub` wraps such strings in ``Fn::Sub``).
"""

from __future__ import annotations

from typing import Any

from mlgov.platform import naming, policy
from mlgov.platform.iam import actions, arns
from mlgov.spec.model import OrgSpec

ASSUME_WEB_IDENTITY = ("sts:AssumeRoleWithWebIdentity",)
GITHUB_ISSUER = "token.actions.githubusercontent.com"
GITLAB_ISSUER = "gitlab.com"
OIDC_AUDIENCE = "sts.amazonaws.com"  # what the generated pipelines ask their tokens for
# What Terraform does with its state: read, write, and take and release the S3 lock file.
STATE_OBJECT_ACTIONS = ("s3:DeleteObject", "s3:GetObject", "s3:PutObject")
STATE_KEY_ACTIONS = ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey")
ADMINISTRATOR_POLICY = "arn:aws:iam::aws:policy/AdministratorAccess"
# The plan role reads every resource type the stacks hold, as `terraform plan -refresh` reads them
# (policies, bucket and key configurations, tags): AWS's ReadOnlyAccess; ViewOnlyAccess lists and
# describes but does not read many of those (docs/security.md).
READ_ONLY_POLICY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
PLAN_POLICY_NAME = "terraform-plan"  # the plan role's inline policy (a role-local name)
# The branch the GitLab apply jobs run on (the GitHub workflow applies pushes to it too): the only
# ref a GitLab token may hold to assume the Terraform role. Protect it.
APPLY_BRANCH = "main"
# What the plan role may never do, whatever else is attached to it: take another role (the
# Terraform role, a gate's role), hand one to a service, or write the resources a plan could
# otherwise reach through a wider policy (IAM, S3, KMS, Organizations: the platform's control
# planes). ReadOnlyAccess grants none of these; the deny keeps it so.
PLAN_DENIED_ACTIONS = (
    "iam:Add*",
    "iam:Attach*",
    "iam:Create*",
    "iam:Delete*",
    "iam:Detach*",
    "iam:PassRole",
    "iam:Put*",
    "iam:Remove*",
    "iam:Tag*",
    "iam:Untag*",
    "iam:Update*",
    "kms:Create*",
    "kms:Delete*",
    "kms:Disable*",
    "kms:Encrypt",
    "kms:GenerateDataKey*",
    "kms:Put*",
    "kms:ReEncrypt*",
    "kms:ScheduleKeyDeletion",
    "kms:Update*",
    "organizations:Attach*",
    "organizations:Create*",
    "organizations:Delete*",
    "organizations:Detach*",
    "organizations:Move*",
    "organizations:Update*",
    "s3:Delete*",
    "s3:Put*",
    "s3:Replicate*",
    "s3:Restore*",
    "sts:AssumeRole",
    "sts:AssumeRoleWithSAML",
    "sts:AssumeRoleWithWebIdentity",
    "sts:GetFederationToken",
)


def management_id(spec: OrgSpec) -> str:
    return spec.accounts[spec.organization.management_account].id


def pipeline_role(spec: OrgSpec) -> str:
    """The management pipeline: the Terraform role of the management account."""
    return arns.role(management_id(spec), spec.terraform.role_name)


def issuer(spec: OrgSpec) -> str | None:
    """The CI system's OIDC issuer (host and path, no scheme), or None without ``terraform.ci``."""
    ci = spec.terraform.ci
    if ci is None:
        return None
    return ci.issuer or (GITHUB_ISSUER if ci.provider == "github" else GITLAB_ISSUER)


def oidc_provider(account_id: str, host: str) -> str:
    return arns.arn("iam", "", account_id, f"oidc-provider/{host}")


def apply_subjects(spec: OrgSpec) -> list[str]:
    """The token subjects the Terraform role trusts: GitHub's apply environment of the repository;
    GitLab's pipelines of the project's APPLY_BRANCH (its ``sub`` cannot name an environment). Never a
    pull request's or any other branch's token."""
    ci = spec.terraform.ci
    if ci is None:
        return []
    if ci.provider == "github":
        return [f"repo:{ci.repository}:environment:{ci.apply_environment}"]
    return [f"project_path:{ci.repository}:ref_type:branch:ref:{APPLY_BRANCH}"]


def plan_subjects(spec: OrgSpec) -> list[str]:
    """The token subjects the plan role trusts: GitHub's pull requests and drift environment (when
    drift detection is on: a scheduled run's own subject names only the branch); GitLab's branch
    pipelines of the project (merge requests' and the scheduled drift pipeline's)."""
    ci = spec.terraform.ci
    if ci is None:
        return []
    if ci.provider == "github":
        drift = [f"repo:{ci.repository}:environment:{ci.drift.environment}"] if ci.drift.enabled else []
        return sorted({f"repo:{ci.repository}:pull_request", *drift})
    return [f"project_path:{ci.repository}:ref_type:branch:ref:*"]


def _ci_statement(spec: OrgSpec, account_id: str, subjects: list[str]) -> list[dict[str, Any]]:
    """The CI's OIDC tokens with one of ``subjects`` (none without ``terraform.ci``)."""
    host = issuer(spec)
    if host is None or not subjects:
        return []
    match = "StringLike" if any("*" in s for s in subjects) else "StringEquals"
    conditions: dict[str, dict[str, Any]] = {"StringEquals": {f"{host}:aud": OIDC_AUDIENCE}}
    conditions.setdefault(match, {})[f"{host}:sub"] = subjects
    return [
        policy.statement(
            "CiPipeline",
            ASSUME_WEB_IDENTITY,
            principals={"Federated": oidc_provider(account_id, host)},
            conditions=conditions,
        )
    ]


def terraform_trust(spec: OrgSpec, account_id: str) -> dict[str, Any]:
    """Trust policy of the Terraform role in ``account_id`` (as data)."""
    mgmt = management_id(spec)
    callers = sorted({pipeline_role(spec), arns.role(account_id, spec.terraform.role_name)})
    statements = [
        policy.statement(
            "ManagementPipeline",
            actions.ASSUME_ROLE,
            principals={"AWS": sorted({arns.account_root(mgmt), arns.account_root(account_id)})},
            # Accounts as principals, narrowed to the exact roles: a role that names itself in its own
            # trust cannot be created (the principal would not exist yet).
            conditions={"ArnEquals": {"aws:PrincipalArn": callers}},
        ),
        *_ci_statement(spec, account_id, apply_subjects(spec)),
    ]
    return {"Version": "2012-10-17", "Statement": statements}


def terraform_trust_json(spec: OrgSpec, account_id: str) -> str:
    return policy.document(*terraform_trust(spec, account_id)["Statement"])


def plan_trust(spec: OrgSpec, account_id: str) -> dict[str, Any]:
    """Trust policy of the plan role in ``account_id`` (as data): the CI's plan tokens, and the
    management pipeline (which may do more already; it keeps the trust valid without ``terraform.ci``)."""
    statements = [
        policy.statement(
            "ManagementPipeline",
            actions.ASSUME_ROLE,
            principals={"AWS": arns.account_root(management_id(spec))},
            conditions={"ArnEquals": {"aws:PrincipalArn": [pipeline_role(spec)]}},
        ),
        *_ci_statement(spec, account_id, plan_subjects(spec)),
    ]
    return {"Version": "2012-10-17", "Statement": statements}


def plan_trust_json(spec: OrgSpec, account_id: str) -> str:
    return policy.document(*plan_trust(spec, account_id)["Statement"])


def plan_statements(spec: OrgSpec) -> list[dict[str, Any]]:
    """The plan role's inline policy, beside ReadOnlyAccess: read the state (plans run with
    ``-lock=false``, so never write it, not even a lock file) and decrypt it through S3; deny every
    write of PLAN_DENIED_ACTIONS and every role assumption, whatever else the role is given."""
    state = spec.terraform.state
    return [
        policy.statement(
            "ListState",
            actions.S3_LIST,
            arns.bucket(state.bucket),
            conditions={"StringLike": {"s3:prefix": [f"{state.key_prefix}/*"]}},
        ),
        policy.statement("ReadState", ("s3:GetObject",), arns.objects(state.bucket, state.key_prefix)),
        policy.statement(
            "DecryptState",
            actions.KMS_DECRYPT,
            arns.arn("kms", state.region, management_id(spec), "key/*"),
            conditions={
                "StringEquals": {"kms:ViaService": f"s3.{state.region}.amazonaws.com"},
                "StringLike": {STATE_CONTEXT_KEY: state_context(spec)},
            },
        ),
        policy.statement("DenyWrites", PLAN_DENIED_ACTIONS, "*", effect="Deny"),
    ]


# S3 names the bucket (with an S3 Bucket Key, as the state bucket has) or the object in the
# encryption context of every data key it asks KMS for: the plan role decrypts the state's objects
# only, not whatever else the account's keys protect. See "Encryption context" in
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html
STATE_CONTEXT_KEY = "kms:EncryptionContext:aws:s3:arn"


def state_context(spec: OrgSpec) -> list[str]:
    state = spec.terraform.state
    return [arns.bucket(state.bucket), arns.objects(state.bucket, state.key_prefix)]


def plan_policy_json(spec: OrgSpec) -> str:
    return policy.document(*plan_statements(spec))


def _terraform_roles(spec: OrgSpec) -> dict[str, dict[str, Any]]:
    """Any account's Terraform role in the organization (vended accounts included without a change here)."""
    return {
        "StringEquals": {"aws:PrincipalOrgID": spec.organization.id},
        "ArnLike": {"aws:PrincipalArn": arns.role("*", spec.terraform.role_name)},
    }


def _plan_roles(spec: OrgSpec) -> dict[str, dict[str, Any]]:
    """Any account's plan role in the organization."""
    return {
        "StringEquals": {"aws:PrincipalOrgID": spec.organization.id},
        "ArnLike": {"aws:PrincipalArn": arns.role("*", naming.terraform_plan_role(spec))},
    }


def state_bucket_statements(spec: OrgSpec) -> list[dict[str, Any]]:
    """Beyond TLS-only: every account's Terraform role reads and writes the state under the key
    prefix; every account's plan role reads it."""
    state = spec.terraform.state
    return [
        policy.statement(
            "TerraformRolesListState",
            actions.S3_LIST,
            arns.bucket(state.bucket),
            principals={"AWS": "*"},
            conditions={**_terraform_roles(spec), "StringLike": {"s3:prefix": [f"{state.key_prefix}/*"]}},
        ),
        policy.statement(
            "TerraformRolesUseState",
            STATE_OBJECT_ACTIONS,
            arns.objects(state.bucket, state.key_prefix),
            principals={"AWS": "*"},
            conditions=_terraform_roles(spec),
        ),
        policy.statement(
            "PlanRolesListState",
            actions.S3_LIST,
            arns.bucket(state.bucket),
            principals={"AWS": "*"},
            conditions={**_plan_roles(spec), "StringLike": {"s3:prefix": [f"{state.key_prefix}/*"]}},
        ),
        policy.statement(
            "PlanRolesReadState",
            ("s3:GetObject",),
            arns.objects(state.bucket, state.key_prefix),
            principals={"AWS": "*"},
            conditions=_plan_roles(spec),
        ),
    ]


def state_key_statements(spec: OrgSpec) -> list[dict[str, Any]]:
    """The state key: every account's Terraform role encrypts and decrypts through S3 only; every
    account's plan role decrypts through S3 only."""
    state = spec.terraform.state
    via = {"kms:ViaService": f"s3.{state.region}.amazonaws.com"}

    def through_s3(roles: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        return {**roles, "StringEquals": {**roles["StringEquals"], **via}}

    return [
        policy.statement(
            "TerraformRolesUseStateKey",
            STATE_KEY_ACTIONS,
            "*",
            principals={"AWS": "*"},
            conditions=through_s3(_terraform_roles(spec)),
        ),
        policy.statement(
            "PlanRolesDecryptState",
            actions.KMS_DECRYPT,
            "*",
            principals={"AWS": "*"},
            conditions={**through_s3(_plan_roles(spec)), "StringLike": {STATE_CONTEXT_KEY: state_context(spec)}},
        ),
    ]


def access_log_statements(spec: OrgSpec, log_bucket: str) -> list[dict[str, Any]]:
    """The log bucket: S3 server access logging delivers the state bucket's logs, nothing else writes."""
    state = spec.terraform.state
    return [
        policy.statement(
            "S3ServerAccessLogs",
            ["s3:PutObject"],
            arns.objects(log_bucket, "state"),
            principals={"Service": "logging.s3.amazonaws.com"},
            conditions={
                "ArnLike": {"aws:SourceArn": arns.bucket(state.bucket)},
                "StringEquals": {"aws:SourceAccount": management_id(spec)},
            },
        )
    ]
