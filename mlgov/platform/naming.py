"""The one place that turns spec names into Terraform addresses and AWS physical names.

Construct IDs become Terraform addresses, and physical names become real AWS resources;
both are contracts. Every name is derived here from spec keys (never from list positions),
and every physical name is checked against its AWS limit after prefixes and suffixes are
applied, at validate time, before anything is synthesized.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import Enum

from mlgov.spec.model import Layer, OrgSpec


class Kind(Enum):
    """AWS name kinds with their documented limits: (max length, allowed pattern, wording)."""

    S3_BUCKET = (63, r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", "3-63 characters of a-z 0-9 . -")
    IAM_ROLE = (64, r"^[\w+=,.@-]{1,64}$", "1-64 characters of A-Z a-z 0-9 +=,.@_-")
    # Members with equal values would be aliases (Kind.SCP is Kind.IAM_POLICY): keep the wordings distinct.
    IAM_POLICY = (128, r"^[\w+=,.@-]{1,128}$", "1-128 characters of A-Z a-z 0-9 and +=,.@_-")
    KMS_ALIAS = (256, r"^alias/[a-zA-Z0-9/_-]{1,250}$", "alias/ + 1-250 characters of A-Z a-z 0-9 /_-")
    SAGEMAKER = (63, r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$", "1-63 characters of A-Z a-z 0-9 and inner -")
    EVENT_BUS = (256, r"^[\w.-]{1,256}$", "1-256 characters of A-Z a-z 0-9 ._-")
    EVENT_RULE = (64, r"^[\w.-]{1,64}$", "1-64 characters of A-Z a-z 0-9 ._-")
    SQS_QUEUE = (80, r"^[\w-]{1,80}$", "1-80 characters of A-Z a-z 0-9 _-")
    LAMBDA = (64, r"^[\w-]{1,64}$", "1-64 characters of A-Z a-z 0-9 _-")
    CODEPIPELINE = (100, r"^[A-Za-z0-9.@_-]{1,100}$", "1-100 characters of A-Z a-z 0-9 .@_-")
    CODEBUILD = (150, r"^[A-Za-z0-9][A-Za-z0-9_-]{1,149}$", "2-150 characters of A-Z a-z 0-9 _-")
    CODECONNECTION = (32, r"^[A-Za-z0-9.@_-]{1,32}$", "1-32 characters of A-Z a-z 0-9 .@_-")
    LOG_GROUP = (512, r"^[\w#/.-]{1,512}$", "1-512 characters of A-Z a-z 0-9 _-/.#")
    SERVICE_CATALOG = (100, r"^.{1,100}$", "1-100 characters")
    CLOUDFORMATION_STACK = (
        128,
        r"^[a-zA-Z][a-zA-Z0-9-]{0,127}$",
        "1-128 characters of A-Z a-z 0-9 -, starting with a letter",
    )
    SCP = (128, r"^[\w+=,.@-]{1,128}$", "1-128 characters of A-Z a-z 0-9 +=,.@_-")
    GLUE = (255, r"^[a-z0-9_]{1,255}$", "1-255 characters of a-z 0-9 _")
    ATHENA_WORKGROUP = (128, r"^[a-zA-Z0-9._-]{1,128}$", "1-128 characters of A-Z a-z 0-9 ._-")
    ECR_REPOSITORY = (
        256,
        r"^[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*$",
        "2-256 characters of a-z 0-9 ._-/ in slash-separated parts",
    )
    SNS_TOPIC = (256, r"^[\w-]{1,256}$", "1-256 characters of A-Z a-z 0-9 _-")
    CLOUDWATCH_ALARM = (255, r"^[\w.-]{1,255}$", "1-255 characters of A-Z a-z 0-9 ._-")

    @property
    def limit(self) -> int:
        return self.value[0]

    @property
    def pattern(self) -> str:
        return self.value[1]

    @property
    def rule(self) -> str:
        return self.value[2]


@dataclass(frozen=True)
class PhysicalName:
    """A name mlgov will give a real AWS resource, and the spec field it derives from."""

    spec_path: tuple[str | int, ...]
    kind: Kind
    name: str

    def problem(self) -> str | None:
        """Why AWS would refuse this name, or None if it is acceptable."""
        if len(self.name) > self.kind.limit or not re.match(self.kind.pattern, self.name):
            return (
                f"derived {self.kind.name.lower().replace('_', ' ')} name {self.name!r} is invalid "
                f"({len(self.name)} characters; expected {self.kind.rule}); shorten the name"
            )
        if self.kind is Kind.S3_BUCKET and (".." in self.name or re.match(r"^\d+\.\d+\.\d+\.\d+$", self.name)):
            return f"derived s3 bucket name {self.name!r} is invalid (no '..' and no IP-address form)"
        return None


# --- Terraform addresses -------------------------------------------------------------


def construct_id(*parts: str) -> str:
    """A construct ID (and so a Terraform address fragment) from spec names.

    Spec names are already restricted to ``[a-z0-9-]``; hyphens become underscores so the
    address reads like hand-written Terraform (``aws_iam_role.team_fraud_data_scientist``).
    """
    return "_".join(p.replace("-", "_") for p in parts if p)


def free_text_id(*parts: str) -> str:
    """Address fragment from free text (tag keys, role patterns): keep ``[a-z0-9_]`` only.

    Not injective (``Team`` and ``team``, ``*sagemaker*`` and ``sagemaker`` give one id), so
    every use is listed in :mod:`mlgov.platform.addresses` and collisions are refused at
    validate time.
    """
    return re.sub(r"_+", "_", re.sub(r"[^a-z0-9_]", "_", construct_id(*parts).lower())).strip("_")


def moved_id(former: str | None, *parts: str) -> str | None:
    """The construct id ``construct_id(former, *parts)`` had before a rename, or None when the
    name was not renamed (``former`` is a ``renamed_from``); for :func:`mlgov.modules.blocks.named`."""
    return construct_id(former, *parts) if former else None


# --- Renames: the spec key changes, the AWS names stay --------------------------------
#
# A team, portfolio or product renamed with ``renamed_from`` keeps every physical name it had
# (roles, model package groups, pipelines, rules, endpoints, template objects): AWS cannot
# rename them, so a new name would replace them (and lose what they hold). Terraform
# addresses follow the new key, with ``moved`` blocks from the old one.


def team_label(spec: OrgSpec, team: str) -> str:
    """The name a team's AWS resources carry: its ``renamed_from`` if it was renamed, else its
    key (also for a placeholder such as ``${TeamName}``, which is no key)."""
    found = spec.teams.get(team)
    return found.renamed_from if found is not None and found.renamed_from else team


def account_label(spec: OrgSpec, account_key: str) -> str:
    """The account key its AWS names and tags carry (network names, ``mlgov:account``): its
    ``renamed_from`` if it was renamed. Its stacks keep their state too (``StackRef.state``)."""
    return spec.accounts[account_key].renamed_from or account_key


def by_label(spec: OrgSpec, teams: Iterable[str]) -> list[str]:
    """Team keys sorted by the names their AWS resources carry, so that a rename reorders no
    statement of a policy that lists several teams (the policy stays byte for byte)."""
    return sorted(teams, key=lambda team: (team_label(spec, team), team))


def former_team(spec: OrgSpec, team: str) -> str | None:
    """The team's previous key, if it was renamed (the source of its ``moved`` blocks)."""
    return spec.teams[team].renamed_from


