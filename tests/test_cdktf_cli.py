"""The real cdktf CLI (npm cdktf-cli@0.21.0, installed by scripts/bootstrap with `npm ci`)
run in a copy of the repository: `cdktf synth` must produce the very stacks `python main.py
synth` produces, and `cdktf list` must list them."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from mlgov.synth.tree import read_tree
from tests.conftest import ON_CI, ROOT

CDKTF = ROOT / "node_modules" / ".bin" / "cdktf"
# org.yaml is copied as the link it is (to mlgov/org.yaml), so the copy is a checkout like this one.
COPIED = ("main.py", "cdktf.json", "org.yaml", "pyproject.toml", "mlgov")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def repo_copy(tmp_path_factory, tf_cli_config):
    if not CDKTF.exists():
        message = "cdktf-cli is not installed (run scripts/bootstrap: npm ci)"
        if ON_CI:
            pytest.fail(message)
        pytest.skip(message)
    copy = tmp_path_factory.mktemp("cdktf-repo")
    for name in COPIED:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif src.exists():
            shutil.copy2(src, copy / name, follow_symlinks=False)
    (copy / ".venv").symlink_to((ROOT / ".venv").resolve())
    env = dict(os.environ)
    env.update(
        CHECKPOINT_DISABLE="1",
        CI="1",
        FORCE_COLOR="0",
        NO_COLOR="1",
        TF_CLI_CONFIG_FILE=str(tf_cli_config),
        DISABLE_VERSION_CHECK="1",
    )
    return copy, env


def _cdktf(copy, env, *args):
    return subprocess.run([str(CDKTF), *args], cwd=copy, env=env, capture_output=True, text=True, timeout=900)


def test_cdktf_synth_matches_python_synth_and_list_names_every_stack(repo_copy, tree):
    copy, env = repo_copy
    # WHEN the real cdktf CLI synthesizes (cdktf.json's app, output dir chosen by the CLI)
    synth = _cdktf(copy, env, "synth", "--output", "cdktf.out")
    assert synth.returncode == 0, synth.stdout + synth.stderr
    # THEN the output dir holds byte for byte what `python main.py synth` renders
    produced = read_tree(copy / "cdktf.out")
    assert produced == tree, sorted(set(produced) ^ set(tree)) or [k for k in tree if produced[k] != tree[k]]
    # AND `cdktf list` names every stack with its directory
    listed = _cdktf(copy, env, "list", "--output", "cdktf.out")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    stacks = sorted(p.split("/")[1] for p in tree if p.startswith("stacks/") and p.endswith("/cdk.tf.json"))
    rows = re.findall(r"^(\S+)\s+(\S*stacks/\S+)\s*$", re.sub(r"\x1b\[[0-9;]*m", "", listed.stdout), re.M)
    assert sorted(name for name, _ in rows) == stacks, listed.stdout
    for name, path in rows:
        assert path.endswith(f"stacks/{name}")


def test_cdktf_synth_into_a_foreign_directory_touches_nothing(repo_copy):
    # GIVEN an output directory holding somebody's files and a .git/ (like `--output <repo>`)
    copy, env = repo_copy
    target = copy / "someone-elses"
    (target / ".git").mkdir(parents=True)
    (target / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (target / "important.txt").write_text("do not lose me\n")
    (target / "stacks" / "theirs").mkdir(parents=True)
    (target / "stacks" / "theirs" / "main.tf").write_text("# theirs\n")
    before = read_tree(target)
    # WHEN the real cdktf CLI runs the app (which gets CDKTF_OUTDIR=target)
    synth = _cdktf(copy, env, "synth", "--output", str(target))
    # THEN the app refused with its one line, cdktf failed, and every file is still there
    assert synth.returncode != 0
    assert f"error: refusing to write into {target}: it holds files mlgov did not write" in synth.stdout + synth.stderr
    assert read_tree(target) == before
