"""Service control policies of the platform team's own: JSON files beside the spec.

``scps/<target>/<name>.json`` (relative to the spec's folder) is the SCP ``<org>-<name>``
attached to ``<target>``: ``root`` or an OU name of ``organization.organizational_units``. The
same ``<name>`` in several target folders is one policy attached to each (the files must hold
the same document). It becomes ``aws_organizations_policy.own_<name>`` (``-`` as ``_``) in the
management stack, beside mlgov's guardrails, and counts against the same limits: the size of the
compact JSON mlgov submits (5,120 characters) and the SCPs per target (5, FullAWSAccess
included), checked by :func:`mlgov.platform.guardrails.problems` at validate time.

What is checked in the document itself: a JSON object of ``Version`` ("2012-10-17"), optional
``Id`` and ``Statement``; every statement has ``Effect`` Allow or Deny, ``Action`` or
``NotAction`` as ``service:Action`` patterns (or ``*``), no ``Principal`` (SCPs have none) and
an object as ``Condition`` if any. Whether its actions, condition keys and resource ARNs exist in
AWS's service definitions is checked above the platform layer, where the IAM bridge lives
(:mod:`mlgov.review.scps`: ``mlgov validate`` and ``mlgov check``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlgov.spec.model import OrgSpec

FOLDER = "scps"
ROOT = "root"
NAME = re.compile(r"^[a-z][a-z0-9-]{0,46}[a-z0-9]$")
ACTION = re.compile(r"^(\*|[a-z0-9-]+:[A-Za-z0-9*?]+)$")
STATEMENT_KEYS = {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"}


@dataclass(frozen=True)
class OwnScp:
    """One own SCP: its file name (without .json), compact document, sorted targets and the
    files it was read from (one per target, in target order)."""

    name: str
    content: str
    targets: tuple[str, ...]
    files: tuple[Path, ...] = ()

    @property
    def key(self) -> str:
        """Terraform address label (mlgov's own guardrail keys never start with ``own_``)."""
        return "own_" + self.name.replace("-", "_")


def _statement_problems(stmt: Any, where: str) -> list[str]:
    if not isinstance(stmt, dict):
        return [f"{where}: expected a JSON object"]
    problems = [f"{where}: unknown key {key!r}" for key in sorted(set(stmt) - STATEMENT_KEYS)]
    if "Principal" in stmt or "NotPrincipal" in stmt:
        problems = [f"{where}: an SCP statement has no Principal"]
    if stmt.get("Effect") not in ("Allow", "Deny"):
        problems.append(f"{where}.Effect: expected Allow or Deny (got {stmt.get('Effect')!r})")
    if ("Action" in stmt) == ("NotAction" in stmt):
        problems.append(f"{where}: expected exactly one of Action and NotAction")
    for key in ("Action", "NotAction"):
        if key in stmt:
            actions = stmt[key] if isinstance(stmt[key], list) else [stmt[key]]
            for action in actions:
                if not isinstance(action, str) or not ACTION.match(action):
                    problems.append(f"{where}.{key}: not an action pattern (got {action!r}, expected service:Action)")
    if "Condition" in stmt and not isinstance(stmt["Condition"], dict):
        problems.append(f"{where}.Condition: expected a JSON object")
    return problems


def _document(path: Path) -> tuple[str | None, list[str]]:
    """The compact document in ``path`` and the problems found in it."""
    try:
        doc = json.loads(path.read_bytes())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return None, [f"{path}: not a JSON document ({exc})"]
    if not isinstance(doc, dict):
        return None, [f"{path}: expected a JSON object (an SCP document)"]
    problems = [f"{path}: unknown key {key!r}" for key in sorted(set(doc) - {"Version", "Id", "Statement"})]
    if doc.get("Version") != "2012-10-17":
        problems.append(f'{path}: Version must be "2012-10-17" (got {doc.get("Version")!r})')
    statements = doc.get("Statement")
    statements = [statements] if isinstance(statements, dict) else statements
    if not isinstance(statements, list) or not statements:
        problems.append(f"{path}: Statement must be a statement or a non-empty list of them")
        statements = []
    for i, stmt in enumerate(statements):
        problems += [f"{path}: {p}" for p in _statement_problems(stmt, f"Statement[{i}]")]
    return json.dumps(doc, sort_keys=True, separators=(",", ":")), problems


def load(spec: OrgSpec) -> tuple[list[OwnScp], list[str]]:
    """The own SCPs beside ``spec`` (sorted by name), and one line per problem with them."""
    home = spec.home
    if home is None or not (home / FOLDER).is_dir():
        return [], []
    root = home / FOLDER
    allowed = {ROOT, *spec.organization.organizational_units}
    problems: list[str] = []
    found: dict[str, list[tuple[str, Path]]] = {}
    for entry in sorted(root.iterdir()):
        if not entry.is_dir() or entry.name not in allowed:
            expected = f"`root` or one of {sorted(allowed - {ROOT})}"
            problems.append(f"{entry}: not an attachment target folder (expected {expected})")
            continue
        for file in sorted(entry.iterdir()):
            name = file.name.removesuffix(".json")
            if not file.name.endswith(".json") or not NAME.match(name):
                problems.append(f"{file}: expected <name>.json, the name 2-48 characters of a-z 0-9 -")
                continue
            found.setdefault(name, []).append((entry.name, file))
    out = []
    for name, places in sorted(found.items()):
        contents: set[str | None] = set()
        bad = False
        for _, file in places:
            content, file_problems = _document(file)
            problems += file_problems
            bad = bad or bool(file_problems)
            contents.add(content)
        if bad:
            continue
        if len(contents) > 1:
            targets = [t for t, _ in places]
            problems.append(f"{root}/*/{name}.json: the copies for {targets} differ (one policy, one document)")
            continue
        content = contents.pop()
        assert content is not None  # a file without problems has a document
        ordered = sorted(places)
        out.append(OwnScp(name, content, tuple(t for t, _ in ordered), tuple(f for _, f in ordered)))
    return out, problems
