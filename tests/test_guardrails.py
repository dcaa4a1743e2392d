"""Management layer: every SCP (effect, actions, conditions, targets), the size and quota
checks, and the management stack's OUs, attachments and organization access."""

from __future__ import annotations

import copy
import fnmatch
import json
from functools import lru_cache
from pathlib import Path

import pytest
import yaml

from mlgov.errors import SpecError
from mlgov.platform import guardrails as scp
from mlgov.platform import naming
from mlgov.platform.catalog import portfolio_principal_patterns
from mlgov.platform.naming import Kind
from mlgov.review import iam
from mlgov.spec.located import load_yaml
from mlgov.spec.model import Layer
from mlgov.validation import parse_spec
from mlgov.validation.checks import planned_names
from tests.conftest import ON_CI, ROOT
from tests.helpers import all_resources as resources_of
from tests.helpers import as_list, resources, statements

BASE = yaml.safe_load((ROOT / "org.yaml").read_text())


def spec_with(management: dict | None = None, **top):
    """The default spec with ``management`` replaced (None: the section removed)."""
    data = copy.deepcopy(BASE)
    data.pop("management", None)
    if management is not None:
        data["management"] = management
    data.update(top)
    return parse_spec(load_yaml(yaml.safe_dump(data, sort_keys=False), "<test>"))


def policies(spec) -> dict[str, scp.Scp]:
    return {p.key: p for p in scp.service_control_policies(spec)}


def by_sid(content: str) -> dict[str, dict]:
    return {s["Sid"]: s for s in statements(content)}


@lru_cache(maxsize=1)
def iam_actions() -> dict[str, set[str]]:
    """Every IAM action by service, from cfn-lint's bundled IAM reference data."""
    import cfnlint

    data = json.loads((Path(cfnlint.__file__).parent / "data" / "AdditionalSpecs" / "Policies.json").read_text())
    return {
        service: set(body["Actions"]) for service, body in data.items() if isinstance(body, dict) and "Actions" in body
    }


# --- each SCP --------------------------------------------------------------------------


def test_default_spec_has_six_scps_with_names_descriptions_and_targets(default_spec):
    found = policies(default_spec)
    assert {k: (p.name, p.targets) for k, p in found.items()} == {
        "deny_leave_organization": ("nwa-deny-leave-organization", ("root",)),
        "protect_audit": ("nwa-protect-audit", ("root",)),
        "protect_gates": ("nwa-protect-gates", ("data", "infrastructure", "ml-deployment", "ml-workloads")),
        "region_restriction": (
            "nwa-deny-outside-regions",
            ("data", "infrastructure", "ml-deployment", "ml-workloads"),
        ),
        "sagemaker_domain_vpc_only": ("nwa-sagemaker-domain-vpc-only", ("ml-workloads",)),
        "sagemaker_vpc_kms": ("nwa-sagemaker-vpc-kms", ("ml-deployment", "ml-workloads")),
    }
    for policy in found.values():
        assert policy.description.startswith("nwa: ") and len(policy.description) <= 512
        doc = json.loads(policy.content)
        assert doc["Version"] == "2012-10-17"
        assert all(s["Effect"] == "Deny" and s["Resource"] for s in doc["Statement"])


def test_region_restriction_denies_everything_but_global_services_outside_allowed_regions(default_spec):
    # GIVEN allowed regions eu-west-1 and eu-central-1 and no exempt account
    (stmt,) = statements(policies(default_spec)["region_restriction"].content)
    # THEN one Deny on NotAction (global services) with a region condition, nobody exempt
    assert stmt["Effect"] == "Deny" and stmt["Resource"] == "*" and "Action" not in stmt
    assert {"iam:*", "organizations:*", "sts:*", "route53:*", "cloudfront:*", "support:*"} <= set(stmt["NotAction"])
    assert not any(a.startswith(("sagemaker:", "s3:*", "kms:", "ec2:")) for a in stmt["NotAction"])
    assert stmt["Condition"] == {"StringNotEquals": {"aws:RequestedRegion": ["eu-central-1", "eu-west-1"]}}


# A spec whose break-glass role is exempt in the hub: its ARN there, never "*".
HUB_EXEMPT = {"guardrails": {**BASE["management"]["guardrails"], "exempt_accounts": ["ml-shared-services"]}}
BREAK_GLASS = ["arn:aws:iam::220000000002:role/nwa-break-glass"]


