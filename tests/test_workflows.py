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
            "plan_role_arn": "arn:aws:iam::220000000002:role/mlgov-terraform-plan",
            "account_id": "220000000002",
        },
        {
            "name": "ml-dev-churn",
            "rank": 2,
            "destroy": False,
            "region": "eu-west-1",
            "role_arn": "arn:aws:iam::330000000004:role/mlgov-terraform",
            "plan_role_arn": "arn:aws:iam::330000000004:role/mlgov-terraform-plan",
            "account_id": "330000000004",
        },
        {
            "name": "ml-dev-gone",
            "rank": 2,
            "destroy": True,
            "region": "eu-west-1",
            "role_arn": "arn:aws:iam::330000000009:role/mlgov-terraform",
            "plan_role_arn": "arn:aws:iam::330000000009:role/mlgov-terraform-plan",
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
    doc["jobs"]["drift-report"]["needs"] = ["no-such-drift-job"]
    doc["on"]["schedule"] = [{"cron": "61 5 * * *"}]
    broken.write_text(yaml.safe_dump(doc, sort_keys=False))
    result = run([actionlint, "-no-color", str(broken)])
    assert result.returncode == 1
    assert "no-such-job" in result.stdout and "no_such_output" in result.stdout
    assert "no-such-drift-job" in result.stdout and '"61 5 * * *"' in result.stdout


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


def test_credentials_are_oidc_per_account_only(tree, github, default_spec) -> None:
    assert github["permissions"] == {"contents": "read", "id-token": "write"}
    roles = {}
    for name, job in github["jobs"].items():
        for step in job["steps"]:
            if step.get("uses", "").startswith("aws-actions/configure-aws-credentials"):
                roles[name] = step["with"]["role-to-assume"]
    # pull requests and drift plan with the read-only plan role; only the apply jobs, in the apply
    # environment (the only GitHub subject the Terraform role trusts), hold the Terraform role
    for name, role in roles.items():
        applies = name.startswith("apply-rank-")
        assert role == ("${{ matrix.role_arn }}" if applies else "${{ matrix.plan_role_arn }}"), name
        if applies:
            assert github["jobs"][name]["environment"] == default_spec.terraform.ci.apply_environment
    assert {n for n in roles if not n.startswith("apply-rank-")} == {"plan", *_drift_jobs(github["jobs"], "drift-")}
    # AND every plan runs with the environment's credentials (the provider assumes no role)
    plans = [s["run"] for n in roles if not n.startswith("apply-") for s in github["jobs"][n]["steps"] if "run" in s]
    assert sum("mlgov plan" in r for r in plans) == len(roles) - sum(n.startswith("apply-") for n in roles)
    assert all("--plan-role" in r for r in plans if "mlgov plan" in r)
    # AND on GitLab: the merge request's plans and the drift jobs get plan roles, the applies Terraform roles
    child = yaml.safe_load(workflows.gitlab_child_yaml(SELECTION))
    assert [m["ROLE_ARN"] for m in child["mlgov-plan"]["parallel"]["matrix"]] == [
        s["plan_role_arn"] for s in SELECTION["stacks"]
    ]
    assert "--plan-role" in child["mlgov-plan"]["script"][1]
    applied = [m["ROLE_ARN"] for n, j in child.items() if n.startswith("mlgov-apply-") for m in j["parallel"]["matrix"]]
    assert applied == [s["role_arn"] for s in SELECTION["stacks"]]
    parent = yaml.safe_load(tree[workflows.GITLAB_PATH])
    drift = [m["ROLE_ARN"] for n in _drift_jobs(parent, "mlgov-drift-") for m in parent[n]["parallel"]["matrix"]]
    assert drift and all(r.endswith(":role/mlgov-terraform-plan") for r in drift)
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


# -- scheduled drift detection -------------------------------------------------------------------


def _manifest_order(spec) -> list[str]:
    from mlgov.platform.manifest import manifest

    return manifest(spec)["order"]


def _drift_jobs(jobs: dict, prefix: str) -> list[str]:
    return [name for name in jobs if name.startswith(prefix) and name[len(prefix) :].isdigit()]


def test_drift_runs_on_the_specs_schedule_over_every_stack(github, default_spec) -> None:
    drift = default_spec.terraform.ci.drift
    assert github["on"]["schedule"] == [{"cron": drift.schedule}]
    planners = _drift_jobs(github["jobs"], "drift-")
    assert planners, "no drift job"
    matrix = [row for name in planners for row in github["jobs"][name]["strategy"]["matrix"]["include"]]
    assert [row["name"] for row in matrix] == _manifest_order(default_spec)
    for name in planners:
        job = github["jobs"][name]
        assert job["if"] == "github.event_name == 'schedule'"
        # the plan role trusts this environment's tokens (tests/test_day_zero.py); a schedule's subject names a branch
        assert job["environment"] == drift.environment
        run = next(s["run"] for s in job["steps"] if "mlgov plan" in s.get("run", ""))
        assert run == workflows.drift_plan_script()
        assert any(s.get("with", {}).get("role-to-assume") == "${{ matrix.plan_role_arn }}" for s in job["steps"])
    report = github["jobs"]["drift-report"]
    assert report["needs"] == planners and report["if"].startswith("always() && ")
    # AND the pull request and push jobs stay off the schedule
    assert github["jobs"]["affected"]["if"] == "github.event_name != 'schedule'"
    for name, job in github["jobs"].items():
        if name not in planners and name != "drift-report":
            assert "schedule" not in job.get("if", "") or "!= 'schedule'" in job["if"], name


def test_only_the_drift_report_writes_issues_and_it_has_no_aws_token(github) -> None:
    writers = [name for name, job in github["jobs"].items() if "issues" in job.get("permissions", {})]
    assert writers == ["drift-report"]
    # job-level permissions replace the workflow's: no id-token here, so no AWS role either
    assert github["jobs"]["drift-report"]["permissions"] == {"contents": "read", "issues": "write"}
    assert not any("aws-actions" in s.get("uses", "") for s in github["jobs"]["drift-report"]["steps"])


def test_drift_off_leaves_no_schedule(default_spec) -> None:
    ci = default_spec.terraform.ci
    off = default_spec.model_copy(
        update={
            "terraform": default_spec.terraform.model_copy(
                update={"ci": ci.model_copy(update={"drift": ci.drift.model_copy(update={"enabled": False})})}
            )
        }
    )
    github = workflows.github_workflow(off)
    assert "schedule" not in github["on"] and not any(name.startswith("drift") for name in github["jobs"])
    gitlab = workflows.gitlab_pipeline(off)
    assert not any(name.startswith("mlgov-drift") for name in gitlab) and "drift" not in gitlab["stages"]


def test_gitlab_drift_runs_only_in_scheduled_pipelines(tree, default_spec) -> None:
    parent = yaml.safe_load(tree[workflows.GITLAB_PATH])
    scheduled = "$CI_PIPELINE_SOURCE == 'schedule'"
    planners = _drift_jobs(parent, "mlgov-drift-")
    assert planners
    matrix = [row for name in planners for row in parent[name]["parallel"]["matrix"]]
    assert [row["STACK"] for row in matrix] == _manifest_order(default_spec)
    for name in planners:
        job = parent[name]
        assert job["rules"] == [{"if": scheduled}]
        assert job["id_tokens"]["MLGOV_OIDC_TOKEN"]["aud"] == "sts.amazonaws.com"
        assert job["resource_group"] == "mlgov-apply-$STACK"  # never plans a state an apply is writing
        assert job["script"][-1] == workflows.drift_plan_script()
        assert job["artifacts"]["when"] == "always"
    report = parent["mlgov-drift-report"]
    assert report["rules"] == [{"if": scheduled, "when": "always"}]
    assert report["needs"] == [{"job": name, "artifacts": True} for name in planners]
    assert "$MLGOV_DRIFT_TOKEN" in report["script"][0] and "id_tokens" not in report
    # AND a scheduled pipeline runs nothing else (it would match the default-branch rules)
    for name in ("mlgov-affected", "mlgov-fan-out"):
        assert parent[name]["rules"][0] == {"if": scheduled, "when": "never"}, name
    assert f"cron '{default_spec.terraform.ci.drift.schedule}'" in tree[workflows.GITLAB_PATH].decode()


def test_drift_matrices_split_at_the_ci_systems_job_limits() -> None:
    stacks = [f"s{i}" for i in range(workflows.GITHUB_MATRIX_LIMIT + 1)]
    runs = workflows.chunks(stacks, workflows.GITHUB_MATRIX_LIMIT)
    assert [len(r) for r in runs] == [workflows.GITHUB_MATRIX_LIMIT, 1] and [s for r in runs for s in r] == stacks


# The drift jobs' shell, run by bash as the CI systems run it (GitHub: `bash -eo pipefail`; GitLab
# runs its script lines under `set -eo pipefail` too) against fake `mlgov`, `gh` and `curl` that log
# their arguments. What real `plan --detailed-exitcode` returns is tests/test_drift.py's.
FAKE = """#!/usr/bin/env bash
echo "$(basename "$0") $*" >> "$CALLS"
case "$(basename "$0") $*" in
  "mlgov plan"*) exit "$PLAN_STATUS" ;;
  "mlgov summarize"*) echo "## mlgov plan summary" ;;
  "gh issue list"*) [ -n "$OPEN_ISSUE" ] && echo "$OPEN_ISSUE" ;;
  curl*state=opened*) if [ -n "$OPEN_ISSUE" ]; then echo "[{\\"iid\\": $OPEN_ISSUE}]"; else echo "[]"; fi ;;
esac
exit 0
"""


def _bash(tmp: Path, script: str, **env: str) -> tuple[int, list[str]]:
    bin_dir = tmp / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name in ("mlgov", "gh", "curl"):
        (bin_dir / name).write_text(FAKE)
        (bin_dir / name).chmod(0o755)
    calls = tmp / "calls.log"
    calls.write_text("")
    (tmp / "script.sh").write_text(script)
    base = {"PATH": f"{bin_dir}:/usr/bin:/bin", "CALLS": str(calls), "OPEN_ISSUE": "", "PLAN_STATUS": "0"}
    base |= {"GITHUB_STEP_SUMMARY": str(tmp / "step-summary.md"), "RUN_URL": "https://ci.example/run/1"}
    base |= {"CI_API_V4_URL": "https://gitlab.example/api/v4", "CI_PROJECT_ID": "42", "MLGOV_DRIFT_TOKEN": "glpat-fake"}
    proc = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "script.sh"],
        cwd=tmp,
        env=base | env,
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.returncode, calls.read_text().splitlines()


