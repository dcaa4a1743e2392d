"""Which stacks a change touches: the generated tree at a git ref against the working tree.

A pull request that changes one team should plan that team's stacks, not the whole org.
``generated/`` is committed, so the base of the pull request already holds every stack's
generated files; a stack is *affected* when any file under its directory
(``stacks/<name>/``: ``cdk.tf.json`` and its assets) differs, when it is new, or when it left
the spec (it is then planned as a destroy). Files outside the stack directories (the
manifests, the product templates) change no plan by themselves: product templates are
inlined into the hub stack, so a template change shows up as a change of that stack.

Git is read through its own command line (``git ls-tree`` for the blob ids at the ref,
``git show`` for the ref's manifest); the working tree's files are hashed the way git hashes
blobs, so nothing is written to the repository and no index refresh is needed.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlgov.errors import MlgovError
from mlgov.platform import naming
from mlgov.platform.manifest import MANIFEST_PATH, stack_ranks

STACKS_DIR = "stacks"
AFFECTED_FILE = "mlgov-affected.json"  # written beside the plans by `plan --changed-since`
STATUSES = ("changed", "added", "removed")


def _plan_role_arn(entry: dict[str, Any]) -> str:
    """A manifest entry's plan role; a manifest written before the plan role existed (a removed
    stack's, read from the base) names the Terraform role only, and the plan role is named from it."""
    if entry.get("plan_role_arn"):
        return str(entry["plan_role_arn"])
    role = str(entry.get("role_arn", ""))
    return f"{role}{naming.TERRAFORM_PLAN_SUFFIX}" if role else ""


@dataclass(frozen=True)
class AffectedStack:
    """One stack whose generated files differ between the ref and the working tree."""

    name: str
    status: str  # changed | added | removed
    rank: int  # 0 first; a stack's dependencies all have lower ranks
    files: tuple[str, ...]  # paths under generated/ that differ
    account: str = ""
    account_id: str = ""
    region: str = ""
    role_arn: str = ""
    plan_role_arn: str = ""  # the account's read-only plan role (the pull request's plan runs as it)
    depends_on: tuple[str, ...] = ()
    renamed_from: str = ""  # the stack whose state this one continues (an account's renamed_from)

    @property
    def destroy(self) -> bool:
        return self.status == "removed"

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "destroy": self.destroy,
            "rank": self.rank,
            "account": self.account,
            "account_id": self.account_id,
            "region": self.region,
            "role_arn": self.role_arn,
            "plan_role_arn": self.plan_role_arn,
            "depends_on": list(self.depends_on),
            "directory": f"{STACKS_DIR}/{self.name}",
            "files": list(self.files),
            "renamed_from": self.renamed_from,
        }


@dataclass(frozen=True)
class Affected:
    """The stacks a change touches, in deployment order, and the ones it leaves alone."""

    ref: str  # as given
    commit: str  # what it resolved to
    stacks: list[AffectedStack]
    unchanged: list[str]
    other_files: list[str] = field(default_factory=list)  # differing paths outside stacks/

    def names(self, *statuses: str) -> list[str]:
        wanted = statuses or STATUSES
        return [s.name for s in self.stacks if s.status in wanted]

    def as_json(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "commit": self.commit,
            "stacks": [s.as_json() for s in self.stacks],
            "plan": self.names("changed", "added"),
            "destroy": self.names("removed"),
            "unchanged": list(self.unchanged),
            "other_files": list(self.other_files),
            "ranks": sorted({s.rank for s in self.stacks}),
        }

    def text(self) -> str:
        lines = [
            f"{s.status:<8} rank {s.rank}  {s.name}"
            + (f" (was {s.renamed_from}: same state)" if s.renamed_from else "")
            for s in self.stacks
        ]
        lines.append(
            f"{len(self.stacks)} affected stack(s) since {self.ref} ({self.commit[:12]}); "
            f"{len(self.unchanged)} with no configuration change"
        )
        return "\n".join(lines) + "\n"


def _git(repo: Path, *args: str) -> bytes:
    proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, check=False)
    if proc.returncode != 0:
        message = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise MlgovError(
            f"git {' '.join(args[:2])} failed: {message[-1] if message else 'exit ' + str(proc.returncode)}"
        )
    return proc.stdout


def _blob_id(data: bytes, algorithm: str) -> str:
    """The id git gives a blob with these bytes (``git hash-object``)."""
    digest = hashlib.new(algorithm)
    digest.update(b"blob %d\0" % len(data))
    digest.update(data)
    return digest.hexdigest()


def tree_at_ref(repo: Path, ref: str, prefix: str) -> tuple[str, dict[str, str]]:
    """(commit, {path under prefix: blob id}) of the tree at ``ref``; empty when it has no prefix."""
    try:
        commit = _git(repo, "rev-parse", "--verify", "--end-of-options", f"{ref}^{{commit}}").decode().strip()
    except MlgovError:
        raise MlgovError(f"{ref}: not a commit of the repository at {repo}") from None
    listing = _git(repo, "ls-tree", "-r", "-z", "--full-tree", commit, "--", prefix)
    blobs = {}
    for entry in listing.split(b"\0"):
        if not entry:
            continue
        meta, _, path = entry.partition(b"\t")
        mode, kind, oid = meta.split()
        if kind != b"blob" or mode == b"120000":
            continue
        rel = path.decode("utf-8")[len(prefix) :].lstrip("/")
        blobs[rel] = oid.decode()
    return commit, blobs