def test_an_exempt_hub_role_is_exempt_by_its_exact_arn():
    found = policies(spec_with({**BASE["management"], **HUB_EXEMPT}))
    (region,) = statements(found["region_restriction"].content)
    assert region["Condition"]["ArnNotEquals"] == {"aws:PrincipalArn": BREAK_GLASS}
    stmt = by_sid(found["protect_audit"].content)["DenyExemptRoleNamesElsewhere"]
    assert stmt["Condition"] == {"StringNotEquals": {"aws:ResourceAccount": ["220000000002"]}}


def test_exempt_role_names_cannot_be_created_in_any_member_account(default_spec):
    # GIVEN the default spec: no exempt account THEN the name is reserved everywhere SCPs apply
    stmt = by_sid(policies(default_spec)["protect_audit"].content)["DenyExemptRoleNamesElsewhere"]
    assert stmt["Effect"] == "Deny" and stmt["Action"] == ["iam:CreateRole"]
    assert stmt["Resource"] == ["arn:aws:iam::*:role/nwa-break-glass"]
    assert "Condition" not in stmt


def test_exempt_accounts_must_be_spec_accounts():
    with pytest.raises(SpecError) as info:
        spec_with({"guardrails": {"exempt_roles": ["bg"], "exempt_accounts": ["nowhere"]}})
    assert [str(p).split(": ", 1)[1] for p in info.value.problems] == [
        "management.guardrails.exempt_accounts[0]: unknown account (got 'nowhere', expected one of "
        "['data-lake', 'management', 'ml-dev-churn', 'ml-dev-fraud', 'ml-prod', 'ml-shared-services', 'ml-test'])"
    ]


def test_no_workload_account_may_be_exempt():
    # GIVEN the exemption list org.yaml used to carry (every account) WHEN validated
    # THEN one line per account where models or data live; the hub and management pass
    every = ["ml-shared-services", "ml-dev-fraud", "ml-dev-churn", "ml-test", "ml-prod", "data-lake", "management"]
    with pytest.raises(SpecError) as info:
        spec_with({"guardrails": {"exempt_roles": ["bg"], "exempt_accounts": every}})
    found = [str(p).split(": ", 1)[1] for p in info.value.problems]
    assert [line.split(":", 1)[0] for line in found] == [
        f"management.guardrails.exempt_accounts[{i}]" for i in (1, 2, 3, 4, 5)
    ]
    assert found[0].endswith(
        "a dev account cannot be exempt from the guardrails (got 'ml-dev-fraud'): whoever may create bg there "
        "would escape the region and audit guardrails where models and data live; keep the break-glass role in "
        "the management account (no SCP applies there) or the hub"
    )


def test_region_restriction_takes_extra_exempt_actions_and_no_exempt_roles():
    spec = spec_with({"guardrails": {"region_restriction": {"exempt_actions": ["ec2:DescribeRegions"]}}})
    (stmt,) = statements(policies(spec)["region_restriction"].content)
    assert "ec2:DescribeRegions" in stmt["NotAction"]
    assert stmt["NotAction"] == sorted(stmt["NotAction"])
    assert set(stmt["Condition"]) == {"StringNotEquals"}  # no exempt roles listed: no exemption


def test_sagemaker_vpc_kms_denies_missing_vpc_missing_kms_and_direct_internet(default_spec):
    stmts = by_sid(policies(default_spec)["sagemaker_vpc_kms"].content)
    assert set(stmts) == {
        "DenySageMakerWithoutVpc",
        "DenySageMakerWithoutVolumeKmsKey",
        "DenyNotebookDirectInternetAccess",
    }
    vpc = stmts["DenySageMakerWithoutVpc"]
    # every create call that runs containers in the caller's network (iam-data lists VpcSubnets)
    assert vpc["Action"] == list(scp.SAGEMAKER_VPC_ACTIONS)
    assert {"sagemaker:CreateModel", "sagemaker:CreateAutoMLJobV2", "sagemaker:CreateMonitoringSchedule"} <= set(
        vpc["Action"]
    )
    assert vpc["Condition"] == {"Null": {"sagemaker:VpcSubnets": "true"}}
    kms = stmts["DenySageMakerWithoutVolumeKmsKey"]
    assert {"sagemaker:CreateTransformJob", "sagemaker:CreateEndpointConfig", "sagemaker:CreateLabelingJob"} <= set(
        kms["Action"]
    )
    # VolumeKmsKey is deprecated and listed by no action any more: the Deny would always apply
    assert kms["Condition"] == {"Null": {"sagemaker:VolumeKmsKeyArn": "true"}}
    internet = stmts["DenyNotebookDirectInternetAccess"]
    assert internet["Action"] == ["sagemaker:CreateNotebookInstance"]
    assert internet["Condition"] == {"StringNotEquals": {"sagemaker:DirectInternetAccess": "Disabled"}}
    assert all(s["Effect"] == "Deny" and s["Resource"] == "*" for s in stmts.values())