@pytest.mark.slow  # starts bash
@pytest.mark.parametrize(("status", "verdict"), [(0, "clean"), (4, "changes"), (1, "failed"), (2, "failed")])
def test_drift_plan_step_records_the_verdict_and_fails_on_changes(tmp_path, status, verdict) -> None:
    code, calls = _bash(tmp_path, workflows.drift_plan_script(), STACK="ml-dev-churn", PLAN_STATUS=str(status))
    assert code == status
    assert (tmp_path / workflows.DRIFT_DIR / "ml-dev-churn").read_text() == f"{verdict}\n"
    assert calls == ["mlgov plan --all --stack ml-dev-churn --refresh --detailed-exitcode --plan-role --out plans"]


def _report_scripts(tree) -> dict[str, str]:
    github = yaml.safe_load(tree[workflows.GITHUB_PATH])
    gitlab = yaml.safe_load(tree[workflows.GITLAB_PATH])
    return {
        "github": next(s["run"] for s in github["jobs"]["drift-report"]["steps"] if "run" in s and "gh " in s["run"]),
        "gitlab": gitlab["mlgov-drift-report"]["script"][0],
    }


def _verdicts(tmp: Path, verdicts: dict[str, str | None]) -> None:
    (tmp / "generated").mkdir()
    (tmp / "generated" / "mlgov-manifest.json").write_text(json.dumps({"order": list(verdicts)}))
    (tmp / workflows.DRIFT_DIR).mkdir()
    for stack, verdict in verdicts.items():
        if verdict is not None:  # None: the runner died before it wrote one
            (tmp / workflows.DRIFT_DIR / stack).write_text(verdict + "\n")
        if verdict in ("clean", "changes"):
            (tmp / workflows.PLANS / stack).mkdir(parents=True)
            (tmp / workflows.PLANS / stack / "plan.json").write_text("{}")


