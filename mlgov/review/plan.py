"""Plan every selected stack with real Terraform, in parallel, with a live progress display.

Each stack is planned in its own copy (:class:`mlgov.review.terraform.Workspace`) under the output
directory: ``init`` (from the provider mirror, through ONE shared plugin cache so the ~700 MB
provider is unpacked once), ``plan -out``, then ``show -json``. The plan file and its JSON
land in ``<out>/<stack>/``; the JSON is what ``summarize`` reads.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from mlgov.review import terraform
from mlgov.review.affected import AFFECTED_FILE
from mlgov.synth import outdir

PLAN_FILE = "plan.tfplan"
PLAN_JSON = "plan.json"
# ``<out>`` is mlgov's once it holds OUT_MARKER; ``<out>/<stack>`` once it holds WORKSPACE_MARKER,
# which lists the entries the workspace's copy and terraform created (the only ones removed).
OUT_MARKER = ".mlgov-plans"
WORKSPACE_MARKER = ".mlgov-workspace"
# What terraform may leave in a workspace besides the copied stack (written to the marker
# before terraform runs, so a killed run still leaves a workspace mlgov may clear).
TERRAFORM_ENTRIES = (
    ".terraform",
    ".terraform.lock.hcl",
    ".terraform.tfstate.lock.info",
    PLAN_FILE,
    PLAN_JSON,
    "terraform.tfstate",
    "terraform.tfstate.backup",
)
# What run_plans keeps directly under <out> besides the stack workspaces.
WARM_DIR = ".warm-cache"  # under <out>: the init that fills the plugin cache, and its lock file
OUT_ENTRIES = (OUT_MARKER, ".terraform-config", ".plugin-cache", WARM_DIR, AFFECTED_FILE)


@dataclass
class StackRun:
    """Progress and outcome of one stack's plan."""

    name: str
    status: str = "queued"  # queued | init | validate | imports | plan | show | ok | failed
    started: float | None = None
    ended: float | None = None
    error: str = ""
    plan_json: Path | None = None
    changes: dict[str, int] = field(default_factory=dict)
    # terraform's own verdict (plan -detailed-exitcode): the plan holds changes of any kind, outputs
    # and imports included, which the counts above leave out.
    changed: bool = False
    state: Path | None = None  # offline only: a state file to plan against (copied in)
    # What the change counts do not show: imports planned as creates, a destroy without a state.
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per terraform step (init, plan, show)

    def elapsed(self, now: float) -> float:
        if self.started is None:
            return 0.0
        return (self.ended or now) - self.started

    @property
    def done(self) -> bool:
        return self.status in {"ok", "failed"}


def count_actions(plan: dict) -> dict[str, int]:
    """Counts of create/update/replace/delete in a ``terraform show -json`` document."""
    counts = {"create": 0, "update": 0, "replace": 0, "delete": 0}
    for change in plan.get("resource_changes", []):
        actions = change["change"]["actions"]
        if "delete" in actions and "create" in actions:
            counts["replace"] += 1
        elif actions in (["create"], ["update"], ["delete"]):
            counts[actions[0]] += 1
    return counts


# Concurrent `terraform init`s that link from one plugin cache can race ("still not detected in
# .terraform/providers"); with a warm cache an init takes a fraction of a second, so inits run
# one at a time and only plan/show run in parallel. An init must not rewrite the cache under a
# running plan either: each workspace gets the warm cache's lock file (_seed_lock_file).
_INIT_LOCK = threading.Lock()


def _serialized_init(ws: terraform.Workspace) -> Callable[[], terraform.Result]:
    def init() -> terraform.Result:
        with _INIT_LOCK:
            return ws.init()

    return init