def former_portfolio(spec: OrgSpec, portfolio: str) -> str | None:
    """The portfolio's previous key, if it was renamed."""
    catalog = spec.service_catalog
    found = catalog.portfolios.get(portfolio) if catalog is not None else None
    return found.renamed_from if found is not None else None


def former_product(spec: OrgSpec, portfolio: str, product: str) -> str | None:
    """The product's previous key in its portfolio, if it was renamed."""
    assert spec.service_catalog is not None
    return spec.service_catalog.portfolios[portfolio].products[product].renamed_from


def portfolio_label(spec: OrgSpec, portfolio: str) -> str:
    """The portfolio key its AWS names and template paths carry (``renamed_from`` when renamed)."""
    return former_portfolio(spec, portfolio) or portfolio


def product_label(spec: OrgSpec, portfolio: str, product: str) -> str:
    """The product key its template paths carry (``renamed_from`` when renamed)."""
    return former_product(spec, portfolio, product) or product


# --- Physical names ------------------------------------------------------------------


def bucket_name(spec: OrgSpec, account_key: str, region: str, purpose: str) -> str:
    """Globally unique bucket name: org prefix, purpose, account id and region."""
    return f"{spec.organization.name}-{purpose}-{spec.accounts[account_key].id}-{region}"


def team_pipeline_bucket(spec: OrgSpec, team: str, region: str | None = None) -> str:
    """The artifact store of a team's deploy pipelines in the hub (``<org>-pipeline-<team label>-<hub
    id>-<region>``, by default the hub region's): one per team, so no team's roles can write another
    team's run artifacts (CodePipeline names an artifact's folder after the pipeline, cut to 20
    characters: no prefix a policy could rely on). The label, not the key: a renamed team keeps
    its bucket. A team with a stage in another region has one more store there (CodePipeline
    copies a cross-region action's input artifacts into the store of the action's region)."""
    return bucket_name(spec, spec.hub, region or hub_region(spec), f"pipeline-{team_label(spec, team)}")


