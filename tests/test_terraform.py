"""The real tools: terraform init + validate + offline plan of every generated stack.

The session's one ``mlgov plan --offline`` (tests/conftest.py ``default_plans``) inits and plans
each stack in its own workspace; ``terraform validate`` runs once over all of them as the modules
of one root (tests/modules_root.py: one provider start instead of one per stack; an error names
its stack's file). The committed generated/ is never touched.
"""

from __future__ import annotations

import json
import shutil

import pytest

from mlgov.review import terraform
from mlgov.spec.model import TEAM_STACK_INFIX
from tests import modules_root
from tests.conftest import ROOT

GENERATED = ROOT / "generated" / "stacks"
STACKS = sorted(p.name for p in GENERATED.iterdir()) if GENERATED.is_dir() else []


def test_generated_has_stacks():
    assert STACKS, "generated/stacks is empty; run python main.py synth"


@pytest.fixture(scope="module")
def validated(tf_cli_config, tmp_path_factory) -> list[dict]:
    """terraform's diagnostics for every generated stack, validated as the modules of one root
    (in a copy: the root's workspace is written beside the stacks)."""
    tree = tmp_path_factory.mktemp("validated")
    shutil.copytree(GENERATED, tree / "stacks")
    return modules_root.validate_as_modules(tree, STACKS, tf_cli_config)


@pytest.mark.terraform
@pytest.mark.parametrize("stack", STACKS)
def test_stack_inits_validates_and_plans_offline(stack, default_plans, validated):
    # GIVEN the session's one offline plan of every stack (tests/conftest.py: init + plan + show)
    assert stack in default_plans.plans, default_plans.result.output
    # WHEN terraform validates it (with the others, as modules of one root) THEN no error is its,
    # nor any error that names no file
    assert not modules_root.errors_of(validated, stack), [d for d in validated if d["severity"] == "error"]
    # THEN the plan creates exactly the declared resources, and generated/ was not touched
    planned = default_plans.plans[stack]
    creates = [c["address"] for c in planned["resource_changes"] if c["change"]["actions"] == ["create"]]
    declared = json.loads(default_plans.before[stack])["resource"]
    assert len(creates) == sum(len(v) for v in declared.values())
    if TEAM_STACK_INFIX in stack:  # a team slice: its core stack holds the baseline
        assert "aws_kms_key.platform" not in creates and [c for c in creates if c.startswith("aws_iam_role.")]
    else:
        assert "aws_s3_bucket.platform" in creates and "aws_kms_key.platform" in creates
    assert (GENERATED / stack / "cdk.tf.json").read_bytes() == default_plans.before[stack]


def test_offline_override_switches_backend_and_credentials():
    override = terraform.offline_override("eu-west-1")
    assert override["terraform"]["backend"] == {"local": {"path": "terraform.tfstate"}}
    provider = override["provider"]["aws"]
    assert provider["assume_role"] == {"role_arn": ""}
    assert (
        provider["skip_credentials_validation"]
        and provider["skip_requesting_account_id"]
        and provider["skip_metadata_api_check"]
    )


def test_terraform_runs_with_a_lazier_go_collector_unless_the_user_chose(tmp_path, monkeypatch):
    # GIVEN a stack copied into a workspace, with and without the user's own GOGC
    monkeypatch.delenv("GOGC", raising=False)
    lazier = terraform.Workspace(GENERATED / STACKS[0], tmp_path / "a", tmp_path / "rc")
    monkeypatch.setenv("GOGC", "150")
    users = terraform.Workspace(GENERATED / STACKS[0], tmp_path / "b", tmp_path / "rc")
    # THEN terraform (and the provider it starts) collects less often, the user's value wins
    assert lazier.env["GOGC"] == "400" and users.env["GOGC"] == "150"


def test_mirror_env_var_must_hold_the_provider(tmp_path, monkeypatch):
    from mlgov.errors import MlgovError

    terraform.find_mirror.cache_clear()
    monkeypatch.setenv(terraform.MIRROR_ENV, str(tmp_path))
    with pytest.raises(MlgovError, match=r"holds no registry\.terraform\.io/hashicorp/aws 5\.100\.0"):
        terraform.find_mirror()
    terraform.find_mirror.cache_clear()