def test_domain_vpc_only_denies_create_without_vpconly_and_updates_away_from_it(default_spec):
    stmts = by_sid(policies(default_spec)["sagemaker_domain_vpc_only"].content)
    assert stmts["DenyDomainNotVpcOnly"]["Action"] == ["sagemaker:CreateDomain"]
    # StringNotEquals also matches an absent key: a domain created without the type is public.
    assert stmts["DenyDomainNotVpcOnly"]["Condition"] == {
        "StringNotEquals": {"sagemaker:AppNetworkAccessType": "VpcOnly"}
    }
    assert stmts["DenyDomainUpdateToPublicInternet"]["Action"] == ["sagemaker:UpdateDomain"]
    # ...IfExists: an update that does not touch the type stays allowed.
    assert stmts["DenyDomainUpdateToPublicInternet"]["Condition"] == {
        "StringNotEqualsIfExists": {"sagemaker:AppNetworkAccessType": "VpcOnly"}
    }


def test_deny_leave_organization(default_spec):
    (stmt,) = statements(policies(default_spec)["deny_leave_organization"].content)
    assert stmt == {
        "Sid": "DenyLeaveOrganization",
        "Effect": "Deny",
        "Action": ["organizations:LeaveOrganization"],
        "Resource": "*",
    }


def test_protect_audit_targets_the_named_trails_and_recorders_only(default_spec):
    stmts = by_sid(policies(default_spec)["protect_audit"].content)
    trail, config = stmts["ProtectCloudTrail"], stmts["ProtectConfigRecorders"]
    assert trail["Resource"] == ["arn:aws:cloudtrail:*:*:trail/nwa-org-trail"]
    assert set(trail["Action"]) == {
        "cloudtrail:DeleteTrail",
        "cloudtrail:StopLogging",
        "cloudtrail:UpdateTrail",
        "cloudtrail:PutEventSelectors",
    }
    assert config["Resource"] == ["arn:aws:config:*:*:configuration-recorder/default/*"]
    assert set(config["Action"]) == {
        "config:DeleteConfigurationRecorder",
        "config:StopConfigurationRecorder",
        "config:PutConfigurationRecorder",
    }
    channels = stmts["ProtectConfigDeliveryChannels"]
    # delivery channels have no resource type: the actions are wildcard-only
    assert channels["Action"] == ["config:DeleteDeliveryChannel", "config:PutDeliveryChannel"]
    assert channels["Resource"] == "*"
    for stmt in (trail, config, channels):
        assert stmt["Effect"] == "Deny"
        assert "Condition" not in stmt  # no exempt account: nobody in a member account is exempt


def without_personas() -> dict:
    """The default spec's service_catalog with no portfolio opened to a persona."""
    catalog = copy.deepcopy(BASE["service_catalog"])
    for portfolio in catalog["portfolios"].values():
        portfolio.pop("personas", None)
    return catalog


def without_teams() -> dict:
    """The default spec's sections that name teams, with no team: no resource policy admits
    teams' roles by name (mlgov.platform.guardrails.trusts_team_roles_by_name)."""
    data = copy.deepcopy(BASE["data"])
    data["grants"] = {}
    return {"teams": {}, "data": data}


def test_protect_audit_keeps_the_bootstrap_roles_whatever_else_it_protects():
    # GIVEN no trails, recorders or persona portfolios THEN protect_audit still keeps the
    # bootstrap's role names to its StackSet (every account has them)
    spec = spec_with(
        {"guardrails": {"protect_gates": {"enabled": False}}}, service_catalog=without_personas(), **without_teams()
    )
    assert set(by_sid(policies(spec)["protect_audit"].content)) == {"DenyBootstrapRoleNamesButStackSets"}
    # portfolios opened to personas: the persona statement beside it
    spec = spec_with({"guardrails": {}})
    assert set(by_sid(policies(spec)["protect_audit"].content)) == {
        "DenyPersonaRoleNamesButTerraform",
        "DenyBootstrapRoleNamesButStackSets",
    }
    spec = spec_with({"guardrails": {"protect_audit": {"config_recorders": ["default"]}}})
    assert set(by_sid(policies(spec)["protect_audit"].content)) == {
        "ProtectConfigRecorders",
        "ProtectConfigDeliveryChannels",
        "DenyPersonaRoleNamesButTerraform",
        "DenyBootstrapRoleNamesButStackSets",
    }