def bucket_name_pattern(spec: OrgSpec, purpose: str) -> str:
    """Every account's and region's ``purpose`` bucket (``<org>-<purpose>-*``)."""
    return f"{spec.organization.name}-{purpose}-*"


def role_name(spec: OrgSpec, purpose: str) -> str:
    """IAM role name within one account: org prefix + purpose."""
    return f"{spec.organization.name}-{purpose}"


def team_budget(spec: OrgSpec, team: str) -> str:
    """AWS Budgets name of a team's dev account budget (management account): ``<org>-<team>-dev``."""
    return f"{spec.organization.name}-{team_label(spec, team)}-dev"


def budget_action_role(spec: OrgSpec) -> str:
    """The role AWS Budgets' actions run as in the management account."""
    return role_name(spec, "budget-action")


def kms_alias(spec: OrgSpec, purpose: str) -> str:
    """KMS alias: ``alias/<org>/<purpose>``."""
    return f"alias/{spec.organization.name}/{purpose}"


def resource_name(spec: OrgSpec, *parts: str) -> str:
    """Generic hyphenated physical name with the org prefix (queues, buses, rules, functions)."""
    return "-".join((spec.organization.name,) + tuple(p for p in parts if p))


TERRAFORM_PLAN_SUFFIX = "-plan"


def terraform_plan_role(spec: OrgSpec) -> str:
    """The read-only role every account has beside the Terraform role (``terraform.role_name``): the CI's
    pull-request plans and drift plans run as it, so a pull request's token never holds the role that applies."""
    return f"{spec.terraform.role_name}{TERRAFORM_PLAN_SUFFIX}"


def catalog_launch_role(spec: OrgSpec, portfolio: str) -> str:
    """Local role name of one portfolio's Service Catalog launch constraints (one role per portfolio
    in each dev account: a launch runs only with the rights of its own portfolio's products)."""
    return role_name(spec, f"catalog-launch-{portfolio_label(spec, portfolio)}")


def product_boundary(spec: OrgSpec) -> str:
    """Managed policy every role the launch role creates must carry as its permissions boundary
    (created by the dev stack beside the launch role, outside the product prefix)."""
    return role_name(spec, "catalog-product-boundary")


def product_role_prefix(spec: OrgSpec) -> str:
    """Prefix of every name a product template gives an IAM role, policy or function (``<org>-sc-``);
    the launch role's own name lies outside it."""
    return role_name(spec, "sc-")


# Roles the product templates create, by purpose, with the services they are passed to.
# Their names are FIXED per account (like AWS's own AmazonSageMakerServiceCatalogProductsUseRole),
# never built from launch-time parameters, so the launch role can pass exactly these ARNs.
# The price: one Studio domain per dev account (the platform's design).
PRODUCT_ROLES = {
    "studio-exec": "sagemaker.amazonaws.com",  # the domain's default execution role
    "data-scientist": "sagemaker.amazonaws.com",  # persona role (user profiles)
    "lead-data-scientist": "sagemaker.amazonaws.com",  # persona role, may approve models
    "model-build": "sagemaker.amazonaws.com",  # every model build project's pipeline and jobs
    "projects": "lambda.amazonaws.com",  # the custom resource enabling SageMaker Projects
}


# Roles only the v1 products create: from v2 on, Studio runs as the team's Terraform persona
# roles (team_role). The launch role may still delete them (an update to v2 removes them) but
# no longer passes them.
V1_ONLY_PRODUCT_ROLES = ("studio-exec", "data-scientist", "lead-data-scientist")


def product_role(spec: OrgSpec, purpose: str) -> str:
    """Fixed name of a role a product template creates (``<org>-sc-<purpose>``)."""
    if purpose not in PRODUCT_ROLES:
        raise KeyError(f"unknown product role {purpose!r} (expected one of {sorted(PRODUCT_ROLES)})")
    return product_role_prefix(spec) + purpose


def product_roles(spec: OrgSpec) -> dict[str, str]:
    """Every product role's fixed name, by purpose (the template view model and the launch role use it)."""
    return {purpose: product_role(spec, purpose) for purpose in sorted(PRODUCT_ROLES)}


def product_studio_policy(spec: OrgSpec) -> str:
    """Managed policy the domain product attaches to its Studio roles."""
    return product_role_prefix(spec) + "studio"


def product_projects_function(spec: OrgSpec) -> str:
    """Lambda function (and log group suffix) of the domain product's Projects custom resource."""
    return product_role(spec, "projects")


def catalog_template_key(portfolio: str, product: str, version: str) -> str:
    """Relative path (under generated/ and in the template bucket) of one rendered product version."""
    return f"products/{portfolio}/{product}/{version}.yaml"


