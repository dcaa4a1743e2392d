"""Spec of the management layer: OU ownership, org-level service access and SCP guardrails.

Lives under the top-level ``management`` key. Every default yields a sensible management
stack for the default spec: all guardrails on, attached to every OU the spec declares (the
organization-wide ones to the root), Service Catalog organizations access on and the hub
registered as its delegated administrator.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictBool, StringConstraints

from mlgov.spec.base import Name, SpecModel
from mlgov.spec.cost import InstanceTypeGuardrail

# `root` or an OU name of organization.organizational_units.
Target = Name
RoleName = Annotated[str, StringConstraints(strict=True, pattern=r"^[\w+=,.@-]{1,64}$")]
TrailName = Annotated[str, StringConstraints(strict=True, pattern=r"^[A-Za-z0-9][\w.-]{2,127}$")]
RecorderName = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=256, pattern=r"^[\w.-]+$")]
# service:Action, wildcards allowed in the action part only (e.g. iam:*, s3:GetAccount*)
ActionPattern = Annotated[str, StringConstraints(strict=True, pattern=r"^[a-z0-9-]+:[A-Za-z0-9*?]+$")]


class GuardrailBase(SpecModel):
    """Common switches of one SCP."""

    enabled: StrictBool = Field(default=True, description="Create and attach this SCP.")
    targets: list[Target] | None = Field(
        default=None,
        description="Where to attach it: `root` or OU names of organization.organizational_units. "
        "Default: every OU of the spec (organization-wide guardrails: the root).",
    )


class RegionGuardrail(GuardrailBase):
    """Deny every request outside organization.allowed_regions, except global services."""

    exempt_actions: list[ActionPattern] = Field(
        default_factory=list,
        description="Extra actions of global services to exempt, beyond mlgov's built-in list (e.g. a new global "
        "service).",
    )


class SageMakerGuardrail(GuardrailBase):
    """Deny SageMaker jobs, notebooks and domains without VPC config or volume KMS key, or with direct
    internet access."""


class DomainGuardrail(GuardrailBase):
    """Deny SageMaker domains whose network access type is not VpcOnly."""


class LeaveOrgGuardrail(GuardrailBase):
    """Deny member accounts leaving the organization."""


class AuditGuardrail(GuardrailBase):
    """Deny stopping, deleting or reconfiguring the platform's CloudTrail trails and Config recorders, and
    making or changing roles named like the Service Catalog persona principals except by Terraform."""

    cloudtrail_trails: list[TrailName] = Field(
        default_factory=list,
        description="Names of the trails to protect (the SCP is only created when a trail or recorder is listed, "
        "or a portfolio names a persona).",
    )
    config_recorders: list[RecorderName] = Field(
        default_factory=list,
        description="Names of the AWS Config configuration recorders to protect (usually `default`).",
    )


class GatesGuardrail(GuardrailBase):
    """Back the model gates: nobody registers an approved package, and only mlgov's approver,
    officer and endpoint deployer roles (by mlgov's role names, which only Terraform may create)
    decide packages, approve deployments or
    change monitoring schedules, whatever an account's administrators grant themselves."""


class Guardrails(SpecModel):
    """The service control policies mlgov creates, one per concern, each switchable."""

    exempt_roles: list[RoleName] = Field(
        default_factory=list,
        description="IAM role names (in any account, roles without a path) exempt from the region and audit "
        "guardrails, "
        "e.g. a break-glass role or the role Control Tower uses to manage trails; honoured only in `exempt_accounts`.",
    )
    exempt_accounts: list[str] = Field(
        default_factory=list,
        description="Account keys whose `exempt_roles` are exempt (pinned ARNs, never `*`); every other account "
        "is denied creating a role of an exempt name.",
    )
    region_restriction: RegionGuardrail = Field(
        default_factory=RegionGuardrail, description="Deny actions outside the allowed regions."
    )
    sagemaker_vpc_kms: SageMakerGuardrail = Field(
        default_factory=SageMakerGuardrail,
        description="Deny SageMaker training/processing/tuning/transform jobs, notebooks and domains without VPC, "
        "volume KMS key, or with direct internet access.",
    )
    sagemaker_domain_vpc_only: DomainGuardrail = Field(
        default_factory=DomainGuardrail, description="Deny SageMaker domains that are not VpcOnly."
    )
    deny_leave_organization: LeaveOrgGuardrail = Field(
        default_factory=LeaveOrgGuardrail,
        description="Deny organizations:LeaveOrganization (default target: the root).",
    )
    protect_audit: AuditGuardrail = Field(
        default_factory=AuditGuardrail,
        description="Protect the listed CloudTrail trails and Config recorders, and keep the role names portfolios "
        "open to (<org>-*-<persona>) and the team role names resource policies admit from any account to the "
        "Terraform role; must stay on, over every OU that holds an account, while the spec has a hub and teams "
        "(and over the hub and the portfolios' OUs while a portfolio names a persona; default target: the root).",
    )
    protect_gates: GatesGuardrail = Field(
        default_factory=GatesGuardrail,
        description="Deny registering an Approved model package, and deciding packages, approving deployments, "
        "changing monitoring schedules or changing the deployment pipelines, their projects, start rules and endpoint "
        "tests to every role but mlgov's own for it (default target: every OU).",
    )
    sagemaker_instance_types: InstanceTypeGuardrail = Field(
        default_factory=InstanceTypeGuardrail,
        description="Allowed SageMaker instance types per layer, e.g. {dev: [ml.t3.*, ml.m5.large]}: one SCP per "
        "account of a listed layer, attached to the account (teams add their own with teams.<team>.instance_types).",
    )


class ControlTowerFactory(SpecModel):
    """The Control Tower Account Factory product accounts are provisioned from (method control_tower)."""

    product_name: Annotated[str, StringConstraints(strict=True, min_length=1, max_length=100)] = Field(
        default="AWS Control Tower Account Factory",
        description="Name of the Account Factory product in the management account's Service Catalog.",
    )
    provisioning_artifact_name: Annotated[str, StringConstraints(strict=True, min_length=1, max_length=100)] = Field(
        default="AWS Control Tower Account Factory",
        description="Name of the product's provisioning artifact (version) to provision.",
    )
    sso_user_email: Annotated[
        str, StringConstraints(strict=True, pattern=r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")
    ] = Field(description="IAM Identity Center user who gets administrator access to every vended account.")
    sso_user_first_name: Annotated[str, StringConstraints(strict=True, min_length=1, max_length=64)] = Field(
        default="ML", description="First name of that IAM Identity Center user."
    )
    sso_user_last_name: Annotated[str, StringConstraints(strict=True, min_length=1, max_length=64)] = Field(
        default="Platform", description="Last name of that IAM Identity Center user."
    )


class Vending(SpecModel):
    """How mlgov creates, adopts and retires the accounts that carry an `email` (docs/day-zero.md)."""

    method: Literal["organizations", "control_tower"] = Field(
        default="organizations",
        description="organizations: aws_organizations_account (Organizations CreateAccount) in the management stack; "
        "control_tower: a provisioned Control Tower Account Factory product (the org uses Control Tower).",
    )
    on_retire: Literal["close", "suspend"] = Field(
        default="suspend",
        description="What a `retired: true` account becomes: close (CloseAccount: suspended by AWS for 90 days, then "
        "gone) or suspend (moved to suspended_ou, where the deny-all SCP applies, and kept).",
    )
    suspended_ou: Name | None = Field(
        default=None,
        description="OU (of organization.organizational_units) retired accounts are moved to with on_retire: suspend; "
        "mlgov attaches a deny-all SCP to it.",
    )
    role_name: RoleName = Field(
        default="OrganizationAccountAccessRole",
        description="The administrator role Organizations creates in a new account (method organizations); the "
        "bootstrap StackSet, not this role, gives mlgov its Terraform role.",
    )
    iam_user_access_to_billing: Literal["ALLOW", "DENY"] = Field(
        default="DENY", description="Whether IAM users of a new account may see its billing (method organizations)."
    )
    control_tower: ControlTowerFactory | None = Field(
        default=None, description="The Account Factory product (required with method control_tower)."
    )


class ManagementSettings(SpecModel):
    """What the management account stack owns besides its baseline."""

    own_ous: StrictBool = Field(
        default=False,
        description="mlgov creates and manages the OUs of organization.organizational_units (name, parent, tags). "
        "False: they are referenced by id only (e.g. Control Tower owns them).",
    )
    adopt_ous: StrictBool = Field(
        default=False,
        description="With own_ous: the OUs already exist with the ids in organization.organizational_units; the "
        "management stack carries Terraform import blocks, so the first apply adopts them instead of failing on "
        "duplicates (the blocks are no-ops once the OUs are in the state).",
    )
    service_catalog_access: StrictBool = Field(
        default=True,
        description="Enable Service Catalog's AWS Organizations access and register the hub as its delegated "
        "administrator "
        "(needed to share portfolios to OUs).",
    )
    stacksets_delegated_admin: StrictBool = Field(
        default=False,
        description="Register the hub as delegated administrator for CloudFormation StackSets "
        "(trusted access itself is activated with `aws cloudformation activate-organizations-access`; `doctor` checks "
        "it).",
    )
    guardrails: Guardrails = Field(default_factory=Guardrails, description="Service control policies.")
    cost_allocation_tags: StrictBool = Field(
        default=False,
        description="Activate the cost allocation tags in Billing (mlgov:team, mlgov:account, the organization's, "
        "the cost tags and every team tag key). AWS activates a key only once it has seen it on a resource, up to "
        "24 hours after the first apply of the stacks that tag: turn this on then (docs/cost.md).",
    )
    vending: Vending = Field(
        default_factory=Vending,
        description="Creating, adopting and retiring the accounts that carry an `email` (docs/day-zero.md).",
    )
