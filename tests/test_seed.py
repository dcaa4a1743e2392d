"""The model-build seed: what `mlgov seed` writes works, and is what the product (its newest version) runs.

GIVEN the seed written by the CLI into a fresh directory
THEN its own unit tests pass (a broken seed fails mlgov's CI), its scripts run end to end on a
     tiny dataset made here (preprocess -> train -> evaluate, the AUC clears the product's
     MinimumAuc), its pipeline definition is byte for byte the one the newest template embeds, and
     every placeholder of it is bound both by the template's Fn::Sub and by the build's
     environment; the command writes only where it may (new, empty, a fresh clone, or its own).
Broken copies (a seed whose evaluation report loses the AUC key, a definition that registers
Approved, a template whose build lacks a variable) make these tests fail: see the last tests.
"""

from __future__ import annotations

import csv
import json
import math
import os
import random
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlgov.cli import cli
from mlgov.platform import catalog
from mlgov.platform.seed import DEFINITION, seed_tree
from mlgov.review.policies import parse_template
from tests.conftest import ROOT

NEWEST = ROOT / "generated" / "products" / "sagemaker-projects" / "model-build" / "v4.yaml"
# Nothing of the checkout on the path: the seed runs as a team's repository would.
ENV = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH"}}


def write_seed(out: Path) -> Path:
    result = CliRunner().invoke(cli, ["seed", str(out)])
    assert result.exit_code == 0, result.output
    return out


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, env=env or ENV, capture_output=True, text=True, timeout=120, check=False)


def seed_tests(repo: Path) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", "pytest", "-q", "-W", "ignore::UserWarning"], repo)


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    return write_seed(tmp_path_factory.mktemp("seed") / "repo")


@pytest.fixture(scope="module")
def template() -> dict:
    return parse_template(NEWEST.read_text())


# --- the seed's own tests, and its scripts end to end ------------------------------------


@pytest.mark.slow  # starts the seed's own pytest
def test_the_seeds_own_tests_pass(repo):
    # (no wall-clock budget here: timings belong to the benchmark, not to a shared CI machine)
    done = seed_tests(repo)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"\b\d+ passed\b", done.stdout), done.stdout


