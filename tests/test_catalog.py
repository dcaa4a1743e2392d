"""Service Catalog: rendered product templates (cfn-lint), hub portfolios/shares, launch role,
and immutability of released product versions."""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

import jinja2
import pytest
import yaml

from mlgov.errors import SpecError
from mlgov.platform import naming
from mlgov.platform.catalog import (
    MAX_PORTFOLIO_PRINCIPAL_PATTERNS,
    portfolio_principal_patterns,
    product_artifacts,
    released_changes,
    render_products,
)
from mlgov.platform.iam import catalog as iam_catalog
from mlgov.platform.iam.catalog import launch_role_policy
from mlgov.review import gates
from mlgov.validation import load_spec
from tests.conftest import ROOT, require_tool
from tests.helpers import resources, statements

EXAMPLE = ROOT / "mlgov" / "examples" / "contoso-vision.yaml"
KITCHEN_SINK = ROOT / "mlgov" / "examples" / "kitchen-sink.yaml"  # every documented option at once
HUB = "ml-shared-services"


def cfn_lint() -> list[str]:
    """cfn-lint as `mlgov check` finds it (mlgov.review.gates)."""
    return gates.cfn_lint_command() or [require_tool("cfn-lint")]


def write(tree: dict[str, bytes], root: Path) -> list[Path]:
    paths = []
    for rel, data in sorted(tree.items()):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
        paths.append(root / rel)
    return paths


def doc(text: str | bytes) -> dict:
    return yaml.safe_load(text)


@pytest.fixture(scope="module")
def example_spec():
    return load_spec(EXAMPLE)


@pytest.fixture(scope="module")
def example_tree(render_spec):
    return render_spec(EXAMPLE)


@pytest.fixture(scope="module")
def hub(stacks):
    return stacks[HUB]


# --- templates ---------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["default", "example", "kitchen-sink"])
@pytest.mark.slow  # starts cfn-lint
def test_every_rendered_template_passes_cfn_lint_without_warnings(which, default_spec, example_spec, tmp_path):
    # GIVEN every product version of the default spec / of a spec with other teams and params
    spec = {"default": default_spec, "example": example_spec}.get(which) or load_spec(KITCHEN_SINK)
    files = write(render_products(spec), tmp_path)
    assert len(files) == sum(
        len(p.versions) for pf in spec.service_catalog.portfolios.values() for p in pf.products.values()
    )
    # WHEN cfn-lint checks them (errors AND warnings; no rule disabled)
    findings = gates.run_cfn_lint(cfn_lint(), files)
    # THEN nothing is reported
    assert findings == [], "\n".join(map(str, findings))


def test_sso_profile_version_sets_the_single_sign_on_user_only_when_given(example_spec):
    # GIVEN the example's SSO domain and its user-profile product's versions
    rendered = {k.rsplit("/", 1)[1]: doc(v) for k, v in render_products(example_spec).items() if "/profile/" in k}
    # THEN the released versions are as they were (no SSO fields) and the new one sets both,
    # UserName-identified, when the launcher gives the user's SSO user name
    assert "SingleSignOnUserValue" not in json.dumps(rendered["v2.yaml"])
    v3 = rendered["v3.yaml"]
    props = v3["Resources"]["UserProfile"]["Properties"]
    assert props["SingleSignOnUserIdentifier"] == {"Fn::If": ["IsSso", "UserName", {"Ref": "AWS::NoValue"}]}
    assert props["SingleSignOnUserValue"] == {
        "Fn::If": ["IsSso", {"Ref": "SingleSignOnUserValue"}, {"Ref": "AWS::NoValue"}]
    }
    assert v3["Conditions"]["IsSso"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "SingleSignOnUserValue"}, ""]}]}


@pytest.mark.slow  # starts cfn-lint
def test_cfn_lint_harness_does_catch_a_broken_template(default_spec, tmp_path):
    # GIVEN the domain template with an invalid network access type THEN cfn-lint fails it
    (artifact,) = [a for a in product_artifacts(default_spec) if a.product == "studio-domain" and a.version == "v2"]
    broken = tmp_path / "broken.yaml"
    broken.write_text(artifact.text.replace("AppNetworkAccessType: VpcOnly", "AppNetworkAccessType: Internet-ish"))
    findings = gates.run_cfn_lint(cfn_lint(), [broken])
    assert any("Internet-ish" in f.message and "VpcOnly" in f.message for f in findings), findings


def test_products_land_in_generated_by_portfolio_product_version(tree, default_spec):
    keys = sorted(p for p in tree if p.startswith("products/"))
    assert keys == [
        "products/ml-admin/studio-domain/v1.yaml",
        "products/ml-admin/studio-domain/v2.yaml",
        "products/ml-admin/studio-user-profile/v1.yaml",
        "products/ml-admin/studio-user-profile/v2.yaml",
        "products/sagemaker-projects/endpoint-deploy/v1.yaml",
        "products/sagemaker-projects/model-build/v1.yaml",
        "products/sagemaker-projects/model-build/v2.yaml",
        "products/sagemaker-projects/model-build/v3.yaml",
        "products/sagemaker-projects/model-build/v4.yaml",
    ]
    assert render_products(default_spec) == {k: tree[k] for k in keys}


def test_domain_is_vpc_only_with_customer_managed_key_and_spec_cost_tags(tree):
    template = doc(tree["products/ml-admin/studio-domain/v1.yaml"])
    res = template["Resources"]
    domain = res["Domain"]["Properties"]
    assert domain["AppNetworkAccessType"] == "VpcOnly"
    assert domain["KmsKeyId"] == {"Fn::GetAtt": ["KmsKey", "Arn"]}
    assert res["KmsKey"]["Properties"]["EnableKeyRotation"] is True
    assert domain["DefaultUserSettings"]["ExecutionRole"] == {"Fn::GetAtt": ["ExecutionRole", "Arn"]}
    params = template["Parameters"]
    assert params["AuthMode"]["AllowedValues"] == ["IAM", "SSO"]
    assert {k: params[k]["Default"] for k in ("Environment", "FinanceOwner", "BusinessUnit", "CostCenter")} == {
        "Environment": "dev",
        "FinanceOwner": "ml-finance@northwind.example",
        "BusinessUnit": "data-science",
        "CostCenter": "4100",
    }
    bucket = res["DomainBucket"]["Properties"]
    assert (
        bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"][
            "SSEAlgorithm"
        ]
        == "aws:kms"
    )
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert res["EnableProjects"]["Type"] == "Custom::SageMakerProjects"