def working_tree(generated: Path, algorithm: str) -> dict[str, str]:
    """{path under ``generated``: blob id} of the files there now."""
    if not generated.is_dir():
        return {}
    return {
        p.relative_to(generated).as_posix(): _blob_id(p.read_bytes(), algorithm)
        for p in sorted(generated.rglob("*"))
        if p.is_file()
    }


def stack_of(path: str) -> str | None:
    """``stacks/<name>/...`` -> ``<name>``; None for files outside the stack directories."""
    parts = path.split("/")
    return parts[1] if len(parts) >= 3 and parts[0] == STACKS_DIR else None


def _stack_entry(manifest: dict[str, Any], name: str) -> dict[str, Any]:
    return next((s for s in manifest.get("stacks", []) if s["name"] == name), {})


def affected(generated: Path, ref: str) -> Affected:
    """Compare ``generated`` (a directory inside a git work tree) with the same path at ``ref``."""
    generated = generated.resolve()
    if not generated.is_dir():
        raise MlgovError(f"{generated}: not a directory (run synth first)")
    repo = Path(_git(generated, "rev-parse", "--show-toplevel").decode().strip())
    prefix = generated.relative_to(repo.resolve()).as_posix()
    algorithm = "sha256" if _git(repo, "rev-parse", "--show-object-format").decode().strip() == "sha256" else "sha1"
    commit, before = tree_at_ref(repo, ref, prefix)
    now = working_tree(generated, algorithm)
    differing = sorted(p for p in set(before) | set(now) if before.get(p) != now.get(p))

    new_manifest = json.loads((generated / MANIFEST_PATH).read_text()) if (generated / MANIFEST_PATH).is_file() else {}
    old_manifest: dict[str, Any] = {}
    if MANIFEST_PATH in before:
        old_manifest = json.loads(_git(repo, "cat-file", "blob", before[MANIFEST_PATH]))
    new_ranks, old_ranks = stack_ranks(new_manifest), stack_ranks(old_manifest)

    stacks_before = {s for p in before if (s := stack_of(p))}
    stacks_now = {s for p in now if (s := stack_of(p))}
    files_of: dict[str, list[str]] = {}
    other = []
    for path in differing:
        name = stack_of(path)
        if name is None:
            other.append(path)
        else:
            files_of.setdefault(name, []).append(path)

    # A stack of a renamed account keeps the state of the stack it was: that one did not leave
    # the spec (no destroy), and the new name is a change of an existing state, not an addition.
    new_states = {key: s["name"] for s in new_manifest.get("stacks", []) if (key := s.get("backend", {}).get("key"))}
    continued = {
        new_states[key]: s["name"]
        for s in old_manifest.get("stacks", [])
        if (key := s.get("backend", {}).get("key")) in new_states and new_states[key] != s["name"]
    }
    result = []
    for name, files in files_of.items():
        if name not in stacks_now and name in continued.values():
            continue
        if name not in stacks_now:
            status, entry, rank = "removed", _stack_entry(old_manifest, name), old_ranks.get(name, 0)
        else:
            status = "added" if name not in stacks_before and name not in continued else "changed"
            entry, rank = _stack_entry(new_manifest, name), new_ranks.get(name, 0)
        result.append(
            AffectedStack(
                name=name,
                status=status,
                rank=rank,
                files=tuple(files),
                account=entry.get("account", ""),
                account_id=entry.get("account_id", ""),
                region=entry.get("region", ""),
                role_arn=entry.get("role_arn", ""),
                plan_role_arn=_plan_role_arn(entry),
                depends_on=tuple(entry.get("depends_on", [])),
                renamed_from=continued.get(name, ""),
            )
        )
    result.sort(key=lambda s: (s.rank, s.name))
    unchanged = sorted(stacks_now - set(files_of))
    return Affected(ref=ref, commit=commit, stacks=result, unchanged=unchanged, other_files=other)


def materialize_removed(generated: Path, result: Affected, name: str, into: Path) -> Path:
    """Write the ref's copy of a removed stack's directory into ``into/<name>`` (to plan its destroy)."""
    generated = generated.resolve()
    repo = Path(_git(generated, "rev-parse", "--show-toplevel").decode().strip())
    prefix = f"{generated.relative_to(repo.resolve()).as_posix()}/{STACKS_DIR}/{name}"
    _, blobs = tree_at_ref(repo, result.commit, prefix)
    if not blobs:
        raise MlgovError(f"stack {name} is not in {result.ref}")
    target = into / name
    for rel, oid in blobs.items():
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(_git(repo, "cat-file", "blob", oid))
    return target