def product_template_key(spec: OrgSpec, portfolio: str, product: str, version: str) -> str:
    """:func:`catalog_template_key` of a product version by its spec keys (their labels: a
    renamed product's released bytes stay where they were released)."""
    return catalog_template_key(portfolio_label(spec, portfolio), product_label(spec, portfolio, product), version)


def catalog_names(spec: OrgSpec) -> Iterator[PhysicalName]:
    """Physical names of the Service Catalog feature (hub bucket and key, launch role, products)."""
    catalog = spec.service_catalog
    if catalog is None or not catalog.portfolios:
        return
    hub = spec.hub
    for region in spec.account_regions(hub):
        yield PhysicalName(("service_catalog",), Kind.S3_BUCKET, bucket_name(spec, hub, region, "catalog"))
    yield PhysicalName(("service_catalog",), Kind.KMS_ALIAS, kms_alias(spec, "catalog"))
    for pkey in sorted(catalog.portfolios):
        yield PhysicalName(("service_catalog", "portfolios", pkey), Kind.IAM_ROLE, catalog_launch_role(spec, pkey))
    for role in product_roles(spec).values():
        yield PhysicalName(("service_catalog",), Kind.IAM_ROLE, role)
    yield PhysicalName(("service_catalog",), Kind.IAM_POLICY, product_studio_policy(spec))
    yield PhysicalName(("service_catalog",), Kind.IAM_POLICY, product_boundary(spec))
    yield PhysicalName(("service_catalog",), Kind.LAMBDA, product_projects_function(spec))
    yield PhysicalName(("service_catalog",), Kind.LOG_GROUP, f"/aws/lambda/{product_projects_function(spec)}")
    for pkey, portfolio in sorted(catalog.portfolios.items()):
        ppath = ("service_catalog", "portfolios", pkey)
        yield PhysicalName(ppath + ("display_name",), Kind.SERVICE_CATALOG, portfolio.display_name)
        for key, product in sorted(portfolio.products.items()):
            yield PhysicalName(ppath + ("products", key, "display_name"), Kind.SERVICE_CATALOG, product.display_name)


# --- Model governance flow (#4) ------------------------------------------------------

# Longest suffix the endpoint template appends to an endpoint name for its model and
# endpoint config ("-v<package version>-<settings hash>"); reserved in the length check.
ENDPOINT_SUFFIX_EXAMPLE = "-v999999-0123abcd"


def primary_region(spec: OrgSpec, account_key: str) -> str:
    """The one region of an account that holds its governance resources (IAM roles are global)
    and its unsuffixed stack: :meth:`OrgSpec.primary_region`."""
    return spec.primary_region(account_key)


def hub_region(spec: OrgSpec) -> str:
    """Region of the hub's governance resources (central bus, registry, pipelines)."""
    return primary_region(spec, spec.hub)


def stage_region(spec: OrgSpec, account_key: str) -> str:
    """Region a stage account's endpoints run in (its primary region): the region of the hub
    pipeline's deploy action for that stage, which may differ from :func:`hub_region`."""
    return primary_region(spec, account_key)


def team_remote_regions(spec: OrgSpec, team: str) -> list[str]:
    """Regions other than the hub's where a team has a stage: each needs an artifact store of
    the team's pipelines, a replica of the promoted artifacts and of the team's images."""
    hub = hub_region(spec)
    regions = {stage_region(spec, s.account) for s in spec.teams[team].stages if s.account in spec.accounts}
    return sorted(regions - {hub})


def remote_regions(spec: OrgSpec) -> list[str]:
    """Every region other than the hub's where some team has a stage (:func:`team_remote_regions`)."""
    return sorted({r for team in spec.teams for r in team_remote_regions(spec, team)})


def region_alias(region: str) -> str:
    """The alias of a stack's AWS provider for ``region`` (``eu_central_1``), used in the
    resources' addresses too: one name per region, never a position."""
    return construct_id(region)


def model_package_group(spec: OrgSpec, team: str, group: str) -> str:
    """A team's model package group in its dev account registry."""
    return resource_name(spec, team_label(spec, team), group)


def central_model_package_group(spec: OrgSpec, team: str, group: str) -> str:
    """The hub's copy of a dev group: ``<group>-<source account id>``."""
    return f"{model_package_group(spec, team, group)}-{spec.accounts[spec.teams[team].dev_account].id}"