def test_bootstrap_role_names_are_made_and_changed_by_the_stackset_only(default_spec):
    # GIVEN the protect_audit SCP WHEN its bootstrap statement is read THEN it denies making or
    # widening the Terraform role, the plan role and the StackSet's execution role to everyone
    # but the StackSet's execution role (the StackSets service itself is outside SCPs)
    stmt = by_sid(policies(default_spec)["protect_audit"].content)["DenyBootstrapRoleNamesButStackSets"]
    assert stmt == {
        "Sid": "DenyBootstrapRoleNamesButStackSets",
        "Effect": "Deny",
        "Action": list(scp.PERSONA_ROLE_WRITE_ACTIONS),
        "Resource": [
            "arn:aws:iam::*:role/mlgov-terraform",
            "arn:aws:iam::*:role/mlgov-terraform-plan",
            "arn:aws:iam::*:role/stacksets-exec-*",
        ],
        "Condition": {"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/stacksets-exec-*"}},
    }


def test_every_action_in_every_scp_is_a_real_iam_action(default_spec):
    # GIVEN IAM's action list (cfn-lint's bundled reference) WHEN every SCP action is looked up
    # THEN each exists (wildcards match at least one action of a known service)
    known = iam_actions()
    for policy in policies(default_spec).values():
        for stmt in statements(policy.content):
            for action in stmt.get("Action", []) + stmt.get("NotAction", []):
                service, name = action.split(":")
                assert service in known, f"{policy.key}: unknown service in {action}"
                assert fnmatch.filter(known[service], name.lower()), f"{policy.key}: no IAM action matches {action}"


def test_each_guardrail_can_be_switched_off():
    # (protect_audit only while no portfolio opens to a persona pattern and no resource policy
    # admits teams' roles by name: see below)
    off = {k: {"enabled": False} for k in scp.GUARDRAIL_KEYS}
    assert policies(spec_with({"guardrails": off}, service_catalog=without_personas(), **without_teams())) == {}
    only = dict(off, region_restriction={"enabled": True})
    assert set(policies(spec_with({"guardrails": only}, service_catalog=without_personas(), **without_teams()))) == {
        "region_restriction"
    }
    with pytest.raises(SpecError) as info:
        spec_with({"guardrails": off})
    assert [f"{p.path}: {p.message.split(' (')[0]}" for p in info.value.problems] == [
        "management.guardrails.protect_audit.enabled: protect_audit is off while portfolios open to persona patterns"
        " and resource policies admit teams' roles by name from any account of the organization"
    ]
    # teams alone (no persona portfolio) need it as well: the hub's and stages' policies admit them by name
    with pytest.raises(SpecError) as info:
        spec_with({"guardrails": off}, service_catalog=without_personas())
    assert [f"{p.path}: {p.message.split(' (')[0]}" for p in info.value.problems] == [
        "management.guardrails.protect_audit.enabled: protect_audit is off while resource policies admit teams'"
        " roles by name from any account of the organization"
    ]


# --- persona role names (Service Catalog's IAM_PATTERN principals) -------------------------


