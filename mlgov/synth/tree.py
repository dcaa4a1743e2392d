"""Render the whole generated tree in memory, then write it atomically or compare it.

The tree is ``{relative path: bytes}``: cdktf's own layout (``manifest.json``,
``stacks/<stack>/cdk.tf.json``) plus whatever other renderers contribute (product templates,
manifests), plus the marker listing them (:mod:`mlgov.synth.outdir`). Rendering never touches
the output directory; writing swaps a fully rendered temporary directory in, so a failed or
killed run leaves the previous ``generated/`` intact, and never replaces or removes a file
mlgov did not write.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import difflib
import os
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from mlgov.errors import MlgovError
from mlgov.platform import bootstrap
from mlgov.platform.canonical import Tree
from mlgov.platform.catalog import render_products
from mlgov.platform.governance import render_assets
from mlgov.platform.manifest import dependencies, render_manifest
from mlgov.platform.workflows import render_workflows
from mlgov.spec.model import OrgSpec
from mlgov.synth import customize, outdir, pool
from mlgov.synth.incremental import Cache
from mlgov.synth.stacks import StackSummary


def synth_stacks(
    spec: OrgSpec,
    jobs: int | None = None,
    progress: pool.Progress | None = None,
    cache: Cache | None = None,
    with_bootstrap: bool = False,
    warm: pool.Warmup | None = None,
) -> tuple[Tree, list[StackSummary]]:
    """Synthesize every stack with cdktf and canonicalize.

    Each stack is synthesized in its own cdktf ``App``: small specs one after the other in this
    process, large ones over worker processes (``mlgov.synth.pool``), ``jobs`` deciding how
    many (None: automatic, by the number of stacks left to synthesize). ``progress(stack,
    resources)`` is called as each stack is done. ``cache``: team stacks synthesized before
    from the same inputs are taken from it (:mod:`mlgov.synth.incremental`). ``with_bootstrap``:
    the tree also holds :func:`mlgov.synth.pool.bootstrap_tree`'s file, synthesized by a worker when there are
    workers (the parent then starts no jsii runtime of its own). ``warm``: workers started while
    the spec was checked (:class:`mlgov.synth.pool.Warmup`).
    """
    refs = spec.stack_refs()
    cached = pool.lookup(spec, refs, cache)
    workers = pool.resolve_jobs(jobs, len(refs) - len(cached.hits))
    report = progress or (lambda name, resources: None)
    if workers > 1:
        tree, counts = pool.synth_parallel(
            spec, refs, workers, dependencies(spec), report, cached, with_bootstrap, warm
        )
    else:
        tree, counts = pool.synth_serial(spec, refs, dependencies(spec), report, cached)
        if with_bootstrap:
            tree.update(pool.bootstrap_tree(spec))
    summaries = [StackSummary(ref.name, stack_path(ref.name), counts[ref.name]) for ref in refs]
    return tree, summaries


def stack_path(name: str) -> str:
    """Where stack ``name`` lands in the output directory (cdktf's layout)."""
    return f"stacks/{name}/cdk.tf.json"


def extra_renderers() -> dict[str, Callable[[OrgSpec], Tree]]:
    """Renderers that add files beside the stacks, by name; each a pure function spec -> Tree.

    Listed here explicitly (not self-registered on import) so what ends up in generated/
    is visible in one place and the order is fixed.
    """
    return {
        "bootstrap": bootstrap.render_bootstrap,
        "governance-assets": render_assets,
        "manifest": render_manifest,
        "products": render_products,
        "workflows": render_workflows,
    }


def render(
    spec: OrgSpec,
    jobs: int | None = None,
    progress: pool.Progress | None = None,
    cache: Cache | None = None,
    warm: pool.Warmup | None = None,
) -> tuple[Tree, list[StackSummary]]:
    """The complete generated tree for ``spec`` (``jobs``, ``progress``, ``cache``, ``warm``: see
    :func:`synth_stacks`).

    The account customizations beside the spec (:mod:`mlgov.synth.customize`) are merged into
    their stacks. The other renderers run in a thread meanwhile: they are pure Python and touch
    no jsii object, and synthesis spends most of its time waiting on Node or on worker processes.
    """
    renderers = extra_renderers()
    customizations = customize.load_all(spec)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="mlgov-render") as pool:
        extras = pool.submit(lambda: {name: renderers[name](spec) for name in sorted(renderers)})
        tree, summaries = synth_stacks(spec, jobs, progress, cache, with_bootstrap=True, warm=warm)
        rendered = extras.result()
    tree = customize.apply(tree, customizations)
    for name, files in rendered.items():
        for rel, data in files.items():
            if rel in tree:
                raise MlgovError(f"renderer {name!r} would overwrite {rel}")
            tree[rel] = data
    return outdir.with_marker(tree), summaries


