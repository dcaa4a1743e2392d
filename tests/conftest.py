"""Shared fixtures. Synthesis (which imports the ~2,100-module AWS provider) runs once per
session; every test reads the same in-memory tree."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from mlgov.synth import provider_loader
from mlgov.synth.stacks import prepare_runtime

prepare_runtime()
# Before any test module imports modules.*: load only the provider submodules that are used.
provider_loader.install()

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "tests" / "cases"
ON_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_tool(name: str) -> str:
    """Path of an external tool; on CI its absence FAILS the test, locally it skips visibly."""
    found = shutil.which(name)
    if found:
        return found
    message = f"{name} is not installed"
    if ON_CI:
        pytest.fail(f"{message} (required on CI)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def default_spec():
    from mlgov.validation import load_spec

    return load_spec(ROOT / "org.yaml")


@pytest.fixture(scope="session")
def rendered(default_spec):
    """(tree, summaries) for the default spec, rendered once."""
    from mlgov.synth.tree import render

    return render(default_spec)


@pytest.fixture(scope="session")
def tree(rendered):
    return rendered[0]


@pytest.fixture(scope="session")
def stacks(tree):
    """Synthesized stacks of the default spec: {stack name: parsed cdk.tf.json}."""
    return {
        path.split("/")[1]: json.loads(data)
        for path, data in tree.items()
        if path.startswith("stacks/") and path.endswith("/cdk.tf.json")
    }


@pytest.fixture(scope="session")
def render_spec():
    """Render any spec (a path or YAML text) in this process; the provider is already loaded."""
    from mlgov.spec.located import load_yaml
    from mlgov.synth.tree import render
    from mlgov.validation import load_spec, parse_spec

    def _render(spec_or_text, name="<test>"):
        spec = load_spec(spec_or_text) if isinstance(spec_or_text, Path) else parse_spec(load_yaml(spec_or_text, name))
        return render(spec)[0]

    return _render


@pytest.fixture(scope="session")
def example_tree(render_spec):
    """The rendered tree of an ``examples/*.yaml`` spec, rendered once per session."""
    trees: dict[Path, dict] = {}

    def _tree(path: Path) -> dict:
        if path not in trees:
            trees[path] = render_spec(path)
        return trees[path]

    return _tree


@pytest.fixture(scope="session")
def tf_cli_config(tmp_path_factory):
    """Terraform CLI config pointing at the local provider mirror, with a shared plugin cache."""
    from mlgov.errors import MlgovError
    from mlgov.review import terraform

    require_tool(os.environ.get("MLGOV_TERRAFORM", "terraform"))
    try:
        terraform.find_mirror()
    except MlgovError as exc:
        if ON_CI:
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    base = tmp_path_factory.mktemp("terraform")
    return terraform.write_cli_config(base / "config", base / "plugin-cache")


GENERATED_STACKS = ROOT / "generated" / "stacks"


@pytest.fixture(scope="session")
def default_plans(tf_cli_config, tmp_path_factory):
    """ONE offline plan of every committed default stack, through ``mlgov plan --offline``
    (init, plan, show -json per stack, two at a time), shared by test_terraform, test_plan and
    test_checkov: each of them used to init and plan all six stacks on its own.

    Returns a namespace: ``result`` (the CLI result), ``out`` (the plan directory: one
    initialized workspace per stack), ``cli_config`` (the terraform config those workspaces
    use), ``stacks`` (names), ``plans`` ({stack: parsed plan JSON}), ``before`` ({stack:
    cdk.tf.json bytes before planning}).
    """
    from click.testing import CliRunner

    from mlgov.cli import cli
    from mlgov.review import plan as planning

    stacks = sorted(p.name for p in GENERATED_STACKS.iterdir() if (p / "cdk.tf.json").is_file())
    before = {name: (GENERATED_STACKS / name / "cdk.tf.json").read_bytes() for name in stacks}
    out = tmp_path_factory.mktemp("default-plans") / "plans"
    args = ["plan", "--offline", "--jobs", "2", "--out", str(out), "--stacks-dir", str(GENERATED_STACKS)]
    result = CliRunner().invoke(cli, args)
    plans = {
        name: json.loads((out / name / planning.PLAN_JSON).read_text())
        for name in stacks
        if (out / name / planning.PLAN_JSON).is_file()
    }
    return SimpleNamespace(
        result=result,
        out=out,
        cli_config=out / ".terraform-config" / "terraformrc",
        stacks=stacks,
        plans=plans,
        before=before,
    )
