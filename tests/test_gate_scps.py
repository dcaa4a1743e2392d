"""The SCPs back the gates: an account's own administrator cannot go around them.

An administrator role (``AdministratorAccess``: every action on every resource) in the dev,
hub and stage accounts asks for each gate under the account's SCPs, as the synthesized
management stack attaches them; iam-simulate decides. Only mlgov's own roles for a gate, by
exact ARN, are left out of the deny (the journey walks them through their gates under the same
SCPs). A copy of the tree without the gate SCP lets the administrator through every one.
"""

from __future__ import annotations

import json

import pytest

from mlgov.platform import governance, guardrails, naming
from mlgov.review import iam
from tests.conftest import ON_CI
from tests.journey.world import World

pytestmark = pytest.mark.slow  # runs the IAM simulator or the select step in sh

ADMIN = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


@pytest.fixture(scope="module")
def bridge() -> None:
    reason = iam.unavailable()
    if reason:
        if ON_CI:
            pytest.fail(f"{reason} (required on CI)")
        pytest.skip(reason)


def gate_requests(spec, world: World, principal: str = "Admin") -> list[tuple[str, iam.Request]]:
    """(what, request) of an administrator of each account at each gate of the fraud team, and at
    each piece of its deployment path (``principal``: the role's name in each account)."""
    team = spec.teams["fraud"]
    hub, hub_id = spec.hub, spec.accounts[spec.hub].id
    dev, dev_id = team.dev_account, spec.accounts[team.dev_account].id
    prod = next(s for s in team.stages if s.manual_approval)
    prod_id = spec.accounts[prod.account].id
    region = naming.hub_region(spec)
    group = team.governance.model_package_groups[0]
    central = naming.central_model_package_group(spec, "fraud", group)
    local = naming.model_package_group(spec, "fraud", group)
    pipeline = naming.deploy_pipeline(spec, "fraud", group)
    asks = [
        (
            "register Approved in dev",
            dev,
            dev_id,
            "sagemaker:CreateModelPackage",
            f"arn:aws:sagemaker:{region}:{dev_id}:model-package/{local}/9",
            {"sagemaker:ModelApprovalStatus": "Approved"},
        ),
        (
            "approve in dev",
            dev,
            dev_id,
            "sagemaker:UpdateModelPackage",
            f"arn:aws:sagemaker:{region}:{dev_id}:model-package/{local}/1",
            {"sagemaker:ModelApprovalStatus": "Approved"},
        ),
        (
            "register Approved in the hub",
            hub,
            hub_id,
            "sagemaker:CreateModelPackage",
            f"arn:aws:sagemaker:{region}:{hub_id}:model-package/{central}/9",
            {"sagemaker:ModelApprovalStatus": "Approved"},
        ),
        (
            "approve centrally",
            hub,
            hub_id,
            "sagemaker:UpdateModelPackage",
            f"arn:aws:sagemaker:{region}:{hub_id}:model-package/{central}/1",
            {"sagemaker:ModelApprovalStatus": "Approved"},
        ),
        (
            "approve prod",
            hub,
            hub_id,
            "codepipeline:PutApprovalResult",
            f"arn:aws:codepipeline:{region}:{hub_id}:{pipeline}/{prod.name}/approve-{prod.name}",
            {},
        ),
        *pipeline_asks(spec),
        (
            "delete the prod monitoring schedule",
            prod.account,
            prod_id,
            "sagemaker:DeleteMonitoringSchedule",
            f"arn:aws:sagemaker:{region}:{prod_id}:monitoring-schedule/{naming.endpoint_name(spec, 'fraud', group)}-dq",
            {},
        ),
    ]
    return [
        (
            what,
            iam.Request(
                principal=f"arn:aws:iam::{account_id}:role/{principal}",
                action=action,
                resource=resource,
                resource_account=account_id,
                identity_policies={"AdministratorAccess": ADMIN},
                scps=world.scps(account),
                context={
                    "aws:PrincipalArn": f"arn:aws:iam::{account_id}:role/{principal}",
                    "aws:PrincipalAccount": account_id,
                    "aws:PrincipalOrgID": spec.organization.id,
                    "aws:RequestedRegion": region,
                    **context,
                },
            ),
        )
        for what, account, account_id, action, resource, context in asks
    ]


