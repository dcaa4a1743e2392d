"""Small helpers for reading synthesized stacks in tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any


def resources(stack: dict, rtype: str) -> dict[str, dict]:
    """All resources of one type in a stack: {name: config}."""
    return stack.get("resource", {}).get(rtype, {})


def all_resources(stack: dict) -> Iterator[tuple[str, str, dict]]:
    for rtype, items in sorted(stack.get("resource", {}).items()):
        for name, config in sorted(items.items()):
            yield rtype, name, config


def policy(doc: str) -> dict[str, Any]:
    """Parse a JSON policy string from a resource argument."""
    return json.loads(doc)


def statements(doc: str) -> list[dict[str, Any]]:
    stmts = policy(doc)["Statement"]
    return stmts if isinstance(stmts, list) else [stmts]


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]
