"""The hub's policy documents are data: the stack carries exactly what
:mod:`mlgov.platform.iam.governance` builds from the spec, and the hub's constructs spell no
IAM action and no ARN of their own (they attach documents, they do not write them).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from mlgov.platform import naming
from mlgov.platform.iam import governance as iam
from mlgov.spec.model import team_stack_name
from tests.conftest import ROOT
from tests.helpers import resources, statements

HUB = "ml-shared-services"
KEY_ARN = "${aws_kms_key.model_artifacts.arn}"  # the hub key, as the stack refers to it
HUB_MODULES = sorted([ROOT / "mlgov" / "modules" / "governance_hub.py", *(ROOT / "mlgov" / "modules").glob("hub_*.py")])
# "service:Action" (an IAM action: lower-case service, capitalised action or a wildcard) or an ARN.
SPELLED = re.compile(r"""["'](?:[a-z0-9-]+:[A-Z*][A-Za-z*]*|arn:aws[^"']*)["']""")


def _roles(spec, region):
    """(stack, role address) -> (trust document, statements) the platform layer builds for the
    hub: the hub's own roles in its core stack, each team's in the team's slice of the hub."""
    roles = {
        (HUB, "model_promotion"): (iam.promotion_trust(spec), iam.promotion_statements(spec, region, KEY_ARN)),
        (HUB, "ml_engineer"): (iam.people_trust(spec), iam.ml_engineer_statements(spec, region)),
        (HUB, "governance_officer"): (iam.people_trust(spec), iam.governance_officer_statements(spec, region)),
    }
    for team in spec.teams:
        slice_ = team_stack_name(HUB, team)
        roles[slice_, naming.construct_id(team, "deploy_pipeline")] = (
            iam.pipeline_trust(spec),
            iam.deploy_pipeline_statements(spec, team, region),
        )
        roles[slice_, naming.construct_id(team, "select_model")] = (
            iam.select_trust(spec),
            iam.select_model_statements(spec, team, region),
        )
        roles[slice_, naming.construct_id(team, "start_deploy")] = (
            iam.start_deploy_trust(spec),
            iam.start_deploy_statements(spec, team, region),
        )
    return roles


def test_the_hub_stack_carries_exactly_the_platform_documents(stacks, default_spec):
    # GIVEN the default spec's hub stack and the documents the platform layer builds for it
    stack, region = stacks[HUB], naming.hub_region(default_spec)
    expected = _roles(default_spec, region)
    # THEN every hub role has that trust and that inline policy, statement for statement
    for (name, address), (trust, policy_statements) in expected.items():
        iam_roles, inline = resources(stacks[name], "aws_iam_role"), resources(stacks[name], "aws_iam_role_policy")
        assert json.loads(iam_roles[address]["assume_role_policy"]) == json.loads(trust), address
        assert statements(inline[address]["policy"]) == policy_statements, address
    # AND no stack of the hub holds a role the platform layer did not build
    hub_stacks = [name for name in stacks if name == HUB or name.startswith(f"{HUB}-team-")]
    held = {(name, address) for name in hub_stacks for address in resources(stacks[name], "aws_iam_role")}
    assert held == set(expected)
    # AND the bus, key and bucket policies hold the platform's statements
    bus_policy = resources(stack, "aws_cloudwatch_event_bus_policy")["model_governance"]["policy"]
    assert json.loads(bus_policy) == json.loads(iam.bus_policy(default_spec, region))
    key_policy = statements(resources(stack, "aws_kms_key")["model_artifacts"]["policy"])
    assert key_policy[2:] == iam.artifact_key_statements(default_spec, region)
    buckets = resources(stack, "aws_s3_bucket_policy")
    assert statements(buckets["model_artifacts"]["policy"])[1:] == iam.artifact_bucket_statements(default_spec, region)
    assert statements(buckets["deploy_pipelines"]["policy"])[1:] == iam.pipeline_bucket_statements(default_spec, region)


def _spelled(path: Path) -> list[str]:
    return [
        f"{path.name}:{n}: {m}"
        for n, line in enumerate(path.read_text().splitlines(), 1)
        for m in SPELLED.findall(line)
    ]


@pytest.mark.parametrize("path", HUB_MODULES, ids=lambda p: p.name)
def test_the_hub_constructs_spell_no_action_and_no_arn(path):
    # GIVEN a module of the hub's constructs
    # THEN it names no IAM action and writes no ARN: both come from the platform layer
    assert _spelled(path) == []


def test_the_spelling_check_catches_an_action_and_an_arn(tmp_path):
    # GIVEN a copy of the pipelines module with an action and an ARN written into it
    source = (ROOT / "mlgov" / "modules" / "hub_pipelines.py").read_text()
    broken = tmp_path / "hub_pipelines.py"
    broken.write_text(
        source.replace("BUILD_IMAGE = ", 'EXTRA = ("s3:GetObject", "arn:aws:s3:::x/*")\nBUILD_IMAGE = ', 1)
    )
    # THEN the check names both
    assert _spelled(broken) == [
        f'hub_pipelines.py:{_line(broken, "EXTRA")}: "s3:GetObject"',
        f'hub_pipelines.py:{_line(broken, "EXTRA")}: "arn:aws:s3:::x/*"',
    ]
    # AND the hub modules it scans are the six parts and the composition
    assert [p.name for p in HUB_MODULES] == [
        "governance_hub.py",
        "hub_bus.py",
        "hub_gates.py",
        "hub_pipelines.py",
        "hub_promotion.py",
        "hub_regions.py",
        "hub_registry.py",
    ]


def _line(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line)
