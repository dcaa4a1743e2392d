"""Service Catalog constructs: the hub's portfolios and products, the dev accounts' launch role.

:class:`CatalogHub` (hub stack) reads ``service_catalog`` (portfolios, products, versions,
sharing, principals, tag options), ``organization`` (id, OUs, management account) and the
rendered templates handed in as :class:`CatalogView` (built from the spec by
:func:`catalog_view`; the construct reads no file). It creates:

- the template bucket (``SecureBucket``, SSE-KMS with its own ``catalog`` key), readable only
  by principals of the organization (``aws:PrincipalOrgID``), and one ``aws_s3_object`` per
  rendered product version;
- one portfolio per spec portfolio; one product per spec product (first version as its
  initial provisioning artifact, later versions as ``aws_servicecatalog_provisioning_artifact``);
- the product <-> portfolio association and a LAUNCH constraint with the LOCAL role name of the
  portfolio's own launch role (:func:`mlgov.platform.naming.catalog_launch_role`) on every pair,
  except for retired products
  (``retired: true``), which stay in the hub with their versions but leave the portfolio;
- an organization-node share (``ORGANIZATIONAL_UNIT``, principal and tag-option sharing on)
  per portfolio and OU; ``IAM_PATTERN`` principal associations for role patterns and for the
  personas' roles of every team (exact names, no wildcard);
- tag options and their portfolio associations.

The share needs Service Catalog's organizations access and the hub registered as delegated
administrator; both live in the management stack.

:class:`CatalogLaunchRole` (dev stacks) creates one launch role per portfolio, the one that
portfolio's constraints name, allowed to create exactly what that portfolio's product templates
declare and nothing else (a launch through a portfolio whose products declare no Studio domain or
user profile cannot pass a persona role, whoever may launch through it), and the permissions
boundary (:func:`mlgov.platform.naming.product_boundary`) every role it creates must carry. IAM is global, so an
account built in several regions gets the role once (first region), covering all of them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from cdktf_cdktf_provider_aws.iam_policy import IamPolicy
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.s3_object import S3Object
from cdktf_cdktf_provider_aws.servicecatalog_constraint import ServicecatalogConstraint
from cdktf_cdktf_provider_aws.servicecatalog_portfolio import ServicecatalogPortfolio
from cdktf_cdktf_provider_aws.servicecatalog_portfolio_share import ServicecatalogPortfolioShare
from cdktf_cdktf_provider_aws.servicecatalog_principal_portfolio_association import (
    ServicecatalogPrincipalPortfolioAssociation,
)
from cdktf_cdktf_provider_aws.servicecatalog_product import (
    ServicecatalogProduct,
    ServicecatalogProductProvisioningArtifactParameters,
)
from cdktf_cdktf_provider_aws.servicecatalog_product_portfolio_association import (
    ServicecatalogProductPortfolioAssociation,
)
from cdktf_cdktf_provider_aws.servicecatalog_provisioning_artifact import ServicecatalogProvisioningArtifact
from cdktf_cdktf_provider_aws.servicecatalog_tag_option import ServicecatalogTagOption
from cdktf_cdktf_provider_aws.servicecatalog_tag_option_resource_association import (
    ServicecatalogTagOptionResourceAssociation,
)
from constructs import Construct

from mlgov.modules.blocks import PlatformKey, SecureBucket, named, ref
from mlgov.platform import naming, policy
from mlgov.platform.catalog import (
    LaunchNeeds,
    ProductArtifact,
    account_teams,
    launch_needs,
    principal_patterns,
    product_artifacts,
)
from mlgov.spec.model import OrgSpec

STUDIO_VISIBILITY_TAG = "sagemaker:studio-visibility"


@dataclass(frozen=True)
class CatalogView:
    """What the hub construct needs beyond the spec: every rendered product version."""

    artifacts: tuple[ProductArtifact, ...]

    def text(self, key: str) -> str:
        return next(a.text for a in self.artifacts if a.key == key)


def catalog_view(spec: OrgSpec) -> CatalogView:
    """Render the spec's product versions (the same bytes generated/products/ holds)."""
    return CatalogView(tuple(product_artifacts(spec)))