def test_persona_role_names_are_made_and_changed_by_terraform_only(default_spec):
    # GIVEN portfolios opened to <org>-*-<persona> WHEN the protect_audit SCP is built
    stmt = by_sid(policies(default_spec)["protect_audit"].content)["DenyPersonaRoleNamesButTerraform"]
    # THEN one Deny on exactly the associations' patterns (in every account), for everyone but the
    # Terraform role (its name in any account: the statement does not grow with the accounts)
    patterns = {
        p for pkey in default_spec.service_catalog.portfolios for p in portfolio_principal_patterns(default_spec, pkey)
    }
    assert stmt == {
        "Sid": "DenyPersonaRoleNamesButTerraform",
        "Effect": "Deny",
        "Action": [
            "iam:AttachRolePolicy",
            "iam:CreateRole",
            "iam:DeleteRolePermissionsBoundary",
            "iam:PutRolePermissionsBoundary",
            "iam:PutRolePolicy",
            "iam:TagRole",
            "iam:UntagRole",
            "iam:UpdateAssumeRolePolicy",
        ],
        # the portfolios' persona patterns, the endpoint deployers the gate SCP trusts by name, and
        # the team roles that the hub's and stages' resource policies admit from any account
        "Resource": sorted(
            {f"arn:aws:iam::*:role/{p}" for p in patterns}
            | {"arn:aws:iam::*:role/nwa-*-endpoint-deployer"}
            | {
                f"arn:aws:iam::*:role/nwa-*-{purpose}"
                for purpose in ("deploy", "endpoint", "endpoint-tester", "event-forwarder", "monitoring")
            }
        ),
        "Condition": {"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/mlgov-terraform"}},
    }
    assert stmt["Resource"] == [
        "arn:aws:iam::*:role/nwa-*-data-scientist",
        "arn:aws:iam::*:role/nwa-*-deploy",
        "arn:aws:iam::*:role/nwa-*-endpoint",
        "arn:aws:iam::*:role/nwa-*-endpoint-deployer",
        "arn:aws:iam::*:role/nwa-*-endpoint-tester",
        "arn:aws:iam::*:role/nwa-*-event-forwarder",
        "arn:aws:iam::*:role/nwa-*-lead-data-scientist",
        "arn:aws:iam::*:role/nwa-*-monitoring",
    ]
    assert policies(default_spec)["protect_audit"].size <= scp.SCP_MAX_CHARS


@pytest.mark.slow  # starts a process
def test_persona_statement_passes_the_service_authorization_reference(default_spec):
    # GIVEN iam-data (AWS's Service Authorization Reference) WHEN the statement is checked THEN every
    # action exists, acts on a role ARN, and aws:PrincipalArn applies to it
    reason = iam.unavailable()
    if reason:
        pytest.fail(reason) if ON_CI else pytest.skip(reason)
    stmt = by_sid(policies(default_spec)["protect_audit"].content)["DenyPersonaRoleNamesButTerraform"]
    doc = {"Version": "2012-10-17", "Statement": [stmt]}
    assert iam.validate([("persona", "scp", doc)]) == []


def test_default_targets_without_a_management_section():
    # GIVEN no management section at all WHEN the SCPs are built
    spec = spec_with(None)
    found = policies(spec)
    # THEN OU guardrails go to every OU of the spec and org-wide ones to the root
    every_ou = ("data", "infrastructure", "ml-deployment", "ml-workloads")
    assert found["region_restriction"].targets == every_ou
    assert found["sagemaker_vpc_kms"].targets == every_ou
    assert found["deny_leave_organization"].targets == ("root",)
    assert spec.management.own_ous is False and spec.management.service_catalog_access is True


# --- size and quota checks ---------------------------------------------------------------


def test_scp_content_is_compact_json_and_size_counts_every_character(default_spec):
    for policy in policies(default_spec).values():
        assert policy.content == json.dumps(json.loads(policy.content), sort_keys=True, separators=(",", ":"))
        assert policy.size == len(policy.content)


def test_size_limit_is_inclusive(default_spec, monkeypatch):
    region = policies(default_spec)["region_restriction"]
    monkeypatch.setattr(scp, "SCP_MAX_CHARS", region.size)
    assert not [p for p in scp.problems(default_spec) if "nwa-deny-outside-regions" in p[1]]
    monkeypatch.setattr(scp, "SCP_MAX_CHARS", region.size - 1)
    assert [
        (path, msg.split(" (")[0]) for path, msg in scp.problems(default_spec) if "nwa-deny-outside-regions" in msg
    ] == [(("management", "guardrails", "region_restriction"), "SCP 'nwa-deny-outside-regions' is too large")]


def test_oversized_scp_fails_validation_with_its_spec_path():
    trails = [f"trail-{i:03d}-with-a-rather-long-name" for i in range(120)]
    with pytest.raises(SpecError) as info:
        spec_with({"guardrails": {"protect_audit": {"cloudtrail_trails": trails}}})
    (problem,) = info.value.problems
    assert problem.path == "management.guardrails.protect_audit"
    assert "is too large (got " in problem.message and "expected at most 5120)" in problem.message


def test_scp_names_are_checked_as_physical_names(default_spec):
    names = {n.name for n in planned_names(default_spec) if n.kind is Kind.SCP}
    assert names == {p.name for p in policies(default_spec).values()}