# SSM parameters each account's stack writes so that products, pipelines and templates find
# the account's network, team, roles and keys at launch time instead of carrying them in
# their bodies (a released product version then never changes when teams or accounts do).
# The contract between the stacks (writers) and the product templates (readers):
PARAMETERS = {
    ("network", "vpc-id"): "String: the account's VPC",
    ("network", "subnet-ids"): "StringList: private subnets for Studio, jobs and endpoints",
    ("network", "security-group-ids"): "StringList: the security group(s) for Studio, jobs and endpoints",
    ("team", "name"): "String: the team that owns this dev account",
    ("team", "model-package-groups"): "StringList: the team's governed model package groups",
    # Added for the v2 products (written by the dev stack beside team/name):
    ("team", "models-bucket"): "String: the team's models bucket (the hub's promotion role reads it)",
    ("team", "models-key-arn"): "String: ARN of the key of that bucket",
    ("cost-tags", "environment"): "String: value of the environment cost tag in this account",
    ("cost-tags", "finance-owner"): "String: value of the finance-owner cost tag in this account",
    ("cost-tags", "business-unit"): "String: value of the business-unit cost tag (the team's, if it has one)",
    ("cost-tags", "cost-center"): "String: value of the cost-center cost tag in this account",
    # Governed data (docs/data.md), written by every team's dev stack, also when nothing is shared:
    ("data", "athena-workgroup"): "String: the team's Athena workgroup (enforced settings, encrypted results)",
    ("data", "training-source"): (
        "String: the team's training data: glue:<database>.<table> (database = the resource link), "
        "feature-group:<name>, or none"
    ),
    # Model-build repositories (accounts.<key>.source; written by dev stacks that declare one):
    ("source", "connection-arn"): "String: ARN of the account's CodeConnections connection to its Git provider",
    ("source", "owner"): "String: organization, group or workspace that owns the model-build repositories",
    ("source", "branch"): "String: default branch whose pushes rerun a model-build project's pipeline",
}

# SSM parameters a PRODUCT writes (not a stack) for other products to read.
PRODUCT_PARAMETERS = {
    ("studio", "domain-id"): "String: id of the account's Studio domain (written by the studio-domain product, v2)",
}


def ssm_parameter(spec: OrgSpec, *parts: str) -> str:
    """Name of an SSM parameter the platform writes for products to read: ``/<org>/<parts>``."""
    return "/" + "/".join((spec.organization.name, *parts))


def team_role(spec: OrgSpec, team: str, purpose: str) -> str:
    """A role that belongs to one team (persona, forwarder, pipeline, deploy roles)."""
    return role_name(spec, f"{team_label(spec, team)}-{purpose}")


def persona_role_pattern(spec: OrgSpec, persona: str) -> str:
    """Role-name pattern of one persona's role in every team, ``<org>-*-<persona>``: the
    :func:`team_role` scheme with the team left open. ``*`` may stand for any text (``/`` too, as
    Service Catalog's IAM_PATTERN and IAM's ARN matching both read it), so
    :func:`mlgov.validation.catalog.persona_pattern_problems` refuses names that would make the
    pattern match another role, and the ``protect_audit`` SCP keeps the name to Terraform."""
    return team_role(spec, "*", persona)


# The tag every team-owned role carries (its value: the team's label). Constant-size policies
# scope a team's roles to the team's prefixes with the policy variable of this tag.
TEAM_TAG = "mlgov:team"


# The team roles that resource policies in the hub and the stage accounts admit from any account
# of the organization by name pattern (``<org>-*-<purpose>``, mlgov.platform.iam.common.team_roles_in_org):
# whoever may create a role of such a name in any account gets that access, so the ``protect_audit``
# SCP keeps these names to Terraform (mlgov.platform.guardrails, DenyPersonaRoleNamesButTerraform).
ORG_TRUSTED_PURPOSES = (
    "data-scientist",
    "deploy",
    "endpoint",
    "endpoint-tester",
    "event-forwarder",
    "lead-data-scientist",
    "monitoring",
)


def team_role_pattern(spec: OrgSpec, purpose: str) -> str:
    """Name pattern of every team's ``purpose`` role (``<org>-*-<purpose>``): what a policy that
    must not grow with the number of teams matches instead of naming each team's role."""
    return role_name(spec, f"*-{purpose}")


def artifact_prefix(spec: OrgSpec, team: str, group: str) -> str:
    """Key prefix of a central group's artifacts in the hub's artifact bucket:
    ``<team label>/<central group>`` (the team's label first, so one statement with the
    team-tag policy variable scopes every team's roles to their own team's artifacts)."""
    return f"{team_label(spec, team)}/{central_model_package_group(spec, team, group)}"


def source_connection(spec: OrgSpec, account_key: str) -> str:
    """The dev account's CodeConnections connection: ``<org>-<provider>`` (one per account)."""
    source = spec.accounts[account_key].source
    assert source is not None
    return resource_name(spec, source.provider.value.lower())


