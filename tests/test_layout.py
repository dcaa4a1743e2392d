"""The package layout holds: every module imports on its own, and the layer contracts bite.

The contracts themselves live in pyproject.toml (``[tool.importlinter]``) and run in CI via
``scripts/lint``; these tests prove that each module is importable in a fresh interpreter
(no import order hides a cycle) and that the layer contract fails on a copy that breaks it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
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


def _import_statement(name: str) -> str:
    """``import name``; the constructs after the lazy provider loader, as every entry point
    imports them (an eager provider import costs ~20 s per interpreter and proves nothing more)."""
    if name.startswith("mlgov.modules"):
        return f"from mlgov.synth import provider_loader; provider_loader.install(); import {name}"
    return f"import {name}"


@pytest.mark.slow
def test_every_module_imports_on_its_own_in_a_fresh_interpreter():
    env = dict(os.environ, PYTHONPATH=str(ROOT), JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20")

    def fresh_import(name: str) -> tuple[str, int, str]:
        run = subprocess.run(
            [sys.executable, "-c", _import_statement(name)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        return name, run.returncode, run.stderr.strip().splitlines()[-1:]

    with ThreadPoolExecutor(max_workers=2) as pool:
        failed = [(n, err) for n, code, err in pool.map(fresh_import, _modules()) if code != 0]
    assert failed == []


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
