"""The generated CI pipelines: current with the spec, accepted by actionlint and by GitLab's
CI schema, and shaped as documented (matrix over affected stacks, ranks in order, OIDC only).

actionlint comes from the `test` extra (a PyPI wheel that ships the binary); GitLab's and
GitHub's JSON schemas come with check-jsonschema (also in the `test` extra). Each validator is
first shown to reject a deliberately broken copy, so a green run means it really looked.
"""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mlgov.platform import workflows
from tests.conftest import require_tool

SELECTION = {
    "commit": "0" * 40,
    "stacks": [
        {
            "name": "ml-shared-services",
            "rank": 1,
            "destroy": False,
            "region": "eu-west-1",
            "role_arn": "arn:aws:iam::220000000002:role/mlgov-terraform",
            "account_id": "220000000002",
        },
        {
            "name": "ml-dev-churn",
            "rank": 2,
            "destroy": False,
            "region": "eu-west-1",
            "role_arn": "arn:aws:iam::330000000004:role/mlgov-terraform",
            "account_id": "330000000004",
        },
        {
            "name": "ml-dev-gone",
            "rank": 2,
            "destroy": True,
            "region": "eu-west-1",
            "role_arn": "arn:aws:iam::330000000009:role/mlgov-terraform",
            "account_id": "330000000009",
        },
    ],
}


def tool(name: str) -> str:
    """A tool installed beside this interpreter (the venv's bin/), else on PATH."""
    beside = Path(sys.executable).with_name(name)
    return str(beside) if beside.exists() else require_tool(name)


def run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def github(tree) -> dict:
    return yaml.safe_load(tree[workflows.GITHUB_PATH])


def test_synth_renders_both_pipelines(tree, default_spec) -> None:
    assert workflows.render_workflows(default_spec) == {
        workflows.GITHUB_PATH: tree[workflows.GITHUB_PATH],
        workflows.GITLAB_PATH: tree[workflows.GITLAB_PATH],
    }
    committed = Path(__file__).resolve().parent.parent / "generated"
    for rel in (workflows.GITHUB_PATH, workflows.GITLAB_PATH):
        assert (committed / rel).read_bytes() == tree[rel], f"generated/{rel} is stale: run synth"


@pytest.mark.slow  # starts actionlint
def test_actionlint_accepts_the_workflow_and_rejects_a_broken_copy(tree, tmp_path: Path) -> None:
    actionlint = tool("actionlint")
    good = tmp_path / "good.yml"
    good.write_bytes(tree[workflows.GITHUB_PATH])
    result = run([actionlint, "-no-color", str(good)])
    assert result.returncode == 0, result.stdout + result.stderr
    broken = tmp_path / "broken.yml"
    doc = yaml.safe_load(tree[workflows.GITHUB_PATH])
    doc["jobs"]["plan"]["needs"] = "no-such-job"
    doc["jobs"]["apply-rank-1"]["if"] = "${{ needs.affected.outputs.no_such_output != '[]' }}"
    broken.write_text(yaml.safe_dump(doc, sort_keys=False))
    result = run([actionlint, "-no-color", str(broken)])
    assert result.returncode == 1
    assert "no-such-job" in result.stdout and "no_such_output" in result.stdout


def _schema_check(schema: str, path: Path) -> subprocess.CompletedProcess[str]:
    return run([tool("check-jsonschema"), "--builtin-schema", schema, str(path)])