def pipeline_asks(spec) -> list[tuple[str, str, str, str, str, dict]]:
    """(what, account key, account id, action, resource, context) of changing the fraud team's
    deployment path: its pipeline, select project and start rule in the hub, the endpoint-tests
    project in its staging account."""
    team = spec.teams["fraud"]
    hub, hub_id = spec.hub, spec.accounts[spec.hub].id
    region = naming.hub_region(spec)
    group = team.governance.model_package_groups[0]
    (staging,) = [s for s in team.stages if s.name in governance.staging_stages(spec, "fraud")]
    staging_id = spec.accounts[staging.account].id
    pipeline = f"arn:aws:codepipeline:{region}:{hub_id}:{naming.deploy_pipeline(spec, 'fraud', group)}"
    select = f"arn:aws:codebuild:{region}:{hub_id}:project/{naming.select_project(spec, 'fraud', group)}"
    rule = f"arn:aws:events:{region}:{hub_id}:rule/{naming.central_approval_rule(spec, 'fraud', group)}"
    tests = f"arn:aws:codebuild:{region}:{staging_id}:project/{naming.endpoint_tests_project(spec, 'fraud', group)}"
    return [
        ("edit the deploy pipeline", hub, hub_id, "codepipeline:UpdatePipeline", pipeline, {}),
        ("delete the deploy pipeline", hub, hub_id, "codepipeline:DeletePipeline", pipeline, {}),
        ("edit the select project", hub, hub_id, "codebuild:UpdateProject", select, {}),
        ("delete the select project", hub, hub_id, "codebuild:DeleteProject", select, {}),
        ("retarget the start rule", hub, hub_id, "events:PutTargets", rule, {}),
        ("remove the start rule's target", hub, hub_id, "events:RemoveTargets", rule, {}),
        ("rewrite the start rule", hub, hub_id, "events:PutRule", rule, {}),
        ("delete the start rule", hub, hub_id, "events:DeleteRule", rule, {}),
        (
            f"edit the endpoint tests in {staging.name}",
            staging.account,
            staging_id,
            "codebuild:UpdateProject",
            tests,
            {},
        ),
        (
            f"delete the endpoint tests in {staging.name}",
            staging.account,
            staging_id,
            "codebuild:DeleteProject",
            tests,
            {},
        ),
    ]


PIPELINE_ASKS = 10


def decisions(spec, tree, principal: str = "Admin") -> dict[str, str]:
    asks = gate_requests(spec, World(spec, tree), principal)
    return {what: d.decision for (what, _), d in zip(asks, iam.simulate([r for _, r in asks]), strict=True)}


def without_statements(tree: dict[str, bytes], sids: set[str]) -> dict[str, bytes]:
    """A copy of the tree whose gate SCP lacks the statements ``sids`` (a narrower broken copy)."""
    broken = dict(tree)
    path = "stacks/management/cdk.tf.json"
    doc = json.loads(broken[path])
    for attrs in doc["resource"]["aws_organizations_policy"].values():
        if attrs["name"].endswith("protect-gates"):
            content = json.loads(attrs["content"])
            content["Statement"] = [st for st in content["Statement"] if st["Sid"] not in sids]
            attrs["content"] = json.dumps(content)
    broken[path] = json.dumps(doc).encode()
    return broken


def without_gate_scp(tree: dict[str, bytes]) -> dict[str, bytes]:
    """A copy of the tree whose gate SCP allows everything (the broken copy)."""
    broken = dict(tree)
    path = "stacks/management/cdk.tf.json"
    doc = json.loads(broken[path])
    for attrs in doc["resource"]["aws_organizations_policy"].values():
        if attrs["name"].endswith("protect-gates"):
            attrs["content"] = json.dumps({"Version": "2012-10-17", "Statement": []})
    broken[path] = json.dumps(doc).encode()
    return broken


def test_an_account_administrator_cannot_go_around_any_gate(bridge, default_spec, tree):
    got = decisions(default_spec, tree)
    assert got == dict.fromkeys(got, "ExplicitlyDenied") and len(got) == 6 + PIPELINE_ASKS, got


PIPELINE_SIDS = {"OnlyTerraformChangesDeployPipelines", "OnlyDeployersChangeEndpointTests"}