# Roles of a team's model-build CI (the dev stack creates them under the catalog's permissions
# boundary; every model-build project of the team passes them to its CodeBuild project and
# CodePipeline pipeline), by purpose, with the service each is passed to.
BUILD_ROLES = {"codebuild": "codebuild.amazonaws.com", "codepipeline": "codepipeline.amazonaws.com"}


def central_bus(spec: OrgSpec) -> str:
    return resource_name(spec, "model-governance")


def approval_forward_rule(spec: OrgSpec, team: str) -> str:
    """Dev default-bus rule forwarding approvals to the central bus."""
    return resource_name(spec, team_label(spec, team), "model-approved")


def promotion_function(spec: OrgSpec) -> str:
    return resource_name(spec, "model-promotion")


def promotion_rule(spec: OrgSpec) -> str:
    return resource_name(spec, "promote-approved-models")


def deploy_pipeline(spec: OrgSpec, team: str, group: str) -> str:
    return resource_name(spec, team_label(spec, team), group, "deploy")


def select_project(spec: OrgSpec, team: str, group: str) -> str:
    """CodeBuild project that picks the newest approved central package."""
    return resource_name(spec, team_label(spec, team), group, "select")


def central_approval_rule(spec: OrgSpec, team: str, group: str) -> str:
    return resource_name(spec, team_label(spec, team), group, "approved")


def endpoint_name(spec: OrgSpec, team: str, group: str) -> str:
    return resource_name(spec, team_label(spec, team), group)


def endpoint_tests_project(spec: OrgSpec, team: str, group: str) -> str:
    """CodeBuild project of a group's endpoint tests in a staging account (the endpoint stack's)."""
    return resource_name(spec, team_label(spec, team), group, "tests")


def endpoint_stack(spec: OrgSpec, team: str, group: str) -> str:
    """CloudFormation stack the pipeline deploys the endpoint with, in each stage account."""
    return resource_name(spec, team_label(spec, team), group, "endpoint")


def team_image_repository(spec: OrgSpec, team: str) -> str:
    """The team's ECR repository in the hub (``<org>/<team>``): dev pushes, test and prod pull."""
    return f"{spec.organization.name}/{team_label(spec, team)}"


def image_repository_uri(spec: OrgSpec, team: str) -> str:
    """Registry host and repository of the team's images (what a package's ``Image`` starts with)."""
    region = hub_region(spec)
    return f"{spec.accounts[spec.hub].id}.dkr.ecr.{region}.amazonaws.com/{team_image_repository(spec, team)}"


def monitoring_topic(spec: OrgSpec, team: str) -> str:
    """SNS topic of a team's monitoring alarms in each stage account it is monitored in."""
    return resource_name(spec, team_label(spec, team), "monitoring")


def monitoring_bucket(spec: OrgSpec, account_key: str) -> str:
    """Bucket of the monitoring reports of a stage account (one prefix per team)."""
    return bucket_name(spec, account_key, primary_region(spec, account_key), "monitoring")


def monitoring_reports_prefix(team: str, group: str, monitor: str) -> str:
    """Key prefix of one monitor's reports in the monitoring bucket: ``<team>/<group>/<monitor>``."""
    return f"{team}/{group}/{monitor}"


def monitoring_schedule(spec: OrgSpec, team: str, group: str, monitor: str) -> str:
    """Monitoring schedule of an endpoint (``monitor``: data-quality, model-quality or bias)."""
    return f"{endpoint_name(spec, team, group)}-{MONITOR_SHORT[monitor]}"


# Short forms in schedule names (SageMaker names stop at 63 characters).
MONITOR_SHORT = {"data-quality": "dq", "model-quality": "mq", "bias": "bias"}


def endpoint_alarm(spec: OrgSpec, team: str, group: str, what: str) -> str:
    """CloudWatch alarm of an endpoint (``what``: 5xx, latency, drift-<feature>, quality)."""
    return f"{endpoint_name(spec, team, group)}-{what}"


def batch_pipeline(spec: OrgSpec, team: str, group: str) -> str:
    """SageMaker pipeline (in each batch stage account) that runs a transform job with the deployed model."""
    return resource_name(spec, team_label(spec, team), group, "batch")


def batch_bucket_prefix(team: str, group: str) -> str:
    """Prefix of a group's batch input and output in the stage account's platform bucket."""
    return f"batch/{team}/{group}"


def dlq(rule_or_function: str) -> str:
    """Dead-letter queue of a rule target or function."""
    return f"{rule_or_function}-dlq"