def plan_stack(
    run: StackRun,
    stack_dir: Path,
    out: Path,
    cli_config: Path,
    offline: bool,
    *,
    destroy: bool = False,
    refresh: bool = False,
    plan_role: bool = False,
) -> None:
    """init + plan + show -json for one stack; records the outcome on ``run`` (never raises).

    ``destroy``: plan the stack's removal (``plan -destroy``), for a stack that left the spec.
    ``refresh``: read the live resources first (:meth:`terraform.Workspace.plan`), for drift detection.
    ``plan_role``: plan with the environment's credentials, the account's read-only plan role
    (:func:`terraform.plan_role_override`).
    """
    run.started = time.monotonic()
    try:
        workdir = out / run.name
        clear_workspace(workdir)
        _record_workspace(
            workdir,
            [p.name for p in stack_dir.iterdir()]
            + [terraform.OVERRIDE_NAME, terraform.PLAN_ROLE_OVERRIDE_NAME, *TERRAFORM_ENTRIES],
        )
        ws = terraform.Workspace(stack_dir, workdir, cli_config, offline=offline, plan_role=plan_role)
        _seed_lock_file(out, workdir)
        if run.state is not None and offline:
            # The offline override's local backend reads terraform.tfstate in the workspace.
            shutil.copyfile(run.state, workdir / "terraform.tfstate")
        steps: list[tuple[str, Callable[[], terraform.Result]]] = [("init", _serialized_init(ws))]
        if offline and run.state is None and _imports(workdir):
            steps += [("validate", ws.validate), ("imports", lambda: _strip_imports(workdir, run))]
        if destroy and offline and run.state is None:
            run.notes.append(DESTROY_WITHOUT_STATE)
        for step, call in (
            *steps,
            ("plan", lambda: ws.plan(PLAN_FILE, destroy=destroy, refresh=refresh, detailed=True)),
            ("show", lambda: ws.show_json(PLAN_FILE)),
        ):
            run.status = step
            began = time.monotonic()
            result = call()
            run.timings[step] = time.monotonic() - began
            if step == "plan" and result.returncode == PLAN_CHANGES:
                run.changed = True
            elif not result.ok:
                run.error = f"terraform {step} failed:\n{(result.stderr or result.stdout).strip()}"
                run.status = "failed"
                return
        (workdir / PLAN_JSON).write_text(result.stdout)
        run.plan_json = workdir / PLAN_JSON
        run.changes = count_actions(json.loads(result.stdout))
        run.status = "ok"
    except Exception as exc:  # noqa: BLE001 - one stack's crash must not hide the others' results
        run.error = f"{type(exc).__name__}: {exc}"
        run.status = "failed"
    finally:
        if (out / run.name).is_dir():
            _record_workspace(out / run.name, [p.name for p in (out / run.name).iterdir()])
        run.ended = time.monotonic()


PLAN_CHANGES = 2  # terraform plan -detailed-exitcode: "Succeeded, there is a diff"
DESTROY_WITHOUT_STATE = "DESTROY STACK (no state given: deletes not counted)"


def _imports(workdir: Path) -> list[dict]:
    """The ``import`` blocks of a workspace's stack (adopted OUs)."""
    return list(json.loads((workdir / "cdk.tf.json").read_text()).get("import") or [])


def _strip_imports(workdir: Path, run: StackRun) -> terraform.Result:
    """Offline, with no state: drop the stack's import blocks from the workspace copy.

    An import reads the live object (Organizations) even with ``-refresh=false``, which an
    offline plan cannot. ``terraform validate`` has just checked them against the full
    configuration, and each import must target a declared resource with an id; the plan then shows
    their resources as creates: what it proves is the configuration, not that the live
    objects match it (a plan against the real backend, or ``--state-dir``, does that)."""
    path = workdir / "cdk.tf.json"
    doc = json.loads(path.read_text())
    imports = doc.pop("import", [])
    declared = {f"{rtype}.{name}" for rtype, items in doc.get("resource", {}).items() for name in items}
    wrong = [f"{i.get('to')} (id {i.get('id')!r})" for i in imports if i.get("to") not in declared or not i.get("id")]
    if wrong:
        # terraform validate accepts an import into an undeclared resource; plan would reject it.
        return terraform.Result(["imports"], 1, "", f"import into no resource of the configuration: {', '.join(wrong)}")
    count = len(imports)
    path.write_text(json.dumps(doc, indent=2))
    run.notes.append(f"{count} import block(s) validated, planned as creates (offline: nothing live to import)")
    return terraform.Result(["strip-imports"], 0, "", "")


def _record_workspace(workdir: Path, names: list[str]) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    listed = sorted(set(names) - {WORKSPACE_MARKER})
    (workdir / WORKSPACE_MARKER).write_text("".join(f"{n}\n" for n in listed))


def _workspace_entries(workdir: Path) -> set[str]:
    marker = workdir / WORKSPACE_MARKER
    if marker.is_symlink() or not marker.is_file():
        return set()
    return {n for n in marker.read_text().splitlines() if n and "/" not in n and n not in {".", ".."}}


