"""Which files of an output directory mlgov wrote, so a write never touches anything else.

``synth --out DIR`` (and ``CDKTF_OUTDIR``, and ``plan``'s workspaces) may point anywhere: at
``.``, at a home directory, at a checkout. mlgov therefore writes only into a directory that
does not exist, is empty, or that it wrote before, recognised by its marker file
(:data:`MARKER`, the sorted list of the files it wrote; committed with ``generated/``) or, for
trees written before the marker existed, by ``mlgov-manifest.json``. Inside such a directory
it replaces and removes only the files it recorded; anything else is foreign and is kept, and
a generated path that would land on a foreign file, a symlink or a directory is refused.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from mlgov.errors import MlgovError
from mlgov.platform.canonical import Tree
from mlgov.platform.manifest import ATLANTIS_PATH, MANIFEST_PATH

MARKER = "mlgov-files.txt"
MARKER_HEADER = "# Files `mlgov synth` wrote here; it rewrites or removes only these. Do not edit.\n"
# cdktf's own manifest, always beside the stacks.
CDKTF_MANIFEST = "manifest.json"


class UnsafeOutput(MlgovError):
    """The output directory holds something mlgov did not write where it would write."""


def marker_bytes(paths: list[str] | set[str]) -> bytes:
    """The marker's content: a header and the sorted relative paths (deterministic)."""
    return (MARKER_HEADER + "".join(f"{p}\n" for p in sorted(set(paths) - {MARKER}))).encode("utf-8")


def with_marker(tree: Tree) -> Tree:
    """``tree`` plus its marker, in path order; idempotent."""
    files = {rel: data for rel, data in tree.items() if rel != MARKER}
    files[MARKER] = marker_bytes(list(files))
    return dict(sorted(files.items()))


@dataclass(frozen=True)
class Entry:
    """One non-directory entry (or empty directory) under the output directory."""

    rel: str
    kind: str  # file | symlink | other | empty-dir


def scan(out: Path) -> list[Entry]:
    """Every file, symlink, special file and empty directory under ``out``; symlinks are never followed."""
    entries = []
    for root, dirs, files in os.walk(out, followlinks=False):
        base = Path(root)
        for name in list(dirs):
            if (base / name).is_symlink():
                dirs.remove(name)
                files.append(name)
        if not dirs and not files and base != out:
            entries.append(Entry(base.relative_to(out).as_posix(), "empty-dir"))
        for name in files:
            path = base / name
            kind = "symlink" if path.is_symlink() else "file" if path.is_file() else "other"
            entries.append(Entry(path.relative_to(out).as_posix(), kind))
    return sorted(entries, key=lambda e: e.rel)


def _safe_rel(rel: str) -> bool:
    parts = PurePosixPath(rel).parts
    return bool(parts) and not PurePosixPath(rel).is_absolute() and ".." not in parts and "." not in parts


def _recorded(out: Path, entries: list[Entry]) -> set[str] | None:
    """The paths mlgov recorded as its own in ``out``, or None when mlgov never wrote there."""
    regular = {e.rel for e in entries if e.kind == "file"}
    if MARKER in regular:
        lines = (out / MARKER).read_text(encoding="utf-8", errors="replace").splitlines()
        return {line for line in lines if line and not line.startswith("#") and _safe_rel(line)} | {MARKER}
    if MANIFEST_PATH in regular:
        # Written before the marker existed: the layout mlgov has always written.
        try:
            doc = json.loads((out / MANIFEST_PATH).read_text(encoding="utf-8"))
            stacks = [s for s in doc["order"] if isinstance(s, str) and "/" not in s and s not in {"", ".", ".."}]
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            return None
        top = {MANIFEST_PATH, CDKTF_MANIFEST, ATLANTIS_PATH}
        return {
            rel
            for rel in regular
            if rel in top or rel.startswith("products/") or any(rel.startswith(f"stacks/{s}/") for s in stacks)
        }
    return None


@dataclass(frozen=True)
class Ownership:
    """What a write into ``out`` may touch."""

    out: Path
    owned: frozenset[str]  # regular files mlgov wrote (existing)
    foreign: tuple[Entry, ...]  # everything else

    @property
    def exclusive(self) -> bool:
        """Nothing foreign: the whole directory may be exchanged for a new one."""
        return not self.foreign


def inspect(out: Path, keep: tuple[str, ...] = ()) -> Ownership:
    """Decide whether mlgov may write into ``out``; raise :class:`UnsafeOutput` (one line) if not.

    ``keep``: top-level names whose content is never mlgov's and never a reason to refuse (a
    repository's ``.git`` when the seed is written into a fresh clone); they stay foreign, so
    the directory is then written in place, never exchanged.
    """
    if out.exists() and not out.is_dir():
        raise UnsafeOutput(f"refusing to write into {out}: it exists and is not a directory")
    if not out.exists():
        return Ownership(out, frozenset(), ())
    scanned = scan(out)
    kept = tuple(e for e in scanned if e.rel.split("/")[0] in keep)
    entries = [e for e in scanned if e not in kept]
    if not entries:
        return Ownership(out, frozenset(), kept)
    recorded = _recorded(out, entries)
    if recorded is None:
        raise UnsafeOutput(
            f"refusing to write into {out}: it holds files mlgov did not write (e.g. {entries[0].rel}); "
            f"use a new or empty directory, or one mlgov wrote (it holds {MARKER})"
        )
    owned = frozenset(e.rel for e in entries if e.kind == "file" and e.rel in recorded)
    return Ownership(out, owned, tuple(e for e in entries if e.rel not in owned) + kept)


def check_targets(ownership: Ownership, tree: Tree) -> None:
    """Refuse when a generated path would overwrite, or write through, something foreign."""
    out = ownership.out
    for rel in tree:
        if not _safe_rel(rel):
            raise UnsafeOutput(f"refusing to write {rel!r}: not a plain relative path")
        path = out
        parts = PurePosixPath(rel).parts
        for i, part in enumerate(parts):
            path = path / part
            last = i == len(parts) - 1
            if path.is_symlink():
                raise UnsafeOutput(f"refusing to write {out}/{rel}: {out}/{'/'.join(parts[: i + 1])} is a symlink")
            if not path.exists():
                break
            if not last and not path.is_dir():
                raise UnsafeOutput(f"refusing to write {out}/{rel}: {path} is not a directory mlgov wrote")
            # A file mlgov did not record is left alone unless it already holds exactly the bytes
            # mlgov would write (e.g. a git merge brought in another branch's generated files):
            # writing it then changes nothing.
            if last and rel not in ownership.owned and not _holds(path, tree[rel]):
                raise UnsafeOutput(f"refusing to overwrite {out}/{rel}: mlgov did not write it")


def _holds(path: Path, data: bytes) -> bool:
    """Whether the regular file at ``path`` holds exactly ``data``."""
    try:
        return path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data
    except OSError:
        return False
