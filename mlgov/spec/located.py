"""Load YAML while remembering the line of every node, so errors can point at them.

PyYAML's ``safe_load`` forgets where values came from and silently keeps the last of two
duplicate keys; both are unacceptable for an org spec that decides who can reach which
account. We compose the node graph ourselves and build plain Python data from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from mlgov.errors import Problem, SpecError

Path = tuple[Any, ...]

# Anything bigger is not an org spec; refuse before the parser spends memory on it.
MAX_SPEC_BYTES = 1_000_000
# Aliases (*a) re-use nodes, so a small file can expand to billions of values ("billion
# laughs"); no real spec comes near this many values once aliases are expanded.
MAX_SPEC_VALUES = 100_000


@dataclass
class Located:
    """Parsed YAML data plus the 1-based line of every path inside it."""

    data: Any
    lines: dict[Path, int] = field(default_factory=dict)
    source: dict[Path, str] = field(default_factory=dict)
    file: str = "<spec>"

    def line_of(self, path: Path) -> int | None:
        """Line of ``path``, or of its nearest ancestor that has one."""
        path = tuple(path)
        while True:
            if path in self.lines:
                return self.lines[path]
            if not path:
                return None
            path = path[:-1]


def dotted(path: Path) -> str:
    """``("teams", "fraud", "stages", 0)`` -> ``teams.fraud.stages[0]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _compose(text: str) -> yaml.Node | None:
    """The node graph; libyaml's parser when PyYAML has it (large specs parse several times
    faster), but any syntax error is re-raised by the pure-Python parser so the reported
    message and line are the same with or without libyaml."""
    fast = getattr(yaml, "CSafeLoader", None)
    if fast is not None:
        try:
            node: yaml.Node | None = yaml.compose(text, Loader=fast)
            return node
        except yaml.YAMLError:
            pass
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    return node


def load_yaml(text: bytes | str, file: str) -> Located:
    """Parse one YAML document into plain data with a line map.

    Raises:
        SpecError: empty, binary, oversized or syntactically broken input, duplicate keys,
            merge keys and non-string mapping keys, one problem per finding.
    """
    if isinstance(text, bytes):
        if len(text) > MAX_SPEC_BYTES:
            raise SpecError(
                [
                    Problem(
                        file,
                        None,
                        "",
                        f"file is too large for an org spec (got {len(text)} bytes, expected at most {MAX_SPEC_BYTES})",
                    )
                ]
            )
        if b"\x00" in text:
            raise SpecError([Problem(file, None, "", "file is binary, not YAML (it contains NUL bytes)")])
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SpecError(
                [Problem(file, None, "", f"file is not UTF-8 text (invalid byte at offset {exc.start})")]
            ) from None
    if len(text) > MAX_SPEC_BYTES:
        raise SpecError(
            [
                Problem(
                    file,
                    None,
                    "",
                    f"file is too large for an org spec (got {len(text)} characters, expected at most "
                    f"{MAX_SPEC_BYTES})",
                )
            ]
        )
    try:
        node = _compose(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        what = exc.problem or exc.context or "invalid YAML"
        if exc.context and what.startswith("but "):  # "but found another document" needs its context
            what = f"{exc.context} {what}"
        raise SpecError([Problem(file, line, "", f"YAML syntax error: {what}")]) from None
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        char = exc.character if isinstance(exc.character, str) else chr(exc.character)
        raise SpecError(
            [
                Problem(
                    file,
                    line,
                    "",
                    f"character {char!r} is not allowed in YAML (got U+{ord(char):04X} at offset {exc.position}; "
                    "remove it)",
                )
            ]
        ) from None
    except yaml.YAMLError as exc:  # pragma: no cover - PyYAML raises marked errors in practice
        raise SpecError([Problem(file, None, "", f"YAML error: {exc}")]) from None
    if node is None:
        raise SpecError([Problem(file, None, "", "file is empty (expected an org spec mapping)")])
    located = Located(data=None, file=file)
    problems: list[Problem] = []
    try:
        located.data = _build(node, (), located, problems, [0])
    except _TooManyValues:
        raise SpecError(
            [
                Problem(
                    file,
                    None,
                    "",
                    f"YAML aliases expand to more than {MAX_SPEC_VALUES} values (expected a spec without alias bombs)",
                )
            ]
        ) from None
    if problems:
        raise SpecError(problems)
    return located


_constructor = yaml.SafeLoader("")


# Tags the safe loader resolves implicitly for plain YAML (and "!" on quoted scalars).
_PLAIN_TAGS = frozenset(
    f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "map", "seq", "timestamp", "merge")
)


class _TooManyValues(Exception):
    """The node graph expands (through aliases) beyond MAX_SPEC_VALUES."""


def _build(node: yaml.Node, path: Path, located: Located, problems: list[Problem], count: list[int]) -> Any:
    count[0] += 1
    if count[0] > MAX_SPEC_VALUES:
        raise _TooManyValues
    located.lines.setdefault(path, node.start_mark.line + 1)
    if node.tag not in _PLAIN_TAGS:
        # Explicit tags (!!python/object, !Ref, ...) mean something to some other loader; in a
        # spec they are either a mistake or an attempt to smuggle behaviour in.
        problems.append(
            Problem(
                located.file,
                node.start_mark.line + 1,
                dotted(path),
                f"YAML tag {node.tag.replace('tag:yaml.org,2002:', '!!')!r} is not allowed (expected plain YAML "
                "values)",
            )
        )
        return None
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if key_node.tag == "tag:yaml.org,2002:merge":
                problems.append(
                    Problem(
                        located.file, line, dotted(path), "YAML merge keys (<<) are not supported; write the keys out"
                    )
                )
                continue
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != "tag:yaml.org,2002:str":
                shown = key_node.value if isinstance(key_node, yaml.ScalarNode) else "a collection"
                problems.append(
                    Problem(located.file, line, dotted(path), f"mapping keys must be strings (got {shown!r}; quote it)")
                )
                continue
            key = key_node.value
            if key in out:
                problems.append(
                    Problem(
                        located.file,
                        line,
                        dotted(path + (key,)),
                        f"duplicate key {key!r} (first defined on line {located.lines[path + (key,)]})",
                    )
                )
                continue
            located.lines[path + (key,)] = line
            out[key] = _build(value_node, path + (key,), located, problems, count)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, path + (i,), located, problems, count) for i, item in enumerate(node.value)]
    if node.tag != "tag:yaml.org,2002:str":
        located.source[path] = node.value  # the text as written, e.g. 0123 before YAML made it 83
    try:
        return _constructor.construct_object(node, deep=True)  # type: ignore[no-untyped-call]
    except yaml.YAMLError as exc:
        problems.append(
            Problem(
                located.file,
                node.start_mark.line + 1,
                dotted(path),
                f"cannot read value: {getattr(exc, 'problem', exc)}",
            )
        )
        return None
