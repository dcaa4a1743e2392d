"""Every gate holds: each persona opens exactly its own gate, directly or through another role.

On the default spec and every example: the lead of a team opens only that team's dev approval,
the ML engineer only the central approval, the governance officer only the prod approvals, and
no role (data scientists, execution, promotion, pipeline, deploy roles...) opens any, nor can
register a package already Approved, including by assuming, passing (one hop and transitively),
starting a pipeline, build or function that runs as a role that can, or launching a Service
Catalog product whose launch role can (only the principals associated with its portfolio can; a
launch role may open only the gates of those principals). Decisions come from
iam-simulate (tests/journey/gates.py). Without node/the npm packages: skip locally, FAIL on CI.

The bootstrap's roles (docs/day-zero.md): only the management pipeline reaches every account's
Terraform role and vending role, and a CI token of the apply environment or of pull requests
only its account's Terraform role (tests/journey/terraform_roles.py); a trust without its
``sub`` condition, with ``sub`` widened to every ref, or without the ``aws:PrincipalArn``
narrowing reopens a role, and the failure names who reaches it.
"""

from __future__ import annotations

import json

import pytest

from mlgov.platform import bootstrap
from tests.journey import terraform_roles
from tests.journey.gates import violations, violations_of
from tests.journey.test_journey import _holder
from tests.journey.world import World

pytestmark = pytest.mark.slow  # node (iam-simulate)

DEV, HUB = "ml-dev-fraud", "ml-shared-services"
LEAD = "arn:aws:iam::330000000003:role/nwa-fraud-lead-data-scientist"
DS = "arn:aws:iam::330000000003:role/nwa-fraud-data-scientist"
EXECUTION = "arn:aws:iam::330000000003:role/nwa-fraud-sagemaker-execution"
PROJECTS_LAUNCH = "arn:aws:iam::330000000003:role/nwa-catalog-launch-sagemaker-projects"
ADMIN_LAUNCH = "arn:aws:iam::330000000003:role/nwa-catalog-launch-ml-admin"


def add_statement(stack: str, address: str, statement: dict):
    """A tree edit: one more statement in a role's inline policy."""

    def apply(tree: dict[str, bytes]) -> None:
        path = _holder(tree, stack, "aws_iam_role_policy", address)  # the stack or a team slice of it
        doc = json.loads(tree[path])
        attrs = doc["resource"]["aws_iam_role_policy"][address]
        policy = json.loads(attrs["policy"])
        policy["Statement"].append(statement)
        attrs["policy"] = json.dumps(policy)
        tree[path] = json.dumps(doc).encode()

    return apply


def no_gate_scp(tree: dict[str, bytes]) -> None:
    """A tree edit: the protect-gates SCP allows everything. Identity breaches of the gates it
    backs are then visible to this test (with it, the SCP closes them: see the last test)."""
    path = "stacks/management/cdk.tf.json"
    doc = json.loads(tree[path])
    (scp,) = [a for a in doc["resource"]["aws_organizations_policy"].values() if a["name"].endswith("protect-gates")]
    scp["content"] = json.dumps({"Version": "2012-10-17", "Statement": []})
    tree[path] = json.dumps(doc).encode()


# Broken copies whose gate the protect-gates SCP backs.
SCP_BACKED = ("ml-engineer-approves-prod", "officer-starts-approving-build", "registration-unpinned")


def associate(portfolio: str, role: str):
    """A tree edit: open a hub portfolio to one more role name (an IAM_PATTERN principal)."""

    def apply(tree: dict[str, bytes]) -> None:
        path = f"stacks/{HUB}/cdk.tf.json"
        doc = json.loads(tree[path])
        doc["resource"]["aws_servicecatalog_principal_portfolio_association"][f"broken_{portfolio}"] = {
            "portfolio_id": f"${{aws_servicecatalog_portfolio.{portfolio}.id}}",
            "principal_arn": f"arn:aws:iam:::role/{role}",
            "principal_type": "IAM_PATTERN",
        }
        tree[path] = json.dumps(doc).encode()

    return apply


def allow(sid: str, action: str, resource: str, **condition) -> dict:
    out = {"Sid": sid, "Effect": "Allow", "Action": [action], "Resource": resource}
    if condition:
        out["Condition"] = {"StringEquals": condition}
    return out


