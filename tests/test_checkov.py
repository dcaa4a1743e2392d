"""checkov over everything mlgov generates: the stacks as Terraform JSON, the Service Catalog
product templates and the endpoint template (CloudFormation) of every spec of the list (org.yaml
and every example, or --spec: tests/conftest.py), and the default stacks' offline plans; offline
(--skip-download).

Zero failed checks are allowed except the entries of mlgov/security/checkov-skips.yaml, each scoped
to check id + resource glob + framework and carrying its reason. A new failure is reported as
``CHECK_ID resource file: check name`` so it can be fixed (or, if it truly does not apply,
justified in the skip list).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from mlgov.review import gates
from mlgov.review.security import checkov_copy, checkov_plan_copy
from tests.conftest import ROOT, require_tool, spec_case, spec_id, test_specs

GENERATED = ROOT / "generated"
SKIPS_FILE = ROOT / "mlgov" / "security" / "checkov-skips.yaml"
SKIPS = yaml.safe_load(SKIPS_FILE.read_text())["skips"]


def checkov_binary() -> list[str]:
    """The pinned checkov of scripts/bootstrap (.venv-checkov), else one on PATH, as
    ``mlgov check`` finds it (mlgov.review.gates)."""
    local = ROOT / ".venv-checkov" / "bin" / "checkov"
    return [str(local)] if local.is_file() else gates.checkov_command() or [require_tool("checkov")]


def run_checkov(directory: Path, framework: str) -> list[dict]:
    """Failed checks of one checkov run, offline (mlgov.review.gates.run_checkov, as `mlgov check` runs it)."""
    try:
        return gates.run_checkov(checkov_binary(), directory, framework)
    except gates.GateError as exc:
        pytest.fail(str(exc))


def _skip_for(check: dict) -> dict | None:
    return gates.skip_for(check, SKIPS)


def _unexplained(failed: list[dict]) -> list[str]:
    return gates.unexplained(failed, SKIPS)


USED_SKIPS: set[tuple[str, str]] = set()


def _record(failed):
    for c in failed:
        if (skip := _skip_for(c)) is not None:
            USED_SKIPS.add((skip["id"], c["framework"]))


def test_skip_list_entries_are_complete():
    for skip in SKIPS:
        assert set(skip) == {"id", "resources", "frameworks", "why"}, skip
        assert len(skip["why"]) > 40 and skip["resources"] and skip["frameworks"], skip


def _failures(message_of: list[dict]) -> str:
    return "checkov failures (fix them or justify in mlgov/security/checkov-skips.yaml):\n" + "\n".join(
        _unexplained(message_of)
    )


@pytest.fixture(scope="session")
def scans(request, tmp_path_factory) -> dict[tuple[str, str], list[dict]]:
    """{(spec id, what): failed checks} for every spec of the list (tests/conftest.py), what
    being "stacks" (Terraform JSON), "products" (the product templates), "bootstrap" (its
    Terraform stack and CloudFormation templates) or "endpoint" (the endpoint template the hub
    pipelines deploy). ONE checkov run per framework scans every
    spec's files (a directory per spec): checkov's start costs more than a spec's files."""
    from mlgov.platform import governance as assets

    base = tmp_path_factory.mktemp("checkov")
    ids = {}
    for path in test_specs(request.config):  # the list conftest parametrizes with
        case, sid = spec_case(path), spec_id(path).replace("/", "_")
        ids[sid] = case
        for rel, data in case.tree.items():
            if rel.startswith("stacks/") and rel.endswith("/cdk.tf.json"):
                # as checkov 3.3.30 can parse it: no moved/import blocks, no required_version
                doc = checkov_copy(json.loads(data))
                target = base / "terraform" / sid / "stacks" / rel.split("/")[1] / "cdk.tf.json"
                target.parent.mkdir(parents=True)
                target.write_text(json.dumps(doc, indent=2))
            elif rel.startswith("bootstrap/terraform/") and rel.endswith("cdk.tf.json"):
                target = base / "terraform" / sid / rel
                target.parent.mkdir(parents=True)
                target.write_text(json.dumps(checkov_copy(json.loads(data)), indent=2))
            elif rel.startswith("products/") or (rel.startswith("bootstrap/cloudformation/") and rel.endswith(".yaml")):
                (base / "cfn" / sid / rel).parent.mkdir(parents=True, exist_ok=True)
                (base / "cfn" / sid / rel).write_bytes(data)
        (base / "cfn" / sid / "endpoint").mkdir(parents=True)
        (base / "cfn" / sid / "endpoint" / "endpoint.json").write_text(
            json.dumps(assets.endpoint_template(case.spec), indent=2)
        )
    out: dict[tuple[str, str], list[dict]] = {}
    for framework, directory in (("terraform_json", "terraform"), ("cloudformation", "cfn")):
        failed = run_checkov(base / directory, framework)
        _record(failed)
        for check in failed:
            sid, what = check["file_path"].lstrip("/").split("/")[:2]
            out.setdefault((sid, what), []).append(check)
    return out


