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

import json
import os
import shutil
import stat
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
import yaml

from mlgov.platform.seed import seed_tree
from mlgov.synth.outdir import with_marker
from mlgov.synth.tree import read_tree

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow
# What the build reads (pyproject.toml's readme, license-files, packages and package data).
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "mlgov")


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
        ("*.j2", ROOT / "mlgov" / "templates", "mlgov/templates"),
        ("*.js", ROOT / "mlgov" / "synth" / "node", "mlgov/synth/node"),
        ("*.js", ROOT / "mlgov" / "review" / "node", "mlgov/review/node"),
        ("*", ROOT / "mlgov" / "seed" / "model-build", "mlgov/seed/model-build"),
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
    # The constructs, the reviews' files, the default spec and the examples ship inside mlgov.
    constructs = {p.name for p in (ROOT / "mlgov" / "modules").glob("*.py")}
    assert {f"mlgov/modules/{name}" for name in constructs} <= names
    shipped = [*(ROOT / "mlgov" / "security").glob("*.yaml"), *(ROOT / "mlgov" / "examples").glob("*.yaml")]
    assert len(shipped) > 2 and {p.relative_to(ROOT).as_posix() for p in shipped} <= names
    assert "mlgov/org.yaml" in names
    assert not any(n.startswith(("modules/", "templates/", "seed/", "security/", "examples/")) for n in names)


def test_no_link_inside_the_package():
    """The package holds plain files and folders only: import-based tools (import-linter) and the
    wheel see the real layout, and the checkout's org.yaml is the link (to mlgov/org.yaml), never
    the other way round."""
    links = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "mlgov").rglob("*") if p.is_symlink())
    assert links == []
    assert (ROOT / "org.yaml").resolve() == (ROOT / "mlgov" / "org.yaml").resolve()


def test_the_wheel_holds_no_link(installed):
    # A zip entry's external attributes carry the Unix mode in the high 16 bits; S_IFLNK is a link.
    wheel = installed[0]
    links = [i.filename for i in zipfile.ZipFile(wheel).infolist() if stat.S_ISLNK(i.external_attr >> 16)]
    assert links == []


def test_nothing_but_mlgov_at_the_top_of_site_packages(installed):
    site = installed[2]
    assert not (site / "modules").exists()
    top_level = next(site.glob("mlgov-*.dist-info")) / "top_level.txt"
    assert top_level.read_text().split() == ["mlgov"]


