"""The one JSON layout mlgov emits, and the in-memory tree of generated files."""

from __future__ import annotations

import json
from typing import Any

Tree = dict[str, bytes]
"""Generated files: ``{path relative to the output directory: bytes}``."""


def canonical_json(data: Any) -> bytes:
    """Sorted keys, 2-space indent, UTF-8, trailing newline: the only JSON layout we emit."""
    return (json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