def governance_names(spec: OrgSpec) -> Iterator[PhysicalName]:
    """Every physical name of the governance flow, with the spec path it derives from."""
    hub = spec.hub
    region = hub_region(spec)
    path = ("accounts", hub)
    for kind, name in (
        (Kind.EVENT_BUS, central_bus(spec)),
        (Kind.EVENT_RULE, promotion_rule(spec)),
        (Kind.SQS_QUEUE, dlq(promotion_rule(spec))),
        (Kind.LAMBDA, promotion_function(spec)),
        (Kind.SQS_QUEUE, dlq(promotion_function(spec))),
        (Kind.IAM_ROLE, role_name(spec, "model-promotion")),
        (Kind.IAM_ROLE, role_name(spec, "ml-engineer")),
        (Kind.IAM_ROLE, role_name(spec, "governance-officer")),
        (Kind.LOG_GROUP, f"/aws/lambda/{promotion_function(spec)}"),
        (Kind.S3_BUCKET, bucket_name(spec, hub, region, "model-artifacts")),
        (Kind.S3_BUCKET, bucket_name(spec, hub, region, "deploy-pipelines")),
        (Kind.KMS_ALIAS, kms_alias(spec, "model-artifacts")),
        (Kind.KMS_ALIAS, kms_alias(spec, "images")),
    ):
        yield PhysicalName(path, kind, name)
    stage_accounts = sorted({s.account for t in spec.teams.values() for s in t.stages if s.account in spec.accounts})
    for account_key in stage_accounts:
        yield PhysicalName(("accounts", account_key), Kind.S3_BUCKET, monitoring_bucket(spec, account_key))
    for team_name, team in sorted(spec.teams.items()):
        tpath = ("teams", team_name)
        for purpose in (
            "data-scientist",
            "lead-data-scientist",
            "sagemaker-execution",
            "event-forwarder",
            "deploy-pipeline",
            "start-deploy",
            "select-model",
            "deploy",
            "endpoint-deployer",
            "endpoint",
            "monitoring",
            "batch",
        ):
            yield PhysicalName(tpath, Kind.IAM_ROLE, team_role(spec, team_name, purpose))
        yield PhysicalName(tpath, Kind.ECR_REPOSITORY, team_image_repository(spec, team_name))
        yield PhysicalName(tpath, Kind.SNS_TOPIC, monitoring_topic(spec, team_name))
        if hub in spec.accounts:
            yield PhysicalName(tpath, Kind.S3_BUCKET, team_pipeline_bucket(spec, team_name))

        yield PhysicalName(tpath, Kind.EVENT_RULE, approval_forward_rule(spec, team_name))
        if spec.accounts[team.dev_account].source is not None:
            spath = ("accounts", team.dev_account, "source")
            yield PhysicalName(spath, Kind.CODECONNECTION, source_connection(spec, team.dev_account))
            for purpose in BUILD_ROLES:
                yield PhysicalName(spath, Kind.IAM_ROLE, team_role(spec, team_name, purpose))
        yield PhysicalName(tpath, Kind.SQS_QUEUE, dlq(approval_forward_rule(spec, team_name)))
        dev = team.dev_account
        for dev_region in spec.account_regions(dev):
            yield PhysicalName(
                ("teams", team_name, "dev_account"), Kind.S3_BUCKET, bucket_name(spec, dev, dev_region, "models")
            )
        yield PhysicalName(("teams", team_name, "dev_account"), Kind.KMS_ALIAS, kms_alias(spec, "models"))
        watch = team.governance.monitoring
        monitor_infix = "-bias" if watch.bias else "-mq" if watch.model_quality else ""
        for i, group in enumerate(team.governance.model_package_groups):
            gpath = ("teams", team_name, "governance", "model_package_groups", i)
            for kind, name in (
                (Kind.SAGEMAKER, model_package_group(spec, team_name, group)),
                (Kind.SAGEMAKER, central_model_package_group(spec, team_name, group)),
                (Kind.CODEPIPELINE, deploy_pipeline(spec, team_name, group)),
                (Kind.CODEBUILD, select_project(spec, team_name, group)),
                (Kind.EVENT_RULE, central_approval_rule(spec, team_name, group)),
                (Kind.SQS_QUEUE, dlq(central_approval_rule(spec, team_name, group))),
                # Models and endpoint configs are "<endpoint>-v<version>-<hash>"; a model-quality
                # or bias monitor's job definition inserts "-mq" or "-bias": the longest is checked.
                (Kind.SAGEMAKER, endpoint_name(spec, team_name, group) + monitor_infix + ENDPOINT_SUFFIX_EXAMPLE),
                (Kind.CLOUDFORMATION_STACK, endpoint_stack(spec, team_name, group)),
                (Kind.SAGEMAKER, batch_pipeline(spec, team_name, group)),
                *(
                    (Kind.SAGEMAKER, monitoring_schedule(spec, team_name, group, m))
                    for m in ("data-quality", "model-quality", "bias")
                ),
                (Kind.CLOUDWATCH_ALARM, endpoint_alarm(spec, team_name, group, "latency")),
            ):
                yield PhysicalName(gpath, kind, name)