def test_console_script_validates_and_synthesizes_elsewhere(installed, tmp_path):
    _, venv, _, env = installed
    mlgov = str(venv / "bin" / "mlgov")
    # Named as in the checkout: the generated pipelines pass the spec's file name.
    (tmp_path / "org.yaml").write_bytes((ROOT / "org.yaml").read_bytes())

    where = _run([str(venv / "bin" / "python"), "-c", "import mlgov; print(mlgov.__file__)"], tmp_path, env)
    assert Path(where.stdout.strip()).is_relative_to(venv), where.stdout + where.stderr

    done = _run([mlgov, "validate", "org.yaml"], tmp_path, env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("org.yaml: valid")

    # The seed comes from the package data: the same files the checkout's `mlgov seed` writes.
    done = _run([mlgov, "seed", "repo"], tmp_path, env)
    assert done.returncode == 0, done.stderr
    assert read_tree(tmp_path / "repo") == with_marker(seed_tree())

    done = _run([mlgov, "synth", "org.yaml", "--out", "out"], tmp_path, env)
    assert done.returncode == 0, done.stderr
    assert "warning" not in done.stderr, done.stderr  # e.g. the lazy Node hook not found
    produced, committed = read_tree(tmp_path / "out"), read_tree(ROOT / "generated")
    assert sorted(produced) == sorted(committed)
    assert [p for p in committed if produced[p] != committed[p]] == []

    # Drift: the message tells the user what to run under the name they ran.
    stack = next(p for p in produced if p.endswith("cdk.tf.json"))
    (tmp_path / "out" / stack).write_text("{}\n")
    done = _run([mlgov, "synth", "org.yaml", "--out", "out", "--check"], tmp_path, env)
    assert done.returncode == 1, done.stderr
    assert "run `mlgov synth`" in done.stderr, done.stderr


OWN_PRODUCT = """\
        team-bucket:
          display_name: Team bucket
          description: An encrypted bucket of the platform team's own design.
          template: team-bucket
          owner: Acme ML Platform
          versions:
            - name: v1
              description: First release.
"""
OWN_TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Description: {{ description | quote }}
Resources:
  OwnTeamBucket:
    Type: AWS::S3::Bucket
    Properties:
      BucketEncryption:
        ServerSideEncryptionConfiguration:
          - ServerSideEncryptionByDefault:
              SSEAlgorithm: aws:kms
      VersioningConfiguration:
        Status: Enabled
      PublicAccessBlockConfiguration:
        BlockPublicAcls: true
        BlockPublicPolicy: true
        IgnorePublicAcls: true
        RestrictPublicBuckets: true
"""
# `mlgov check`'s tools as the checkout has them (the pipelines' install step needs the network).
REVIEW_STEP = "The review gates (IAM review, cfn-lint, checkov)"
REVIEW_TOOLS = {
    "MLGOV_CHECKOV": str(ROOT / ".venv-checkov/bin/checkov"),
    "MLGOV_NODE_MODULES": str(ROOT / "node_modules"),
}


def _bash(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """One pipeline step's ``run`` text, as the runners run it (bash, errexit, pipefail)."""
    return _run(["bash", "-eo", "pipefail", "-c", script], cwd, env)


def test_init_an_own_template_and_the_generated_pipelines_steps_in_a_user_repo(installed, tmp_path):
    """GIVEN the installed wheel WHEN `mlgov init` makes a repository, an own product template is
    added beside the spec and synthesized THEN the GitHub and GitLab pipelines' own shell steps
    (install pinned to this version, synth --check, affected) pass there with CI variables stubbed."""
    _, venv, _, env = installed
    mlgov = str(venv / "bin" / "mlgov")
    repo = tmp_path / "platform"
    done = _run([mlgov, "init", str(repo), "--example", "contoso-vision", "--spec-name", "acme.yaml"], tmp_path, env)
    assert done.returncode == 0, done.stderr
    # An own product, its template beside the spec (not in the installed package).
    spec = repo / "acme.yaml"
    text = spec.read_text()
    anchor = "\n      products:\n"  # the first portfolio's
    assert anchor in text
    spec.write_text(text.replace(anchor, anchor + OWN_PRODUCT, 1))
    (repo / "templates").mkdir()
    (repo / "templates" / "team-bucket.yaml.j2").write_text(OWN_TEMPLATE)
    # An own SCP on the root, and a customization of every dev stack.
    (repo / "scps" / "root").mkdir(parents=True)
    deny = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Action": "sagemaker:CreateHub", "Resource": "*"}],
    }
    (repo / "scps" / "root" / "deny-hubs.json").write_text(json.dumps(deny))
    (repo / "customizations" / "layers" / "dev").mkdir(parents=True)
    # SecureString with the stack's key: `mlgov check` runs checkov (CKV2_AWS_34, CKV_AWS_337)
    parameter = {
        "name": "/acme/cost-centre",
        "type": "SecureString",
        "value": "ml-42",
        "key_id": "${aws_kms_key.platform.arn}",
    }
    (repo / "customizations" / "layers" / "dev" / "cost.tf.json").write_text(
        json.dumps({"resource": {"aws_ssm_parameter": {"acme_cost_centre": parameter}}})
    )
    done = _run([mlgov, "synth"], repo, env)  # the spec from cdktf.json
    assert done.returncode == 0, done.stderr
    stacks = {p.parent.name: json.loads(p.read_text()) for p in (repo / "generated" / "stacks").glob("*/cdk.tf.json")}
    scps = [
        s["resource"]["aws_organizations_policy"]
        for s in stacks.values()
        if "aws_organizations_policy" in s.get("resource", {})
    ]
    assert [json.loads(p["own_deny_hubs"]["content"]) for p in scps] == [deny]
    customized = sorted(
        n for n, s in stacks.items() if "acme_cost_centre" in s["resource"].get("aws_ssm_parameter", {})
    )
    accounts = yaml.safe_load(spec.read_text())["accounts"]
    assert customized == sorted(k for k, a in accounts.items() if a["layer"] == "dev"), customized
    assert "stack " in done.stderr  # progress, per stack
    product = repo / "generated" / "products"
    (own,) = product.glob("*/team-bucket/v1.yaml")
    assert "OwnTeamBucket:" in own.read_text()
    assert not (venv / "lib").joinpath("team-bucket.yaml.j2").exists()
    for git in (
        ["init", "-q", "-b", "main"],
        ["add", "."],
        ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init"],
    ):
        assert _run(["git", *git], repo, env).returncode == 0
    base = _run(["git", "rev-parse", "HEAD"], repo, env).stdout.strip()

    # The pipelines name the spec themselves: they must not depend on cdktf.json.
    (repo / "cdktf.json").unlink()
    # GitHub: the `affected` job's run steps, with the runner's files and variables stubbed.
    workflow = yaml.safe_load((repo / ".github/workflows/mlgov-plan-apply.yml").read_text())
    assert (repo / ".github/workflows/mlgov-plan-apply.yml").read_bytes() == (
        repo / "generated/ci/github/mlgov-plan-apply.yml"
    ).read_bytes()
    version = _run([str(venv / "bin" / "python"), "-c", "import mlgov; print(mlgov.__version__)"], repo, env).stdout
    steps = workflow["jobs"]["affected"]["steps"]
    install = next(s for s in steps if s.get("name") == "Install mlgov")
    # Installing from an index is the one step not run here (offline); it pins what is installed.
    assert install["run"] == f'python -m pip install --disable-pip-version-check "mlgov=={version.strip()}"'
    stub = dict(env, GITHUB_OUTPUT=str(tmp_path / "gh-output"), GITHUB_STEP_SUMMARY=str(tmp_path / "gh-summary"))
    tools = next(s for s in steps if s.get("name", "").startswith("Install the review tools"))
    assert '"checkov==' in tools["run"] and '"cfn-lint==' in tools["run"], tools
    ran = 0
    for step in steps:
        if "run" not in step or step is install or step is tools:
            continue
        step_env = {k: (base if "sha" in v else REVIEW_TOOLS.get(k, v)) for k, v in step.get("env", {}).items()}
        done = _bash(step["run"], repo, dict(stub, **step_env))
        assert done.returncode == 0, (step.get("name"), done.stdout, done.stderr)
        ran += 1
    assert ran == 3  # synth --check, check (IAM review, cfn-lint, checkov), affected
    assert "stacks=[]" in (tmp_path / "gh-output").read_text()  # nothing changed since the base

    # GitLab: the parent's select job (its before_script pins the same version). Its first lines
    # are, word for word, the GitHub steps run above (synth --check, the review gates; neither
    # reads a CI variable): they are held equal, not run twice. The rest runs here.
    pipeline = yaml.safe_load((repo / "generated/ci/gitlab/mlgov-plan-apply.gitlab-ci.yml").read_text())
    assert pipeline["default"]["before_script"] == [install["run"]]
    lines = pipeline["mlgov-affected"]["script"]
    ran_on_github = [s["run"].strip() for s in steps if s.get("name") in ("generated/ matches the spec", REVIEW_STEP)]
    assert lines[: len(ran_on_github)] == ran_on_github and len(ran_on_github) == 2, (lines, ran_on_github)
    script = "\n".join(lines[len(ran_on_github) :])
    assert set(pipeline["mlgov-affected"]["variables"]) == set(REVIEW_TOOLS)
    stub = dict(env, CI_MERGE_REQUEST_DIFF_BASE_SHA=base, CI_COMMIT_BEFORE_SHA=base, **REVIEW_TOOLS)
    done = _bash(script, repo, stub)
    assert done.returncode == 0, done.stderr
    assert yaml.safe_load((repo / "mlgov-child-pipeline.yml").read_text())["stages"] == ["summary"]

    # A stale generated/ fails the first step, telling the user what to run.
    spec.write_text(spec.read_text().replace("description: First release.", "description: First release!", 1))
    check = next(s for s in steps if s.get("name") == "generated/ matches the spec")
    done = _bash(check["run"], repo, env)
    assert done.returncode == 1 and "run `mlgov synth`" in done.stderr, done.stderr
