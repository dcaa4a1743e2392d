"""Service Catalog products: view models from the spec, rendered templates, immutability.

Every product version renders ``templates/<template>.yaml.j2`` with a view model built here
from the validated spec, into ``generated/products/<portfolio>/<product>/<version>.yaml``.
The hub stack uploads the same text (:func:`product_artifacts`), so what Service Catalog
serves is byte-for-byte what is committed in ``generated/``.

A released version is immutable: :func:`released_changes` compares a rendered tree with the
output directory and names every version whose bytes would change.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import yaml

from mlgov.errors import MlgovError
from mlgov.platform import naming, pipeline
from mlgov.platform.quotas import QUOTAS
from mlgov.platform.templates import released_path, released_target, render_template
from mlgov.spec.catalog import Persona, Portfolio, Product, ProductVersion
from mlgov.spec.memo import cached, grouped
from mlgov.spec.memo import memo as spec_memo
from mlgov.spec.model import Layer, OrgSpec

PRODUCTS_DIR = "products"

# IAM_PATTERN principals one portfolio may have (AssociatePrincipalWithPortfolio; a hard limit):
# AWS Service Catalog Administrator Guide, "AWS Service Catalog quotas", and the API reference of
# AssociatePrincipalWithPortfolio ("a maximum of 10 Principals with a portfolio using IAM_PATTERN").
MAX_PORTFOLIO_PRINCIPAL_PATTERNS = QUOTAS["portfolio_iam_pattern_principals"].limit

# Cost tags every product takes as parameters: (parameter name, tag key, CostTags field).
COST_TAGS = (
    ("Environment", "environment", "environment"),
    ("FinanceOwner", "finance-owner", "finance_owner"),
    ("BusinessUnit", "business-unit", "business_unit"),
    ("CostCenter", "cost-center", "cost_center"),
)

# The team's Terraform roles (mlgov/modules/governance_dev.py) v2 products use, by purpose.
TEAM_ROLES = ("data-scientist", "lead-data-scientist", "sagemaker-execution")

# Templates whose projects build from a Git repository (they read the account's source parameters,
# so every team's dev account must declare accounts.<key>.source; see mlgov.validation.repositories).
SOURCE_TEMPLATES = frozenset({"model-build-v3"})

# AWS's Model Monitor analyzer image per region (the account that serves it; AWS's Model Monitor
# documentation lists them). The model-build v3 template maps its region through this table
# unless a project gives MonitorImageUri; a fixed table, so a released version never changes.
MONITOR_IMAGE_ACCOUNTS = {
    "ap-northeast-1": "574779866223",
    "ap-northeast-2": "709848358524",
    "ap-south-1": "126357580389",
    "ap-southeast-1": "245545462676",
    "ap-southeast-2": "563025443158",
    "ca-central-1": "536280801234",
    "eu-central-1": "048819808253",
    "eu-north-1": "895015795356",
    "eu-west-1": "468650794304",
    "eu-west-2": "749857270468",
    "eu-west-3": "680080141114",
    "sa-east-1": "539772159869",
    "us-east-1": "156813124566",
    "us-east-2": "777275614652",
    "us-west-1": "890145073186",
    "us-west-2": "159807026194",
}

# Defaults of template parameters when the spec gives none (`parameters:` overrides them).
BASE_DEFAULTS = {
    "AuthMode": "IAM",
    "ProcessingInstanceType": "ml.m5.xlarge",
    "TrainingInstanceType": "ml.m5.xlarge",
    "EndpointInstanceType": "ml.m5.large",
    "MinimumAuc": "0.7",
    # studio-domain-v3: Studio's idle shutdown (AWS allows 60 to 525,600 minutes).
    "IdleTimeoutInMinutes": "120",
}


@dataclass(frozen=True)
class ProductArtifact:
    """One rendered product version, as the hub stack and generated/ both need it."""

    portfolio: str
    product: str
    version: str
    key: str
    text: str


def persona_role(spec: OrgSpec, persona: Persona) -> str:
    """Fixed name of the persona role the v1 domain product created once per dev account (v1 only)."""
    return naming.product_role(spec, persona.value)


def persona_pattern(spec: OrgSpec, persona: Persona) -> str:
    """The role-name pattern that opens a portfolio to the persona's role of every team
    (``<org>-*-<persona>``): one principal however many teams there are."""
    return naming.persona_role_pattern(spec, persona.value)


def portfolio_principal_patterns(spec: OrgSpec, portfolio_key: str) -> list[str]:
    """Role-name patterns of a portfolio's IAM_PATTERN principal associations, sorted: its own
    ``role_patterns`` and one :func:`persona_pattern` per persona it names. The construct creates
    one association per pattern; validation counts them against
    :data:`MAX_PORTFOLIO_PRINCIPAL_PATTERNS`. The count does not depend on the number of teams."""
    catalog = spec.service_catalog
    assert catalog is not None
    portfolio = catalog.portfolios[portfolio_key]
    return sorted(set(portfolio.role_patterns) | {persona_pattern(spec, p) for p in portfolio.personas})


def persona_patterns(spec: OrgSpec) -> list[str]:
    """Every persona pattern some portfolio opens to (the names the ``protect_audit`` SCP keeps to
    Terraform), sorted."""
    catalog = spec.service_catalog
    portfolios = catalog.portfolios.values() if catalog is not None else []
    return sorted({persona_pattern(spec, p) for portfolio in portfolios for p in portfolio.personas})


def account_teams(spec: OrgSpec, account_id: str) -> list[str]:
    """Teams whose dev account has this id (the launch role of that account serves them)."""
    by_id = cached(
        spec,
        "teams_by_dev_account_id",
        lambda: grouped((spec.accounts[team.dev_account].id, t) for t, team in spec.teams.items()),
    )
    return naming.by_label(spec, by_id.get(account_id, ()))


def team_stages(spec: OrgSpec) -> list[dict[str, str]]:
    """Per dev account: the team and its first test and prod accounts, for deploy defaults."""
    rows = []
    for name, team in sorted(spec.teams.items()):
        first: dict[Layer, str] = {}
        for stage in team.stages:
            layer = spec.accounts[stage.account].layer
            first.setdefault(layer, spec.accounts[stage.account].id)
        rows.append(
            {
                "dev_account_id": spec.accounts[team.dev_account].id,
                "team": naming.team_label(spec, name),  # the name its roles and groups carry
                "test_account_id": first.get(Layer.test, ""),
                "prod_account_id": first.get(Layer.prod, ""),
            }
        )
    return sorted(rows, key=lambda r: r["dev_account_id"])


def pipeline_definition_v1(spec: OrgSpec) -> str:
    """The v1 model-build pipeline: runs as the account's fixed model build role, no VPC, and
    registers into the project's own group with a status the starter may override (frozen).
    Once per spec object (every product version's view model holds it)."""
    return cached(spec, "pipeline_definition_v1", lambda: _pipeline_definition_v1(spec))


def _pipeline_definition_v1(spec: OrgSpec) -> str:
    role = f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/{naming.product_role(spec, 'model-build')}"
    return pipeline.definition(
        pipeline.BuildPipeline(
            role_arn=role, key_arn="${KmsKey.Arn}", bucket="s3://${ArtifactBucket}", group="${SageMakerProjectName}"
        )
    )


def pipeline_definition_v2(spec: OrgSpec) -> str:
    """The v2 model-build pipeline: every job in the account's VPC (subnets and security groups
    from the network SSM parameters) with volume and output keys; the model lands in the team's
    models bucket under its key (the hub's promotion role reads it there) and is registered
    into the team's governed group chosen at launch, always PendingManualApproval. Once per spec
    object, like :func:`pipeline_definition_v1`."""
    return cached(spec, "pipeline_definition_v2", lambda: _pipeline_definition_v2(spec))


def _pipeline_definition_v2(spec: OrgSpec) -> str:
    role = f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/{naming.product_role(spec, 'model-build')}"
    return pipeline.definition(
        pipeline.BuildPipeline(
            role_arn=role,
            key_arn="${KmsKey.Arn}",
            bucket="s3://${ArtifactBucket}",
            group="${ModelPackageGroup}",
            model_path="s3://${ModelsBucket}/projects/${SageMakerProjectName}/models",
            model_key_arn="${ModelsKeyArn}",
            approval_parameter=False,
            network=pipeline.Network(subnets="${SubnetIdList}", security_groups="${SecurityGroupIdList}"),
        )
    )


# The repository pipeline's placeholders that are not template parameters: the template binds
# them as Fn::Sub variables, and passes every placeholder to the build as an environment variable
# of the same name, so the repository's definition renders to exactly what CloudFormation created.
REPOSITORY_VARIABLES = (
    "ExecutionRoleArn",
    "KmsKeyArn",
    "ModelPackageGroup",
    "MonitorImage",
    "Region",
    "SecurityGroupIdList",
    "SubnetIdList",
)


def repository_pipeline() -> tuple[pipeline.BuildPipeline, pipeline.RepositoryBuild]:
    """The model-build v3 pipeline, all of it placeholders (no spec value): jobs run as the team's
    SageMaker execution role (the role the data feature grants the governed data path) in the
    account's VPC with the project's and the models bucket's keys; the model and the data-quality
    baseline land in the team's models bucket; registration into the team's governed group chosen
    at launch, always PendingManualApproval."""
    return (
        pipeline.BuildPipeline(
            role_arn="${ExecutionRoleArn}",
            key_arn="${KmsKeyArn}",
            bucket="s3://${ArtifactBucket}",
            group="${ModelPackageGroup}",
            model_path="s3://${ModelsBucket}/projects/${SageMakerProjectName}/models",
            model_key_arn="${ModelsKeyArn}",
            approval_parameter=False,
            network=pipeline.Network(subnets="${SubnetIdList}", security_groups="${SecurityGroupIdList}"),
        ),
        pipeline.RepositoryBuild(
            region="${Region}",
            processing_image="${ProcessingImageUri}",
            training_image="${TrainingImageUri}",
            monitor_image="${MonitorImage}",
            baseline_path="s3://${ModelsBucket}/projects/${SageMakerProjectName}/baselines",
            source_dir="s3://${ArtifactBucket}/code/sourcedir.tar.gz",
            evaluation_path="s3://${ModelsBucket}/projects/${SageMakerProjectName}/evaluations",
        ),
    )


@lru_cache(maxsize=1)
def pipeline_definition_v3() -> str:
    """The model-build v3 pipeline's definition text: the template's and the seed repository's
    (no spec value in it, so computed once per process: every product version's view model,
    of every team's view, holds it)."""
    return pipeline.repository_definition(*repository_pipeline())


def pipeline_placeholders(text: str) -> list[str]:
    """The ``${Name}`` placeholders of a definition text (what a build must bind), sorted."""
    return sorted(set(re.findall(r"\$\{([A-Za-z][A-Za-z0-9]*)\}", text)))


def repository_bindings(spec: OrgSpec) -> dict[str, Any]:
    """CloudFormation expression of every placeholder of the v3 definition: the template's
    ``Fn::Sub`` variables (:data:`REPOSITORY_VARIABLES`) and the build's environment (all of them)."""
    execution = naming.team_role(spec, "${TeamName}", "sagemaker-execution")
    variables: dict[str, Any] = {
        "ExecutionRoleArn": {"Fn::Sub": f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/{execution}"},
        "KmsKeyArn": {"Fn::GetAtt": ["KmsKey", "Arn"]},
        "ModelPackageGroup": {
            "Fn::If": [
                "FirstTeamGroup",
                {"Fn::Select": [0, {"Ref": "TeamModelPackageGroups"}]},
                {"Ref": "ModelPackageGroupName"},
            ]
        },
        "MonitorImage": {
            "Fn::If": [
                "RegionMonitorImage",
                {
                    "Fn::Sub": [
                        "${Account}.dkr.ecr.${AWS::Region}.${AWS::URLSuffix}/sagemaker-model-monitor-analyzer",
                        {"Account": {"Fn::FindInMap": ["MonitorImageAccounts", {"Ref": "AWS::Region"}, "Account"]}},
                    ]
                },
                {"Ref": "MonitorImageUri"},
            ]
        },
        "Region": {"Ref": "AWS::Region"},
        "SecurityGroupIdList": {"Fn::Join": ['","', {"Ref": "SecurityGroupIds"}]},
        "SubnetIdList": {"Fn::Join": ['","', {"Ref": "SubnetIds"}]},
    }
    assert sorted(variables) == list(REPOSITORY_VARIABLES)
    return {name: variables.get(name, {"Ref": name}) for name in pipeline_placeholders(pipeline_definition_v3())}


def ssm_names(spec: OrgSpec) -> dict[str, str]:
    """Names of the SSM parameters v2 templates read, keyed ``network_subnet_ids`` etc."""
    table = {**naming.PARAMETERS, **naming.PRODUCT_PARAMETERS}
    return {"_".join(key).replace("-", "_"): naming.ssm_parameter(spec, *key) for key in table}


def view_model(
    spec: OrgSpec, portfolio_key: str, portfolio: Portfolio, product_key: str, product: Product, version: ProductVersion
) -> dict[str, Any]:
    """Everything a product template may print; templates only loop and branch over it."""
    catalog = spec.service_catalog
    assert catalog is not None
    defaults = dict(BASE_DEFAULTS)
    defaults.update(product.parameters)
    cost = catalog.cost_tags
    summary = f"{product.display_name} {version.name} (mlgov {portfolio_key}/{product_key})"
    if product.description:
        summary += f": {product.description}"
    return {
        "description": summary[:1024],
        "version": version.name,
        "org": spec.organization.name,
        # Fixed role names (see naming.PRODUCT_ROLES); keys with "_" so templates write roles.model_build.
        "roles": {purpose.replace("-", "_"): name for purpose, name in naming.product_roles(spec).items()},
        "persona_role": {p.name: persona_role(spec, p) for p in Persona},
        "studio_policy": naming.product_studio_policy(spec),
        "projects_function": naming.product_projects_function(spec),
        "hub_account_id": spec.accounts[spec.hub].id,
        "org_id": spec.organization.id,
        "cost_tags": [
            {
                "parameter": param,
                "key": key,
                "default": getattr(cost, field),
                "ssm_parameter": naming.ssm_parameter(spec, "cost-tags", key),
            }
            for param, key, field in COST_TAGS
        ],
        # v2: per-account data comes from SSM at launch; role and group names are patterns over
        # the team name parameter (TeamName), never a team's literal name.
        "ssm": ssm_names(spec),
        "team_roles": {
            purpose.replace("-", "_"): naming.team_role(spec, "${TeamName}", purpose) for purpose in TEAM_ROLES
        },
        "team_group_prefix": naming.model_package_group(spec, "${TeamName}", "") + "-",
        "boundary": naming.product_boundary(spec),
        "pipeline_definition_v2": pipeline_definition_v2(spec),
        "pipeline_definition_v3": pipeline_definition_v3(),
        "repository_bindings": repository_bindings(spec),
        "repository_variables": REPOSITORY_VARIABLES,
        "monitor_image_accounts": MONITOR_IMAGE_ACCOUNTS,
        "build_roles": {p: naming.team_role(spec, "${TeamName}", p) for p in naming.BUILD_ROLES},
        "defaults": defaults,
        "team_stages": team_stages(spec),
        "pipeline_definition": pipeline_definition_v1(spec),
    }


def product_artifacts(spec: OrgSpec) -> list[ProductArtifact]:
    """Every product version of the spec, rendered, sorted by key.

    Rendered once per spec object (the spec is frozen, so the result cannot go stale): every dev
    account's launch role and the policy inventory ask again, and a 100-team org rendered the
    same templates 200 times.
    """
    memo = spec_memo(spec)
    if "artifacts" not in memo:
        memo["artifacts"] = tuple(_render_artifacts(spec))
    return list(memo["artifacts"])


def _render_artifacts(spec: OrgSpec) -> list[ProductArtifact]:
    catalog = spec.service_catalog
    if catalog is None:
        return []
    out = []
    for pkey, portfolio in sorted(catalog.portfolios.items()):
        for key, product in sorted(portfolio.products.items()):
            # A renamed portfolio or product renders as it was released (its old keys): same bytes, same path.
            plabel, label = naming.portfolio_label(spec, pkey), naming.product_label(spec, pkey, key)
            for version in product.versions:
                file = naming.product_template_key(spec, pkey, key, version.name)
                if version.frozen:  # the released bytes, never re-rendered (validation checks the copy exists)
                    released = released_path(spec, file)
                    if released is None:
                        raise MlgovError(f"{file}: frozen, but there is no {released_target(spec, file)}")
                    text = released.read_text(encoding="utf-8")
                else:
                    text = render_template(
                        version.template or product.template,
                        view_model(spec, plabel, portfolio, label, product, version),
                        spec,
                    )
                out.append(ProductArtifact(pkey, key, version.name, file, text))
    return sorted(out, key=lambda a: a.key)


def render_products(spec: OrgSpec) -> dict[str, bytes]:
    """The extra renderer for generated/: ``products/<portfolio>/<product>/<version>.yaml``."""
    return {a.key: a.text.encode("utf-8") for a in product_artifacts(spec)}


def released_changes(tree: dict[str, bytes], current: dict[str, bytes], spec: OrgSpec | None = None) -> list[str]:
    """Messages for product versions already in ``current`` that ``tree`` would change; the
    remedy names where ``spec`` keeps its released copies (relative to its folder).

    Removing a version is allowed (it retires the provisioning artifact); changing one is not,
    because users who provisioned it would silently get different infrastructure on update.
    """
    problems = []
    for rel in sorted(set(tree) & set(current)):
        if rel.startswith(f"{PRODUCTS_DIR}/") and tree[rel] != current[rel]:
            _, portfolio, product, file = rel.split("/")
            version = file.removesuffix(".yaml")
            problems.append(
                f"{rel}: released version {version!r} of product {portfolio}/{product} would change; "
                f"versions are immutable: add a new version name to "
                f"service_catalog.portfolios.{portfolio}.products.{product}.versions, or keep {version!r} as "
                f"released: copy this file to {released_target(spec, rel)} and set `frozen: true` on it"
            )
    return problems


# --- what a portfolio's launch role must be able to do -------------------------------------


@dataclass(frozen=True)
class LaunchNeeds:
    """What the rendered versions of one portfolio's products declare, read from the templates:
    the launch role of that portfolio gets rights for these and nothing else.

    Every version counts (released ones are still updated and terminated), and so do retired
    products (their provisioned copies are still terminated with the role they were launched with).
    """

    resource_types: frozenset[str]
    parameter_types: frozenset[str]
    role_names: frozenset[str]
    # Team roles (purposes of naming.team_role) a template hands a service: a SageMaker pipeline's
    # role, a CodeBuild project's service role, a CodePipeline pipeline's role.
    team_roles: frozenset[str] = frozenset()

    def declares(self, *types: str) -> bool:
        return any(t in self.resource_types for t in types)


def launch_needs(spec: OrgSpec, portfolio: str) -> LaunchNeeds:
    """The :class:`LaunchNeeds` of one portfolio (from the same rendered text generated/ holds)."""
    memo = spec_memo(spec)
    if ("needs", portfolio) not in memo:
        memo[("needs", portfolio)] = _launch_needs(spec, portfolio)
    return memo[("needs", portfolio)]


def _launch_needs(spec: OrgSpec, portfolio: str) -> LaunchNeeds:
    resource_types: set[str] = set()
    parameter_types: set[str] = set()
    role_names: set[str] = set()
    team_roles: set[str] = set()
    patterns = {p: naming.team_role(spec, "${TeamName}", p) for p in ("sagemaker-execution", *naming.BUILD_ROLES)}
    for artifact in product_artifacts(spec):
        if artifact.portfolio != portfolio:
            continue
        facts = _template_facts(artifact.text)
        resource_types |= facts.resource_types
        parameter_types |= facts.parameter_types
        role_names |= facts.role_names
        for handed in facts.handed:
            team_roles |= {p for p, pattern in patterns.items() if pattern in handed}
    return LaunchNeeds(
        frozenset(resource_types), frozenset(parameter_types), frozenset(role_names), frozenset(team_roles)
    )


@dataclass(frozen=True)
class _TemplateFacts:
    """What :func:`_launch_needs` reads from one rendered template: its resource and parameter
    types, the role names it sets, and per resource the JSON of the properties naming the role
    a service runs it as."""

    resource_types: frozenset[str]
    parameter_types: frozenset[str]
    role_names: frozenset[str]
    handed: tuple[str, ...]


@lru_cache(maxsize=64)
def _template_facts(text: str) -> _TemplateFacts:
    """:class:`_TemplateFacts` of a rendered template, by its text. Every team's view of a spec
    renders the products again (a dev stack's launch role needs them) and nearly always to the
    same text; parsing it was most of a dev stack's Python time at 500 teams."""
    doc = load_template(text)
    resource_types, role_names, handed = set(), set(), []
    for resource in (doc.get("Resources") or {}).values():
        resource_types.add(resource["Type"])
        props = resource.get("Properties") or {}
        name = props.get("RoleName")
        if resource["Type"] == "AWS::IAM::Role" and isinstance(name, str):
            role_names.add(name)
        handed.append(json.dumps([props.get(k) for k in _ROLE_PROPERTIES.get(resource["Type"], ())]))
    return _TemplateFacts(
        frozenset(resource_types),
        frozenset(str(p.get("Type", "")) for p in (doc.get("Parameters") or {}).values()),
        frozenset(role_names),
        tuple(handed),
    )


# The property of each resource type that names the role a service runs it as.
_ROLE_PROPERTIES = {
    "AWS::SageMaker::Pipeline": ("RoleArn",),
    "AWS::CodeBuild::Project": ("ServiceRole",),
    "AWS::CodePipeline::Pipeline": ("RoleArn",),
}


# --- what a rendered product version will ask AWS for -------------------------------------


@dataclass(frozen=True)
class Request:
    """One AWS request a product version's resources make once launched.

    Without values, fields hold the template's own expressions (``{"Ref": "SubnetIds"}``,
    ``Fn::Sub`` text, pipeline placeholders); with an account's values (see :func:`product_requests`)
    they are concrete.

    Attributes:
        action: IAM action, e.g. ``sagemaker:CreateTrainingJob``.
        principal: ARN of the role the request runs as (the launch role for stack resources, the
            pipeline's role for its steps).
        context: condition keys the request carries (those mlgov's guardrails and policies test), plus
            ``RoleArn`` (PassRole) or ``ModelPackageGroupName`` (registration) naming its target.
        source: where it comes from: ``Resources.<LogicalId>`` or ``Resources.<Pipeline>.Steps.<Step>``.
    """

    action: str
    principal: Any
    context: dict[str, Any]
    source: str


SAGEMAKER_SERVICE = "sagemaker.amazonaws.com"
_SUB = re.compile(r"\$\{([^}]+)\}")


def load_template(text: str) -> dict[str, Any]:
    """A rendered product version as data (safe loader; libyaml when available)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(text, Loader=loader) or {}  # noqa: S506 - a safe loader


class Resolver:
    """Resolves a template's intrinsics for one account: ``values`` maps parameter names (SSM-typed
    ones resolved: a list for ``List<String>``), pseudo parameters (``AWS::AccountId``, ...) and,
    optionally, ``<Logical>.<Attr>`` / ``<Logical>`` of resources not yet created; unknown resource
    attributes become ``<Logical.Attr>`` placeholders."""

    def __init__(self, doc: dict[str, Any], values: dict[str, Any]) -> None:
        self.doc, self.values = doc, values

    def ref(self, name: str) -> Any:
        if name in self.values:
            return self.values[name]
        param = self.doc.get("Parameters", {}).get(name)
        if param is not None:
            if param["Type"].startswith("AWS::SSM::Parameter::Value"):
                raise KeyError(f"no value for SSM-typed parameter {name!r} (SSM parameter {param['Default']!r})")
            if "Default" not in param:
                raise KeyError(f"no value for parameter {name!r} (it has no default)")
            return param["Default"]
        return f"<{name}>"

    def sub(self, text: str, variables: dict[str, Any]) -> str:
        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(self.resolve(variables[name]))
            if "." in name and not name.startswith("AWS::"):
                return str(self.values.get(name, f"<{name}>"))
            value = self.ref(name)
            return ",".join(value) if isinstance(value, list) else str(value)

        return _SUB.sub(one, text)

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.doc["Conditions"][name]))

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) != 1:
            return {k: self.resolve(v) for k, v in value.items()}
        ((fn, arg),) = value.items()
        if fn == "Ref":
            return self.ref(arg)
        if fn == "Fn::Sub":
            return self.sub(arg, {}) if isinstance(arg, str) else self.sub(arg[0], arg[1])
        if fn == "Fn::GetAtt":
            return self.values.get(f"{arg[0]}.{arg[1]}", f"<{arg[0]}.{arg[1]}>")
        if fn == "Fn::Join":
            return arg[0].join(str(v) for v in self.resolve(arg[1]))
        if fn == "Fn::Select":
            return self.resolve(arg[1])[int(arg[0])]
        if fn == "Fn::If":
            return self.resolve(arg[1] if self.condition(arg[0]) else arg[2])
        if fn == "Fn::Equals":
            return self.resolve(arg[0]) == self.resolve(arg[1])
        if fn == "Fn::Not":
            return not self.resolve(arg[0])
        if fn == "Condition":
            return self.condition(arg)
        return {fn: self.resolve(arg)}


def _present(context: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in context.items() if v is not None}


def _sub_text(value: Any) -> Any:
    """The text of a plain ``Fn::Sub`` string (role ARNs), so every principal reads the same way."""
    return value["Fn::Sub"] if isinstance(value, dict) and isinstance(value.get("Fn::Sub"), str) else value


def pipeline_body(resource: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A pipeline resource's definition text and its ``Fn::Sub`` variables (none in v1's string form)."""
    sub = resource["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"]["Fn::Sub"]
    return (sub, {}) if isinstance(sub, str) else (sub[0], sub[1])


def _steps(steps: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for step in steps:
        yield step
        if step["Type"] == "Condition":
            yield from _steps(step["Arguments"].get("IfSteps", []))
            yield from _steps(step["Arguments"].get("ElseSteps", []))


def _job_context(vpc: dict, network: dict, volume_key: Any, output_key: Any, instance: Any) -> dict[str, Any]:
    return _present(
        {
            "sagemaker:VpcSubnets": vpc.get("Subnets"),
            "sagemaker:VpcSecurityGroupIds": vpc.get("SecurityGroupIds"),
            "sagemaker:VolumeKmsKeyArn": volume_key,
            "sagemaker:OutputKmsKeyArn": output_key,
            "sagemaker:InterContainerTrafficEncryption": network.get("EnableInterContainerTrafficEncryption"),
            "sagemaker:NetworkIsolation": network.get("EnableNetworkIsolation"),
            "sagemaker:InstanceTypes": [instance],
        }
    )


def pipeline_requests(resource: dict[str, Any], source: str, resolver: Resolver | None = None) -> list[Request]:
    """The create calls a pipeline's steps make when it runs, as the role each step names.

    With a resolver, the definition is first resolved as CloudFormation would (``Fn::Sub``) and the
    pipeline's own parameter references (``{"Get": "Parameters.X"}``) take their defaults.
    """
    body, variables = pipeline_body(resource)
    # Unresolved, the Float default is an unquoted ${MinimumAuc}: any number lets the JSON parse.
    body = body.replace(pipeline.MINIMUM_AUC, "0") if resolver is None else resolver.sub(body, variables)
    definition = json.loads(body)
    defaults = {f"Parameters.{p['Name']}": p["DefaultValue"] for p in definition["Parameters"]}

    def get(value: Any) -> Any:
        if resolver is not None and isinstance(value, dict) and set(value) == {"Get"}:
            return defaults.get(value["Get"], value)
        return value

    role = _sub_text(resource["Properties"]["RoleArn"])
    if resolver is not None:
        role = resolver.sub(role, {})
    out = []
    for step in _steps(definition["Steps"]):
        args, where = step["Arguments"], f"{source}.Steps.{step['Name']}"
        if step["Type"] == "Processing":
            cluster = args["ProcessingResources"]["ClusterConfig"]
            network = args.get("NetworkConfig", {})
            context = _job_context(
                network.get("VpcConfig", {}),
                network,
                cluster.get("VolumeKmsKeyId"),
                args.get("ProcessingOutputConfig", {}).get("KmsKeyId"),
                get(cluster["InstanceType"]),
            )
            out.append(Request("sagemaker:CreateProcessingJob", args["RoleArn"], context, where))
        elif step["Type"] == "Training":
            resources = args["ResourceConfig"]
            context = _job_context(
                args.get("VpcConfig", {}),
                args,
                resources.get("VolumeKmsKeyId"),
                args["OutputDataConfig"].get("KmsKeyId"),
                get(resources["InstanceType"]),
            )
            out.append(Request("sagemaker:CreateTrainingJob", args["RoleArn"], context, where))
        elif step["Type"] == "RegisterModel":
            context = {
                "sagemaker:ModelApprovalStatus": get(args.get("ModelApprovalStatus")),
                "ModelPackageGroupName": args["ModelPackageGroupName"],
            }
            out.append(Request("sagemaker:CreateModelPackage", role, context, where))
    return out


def product_requests(
    spec: OrgSpec, text: str, values: dict[str, Any] | None = None, *, portfolio: str
) -> list[Request]:
    """Every SageMaker create call (and the PassRole it implies) a rendered product version makes.

    Stack resources are created by the launch role of the product's ``portfolio``; pipeline steps run as the pipeline's
    role. Give ``values`` (see :class:`Resolver`: the account's pseudo parameters and SSM values) to
    get concrete requests to evaluate against the guardrails and the principals' policies.
    """
    doc = load_template(text)
    resolver = Resolver(doc, values) if values is not None else None
    launch = f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/{naming.catalog_launch_role(spec, portfolio)}"
    out: list[Request] = []

    def passes(role: Any, where: str) -> None:
        context = {"iam:PassedToService": SAGEMAKER_SERVICE, "RoleArn": _sub_text(role)}
        out.append(Request("iam:PassRole", launch, context, where))

    for logical, resource in sorted(doc.get("Resources", {}).items()):
        props, where = resource.get("Properties", {}), f"Resources.{logical}"
        kind = resource["Type"]
        if kind == "AWS::SageMaker::Domain":
            user = props.get("DefaultUserSettings", {})
            context = {
                "sagemaker:AppNetworkAccessType": props.get("AppNetworkAccessType"),
                "sagemaker:AuthMode": props.get("AuthMode"),
                "sagemaker:VpcSubnets": props.get("SubnetIds"),
                "sagemaker:VpcSecurityGroupIds": user.get("SecurityGroups"),
                "sagemaker:VolumeKmsKeyArn": props.get("KmsKeyId"),
                "ExecutionRoleIdentityConfig": props.get("DomainSettings", {}).get("ExecutionRoleIdentityConfig"),
            }
            out.append(Request("sagemaker:CreateDomain", launch, _present(context), where))
            passes(user["ExecutionRole"], where)
        elif kind == "AWS::SageMaker::UserProfile":
            tags = {f"aws:RequestTag/{t['Key']}": t["Value"] for t in props.get("Tags", [])}
            out.append(Request("sagemaker:CreateUserProfile", launch, tags, where))
            passes(props["UserSettings"]["ExecutionRole"], where)
        elif kind == "AWS::SageMaker::Pipeline":
            out.append(Request("sagemaker:CreatePipeline", launch, {}, where))
            passes(props["RoleArn"], where)
            out += pipeline_requests(resource, where, resolver)
    if resolver is None:
        return out

    def concrete(value: Any) -> Any:
        value = resolver.resolve(value)
        return resolver.sub(value, {}) if isinstance(value, str) else value

    return [
        Request(
            r.action,
            concrete(r.principal),
            {k: [concrete(x) for x in v] if isinstance(v, list) else concrete(v) for k, v in r.context.items()},
            r.source,
        )
        for r in out
    ]


@dataclass(frozen=True)
class ProductRole:
    """A role a rendered product version creates, resolved for one account (see :class:`Resolver`)."""

    name: str
    arn: str
    trust: dict[str, Any]
    policies: tuple[dict[str, Any], ...]
    boundary_arn: str | None


def product_role_policies(text: str, values: dict[str, Any]) -> list[ProductRole]:
    """The roles a product version creates with their trust, inline policies and permissions
    boundary, resolved for one account: what the pipeline's requests are evaluated against."""
    doc = load_template(text)
    resolver = Resolver(doc, values)
    out = []
    for _, resource in sorted(doc.get("Resources", {}).items()):
        if resource["Type"] != "AWS::IAM::Role":
            continue
        props = resolver.resolve(resource["Properties"])
        partition, account = values.get("AWS::Partition", "aws"), values["AWS::AccountId"]
        out.append(
            ProductRole(
                name=props["RoleName"],
                arn=f"arn:{partition}:iam::{account}:role/{props['RoleName']}",
                trust=props["AssumeRolePolicyDocument"],
                policies=tuple(p["PolicyDocument"] for p in props.get("Policies", [])),
                boundary_arn=props.get("PermissionsBoundary"),
            )
        )
    return out
