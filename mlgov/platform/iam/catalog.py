"""Service Catalog's IAM documents, as pure functions of the validated spec.

- the hub's template key and bucket statements: principals of the organization read the
  product templates (:func:`template_key_statements`, :func:`template_bucket_statements`);
- one launch role per portfolio in each dev account, allowed to create exactly what that
  portfolio's product templates declare (:func:`launch_role_trust`, :func:`launch_role_policy`);
- the permissions boundary of every role a product creates (:func:`boundary_policy`).

:mod:`mlgov.modules.catalog` attaches them to resources.
"""

from __future__ import annotations

from typing import Any

from mlgov.platform import naming, policy
from mlgov.platform.catalog import LaunchNeeds, account_teams, launch_needs
from mlgov.platform.iam import arns
from mlgov.platform.iam.actions import (
    ASSUME_ROLE,
    CODEBUILD_PROJECT_MANAGE,
    CODEBUILD_RUN,
    KMS_DECRYPT,
    KMS_READ,
    KMS_USE_ACTIONS,
    LOG_DELIVERY,
    LOG_GROUP_CREATE,
    NETWORK_DESCRIBE,
    NETWORK_INTERFACE_PERMISSIONS,
    NETWORK_INTERFACES,
    PASS_ROLE,
    S3_GET,
    SAGEMAKER_PIPELINE_RUN,
    SAGEMAKER_READ_PACKAGES,
    SAGEMAKER_REGISTER,
    SSM_GET_PARAMETERS,
)
from mlgov.spec.model import OrgSpec

Statement = dict[str, Any]

# --- action sets of the catalog documents only ------------------------------------------------

# Organization principals read product templates from the hub's bucket, through S3.

