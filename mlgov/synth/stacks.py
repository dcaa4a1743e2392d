"""What both synthesis paths share: jsii's environment and reading cdktf's output back.

Used by :mod:`mlgov.synth.tree` (in-process synthesis) and :mod:`mlgov.synth.pool` (worker
processes), so neither imports the other's internals.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlgov.errors import MlgovError
from mlgov.platform.canonical import Tree, canonical_json

# Must be set before jsii starts its Node process: Node 20 is past jsii's support window and
# jsii would print a banner on every run.
JSII_ENV = {
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
    "JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION": "1",
}


class MissingTool(MlgovError):
    """A program mlgov runs is not installed (the CLI exits 3, not 2: the input is fine)."""


def prepare_runtime() -> None:
    """Environment jsii needs; harmless to call twice."""
    for key, value in JSII_ENV.items():
        os.environ.setdefault(key, value)


def require_node() -> None:
    """Fail with one line when Node.js is missing: jsii would start it on the first cdktf
    import and die with a traceback of its own (``$JSII_NODE`` names another executable)."""
    words = shlex.split(os.environ.get("JSII_NODE", "")) or ["node"]
    if shutil.which(words[0]) is None:
        raise MissingTool(
            f"Node.js not found ({words[0]!r} is not on PATH); synth needs Node.js 20 or later "
            "(cdktf's constructs run in it), or set JSII_NODE to its path"
        )


@dataclass(frozen=True)
class StackSummary:
    """What one synthesized stack holds, for progress lines."""

    name: str
    path: str
    resources: int


def canonical_tree(root: Path) -> tuple[Tree, dict[str, Any]]:
    """The files under ``root`` (a cdktf output directory), JSON in our canonical layout, and
    the parsed JSON documents by path (callers count resources and read the manifest)."""
    tree: Tree = {}
    docs: dict[str, Any] = {}
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = file.relative_to(root).as_posix()
        data = file.read_bytes()
        if file.suffix == ".json":
            docs[rel] = json.loads(data)
            data = canonical_json(docs[rel])
        tree[rel] = data
    return tree, docs


def resource_count(stack_doc: dict[str, Any]) -> int:
    """Resources in a synthesized stack document."""
    return sum(len(v) for v in stack_doc.get("resource", {}).values())