@pytest.mark.slow
def test_checkov_terraform_json(scans, spec_path):
    failed = scans.get((spec_id(spec_path).replace("/", "_"), "stacks"), [])
    assert not _unexplained(failed), _failures(failed)


def _stack_copy(tmp: Path, stacks: Path = GENERATED / "stacks") -> Path:
    """``stacks`` as checkov 3.3.30 can parse them (:func:`mlgov.review.security.checkov_copy`:
    no ``moved``/``import`` blocks, no terraform.required_version)."""
    out = tmp / "stacks"
    for src in sorted(stacks.glob("*/cdk.tf.json")):
        doc = checkov_copy(json.loads(src.read_text()))
        target = out / src.parent.name / "cdk.tf.json"
        target.parent.mkdir(parents=True)
        target.write_text(json.dumps(doc, indent=2))
    return out


@pytest.mark.slow
def test_checkov_parses_stacks_with_moved_and_import_blocks(tmp_path):
    # GIVEN the default management stack adopting its OUs (import blocks) and with a renamed SCP
    # (a moved block), as a rename and management.adopt_ous write them
    src = tmp_path / "src" / "management"
    src.mkdir(parents=True)
    doc = json.loads((GENERATED / "stacks" / "management" / "cdk.tf.json").read_text())
    ou = next(iter(doc["resource"]["aws_organizations_organizational_unit"]))
    scp = next(iter(doc["resource"]["aws_organizations_policy"]))
    doc["import"] = [{"id": "ou-nw4a-data0001", "to": f"aws_organizations_organizational_unit.{ou}"}]
    doc["moved"] = [{"from": "aws_organizations_policy.old", "to": f"aws_organizations_policy.{scp}"}]
    (src / "cdk.tf.json").write_text(json.dumps(doc))
    # WHEN checkov scans the copy mlgov makes for it THEN it parses (run_checkov fails on parsing
    # errors) and checks the stack's resources
    failed = run_checkov(_stack_copy(tmp_path, src.parent), "terraform_json")
    assert not _unexplained(failed)