PASS_LEAD = allow("PassLead", "iam:PassRole", LEAD, **{"iam:PassedToService": "sagemaker.amazonaws.com"})
# (broken copy, edits, a line the failure must contain)
BROKEN = {
    # issue 14's first finding: a data scientist passes the lead role to a SageMaker job
    "data-scientist-passes-lead": (
        [add_statement(DEV, "fraud_data_scientist", PASS_LEAD)],
        f"{DS} opens gate dev-approval:fraud it must not, via {DS} -> {LEAD}",
    ),
    # the same, two hops: the data scientist passes the execution role, which passes the lead
    "execution-role-passes-lead": (
        [add_statement(DEV, "fraud_sagemaker_execution", PASS_LEAD)],
        f"{DS} opens gate dev-approval:fraud it must not, via {DS} -> {EXECUTION} -> {LEAD}",
    ),
    # the projects portfolio's launch role (data scientists launch through it) passes the lead role
    "projects-launch-role-passes-lead": (
        [add_statement(DEV, "catalog_launch_sagemaker_projects", PASS_LEAD)],
        f"{DS} opens gate dev-approval:fraud it must not, via {DS} -> {PROJECTS_LAUNCH} -> {LEAD}",
    ),
    # the lead-only ml-admin portfolio opened to data scientists: its launch role passes the lead
    "admin-portfolio-opened-to-data-scientists": (
        [associate("ml_admin", "nwa-fraud-data-scientist")],
        f"{DS} opens gate dev-approval:fraud it must not, via {DS} -> {ADMIN_LAUNCH} -> {LEAD}",
    ),
    # the officer starts a build whose role may approve central packages
    "officer-starts-approving-build": (
        [
            add_statement(
                HUB,
                "fraud_select_model",
                allow(
                    "Approve",
                    "sagemaker:UpdateModelPackage",
                    "arn:aws:sagemaker:eu-west-1:220000000002:model-package/*",
                ),
            ),
            add_statement(
                HUB,
                "governance_officer",
                allow(
                    "Build",
                    "codebuild:StartBuild",
                    "arn:aws:codebuild:eu-west-1:220000000002:project/nwa-fraud-card-scoring-select",
                ),
            ),
            no_gate_scp,
        ],
        "role/nwa-governance-officer opens gate central-approval it must not, via",
    ),
    # the ML engineer may also give the prod approval
    "ml-engineer-approves-prod": (
        [
            add_statement(
                HUB,
                "ml_engineer",
                allow("Prod", "codepipeline:PutApprovalResult", "arn:aws:codepipeline:eu-west-1:220000000002:*"),
            ),
            no_gate_scp,
        ],
        "role/nwa-ml-engineer opens gate prod-approval it must not",
    ),
    # registration no longer pinned: the execution role registers a package already Approved
    "registration-unpinned": (
        [
            add_statement(
                DEV,
                "fraud_sagemaker_execution",
                allow(
                    "Register",
                    "sagemaker:CreateModelPackage",
                    "arn:aws:sagemaker:eu-west-1:330000000003:model-package/*",
                ),
            ),
            no_gate_scp,
        ],
        "role/nwa-fraud-sagemaker-execution opens gate register-approved it must not",
    ),
}


# Ways around a gate that the owner of the role is closing: (text of the violation, why). The
# test is an expected failure while one holds and fails on any other violation; remove the
# entry when the change lands (the test then insists).
OPEN_FINDINGS: tuple[tuple[str, str], ...] = ()


def check(lines: list[str]) -> None:
    known = [line for line in lines if any(text in line for text, _ in OPEN_FINDINGS)]
    assert [line for line in lines if line not in known] == []
    if known:
        pytest.xfail("; ".join(sorted({why for text, why in OPEN_FINDINGS if any(text in k for k in known)})))


@pytest.fixture(scope="module")
def results(bridge, default_world) -> dict[str, list[str]]:
    """Violations of each broken copy of the default tree, and of the breaches the gate SCP
    backs with that SCP kept, in one simulator batch."""
    names = [*sorted(BROKEN), *(f"{seam} (SCP kept)" for seam in SCP_BACKED)]
    worlds = []
    for seam in sorted(BROKEN):
        broken = dict(default_world.tree)
        for edit in BROKEN[seam][0]:
            edit(broken)
        worlds.append(World(default_world.spec, broken))
    for seam in SCP_BACKED:  # the same identity breach, the gate SCP left in place
        broken = dict(default_world.tree)
        for edit in BROKEN[seam][0]:
            if edit is not no_gate_scp:
                edit(broken)
        worlds.append(World(default_world.spec, broken))
    return dict(zip(names, violations_of(worlds), strict=True))


def test_every_persona_opens_exactly_its_gate(bridge, case):
    # GIVEN a spec of the list (org.yaml and every example, or --spec) THEN each persona opens
    # exactly its own gate
    check(violations(case.world))


@pytest.mark.parametrize("seam", sorted(BROKEN))
def test_a_broken_copy_opens_a_gate_and_says_how(results, seam):
    # GIVEN the default tree with one way around a gate WHEN the gates are evaluated
    # THEN the violation names the role, the gate and the path
    lines = results[seam]
    assert any(BROKEN[seam][1] in line for line in lines), lines


@pytest.mark.parametrize("seam", SCP_BACKED)
def test_the_gate_scp_closes_an_identity_breach_of_its_gates(results, seam):
    # GIVEN the same breach of a role's own policy WHEN the protect-gates SCP stays attached
    # THEN no gate opens: the SCP backs the gate whatever the account's IAM grants
    assert no_gate_scp in BROKEN[seam][0]
    assert results[f"{seam} (SCP kept)"] == []


# -- the bootstrap's roles: nobody but the management pipeline (and the CI's apply tokens) -------