def test_data_scientist_cannot_approve_models_but_the_lead_can(tree):
    res = doc(tree["products/ml-admin/studio-domain/v1.yaml"])["Resources"]

    def inline(role):
        return [s for p in res[role]["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]]

    denies = [s for s in inline("DataScientistRole") if s["Effect"] == "Deny"]
    assert denies and denies[0]["Action"] == "sagemaker:UpdateModelPackage" and denies[0]["Resource"] == "*"
    assert res["DataScientistRole"]["Properties"]["RoleName"] == "nwa-sc-data-scientist"
    (lead,) = inline("LeadDataScientistRole")
    assert lead["Effect"] == "Allow" and lead["Action"] == "sagemaker:UpdateModelPackage"
    # the shared policy grants neither side approval
    shared = res["StudioPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert not any("sagemaker:UpdateModelPackage" in json.dumps(s["Action"]) for s in shared)


@pytest.mark.parametrize("which", ["default", "example"])
def test_product_roles_have_fixed_names_and_templates_pass_only_named_roles(which, default_spec, example_spec):
    # GIVEN every rendered product version of a spec
    spec = default_spec if which == "default" else example_spec
    fixed = set(naming.product_roles(spec).values())
    created, passed = set(), []
    for artifact in product_artifacts(spec):
        res = doc(artifact.text).get("Resources", {})
        for resource in res.values():
            props = resource.get("Properties", {})
            # THEN every role a template creates has one of the fixed names (no launch-time parameter)
            if resource["Type"] == "AWS::IAM::Role":
                assert isinstance(props["RoleName"], str) and props["RoleName"] in fixed, (
                    artifact.key,
                    props["RoleName"],
                )
                created.add(props["RoleName"])
                passed += [
                    s
                    for p in props.get("Policies", [])
                    for s in p["PolicyDocument"]["Statement"]
                    if s["Action"] == "iam:PassRole"
                ]
            if resource["Type"] == "AWS::IAM::ManagedPolicy":
                passed += [s for s in props["PolicyDocument"]["Statement"] if s["Action"] == "iam:PassRole"]
    assert created == fixed
    # AND every PassRole statement inside the templates names fixed role ARNs for one service
    assert {s["Sid"] for s in passed} == {"PassOnlyStudioRolesToSageMaker", "PassOnlyItselfToSageMaker"}
    for stmt in passed:
        arns = [r["Fn::Sub"] for r in (stmt["Resource"] if isinstance(stmt["Resource"], list) else [stmt["Resource"]])]
        prefix = "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/"
        assert all(a.startswith(prefix) and a.removeprefix(prefix) in fixed for a in arns), arns
        assert stmt["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}


def test_fixed_product_names_are_length_checked_at_validate_time(default_spec):
    # Enum members with equal values are aliases: a policy name would be checked (and reported) as an SCP.
    assert len(naming.Kind.__members__) == len(naming.Kind)
    planned = {(n.kind, n.name) for n in naming.planned_names(default_spec)}
    assert {(naming.Kind.IAM_ROLE, r) for r in naming.product_roles(default_spec).values()} <= planned
    assert (naming.Kind.IAM_POLICY, "nwa-sc-studio") in planned and (naming.Kind.LAMBDA, "nwa-sc-projects") in planned


def test_model_build_runs_as_the_accounts_build_role_which_its_key_and_bucket_trust(tree):
    res = doc(tree["products/sagemaker-projects/model-build/v1.yaml"])["Resources"]
    build_role = {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/nwa-sc-model-build"}
    assert not [r for r in res.values() if r["Type"] == "AWS::IAM::Role"]
    assert res["BuildPipeline"]["Properties"]["RoleArn"] == build_role
    key_grants = [
        s for s in res["KmsKey"]["Properties"]["KeyPolicy"]["Statement"] if s["Principal"].get("AWS") == build_role
    ]
    bucket_grants = [
        s
        for s in res["ArtifactBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
        if s["Principal"].get("AWS") == build_role
    ]
    assert len(key_grants) == 1 and len(bucket_grants) == 2


def test_model_build_registers_into_a_group_the_hub_can_read(tree, default_spec):
    res = doc(tree["products/sagemaker-projects/model-build/v1.yaml"])["Resources"]
    hub_root = f"arn:aws:iam::{default_spec.accounts[HUB].id}:root"
    group_policy = res["ModelPackageGroup"]["Properties"]["ModelPackageGroupPolicy"]["Statement"]
    assert {s["Principal"]["AWS"] for s in group_policy} == {hub_root}
    assert {a for s in group_policy for a in s["Action"]} == {
        "sagemaker:DescribeModelPackageGroup",
        "sagemaker:DescribeModelPackage",
        "sagemaker:ListModelPackages",
    }
    body = res["BuildPipeline"]["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"]["Fn::Sub"]
    definition = json.loads(body.replace("${MinimumAuc}", "0.7"))
    steps = [s["Name"] for s in definition["Steps"]]
    assert steps == ["Preprocess", "Train", "Evaluate", "CheckAuc"]
    (register,) = definition["Steps"][3]["Arguments"]["IfSteps"]
    assert register["Type"] == "RegisterModel"
    assert register["Arguments"]["ModelApprovalStatus"] == {"Get": "Parameters.ModelApprovalStatus"}
    assert res["ArtifactBucket"]["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
        "ServerSideEncryptionByDefault"
    ]["KMSMasterKeyID"] == {"Fn::GetAtt": ["KmsKey", "Arn"]}


def test_deploy_product_is_prefilled_from_each_teams_stages(tree, example_spec):
    default = doc(tree["products/sagemaker-projects/endpoint-deploy/v1.yaml"])
    assert default["Mappings"]["TeamStages"] == {
        "330000000003": {"Team": "fraud", "TestAccount": "440000000005", "ProdAccount": "550000000006"},
        "330000000004": {"Team": "churn", "TestAccount": "440000000005", "ProdAccount": "550000000006"},
    }
    other = doc(render_products(example_spec)["products/projects/deploy/v1.yaml"])
    assert other["Mappings"]["TeamStages"]["303030303033"] == {
        "Team": "nlp",
        "TestAccount": "404040404040",
        "ProdAccount": "none",
    }
    assert other["Parameters"]["EndpointInstanceType"]["Default"] == "ml.c5.large"
    assert set(other["Parameters"]) >= {
        "SageMakerProjectName",
        "SageMakerProjectId",
        "ModelPackageGroupName",
        "TestAccountId",
        "ProdAccountId",
    }


def test_template_environment_is_strict_and_has_no_nondeterministic_helpers():
    from mlgov.platform.templates import environment, render_template

    env = environment()
    assert env.undefined is jinja2.StrictUndefined and env.keep_trailing_newline and not env.autoescape
    assert not env.extensions and "range" not in env.globals and "lipsum" not in env.globals
    with pytest.raises(jinja2.UndefinedError):
        render_template("studio-user-profile", {"description": "x"})


# --- hub stack ---------------------------------------------------------------------------


def test_portfolios_are_shared_to_the_workloads_ou_with_principal_sharing(hub):
    shares = resources(hub, "aws_servicecatalog_portfolio_share")
    assert sorted(shares) == ["ml_admin_ml_workloads", "sagemaker_projects_ml_workloads"]
    for name, share in shares.items():
        assert share["principal_id"] == "arn:aws:organizations::110000000001:ou/o-nw4a8k2j6q/ou-nw4a-mlwork01"
        assert share["type"] == "ORGANIZATIONAL_UNIT" and share["share_principals"] is True
        assert share["portfolio_id"] == f"${{aws_servicecatalog_portfolio.{name.rsplit('_ml_workloads')[0]}.id}}"


def test_one_launch_constraint_per_product_portfolio_pair_with_a_local_role(hub, stacks, default_spec):
    pairs = {
        (a["portfolio_id"], a["product_id"])
        for a in resources(hub, "aws_servicecatalog_product_portfolio_association").values()
    }
    constraints = resources(hub, "aws_servicecatalog_constraint").values()
    # four products, one of them (endpoint-deploy) retired: out of the portfolio
    assert len(pairs) == 3 and sorted((c["portfolio_id"], c["product_id"]) for c in constraints) == sorted(pairs)
    # each constraint names the launch role of ITS portfolio, and every dev stack creates each one
    by_address = {naming.construct_id(p): p for p in default_spec.service_catalog.portfolios}
    for c in constraints:
        pkey = by_address[c["portfolio_id"].split(".")[1]]
        role = naming.catalog_launch_role(default_spec, pkey)
        assert c["type"] == "LAUNCH" and json.loads(c["parameters"]) == {"LocalRoleName": role}
    assert {json.loads(c["parameters"])["LocalRoleName"] for c in constraints} == {
        "nwa-catalog-launch-ml-admin",
        "nwa-catalog-launch-sagemaker-projects",
    }
    for key in default_spec.keys_in_layer(default_spec.accounts["ml-dev-fraud"].layer):
        for pkey in default_spec.service_catalog.portfolios:
            address = naming.construct_id("catalog_launch", pkey)
            assert resources(stacks[key], "aws_iam_role")[address]["name"] == naming.catalog_launch_role(
                default_spec, pkey
            )


def test_projects_products_are_visible_in_studio_and_admin_products_are_not(hub):
    products = resources(hub, "aws_servicecatalog_product")
    for name, product in products.items():
        visible = name.startswith("sagemaker_projects_") and name != "sagemaker_projects_endpoint_deploy"
        expected = {"sagemaker:studio-visibility": "true"} if visible else None
        assert product.get("tags") == expected, name


def test_principal_associations_are_one_pattern_per_persona(hub, default_spec):
    assoc = resources(hub, "aws_servicecatalog_principal_portfolio_association")
    got = {k: (a["portfolio_id"].split(".")[1], a["principal_arn"], a["principal_type"]) for k, a in assoc.items()}
    # one <org>-*-<persona> pattern per persona the portfolio names, whatever the number of teams
    assert got == {
        "ml_admin_nwa_lead_data_scientist": ("ml_admin", "arn:aws:iam:::role/nwa-*-lead-data-scientist", "IAM_PATTERN"),
        "sagemaker_projects_nwa_data_scientist": (
            "sagemaker_projects",
            "arn:aws:iam:::role/nwa-*-data-scientist",
            "IAM_PATTERN",
        ),
        "sagemaker_projects_nwa_lead_data_scientist": (
            "sagemaker_projects",
            "arn:aws:iam:::role/nwa-*-lead-data-scientist",
            "IAM_PATTERN",
        ),
    }
    # the construct and the quota check count the same patterns
    for pkey in default_spec.service_catalog.portfolios:
        mine = sorted(arn for portfolio, arn, _ in got.values() if portfolio == naming.construct_id(pkey))
        assert mine == [f"arn:aws:iam:::role/{p}" for p in portfolio_principal_patterns(default_spec, pkey)]


def test_templates_are_uploaded_verbatim_to_an_organization_only_bucket(hub, tree):
    # Only the catalog's objects: the governance flow uploads its own (endpoint source zip).
    objects = {n: o for n, o in resources(hub, "aws_s3_object").items() if o["bucket"] == "${aws_s3_bucket.catalog.id}"}
    assert len(objects) == 9  # every version, the retired product's included
    for obj in objects.values():
        assert obj["bucket"] == "${aws_s3_bucket.catalog.id}"
        # Terraform turns $${ back into ${, so S3 receives exactly the committed bytes.
        assert obj["content"].replace("$${", "${").replace("%%{", "%{").encode() == tree[obj["key"]]
        assert "${AWS::" not in obj["content"].replace("$${", "")
    bucket_policy = statements(resources(hub, "aws_s3_bucket_policy")["catalog"]["policy"])
    (allow,) = [s for s in bucket_policy if s["Effect"] == "Allow"]
    assert allow["Action"] == ["s3:GetObject"] and allow["Condition"] == {
        "StringEquals": {"aws:PrincipalOrgID": "o-nw4a8k2j6q"}
    }
    product = resources(hub, "aws_servicecatalog_product")["ml_admin_studio_domain"]
    assert product["provisioning_artifact_parameters"]["template_url"] == (
        "https://nwa-catalog-220000000002-eu-west-1.s3.eu-west-1.amazonaws.com/products/ml-admin/studio-domain/v1.yaml"
    )
    assert resources(hub, "aws_kms_key")["catalog"]["enable_key_rotation"] is True


ROLE = "arn:aws:iam::330000000003:role/nwa-sc-{}".format
FRAUD_PERSONAS = [
    "arn:aws:iam::330000000003:role/nwa-fraud-data-scientist",
    "arn:aws:iam::330000000003:role/nwa-fraud-lead-data-scientist",
]
# (launch role address, what it passes to which service, roles it may create under the boundary)
LAUNCH_ROLES = {
    # Studio: the domain's Projects function, the profiles' persona roles (only leads launch here)
    "catalog_launch_ml_admin": (
        {"lambda.amazonaws.com": [ROLE("projects")], "sagemaker.amazonaws.com": FRAUD_PERSONAS},
        [ROLE("model-build"), ROLE("projects")],
    ),
    # projects: only the pipelines' roles and v3's build roles, never a persona (data scientists launch here);
    # the team's execution role opens no gate and the personas may pass it themselves
    "catalog_launch_sagemaker_projects": (
        {
            "codebuild.amazonaws.com": ["arn:aws:iam::330000000003:role/nwa-fraud-codebuild"],
            "codepipeline.amazonaws.com": ["arn:aws:iam::330000000003:role/nwa-fraud-codepipeline"],
            "sagemaker.amazonaws.com": [
                "arn:aws:iam::330000000003:role/nwa-fraud-sagemaker-execution",
                ROLE("model-build"),
            ],
        },
        [],
    ),
}


@pytest.mark.parametrize("address", sorted(LAUNCH_ROLES))
def test_launch_role_is_least_privilege(stacks, address):
    stack = stacks["ml-dev-fraud"]
    trust = statements(resources(stack, "aws_iam_role")[address]["assume_role_policy"])
    assert trust == [
        {
            "Sid": "ServiceCatalogLaunches",
            "Effect": "Allow",
            "Action": ["sts:AssumeRole"],
            "Principal": {"Service": "servicecatalog.amazonaws.com"},
        }
    ]
    stmts = statements(resources(stack, "aws_iam_role_policy")[address]["policy"])
    for s in stmts:
        assert all(a != "*" and not a.endswith(":*") and not a.startswith("iam:*") for a in s["Action"]), s
        if s["Resource"] == "*":
            assert not any(a.startswith("iam:") for a in s["Action"]), s
    passes = {
        s["Condition"]["StringEquals"]["iam:PassedToService"]: s["Resource"]
        for s in stmts
        if "iam:PassRole" in s["Action"]
    }
    want_passes, want_creates = LAUNCH_ROLES[address]
    # what the portfolio's templates pass, each role to its one service
    assert passes == want_passes
    escalating = {"iam:CreateRole", "iam:PutRolePolicy", "iam:AttachRolePolicy", "iam:PutRolePermissionsBoundary"}
    escalating |= {"iam:CreatePolicy", "iam:CreatePolicyVersion", "iam:DeleteRolePermissionsBoundary"}
    if want_creates:
        # roles are created or given policies only under the product boundary
        (create,) = [s for s in stmts if "iam:CreateRole" in s["Action"]]
        assert create["Resource"] == want_creates
        assert create["Condition"] == {
            "StringEquals": {"iam:PermissionsBoundary": "arn:aws:iam::330000000003:policy/nwa-catalog-product-boundary"}
        }
        assert [s["Sid"] for s in stmts if escalating & set(s["Action"])] == ["CreateProductRolesUnderTheBoundary"]
    else:
        # a portfolio whose templates declare no role creates none
        assert [s["Sid"] for s in stmts if escalating & set(s["Action"])] == []
    # no model package group of its own: projects register into the team's Terraform-owned groups
    assert not [s for s in stmts for a in s["Action"] if "ModelPackageGroup" in a]
    # the launch roles cannot touch themselves: their names are outside the product role prefix
    spec = load_spec(ROOT / "org.yaml")
    assert not [p for p in spec.service_catalog.portfolios if naming.catalog_launch_role(spec, p).startswith("nwa-sc-")]


def test_projects_launch_role_has_only_what_the_projects_templates_need(stacks):
    # GIVEN the two launch roles of the fraud account THEN the projects one manages no Studio and no IAM role
    projects = statements(
        resources(stacks["ml-dev-fraud"], "aws_iam_role_policy")["catalog_launch_sagemaker_projects"]["policy"]
    )
    actions = {a for s in projects for a in s["Action"]}
    assert not {a for a in actions if a.startswith(("sagemaker:CreateDomain", "sagemaker:CreateUserProfile"))}
    assert {a for a in actions if a.startswith("iam:")} == {"iam:PassRole"}
    assert not [s for s in projects if "lambda:CreateFunction" in s["Action"]]
    # AND each role reads only its own portfolio's templates from the hub
    for address, pkey in (
        ("catalog_launch_ml_admin", "ml-admin"),
        ("catalog_launch_sagemaker_projects", "sagemaker-projects"),
    ):
        stmts = statements(resources(stacks["ml-dev-fraud"], "aws_iam_role_policy")[address]["policy"])
        (templates,) = [s for s in stmts if s["Sid"] == "TemplatesFromTheHub"]
        assert templates["Resource"] == [f"arn:aws:s3:::nwa-catalog-220000000002-eu-west-1/products/{pkey}/*"]


def test_later_versions_become_provisioning_artifacts(example_tree):
    # GIVEN a spec with two versions of the domain product WHEN synthesized
    hub = json.loads(example_tree["stacks/ml-hub/cdk.tf.json"])
    artifacts = resources(hub, "aws_servicecatalog_provisioning_artifact")
    # THEN v1 is the product's initial artifact and v1.1 a separate artifact of that product
    assert sorted(artifacts) == [
        "admin_domain_v1_1",
        "admin_domain_v2",
        "admin_profile_v2",
        "admin_profile_v3",
        "projects_build_v2",
    ]
    assert artifacts["admin_domain_v1_1"]["product_id"] == "${aws_servicecatalog_product.admin_domain.id}"
    assert (
        resources(hub, "aws_servicecatalog_product")["admin_domain"]["provisioning_artifact_parameters"]["name"] == "v1"
    )
    shares = resources(hub, "aws_servicecatalog_portfolio_share")
    assert (
        shares["projects_workloads"]["principal_id"]
        == "arn:aws:organizations::101010101010:ou/o-cv7h3m9p2x/ou-cv7h-workld01"
    )
    assert resources(hub, "aws_servicecatalog_tag_option")["projects_data_classification"]["value"] == "internal"


# --- immutability ------------------------------------------------------------------------


def test_changed_template_under_a_released_version_is_reported(default_spec, tmp_path, monkeypatch):
    from mlgov.platform import templates as render

    # GIVEN the released rendering of every product
    released = render_products(default_spec)
    # WHEN the domain template changes (a copy of templates/, edited)
    copy = tmp_path / "templates"
    shutil.copytree(render.TEMPLATES_DIR, copy)
    path = copy / "studio-domain.yaml.j2"
    path.write_text(path.read_text().replace("RetentionInDays: 90", "RetentionInDays: 30"))
    monkeypatch.setattr(render, "TEMPLATES_DIR", copy)
    render.environment.cache_clear()
    try:
        changed = render_products(_unfrozen(default_spec))
        kept = render_products(default_spec)
    finally:
        monkeypatch.undo()
        render.environment.cache_clear()
    # THEN a frozen v1 keeps its released bytes whatever its template says now
    assert released_changes(kept, released) == []
    # AND rendered instead (unfrozen), exactly that product's released version is named, with the way out
    (message,) = released_changes(changed, released)
    assert message.startswith(
        "products/ml-admin/studio-domain/v1.yaml: released version 'v1' of product ml-admin/studio-domain would change"
    )
    assert "add a new version name to service_catalog.portfolios.ml-admin.products.studio-domain.versions" in message
    # and a new version, or a removed one, is not a change of a released version
    assert released_changes({**released, "products/ml-admin/studio-domain/v3.yaml": b"x"}, released) == []
    assert released_changes({}, released) == []


def test_synth_and_check_refuse_to_rewrite_a_released_version(tree, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from mlgov.cli import cli

    # GIVEN an output directory whose released v1 differs from what the templates render now
    out = tmp_path / "out"
    write(tree, out)
    released = out / "products/sagemaker-projects/model-build/v1.yaml"
    released.write_bytes(released.read_bytes().replace(b"NoncurrentDays: 90", b"NoncurrentDays: 60"))
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    monkeypatch.chdir(ROOT)
    runner = CliRunner()
    for extra in ([], ["--check"]):
        # WHEN synth (or synth --check) runs against it
        result = runner.invoke(cli, ["synth", "org.yaml", "--out", str(out), *extra])
        # THEN exit 2, one clear line naming the version, and nothing written
        assert result.exit_code == 2, result.output
        assert f"{out}/products/sagemaker-projects/model-build/v1.yaml: released version 'v1'" in result.output
        assert "add a new version name" in result.output
        assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


# Released versions whose template has moved on since (a newer version renders it): they stay
# frozen in every "as if nothing were frozen" test, or they would be reported too.
MOVED_ON = {("sagemaker-projects", "model-build", "v3")}
MOVED_ON_LINE = "              frozen: true   # released bytes: v4 seals the artifacts' versions"


def _unfrozen(spec):
    """``spec`` with every product version rendered from its template (no ``frozen``), except
    the released versions whose template moved on (:data:`MOVED_ON`)."""
    catalog = spec.service_catalog
    portfolios = {
        pkey: pf.model_copy(
            update={
                "products": {
                    key: prod.model_copy(
                        update={
                            "versions": [
                                v.model_copy(update={"frozen": (pkey, key, v.name) in MOVED_ON and v.frozen})
                                for v in prod.versions
                            ]
                        }
                    )
                    for key, prod in pf.products.items()
                }
            }
        )
        for pkey, pf in catalog.portfolios.items()
    }
    return spec.model_copy(update={"service_catalog": catalog.model_copy(update={"portfolios": portfolios})})


RISK_TEAM = (
    "  ml-dev-risk:\n"
    '    id: "330000000009"\n'
    "    layer: dev\n"
    "    ou: ml-workloads\n"
    "    network: {cidr: 10.12.0.0/16}\n"
    "    source: {provider: GitHub, owner: northwind}\n"
    "  ml-test:\n",
    "teams:\n"
    "  risk:\n"
    "    dev_account: ml-dev-risk\n"
    "    stages:\n"
    "      - {name: test, account: ml-test}\n"
    "      - {name: prod, account: ml-prod, manual_approval: true}\n",
)


def _with_risk_team(text: str) -> str:
    accounts, teams = RISK_TEAM
    assert text.count("  ml-test:\n") == 1 and text.count("\nteams:\n") == 1
    return text.replace("  ml-test:\n", accounts).replace("\nteams:\n", "\n" + teams)


def test_adding_a_team_synthesizes_and_leaves_every_released_product_byte_identical(tree, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from mlgov.cli import cli

    # GIVEN the committed output and the default spec with one more team (dev account, stages)
    out = tmp_path / "out"
    write(tree, out)
    spec = tmp_path / "org.yaml"
    spec.write_text(_with_risk_team((ROOT / "org.yaml").read_text()))
    # WHEN synth runs over the committed output
    result = CliRunner().invoke(cli, ["synth", str(spec), "--out", str(out)])
    # THEN it succeeds, the team gets its stack, and no product file changed by a byte
    assert result.exit_code == 0, result.output
    assert (out / "stacks/ml-dev-risk/cdk.tf.json").is_file()
    products = {k: v for k, v in tree.items() if k.startswith("products/")}
    assert {k: (out / k).read_bytes() for k in products} == products


def test_the_printed_remedy_for_a_changed_released_version_works_when_followed_literally(tmp_path, monkeypatch):
    from mlgov.platform import templates as render
    from mlgov.spec.located import load_yaml
    from mlgov.validation import parse_spec

    # GIVEN the released products, and templates/ without the released copies (as before freezing)
    text = (ROOT / "org.yaml").read_text()
    released = render_products(load_spec(ROOT / "org.yaml"))
    copy = tmp_path / "templates"
    shutil.copytree(render.TEMPLATES_DIR, copy, ignore=shutil.ignore_patterns("released"))
    for portfolio, product, version in MOVED_ON:
        kept = copy / "released" / portfolio / product / f"{version}.yaml"
        kept.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(render.TEMPLATES_DIR / "released" / portfolio / product / f"{version}.yaml", kept)
    monkeypatch.setattr(render, "TEMPLATES_DIR", copy)
    render.environment.cache_clear()
    try:
        # WHEN a team is added to the spec with nothing frozen
        assert MOVED_ON_LINE in text
        unfrozen = _with_risk_team(text).replace(MOVED_ON_LINE, "<moved on>")
        unfrozen = unfrozen.replace("              frozen: true", "              frozen: false")
        unfrozen = unfrozen.replace("<moved on>", MOVED_ON_LINE)
        (message,) = released_changes(render_products(_unfrozen(parse_spec(load_yaml(unfrozen, "org.yaml")))), released)
        # THEN the endpoint product's v1 (it prints every team's stages) is refused, with the way out
        rel = "products/sagemaker-projects/endpoint-deploy/v1.yaml"
        assert message.startswith(f"{rel}: released version 'v1'")
        assert f"copy this file to templates/released/{rel.removeprefix('products/')} and set `frozen: true`" in message
        # AND a frozen version without its copy is one clear line at validate time
        frozen = _with_risk_team(text)
        with pytest.raises(SpecError, match=r"frozen: no released copy of this version"):
            parse_spec(load_yaml(frozen, "org.yaml"))
        # WHEN the advice is followed literally: the released file copied there, `frozen: true` set
        target = copy / "released" / rel.removeprefix("products/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(released[rel])
        lines = unfrozen.splitlines(keepends=True)
        at = next(i for i, line in enumerate(lines) if line.strip() == "template: endpoint-deploy")
        at = next(i for i in range(at, len(lines)) if lines[i].strip().startswith("frozen:"))
        lines[at] = lines[at].replace("frozen: false", "frozen: true")
        followed = parse_spec(load_yaml("".join(lines), "org.yaml"))
        # THEN nothing released changes any more
        after = render_products(followed)
        assert released_changes(after, released) == []
        assert after[rel] == released[rel]
    finally:
        monkeypatch.undo()
        render.environment.cache_clear()


def test_launch_role_of_a_multi_region_account_covers_every_region(default_spec):
    # GIVEN a dev account built in two regions WHEN its (single, global) launch role is made
    stmts = statements(launch_role_policy(default_spec, "330000000003", ["eu-central-1", "eu-west-1"], "ml-admin"))
    (stacks_stmt,) = [s for s in stmts if s["Sid"] == "ProductStacks"]
    # THEN the role may manage product stacks in both, and nowhere else
    assert stacks_stmt["Resource"] == [
        "arn:aws:cloudformation:eu-central-1:330000000003:stack/SC-*",
        "arn:aws:cloudformation:eu-west-1:330000000003:stack/SC-*",
    ]


def test_the_catalog_constructs_spell_none_of_the_actions_their_documents_grant(default_spec):
    # GIVEN every action the catalog's documents grant, for every account and portfolio of the spec
    docs = [iam_catalog.launch_role_trust()]
    for key, account in default_spec.accounts.items():
        regions = default_spec.account_regions(key)
        docs.append(iam_catalog.boundary_policy(default_spec, account.id, regions))
        docs += [
            launch_role_policy(default_spec, account.id, regions, p) for p in default_spec.service_catalog.portfolios
        ]
    hub_statements = iam_catalog.template_key_statements(default_spec, "eu-west-1")
    hub_statements += iam_catalog.template_bucket_statements(default_spec, "bucket")
    granted = {a for d in docs for s in statements(d) for a in s["Action"]} | {
        a for s in hub_statements for a in s["Action"]
    }
    # WHEN the constructs' source is read
    tree = ast.parse((ROOT / "mlgov" / "modules" / "catalog.py").read_text())
    literals = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    # THEN it spells none of them: the documents are built in mlgov.platform.iam.catalog, the
    # constructs only attach them
    assert len(granted) > 100
    assert sorted(granted & literals) == []


@pytest.mark.terraform
def test_example_hub_plans_and_terraform_uploads_the_exact_template_bytes(example_tree, tf_cli_config, tmp_path):
    from mlgov.review import terraform

    # GIVEN the other spec's hub stack (later versions, tag options, nested OUs)
    src = tmp_path / "src"
    write({k.split("/", 2)[2]: v for k, v in example_tree.items() if k.startswith("stacks/ml-hub/")}, src)
    ws = terraform.Workspace(src, tmp_path / "ws", tf_cli_config)
    # WHEN terraform inits, validates and plans it offline
    for step in (ws.init, ws.validate, ws.plan, ws.show_json):
        result = step()
        assert result.ok, result.stdout + result.stderr
    planned = json.loads(result.stdout)
    objects = {
        r["values"]["key"]: r["values"]["content"]
        for r in planned["planned_values"]["root_module"]["resources"]
        if r["type"] == "aws_s3_object" and r["values"]["key"].startswith("products/")
    }
    # THEN what terraform would upload is byte-for-byte the rendered template (${...} unescaped)
    assert objects and {k: v.encode() for k, v in objects.items()} == {
        k: v for k, v in example_tree.items() if k.startswith("products/")
    }


# --- v2: products inside the platform's own roles, registries and guardrails ---------------

V2 = {
    "domain": "products/ml-admin/studio-domain/v2.yaml",
    "profile": "products/ml-admin/studio-user-profile/v2.yaml",
    "build": "products/sagemaker-projects/model-build/v2.yaml",
}
V1 = {
    "domain": "products/ml-admin/studio-domain/v1.yaml",
    "profile": "products/ml-admin/studio-user-profile/v1.yaml",
    "build": "products/sagemaker-projects/model-build/v1.yaml",
}
BOUNDARY = "arn:${AWS::Partition}:iam::${AWS::AccountId}:policy/nwa-catalog-product-boundary"


def fraud_values(spec, **extra):
    """What the fraud dev account's SSM parameters hold (the network ids are made up)."""
    account = spec.accounts["ml-dev-fraud"].id
    return {
        "AWS::AccountId": account,
        "AWS::Region": "eu-west-1",
        "AWS::Partition": "aws",
        "TeamName": "fraud",
        "VpcId": "vpc-0fraud",
        "SubnetIds": ["subnet-0a", "subnet-0b"],
        "SecurityGroupIds": ["sg-0jobs"],
        "ModelsBucket": naming.bucket_name(spec, "ml-dev-fraud", "eu-west-1", "models"),
        "ModelsKeyArn": f"arn:aws:kms:eu-west-1:{account}:key/models",
        "TeamModelPackageGroups": [
            naming.model_package_group(spec, "fraud", g) for g in ("card-scoring", "merchant-risk")
        ],
        "DomainId": "d-fraud",
        "Environment": "dev",
        "FinanceOwner": "ml-finance@northwind.example",
        "BusinessUnit": "payments",
        "CostCenter": "4100",
        "SageMakerProjectName": "cards",
        "SageMakerProjectId": "p-cards",
        "UserProfileName": "alice",
        **extra,
    }


def job_problems(spec, text: str) -> list[str]:
    """Every SageMaker job a product's pipeline creates must carry what sagemaker_vpc_kms requires."""
    from mlgov.platform.catalog import product_requests

    problems = []
    for r in product_requests(spec, text, portfolio="sagemaker-projects"):
        if r.action in ("sagemaker:CreateProcessingJob", "sagemaker:CreateTrainingJob"):
            for key in ("sagemaker:VpcSubnets", "sagemaker:VpcSecurityGroupIds"):
                if key not in r.context:
                    problems.append(f"{r.source}: {r.action} without {key}")
            for key in ("sagemaker:VolumeKmsKeyArn", "sagemaker:OutputKmsKeyArn"):
                if key not in r.context:
                    problems.append(f"{r.source}: {r.action} without {key}")
    return problems


def registration_problems(text: str) -> list[str]:
    """Registration is pinned to PendingManualApproval: no pipeline parameter for it, and every
    CreateModelPackage grant in the template carries the condition."""
    problems = []
    res = doc(text)["Resources"]
    for logical, resource in res.items():
        if resource["Type"] == "AWS::SageMaker::Pipeline":
            from mlgov.platform.catalog import pipeline_body

            body = json.loads(pipeline_body(resource)[0].replace("${MinimumAuc}", "0"))
            if any(p["Name"] == "ModelApprovalStatus" for p in body["Parameters"]):
                problems.append(f"{logical}: a starter may override ModelApprovalStatus")
        documents = [p["PolicyDocument"] for p in resource.get("Properties", {}).get("Policies", [])]
        if resource["Type"] == "AWS::IAM::ManagedPolicy":
            documents.append(resource["Properties"]["PolicyDocument"])
        for document in documents:
            for s in document["Statement"]:
                if s["Effect"] == "Allow" and "sagemaker:CreateModelPackage" in as_list(s["Action"]):
                    pinned = s.get("Condition", {}).get("StringEquals", {}).get("sagemaker:ModelApprovalStatus")
                    if pinned != "PendingManualApproval":
                        problems.append(f"{logical}: {s['Sid']} may register without PendingManualApproval")
    return problems


def as_list(value):
    return value if isinstance(value, list) else [value]


def test_v2_bodies_hold_no_per_team_or_per_account_value(default_spec, tree):
    # GIVEN the default spec and a copy with one more team, other cost tags and another hub account id
    from mlgov.spec.catalog import CostTags

    accounts = dict(default_spec.accounts)
    accounts["ml-dev-risk"] = accounts["ml-dev-fraud"].model_copy(update={"id": "330000000099"})
    accounts[default_spec.hub] = accounts[default_spec.hub].model_copy(update={"id": "220000000099"})
    teams = dict(default_spec.teams)
    teams["risk"] = teams["fraud"].model_copy(update={"dev_account": "ml-dev-risk"})
    catalog = default_spec.service_catalog.model_copy(
        update={
            "cost_tags": CostTags(
                environment="sandbox", finance_owner="a@b.example", business_unit="x", cost_center="1"
            )
        }
    )
    changed = default_spec.model_copy(update={"accounts": accounts, "teams": teams, "service_catalog": catalog})
    before, after = render_products(default_spec), render_products(changed)
    # THEN no v2 body changes (the data lives in SSM parameters, read at launch) ...
    assert {k: after[k] for k in V2.values()} == {k: before[k] for k in V2.values()}
    # ... nor v1: it prints cost tags, hub id and team stages, but it is frozen (its released bytes)
    v1 = [*V1.values(), "products/sagemaker-projects/endpoint-deploy/v1.yaml"]
    assert {k: after[k] for k in v1} == {k: before[k] for k in v1}
    # AND the broken copy: rendered instead of frozen, every v1 changes (the test catches it)
    unfrozen = render_products(_unfrozen(changed))
    assert [k for k in v1 if unfrozen[k] != before[k]] == v1
    # AND no account id or team name appears in a v2 body at all
    for key in V2.values():
        text = tree[key].decode()
        assert not [a.id for a in default_spec.accounts.values() if a.id in text], key
        assert not [t for t in default_spec.teams if f"-{t}-" in text or f'"{t}"' in text], key


def test_v2_templates_read_only_the_platforms_ssm_parameters_and_the_launch_role_may_read_them(
    tree, stacks, default_spec
):
    declared = {naming.ssm_parameter(default_spec, *k) for k in (*naming.PARAMETERS, *naming.PRODUCT_PARAMETERS)}
    read = set()
    for key in V2.values():
        for name, param in doc(tree[key])["Parameters"].items():
            if param["Type"].startswith("AWS::SSM::Parameter::Value"):
                # every launch-time value is pre-filled with the parameter's NAME
                assert param["Default"] in declared, (key, name, param["Default"])
                read.add(param["Default"])
    assert {"/nwa/network/subnet-ids", "/nwa/network/security-group-ids", "/nwa/team/name"} <= read
    import fnmatch

    # each v2 template's parameters are readable by the launch role of its own portfolio
    for key in V2.values():
        address = naming.construct_id("catalog_launch", key.split("/")[1])
        stmts = statements(resources(stacks["ml-dev-fraud"], "aws_iam_role_policy")[address]["policy"])
        (reads,) = [s for s in stmts if s["Sid"] == "ReadPlatformParameters"]
        for name, param in doc(tree[key])["Parameters"].items():
            if param["Type"].startswith("AWS::SSM::Parameter::Value"):
                arn = f"arn:aws:ssm:eu-west-1:330000000003:parameter{param['Default']}"
                assert any(fnmatch.fnmatchcase(arn, r) for r in reads["Resource"]), (key, name)


def test_v2_domain_runs_as_the_teams_personas_and_creates_no_persona_role(tree):
    res = doc(tree[V2["domain"]])["Resources"]
    roles = {r["Properties"]["RoleName"] for r in res.values() if r["Type"] == "AWS::IAM::Role"}
    assert roles == {"nwa-sc-model-build", "nwa-sc-projects"}
    assert not [r for r in res.values() if r["Type"] in ("AWS::IAM::ManagedPolicy", "AWS::EC2::SecurityGroup")]
    domain = res["Domain"]["Properties"]
    assert domain["AppNetworkAccessType"] == "VpcOnly"
    assert domain["DefaultUserSettings"]["ExecutionRole"] == {
        "Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/nwa-${TeamName}-data-scientist"
    }
    assert domain["DomainSettings"]["ExecutionRoleIdentityConfig"] == "USER_PROFILE_NAME"
    assert domain["SubnetIds"] == {"Ref": "SubnetIds"} and domain["VpcId"] == {"Ref": "VpcId"}
    # the Projects enabler opens no portfolio to anyone
    assert "AssociatePrincipalWithPortfolio" not in tree[V2["domain"]].decode()
    profile = doc(tree[V2["profile"]])["Resources"]["UserProfile"]["Properties"]
    assert profile["UserSettings"]["ExecutionRole"]["Fn::If"][1:] == [
        {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/nwa-${TeamName}-lead-data-scientist"},
        {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/nwa-${TeamName}-data-scientist"},
    ]
    assert {"Key": "mlgov:owner", "Value": {"Ref": "UserProfileName"}} in profile["Tags"]


def role_problems(text: str) -> list[str]:
    """Every role a v2 template creates carries the product boundary and a SourceAccount-pinned trust."""
    problems = []
    for logical, r in doc(text)["Resources"].items():
        if r["Type"] != "AWS::IAM::Role":
            continue
        if r["Properties"].get("PermissionsBoundary") != {"Fn::Sub": BOUNDARY}:
            problems.append(f"{logical}: no product permissions boundary")
        for s in r["Properties"]["AssumeRolePolicyDocument"]["Statement"]:
            if s.get("Condition", {}).get("StringEquals", {}).get("aws:SourceAccount") != {"Ref": "AWS::AccountId"}:
                problems.append(f"{logical}: trust without aws:SourceAccount")
    return problems


def test_v2_product_roles_carry_the_boundary_the_launch_role_demands(tree, stacks):
    # GIVEN the v2 templates THEN every role they create carries the boundary and a pinned trust
    assert [p for key in V2.values() for p in role_problems(tree[key].decode())] == []
    # AND that boundary is the one the launch role demands on CreateRole, and the dev stack creates it
    stmts = statements(resources(stacks["ml-dev-fraud"], "aws_iam_role_policy")["catalog_launch_ml_admin"]["policy"])
    (create,) = [s for s in stmts if s["Sid"] == "CreateProductRolesUnderTheBoundary"]
    demanded = create["Condition"]["StringEquals"]["iam:PermissionsBoundary"]
    assert demanded == BOUNDARY.replace("${AWS::Partition}", "aws").replace("${AWS::AccountId}", "330000000003")
    assert resources(stacks["ml-dev-fraud"], "aws_iam_policy")["catalog_product_boundary"]["name"] == (
        "nwa-catalog-product-boundary"
    )
    # the checker fails on v1 (no boundary, unpinned trust) and on a v2 copy without the boundary
    assert role_problems(tree[V1["domain"]].decode())
    broken = tree[V2["domain"]].decode().replace("PermissionsBoundary:", "X-Dropped:", 1)
    assert role_problems(broken) == ["ModelBuildRole: no product permissions boundary"]


def test_every_job_of_the_v2_pipeline_runs_in_the_vpc_with_kms_keys(tree, default_spec):
    from mlgov.platform.catalog import product_requests

    # GIVEN the v2 model-build product THEN every job carries subnets, security groups and both keys
    assert job_problems(default_spec, tree[V2["build"]].decode()) == []
    # AND resolved for the fraud account, they are that account's SSM values
    values = fraud_values(default_spec)
    jobs = [
        r
        for r in product_requests(default_spec, tree[V2["build"]].decode(), values, portfolio="sagemaker-projects")
        if r.action.endswith(("ProcessingJob", "TrainingJob"))
    ]
    assert [r.source.rsplit(".", 1)[1] for r in jobs] == ["Preprocess", "Train", "Evaluate"]
    for r in jobs:
        assert r.context["sagemaker:VpcSubnets"] == ["subnet-0a", "subnet-0b"], r
        assert r.context["sagemaker:VpcSecurityGroupIds"] == ["sg-0jobs"], r
        assert r.principal == "arn:aws:iam::330000000003:role/nwa-sc-model-build"
    (train,) = [r for r in jobs if r.action == "sagemaker:CreateTrainingJob"]
    assert train.context["sagemaker:OutputKmsKeyArn"] == values["ModelsKeyArn"]  # the model is under the models key
    # the checker catches v1, whose jobs have no VPC (the sagemaker_vpc_kms SCP denies them)
    assert len(job_problems(default_spec, tree[V1["build"]].decode())) == 6


def test_v2_registers_pending_into_a_governed_group_the_forwarding_rule_matches(tree, default_spec, stacks):
    from mlgov.platform.catalog import product_requests

    text = tree[V2["build"]].decode()
    assert registration_problems(text) == [] and registration_problems(tree[V2["domain"]].decode()) == []
    res = doc(text)["Resources"]
    assert not [r for r in res.values() if r["Type"] == "AWS::SageMaker::ModelPackageGroup"]
    rule = json.loads(resources(stacks["ml-dev-fraud"], "aws_cloudwatch_event_rule")["model_approved"]["event_pattern"])
    forwarded = json.dumps(rule)
    for chosen, expected in (("", "nwa-fraud-card-scoring"), ("nwa-fraud-merchant-risk", "nwa-fraud-merchant-risk")):
        values = fraud_values(default_spec, ModelPackageGroupName=chosen)
        (register,) = [
            r
            for r in product_requests(default_spec, text, values, portfolio="sagemaker-projects")
            if r.action == "sagemaker:CreateModelPackage"
        ]
        assert register.context == {
            "sagemaker:ModelApprovalStatus": "PendingManualApproval",
            "ModelPackageGroupName": expected,
        }
        # the group is one the dev account's forwarding rule sends to the hub
        assert f'"{expected}"' in forwarded
    # the checker catches v1: a pipeline parameter overrides the status, and StudioPolicy/ModelBuildRole are unpinned
    assert registration_problems(tree[V1["build"]].decode()) == [
        "BuildPipeline: a starter may override ModelApprovalStatus"
    ]
    assert len(registration_problems(tree[V1["domain"]].decode())) == 2


def test_v2_templates_grant_the_hub_nothing(tree, default_spec):
    hub = default_spec.accounts[default_spec.hub].id
    for key in V2.values():
        text = tree[key].decode()
        assert hub not in text and ":root" not in text.replace("${AWS::AccountId}:root", ""), key


@pytest.mark.parametrize("address", sorted(LAUNCH_ROLES))
def test_launch_role_manages_only_keys_product_stacks_created(stacks, address):
    stmts = statements(resources(stacks["ml-dev-fraud"], "aws_iam_role_policy")[address]["policy"])
    on_keys = [s for s in stmts if any(":key/" in r for r in as_list(s["Resource"]))]
    assert sorted(s["Sid"] for s in on_keys) == ["DecryptHubTemplatesThroughS3", "ManageProductKeys"]
    (manage,) = [s for s in on_keys if s["Sid"] == "ManageProductKeys"]
    assert manage["Resource"] == ["arn:aws:kms:eu-west-1:330000000003:key/*"]
    assert manage["Condition"] == {
        "StringLike": {"aws:ResourceTag/aws:cloudformation:stack-name": "SC-330000000003-pp-*"}
    }
    (hub_templates,) = [s for s in on_keys if s["Sid"] == "DecryptHubTemplatesThroughS3"]
    assert hub_templates["Action"] == ["kms:Decrypt"] and "kms:ViaService" in hub_templates["Condition"]["StringLike"]


def test_product_boundary_allows_no_approval_no_iam_and_registration_pending_only(stacks):
    boundary = statements(resources(stacks["ml-dev-fraud"], "aws_iam_policy")["catalog_product_boundary"]["policy"])
    actions = {a for s in boundary for a in s["Action"]}
    assert "sagemaker:UpdateModelPackage" not in actions
    assert {a for a in actions if a.startswith("iam:")} == {"iam:PassRole"}
    passes = {s["Sid"]: (s["Resource"], s["Condition"]) for s in boundary if "iam:PassRole" in s["Action"]}
    to_sagemaker = {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
    # the model build role, and (the account has a source) the team's execution role for v3's pipelines
    assert passes == {
        "PassTheModelBuildRole": (["arn:aws:iam::330000000003:role/nwa-sc-model-build"], to_sagemaker),
        "PassTheExecutionRole": (["arn:aws:iam::330000000003:role/nwa-fraud-sagemaker-execution"], to_sagemaker),
    }
    (register,) = [s for s in boundary if "sagemaker:CreateModelPackage" in s["Action"]]
    assert register["Resource"] == ["arn:aws:sagemaker:eu-west-1:330000000003:model-package/nwa-fraud-*"]
    assert register["Condition"] == {"StringEquals": {"sagemaker:ModelApprovalStatus": "PendingManualApproval"}}
    assert not [
        s
        for s in boundary
        if s["Resource"] == "*"
        and not all(a.split(":")[1].startswith(("Describe", "Get", "Enable")) for a in s["Action"])
    ]


def test_retired_endpoint_deploy_keeps_its_release_but_leaves_the_portfolio(hub, tree):
    address = "sagemaker_projects_endpoint_deploy"
    assert address in resources(hub, "aws_servicecatalog_product")
    assert "products/sagemaker-projects/endpoint-deploy/v1.yaml" in tree
    assert address in resources(hub, "aws_s3_object") or any(
        o["key"] == "products/sagemaker-projects/endpoint-deploy/v1.yaml"
        for o in resources(hub, "aws_s3_object").values()
    )
    assert address not in resources(hub, "aws_servicecatalog_product_portfolio_association")
    assert address not in resources(hub, "aws_servicecatalog_constraint")
    assert resources(hub, "aws_servicecatalog_product")[address].get("tags") is None


def test_request_listing_names_what_each_v2_resource_asks_for(tree, default_spec):
    from mlgov.platform.catalog import product_requests

    values = fraud_values(default_spec)
    domain = product_requests(default_spec, tree[V2["domain"]].decode(), values, portfolio="ml-admin")
    assert [(r.action, r.source) for r in domain] == [
        ("sagemaker:CreateDomain", "Resources.Domain"),
        ("iam:PassRole", "Resources.Domain"),
    ]
    assert domain[0].principal == "arn:aws:iam::330000000003:role/nwa-catalog-launch-ml-admin"
    assert domain[0].context["sagemaker:AppNetworkAccessType"] == "VpcOnly"
    assert domain[0].context["sagemaker:VpcSubnets"] == ["subnet-0a", "subnet-0b"]
    assert domain[1].context == {
        "iam:PassedToService": "sagemaker.amazonaws.com",
        "RoleArn": "arn:aws:iam::330000000003:role/nwa-fraud-data-scientist",
    }
    lead = product_requests(
        default_spec, tree[V2["profile"]].decode(), {**values, "Persona": "lead-data-scientist"}, portfolio="ml-admin"
    )
    assert lead[1].context["RoleArn"] == "arn:aws:iam::330000000003:role/nwa-fraud-lead-data-scientist"
    assert lead[0].context["aws:RequestTag/mlgov:owner"] == "alice"
    # an SSM-typed parameter without a value is an error, not a silent default
    with pytest.raises(KeyError, match="no value for SSM-typed parameter 'Environment'"):
        product_requests(
            default_spec,
            tree[V2["profile"]].decode(),
            {"AWS::AccountId": "1", "UserProfileName": "a"},
            portfolio="ml-admin",
        )


def test_product_roles_resolve_for_an_account(tree, default_spec):
    from mlgov.platform.catalog import product_role_policies

    # GIVEN the v2 domain resolved for the fraud account
    roles = {r.name: r for r in product_role_policies(tree[V2["domain"]].decode(), fraud_values(default_spec))}
    assert sorted(roles) == ["nwa-sc-model-build", "nwa-sc-projects"]
    build = roles["nwa-sc-model-build"]
    # THEN its boundary and registration scope are concrete ARNs of that account and team
    assert build.boundary_arn == "arn:aws:iam::330000000003:policy/nwa-catalog-product-boundary"
    (register,) = [s for p in build.policies for s in p["Statement"] if s["Sid"] == "RegisterPendingIntoTheTeamsGroups"]
    assert register["Resource"] == "arn:aws:sagemaker:eu-west-1:330000000003:model-package/nwa-fraud-*"
    assert build.trust["Statement"][0]["Condition"] == {"StringEquals": {"aws:SourceAccount": "330000000003"}}


@pytest.mark.parametrize("teams", [6, 100])
def test_principal_patterns_do_not_grow_with_the_teams(default_spec, teams):
    # GIVEN a generated org of many teams WHEN its portfolios' principals are counted
    from mlgov.spec.large_org import large_org
    from mlgov.spec.located import load_yaml
    from mlgov.validation import parse_spec

    spec = parse_spec(load_yaml(yaml.safe_dump(large_org(teams), sort_keys=False), f"<{teams} teams>"))
    # THEN each portfolio has the same patterns as with two teams, within AWS's limit
    for pkey in default_spec.service_catalog.portfolios:
        patterns = portfolio_principal_patterns(spec, pkey)
        assert patterns == portfolio_principal_patterns(default_spec, pkey)
        assert len(patterns) <= MAX_PORTFOLIO_PRINCIPAL_PATTERNS
