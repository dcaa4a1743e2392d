"""``mlgov check``: the IAM review, cfn-lint and checkov over a platform repository's tree.

GIVEN a spec in a folder of its own with an own product template and an account
     customization, and a generated tree beside it (one of Northwind's stacks, the customization
     merged into it, and the spec's product templates)
WHEN ``mlgov check`` runs on it
THEN a clean tree exits 0 with one summary line per gate; a template cfn-lint fails and a
     customization checkov fails each exit 1 with a line naming the file and the rule; a missing
     checkov is one line and exit 3 unless skipped explicitly, which the summary says.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlgov.cli import cli
from mlgov.platform.bootstrap import render_bootstrap
from mlgov.platform.catalog import render_products
from mlgov.review import gates
from mlgov.synth import customize
from mlgov.synth.tree import write_tree
from mlgov.validation import load_spec
from tests.test_user_repo import ORG, with_own_product

ROOT = Path(__file__).resolve().parent.parent
STACK = "ml-test"  # the test layer's one stack: small, and a layer a customization can name

# An own product template neither cfn-lint nor checkov objects to.
CLEAN_TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Description: {{ description | quote }}
Resources:
  OwnQueue:
    Type: AWS::SQS::Queue
    Properties:
      KmsMasterKeyId: alias/aws/sqs
"""
# A queue whose encryption setting is a typo cfn-lint knows (E3002: no such property).
LINT_ERROR_TEMPLATE = CLEAN_TEMPLATE.replace("KmsMasterKeyId:", "KmsMasterKeyIdz:")
# A queue stored unencrypted: checkov's CKV_AWS_27.
UNENCRYPTED_QUEUE = {
    "resource": {"aws_sqs_queue": {"acme_jobs": {"name": "acme-jobs", "sqs_managed_sse_enabled": False}}}
}


def platform(tmp_path: Path, template: str = CLEAN_TEMPLATE, fragment: dict | None = None) -> Path:
    """A platform repository in ``tmp_path``: acme.yaml with the own product ``team-bucket``
    (its template ``template``), optionally a customization of the test layer, and generated/
    holding the ml-test stack (customized) and every product template. Returns the spec."""
    spec_file = tmp_path / "acme.yaml"
    spec_file.write_text(with_own_product(ORG))
    (tmp_path / "templates").mkdir(exist_ok=True)
    (tmp_path / "templates/team-bucket.yaml.j2").write_text(template)
    if fragment is not None:
        (tmp_path / "customizations/layers/test").mkdir(parents=True, exist_ok=True)
        (tmp_path / "customizations/layers/test/queue.tf.json").write_text(json.dumps(fragment))
    spec = load_spec(spec_file)
    rel = f"stacks/{STACK}/cdk.tf.json"
    tree = {rel: (ROOT / "generated" / rel).read_bytes(), **render_products(spec), **render_bootstrap(spec)}
    write_tree(customize.apply(tree, customize.load_all(spec)), tmp_path / "generated")
    return spec_file


def needs_tools(*names: str) -> None:
    from mlgov.review import iam

    if "iam" in names and (reason := iam.unavailable()):
        pytest.skip(reason)
    if "checkov" in names and gates.checkov_command() is None:
        pytest.skip("checkov is not installed (scripts/bootstrap installs it in .venv-checkov)")
    if "cfn-lint" in names and gates.cfn_lint_command() is None:
        pytest.skip("cfn-lint is not installed (the test extra)")


def summary(stderr: str) -> dict[str, str]:
    return {line.split(": ", 1)[0]: line.split(": ", 1)[1] for line in stderr.splitlines()}


@pytest.mark.slow  # node, cfn-lint, checkov
def test_a_clean_tree_passes_every_gate_with_one_summary_line_each(tmp_path):
    needs_tools("iam", "cfn-lint", "checkov")
    spec_file = platform(tmp_path)
    result = CliRunner().invoke(cli, ["check", str(spec_file)])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    lines = summary(result.stderr)
    assert list(lines) == ["iam", "cfn-lint", "checkov"], result.stderr
    assert lines["iam"].endswith(" 0 unexplained"), lines
    templates = len(gates.product_templates(tmp_path / "generated"))
    bootstrap = len(gates.bootstrap_files(tmp_path / "generated", "cloudformation"))
    assert bootstrap == 2, "the bootstrap's two templates are linted"
    assert lines["cfn-lint"] == f"{templates} product templates, {bootstrap} bootstrap templates, 0 finding(s)", lines
    assert lines["checkov"].endswith(", 0 unexplained") and not lines["checkov"].startswith("0 skipped"), lines