# --- the management stack ----------------------------------------------------------------


def test_management_stack_owns_ous_scps_attachments_and_org_access(stacks, default_spec):
    stack = stacks["management"]
    ous = resources(stack, "aws_organizations_organizational_unit")
    assert {k: (v["name"], v["parent_id"]) for k, v in ous.items()} == {
        "data": ("data", "r-nw4a"),
        "infrastructure": ("infrastructure", "r-nw4a"),
        "ml_deployment": ("ml-deployment", "r-nw4a"),
        "ml_workloads": ("ml-workloads", "r-nw4a"),
    }
    scps = resources(stack, "aws_organizations_policy")
    expected = policies(default_spec)
    assert set(scps) == set(expected)
    for key, res in scps.items():
        assert res["type"] == "SERVICE_CONTROL_POLICY"
        assert (res["name"], res["description"], res["content"]) == (
            expected[key].name,
            expected[key].description,
            expected[key].content,
        )
    attachments = resources(stack, "aws_organizations_policy_attachment")
    targets = {k: (v["policy_id"], v["target_id"]) for k, v in attachments.items()}
    assert targets == {
        "deny_leave_organization__root": ("${aws_organizations_policy.deny_leave_organization.id}", "r-nw4a"),
        "protect_audit__root": ("${aws_organizations_policy.protect_audit.id}", "r-nw4a"),
        **{
            f"protect_gates__{ou.replace('-', '_')}": (
                "${aws_organizations_policy.protect_gates.id}",
                f"${{aws_organizations_organizational_unit.{ou.replace('-', '_')}.id}}",
            )
            for ou in ("data", "infrastructure", "ml-deployment", "ml-workloads")
        },
        "region_restriction__data": (
            "${aws_organizations_policy.region_restriction.id}",
            "${aws_organizations_organizational_unit.data.id}",
        ),
        "region_restriction__infrastructure": (
            "${aws_organizations_policy.region_restriction.id}",
            "${aws_organizations_organizational_unit.infrastructure.id}",
        ),
        "region_restriction__ml_deployment": (
            "${aws_organizations_policy.region_restriction.id}",
            "${aws_organizations_organizational_unit.ml_deployment.id}",
        ),
        "region_restriction__ml_workloads": (
            "${aws_organizations_policy.region_restriction.id}",
            "${aws_organizations_organizational_unit.ml_workloads.id}",
        ),
        "sagemaker_domain_vpc_only__ml_workloads": (
            "${aws_organizations_policy.sagemaker_domain_vpc_only.id}",
            "${aws_organizations_organizational_unit.ml_workloads.id}",
        ),
        "sagemaker_vpc_kms__ml_deployment": (
            "${aws_organizations_policy.sagemaker_vpc_kms.id}",
            "${aws_organizations_organizational_unit.ml_deployment.id}",
        ),
        "sagemaker_vpc_kms__ml_workloads": (
            "${aws_organizations_policy.sagemaker_vpc_kms.id}",
            "${aws_organizations_organizational_unit.ml_workloads.id}",
        ),
    }
    assert resources(stack, "aws_servicecatalog_organizations_access") == {
        "this": {"enabled": True, **_meta(stack, "aws_servicecatalog_organizations_access", "this")}
    }
    admins = resources(stack, "aws_organizations_delegated_administrator")
    assert {k: (v["account_id"], v["service_principal"]) for k, v in admins.items()} == {
        "servicecatalog_hub": ("220000000002", "servicecatalog.amazonaws.com")
    }
    assert admins["servicecatalog_hub"]["depends_on"] == ["aws_servicecatalog_organizations_access.this"]
    # the organization itself is never taken over
    assert "aws_organizations_organization" not in stack.get("resource", {})


def _meta(stack, rtype, name):
    return {"//": stack["resource"][rtype][name]["//"]}


def test_other_layers_carry_no_organization_resources(stacks):
    for name, stack in stacks.items():
        if name != "management":
            assert not [
                t
                for t in stack.get("resource", {})
                if t.startswith(("aws_organizations_", "aws_servicecatalog_organizations"))
            ]