def read_tree(out: Path) -> Tree:
    """The files currently under ``out`` (empty if it does not exist)."""
    if not out.exists():
        return {}
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


@dataclass(frozen=True)
class Drift:
    """Differences between a rendered tree and a directory."""

    added: list[str]
    removed: list[str]
    changed: list[str]

    @property
    def clean(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def lines(self) -> list[str]:
        return (
            [f"missing  {p}" for p in self.added]
            + [f"stale    {p}" for p in self.removed]
            + [f"differs  {p}" for p in self.changed]
        )


def compare(tree: Tree, current: Tree) -> Drift:
    """What writing ``tree`` would change in a directory holding ``current``."""
    return Drift(
        added=sorted(set(tree) - set(current)),
        removed=sorted(set(current) - set(tree)),
        changed=sorted(p for p in set(tree) & set(current) if tree[p] != current[p]),
    )


def unified_diff(tree: Tree, current: Tree, drift: Drift, out_name: str) -> str:
    """A unified diff from the directory's content to the rendered content."""
    chunks: list[str] = []
    for rel in sorted(drift.added + drift.removed + drift.changed):
        old = current.get(rel, b"").decode("utf-8", "replace").splitlines(keepends=True)
        new = tree.get(rel, b"").decode("utf-8", "replace").splitlines(keepends=True)
        chunks.extend(difflib.unified_diff(old, new, f"{out_name}/{rel}", f"{out_name}/{rel} (rendered)"))
    return "".join(chunks)


def write_tree(tree: Tree, out: Path, current: Tree | None = None, keep: tuple[str, ...] = ()) -> bool:
    """Make ``out`` hold ``tree`` (plus its marker). Returns False when it already did.

    ``current``: what :func:`read_tree` returned for ``out`` just before, if the caller has it.
    ``keep``: top-level names inside ``out`` that are left alone (see :func:`mlgov.synth.outdir.inspect`).

    Only a directory mlgov may write into is touched (:func:`mlgov.synth.outdir.inspect`;
    otherwise :class:`~mlgov.synth.outdir.UnsafeOutput` and nothing changes). When ``out``
    holds nothing but mlgov's files, the new content is written to a sibling temporary
    directory and exchanged with ``out`` in one atomic ``renameat2(RENAME_EXCHANGE)`` where
    the OS offers it, so ``out`` is at every instant entirely old or entirely new. When it
    also holds foreign files, those stay: each generated file is replaced atomically in
    place and only files mlgov recorded are removed.
    """
    tree = outdir.with_marker(tree)
    out = out.resolve()
    ownership = outdir.inspect(out, keep)
    outdir.check_targets(ownership, tree)
    if current is None:
        current = {rel: (out / rel).read_bytes() for rel in ownership.owned}
    owned_current = {rel: data for rel, data in current.items() if rel in ownership.owned}
    if compare(tree, owned_current).clean and out.is_dir():
        return False
    if ownership.exclusive:
        _write_swapped(tree, out)
    else:
        _write_in_place(tree, out, ownership)
    return True


def _write_swapped(tree: Tree, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.new-", dir=out.parent))
    try:
        for rel, data in tree.items():
            target = staging / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        if out.exists():
            _exchange(staging, out)  # staging now holds the old content
            shutil.rmtree(staging)
        else:
            os.rename(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _write_in_place(tree: Tree, out: Path, ownership: outdir.Ownership) -> None:
    """Replace generated files one by one beside foreign ones; remove only recorded stale files."""
    # Record the union first: a run killed half way leaves every file it wrote claimed.
    _replace_file(out / outdir.MARKER, outdir.marker_bytes(set(tree) | ownership.owned))
    for rel, data in tree.items():
        if rel != outdir.MARKER:
            _replace_file(out / rel, data)
    for rel in sorted(ownership.owned - set(tree)):
        (out / rel).unlink()
        parent = (out / rel).parent
        while parent != out and not any(parent.iterdir()):
            parent.rmdir()
            parent = parent.parent
    _replace_file(out / outdir.MARKER, tree[outdir.MARKER])


def _replace_file(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary sibling and rename it over ``path`` (atomic per file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_file() and not path.is_symlink() and path.read_bytes() == data:
        return
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _exchange(a: Path, b: Path) -> None:
    """Atomically swap two directories (Linux renameat2); falls back to two renames."""
    libc_name = ctypes.util.find_library("c")
    libc = ctypes.CDLL(libc_name, use_errno=True) if libc_name else None
    renameat2 = getattr(libc, "renameat2", None) if libc else None
    if renameat2 is not None:
        at_fdcwd, rename_exchange = -100, 2
        if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
            return
    # Not atomic, but the window is two syscalls long and the old tree is kept until the end.
    old = b.with_name(f".{b.name}.old-{os.getpid()}")
    os.rename(b, old)
    os.rename(a, b)
    os.rename(old, a)
