"""The docs that live in the repository: links stay inside it and resolve, no tracker
numbers, and the generated spec reference is current."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

DOCS = sorted([ROOT / "README.md", ROOT / "CHANGELOG.md", *(ROOT / "docs").glob("*.md")])
LINK = re.compile(r"(?<!\!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^(```|~~~)")


def _prose(text: str) -> str:
    """``text`` without fenced code blocks and inline code (links and numbers there are examples)."""
    kept, fenced = [], None
    for line in text.splitlines():
        marker = FENCE.match(line.lstrip())
        if marker and fenced is None:
            fenced = line.lstrip()[:3]
        elif fenced is not None and line.lstrip().startswith(fenced):
            fenced = None
        elif fenced is None:
            kept.append(re.sub(r"`[^`]*`", "", line))
    return "\n".join(kept)


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    return {_slug(m.group(1)) for m in re.finditer(r"^#+\s+(.+)$", _prose(path.read_text()), re.M)}


def links(path: Path) -> list[str]:
    return LINK.findall(_prose(path.read_text()))


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_link_resolves_inside_the_repository(doc):
    problems = []
    for target in links(doc):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith("//"):
            problems.append(f"{target}: points outside the repository")
            continue
        file_part, _, anchor = target.partition("#")
        resolved = (doc.parent / file_part).resolve() if file_part else doc
        if not resolved.is_relative_to(ROOT):
            problems.append(f"{target}: leaves the repository")
        elif not resolved.exists():
            problems.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
            problems.append(f"{target}: no heading #{anchor} in {resolved.relative_to(ROOT)}")
    assert not problems, f"{doc.relative_to(ROOT)}:\n" + "\n".join(problems)


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_tracker_numbers_in_user_docs(doc):
    found = re.findall(r"(?<![\w&/#])#\d+\b", _prose(doc.read_text()))
    assert not found, f"{doc.relative_to(ROOT)} cites tracker numbers {found}: say what changed instead"


def test_link_checker_catches_what_it_must(tmp_path):
    # A deliberately broken page: each kind of bad link is reported.
    page = tmp_path / "page.md"
    page.write_text(
        "[out](../../shared/x.md) [web](https://example.com) [gone](nothing.md) [ok](page.md)\n"
        "```\n[in code](https://example.com)\n```\n"
    )
    assert links(page) == ["../../shared/x.md", "https://example.com", "nothing.md", "page.md"]


@pytest.mark.slow  # starts a script in a subprocess
def test_spec_reference_is_current():
    # GIVEN the committed docs/spec-reference.md WHEN rendered again from the JSON Schema
    proc = subprocess.run(
        [sys.executable, "scripts/spec-reference", "--check"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    # THEN nothing changed (else: run scripts/spec-reference and commit)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_spec_reference_covers_every_model_and_field():
    from mlgov.spec.model import json_schema

    schema = json_schema()
    text = (ROOT / "docs" / "spec-reference.md").read_text()
    for name, model in [(schema["title"], schema), *schema["$defs"].items()]:
        assert f"\n## {name}\n" in text
        for field in model.get("properties", {}):
            assert f"| `{field}` |" in text, (name, field)


def test_spec_reference_says_which_templates_need_a_source():
    # The dev account's `source` row names every template that builds from a repository: a spec
    # offering one needs a source on every team's dev account.
    from mlgov.platform.catalog import SOURCE_TEMPLATES

    text = (ROOT / "docs" / "spec-reference.md").read_text()
    account = text.split("\n## Account\n", 1)[1].split("\n## ", 1)[0]
    (row,) = [line for line in account.splitlines() if line.startswith("| `source` |")]
    assert SOURCE_TEMPLATES and all(t in row for t in SOURCE_TEMPLATES), row
