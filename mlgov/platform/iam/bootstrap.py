"""The bootstrap's documents: the Terraform role's trust, the state bucket's and key's policies,
the access log bucket's policy (docs/day-zero.md).

The Terraform role (``terraform.role_name``) exists in every account before mlgov's stacks
apply. It is as powerful as an account administrator, so its trust names exactly two kinds of
caller: the management account's Terraform role (the management pipeline; and, because the
stacks' provider blocks assume the role again, the role itself), and the CI system's OIDC
tokens of this repository's apply environment, drift environment and pull requests (``terraform.ci``). Nothing
else of the organization, not even the account's own root, may assume it.

``account_id`` may be ``${AWS::AccountId}`` when a CloudFormation template renders the
document (:func:`mlgov.platform.bootstrap.cfn_sub` wraps such strings in ``Fn::Sub``).
"""

from __future__ import annotations

from typing import Any

from mlgov.platform import policy
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


def oidc_subjects(spec: OrgSpec) -> list[str]:
    """The token subjects trusted: GitHub's apply environment, drift environment (when drift detection
    is on: a scheduled run's own subject names only the branch) and pull requests of the repository;
    GitLab's branch pipelines of the project (its ``sub`` cannot name an environment)."""
    ci = spec.terraform.ci
    if ci is None:
        return []
    if ci.provider == "github":
        environments = [ci.apply_environment] + ([ci.drift.environment] if ci.drift.enabled else [])
        return sorted(
            {f"repo:{ci.repository}:environment:{env}" for env in environments} | {f"repo:{ci.repository}:pull_request"}
        )
    return [f"project_path:{ci.repository}:ref_type:branch:ref:*"]


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
        )
    ]
    host = issuer(spec)
    ci = spec.terraform.ci
    if host is not None and ci is not None:
        match = "StringEquals" if ci.provider == "github" else "StringLike"
        conditions: dict[str, dict[str, Any]] = {"StringEquals": {f"{host}:aud": OIDC_AUDIENCE}}
        conditions.setdefault(match, {})[f"{host}:sub"] = oidc_subjects(spec)
        statements.append(
            policy.statement(
                "CiPipeline",
                ASSUME_WEB_IDENTITY,
                principals={"Federated": oidc_provider(account_id, host)},
                conditions=conditions,
            )
        )
    return {"Version": "2012-10-17", "Statement": statements}


def terraform_trust_json(spec: OrgSpec, account_id: str) -> str:
    return policy.document(*terraform_trust(spec, account_id)["Statement"])


def _terraform_roles(spec: OrgSpec) -> dict[str, dict[str, Any]]:
    """Any account's Terraform role in the organization (vended accounts included without a change here)."""
    return {
        "StringEquals": {"aws:PrincipalOrgID": spec.organization.id},
        "ArnLike": {"aws:PrincipalArn": arns.role("*", spec.terraform.role_name)},
    }


def state_bucket_statements(spec: OrgSpec) -> list[dict[str, Any]]:
    """Beyond TLS-only: every account's Terraform role reads and writes the state under the key prefix."""
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
    ]


def state_key_statements(spec: OrgSpec) -> list[dict[str, Any]]:
    """The state key: every account's Terraform role encrypts and decrypts through S3 only."""
    state = spec.terraform.state
    conditions = _terraform_roles(spec)
    conditions["StringEquals"] = {
        **conditions["StringEquals"],
        "kms:ViaService": f"s3.{state.region}.amazonaws.com",
    }
    return [
        policy.statement(
            "TerraformRolesUseStateKey", STATE_KEY_ACTIONS, "*", principals={"AWS": "*"}, conditions=conditions
        )
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