def check_workspace(workdir: Path) -> None:
    """Refuse (UnsafeOutput) unless ``workdir`` is absent, empty, or a workspace mlgov made holding only its entries."""
    if workdir.is_symlink() or (workdir.exists() and not workdir.is_dir()):
        raise outdir.UnsafeOutput(f"refusing to plan into {workdir}: it is not a directory mlgov made")
    if not workdir.exists():
        return
    present = {p.name for p in workdir.iterdir()}
    if not present:
        return
    if WORKSPACE_MARKER not in present:
        raise outdir.UnsafeOutput(
            f"refusing to plan into {workdir}: it holds files mlgov did not write (e.g. {sorted(present)[0]})"
        )
    foreign = sorted(present - _workspace_entries(workdir) - {WORKSPACE_MARKER})
    if foreign:
        raise outdir.UnsafeOutput(
            f"refusing to plan into {workdir}: it holds files mlgov did not write (e.g. {foreign[0]})"
        )


def clear_workspace(workdir: Path) -> None:
    """Remove what mlgov put in ``workdir`` (after :func:`check_workspace`); nothing else is there."""
    check_workspace(workdir)
    if not workdir.exists():
        return
    for name in sorted(_workspace_entries(workdir)):
        path = workdir / name
        if path.is_symlink() or path.is_file():
            path.unlink()
        elif path.is_dir():
            shutil.rmtree(path)
    (workdir / WORKSPACE_MARKER).unlink(missing_ok=True)


def check_out(out: Path, names: list[str]) -> None:
    """Refuse (UnsafeOutput, one line) unless ``out`` is new, empty, or mlgov's plan directory,
    and every ``out/<name>`` it would reuse is a workspace mlgov made."""
    if out.exists() and not out.is_dir():
        raise outdir.UnsafeOutput(f"refusing to plan into {out}: it exists and is not a directory")
    if out.exists() and any(out.iterdir()) and not (out / OUT_MARKER).is_file():
        first = sorted(p.name for p in out.iterdir())[0]
        raise outdir.UnsafeOutput(
            f"refusing to plan into {out}: it holds files mlgov did not write (e.g. {first}); "
            f"use a new or empty directory, or one `plan` wrote (it holds {OUT_MARKER})"
        )
    for name in names:
        if name in OUT_ENTRIES:
            raise outdir.UnsafeOutput(f"refusing to plan stack {name!r}: the name is reserved in {out}")
        check_workspace(out / name)


class Progress:
    """Per-stack status and elapsed time: redrawn in place on a terminal, plain lines otherwise."""

    def __init__(self, runs: list[StackRun], stream: TextIO, live: bool) -> None:
        self.runs = runs
        self.stream = stream
        self.live = live
        self._shown: dict[str, str] = {}
        self._drawn = 0

    def _line(self, run: StackRun, now: float) -> str:
        text = f"{run.name:<28} {run.status:<7} {run.elapsed(now):6.1f}s"
        if run.status == "ok":
            c = run.changes
            text += f"  +{c['create']} ~{c['update']} ±{c['replace']} -{c['delete']}"
            text += "".join(f"  {note}" for note in run.notes)
        return text

    def update(self) -> None:
        now = time.monotonic()
        if self.live:
            if self._drawn:
                self.stream.write(f"\x1b[{self._drawn}F")
            for run in self.runs:
                self.stream.write("\x1b[2K" + self._line(run, now) + "\n")
            self._drawn = len(self.runs)
        else:
            # One line per state change, so CI logs stay short and readable.
            for run in self.runs:
                if run.status != "queued" and self._shown.get(run.name) != run.status:
                    self._shown[run.name] = run.status
                    self.stream.write(self._line(run, now) + "\n")
        self.stream.flush()


