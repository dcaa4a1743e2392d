"""Tier 3: every broken spec in tests/cases/bad gives its exact one-line errors and exit 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from mlgov.errors import SpecError
from mlgov.spec import load_spec
from tests.conftest import CASES, ROOT

BAD = CASES / "bad"
EXPECTED: dict[str, list[str]] = json.loads((BAD / "expected.json").read_text())


def test_every_bad_case_has_an_expectation():
    files = sorted(p.name for p in BAD.iterdir() if p.name != "expected.json")
    assert files == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_spec_is_refused_with_exact_message(name):
    path = BAD / name
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert [str(p) for p in info.value.problems] == [line.replace("{file}", str(path)) for line in EXPECTED[name]]


def test_cli_prints_one_line_per_problem_and_exits_2(tmp_path):
    # GIVEN a few broken specs WHEN validated through the real CLI THEN exit 2, no traceback,
    # and exactly the expected lines on stderr; synth on a bad spec leaves --out untouched.
    for name in ("duplicate-account-id.yaml", "yaml-syntax.yaml", "empty.yaml"):
        path = BAD / name
        proc = subprocess.run([sys.executable, "main.py", "validate", str(path)], cwd=ROOT, capture_output=True, text=True)
        assert proc.returncode == 2
        assert "Traceback" not in proc.stderr
        assert proc.stderr.splitlines() == [line.replace("{file}", str(path)) for line in EXPECTED[name]]
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("previous output\n")
    proc = subprocess.run(
        [sys.executable, "main.py", "synth", str(BAD / "unknown-ou.yaml"), "--out", str(out)], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_missing_file_is_one_line(tmp_path):
    proc = subprocess.run([sys.executable, "main.py", "validate", str(tmp_path / "nope.yaml")], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr == f"{tmp_path / 'nope.yaml'}: file not found\n"