def test_checkov_copy_gives_each_listed_arn_its_own_statement():
    # GIVEN a bucket policy statement whose ArnLike aws:PrincipalArn lists two role patterns
    stmt = {
        "Sid": "Read",
        "Effect": "Allow",
        "Principal": {"AWS": "*"},
        "Action": ["s3:GetObject"],
        "Resource": ["arn:aws:s3:::b/*"],
        "Condition": {
            "ArnLike": {"aws:PrincipalArn": ["arn:aws:iam::*:role/a", "arn:aws:iam::*:role/b"]},
            "StringEquals": {"aws:PrincipalOrgID": "o-1"},
        },
    }
    deny = {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"}
    stack = {"resource": {"aws_s3_bucket_policy": {"p": {"policy": json.dumps({"Statement": [deny, stmt]})}}}}
    # WHEN mlgov makes the copy checkov scans
    doc = json.loads(checkov_copy(stack)["resource"]["aws_s3_bucket_policy"]["p"]["policy"])
    # THEN each ARN has its own statement, everything else the same (a key's values are ORed)
    assert doc["Statement"][0] == deny
    assert [s["Condition"]["ArnLike"]["aws:PrincipalArn"] for s in doc["Statement"][1:]] == [
        "arn:aws:iam::*:role/a",
        "arn:aws:iam::*:role/b",
    ]
    assert [s["Sid"] for s in doc["Statement"][1:]] == ["Read0", "Read1"]
    for one in doc["Statement"][1:]:
        assert {k: v for k, v in one.items() if k not in ("Sid", "Condition")} == {
            k: v for k, v in stmt.items() if k not in ("Sid", "Condition")
        }
        assert one["Condition"]["StringEquals"] == stmt["Condition"]["StringEquals"]


@pytest.mark.slow
def test_a_check_checkov_could_not_run_fails_the_scan(tmp_path, monkeypatch):
    # GIVEN the default ml-prod stack, whose monitoring bucket policy lists two role patterns
    # under one ArnLike key (checkov 3.3.30's CKV_AWS_70 raises on a list there)
    src = tmp_path / "src" / "ml-prod"
    src.mkdir(parents=True)
    (src / "cdk.tf.json").write_bytes((GENERATED / "stacks" / "ml-prod" / "cdk.tf.json").read_bytes())
    # WHEN checkov scans mlgov's copy THEN CKV_AWS_70 ran on that policy (its finding is reported)
    failed = run_checkov(_stack_copy(tmp_path / "fixed", src.parent), "terraform_json")
    assert any(c["check_id"] == "CKV_AWS_70" and c["resource"].endswith(".monitoring") for c in failed)
    # WHEN the copy keeps the list (a broken copy of checkov_copy) THEN the scan fails, naming
    # the check and the resource, instead of passing without having checked the policy
    monkeypatch.setattr("mlgov.review.security.CHECKOV_ONE_ARN_TYPES", ())
    with pytest.raises(gates.GateError, match=r"could not run CKV_AWS_70 on .*aws_s3_bucket_policy\.monitoring"):
        gates.run_checkov(checkov_binary(), _stack_copy(tmp_path / "broken", src.parent), "terraform_json")


@pytest.mark.slow
@pytest.mark.terraform
def test_checkov_offline_plans(tmp_path, default_plans):
    # GIVEN every stack planned offline by the real terraform (the session's plans, tests/conftest.py)
    plans = tmp_path / "plans"
    plans.mkdir()
    assert sorted(default_plans.plans) == default_plans.stacks, default_plans.result.output
    for name, planned in default_plans.plans.items():
        (plans / f"{name}.json").write_text(json.dumps(checkov_plan_copy(planned)))
    # WHEN checkov reads the plans THEN nothing fails outside the skip list
    failed = run_checkov(plans, "terraform_plan")
    _record(failed)
    assert not _unexplained(failed), _failures(failed)


@pytest.mark.slow
def test_checkov_product_templates(scans, case, spec_path):
    if not any(path.startswith("products/") for path in case.tree):
        pytest.skip(f"{spec_path.name} offers no Service Catalog products")
    failed = scans.get((spec_id(spec_path).replace("/", "_"), "products"), [])
    assert not _unexplained(failed), _failures(failed)


@pytest.mark.slow
def test_checkov_bootstrap(scans, case, spec_path):
    # The bootstrap in both deliveries (Terraform JSON and CloudFormation), as rendered.
    assert any(rel.startswith("bootstrap/terraform/") for rel in case.tree), "no bootstrap rendered"
    failed = scans.get((spec_id(spec_path).replace("/", "_"), "bootstrap"), [])
    assert {c["framework"] for c in failed} <= {"terraform_json", "cloudformation"}
    assert not _unexplained(failed), _failures(failed)


@pytest.mark.slow
def test_checkov_endpoint_template(scans, spec_path):
    # The endpoint stack the hub pipelines deploy (endpoint, monitors, batch pipeline), as rendered.
    failed = scans.get((spec_id(spec_path).replace("/", "_"), "endpoint"), [])
    assert not _unexplained(failed), _failures(failed)


@pytest.mark.slow
def test_no_stale_skips():
    # Runs after the scans above (file order); an entry nothing matched any more must go.
    if not USED_SKIPS:
        pytest.skip("no checkov scan ran in this session")
    stale = [
        f"{s['id']} ({fw})"
        for s in SKIPS
        for fw in s["frameworks"]
        if (s["id"], fw) not in USED_SKIPS
        and (fw != "cloudformation" or (GENERATED / "products").is_dir())
        and not (fw == "terraform_plan" and not any(k[1] == "terraform_plan" for k in USED_SKIPS))
    ]
    assert not stale, f"skip entries that match no failure any more (remove them from {SKIPS_FILE.name}): {stale}"
