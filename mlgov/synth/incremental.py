"""Team stacks synthesized from their team's view of the spec, and a cache of what they give.

A team's stacks (its dev account's stacks, its slices of the hub and of shared stage accounts,
and the core stacks of stage accounts only it deploys to) are synthesized from :func:`view`:
the spec with every other team, and every other team's dev account, left out. Their files are
therefore a function of that view alone, never of the rest of the org, which is what makes a
cache of them sound: :func:`stack_keys` hashes
exactly what the view holds (plus the stack, mlgov's own files and the installed cdktf and
provider versions), and :class:`Cache` keeps each stack's synthesized files under that key.
A pull request that changes one team then synthesizes that team's stacks and the few core
stacks (which read the whole org and are never cached), and takes the rest from the cache.

``tests/test_incremental.py`` proves the view changes no byte: every team stack of the shipped
specs synthesized from the whole spec and from its view is the same file. The cache lives
outside the output directory and holds bytes an earlier synth produced from the same inputs,
so ``synth --check`` still compares freshly produced bytes against ``generated/`` (a
hand-edited file is drift whatever the cache holds). It is opt-in (``--cache DIR`` or
``$MLGOV_SYNTH_CACHE``); customization plugins (:mod:`mlgov.synth.plugins`) see the whole
spec, so with plugins installed every stack is synthesized from the whole spec, uncached.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

from mlgov.errors import MlgovError
from mlgov.platform.templates import USER_RELEASED, USER_TEMPLATES
from mlgov.spec.model import Layer, OrgSpec, StackRef

CACHE_ENV = "MLGOV_SYNTH_CACHE"
# Bump when the layout of a cache entry changes.
FORMAT = 1
PACKAGE_ROOT = Path(__file__).resolve().parents[1]
# Installed packages whose code shapes the synthesized JSON besides mlgov's own.
DISTRIBUTIONS = ("cdktf", "constructs", "cdktf-cdktf-provider-aws", "jsii")


def stack_team(spec: OrgSpec, ref: StackRef) -> str | None:
    """The team whose stack ``ref`` is (a slice, a dev account's stack, or the core stack of a
    test or prod account only that team deploys to), else None."""
    if ref.team is not None:
        return ref.team
    if ref.layer == Layer.dev:
        owners = spec.dev_owners.get(ref.account, ())
    elif ref.layer in (Layer.test, Layer.prod):
        # A stage account's core stack reads the teams deploying there: with one, it is that
        # team's (each team its own test and prod accounts, as in gen-large-org).
        owners = spec.staged_teams.get(ref.account, ())
    else:
        return None
    return owners[0] if len(owners) == 1 else None  # a dev account has at most one owner; none: unused


def view(spec: OrgSpec, team: str) -> OrgSpec:
    """``spec`` as one team's stacks see it: the other teams and their dev accounts left out."""
    others = {t.dev_account for name, t in spec.teams.items() if name != team}
    return spec.model_copy(
        update={
            "teams": {team: spec.teams[team]},
            "accounts": {key: account for key, account in spec.accounts.items() if key not in others},
        }
    )


def spec_for(spec: OrgSpec, ref: StackRef) -> OrgSpec:
    """The spec stack ``ref`` is synthesized from: its team's view, or the whole spec."""
    team = stack_team(spec, ref)
    return spec if team is None else view(spec, team)


def _digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """mlgov's own files (code, templates, Node hooks, shipped functions) and the versions of
    the installed packages that shape the output."""
    h = hashlib.sha256()
    for path in sorted(p for p in PACKAGE_ROOT.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        h.update(path.relative_to(PACKAGE_ROOT).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    for name in DISTRIBUTIONS:
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            version = "-"
        h.update(f"{name}={version}\0".encode())
    return h.hexdigest()


def _home_fingerprint(spec: OrgSpec) -> str:
    """The user's templates and released copies beside the spec (read by some renderers)."""
    h = hashlib.sha256()
    if spec.home is not None:
        for folder in (spec.home / USER_TEMPLATES, spec.home / USER_RELEASED):
            for path in sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else ():
                h.update(path.relative_to(spec.home).as_posix().encode() + b"\0")
                h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def stack_keys(spec: OrgSpec, refs: list[StackRef]) -> dict[str, str]:
    """The cache key of each team stack in ``refs`` (core stacks have none: never cached).

    A key hashes what :func:`view` holds without building it per stack: the spec minus all
    teams and their dev accounts (once), the team, its dev account, and the stack itself."""
    dev_accounts = {t.dev_account for t in spec.teams.values()}
    dump = spec.model_dump(mode="json")
    common = _digest(
        {key: value for key, value in dump.items() if key not in ("teams", "accounts")},
        {key: value for key, value in dump["accounts"].items() if key not in dev_accounts},
        code_fingerprint(),
        _home_fingerprint(spec),
        FORMAT,
    )
    keys = {}
    for ref in refs:
        team = stack_team(spec, ref)
        if team is not None:
            dev = spec.teams[team].dev_account
            keys[ref.name] = _digest(common, list(ref), team, dump["teams"][team], dev, dump["accounts"].get(dev))
    return keys


@dataclass(frozen=True)
class StackResult:
    """One synthesized stack: its canonical files, cdktf manifest entry and version, resources."""

    files: dict[str, bytes]
    manifest: dict
    version: str
    resources: int


class Cache:
    """Synthesized team stacks by key, one JSON file each under ``root`` (created on first write)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> StackResult | None:
        """The entry for ``key``; None when there is none or it cannot be read."""
        try:
            entry = json.loads(self._path(key).read_text(encoding="utf-8"))
            if entry.get("key") != key or entry.get("format") != FORMAT:
                return None
            files = {rel: base64.b64decode(data) for rel, data in entry["files"].items()}
            return StackResult(files, entry["manifest"], entry["version"], int(entry["resources"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put(self, key: str, result: StackResult) -> None:
        """Store ``result`` under ``key`` (atomically: a reader sees the whole entry or none)."""
        entry = {
            "format": FORMAT,
            "key": key,
            "files": {rel: base64.b64encode(data).decode() for rel, data in sorted(result.files.items())},
            "manifest": result.manifest,
            "version": result.version,
            "resources": result.resources,
        }
        target = self._path(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{key}.", dir=target.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(entry, handle, sort_keys=True)
            os.replace(tmp, target)
        except OSError as exc:
            raise MlgovError(f"synth cache {self.root}: cannot write ({exc.strerror or exc})") from exc


def cache_path(option: Path | None, environ: dict[str, str] | None = None) -> Path | None:
    """The directory ``--cache`` names, else ``$MLGOV_SYNTH_CACHE``, else None (no cache, the default)."""
    environ = dict(os.environ) if environ is None else environ
    if option is None and environ.get(CACHE_ENV, "").strip():
        option = Path(environ[CACHE_ENV].strip())
    return option


def cache_from(option: Path | None, environ: dict[str, str] | None = None) -> Cache | None:
    """The cache :func:`cache_path` names, or None."""
    option = cache_path(option, environ)
    if option is None:
        return None
    if option.exists() and not option.is_dir():
        raise MlgovError(f"synth cache {option}: not a directory")
    return Cache(option)