def _member_trust_edit(edit):
    """A tree edit of the StackSet template's Terraform role trust (its one-line JSON document)."""

    def apply(tree: dict[str, bytes]) -> None:
        prefix = "      AssumeRolePolicyDocument: "
        lines = tree[bootstrap.MEMBER_TEMPLATE].decode().split("\n")
        (at,) = [i for i, line in enumerate(lines) if line.startswith(prefix)]
        trust = json.loads(lines[at].removeprefix(prefix))
        edit(trust)
        lines[at] = prefix + json.dumps(trust)
        tree[bootstrap.MEMBER_TEMPLATE] = "\n".join(lines).encode()

    return apply


def _management_trust_edit(edit):
    """A tree edit of the management account's Terraform role trust (the bootstrap's Terraform stack)."""

    def apply(tree: dict[str, bytes]) -> None:
        stack = json.loads(tree[bootstrap.TERRAFORM_STACK])
        role = stack["resource"]["aws_iam_role"]["terraform"]
        trust = json.loads(role["assume_role_policy"])
        edit(trust)
        role["assume_role_policy"] = json.dumps(trust)
        tree[bootstrap.TERRAFORM_STACK] = json.dumps(stack).encode()

    return apply


def _drop_sub(trust: dict) -> None:
    conditions = trust["Statement"][1]["Condition"]["StringEquals"]
    (sub,) = [k for k in conditions if k.endswith(":sub")]
    del conditions[sub]


def _sub_pattern(trust: dict) -> None:
    conditions = trust["Statement"][1]["Condition"]
    (sub,) = [k for k in conditions["StringEquals"] if k.endswith(":sub")]
    del conditions["StringEquals"][sub]
    conditions["StringLike"] = {sub: "repo:northwind/ml-platform:*"}


def _drop_principal_arn(trust: dict) -> None:
    del trust["Statement"][0]["Condition"]


MEMBER_ID, MGMT_ID = "330000000003", "110000000001"
MEMBER_ROLE, MGMT_ROLE = (f"arn:aws:iam::{a}:role/mlgov-terraform" for a in (MEMBER_ID, MGMT_ID))
# (broken copy, edit, a line the failure must contain)
BROKEN_TRUSTS = {
    # the CI statement without its subject: any workflow of any GitHub repository
    "member-trust-drops-sub": (
        _member_trust_edit(_drop_sub),
        f"oidc:{MEMBER_ID}:repo:northwind/ml-platform-fork:environment:mlgov-apply reaches {MEMBER_ROLE}",
    ),
    # the subject widened to every ref of the repository: any branch applies
    "member-trust-any-ref": (
        _member_trust_edit(_sub_pattern),
        f"oidc:{MEMBER_ID}:repo:northwind/ml-platform:ref:refs/heads/main reaches {MEMBER_ROLE}",
    ),
    # the accounts as principals without the aws:PrincipalArn narrowing: every administrator there
    "member-trust-drops-principal-arn": (
        _member_trust_edit(_drop_principal_arn),
        f"arn:aws:iam::{MEMBER_ID}:role/someone-with-administrator-access reaches {MEMBER_ROLE}",
    ),
    "management-trust-drops-principal-arn": (
        _management_trust_edit(_drop_principal_arn),
        f"arn:aws:iam::{MGMT_ID}:role/someone-with-administrator-access reaches {MGMT_ROLE}",
    ),
}


@pytest.fixture(scope="module")
def trust_results(bridge, default_world) -> dict[str, list[str]]:
    """Violations of the default tree and of each broken trust, in one simulator batch."""
    worlds = [default_world]
    for name in sorted(BROKEN_TRUSTS):
        broken = dict(default_world.tree)
        BROKEN_TRUSTS[name][0](broken)
        worlds.append(World(default_world.spec, broken))
    found = [terraform_roles.violations(w, h) for w, h in zip(worlds, terraform_roles.walk(worlds), strict=True)]
    return dict(zip(["default", *sorted(BROKEN_TRUSTS)], found, strict=True))


def test_only_the_pipeline_and_the_apply_tokens_reach_the_terraform_and_vending_roles(trust_results, default_world):
    # GIVEN org.yaml's bootstrap THEN the management pipeline reaches every account's Terraform
    # and vending role, a trusted CI token only its account's Terraform role, and no role of the
    # platform, no account's administrator, no other token anything (the management account's
    # administrators reach the vending roles: AWS's trust of them names that account)
    assert trust_results["default"] == []
    hops = terraform_roles.walk([default_world])[0]
    # every account's Terraform role but its own, every member account's vending role
    assert len(hops.of(MGMT_ROLE)) == 2 * (len(default_world.spec.accounts) - 1)
    assert hops.of(f"oidc:{MEMBER_ID}:repo:northwind/ml-platform:environment:mlgov-apply") == {MEMBER_ROLE}


@pytest.mark.parametrize("seam", sorted(BROKEN_TRUSTS))
def test_a_broken_trust_reopens_the_terraform_role_and_says_who(trust_results, seam):
    lines = trust_results[seam]
    assert any(BROKEN_TRUSTS[seam][1] in line for line in lines), lines
