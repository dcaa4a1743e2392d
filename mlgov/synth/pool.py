"""Synthesize the stacks of a large spec in parallel worker processes.

Each jsii call is a synchronous round trip between Python and the jsii Node process, so one
process keeps about one core busy however many stacks there are. A large org (hundreds of
stacks) is therefore split over ``jobs`` worker processes, each with its own jsii runtime,
that take stacks one at a time from a shared queue (largest layers first, so no worker is left
holding the hub stack at the end). A worker synthesizes each stack in its own cdktf ``App``
(one App holding many stacks synthesizes more slowly than the same stacks one App each);
the parent merges what the workers return into the tree a single ``App`` would have written,
including cdktf's ``manifest.json`` with the inter-stack dependencies (``tests/test_synth_pool.py``
proves both ways give the same bytes).

When there is one worker per CPU this process may use, each worker (and the jsii Node process
it starts, which inherits it) is pinned to its own CPU: a jsii call is a ping-pong between the
two processes, and keeping both on one core spares the cross-core wake-ups (the 500-team
synth: about a tenth less wall time on 2 cores). With fewer workers than CPUs nothing is
pinned, so two synths on one machine never crowd onto the same cores while others idle.
:class:`Warmup` starts the workers while the parent is still running the spec's semantic
checks, which then costs no wall time of its own.

Workers run with ``python -O``: that turns off the jsii bindings' per-call argument type
checks (typeguard, about a quarter of the Python time per construct). The in-process path,
which the test suite uses, keeps them on.

Protocol (pipes, every message a length-prefixed pickle): the parent sends the validated spec
once, then stack names, then ``None``; a worker answers each name with ``("ok", name,
StackResult)`` or ``("error", name, message)``. Nothing is written to the output
directory here; the caller writes the merged tree atomically.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import selectors
import shutil
import struct
import subprocess
import sys
import tempfile
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from mlgov.errors import MlgovError
from mlgov.platform import bootstrap
from mlgov.platform.canonical import Tree, canonical_json
from mlgov.spec.model import Layer, OrgSpec, StackRef
from mlgov.synth import incremental, plugins, provider_loader
from mlgov.synth.incremental import Cache, StackResult
from mlgov.synth.stacks import canonical_tree, prepare_runtime, require_node, resource_count

ROOT = Path(__file__).resolve().parents[2]
JOBS_ENV = "MLGOV_SYNTH_JOBS"
# Below this many stacks one process is faster: a worker's start-up (jsii runtime, provider
# import) costs about as much as synthesizing ~20 small stacks.
PARALLEL_MIN_STACKS = 24
# A worker holds its own Python + Node (~0.5 GiB at 100 teams); more than this does not pay
# on the machines we measured and only adds memory.
MAX_JOBS = 4
STACKS_PER_JOB = 12
# Queue order: stacks expected to be largest first (longest-processing-time-first balancing).
LAYER_ORDER = {Layer.hub: 0, Layer.dev: 1, Layer.management: 2, Layer.test: 3, Layer.prod: 3, Layer.data: 3}
_HEADER = struct.Struct(">Q")
# The job that synthesizes the bootstrap's Terraform (no stack of the manifest; see
# mlgov.modules.bootstrap) in a worker, which has its jsii runtime running anyway: the parent
# then never starts one of its own. Stack names never start with ":".
BOOTSTRAP_JOB = ":bootstrap"

# Called once per stack as soon as it is synthesized: (stack name, resource count).
Progress = Callable[[str, int], None]


def _quiet(name: str, resources: int) -> None:
    """The default :data:`Progress`: say nothing."""


def affinity() -> list[int]:
    """The CPUs this process may run on ([] where the platform cannot say)."""
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return []


def cpu_count() -> int:
    """CPUs this process may run on (the affinity mask, not the machine's total)."""
    return len(affinity()) or os.cpu_count() or 1


def resolve_jobs(requested: int | None, stacks: int, environ=None) -> int:
    """Worker processes to use: ``requested``, else ``$MLGOV_SYNTH_JOBS``, else automatic.

    Automatic means one process for small specs and up to one worker per CPU (at most
    ``MAX_JOBS``, and at least ``STACKS_PER_JOB`` stacks each) for large ones. 1 means
    synthesize in this process.
    """
    environ = os.environ if environ is None else environ
    if requested is None and environ.get(JOBS_ENV, "").strip():
        raw = environ[JOBS_ENV].strip()
        if not raw.isdigit() or int(raw) < 1:
            raise MlgovError(f"{JOBS_ENV}={raw!r} is not a positive whole number")
        requested = int(raw)
    if requested is not None:
        if requested < 1:
            raise MlgovError(f"--jobs must be at least 1 (got {requested})")
        return max(1, min(requested, stacks))
    if stacks < PARALLEL_MIN_STACKS:
        return 1
    return max(1, min(cpu_count(), MAX_JOBS, stacks // STACKS_PER_JOB))


def queue_order(refs: list[StackRef]) -> list[StackRef]:
    """``refs`` in the order workers take them: hub first, then dev, management, test/prod, then
    the teams' slices of the shared accounts (small: they fill the gaps at the end)."""
    return sorted(refs, key=lambda ref: (ref.is_slice, LAYER_ORDER[ref.layer], ref.name))


# --- wire format ---------------------------------------------------------------------------


def _send(stream: IO[bytes], obj: Any) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def _recv(stream: IO[bytes]) -> Any:
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        raise EOFError("stream closed")
    size = _HEADER.unpack(header)[0]
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("stream closed mid-message")
    return pickle.loads(data)  # noqa: S301 - our own child process, over a private pipe


# --- parent --------------------------------------------------------------------------------


def pinned_cpus(count: int, cpus: list[int]) -> list[int] | None:
    """The CPU each of ``count`` workers is pinned to, or None (no pinning): only when there is
    exactly one worker per CPU of ``cpus`` (the affinity this process runs with)."""
    return sorted(cpus) if count > 1 and count == len(cpus) else None


class _Worker:
    """One worker process and the stack it is working on."""

    def __init__(self, cpu: int | None = None) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        self.stderr = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the worker; stop() closes it
        # The worker's cdktf output directory; removed here, as a killed worker cannot.
        self.outdir = tempfile.mkdtemp(prefix="mlgov-synth-")
        self.proc = subprocess.Popen(
            [sys.executable, "-O", "-m", "mlgov.synth.pool", self.outdir, *([] if cpu is None else [str(cpu)])],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            env=env,
            cwd=ROOT,
        )
        self.current: str | None = None

    def start(self, spec_blob: bytes, name: str | None) -> None:
        """Send the spec (blocks until the worker has started reading) and the first stack."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(_HEADER.pack(len(spec_blob)) + spec_blob)
        self.give(name)

    def give(self, name: str | None) -> None:
        self.current = name
        assert self.proc.stdin is not None
        _send(self.proc.stdin, name)
        if name is None:
            self.proc.stdin.close()

    def stderr_tail(self, lines: int = 15) -> str:
        self.stderr.seek(0)
        text = self.stderr.read().decode("utf-8", "replace").strip().splitlines()
        return "\n".join(text[-lines:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None and not stream.closed:
                stream.close()
        self.stderr.close()
        shutil.rmtree(self.outdir, ignore_errors=True)


def _manifest(manifest_stacks: dict[str, dict], dependencies: dict[str, list[str]], version: str | None) -> bytes:
    """cdktf's ``manifest.json`` as one ``App`` holding every stack, with ``add_dependency``
    calls for ``dependencies`` (stack -> stacks it follows), would have written it."""
    stacks = {
        name: dict(entry, dependencies=list(dependencies.get(name, [])))
        for name, entry in sorted(manifest_stacks.items())
    }
    return canonical_json({"stacks": stacks, "version": version})


@dataclass(frozen=True)
class Lookup:
    """What a cache held for a synth: the stacks it had, and the key of every cacheable stack."""

    cache: Cache | None = None
    hits: dict[str, StackResult] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)

    def store(self, name: str, result: StackResult) -> None:
        if self.cache is not None and name in self.keys:
            self.cache.put(self.keys[name], result)


def lookup(spec: OrgSpec, refs: list[StackRef], cache: Cache | None) -> Lookup:
    """The stacks of ``refs`` that ``cache`` already holds, and the cache key of every team
    stack in ``refs`` (none without a cache, or with customization plugins installed: they
    see the whole spec, so no stack's files are a function of its team's view alone)."""
    if cache is None or plugins.discover():
        return Lookup()
    keys = incremental.stack_keys(spec, refs)
    hits = {name: hit for name, key in keys.items() if (hit := cache.get(key)) is not None}
    return Lookup(cache, hits, keys)


def _assemble(
    refs: list[StackRef],
    results: dict[str, StackResult],
    dependencies: dict[str, list[str]],
) -> tuple[dict[str, bytes], dict[str, int]]:
    """The tree of every stack of ``refs`` plus cdktf's ``manifest.json``, and resource counts."""
    tree: dict[str, bytes] = {}
    version: str | None = None
    for ref in refs:
        tree.update(results[ref.name].files)
        version = results[ref.name].version
    tree["manifest.json"] = _manifest({name: r.manifest for name, r in results.items()}, dependencies, version)
    return tree, {ref.name: results[ref.name].resources for ref in refs}


def synth_serial(
    spec: OrgSpec,
    refs: list[StackRef],
    dependencies: dict[str, list[str]],
    progress: Progress = _quiet,
    cached: Lookup | None = None,
) -> tuple[dict[str, bytes], dict[str, int]]:
    """Synthesize ``refs`` one by one in this process, each in its own ``App`` as a worker
    would (so both paths share :func:`_synth_one`): the same result as :func:`synth_parallel`,
    with ``progress`` called after each stack. ``cached``: what :func:`lookup` found; its hits
    are not synthesized again, and what is synthesized goes into its cache."""
    cached = cached or Lookup()
    results = dict(cached.hits)
    for name, hit in results.items():
        progress(name, hit.resources)
    todo = [ref for ref in refs if ref.name not in results]
    loaded: plugins.Loaded = ()
    if todo:
        require_node()
        prepare_runtime()
        provider_loader.install()
        loaded = plugins.load(plugins.discover())
    with tempfile.TemporaryDirectory(prefix="mlgov-synth-") as tmp:
        for ref in todo:
            try:
                results[ref.name] = _synth_one(spec, ref, Path(tmp), loaded)
            except ValueError as exc:
                # named() refusing an address validation should have refused (see
                # mlgov.platform.addresses): still one line for the user, not a traceback.
                if "duplicate Terraform address" not in str(exc):
                    raise
                raise MlgovError(f"{exc} (two spec names derive one address; rename one)") from exc
            cached.store(ref.name, results[ref.name])
            progress(ref.name, results[ref.name].resources)
    return _assemble(refs, results, dependencies)


class Warmup:
    """Workers started as soon as the spec is typed, booting (Python, Node, cdktf: a few seconds)
    while the parent runs the semantic checks; :func:`synth_parallel` takes them. Leaving the
    ``with`` block stops any it did not take (a spec the checks refuse starts no synthesis).

    ``jobs``: as for :func:`resolve_jobs`. Workers start only when that would choose more than
    one for the spec's stacks; with an incremental cache, whose hits need no worker, none do."""

    def __init__(self, jobs: int | None, enabled: bool = True) -> None:
        self.jobs = jobs
        self.enabled = enabled
        self.workers: list[_Worker] = []

    def __enter__(self) -> Warmup:
        return self

    def __exit__(self, *exc: object) -> None:
        for worker in self.take(len(self.workers)):
            worker.stop()

    def typed(self, spec: OrgSpec) -> None:
        """Start the workers for ``spec`` (typed, not yet checked). Never fails: anything amiss
        here (a bad ``$MLGOV_SYNTH_JOBS``, no Node) is reported by the synthesis itself."""
        if not self.enabled or self.workers:
            return
        try:
            count = resolve_jobs(self.jobs, len(spec.stack_refs()))  # as synth_stacks will
            if count > 1:
                require_node()
                self.workers = _start_workers(count)
        except Exception:  # noqa: BLE001 - a head start only; the real run reports the problem
            self.workers = []

    def take(self, count: int) -> list[_Worker]:
        """Up to ``count`` of the started workers, which are then the caller's to stop."""
        taken, self.workers = self.workers[:count], self.workers[count:]
        return taken


def _start_workers(count: int, started: list[_Worker] | None = None) -> list[_Worker]:
    """``count`` workers: those already ``started`` first, then new ones, pinned when
    :func:`pinned_cpus` says so (the pinning of started ones was decided for the same count)."""
    workers = list(started or [])
    cpus = pinned_cpus(count, affinity())
    workers += [_Worker(cpus[i] if cpus else None) for i in range(len(workers), count)]
    return workers


def synth_parallel(
    spec: OrgSpec,
    refs: list[StackRef],
    jobs: int,
    dependencies: dict[str, list[str]],
    progress: Progress = _quiet,
    cached: Lookup | None = None,
    with_bootstrap: bool = False,
    warm: Warmup | None = None,
) -> tuple[dict[str, bytes], dict[str, int]]:
    """Synthesize ``refs`` over ``jobs`` workers: the canonical tree of all of them, and the
    number of resources per stack (counted by the workers, which parse the JSON anyway).

    ``dependencies`` (stack -> stacks it follows) goes into ``manifest.json`` as a single
    ``App`` with ``add_dependency`` calls would have recorded it. ``progress`` is called as
    each stack comes back, in the order they finish. ``cached``: as for :func:`synth_serial`.
    ``with_bootstrap``: the tree also holds :func:`bootstrap_tree` (synthesized by a worker,
    first in the queue after the hub's core stack; in this process when no stack is left to
    synthesize). ``warm``: workers already started (:class:`Warmup`), used first.
    """
    cached = cached or Lookup()
    results = dict(cached.hits)
    for name, hit in results.items():
        progress(name, hit.resources)
    todo = deque(ref.name for ref in queue_order(refs) if ref.name not in results)
    if not todo:
        tree, counts = _assemble(refs, results, dependencies)
        if with_bootstrap:
            tree.update(bootstrap_tree(spec))
        return tree, counts
    extra: dict[str, bytes] = {}
    if with_bootstrap:
        todo.insert(1, BOOTSTRAP_JOB)
    require_node()
    spec_blob = pickle.dumps(spec, protocol=pickle.HIGHEST_PROTOCOL)
    count = min(jobs, len(todo))
    workers = _start_workers(count, warm.take(count) if warm else None)
    selector = selectors.DefaultSelector()
    try:
        for starting in workers:  # all processes are starting; now feed them
            starting.start(spec_blob, todo.popleft() if todo else None)
            assert starting.proc.stdout is not None
            selector.register(starting.proc.stdout, selectors.EVENT_READ, starting)
        busy = len(workers)
        while busy:
            for key, _ in selector.select():
                worker: _Worker = key.data
                assert worker.proc.stdout is not None
                try:
                    reply = _recv(worker.proc.stdout)
                except EOFError:
                    code, tail = worker.proc.wait(), worker.stderr_tail()
                    raise MlgovError(
                        f"synth worker exited ({code}) while synthesizing stack {worker.current}"
                        + (f":\n{tail}" if tail else "")
                    ) from None
                if reply[0] == "error":
                    raise MlgovError(f"synthesizing stack {reply[1]} failed: {reply[2]}")
                _, name, result = reply
                if name == BOOTSTRAP_JOB:
                    extra.update(result.files)
                else:
                    results[name] = result
                    cached.store(name, result)
                    progress(name, result.resources)
                if todo:
                    worker.give(todo.popleft())
                else:
                    worker.give(None)
                    selector.unregister(worker.proc.stdout)
                    busy -= 1
        for worker in workers:
            if worker.proc.wait() != 0:
                raise MlgovError(f"synth worker exited with {worker.proc.returncode}:\n{worker.stderr_tail()}")
        # What the workers printed (e.g. the provider loader's fallback warning), once per line.
        seen: set[str] = set()
        for worker in workers:
            for line in worker.stderr_tail(lines=200).splitlines():
                if line.strip() and line not in seen:
                    seen.add(line)
                    print(line, file=sys.stderr)
    finally:
        selector.close()
        for worker in workers:
            worker.stop()
    tree, counts = _assemble(refs, results, dependencies)
    tree.update(extra)
    return tree, counts


# --- worker --------------------------------------------------------------------------------


def _synth_one(spec: OrgSpec, ref: StackRef, outdir: Path, loaded: plugins.Loaded = ()) -> StackResult:
    """Synthesize one stack in its own App (an App holding many stacks synthesizes more slowly
    than the same stacks one App each): canonical files, manifest entry, cdktf version and
    resource count. The App writes to ``outdir``, which is left as empty as it was found.
    ``loaded``: the customization plugins (:mod:`mlgov.synth.plugins`) to call on the stack.

    Without plugins a team's stack is built from its team's view of the spec
    (:func:`mlgov.synth.incremental.spec_for`), so its files depend on nothing else."""
    # cdktf and the constructs load only after provider_loader.install() (worker_main).
    from cdktf import App

    from mlgov.modules.app import stack_class

    if not loaded:
        spec = incremental.spec_for(spec, ref)
    app = App(outdir=str(outdir), stack_traces=False)
    stack = stack_class(ref)(app, ref.name, spec=spec, ref=ref)
    plugins.apply(loaded, stack, spec, ref)
    app.synth()
    files, docs = canonical_tree(outdir)
    shutil.rmtree(outdir / "stacks")
    (outdir / "manifest.json").unlink()
    manifest = docs["manifest.json"]
    del files["manifest.json"]
    return StackResult(
        files,
        manifest["stacks"][ref.name],
        manifest["version"],
        resource_count(docs[f"stacks/{ref.name}/cdk.tf.json"]),
    )


def bootstrap_tree(spec: OrgSpec) -> Tree:
    """The bootstrap's Terraform delivery (:mod:`mlgov.modules.bootstrap`), synthesized in this
    process in its own App and placed at ``bootstrap/terraform/`` (it is no stack of the
    manifest: see that module)."""
    require_node()
    prepare_runtime()
    provider_loader.install()
    with tempfile.TemporaryDirectory(prefix="mlgov-bootstrap-") as tmp:
        return _synth_bootstrap(spec, Path(tmp)).files


def _synth_bootstrap(spec: OrgSpec, outdir: Path) -> StackResult:
    """:func:`bootstrap_tree` as a worker's job: written to ``outdir``, left as empty as found."""
    from cdktf import App

    from mlgov.modules.bootstrap import BootstrapStack

    app = App(outdir=str(outdir), stack_traces=False)
    BootstrapStack(app, bootstrap.STACK_NAME, spec=spec)
    app.synth()
    files, docs = canonical_tree(outdir)
    shutil.rmtree(outdir / "stacks")
    (outdir / "manifest.json").unlink()
    stack = f"stacks/{bootstrap.STACK_NAME}/cdk.tf.json"
    return StackResult(
        {bootstrap.TERRAFORM_STACK: files[stack]}, {}, docs["manifest.json"]["version"], resource_count(docs[stack])
    )


_WORKER_PLUGINS: list[plugins.Loaded] = []


def _worker_plugins() -> plugins.Loaded:
    """The customization plugins, loaded once per worker process."""
    if not _WORKER_PLUGINS:
        _WORKER_PLUGINS.append(plugins.load(plugins.discover()))
    return _WORKER_PLUGINS[0]


def prepare_worker() -> None:
    """What a worker does before its first stack: start the jsii runtime and import the stack
    classes. scripts/bootstrap calls it under ``python -O`` to write the workers' byte code."""
    prepare_runtime()
    provider_loader.install()
    import mlgov.modules.app  # noqa: F401


def worker_main(stdin: IO[bytes], stdout: IO[bytes], outdir: Path) -> int:
    """Serve stack names from ``stdin`` until ``None``, synthesizing in ``outdir`` (empty, the
    parent's to remove); see the module docstring."""
    # Start the jsii runtime and import the stack classes (the slow part) while the parent is
    # still sending the spec.
    prepare_worker()
    spec: OrgSpec = _recv(stdin)
    refs = {ref.name: ref for ref in spec.stack_refs()}
    while (name := _recv(stdin)) is not None:
        try:
            if name == BOOTSTRAP_JOB:
                result = _synth_bootstrap(spec, outdir)
            elif name not in refs:
                raise KeyError(f"the spec has no stack {name!r}")
            else:
                result = _synth_one(spec, refs[name], outdir, _worker_plugins())
        except plugins.PluginError as exc:  # already one line naming the plugin and the stack
            _send(stdout, ("error", name, str(exc)))
            return 1
        except Exception as exc:  # noqa: BLE001 - reported to the parent, which ends the run
            last = traceback.extract_tb(exc.__traceback__)[-1]
            _send(stdout, ("error", name, f"{type(exc).__name__}: {exc} ({Path(last.filename).name}:{last.lineno})"))
            return 1
        _send(stdout, ("ok", name, result))
    return 0


def _main() -> int:
    # Replies go to a private copy of stdout; fd 1 itself goes to stderr, so nothing else the
    # worker prints (jsii relays the Node process's console output to sys.stdout) can corrupt them.
    if len(sys.argv) > 2:  # the CPU to keep to (see the module docstring): Node inherits it
        with contextlib.suppress(OSError):  # e.g. the CPU went offline meanwhile: run anywhere
            os.sched_setaffinity(0, {int(sys.argv[2])})
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    return worker_main(sys.stdin.buffer, replies, Path(sys.argv[1]))


if __name__ == "__main__":
    sys.exit(_main())