def test_without_the_pipeline_statements_the_administrator_edits_the_deployment_path(bridge, default_spec, tree):
    # GIVEN the gate SCP without its two pipeline statements (the broken copy) THEN an account's
    # administrator edits or removes every piece of the deployment path, and still passes no gate
    got = decisions(default_spec, without_statements(tree, PIPELINE_SIDS))
    path = {what for what, *_ in pipeline_asks(default_spec)}
    assert {w: d for w, d in got.items() if w in path} == dict.fromkeys(path, "Allowed"), got
    assert {w: d for w, d in got.items() if w not in path} == dict.fromkeys(set(got) - path, "ExplicitlyDenied")


def test_the_hubs_terraform_role_still_changes_the_pipelines(bridge, default_spec, tree):
    # GIVEN mlgov's Terraform role (exact ARN in the hub; administrator rights) THEN the hub's
    # pipeline pieces stay its own to change; in a stage account it is not the tests' keeper (the
    # endpoint stack's deployer is), and it passes no gate
    role = default_spec.terraform.role_name
    got = decisions(default_spec, tree, principal=role)
    hub = {what for what, account, *_ in pipeline_asks(default_spec) if account == default_spec.hub}
    assert hub and {w: got[w] for w in hub} == dict.fromkeys(hub, "Allowed"), got
    assert {w: d for w, d in got.items() if w not in hub} == dict.fromkeys(set(got) - hub, "ExplicitlyDenied"), got


def test_the_pipeline_statements_pass_the_service_reference(bridge, default_spec):
    # GIVEN the gate SCP's pipeline statements THEN every action, condition key and resource ARN
    # is one AWS defines for them (the check mlgov.review.scps runs on own SCPs); a misspelled
    # action or a key the actions do not have is a finding (the broken copies)
    (gates,) = [p for p in guardrails.service_control_policies(default_spec) if p.key == "protect_gates"]
    doc = json.loads(gates.content)
    assert {st["Sid"] for st in doc["Statement"]} >= PIPELINE_SIDS
    assert iam.validate([("protect-gates", "scp", doc)]) == []
    for sid, field, value, code in (
        ("OnlyTerraformChangesDeployPipelines", "Action", "codepipeline:UpdatePipelines", "unknown-action"),
        (
            "OnlyDeployersChangeEndpointTests",
            "Condition",
            {"ArnNotLike": {"codebuild:PrincipalArn": "x"}},
            "unknown-key",
        ),
    ):
        broken = json.loads(gates.content)
        (st,) = [st for st in broken["Statement"] if st["Sid"] == sid]
        st[field] = [value] if field == "Action" else value
        found = iam.validate([("protect-gates", "scp", broken)])
        assert [f.code for f in found if f.sid == sid] == [code], found


def test_without_the_gate_scp_the_administrator_passes_every_gate(bridge, default_spec, tree):
    got = decisions(default_spec, without_gate_scp(tree))
    assert got == dict.fromkeys(got, "Allowed"), got


def test_only_mlgovs_own_roles_are_left_out_by_name(default_spec):
    # GIVEN the roles the gate SCP leaves out THEN the hub's personas by exact ARN, the teams'
    # leads and endpoint deployers by mlgov's name patterns (constant size, whatever the teams),
    # names that only Terraform may create (protect_audit's DenyPersonaRoleNamesButTerraform)
    roles = guardrails.gate_roles(default_spec)
    hub_id = default_spec.accounts[default_spec.hub].id
    assert roles == {
        "decide": ["arn:aws:iam::*:role/nwa-*-lead-data-scientist", f"arn:aws:iam::{hub_id}:role/nwa-ml-engineer"],
        "approve-deploy": [f"arn:aws:iam::{hub_id}:role/nwa-governance-officer"],
        "monitoring": ["arn:aws:iam::*:role/nwa-*-endpoint-deployer"],
    }
    (audit,) = [p for p in guardrails.service_control_policies(default_spec) if p.key == "protect_audit"]
    protected = json.loads(audit.content)
    (stmt,) = [s for s in protected["Statement"] if s["Sid"] == "DenyPersonaRoleNamesButTerraform"]
    for pattern in (roles["decide"][0], roles["monitoring"][0]):
        assert pattern in stmt["Resource"]
