"""Edit scalar values of a spec file in place, leaving every other byte as it was.

``discover --write`` replaces existing scalars (ids, an account's OU) and adds the id of an
account mlgov created (a new first line in the account's block mapping). Rather
than re-emitting the whole document (which re-flows lists and indentation), the YAML is
composed to find each scalar's exact span and only that span is rewritten, keeping its
quoting style. Comments, key order, blank lines and formatting are untouched by design.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import yaml

from mlgov.errors import MlgovError


def _node_at(root: yaml.Node, path: tuple[str | int, ...]) -> yaml.ScalarNode:
    node = root
    for part in path:
        if not isinstance(node, yaml.MappingNode):
            raise MlgovError(f"cannot edit {'.'.join(map(str, path))}: not a mapping path")
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == part:
                node = value
                break
        else:
            raise MlgovError(f"cannot edit {'.'.join(map(str, path))}: key {part!r} not found")
    if not isinstance(node, yaml.ScalarNode):
        raise MlgovError(f"cannot edit {'.'.join(map(str, path))}: not a scalar")
    return node


def _render(node: yaml.ScalarNode, value: str) -> str:
    if node.style == "'":
        return "'" + value.replace("'", "''") + "'"
    if node.style == '"' or value.isdigit():  # digits stay strings only when quoted
        return '"' + value + '"'
    return value


def _insertion(root: yaml.Node, path: tuple[str | int, ...], value: str) -> tuple[int, int, str]:
    """A new ``key: value`` line at the top of the block mapping at ``path[:-1]`` (a missing key,
    e.g. the id of an account mlgov created), indented like the mapping's first key."""
    parent = root
    for part in path[:-1]:
        found = None
        if isinstance(parent, yaml.MappingNode):
            found = next((v for k, v in parent.value if isinstance(k, yaml.ScalarNode) and k.value == part), None)
        if found is None:
            raise MlgovError(f"cannot edit {'.'.join(map(str, path))}: key {part!r} not found")
        parent = found
    if not isinstance(parent, yaml.MappingNode) or parent.flow_style or not parent.value:
        raise MlgovError(
            f"cannot add {'.'.join(map(str, path))}: its mapping is not a block mapping; add the key by hand"
        )
    first = parent.value[0][0]
    at = first.start_mark.index - first.start_mark.column
    indent = " " * first.start_mark.column
    rendered = '"' + value + '"' if value.isdigit() else value
    return at, at, f"{indent}{path[-1]}: {rendered}\n"


def edit_scalars(text: str, edits: dict[tuple[str | int, ...], str]) -> str:
    """``text`` with the scalar at each path replaced by its new value; a missing last key is
    added to its block mapping (the first line of it)."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    spans = []
    for path, value in edits.items():
        try:
            node = _node_at(root, path)
        except MlgovError as exc:
            if "not found" not in str(exc) or not path:
                raise
            spans.append(_insertion(root, path, value))
            continue
        spans.append((node.start_mark.index, node.end_mark.index, _render(node, value)))
    for start, end, new in sorted(spans, reverse=True):
        text = text[:start] + new + text[end:]
    return text


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one rename, keeping its permissions."""
    mode = path.stat().st_mode & 0o777
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
