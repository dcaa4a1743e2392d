"""The built wheel works on its own: installed into a fresh venv outside the checkout, its
``mlgov`` console script validates and synthesizes a spec in another directory, byte for byte
what the checkout commits in ``generated/``.

GIVEN a wheel built from this checkout
WHEN it is installed (without dependencies) into a venv under tmp_path whose only view of the
     dependencies is the project venv's site-packages (a ``.pth`` line: no pip download, and the
     editable install of the checkout there stays inactive, because ``.pth`` files inside a path
     added that way are not processed)
THEN ``mlgov`` imports from that venv, finds its templates and Node hooks as package data, and
     installs nothing but ``mlgov`` at the top level of site-packages.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from mlgov.platform.seed import seed_tree
from mlgov.synth.outdir import with_marker
from mlgov.synth.tree import read_tree

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow
# What the build reads (pyproject.toml's readme, license-files, packages and package data).
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "mlgov", "modules", "templates", "seed")


def _setuptools_builds_here() -> bool:
    """Whether this interpreter's setuptools meets ``[build-system] requires`` (then the wheel
    builds without an isolated build environment, i.e. offline)."""
    try:
        import setuptools
    except ImportError:
        return False
    return int(setuptools.__version__.split(".")[0]) >= 77


# Nothing of the checkout on the path (pytest's pythonpath, a PYTHONPATH=$PWD in the shell).
CLEAN_ENV = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"}}


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = CLEAN_ENV if env is None else env
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(wheel path, venv directory, environment) of mlgov built and installed outside the checkout."""
    base = tmp_path_factory.mktemp("packaging")
    # pip builds in the source tree (egg-info, build/): build a copy, the checkout stays clean.
    source = base / "source"
    source.mkdir()
    for name in SOURCES:
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy2
        kwargs = {"symlinks": True, "ignore": shutil.ignore_patterns("__pycache__")} if copy is shutil.copytree else {}
        copy(ROOT / name, source / name, **kwargs)
    wheels = base / "wheels"
    build = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--disable-pip-version-check"]
    if _setuptools_builds_here():
        build.append("--no-build-isolation")
    done = _run([*build, "--wheel-dir", str(wheels), str(source)], cwd=base)
    assert done.returncode == 0, done.stderr
    (wheel,) = wheels.glob("mlgov-*.whl")

    venv = base / "venv"
    done = _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=base)
    assert done.returncode == 0, done.stderr
    python = venv / "bin" / "python"
    site = Path(
        _run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], cwd=base).stdout.strip()
    )
    done = _run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--disable-pip-version-check",
            str(wheel),
        ],
        cwd=base,
    )
    assert done.returncode == 0, done.stderr
    # Only now (pip would take the project venv's editable mlgov for an installed one): the
    # dependencies, read from the project venv after the new venv's own site-packages.
    (site / "zz-project-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    env = dict(CLEAN_ENV)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return wheel, venv, site, env


def test_wheel_carries_templates_and_node_hooks(installed):
    wheel = installed[0]
    names = set(zipfile.ZipFile(wheel).namelist())
    for pattern, folder, into in (
        ("*.j2", ROOT / "templates", "mlgov/templates"),
        ("*.js", ROOT / "mlgov" / "synth" / "node", "mlgov/synth/node"),
        ("*.js", ROOT / "mlgov" / "review" / "node", "mlgov/review/node"),
        ("*", ROOT / "seed" / "model-build", "mlgov/seed/model-build"),
    ):
        # rglob: templates in subfolders (governance/) are package data too.
        expected = {
            f"{into}/{path.relative_to(folder).as_posix()}"
            for path in folder.rglob(pattern)
            if path.is_file() and "__pycache__" not in path.parts
        }
        assert expected, f"nothing matches {pattern} under {folder}"
        assert expected <= names, sorted(expected - names)
    assert any(n.startswith("mlgov/templates/") and n.endswith(".yaml.j2") for n in names)
    assert any(n.startswith("mlgov/synth/node/") and n.endswith(".js") for n in names)
    assert any(n.startswith("mlgov/review/node/") and n.endswith(".js") for n in names)
    # The symlinks mlgov/modules and mlgov/templates land as real files.
    constructs = {p.name for p in (ROOT / "modules").glob("*.py")}
    assert {f"mlgov/modules/{name}" for name in constructs} <= names
    assert not any(n.startswith("modules/") for n in names)


def test_nothing_but_mlgov_at_the_top_of_site_packages(installed):
    site = installed[2]
    assert not (site / "modules").exists()
    top_level = next(site.glob("mlgov-*.dist-info")) / "top_level.txt"
    assert top_level.read_text().split() == ["mlgov"]


def test_console_script_validates_and_synthesizes_elsewhere(installed, tmp_path):
    _, venv, _, env = installed
    mlgov = str(venv / "bin" / "mlgov")
    (tmp_path / "spec.yaml").write_bytes((ROOT / "org.yaml").read_bytes())

    where = _run([str(venv / "bin" / "python"), "-c", "import mlgov; print(mlgov.__file__)"], tmp_path, env)
    assert Path(where.stdout.strip()).is_relative_to(venv), where.stdout + where.stderr

    done = _run([mlgov, "validate", "spec.yaml"], tmp_path, env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("spec.yaml: valid")

    # The seed comes from the package data: the same files the checkout's `mlgov seed` writes.
    done = _run([mlgov, "seed", "repo"], tmp_path, env)
    assert done.returncode == 0, done.stderr
    assert read_tree(tmp_path / "repo") == with_marker(seed_tree())

    done = _run([mlgov, "synth", "spec.yaml", "--out", "out"], tmp_path, env)
    assert done.returncode == 0, done.stderr
    assert "warning" not in done.stderr, done.stderr  # e.g. the lazy Node hook not found
    produced, committed = read_tree(tmp_path / "out"), read_tree(ROOT / "generated")
    assert sorted(produced) == sorted(committed)
    assert [p for p in committed if produced[p] != committed[p]] == []

    # Drift: the message tells the user what to run under the name they ran.
    stack = next(p for p in produced if p.endswith("cdk.tf.json"))
    (tmp_path / "out" / stack).write_text("{}\n")
    done = _run([mlgov, "synth", "spec.yaml", "--out", "out", "--check"], tmp_path, env)
    assert done.returncode == 1, done.stderr
    assert "run `mlgov synth`" in done.stderr, done.stderr