@pytest.mark.slow  # starts check-jsonschema
def test_gitlab_schema_accepts_parent_and_child_pipelines(tree, tmp_path: Path) -> None:
    files = {
        "parent.yml": tree[workflows.GITLAB_PATH].decode(),
        "child.yml": workflows.gitlab_child_yaml(SELECTION),
        "child-empty.yml": workflows.gitlab_child_yaml({"commit": "0" * 40, "stacks": []}),
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
        result = _schema_check("vendor.gitlab-ci", tmp_path / name)
        assert result.returncode == 0, f"{name}: {result.stdout}{result.stderr}"
    broken = yaml.safe_load(files["child.yml"])
    broken["mlgov-plan"]["parallel"] = {"matrix": "ml-dev-churn"}
    (tmp_path / "broken.yml").write_text(yaml.safe_dump(broken))
    assert _schema_check("vendor.gitlab-ci", tmp_path / "broken.yml").returncode == 1


@pytest.mark.slow  # starts check-jsonschema
def test_github_schema_accepts_the_workflow(tree, tmp_path: Path) -> None:
    (tmp_path / "wf.yml").write_bytes(tree[workflows.GITHUB_PATH])
    result = _schema_check("vendor.github-workflows", tmp_path / "wf.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_plan_is_a_matrix_over_the_affected_stacks(github) -> None:
    affected = github["jobs"]["affected"]
    script = next(s["run"] for s in affected["steps"] if s.get("id") == "affected")
    assert 'mlgov affected --since "$BASE_SHA" --format json' in script
    assert (
        "github.event.pull_request.base.sha"
        in next(s for s in affected["steps"] if s.get("id") == "affected")["env"]["BASE_SHA"]
    )
    plan = github["jobs"]["plan"]
    assert plan["strategy"]["matrix"]["include"] == "${{ fromJSON(needs.affected.outputs.stacks) }}"
    assert plan["concurrency"]["group"].startswith("mlgov-plan-${{ matrix.name }}")
    assert any('--stack "$STACK"' in s.get("run", "") for s in plan["steps"])


def test_applies_follow_the_manifest_ranks(github, default_spec) -> None:
    from mlgov.platform.manifest import manifest, stack_ranks

    ranks = sorted(set(stack_ranks(manifest(default_spec)).values()))
    applies = [name for name in github["jobs"] if name.startswith("apply-rank-")]
    assert applies == [f"apply-rank-{r}" for r in ranks]
    for earlier, later in itertools.pairwise(applies):
        assert github["jobs"][later]["needs"] == ["affected", earlier]
    for name in applies:
        job = github["jobs"][name]
        assert job["concurrency"] == {"group": "mlgov-apply-${{ matrix.name }}", "cancel-in-progress": False}
        assert "github.event_name == 'push'" in job["if"] and "!contains(needs.*.result, 'failure')" in job["if"]


def test_credentials_are_oidc_per_account_only(tree, github) -> None:
    assert github["permissions"] == {"contents": "read", "id-token": "write"}
    for name, job in github["jobs"].items():
        for step in job["steps"]:
            if step.get("uses", "").startswith("aws-actions/configure-aws-credentials"):
                assert step["with"]["role-to-assume"] == "${{ matrix.role_arn }}", name
    text = tree[workflows.GITHUB_PATH].decode() + tree[workflows.GITLAB_PATH].decode()
    text += workflows.gitlab_child_yaml(SELECTION)
    for secret in ("aws-access-key-id", "AWS_ACCESS_KEY_ID", "aws-secret-access-key", "secrets."):
        assert secret not in text


def test_summary_is_posted_once(github) -> None:
    posting = [
        (name, step)
        for name, job in github["jobs"].items()
        for step in job["steps"]
        if "gh pr comment" in step.get("run", "")
    ]
    assert [name for name, _ in posting] == ["summary"]
    assert github["jobs"]["summary"]["needs"] == ["affected", "plan"]
    assert "mlgov summarize --affected" in posting[0][1]["run"]


def test_gitlab_child_fans_out_by_rank() -> None:
    child = yaml.safe_load(workflows.gitlab_child_yaml(SELECTION))
    assert [m["STACK"] for m in child["mlgov-plan"]["parallel"]["matrix"]] == [
        "ml-shared-services",
        "ml-dev-churn",
        "ml-dev-gone",
    ]
    assert child["mlgov-plan"]["resource_group"] == "mlgov-plan-$STACK"
    assert child["mlgov-apply-rank-2"]["needs"] == ["mlgov-apply-rank-1"]
    assert "needs" not in child["mlgov-apply-rank-1"]
    assert child["mlgov-plan"]["id_tokens"]["MLGOV_OIDC_TOKEN"]["aud"] == "sts.amazonaws.com"
    empty = yaml.safe_load(workflows.gitlab_child_yaml({"stacks": []}))
    assert sorted(k for k in empty if k.startswith("mlgov-")) == ["mlgov-summary"]
    assert json.dumps(child) == json.dumps(yaml.safe_load(workflows.gitlab_child_yaml(SELECTION)))  # pure


def test_the_generated_tree_stays_free_of_absolute_paths(tree) -> None:
    text = tree[workflows.GITHUB_PATH].decode()
    assert "/work/" not in text and shutil.which("python") not in text