# (verdicts, open issue) -> (exit code, what happens to the issue)
REPORT_CASES = {
    "drift-opens": ({"a": "clean", "b": "changes"}, "", 1, "open"),
    "drift-updates-the-open-one": ({"a": "changes", "b": "changes"}, "7", 1, "update"),
    "clean-closes": ({"a": "clean", "b": "clean"}, "7", 0, "close"),
    "clean-without-issue": ({"a": "clean", "b": "clean"}, "", 0, None),
    "failed-keeps-the-issue": ({"a": "clean", "b": None}, "7", 1, None),
    "failed-and-drift-updates": ({"a": "failed", "b": "changes"}, "7", 1, "update"),
}


def _issue_writes(ci: str, calls: list[str]) -> list[str]:
    """What the calls did to issues: open, update, close (reads and label upkeep left out)."""
    writes = []
    for call in calls:
        if ci == "github" and call.startswith("gh issue "):
            action = call.split()[2]
            writes += {"create": ["open"], "edit": ["update"], "close": ["close"]}.get(action, [])
        elif ci == "gitlab" and call.startswith("curl "):
            if "--request PUT" in call and "state_event=close" in call:
                writes.append("close")
            elif "--request PUT" in call:
                writes.append("update")
            elif "title=" in call:
                writes.append("open")
    return writes