def terraform_literal(text: str) -> str:
    """Escape Terraform template sequences so ``${AWS::Region}`` reaches S3 verbatim."""
    return text.replace("${", "$${").replace("%{", "%%{")


def ou_arn(spec: OrgSpec, ou_name: str) -> str:
    """ARN of an OU, as portfolio shares take it (owned by the management account)."""
    org = spec.organization
    mgmt = spec.accounts[org.management_account].id
    return f"arn:aws:organizations::{mgmt}:ou/{org.id}/{org.organizational_units[ou_name].id}"


def _address(*parts: str) -> str:
    """Address fragment from free text (tag keys, role patterns): :func:`naming.free_text_id`."""
    return naming.free_text_id(*parts)


class CatalogHub(Construct):
    """Portfolios, products, launch constraints and OU shares in the hub account."""

    def __init__(
        self, scope: Construct, id: str, *, spec: OrgSpec, account_id: str, region: str, view: CatalogView
    ) -> None:
        super().__init__(scope, id)
        catalog = spec.service_catalog
        assert catalog is not None and catalog.portfolios
        org_condition = {"StringEquals": {"aws:PrincipalOrgID": spec.organization.id}}
        self.key = PlatformKey(
            self,
            "key",
            name="catalog",
            account_id=account_id,
            alias=naming.kms_alias(spec, "catalog"),
            description="mlgov Service Catalog product templates",
            extra_statements=[
                policy.statement(
                    "OrganizationDecryptsTemplatesThroughS3",
                    ["kms:Decrypt", "kms:DescribeKey"],
                    "*",
                    principals={"AWS": "*"},
                    conditions={
                        "StringEquals": {
                            "aws:PrincipalOrgID": spec.organization.id,
                            "kms:ViaService": f"s3.{region}.amazonaws.com",
                        }
                    },
                )
            ],
        )
        bucket_name = naming.bucket_name(spec, spec.hub, region, "catalog")
        self.bucket = SecureBucket(
            self,
            "bucket",
            name="catalog",
            bucket_name=bucket_name,
            kms_key_arn=self.key.arn,
            extra_statements=[
                policy.statement(
                    "OrganizationReadsTemplates",
                    ["s3:GetObject"],
                    [f"arn:aws:s3:::{bucket_name}/products/*"],
                    principals={"AWS": "*"},
                    conditions=org_condition,
                )
            ],
        )
        for pkey, portfolio in sorted(catalog.portfolios.items()):
            launch_role_name = naming.catalog_launch_role(spec, pkey)
            # A renamed portfolio (or product) moves its addresses; AWS names and template paths stay.
            fp = naming.former_portfolio(spec, pkey)
            launch_role = json.dumps({"LocalRoleName": launch_role_name})
            pf = named(
                ServicecatalogPortfolio(
                    self,
                    f"portfolio_{pkey}",
                    name=portfolio.display_name,
                    description=portfolio.description or None,
                    provider_name=portfolio.provider,
                ),
                naming.construct_id(pkey),
                was=naming.moved_id(fp),
            )
            for ou in sorted(set(portfolio.share_with_ous)):
                named(
                    ServicecatalogPortfolioShare(
                        self,
                        f"share_{pkey}_{ou}",
                        portfolio_id=ref(pf, "id"),
                        principal_id=ou_arn(spec, ou),
                        type="ORGANIZATIONAL_UNIT",
                        share_principals=True,
                        share_tag_options=True,
                    ),
                    naming.construct_id(pkey, ou),
                    was=naming.moved_id(fp, ou),
                )
            for pattern in principal_patterns(spec, pkey):
                named(
                    ServicecatalogPrincipalPortfolioAssociation(
                        self,
                        f"principal_{pkey}_{pattern}",
                        portfolio_id=ref(pf, "id"),
                        # IAM_PATTERN ARNs carry no account: they match in every account the share reaches.
                        principal_arn=f"arn:aws:iam:::role/{pattern}",
                        principal_type="IAM_PATTERN",
                    ),
                    _address(pkey, pattern),
                    was=fp and _address(fp, pattern),
                )
            for tag_key, tag_value in sorted(portfolio.tag_options.items()):
                option = named(
                    ServicecatalogTagOption(self, f"tag_option_{pkey}_{tag_key}", key=tag_key, value=tag_value),
                    _address(pkey, tag_key),
                    was=fp and _address(fp, tag_key),
                )
                named(
                    ServicecatalogTagOptionResourceAssociation(
                        self,
                        f"tag_option_assoc_{pkey}_{tag_key}",
                        resource_id=ref(pf, "id"),
                        tag_option_id=ref(option, "id"),
                    ),
                    _address(pkey, tag_key),
                    was=fp and _address(fp, tag_key),
                )

            for key, product in sorted(portfolio.products.items()):
                address = naming.construct_id(pkey, key)
                fprod = naming.former_product(spec, pkey, key)
                old = (fp or pkey, fprod or key) if fp or fprod else None
                was = naming.construct_id(*old) if old else None
                objects = {}
                for version in product.versions:
                    object_key = naming.product_template_key(spec, pkey, key, version.name)
                    objects[version.name] = named(
                        S3Object(
                            self,
                            f"template_{address}_{version.name}",
                            bucket=ref(self.bucket.bucket, "id"),
                            key=object_key,
                            content=terraform_literal(view.text(object_key)),
                            content_type="application/x-yaml",
                        ),
                        _address(pkey, key, version.name),
                        was=old and _address(*old, version.name),
                    )

                def url(version_name: str, pkey: str = pkey, key: str = key) -> str:
                    object_key = naming.product_template_key(spec, pkey, key, version_name)
                    return f"https://{bucket_name}.s3.{region}.amazonaws.com/{object_key}"

                first, *later = product.versions
                sc_product = named(
                    ServicecatalogProduct(
                        self,
                        f"product_{address}",
                        name=product.display_name,
                        owner=product.owner,
                        type="CLOUD_FORMATION_TEMPLATE",
                        description=product.description or None,
                        distributor=product.distributor,
                        support_email=product.support_email,
                        support_url=product.support_url,
                        support_description=product.support_description or None,
                        tags={STUDIO_VISIBILITY_TAG: "true"}
                        if portfolio.studio_visible and not product.retired
                        else None,
                        provisioning_artifact_parameters=ServicecatalogProductProvisioningArtifactParameters(
                            name=first.name,
                            description=first.description or None,
                            template_url=url(first.name),
                            type="CLOUD_FORMATION_TEMPLATE",
                        ),
                        depends_on=[objects[first.name], self.bucket.policy],
                    ),
                    address,
                    was=was,
                )
                for version in later:
                    named(
                        ServicecatalogProvisioningArtifact(
                            self,
                            f"artifact_{address}_{version.name}",
                            product_id=sc_product.id,
                            name=version.name,
                            description=version.description or None,
                            template_url=url(version.name),
                            type="CLOUD_FORMATION_TEMPLATE",
                            depends_on=[objects[version.name]],
                        ),
                        _address(pkey, key, version.name),
                        was=old and _address(*old, version.name),
                    )
                if product.retired:
                    # Out of the portfolio: nobody can launch it; the product and its released
                    # templates stay (provisioned copies can still be terminated).
                    continue
                association = named(
                    ServicecatalogProductPortfolioAssociation(
                        self, f"association_{address}", portfolio_id=ref(pf, "id"), product_id=ref(sc_product, "id")
                    ),
                    address,
                    was=was,
                )
                named(
                    ServicecatalogConstraint(
                        self,
                        f"launch_{address}",
                        portfolio_id=ref(pf, "id"),
                        product_id=ref(sc_product, "id"),
                        type="LAUNCH",
                        parameters=launch_role,
                        description=f"Launch {product.display_name} with the local role {launch_role_name}",
                        depends_on=[association],
                    ),
                    address,
                    was=was,
                )