# --- Governed data (#16) -------------------------------------------------------------


def data_account(spec: OrgSpec) -> str | None:
    """Key of the data (lake) account, if the spec has one (validation allows at most one)."""
    keys = spec.keys_in_layer(Layer.data)
    return keys[0] if keys else None


def data_region(spec: OrgSpec) -> str:
    """Region of the lake, the feature store and every grant: the data account's primary region."""
    account = data_account(spec)
    if account is None:
        raise KeyError("the spec has no account of layer 'data'")
    return primary_region(spec, account)


def lake_bucket(spec: OrgSpec) -> str:
    """The lake's bucket in the data account (registered with Lake Formation)."""
    return bucket_name(spec, data_account(spec) or "", data_region(spec), "lake")


def feature_store_bucket(spec: OrgSpec) -> str:
    """The feature store's offline store bucket in the data account."""
    return bucket_name(spec, data_account(spec) or "", data_region(spec), "feature-store")


def lake_access_role(spec: OrgSpec) -> str:
    """Role Lake Formation assumes to read and write the registered buckets for its grantees."""
    return role_name(spec, "lake-data-access")


def feature_store_role(spec: OrgSpec) -> str:
    """Role SageMaker Feature Store assumes to write the offline store."""
    return role_name(spec, "feature-store")


def feature_group(spec: OrgSpec, group: str) -> str:
    """A feature group's name: ``<org>-<group>``."""
    return resource_name(spec, group)


def feature_store_database(spec: OrgSpec) -> str:
    """Glue database of the offline stores' tables in the data account."""
    return f"{spec.organization.name}_feature_store".replace("-", "_")


def feature_group_table(group: str) -> str:
    """Glue table of a feature group's offline store (in :func:`feature_store_database`)."""
    return group.replace("-", "_")


def resource_link(database: str) -> str:
    """Name of a dev account's resource link to a shared database: the database's own name,
    so a query reads the same in every account."""
    return database


def athena_workgroup(spec: OrgSpec, team: str) -> str:
    """The team's Athena workgroup in its dev account."""
    return resource_name(spec, team_label(spec, team), "data")


def athena_results_prefix(team: str) -> str:
    """Key prefix of the team's Athena results in its dev account's platform bucket."""
    return f"athena-results/{team}/"


def data_names(spec: OrgSpec) -> Iterator[PhysicalName]:
    """Physical names of the data account and of the teams' data access."""
    for team_name in sorted(spec.teams):
        yield PhysicalName(("teams", team_name), Kind.ATHENA_WORKGROUP, athena_workgroup(spec, team_name))
    account = data_account(spec)
    if account is None:
        return
    path = ("accounts", account)
    yield PhysicalName(path, Kind.S3_BUCKET, lake_bucket(spec))
    yield PhysicalName(path, Kind.KMS_ALIAS, kms_alias(spec, "lake"))
    yield PhysicalName(path, Kind.IAM_ROLE, lake_access_role(spec))
    store = spec.data.feature_store if spec.data else None
    if store is not None:
        fpath = ("data", "feature_store")
        yield PhysicalName(fpath, Kind.S3_BUCKET, feature_store_bucket(spec))
        yield PhysicalName(fpath, Kind.KMS_ALIAS, kms_alias(spec, "feature-store"))
        yield PhysicalName(fpath, Kind.IAM_ROLE, feature_store_role(spec))
        yield PhysicalName(fpath, Kind.GLUE, feature_store_database(spec))
        for group in sorted(store.feature_groups):
            yield PhysicalName(fpath + ("feature_groups", group), Kind.SAGEMAKER, feature_group(spec, group))


def planned_names(spec: OrgSpec) -> Iterator[PhysicalName]:
    """Every physical name the stacks will create, for the length/charset check at validate time.

    Each layer that creates a named resource lists its name here, built with the same helper
    the construct uses, so the check cannot drift from the output.
    """
    for ref in spec.stack_refs():
        if ref.is_slice:  # a team slice has no baseline of its own
            continue
        path = ("accounts", ref.account)
        yield PhysicalName(path, Kind.S3_BUCKET, bucket_name(spec, ref.account, ref.region, "platform"))
        yield PhysicalName(path, Kind.KMS_ALIAS, kms_alias(spec, "platform"))
    yield PhysicalName(("terraform", "role_name"), Kind.IAM_ROLE, spec.terraform.role_name)
    yield PhysicalName(("terraform", "role_name"), Kind.IAM_ROLE, terraform_plan_role(spec))
    yield from catalog_names(spec)
    yield from governance_names(spec)
    yield from data_names(spec)