def tiny_dataset(directory: Path, n: int = 300) -> None:
    """A learnable dataset in the S3 input's shape (CSV with a header, label column `label`)."""
    rng = random.Random(11)
    directory.mkdir(parents=True)
    with (directory / "data.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["tenure", "label", "spend", "tickets"])
        for _ in range(n):
            tenure, spend, tickets = rng.gauss(0, 1), rng.gauss(0, 1), rng.gauss(0, 1)
            label = int(rng.random() < 1 / (1 + math.exp(-(2 * tickets - 1.5 * tenure))))
            writer.writerow([f"{tenure:.4f}", label, f"{spend:.4f}", f"{tickets:.4f}"])


def end_to_end(repo: Path, work: Path) -> dict:
    """Each script as the pipeline runs it (CLI, SageMaker's environment), on the tiny dataset."""
    tiny_dataset(work / "raw")
    py = sys.executable
    done = run([py, "code/preprocess.py", "--input-dir", str(work / "raw"), "--output-dir", str(work)], repo)
    assert done.returncode == 0, done.stderr
    env = {
        **ENV,
        "SM_CHANNEL_TRAIN": str(work / "train"),
        "SM_CHANNEL_VALIDATION": str(work / "validation"),
        "SM_MODEL_DIR": str(work / "model"),
    }
    done = run([py, "code/train.py", "--num_round", "50"], repo, env)
    assert done.returncode == 0, done.stderr
    (work / "artifact").mkdir()
    with tarfile.open(work / "artifact" / "model.tar.gz", "w:gz") as tar:
        for path in (work / "model").iterdir():
            tar.add(path, arcname=path.name)
    done = run(
        [
            py,
            "code/evaluate.py",
            "--model-dir",
            str(work / "artifact"),
            "--test-dir",
            str(work / "test"),
            "--output-dir",
            str(work / "evaluation"),
        ],
        repo,
    )
    assert done.returncode == 0, done.stderr
    return json.loads((work / "evaluation" / "evaluation.json").read_text())


@pytest.mark.slow  # starts python subprocesses
def test_the_scripts_run_end_to_end_and_the_model_would_be_registered(repo, tmp_path, template):
    report = end_to_end(repo, tmp_path)
    # the pipeline's CheckAuc reads metrics.auc.value and registers at or above MinimumAuc
    minimum = float(template["Parameters"]["MinimumAuc"]["Default"])
    assert report["metrics"]["auc"]["value"] >= minimum
    # the baseline dataset is the features only (3 of them), what an endpoint receives
    with (tmp_path / "baseline" / "baseline.csv").open() as handle:
        assert {len(row) for row in csv.reader(handle)} == {3}


# --- the repository's definition is the product's ----------------------------------------


def test_the_definition_is_the_one_the_product_creates(repo, template):
    body = template["Resources"]["BuildPipeline"]["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"]
    text, variables = body["Fn::Sub"]
    assert (repo / DEFINITION).read_text() == text == catalog.pipeline_definition_v3() + "\n"
    # every placeholder is bound by CloudFormation: a template parameter, a resource or a variable
    names = catalog.pipeline_placeholders(text)
    bound = set(template["Parameters"]) | set(template["Resources"]) | set(variables)
    assert sorted(set(names) - bound) == []


def build_environment(template: dict) -> dict:
    project = template["Resources"]["BuildProject"]["Properties"]
    return {v["Name"]: v["Value"] for v in project["Environment"]["EnvironmentVariables"]}


def test_the_build_gets_every_placeholder_with_cloudformations_value(repo, template):
    env = build_environment(template)
    names = catalog.pipeline_placeholders((repo / DEFINITION).read_text())
    assert sorted(set(env) - {"PipelineName"}) == names
    # the same expression CloudFormation substitutes into the pipeline it creates
    _, variables = template["Resources"]["BuildPipeline"]["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"][
        "Fn::Sub"
    ]
    assert {n: env[n] for n in variables} == variables
    assert {n: env[n] for n in names if n not in variables} == {n: {"Ref": n} for n in names if n not in variables}


def test_the_buildspec_uses_only_variables_the_build_has(repo, template):
    text = (repo / "buildspec.yml").read_text()
    used = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", text))
    assert used - set(build_environment(template)) <= {"CODEBUILD_RESOLVED_SOURCE_VERSION"}
    assert "pipeline/render.py pipeline/definition.json" in text


# --- where `mlgov seed` may write --------------------------------------------------------


def test_seed_writes_into_a_fresh_clone_and_leaves_git_alone(tmp_path):
    clone = tmp_path / "clone"
    (clone / ".git").mkdir(parents=True)
    (clone / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    write_seed(clone)
    assert (clone / ".git" / "HEAD").read_text() == "ref: refs/heads/main\n"
    assert (clone / "code" / "train.py").is_file() and (clone / ".gitignore").is_file()
    again = CliRunner().invoke(cli, ["seed", str(clone)])
    assert again.exit_code == 0 and "unchanged" in again.output


def test_seed_refuses_a_directory_with_someone_elses_files(tmp_path):
    target = tmp_path / "project"
    target.mkdir()
    (target / "notes.txt").write_text("mine\n")
    result = CliRunner().invoke(cli, ["seed", str(target)])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"error: refusing to write into {target}: it holds files mlgov did not write (e.g. notes.txt); "
        "use a new or empty directory, or one mlgov wrote (it holds mlgov-files.txt)"
    ]
    assert sorted(p.name for p in target.iterdir()) == ["notes.txt"]


def test_seed_tree_is_the_package_data_plus_the_generated_definition():
    tree = seed_tree()
    assert DEFINITION in tree and ".gitignore" in tree and "gitignore" not in tree
    assert not [p for p in tree if "__pycache__" in p or p.endswith(".pyc")]
    assert {"code/preprocess.py", "code/train.py", "code/evaluate.py", "buildspec.yml", "README.md"} <= set(tree)
    # the endpoint tests the hub's pipelines run in a staging stage (mlgov.platform.governance)
    assert {"endpoint_tests/check_endpoint.py", "endpoint_tests/sample.csv"} <= set(tree)


# --- broken copies ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "old", "new"),
    [
        # the evaluation report no longer has the key the pipeline's condition reads
        (
            "code/evaluate.py",
            '"metrics": {"accuracy": {"value": accuracy}, "auc": {"value": value}}',
            '"metrics": {"accuracy": {"value": accuracy}}',
        ),
        # the definition registers an approved model
        (DEFINITION, '"ModelApprovalStatus": "PendingManualApproval"', '"ModelApprovalStatus": "Approved"'),
        # preprocess writes the label last: the splits no longer match what training reads
        (
            "code/preprocess.py",
            "out.append([float(row[label])] + [float(row[f]) for f in features])",
            "out.append([float(row[f]) for f in features] + [float(row[label])])",
        ),
        # the endpoint tests (the pipeline's staging test) let an answer with a row lost through
        ("endpoint_tests/check_endpoint.py", "if len(cells) != rows:", "if len(cells) > rows:"),
    ],
    ids=["evaluation-without-auc", "definition-registers-approved", "label-not-first", "endpoint-test-lax"],
)
@pytest.mark.slow  # starts the seed's own pytest
def test_a_broken_seed_fails_its_own_tests(tmp_path, path, old, new):
    repo = write_seed(tmp_path / "repo")
    text = (repo / path).read_text()
    assert old in text
    (repo / path).write_text(text.replace(old, new))
    done = seed_tests(repo)
    assert done.returncode != 0, done.stdout


def test_a_build_missing_a_variable_is_caught(repo, template):
    broken = json.loads(json.dumps(template))
    variables = broken["Resources"]["BuildProject"]["Properties"]["Environment"]["EnvironmentVariables"]
    broken["Resources"]["BuildProject"]["Properties"]["Environment"]["EnvironmentVariables"] = [
        v for v in variables if v["Name"] != "KmsKeyArn"
    ]
    with pytest.raises(AssertionError):
        test_the_build_gets_every_placeholder_with_cloudformations_value(repo, broken)