def _arns(service: str, account_id: str, regions: list[str], *resources: str) -> list[str]:
    return [f"arn:aws:{service}:{region}:{account_id}:{r}" for region in regions for r in resources]


def _product_stack_tag(account_id: str) -> dict:
    """Condition matching resources a product stack created: CloudFormation tags each with its stack's
    name (an ``aws:`` tag nobody else can set), and Service Catalog names stacks ``SC-<account>-pp-...``."""
    return {"StringLike": {"aws:ResourceTag/aws:cloudformation:stack-name": f"SC-{account_id}-pp-*"}}


def boundary_arn(spec: OrgSpec, account_id: str) -> str:
    return f"arn:aws:iam::{account_id}:policy/{naming.product_boundary(spec)}"


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
    templates = naming.portfolio_label(spec, portfolio)  # the template path prefix (kept by a rename)
    roles = {p: n for p, n in naming.product_roles(spec).items() if n in needs.role_names}
    all_roles = sorted(policy.role_arn(account_id, name) for name in roles.values())
    current = {p: n for p, n in roles.items() if p not in naming.V1_ONLY_PRODUCT_ROLES}
    current_arns = sorted(policy.role_arn(account_id, name) for name in current.values())
    studio_policy = f"arn:aws:iam::{account_id}:policy/{naming.product_studio_policy(spec)}"
    function = naming.product_projects_function(spec)
    teams = account_teams(spec, account_id)
    personas = [naming.team_role(spec, t, p) for t in teams for p in ("data-scientist", "lead-data-scientist")]
    studio = needs.declares("AWS::SageMaker::Domain", "AWS::SageMaker::UserProfile")

    handed = {"sagemaker-execution": "sagemaker.amazonaws.com", **naming.BUILD_ROLES}

    def pass_roles(service: str) -> list[str]:
        names = []
        # Team roles a template hands a service (a v3 project's pipeline, build and source pipeline).
        names += [naming.team_role(spec, t, p) for p in needs.team_roles if handed[p] == service for t in teams]
        if service == "sagemaker.amazonaws.com":
            names += personas if studio else []
            if needs.declares("AWS::SageMaker::Pipeline"):
                names.append(naming.product_role(spec, "model-build"))
        if service == "lambda.amazonaws.com" and needs.declares("AWS::Lambda::Function"):
            names += [n for p, n in current.items() if naming.PRODUCT_ROLES[p] == service]
        return sorted(policy.role_arn(account_id, n) for n in names)

    org = spec.organization.name
    hub = spec.hub

    def arns(service: str, *resources: str) -> list[str]:
        return _arns(service, account_id, regions, *resources)

    platform_parameters = sorted(
        {f"parameter/{org}/{key[0]}/*" for key in (*naming.PARAMETERS, *naming.PRODUCT_PARAMETERS)}
    )
    sagemaker_resources = [
        r
        for kind, r in (
            ("AWS::SageMaker::Domain", "domain/*"),
            ("AWS::SageMaker::UserProfile", "user-profile/*"),
            ("AWS::SageMaker::Pipeline", "pipeline/*"),
        )
        if needs.declares(kind)
    ]
    sagemaker_actions = sorted(
        {"sagemaker:AddTags", "sagemaker:DeleteTags", "sagemaker:ListTags"}
        | (
            {"sagemaker:CreateDomain", "sagemaker:DeleteDomain", "sagemaker:DescribeDomain", "sagemaker:UpdateDomain"}
            if needs.declares("AWS::SageMaker::Domain")
            else set()
        )
        | (
            {
                "sagemaker:CreateUserProfile",
                "sagemaker:DeleteUserProfile",
                "sagemaker:DescribeUserProfile",
                "sagemaker:UpdateUserProfile",
            }
            if needs.declares("AWS::SageMaker::UserProfile")
            else set()
        )
        | (
            {
                "sagemaker:CreatePipeline",
                "sagemaker:DeletePipeline",
                "sagemaker:DescribePipeline",
                "sagemaker:UpdatePipeline",
            }
            if needs.declares("AWS::SageMaker::Pipeline")
            else set()
        )
    )
    boundary = {"StringEquals": {"iam:PermissionsBoundary": boundary_arn(spec, account_id)}}
    network = (
        studio
        or needs.declares("AWS::CodeBuild::Project")
        or any(t.startswith("AWS::EC2::") for t in needs.parameter_types | needs.resource_types)
    )
    statements = [
        policy.statement(
            "ProductStacks",
            [
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
            ],
            arns("cloudformation", "stack/SC-*"),
        ),
        policy.statement(
            "ReadTemplates", ["cloudformation:GetTemplateSummary", "cloudformation:ValidateTemplate"], "*"
        ),
        policy.statement(
            "TemplatesFromTheHub",
            ["s3:GetObject"],
            [
                f"arn:aws:s3:::{naming.bucket_name(spec, hub, r, 'catalog')}/products/{templates}/*"
                for r in spec.account_regions(hub)
            ],
        ),
        policy.statement(
            "DecryptHubTemplatesThroughS3",
            ["kms:Decrypt"],
            [f"arn:aws:kms:{r}:{spec.accounts[hub].id}:key/*" for r in spec.account_regions(hub)],
            conditions={"StringLike": {"kms:ViaService": "s3.*.amazonaws.com"}},
        ),
    ]
    if any(t.startswith("AWS::SSM::Parameter::Value<") for t in needs.parameter_types):
        # Templates resolve the platform's SSM parameters (network, team, cost tags, domain id)
        # with the launch role's credentials.
        statements.append(
            policy.statement("ReadPlatformParameters", ["ssm:GetParameters"], arns("ssm", *platform_parameters))
        )
    if current_arns:
        statements += [
            policy.statement(
                "CreateProductRolesUnderTheBoundary",
                ["iam:CreateRole", "iam:PutRolePermissionsBoundary", "iam:PutRolePolicy"],
                current_arns,
                conditions=boundary,
            ),
            policy.statement(
                "ManageProductRoles",
                [
                    "iam:GetRole",
                    "iam:GetRolePolicy",
                    "iam:ListAttachedRolePolicies",
                    "iam:ListRolePolicies",
                    "iam:TagRole",
                    "iam:UntagRole",
                    "iam:UpdateAssumeRolePolicy",
                    "iam:UpdateRoleDescription",
                ],
                current_arns,
            ),
        ]
    if all_roles:
        # Removing a role or one of its policies only takes rights away; v1's roles go on update to v2.
        statements.append(
            policy.statement(
                "RemoveProductRoles",
                [
                    "iam:DeleteRole",
                    "iam:DeleteRolePolicy",
                    "iam:DetachRolePolicy",
                    "iam:GetRole",
                    "iam:ListAttachedRolePolicies",
                    "iam:ListRolePolicies",
                ],
                all_roles,
            )
        )
    if needs.declares("AWS::IAM::ManagedPolicy"):
        statements.append(
            policy.statement(
                "RemoveTheV1StudioPolicy",
                [
                    "iam:DeletePolicy",
                    "iam:DeletePolicyVersion",
                    "iam:GetPolicy",
                    "iam:GetPolicyVersion",
                    "iam:ListPolicyVersions",
                ],
                [studio_policy],
            )
        )
    for service in sorted(set(naming.PRODUCT_ROLES.values()) | set(naming.BUILD_ROLES.values())):
        targets = pass_roles(service)
        if targets:
            statements.append(
                policy.statement(
                    f"PassProductRolesTo{_service_title(service)}",
                    ["iam:PassRole"],
                    targets,
                    conditions={"StringEquals": {"iam:PassedToService": service}},
                )
            )
    if sagemaker_resources:
        statements.append(
            policy.statement("SageMakerResources", sagemaker_actions, arns("sagemaker", *sagemaker_resources))
        )
    if needs.declares("AWS::KMS::Key"):
        statements += [
            policy.statement("CreateProductKeys", ["kms:CreateKey", "kms:ListAliases"], "*"),
            policy.statement(
                "ManageProductKeys",
                [
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
                ],
                arns("kms", "key/*"),
                conditions=_product_stack_tag(account_id),
            ),
        ]
    if needs.declares("AWS::KMS::Alias"):
        statements.append(
            policy.statement(
                "ProductKeyAliases",
                ["kms:CreateAlias", "kms:DeleteAlias", "kms:UpdateAlias"],
                arns("kms", f"alias/{org}/sagemaker/*"),
            )
        )
    if needs.declares("AWS::S3::Bucket"):
        statements.append(
            policy.statement(
                "ProductBuckets",
                [
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
                ],
                # CloudFormation names unnamed buckets after the stack: SC-<account>-pp-... in lower case.
                [f"arn:aws:s3:::sc-{account_id}-pp-*"],
            )
        )
    if network:
        statements.append(
            policy.statement(
                "DescribeNetwork",
                ["ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "ec2:DescribeVpcs"],
                "*",
            )
        )
    if needs.declares("AWS::EC2::SecurityGroup"):
        # v1 domains created their own security group; updating or terminating them removes it.
        statements.append(
            policy.statement(
                "RemoveV1StudioSecurityGroups",
                ["ec2:DeleteSecurityGroup", "ec2:RevokeSecurityGroupIngress"],
                arns("ec2", "security-group/*"),
                conditions=_product_stack_tag(account_id),
            )
        )
    if needs.declares("AWS::Lambda::Function"):
        statements.append(
            policy.statement(
                "ProductFunctions",
                [
                    "lambda:CreateFunction",
                    "lambda:DeleteFunction",
                    "lambda:GetFunction",
                    "lambda:InvokeFunction",
                    "lambda:TagResource",
                    "lambda:UpdateFunctionCode",
                    "lambda:UpdateFunctionConfiguration",
                ],
                arns("lambda", f"function:{function}"),
            )
        )
    if needs.declares("AWS::Logs::LogGroup"):
        statements.append(
            policy.statement(
                "ProductLogGroups",
                [
                    "logs:AssociateKmsKey",
                    "logs:CreateLogGroup",
                    "logs:DeleteLogGroup",
                    "logs:PutRetentionPolicy",
                    "logs:TagResource",
                ],
                arns("logs", f"log-group:/aws/lambda/{function}", f"log-group:/aws/lambda/{function}:*"),
            )
        )
    statements += _build_statements(needs, arns)
    if needs.declares("AWS::SSM::Parameter"):
        statements.append(
            policy.statement(
                "ProductParameters",
                [
                    "ssm:AddTagsToResource",
                    "ssm:DeleteParameter",
                    "ssm:GetParameters",
                    "ssm:PutParameter",
                    "ssm:RemoveTagsFromResource",
                ],
                arns("ssm", f"parameter/{org}/projects/*", f"parameter/{org}/studio/*"),
            )
        )
    return policy.document(*statements)


def _service_title(service: str) -> str:
    """``sagemaker.amazonaws.com`` -> ``SageMaker`` (statement ids of the PassRole statements)."""
    title = service.split(".")[0].title()
    return {"Sagemaker": "SageMaker", "Codebuild": "CodeBuild", "Codepipeline": "CodePipeline"}.get(title, title)


def _build_statements(needs: LaunchNeeds, arns: Callable[..., list[str]]) -> list[dict]:
    """What a launch role needs for a project that builds from a repository (model-build v3): its
    CodeBuild project, source pipeline and build log group (all named ``<project>-build``), and
    handing the account's connection to CodePipeline only."""
    out = []
    if needs.declares("AWS::CodeBuild::Project"):
        out.append(
            policy.statement(
                "ProjectBuilds",
                [
                    "codebuild:BatchGetProjects",
                    "codebuild:CreateProject",
                    "codebuild:DeleteProject",
                    "codebuild:UpdateProject",
                ],
                arns("codebuild", "project/*-build"),
            )
        )
        out.append(
            policy.statement(
                "ProjectBuildLogs",
                [
                    "logs:AssociateKmsKey",
                    "logs:CreateLogGroup",
                    "logs:DeleteLogGroup",
                    "logs:PutRetentionPolicy",
                    "logs:TagResource",
                ],
                arns("logs", "log-group:/aws/codebuild/*-build", "log-group:/aws/codebuild/*-build:*"),
            )
        )
    if needs.declares("AWS::CodePipeline::Pipeline"):
        out.append(
            policy.statement(
                "ProjectSourcePipelines",
                [
                    "codepipeline:CreatePipeline",
                    "codepipeline:DeletePipeline",
                    "codepipeline:GetPipeline",
                    "codepipeline:GetPipelineState",
                    "codepipeline:ListTagsForResource",
                    "codepipeline:TagResource",
                    "codepipeline:UntagResource",
                    "codepipeline:UpdatePipeline",
                ],
                arns("codepipeline", "*-build"),
            )
        )
        out.append(
            policy.statement(
                "PassConnectionToCodePipeline",
                ["codeconnections:PassConnection"],
                arns("codeconnections", "connection/*"),
                conditions={"StringEquals": {"codeconnections:PassedToService": "codepipeline.amazonaws.com"}},
            )
        )
    return out


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


def _build_boundary(spec: OrgSpec, account_id: str, regions: list[str]) -> list[dict]:
    """What the boundary leaves a team's build roles (:mod:`mlgov.modules.repositories`), in an
    account with a source: the projects' build logs, artifact versions, pipelines and builds, the
    account's connections and passing the team's execution role to SageMaker."""
    account_key = next(k for k, a in spec.accounts.items() if a.id == account_id)
    if spec.accounts[account_key].source is None:
        return []
    teams = account_teams(spec, account_id)
    execution = sorted(policy.role_arn(account_id, naming.team_role(spec, t, "sagemaker-execution")) for t in teams)

    def arns(service: str, *resources: str) -> list[str]:
        return _arns(service, account_id, regions, *resources)

    return [
        policy.statement(
            "BuildLogs",
            ["logs:CreateLogStream", "logs:PutLogEvents"],
            arns("logs", "log-group:/aws/codebuild/*-build", "log-group:/aws/codebuild/*-build:*"),
        ),
        policy.statement(
            "BuildArtifactVersions",
            ["s3:GetBucketVersioning", "s3:GetObjectVersion"],
            policy.bucket_arns(f"sc-{account_id}-pp-*"),
        ),
        policy.statement(
            "BuildPipelines",
            [
                "sagemaker:CreatePipeline",
                "sagemaker:DescribePipeline",
                "sagemaker:DescribePipelineExecution",
                "sagemaker:StartPipelineExecution",
                "sagemaker:UpdatePipeline",
            ],
            arns("sagemaker", "pipeline/*-build", "pipeline/*-build/execution/*"),
        ),
        policy.statement(
            "BuildRuns",
            ["codebuild:BatchGetBuilds", "codebuild:StartBuild"],
            arns("codebuild", "project/*-build"),
        ),
        policy.statement("BuildSources", ["codeconnections:UseConnection"], arns("codeconnections", "connection/*")),
        policy.statement(
            "PassTheExecutionRole",
            ["iam:PassRole"],
            execution,
            conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
        ),
    ]


def _boundary_statements(spec: OrgSpec, account_id: str, regions: list[str]) -> list[dict]:
    """The boundary's statements for the product roles (model build role, Projects enabler)."""
    account_key = next(k for k, a in spec.accounts.items() if a.id == account_id)
    teams = account_teams(spec, account_id)
    prefixes = [naming.model_package_group(spec, t, "") + "-" for t in teams]
    function = naming.product_projects_function(spec)
    model_build = policy.role_arn(account_id, naming.product_role(spec, "model-build"))
    buckets = [f"sc-{account_id}-pp-*"] + [naming.bucket_name(spec, account_key, r, "models") for r in regions]

    def arns(service: str, *resources: str) -> list[str]:
        return _arns(service, account_id, regions, *resources)

    return [
        policy.statement(
            "PipelineJobs",
            [
                "sagemaker:AddTags",
                "sagemaker:CreateProcessingJob",
                "sagemaker:CreateTrainingJob",
                "sagemaker:DescribeProcessingJob",
                "sagemaker:DescribeTrainingJob",
                "sagemaker:StopProcessingJob",
                "sagemaker:StopTrainingJob",
            ],
            arns("sagemaker", "processing-job/*", "training-job/*"),
        ),
        policy.statement(
            "RegisterPendingOnly",
            ["sagemaker:CreateModelPackage"],
            arns("sagemaker", *(f"model-package/{p}*" for p in prefixes)),
            conditions={"StringEquals": {"sagemaker:ModelApprovalStatus": "PendingManualApproval"}},
        ),
        policy.statement(
            "ReadTheTeamsGroups",
            ["sagemaker:DescribeModelPackage", "sagemaker:DescribeModelPackageGroup", "sagemaker:ListModelPackages"],
            arns(
                "sagemaker",
                *(f"model-package-group/{p}*" for p in prefixes),
                *(f"model-package/{p}*" for p in prefixes),
            ),
        ),
        policy.statement(
            "PassTheModelBuildRole",
            ["iam:PassRole"],
            [model_build],
            conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
        ),
        policy.statement(
            "Buckets",
            ["s3:AbortMultipartUpload", "s3:GetBucketLocation", "s3:GetObject", "s3:ListBucket", "s3:PutObject"],
            [arn for b in buckets for arn in policy.bucket_arns(b)],
        ),
        policy.statement(
            "UseKeys",
            [
                "kms:CreateGrant",
                "kms:Decrypt",
                "kms:DescribeKey",
                "kms:Encrypt",
                "kms:GenerateDataKey*",
                "kms:ReEncrypt*",
            ],
            arns("kms", "key/*"),
        ),
        policy.statement(
            "JobNetworkInterfaces",
            [
                "ec2:CreateNetworkInterface",
                "ec2:CreateNetworkInterfacePermission",
                "ec2:DeleteNetworkInterface",
                "ec2:DeleteNetworkInterfacePermission",
            ],
            arns("ec2", "network-interface/*", "security-group/*", "subnet/*"),
        ),
        policy.statement(
            "DescribeNetwork",
            [
                "ec2:DescribeDhcpOptions",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeSubnets",
                "ec2:DescribeVpcs",
            ],
            "*",
        ),
        policy.statement(
            "Logs",
            ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            arns("logs", "log-group:/aws/sagemaker/*", f"log-group:/aws/lambda/{function}:*"),
        ),
        policy.statement(
            "EnableProjects",
            ["sagemaker:EnableSagemakerServicecatalogPortfolio", "sagemaker:GetSagemakerServicecatalogPortfolioStatus"],
            "*",
        ),
        policy.statement(
            "AcceptSageMakersPortfolioShare",
            ["servicecatalog:AcceptPortfolioShare"],
            [f"arn:aws:catalog:{r}:*:portfolio/*" for r in regions],
        ),
    ]


class CatalogLaunchRole(Construct):
    """One launch role per portfolio (the LOCAL role name its launch constraints give), in one dev
    account, and the permissions boundary of every role a product creates."""

    def __init__(self, scope: Construct, id: str, *, spec: OrgSpec, account_id: str, regions: list[str]) -> None:
        super().__init__(scope, id)
        assert spec.service_catalog is not None
        trust = policy.document(
            policy.statement(
                "ServiceCatalogLaunches", ["sts:AssumeRole"], principals={"Service": "servicecatalog.amazonaws.com"}
            )
        )
        self.roles: dict[str, IamRole] = {}
        for pkey in sorted(spec.service_catalog.portfolios):
            address = naming.construct_id("catalog_launch", pkey)
            former = naming.former_portfolio(spec, pkey)
            was = naming.construct_id("catalog_launch", former) if former else None
            role = named(
                IamRole(
                    self,
                    f"role_{pkey}",
                    name=naming.catalog_launch_role(spec, pkey),
                    description=f"Service Catalog launch role of the {naming.portfolio_label(spec, pkey)} portfolio in "
                    "this account.",
                    assume_role_policy=trust,
                    max_session_duration=3600,
                ),
                address,
                was=was,
            )
            named(
                IamRolePolicy(
                    self,
                    f"policy_{pkey}",
                    name="provision-products",
                    role=ref(role, "id"),
                    policy=launch_role_policy(spec, account_id, regions, pkey),
                ),
                address,
                was=was,
            )
            self.roles[pkey] = role
        self.boundary = named(
            IamPolicy(
                self,
                "boundary",
                name=naming.product_boundary(spec),
                description="Permissions boundary of every role a Service Catalog product creates in this account.",
                policy=boundary_policy(spec, account_id, regions),
            ),
            "catalog_product_boundary",
        )


__all__ = [
    "CatalogHub",
    "CatalogLaunchRole",
    "CatalogView",
    "boundary_policy",
    "catalog_view",
    "launch_role_policy",
    "ou_arn",
]
