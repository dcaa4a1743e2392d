"""The generated large orgs that scripts/bench synthesizes are valid specs of the promised shape."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from mlgov.spec.large_org import large_org, write_large_org
from mlgov.spec.model import Layer
from mlgov.validation import load_spec
from tests.conftest import ROOT


def test_large_org_is_valid_with_three_accounts_per_team(tmp_path):
    # GIVEN a generated org of 12 teams, written as YAML
    path = write_large_org(tmp_path / "org.yaml", 12)
    # WHEN the validator loads it
    spec = load_spec(path)
    # THEN every team has its own dev, test and prod account, ids are unique 12-digit strings
    assert len(spec.teams) == 12
    for team in spec.teams.values():
        assert spec.accounts[team.dev_account].layer is Layer.dev
        assert [(s.name, spec.accounts[s.account].layer) for s in team.stages] == [
            ("test", Layer.test),
            ("prod", Layer.prod),
        ]
        assert team.stages[1].manual_approval is True
        assert len({team.dev_account, *(s.account for s in team.stages)}) == 3
    ids = [acc.id for acc in spec.accounts.values()]
    assert len(ids) == len(set(ids)) == 12 * 3 + 2
    refs = spec.stack_refs()
    assert len([ref for ref in refs if not ref.is_slice]) == 12 * 3 + 2
    # each team's slices: of the hub and of its test and prod accounts
    assert sorted((ref.account, ref.team) for ref in refs if ref.is_slice) == sorted(
        (account, name)
        for name, team in spec.teams.items()
        for account in (spec.hub, *(s.account for s in team.stages))
    )
    assert len(refs) == 12 * 3 + 2 + 12 * 3


def test_large_org_keeps_the_default_spec_sections_and_quotes_ids(tmp_path):
    base = yaml.safe_load((ROOT / "org.yaml").read_text())
    doc = large_org(2)
    # Only the accounts named by the break-glass exemption follow the replaced accounts.
    exempt = doc["management"]["guardrails"].pop("exempt_accounts")
    assert exempt == [a for a in base["management"]["guardrails"].pop("exempt_accounts") if a in doc["accounts"]]
    # (the data section's grants name the default teams: the large org leaves it out)
    assert {k: v for k, v in doc.items() if k not in {"accounts", "teams"}} == {
        k: v for k, v in base.items() if k not in {"accounts", "teams", "data"}
    }
    text = write_large_org(tmp_path / "org.yaml", 2).read_text()
    assert "id: '390000000001'" in text


@pytest.mark.slow  # starts a script in a subprocess
def test_gen_large_org_script_validates_what_it_writes(tmp_path):
    out = tmp_path / "org.yaml"
    proc = subprocess.run(
        [sys.executable, "scripts/gen-large-org", "4", str(out)], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    # one stack per account, and each team's slices of the hub, its test and its prod account
    assert proc.stdout.strip() == f"{out}: 4 teams, 14 accounts, {14 + 4 * 3} stacks"


@pytest.mark.slow  # starts a script in a subprocess
def test_gen_large_org_script_writes_the_shared_stage_shape(tmp_path):
    # GIVEN the quota benchmark's shape: org.yaml grown to 12 teams sharing ml-test and ml-prod
    out = tmp_path / "shared.yaml"
    proc = subprocess.run(
        [sys.executable, "scripts/gen-large-org", "--shared-stages", "12", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    # THEN it wrote a valid spec whose added teams deploy to the shared accounts, with the
    # organization's account raise named (17 accounts: past AWS's default of 10)
    spec = load_spec(out)
    assert proc.stdout.strip() == f"{out}: 12 teams, {len(spec.accounts)} accounts, {len(spec.stack_refs())} stacks"
    assert {s.account for t in spec.teams.values() for s in t.stages} == {"ml-test", "ml-prod"}
    assert spec.quotas.raised() == {"organization_accounts": len(spec.accounts)}
    # AND a bad invocation is one usage line, exit 2
    bad = subprocess.run(
        [sys.executable, "scripts/gen-large-org", "--shared-stages", "x", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and bad.stderr.splitlines() == [
        "usage: scripts/gen-large-org [--shared-stages] TEAMS OUT.yaml"
    ]