@pytest.mark.slow  # cfn-lint
def test_an_own_template_cfn_lint_fails_is_exit_1_naming_the_file_and_rule(tmp_path):
    needs_tools("cfn-lint")
    spec_file = platform(tmp_path, template=LINT_ERROR_TEMPLATE)
    result = CliRunner().invoke(cli, ["check", str(spec_file), "--skip", "iam", "--skip", "checkov"])
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert lines, result.output
    assert all(line.startswith("products/ml-admin/team-bucket/v1.yaml:") for line in lines), lines
    assert any(": cfn-lint E3002: " in line and "KmsMasterKeyIdz" in line for line in lines), lines
    templates = len(gates.product_templates(tmp_path / "generated"))
    assert summary(result.stderr) == {
        "iam": "skipped (--skip iam)",
        "cfn-lint": f"{templates} product templates, 2 bootstrap templates, {len(lines)} finding(s)",
        "checkov": "skipped (--skip checkov)",
    }


@pytest.mark.slow  # checkov
def test_a_customization_checkov_fails_is_exit_1_naming_the_file_and_rule(tmp_path):
    needs_tools("checkov")
    spec_file = platform(tmp_path, fragment=UNENCRYPTED_QUEUE)
    result = CliRunner().invoke(cli, ["check", str(spec_file), "--skip", "iam", "--skip", "cfn-lint"])
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert lines and all(line.startswith(f"stacks/{STACK}/cdk.tf.json: checkov CKV") for line in lines), lines
    # (checkov 3.3.30 names a Terraform JSON resource `resource.<name>`, as the skip list's globs do)
    assert f"stacks/{STACK}/cdk.tf.json: checkov CKV_AWS_27 resource.acme_jobs: " in result.stdout, lines
    assert all("resource.acme_jobs" in line for line in lines), lines  # mlgov's own resources: skipped
    assert summary(result.stderr)["checkov"].endswith(f", {len(lines)} unexplained"), result.stderr


def test_missing_checkov_is_one_line_and_exit_3_unless_skipped(tmp_path, monkeypatch):
    # GIVEN no checkov anywhere: not on PATH, no $MLGOV_CHECKOV, no .venv-checkov of a checkout
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.delenv(gates.CHECKOV_ENV, raising=False)
    monkeypatch.setattr(gates, "CHECKOUT", tmp_path / "no-checkout")
    spec_file = platform(tmp_path)
    # WHEN checked THEN one line, exit 3, before any gate ran
    result = CliRunner().invoke(cli, ["check", str(spec_file), "--skip", "iam", "--skip", "cfn-lint"])
    assert result.exit_code == 3, result.output
    assert result.output.splitlines() == [
        f"error: checkov not found (${gates.CHECKOV_ENV} or PATH); install checkov=={gates.CHECKOV_VERSION} "
        "(its own venv) (or `--skip checkov`)"
    ]
    # AND a --checkov path that is not there is the same line naming it
    result = CliRunner().invoke(cli, ["check", str(spec_file), "--checkov", str(tmp_path / "nope"), "--skip", "iam"])
    assert result.exit_code == 3, result.output
    (line,) = result.output.splitlines()
    assert line.startswith(f"error: checkov not found ({tmp_path / 'nope'}); "), line
    # AND skipping it explicitly is said in its summary line
    result = CliRunner().invoke(
        cli, ["check", str(spec_file), "--skip", "iam", "--skip", "cfn-lint", "--skip", "checkov"]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert summary(result.stderr) == {
        "iam": "skipped (--skip iam)",
        "cfn-lint": "skipped (--skip cfn-lint)",
        "checkov": "skipped (--skip checkov)",
    }


def test_checkov_pin_is_the_bootstrapped_one_and_cfn_lint_pin_the_extras():
    import tomllib

    bootstrap = (ROOT / "scripts/bootstrap").read_text()
    assert f"CHECKOV_VERSION={gates.CHECKOV_VERSION}\n" in bootstrap
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for extra in ("test", "check"):
        assert f"cfn-lint=={gates.CFN_LINT_VERSION}" in extras[extra], extra


def test_the_pipelines_install_the_iam_packages_package_json_pins():
    from mlgov.platform import workflows

    pins = json.loads((ROOT / "package.json").read_text())["devDependencies"]
    assert {name: pins[name] for name in workflows.IAM_PACKAGES} == workflows.IAM_PACKAGES
    from mlgov.review import iam

    assert sorted(workflows.IAM_PACKAGES) == sorted(iam.PACKAGES)