def run_plans(
    stacks: dict[str, Path],
    out: Path,
    *,
    offline: bool,
    jobs: int,
    stream: TextIO | None = None,
    live: bool | None = None,
    plan_one: Callable[..., None] = plan_stack,
    destroy: Collection[str] = (),
    states: Path | None = None,
    providers: str | None = None,
    refresh: bool = False,
    plan_role: bool = False,
) -> list[StackRun]:
    """Plan ``stacks`` ({name: stack dir}) with ``jobs`` workers; returns the runs in name order.

    ``destroy``: names among ``stacks`` to plan as destroys (their dir is the base ref's copy).
    ``states`` (offline only): a directory of ``<stack>.tfstate`` files to plan against
    instead of an empty state (e.g. what an apply of the previous configuration left).
    ``providers``: where hashicorp/aws comes from (:func:`terraform.provider_source`: a local
    mirror, else the registry when online). ``refresh``: read the live resources before planning
    (drift detection; :meth:`terraform.Workspace.plan`). ``plan_role``: plan with the environment's
    credentials, the accounts' read-only plan roles (:func:`plan_stack`).
    """
    stream = stream or sys.stdout
    live = stream.isatty() if live is None else live
    out = out.resolve()  # terraform runs in each stack's directory: every path it gets is absolute
    check_out(out, sorted(stacks))
    mirror = terraform.provider_source(providers)  # before anything is written: no way to get it, one line
    out.mkdir(parents=True, exist_ok=True)
    (out / OUT_MARKER).write_text("Written by `mlgov plan`: one workspace per stack.\n")
    cli_config = terraform.write_cli_config(out / ".terraform-config", out / ".plugin-cache", mirror)
    warm_plugin_cache(out, cli_config)
    runs = [
        StackRun(name, state=state_file(states, name, stacks[name]) if offline else None) for name in sorted(stacks)
    ]
    progress = Progress(runs, stream, live)
    stop = threading.Event()

    def ticker() -> None:
        while not stop.wait(0.5 if live else 0.2):
            progress.update()

    thread = threading.Thread(target=ticker, daemon=True)
    thread.start()
    try:
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            for run in runs:
                options = {"destroy": True} if run.name in destroy else {}
                options |= {"refresh": True} if refresh else {}
                options |= {"plan_role": True} if plan_role else {}
                one = functools.partial(plan_one, **options) if options else plan_one
                pool.submit(one, run, stacks[run.name], out, cli_config, offline)
    finally:
        stop.set()
        thread.join()
        progress.update()
    return runs


def state_file(states: Path | None, name: str, stack_dir: Path | None = None) -> Path | None:
    """``states/<state>.tfstate`` if it exists: ``<state>`` is the name of the stack's state in
    its S3 backend key (a renamed account's stack keeps its old name's state), else ``name``."""
    if states is None:
        return None
    path = states / f"{backend_state_name(stack_dir) or name}.tfstate"
    return path if path.is_file() else None


def backend_state_name(stack_dir: Path | None) -> str | None:
    """``<state>`` of the stack's ``terraform.backend.s3.key`` (``<prefix>/<state>.tfstate``), if any."""
    config = stack_dir / "cdk.tf.json" if stack_dir is not None else None
    if config is None or not config.is_file():
        return None
    key = json.loads(config.read_text()).get("terraform", {}).get("backend", {}).get("s3", {}).get("key", "")
    return key.rsplit("/", 1)[-1].removesuffix(".tfstate") or None


def warm_plugin_cache(out: Path, cli_config: Path) -> None:
    """Fill the shared plugin cache once, before parallel inits (Terraform does not lock it).

    Skipped when the cache already holds the provider (a reused plan directory): that init
    costs about a second, a tenth of one stack's whole plan.
    """
    if (out / ".plugin-cache" / terraform.PROVIDER / terraform.PROVIDER_VERSION).is_dir():
        return
    warm = out / WARM_DIR
    warm.mkdir(parents=True, exist_ok=True)
    required = {"aws": {"source": "hashicorp/aws", "version": terraform.PROVIDER_VERSION}}
    (warm / "main.tf.json").write_text(json.dumps({"terraform": {"required_providers": required}}))
    env = dict(os.environ, TF_CLI_CONFIG_FILE=str(cli_config), TF_IN_AUTOMATION="1", CHECKPOINT_DISABLE="1")
    subprocess.run(
        [terraform.terraform_binary(), "init", "-input=false", "-no-color", "-backend=false"],
        cwd=warm,
        env=env,
        capture_output=True,
        check=False,
    )


def _seed_lock_file(out: Path, workdir: Path) -> None:
    """Give a workspace the warmed cache's lock file when the stack needs only that provider.

    Without a lock entry `terraform init` installs the provider again and rewrites the shared
    plugin cache in place, while another stack's plan may be loading it from there ("there is
    no package ... cached in .terraform/providers"); with the entry it links the cached copy
    and writes nothing.
    """
    lock = out / WARM_DIR / ".terraform.lock.hcl"
    target = workdir / ".terraform.lock.hcl"
    if target.exists() or not lock.is_file():
        return
    config = json.loads((workdir / "cdk.tf.json").read_text()) if (workdir / "cdk.tf.json").is_file() else {}
    required = config.get("terraform", {}).get("required_providers", {})
    if set(required) == {"aws"} and required["aws"].get("version") == terraform.PROVIDER_VERSION:
        shutil.copyfile(lock, target)


def default_jobs() -> int:
    """Parallel plans by default: one per CPU."""
    return os.cpu_count() or 1
