"""The package layout holds: every module imports on its own, and the layer contracts bite.

The contracts themselves live in pyproject.toml (``[tool.importlinter]``) and run in CI via
``scripts/lint``; these tests prove that each module is importable in a fresh interpreter
(no import order hides a cycle) and that the layer contract fails on a copy that breaks it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _modules() -> list[str]:
    names = []
    files = [Path(d, f) for d, _, fs in os.walk(ROOT / "mlgov") for f in fs if f.endswith(".py")]
    # mlgov/seed is a team repository's content (package data), not a module of mlgov: its
    # scripts run in SageMaker's images and are checked by tests/test_seed.py.
    files = [path for path in files if not path.is_relative_to(ROOT / "mlgov" / "seed")]
    for path in sorted(files):
        rel = path.relative_to(ROOT).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        names.append(".".join(parts))
    return names


def test_the_module_list_covers_every_layer():
    names = set(_modules())
    for package in ("spec", "platform", "validation", "modules", "synth", "review", "cli", "functions"):
        assert f"mlgov.{package}" in names
    assert "mlgov.modules.app" in names  # the constructs, a plain package folder


# mlgov's third-party dependencies that start no process on import: the one interpreter below
# loads them before it forks a child per module, so each child pays only for mlgov's own modules
# (an mlgov import cycle still shows, as every mlgov module is imported first in its child).
# cdktf, constructs, jsii and the provider start the jsii Node kernel on import: a forked child
# could not share it, so each child that needs them starts its own, as every entry point does.
PRELOADED = ("yaml", "jinja2", "click", "pydantic", "boto3", "botocore.session", "botocore.client")

_FORK_EACH = """
import importlib, json, os, sys, traceback
for dependency in json.loads(sys.argv[1]):
    importlib.import_module(dependency)
assert not [m for m in sys.modules if m == "mlgov" or m.startswith("mlgov.")]
def child(name):
    try:
        if name.startswith("mlgov.modules"):
            # The constructs after the lazy provider loader, as every entry point imports them
            # (an eager provider import costs ~20 s per interpreter and proves nothing more).
            from mlgov.synth import provider_loader
            provider_loader.install()
        importlib.import_module(name)
    except BaseException:
        sys.stderr.write(name + ": " + traceback.format_exc().strip().splitlines()[-1] + "\\n")
        sys.stderr.flush()
        os._exit(1)
    os._exit(0)
names, running, failed = json.loads(sys.argv[2]), {}, []
while names or running:
    while names and len(running) < 2:
        name = names.pop(0)
        pid = os.fork()
        if pid == 0:
            child(name)
        running[pid] = name
    pid, status = os.wait()
    if status != 0:
        failed.append(running[pid])
    del running[pid]
print(json.dumps(sorted(failed)))
"""


def _import_each_in_its_own_process(names: list[str]) -> tuple[list[str], str]:
    """(modules that failed to import, their errors): one forked child per module, two at a time."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20")
    run = subprocess.run(
        [sys.executable, "-c", _FORK_EACH, json.dumps(PRELOADED), json.dumps(names)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    return json.loads(run.stdout), run.stderr


@pytest.mark.slow
def test_every_module_imports_on_its_own_in_a_fresh_process():
    failed, errors = _import_each_in_its_own_process(_modules())
    assert failed == [], errors


@pytest.mark.slow
def test_an_import_cycle_fails_in_its_own_process(tmp_path):
    # GIVEN a copy of the package where the spec model imports the CLI, which imports the model
    copy = tmp_path / "mlgov"
    shutil.copytree(ROOT / "mlgov", copy, ignore=shutil.ignore_patterns("__pycache__", "seed", "examples"))
    model = copy / "spec" / "model.py"
    model.write_text(
        model.read_text().replace(
            "from __future__ import annotations\n",
            "from __future__ import annotations\n\nfrom mlgov.cli import cli as _cycle\n",
            1,
        )
    )
    # WHEN the modules import one per process from the copy, THEN the cycle is named
    env_root = tmp_path
    names = ["mlgov.spec.model", "mlgov.platform.naming"]
    run = subprocess.run(
        [sys.executable, "-c", _FORK_EACH, json.dumps(PRELOADED), json.dumps(names)],
        cwd=env_root,
        env=dict(os.environ, PYTHONPATH=str(env_root)),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "mlgov.spec.model" in json.loads(run.stdout), run.stderr


@pytest.fixture(scope="module")
def lint_imports() -> Path:
    if not LINT_IMPORTS.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"import-linter is not installed ({LINT_IMPORTS}); scripts/bootstrap installs the lint extra")
        pytest.skip("import-linter not installed")
    return LINT_IMPORTS


def _copy(tmp_path: Path) -> Path:
    copy = tmp_path / "repo"
    copy.mkdir()
    shutil.copy(ROOT / "pyproject.toml", copy)
    shutil.copytree(ROOT / "mlgov", copy / "mlgov", ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def _lint(tool: Path, where: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(where))
    return subprocess.run([str(tool), "--no-cache"], cwd=where, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow  # starts lint-imports
def test_layer_contracts_hold_on_the_checkout(lint_imports, tmp_path):
    run = _lint(lint_imports, _copy(tmp_path))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "BROKEN" not in run.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("mlgov/modules/dev.py", "import mlgov.cli", "Layers"),  # a construct reaching up to the CLI
        ("mlgov/spec/model.py", "import mlgov.validation.checks", "Layers"),  # the old spec -> checks cycle
        ("mlgov/functions/promotion.py", "import mlgov.platform.naming", "promotion function"),
        ("mlgov/platform/naming.py", "import cdktf", "cdktf"),
    ],
)
@pytest.mark.slow  # starts lint-imports
def test_layer_contracts_fail_on_a_broken_copy(lint_imports, tmp_path, module, line, broken):
    copy = _copy(tmp_path)
    target = copy / module
    target.write_text(target.read_text() + f"\n{line}  # deliberately broken\n")
    run = _lint(lint_imports, copy)
    assert run.returncode != 0
    assert any(broken in row and "BROKEN" in row for row in run.stdout.splitlines()), run.stdout