# The launch role: the product stacks and what their templates declare.
PRODUCT_STACKS = (
    "cloudformation:CreateChangeSet",
    "cloudformation:CreateStack",
    "cloudformation:DeleteChangeSet",
    "cloudformation:DeleteStack",
    "cloudformation:DescribeChangeSet",
    "cloudformation:DescribeStackEvents",
    "cloudformation:DescribeStacks",
    "cloudformation:ExecuteChangeSet",
    "cloudformation:GetTemplate",
    "cloudformation:SetStackPolicy",
    "cloudformation:TagResource",
    "cloudformation:UntagResource",
    "cloudformation:UpdateStack",
)
TEMPLATE_CHECKS = ("cloudformation:GetTemplateSummary", "cloudformation:ValidateTemplate")
ROLE_CREATE = ("iam:CreateRole", "iam:PutRolePermissionsBoundary", "iam:PutRolePolicy")
ROLE_MANAGE = (
    "iam:GetRole",
    "iam:GetRolePolicy",
    "iam:ListAttachedRolePolicies",
    "iam:ListRolePolicies",
    "iam:TagRole",
    "iam:UntagRole",
    "iam:UpdateAssumeRolePolicy",
    "iam:UpdateRoleDescription",
)
ROLE_REMOVE = (
    "iam:DeleteRole",
    "iam:DeleteRolePolicy",
    "iam:DetachRolePolicy",
    "iam:GetRole",
    "iam:ListAttachedRolePolicies",
    "iam:ListRolePolicies",
)
POLICY_REMOVE = (
    "iam:DeletePolicy",
    "iam:DeletePolicyVersion",
    "iam:GetPolicy",
    "iam:GetPolicyVersion",
    "iam:ListPolicyVersions",
)
SAGEMAKER_TAGS = ("sagemaker:AddTags", "sagemaker:DeleteTags", "sagemaker:ListTags")
# SageMaker resource types a template may declare: the resource it names and what the role does on it.
SAGEMAKER_RESOURCES = {
    "AWS::SageMaker::Domain": (
        "domain/*",
        ("sagemaker:CreateDomain", "sagemaker:DeleteDomain", "sagemaker:DescribeDomain", "sagemaker:UpdateDomain"),
    ),
    "AWS::SageMaker::UserProfile": (
        "user-profile/*",
        (
            "sagemaker:CreateUserProfile",
            "sagemaker:DeleteUserProfile",
            "sagemaker:DescribeUserProfile",
            "sagemaker:UpdateUserProfile",
        ),
    ),
    "AWS::SageMaker::Pipeline": (
        "pipeline/*",
        (
            "sagemaker:CreatePipeline",
            "sagemaker:DeletePipeline",
            "sagemaker:DescribePipeline",
            "sagemaker:UpdatePipeline",
        ),
    ),
}
KEY_CREATE = ("kms:CreateKey", "kms:ListAliases")
KEY_MANAGE = (
    "kms:CreateAlias",
    "kms:CreateGrant",
    "kms:Decrypt",
    "kms:DeleteAlias",
    "kms:DescribeKey",
    "kms:EnableKeyRotation",
    "kms:GenerateDataKey*",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListResourceTags",
    "kms:PutKeyPolicy",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateAlias",
    "kms:UpdateKeyDescription",
)
KEY_ALIASES = ("kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias")
BUCKET_MANAGE = (
    "s3:CreateBucket",
    "s3:DeleteBucket",
    "s3:DeleteBucketPolicy",
    "s3:GetBucketPolicy",
    "s3:GetEncryptionConfiguration",
    "s3:GetBucketTagging",
    "s3:PutBucketOwnershipControls",
    "s3:PutBucketPolicy",
    "s3:PutBucketPublicAccessBlock",
    "s3:PutBucketTagging",
    "s3:PutBucketVersioning",
    "s3:PutEncryptionConfiguration",
    "s3:PutLifecycleConfiguration",
)
# What CloudFormation reads to resolve a template's VPC, subnet and security group parameters.
LAUNCH_NETWORK_DESCRIBE = ("ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "ec2:DescribeVpcs")
SECURITY_GROUP_REMOVE = ("ec2:DeleteSecurityGroup", "ec2:RevokeSecurityGroupIngress")
FUNCTION_MANAGE = (
    "lambda:CreateFunction",
    "lambda:DeleteFunction",
    "lambda:GetFunction",
    "lambda:InvokeFunction",
    "lambda:TagResource",
    "lambda:UpdateFunctionCode",
    "lambda:UpdateFunctionConfiguration",
)
LOG_GROUP_MANAGE = (
    "logs:AssociateKmsKey",
    "logs:CreateLogGroup",
    "logs:DeleteLogGroup",
    "logs:PutRetentionPolicy",
    "logs:TagResource",
)
PARAMETER_MANAGE = (
    "ssm:AddTagsToResource",
    "ssm:DeleteParameter",
    "ssm:GetParameters",
    "ssm:PutParameter",
    "ssm:RemoveTagsFromResource",
)
SOURCE_PIPELINE_MANAGE = (
    "codepipeline:CreatePipeline",
    "codepipeline:DeletePipeline",
    "codepipeline:GetPipeline",
    "codepipeline:GetPipelineState",
    "codepipeline:ListTagsForResource",
    "codepipeline:TagResource",
    "codepipeline:UntagResource",
    "codepipeline:UpdatePipeline",
)
CONNECTION_PASS = ("codeconnections:PassConnection",)

# The boundary: the most a product role may ever do.
PIPELINE_JOBS = (
    "sagemaker:AddTags",
    "sagemaker:CreateProcessingJob",
    "sagemaker:CreateTrainingJob",
    "sagemaker:DescribeProcessingJob",
    "sagemaker:DescribeTrainingJob",
    "sagemaker:StopProcessingJob",
    "sagemaker:StopTrainingJob",
)
BUCKET_USE = ("s3:AbortMultipartUpload", "s3:GetBucketLocation", "s3:GetObject", "s3:ListBucket", "s3:PutObject")
KEY_USE = ("kms:CreateGrant", *KMS_USE_ACTIONS)
PROJECTS_ENABLE = (
    "sagemaker:EnableSagemakerServicecatalogPortfolio",
    "sagemaker:GetSagemakerServicecatalogPortfolioStatus",
)
PORTFOLIO_SHARE_ACCEPT = ("servicecatalog:AcceptPortfolioShare",)
BUILD_ARTIFACT_VERSIONS = ("s3:GetBucketVersioning", "s3:GetObjectVersion")
CONNECTION_USE = ("codeconnections:UseConnection",)

# --- ARNs and conditions ------------------------------------------------------------------------


def _regional(service: str, account_id: str, regions: list[str], *resources: str) -> list[str]:
    """``resources`` of ``service`` in every region of the account."""
    return [arns.arn(service, region, account_id, r) for region in regions for r in resources]


def _product_buckets(account_id: str) -> str:
    """Buckets product stacks create: CloudFormation names unnamed buckets after the stack,
    ``SC-<account>-pp-...`` in lower case."""
    return f"sc-{account_id}-pp-*"


def _product_stack_tag(account_id: str) -> dict[str, dict[str, str]]:
    """Condition matching resources a product stack created: CloudFormation tags each with its stack's
    name (an ``aws:`` tag nobody else can set), and Service Catalog names stacks ``SC-<account>-pp-...``."""
    return {"StringLike": {"aws:ResourceTag/aws:cloudformation:stack-name": f"SC-{account_id}-pp-*"}}


def _passed_to(service: str) -> dict[str, dict[str, str]]:
    return {"StringEquals": {"iam:PassedToService": service}}


def boundary_arn(spec: OrgSpec, account_id: str) -> str:
    return arns.managed_policy(account_id, naming.product_boundary(spec))


# --- the hub's template key and bucket ----------------------------------------------------------


def template_key_statements(spec: OrgSpec, region: str) -> list[Statement]:
    """What the catalog key's policy adds: principals of the organization decrypt templates, through S3."""
    return [
        policy.statement(
            "OrganizationDecryptsTemplatesThroughS3",
            KMS_READ,
            "*",
            principals={"AWS": "*"},
            conditions={
                "StringEquals": {
                    "aws:PrincipalOrgID": spec.organization.id,
                    "kms:ViaService": f"s3.{region}.amazonaws.com",
                }
            },
        )
    ]


def template_bucket_statements(spec: OrgSpec, bucket_name: str) -> list[Statement]:
    """What the template bucket's policy adds: principals of the organization read the products."""
    return [
        policy.statement(
            "OrganizationReadsTemplates",
            S3_GET,
            [arns.objects(bucket_name, "products")],
            principals={"AWS": "*"},
            conditions={"StringEquals": {"aws:PrincipalOrgID": spec.organization.id}},
        )
    ]


# --- the launch role of a portfolio -------------------------------------------------------------


def launch_role_trust() -> str:
    """Only Service Catalog assumes a launch role (its launch constraints name it)."""
    return policy.document(
        policy.statement("ServiceCatalogLaunches", ASSUME_ROLE, principals={"Service": "servicecatalog.amazonaws.com"})
    )


def launch_role_policy(spec: OrgSpec, account_id: str, regions: list[str], portfolio: str) -> str:
    """What one portfolio's launch role may do: manage exactly the resources its products' templates
    declare (:func:`mlgov.platform.catalog.launch_needs`), and nothing another portfolio needs.

    The product templates create roles with fixed names (:data:`mlgov.platform.naming.PRODUCT_ROLES`);
    the launch role may create or extend those its templates declare only under the permissions
    boundary :func:`boundary_policy` (so no product role ever exceeds it), may only delete the v1-only
    ones, and passes each role only to the service that uses it: the team's persona roles to
    SageMaker only where a template declares a domain or user profile (their execution roles), the
    model build role where it declares a pipeline, the Projects function's role where it declares a
    function. It manages only the keys product stacks created (their CloudFormation stack tag),
    creates no model package group (projects register into the team's Terraform-owned groups) and
    reads the platform's SSM parameters the templates resolve at launch. Its own name and the
    boundary's lie outside the product prefix.
    """
    needs = launch_needs(spec, portfolio)
    return policy.document(
        *_stack_statements(spec, account_id, regions, portfolio, needs),
        *_role_statements(spec, account_id, needs),
        *_resource_statements(spec, account_id, regions, needs),
        *_build_statements(needs, account_id, regions),
        *_parameter_statements(spec, account_id, regions, needs),
    )


def _stack_statements(
    spec: OrgSpec, account_id: str, regions: list[str], portfolio: str, needs: LaunchNeeds
) -> list[Statement]:
    """The product stacks, the portfolio's templates in the hub and the platform parameters they resolve."""
    org = spec.organization.name
    hub = spec.hub
    templates = naming.portfolio_label(spec, portfolio)  # the template path prefix (kept by a rename)
    out = [
        policy.statement(
            "ProductStacks", PRODUCT_STACKS, _regional("cloudformation", account_id, regions, "stack/SC-*")
        ),
        policy.statement("ReadTemplates", TEMPLATE_CHECKS, "*"),
        policy.statement(
            "TemplatesFromTheHub",
            S3_GET,
            [
                arns.objects(naming.bucket_name(spec, hub, r, "catalog"), f"products/{templates}")
                for r in spec.account_regions(hub)
            ],
        ),
        policy.statement(
            "DecryptHubTemplatesThroughS3",
            KMS_DECRYPT,
            [arns.arn("kms", r, spec.accounts[hub].id, "key/*") for r in spec.account_regions(hub)],
            conditions={"StringLike": {"kms:ViaService": "s3.*.amazonaws.com"}},
        ),
    ]
    if any(t.startswith("AWS::SSM::Parameter::Value<") for t in needs.parameter_types):
        # Templates resolve the platform's SSM parameters (network, team, cost tags, domain id)
        # with the launch role's credentials.
        platform_parameters = sorted(
            {f"parameter/{org}/{key[0]}/*" for key in (*naming.PARAMETERS, *naming.PRODUCT_PARAMETERS)}
        )
        out.append(
            policy.statement(
                "ReadPlatformParameters",
                SSM_GET_PARAMETERS,
                _regional("ssm", account_id, regions, *platform_parameters),
            )
        )
    return out


def _role_statements(spec: OrgSpec, account_id: str, needs: LaunchNeeds) -> list[Statement]:
    """The product roles its templates declare: created under the boundary, removed, passed on."""
    roles = {p: n for p, n in naming.product_roles(spec).items() if n in needs.role_names}
    all_roles = sorted(arns.role(account_id, name) for name in roles.values())
    current = {p: n for p, n in roles.items() if p not in naming.V1_ONLY_PRODUCT_ROLES}
    current_arns = sorted(arns.role(account_id, name) for name in current.values())
    boundary = {"StringEquals": {"iam:PermissionsBoundary": boundary_arn(spec, account_id)}}
    out = []
    if current_arns:
        out += [
            policy.statement("CreateProductRolesUnderTheBoundary", ROLE_CREATE, current_arns, conditions=boundary),
            policy.statement("ManageProductRoles", ROLE_MANAGE, current_arns),
        ]
    if all_roles:
        # Removing a role or one of its policies only takes rights away; v1's roles go on update to v2.
        out.append(policy.statement("RemoveProductRoles", ROLE_REMOVE, all_roles))
    if needs.declares("AWS::IAM::ManagedPolicy"):
        studio_policy = arns.managed_policy(account_id, naming.product_studio_policy(spec))
        out.append(policy.statement("RemoveTheV1StudioPolicy", POLICY_REMOVE, [studio_policy]))
    for service in sorted(set(naming.PRODUCT_ROLES.values()) | set(naming.BUILD_ROLES.values())):
        targets = _passed_roles(spec, account_id, needs, current, service)
        if targets:
            out.append(
                policy.statement(
                    f"PassProductRolesTo{_service_title(service)}", PASS_ROLE, targets, conditions=_passed_to(service)
                )
            )
    return out


def _passed_roles(
    spec: OrgSpec, account_id: str, needs: LaunchNeeds, current: dict[str, str], service: str
) -> list[str]:
    """The roles a launch hands ``service``: each only to the service that runs as it."""
    teams = account_teams(spec, account_id)
    handed = {"sagemaker-execution": "sagemaker.amazonaws.com", **naming.BUILD_ROLES}
    names = []
    # Team roles a template hands a service (a v3 project's pipeline, build and source pipeline).
    names += [naming.team_role(spec, t, p) for p in needs.team_roles if handed[p] == service for t in teams]
    if service == "sagemaker.amazonaws.com":
        if needs.declares("AWS::SageMaker::Domain", "AWS::SageMaker::UserProfile"):
            names += [naming.team_role(spec, t, p) for t in teams for p in ("data-scientist", "lead-data-scientist")]
        if needs.declares("AWS::SageMaker::Pipeline"):
            names.append(naming.product_role(spec, "model-build"))
    if service == "lambda.amazonaws.com" and needs.declares("AWS::Lambda::Function"):
        names += [n for p, n in current.items() if naming.PRODUCT_ROLES[p] == service]
    return sorted(arns.role(account_id, n) for n in names)


def _service_title(service: str) -> str:
    """``sagemaker.amazonaws.com`` -> ``SageMaker`` (statement ids of the PassRole statements)."""
    title = service.split(".")[0].title()
    return {"Sagemaker": "SageMaker", "Codebuild": "CodeBuild", "Codepipeline": "CodePipeline"}.get(title, title)


def _resource_statements(spec: OrgSpec, account_id: str, regions: list[str], needs: LaunchNeeds) -> list[Statement]:
    """The SageMaker resources, keys, buckets, security groups, functions and log groups its templates declare."""
    org = spec.organization.name
    function = naming.product_projects_function(spec)

    def regional(service: str, *resources: str) -> list[str]:
        return _regional(service, account_id, regions, *resources)

    out = []
    sagemaker = [(r, a) for kind, (r, a) in SAGEMAKER_RESOURCES.items() if needs.declares(kind)]
    if sagemaker:
        actions = [*SAGEMAKER_TAGS, *(action for _, acts in sagemaker for action in acts)]
        out.append(policy.statement("SageMakerResources", actions, regional("sagemaker", *(r for r, _ in sagemaker))))
    if needs.declares("AWS::KMS::Key"):
        out += [
            policy.statement("CreateProductKeys", KEY_CREATE, "*"),
            policy.statement(
                "ManageProductKeys", KEY_MANAGE, regional("kms", "key/*"), conditions=_product_stack_tag(account_id)
            ),
        ]
    if needs.declares("AWS::KMS::Alias"):
        out.append(policy.statement("ProductKeyAliases", KEY_ALIASES, regional("kms", f"alias/{org}/sagemaker/*")))
    if needs.declares("AWS::S3::Bucket"):
        out.append(policy.statement("ProductBuckets", BUCKET_MANAGE, [arns.bucket(_product_buckets(account_id))]))
    network = (
        needs.declares("AWS::SageMaker::Domain", "AWS::SageMaker::UserProfile")
        or needs.declares("AWS::CodeBuild::Project")
        or any(t.startswith("AWS::EC2::") for t in needs.parameter_types | needs.resource_types)
    )
    if network:
        out.append(policy.statement("DescribeNetwork", LAUNCH_NETWORK_DESCRIBE, "*"))
    if needs.declares("AWS::EC2::SecurityGroup"):
        # v1 domains created their own security group; updating or terminating them removes it.
        out.append(
            policy.statement(
                "RemoveV1StudioSecurityGroups",
                SECURITY_GROUP_REMOVE,
                regional("ec2", "security-group/*"),
                conditions=_product_stack_tag(account_id),
            )
        )
    if needs.declares("AWS::Lambda::Function"):
        out.append(policy.statement("ProductFunctions", FUNCTION_MANAGE, regional("lambda", f"function:{function}")))
    if needs.declares("AWS::Logs::LogGroup"):
        out.append(
            policy.statement(
                "ProductLogGroups",
                LOG_GROUP_MANAGE,
                regional("logs", f"log-group:/aws/lambda/{function}", f"log-group:/aws/lambda/{function}:*"),
            )
        )
    return out


def _build_statements(needs: LaunchNeeds, account_id: str, regions: list[str]) -> list[Statement]:
    """What a launch role needs for a project that builds from a repository (model-build v3): its
    CodeBuild project, source pipeline and build log group (all named ``<project>-build``), and
    handing the account's connection to CodePipeline only."""

    def regional(service: str, *resources: str) -> list[str]:
        return _regional(service, account_id, regions, *resources)

    out = []
    if needs.declares("AWS::CodeBuild::Project"):
        out += [
            policy.statement("ProjectBuilds", CODEBUILD_PROJECT_MANAGE, regional("codebuild", "project/*-build")),
            policy.statement(
                "ProjectBuildLogs",
                LOG_GROUP_MANAGE,
                regional("logs", "log-group:/aws/codebuild/*-build", "log-group:/aws/codebuild/*-build:*"),
            ),
        ]
    if needs.declares("AWS::CodePipeline::Pipeline"):
        out += [
            policy.statement("ProjectSourcePipelines", SOURCE_PIPELINE_MANAGE, regional("codepipeline", "*-build")),
            policy.statement(
                "PassConnectionToCodePipeline",
                CONNECTION_PASS,
                regional("codeconnections", "connection/*"),
                conditions={"StringEquals": {"codeconnections:PassedToService": "codepipeline.amazonaws.com"}},
            ),
        ]
    return out


def _parameter_statements(spec: OrgSpec, account_id: str, regions: list[str], needs: LaunchNeeds) -> list[Statement]:
    """The projects' and Studio's own SSM parameters, where a template declares one."""
    if not needs.declares("AWS::SSM::Parameter"):
        return []
    org = spec.organization.name
    resources = _regional("ssm", account_id, regions, f"parameter/{org}/projects/*", f"parameter/{org}/studio/*")
    return [policy.statement("ProductParameters", PARAMETER_MANAGE, resources)]


# --- the permissions boundary of product roles --------------------------------------------------


def boundary_policy(spec: OrgSpec, account_id: str, regions: list[str]) -> str:
    """The permissions boundary of every role a product creates in this account: the most any
    product role may ever do, whatever its own policies say.

    It covers the model build role (jobs, registration PENDING only into the account's teams'
    groups, its models bucket and keys, VPC network interfaces, passing itself) and the Projects
    enabler and, in an account with a source, the team's build roles (their pipelines, builds and
    connections, passing the team's execution role); nothing else: no other IAM, no model approval,
    no key administration.
    """
    return policy.document(
        *_boundary_statements(spec, account_id, regions), *_build_boundary(spec, account_id, regions)
    )


def _boundary_statements(spec: OrgSpec, account_id: str, regions: list[str]) -> list[Statement]:
    """The boundary's statements for the product roles (model build role, Projects enabler)."""
    account_key = next(k for k, a in spec.accounts.items() if a.id == account_id)
    teams = account_teams(spec, account_id)
    prefixes = [naming.model_package_group(spec, t, "") + "-" for t in teams]
    function = naming.product_projects_function(spec)
    model_build = arns.role(account_id, naming.product_role(spec, "model-build"))
    buckets = [_product_buckets(account_id)] + [naming.bucket_name(spec, account_key, r, "models") for r in regions]

    def regional(service: str, *resources: str) -> list[str]:
        return _regional(service, account_id, regions, *resources)

    return [
        policy.statement("PipelineJobs", PIPELINE_JOBS, regional("sagemaker", "processing-job/*", "training-job/*")),
        policy.statement(
            "RegisterPendingOnly",
            SAGEMAKER_REGISTER,
            regional("sagemaker", *(f"model-package/{p}*" for p in prefixes)),
            conditions={"StringEquals": {"sagemaker:ModelApprovalStatus": "PendingManualApproval"}},
        ),
        policy.statement(
            "ReadTheTeamsGroups",
            SAGEMAKER_READ_PACKAGES,
            regional(
                "sagemaker",
                *(f"model-package-group/{p}*" for p in prefixes),
                *(f"model-package/{p}*" for p in prefixes),
            ),
        ),
        policy.statement(
            "PassTheModelBuildRole", PASS_ROLE, [model_build], conditions=_passed_to("sagemaker.amazonaws.com")
        ),
        policy.statement("Buckets", BUCKET_USE, [arn for b in buckets for arn in (arns.bucket(b), arns.objects(b))]),
        policy.statement("UseKeys", KEY_USE, regional("kms", "key/*")),
        policy.statement(
            "JobNetworkInterfaces",
            (*NETWORK_INTERFACES, *NETWORK_INTERFACE_PERMISSIONS),
            regional("ec2", "network-interface/*", "security-group/*", "subnet/*"),
        ),
        policy.statement("DescribeNetwork", NETWORK_DESCRIBE, "*"),
        policy.statement(
            "Logs",
            (*LOG_GROUP_CREATE, *LOG_DELIVERY),
            regional("logs", "log-group:/aws/sagemaker/*", f"log-group:/aws/lambda/{function}:*"),
        ),
        policy.statement("EnableProjects", PROJECTS_ENABLE, "*"),
        policy.statement(
            "AcceptSageMakersPortfolioShare",
            PORTFOLIO_SHARE_ACCEPT,
            [arns.arn("catalog", r, "*", "portfolio/*") for r in regions],
        ),
    ]


def _build_boundary(spec: OrgSpec, account_id: str, regions: list[str]) -> list[Statement]:
    """What the boundary leaves a team's build roles (:mod:`mlgov.modules.repositories`), in an
    account with a source: the projects' build logs, artifact versions, pipelines and builds, the
    account's connections and passing the team's execution role to SageMaker."""
    account_key = next(k for k, a in spec.accounts.items() if a.id == account_id)
    if spec.accounts[account_key].source is None:
        return []
    teams = account_teams(spec, account_id)
    execution = sorted(arns.role(account_id, naming.team_role(spec, t, "sagemaker-execution")) for t in teams)
    artifacts = _product_buckets(account_id)

    def regional(service: str, *resources: str) -> list[str]:
        return _regional(service, account_id, regions, *resources)

    return [
        policy.statement(
            "BuildLogs",
            LOG_DELIVERY,
            regional("logs", "log-group:/aws/codebuild/*-build", "log-group:/aws/codebuild/*-build:*"),
        ),
        policy.statement(
            "BuildArtifactVersions", BUILD_ARTIFACT_VERSIONS, [arns.bucket(artifacts), arns.objects(artifacts)]
        ),
        policy.statement(
            "BuildPipelines",
            SAGEMAKER_PIPELINE_RUN,
            regional("sagemaker", "pipeline/*-build", "pipeline/*-build/execution/*"),
        ),
        policy.statement("BuildRuns", CODEBUILD_RUN, regional("codebuild", "project/*-build")),
        policy.statement("BuildSources", CONNECTION_USE, regional("codeconnections", "connection/*")),
        policy.statement(
            "PassTheExecutionRole", PASS_ROLE, execution, conditions=_passed_to("sagemaker.amazonaws.com")
        ),
    ]


__all__ = [
    "boundary_arn",
    "boundary_policy",
    "launch_role_policy",
    "launch_role_trust",
    "template_bucket_statements",
    "template_key_statements",
]