def test_ous_referenced_by_id_when_not_owned_and_stacksets_admin_on_request(render_spec):
    # GIVEN a spec where Control Tower owns the OUs and StackSets delegation is requested
    data = copy.deepcopy(BASE)
    data["management"]["own_ous"] = False
    data["management"]["stacksets_delegated_admin"] = True
    tree = render_spec(yaml.safe_dump(data, sort_keys=False))
    stack = json.loads(tree["stacks/management/cdk.tf.json"])
    # THEN no OU resources, attachments use the spec's literal OU ids, and a second delegation exists
    assert resources(stack, "aws_organizations_organizational_unit") == {}
    attachments = resources(stack, "aws_organizations_policy_attachment")
    assert attachments["region_restriction__ml_workloads"]["target_id"] == "ou-nw4a-mlwork01"
    assert attachments["sagemaker_vpc_kms__ml_deployment"]["target_id"] == "ou-nw4a-mldeploy"
    admins = resources(stack, "aws_organizations_delegated_administrator")
    assert {k: v["service_principal"] for k, v in admins.items()} == {
        "servicecatalog_hub": "servicecatalog.amazonaws.com",
        "stacksets_hub": "member.org.stacksets.cloudformation.amazonaws.com",
    }


# --- every role name a resource policy trusts from any account is Terraform's ----------------


def _org_wide_name_patterns(tree: dict[str, bytes]) -> set[str]:
    """Role ARN patterns that a synthesized resource policy admits from any account: statements
    with an AWS principal of ``*`` and an ArnLike aws:PrincipalArn whose account is ``*``."""
    found: set[str] = set()
    for rel, data in tree.items():
        if not rel.endswith("cdk.tf.json"):
            continue
        for _rtype, _name, config in resources_of(json.loads(data)):
            for value in config.values():
                if not (isinstance(value, str) and value.startswith("{") and '"Statement"' in value):
                    continue
                for stmt in statements(value):
                    if stmt.get("Effect") != "Allow" or stmt.get("Principal") not in ("*", {"AWS": "*"}):
                        continue
                    for pattern in as_list(stmt.get("Condition", {}).get("ArnLike", {}).get("aws:PrincipalArn", [])):
                        if pattern.startswith("arn:aws:iam::*:role/"):
                            found.add(pattern)
    return found


def _kept_to_terraform(spec) -> list[str]:
    """Role name patterns protect_audit keeps to Terraform, or to the bootstrap's StackSet."""
    audit = policies(spec).get("protect_audit")
    stmts = by_sid(audit.content) if audit else {}
    return [
        *as_list(stmts.get("DenyPersonaRoleNamesButTerraform", {}).get("Resource", [])),
        *as_list(stmts.get("DenyBootstrapRoleNamesButStackSets", {}).get("Resource", [])),
    ]


def test_role_names_trusted_from_any_account_are_made_by_terraform_only(case, monkeypatch):
    # GIVEN every resource policy of the spec's synthesized stacks that admits roles of ANY account
    # of the organization by a name pattern (the artifact stores, monitoring reports, the bus, and
    # the bootstrap's state bucket: every account's Terraform and plan roles)
    trusted = _org_wide_name_patterns(case.tree)
    assert f"arn:aws:iam::*:role/{naming.terraform_plan_role(case.spec)}" in trusted, "the walk misses the state bucket"
    if case.spec.teams and case.spec.keys_in_layer(Layer.hub):
        assert len(trusted) > 2, "no team name pattern found: the walk no longer sees the hub's policies"
    # THEN the protect_audit SCP keeps each of those names to Terraform, or to the bootstrap's
    # StackSet (creating or changing a role of such a name anywhere would otherwise get its access)
    kept = _kept_to_terraform(case.spec)
    assert sorted(p for p in trusted if p not in kept) == []
    # AND on a broken copy whose SCP forgets one purpose, the check fails
    monkeypatch.setattr(
        naming, "ORG_TRUSTED_PURPOSES", tuple(p for p in naming.ORG_TRUSTED_PURPOSES if p != "monitoring")
    )
    kept = _kept_to_terraform(case.spec)
    missing = sorted(p for p in trusted if p not in kept)
    if any(p.endswith("-monitoring") for p in trusted):
        assert missing and all(p.endswith("-monitoring") for p in missing)
    # AND on a broken copy without the bootstrap's statement, the state bucket's names are missed
    monkeypatch.undo()
    monkeypatch.setattr(scp, "_protect_bootstrap_roles", lambda spec: [])
    missing = sorted(p for p in trusted if p not in _kept_to_terraform(case.spec))
    assert f"arn:aws:iam::*:role/{case.spec.terraform.role_name}" in missing