@pytest.mark.slow  # starts bash
@pytest.mark.parametrize("ci", ["github", "gitlab"])
@pytest.mark.parametrize("case", list(REPORT_CASES))
def test_drift_report_keeps_one_issue(tree, tmp_path, ci, case) -> None:
    verdicts, issue, want_code, want = REPORT_CASES[case]
    _verdicts(tmp_path, verdicts)
    code, calls = _bash(tmp_path, _report_scripts(tree)[ci], OPEN_ISSUE=issue)
    assert code == want_code, calls
    assert _issue_writes(ci, calls) == ([want] if want else [])
    # the issue is looked up by its label, every time: ONE issue, never one per run
    label = workflows.DRIFT_LABEL
    lookups = [c for c in calls if c.startswith("gh issue list") or "state=opened" in c]
    assert len(lookups) == 1 and f"label{'s=' if ci == 'gitlab' else ' '}{label}" in lookups[0]
    body = (tmp_path / "drift.md").read_text()
    drifted = [s for s, v in verdicts.items() if v == "changes"]
    assert (f"**Drifted** (the plan would change them): {' '.join(drifted)}" in body) == bool(drifted)
    failed = [s for s, v in verdicts.items() if v not in ("clean", "changes")]
    assert (f"**Not planned** (see the run): {' '.join(failed)}" in body) == bool(failed)
    if want in ("update", "close"):  # the open issue, by its number
        target = f"gh issue {'edit' if want == 'update' else 'close'} {issue} "
        url = f"https://gitlab.example/api/v4/projects/42/issues/{issue}"
        assert any(c.startswith(target) for c in calls) if ci == "github" else any(c.endswith(url) for c in calls)
    if ci == "gitlab":  # the project token authenticates every call
        assert all("PRIVATE-TOKEN: glpat-fake" in c for c in calls if c.startswith("curl "))
    if want == "open" and ci == "gitlab":
        assert any(f"labels={label}" in c for c in calls)
    if want == "open" and ci == "github":
        assert any(c.startswith(f"gh label create {label}") for c in calls)
        assert any(f"--label {label}" in c for c in calls if c.startswith("gh issue create"))


def test_the_schedule_follows_the_spec() -> None:
    from tests.conftest import ROOT, load_spec_once

    spec = load_spec_once(ROOT / "mlgov" / "examples" / "kitchen-sink.yaml")  # a GitLab org with its own cron
    rendered = workflows.render_workflows(spec)
    cron = spec.terraform.ci.drift.schedule
    assert cron != workflows.DriftSettings().schedule
    assert yaml.safe_load(rendered[workflows.GITHUB_PATH])["on"]["schedule"] == [{"cron": cron}]
    assert f"cron '{cron}'" in rendered[workflows.GITLAB_PATH].decode().splitlines()[2]
