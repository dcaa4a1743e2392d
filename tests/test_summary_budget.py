"""`summarize` size budget and classification on a huge synthetic plan (no terraform needed).

The plan documents use the shape of ``terraform show -json`` (format 1.2); the real-plan
scenarios are in tests/test_summarize.py.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from mlgov.cli import cli
from mlgov.review import summary


def _rc(address, actions, before=None, after=None, replace_paths=None):
    rtype, name = address.split(".", 1)
    rc = {
        "address": address,
        "mode": "managed",
        "type": rtype,
        "name": name,
        "provider_name": "registry.terraform.io/hashicorp/aws",
        "change": {"actions": actions, "before": before, "after": after, "after_unknown": {}},
    }
    if replace_paths:
        rc["change"]["replace_paths"] = replace_paths
    return rc


def huge_plan(stack_index: int) -> dict:
    changes = [_rc(f"aws_s3_object.file_{i:05d}", ["create"], None, {"key": f"k{i}"}) for i in range(3000)]
    changes += [_rc(f"aws_iam_role_policy.p_{i:04d}", ["update"], {"policy": "a"}, {"policy": "b"}) for i in range(300)]
    changes += [
        _rc(f"aws_sagemaker_model_package_group.team_{i:03d}", ["delete"], {"name": "x"}, None) for i in range(60)
    ]
    changes += [
        _rc(f"aws_s3_bucket.data_{i:03d}", ["delete", "create"], {"bucket": "a"}, {"bucket": "b"}, [["bucket"]])
        for i in range(25)
    ]
    return {"format_version": "1.2", "resource_changes": changes}


def _warned(text: str, stack: str, address: str, action: str) -> bool:
    caution = [line for line in text.splitlines() if line.startswith("> - ")]
    return any(f"`{stack}`" in line and address in line and f"**{action.upper()}**" in line for line in caution)


@pytest.mark.parametrize("budget", [65000, 30000])
def test_huge_plan_stays_under_budget_and_keeps_every_warning(budget):
    # GIVEN 8 stacks with 3,385 changes each, 85 of them destructive
    reports = [summary.stack_report(f"stack-{i}", huge_plan(i)) for i in range(8)]
    full = summary.render_markdown(reports, 0)
    assert len(full) > 10 * budget
    # WHEN rendered for a PR comment under the budget
    text = summary.markdown(reports, max_chars=budget)
    assert "(forced by `bucket`)" in summary.render_markdown(reports, 2)
    # THEN it fits, and every delete and replace is still named in the warning block
    assert len(text) <= budget
    destructive = [c for r in reports for c in r.changes if c.destructive]
    assert len(destructive) == 8 * 85
    assert all(_warned(text, c.stack, c.address, c.action) for c in destructive)
    assert "480 resources will be DESTROYED and 200 resources will be REPLACED (destroyed, then created anew)" in text
    assert "Detail folded" in text


def test_small_plan_is_not_folded():
    plan = {
        "resource_changes": [
            _rc(
                "aws_kms_key.platform",
                ["update"],
                {"policy": "a", "description": "d"},
                {"policy": "b", "description": "d"},
            )
        ]
    }
    text = summary.markdown([summary.stack_report("hub", plan)])
    assert "Detail folded" not in text and "<details>" in text
    assert "| `hub` | update | `aws_kms_key.platform` | KMS key policy (changes `policy`) |" in text


def test_update_without_policy_change_is_not_security_relevant():
    plan = {
        "resource_changes": [
            _rc(
                "aws_kms_key.platform",
                ["update"],
                {"policy": "a", "description": "old"},
                {"policy": "a", "description": "new"},
            ),
            _rc(
                "aws_iam_role.deploy",
                ["update"],
                {"assume_role_policy": "t", "description": "x"},
                {"assume_role_policy": "u", "description": "x"},
            ),
            _rc("aws_organizations_policy.deny_regions", ["update"], {"content": "a"}, {"content": "b"}),
            _rc("aws_servicecatalog_portfolio_share.workloads", ["create"], None, {"type": "ORGANIZATIONAL_UNIT"}),
            _rc("aws_cloudwatch_event_bus_policy.central", ["delete"], {"policy": "p"}, None),
        ]
    }
    by_address = {c.address: c for c in summary.stack_report("s", plan).changes}
    assert by_address["aws_kms_key.platform"].security == ""
    assert by_address["aws_iam_role.deploy"].security == "trust relationship"
    assert by_address["aws_organizations_policy.deny_regions"].security == "SCP"
    assert by_address["aws_servicecatalog_portfolio_share.workloads"].security == "Service Catalog share"
    assert by_address["aws_cloudwatch_event_bus_policy.central"].security == "event bus policy"


def test_summarize_command_markdown_and_json(tmp_path):
    (tmp_path / "hub").mkdir()
    (tmp_path / "hub" / "plan.json").write_text(json.dumps(huge_plan(0)))
    (tmp_path / "quiet.json").write_text(
        json.dumps({"resource_changes": [_rc("aws_kms_key.platform", ["no-op"], {}, {})]})
    )
    manifest = tmp_path / "m.json"
    manifest.write_text(
        json.dumps({"stacks": [{"name": "hub", "account": "ml-shared-services", "account_id": "220000000002"}]})
    )
    runner = CliRunner()
    md = runner.invoke(
        cli,
        [
            "summarize",
            str(tmp_path / "hub" / "plan.json"),
            str(tmp_path / "quiet.json"),
            "--manifest",
            str(manifest),
            "--max-chars",
            "20000",
        ],
    )
    assert md.exit_code == 0, md.output
    assert len(md.output) <= 20000 and "No changes: `quiet`." in md.output
    assert "| `hub` | ml-shared-services (220000000002) | 3000 | 300 | 25 | 60 |" in md.output
    js = runner.invoke(
        cli, ["summarize", str(tmp_path / "hub" / "plan.json"), "--format", "json", "--max-chars", "20000"]
    )
    doc = json.loads(js.output)
    assert doc["totals"] == {"create": 3000, "update": 300, "replace": 25, "delete": 60}
    assert len(doc["destructive"]) == 85 and doc["folded"] is True


def test_summarize_rejects_what_is_not_a_plan(tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text('{"resource_changes": [{"change": {}}]}')
    result = CliRunner().invoke(cli, ["summarize", str(bad)])
    assert result.exit_code == 2 and "not a terraform plan JSON document" in result.output
