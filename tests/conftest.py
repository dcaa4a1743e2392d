"""Shared fixtures. Synthesis (which imports the ~2,100-module AWS provider) runs once per
session; every test reads the same in-memory tree.

The spec-driven tests (the story, the launch parameters, separation of duties, checkov, the
IAM review) run on every spec of :func:`test_specs`: org.yaml and every mlgov/examples/*.yaml, or
what ``--spec PATH`` (repeatable) / ``MLGOV_TEST_SPECS=a.yaml,b.yaml`` name instead (the word
``default`` in that list stands for the default list, to extend it). Each spec is loaded,
rendered and turned into a journey world once per session (:func:`spec_case`).
"""

from __future__ import annotations

import atexit
import json
import multiprocessing.process
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

# pytest imports this file as `conftest`, the tests as `tests.conftest`: one module, so one
# runtime set-up, one set of session caches (rendered specs) and one process watch.
sys.modules.setdefault("tests.conftest", sys.modules[__name__])

from mlgov.synth import provider_loader  # noqa: E402 - after the alias
from mlgov.synth.stacks import prepare_runtime  # noqa: E402

prepare_runtime()
# Before any test module imports modules.*: load only the provider submodules that are used.
provider_loader.install()

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "tests" / "cases"
ON_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
DEFAULT_SPEC = ROOT / "org.yaml"
SPECS_ENV = "MLGOV_TEST_SPECS"


def default_specs() -> list[Path]:
    """The spec-driven tests' default list: org.yaml and every mlgov/examples/*.yaml (a new example
    is walked without touching the tests)."""
    return [DEFAULT_SPEC, *sorted((ROOT / "mlgov" / "examples").glob("*.yaml"))]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--spec",
        action="append",
        default=[],
        metavar="PATH",
        help=(
            "run the spec-driven tests (story, launch parameters, separation of duties, checkov, IAM review) "
            f"on this spec instead of org.yaml + mlgov/examples/*.yaml; repeatable, also ${SPECS_ENV}=a.yaml,b.yaml; "
            "'default' stands for the default list"
        ),
    )


def test_specs(config: pytest.Config) -> list[Path]:
    """The specs the spec-driven tests run on (``--spec`` first, then ``MLGOV_TEST_SPECS``);
    the default list when neither names one. A path that is not a file is a usage error."""
    given = list(config.getoption("--spec") or [])
    given += [item.strip() for item in os.environ.get(SPECS_ENV, "").split(",") if item.strip()]
    if not given:
        return default_specs()
    base = Path(config.invocation_params.dir)
    out: list[Path] = []
    for item in given:
        for path in default_specs() if item == "default" else [(base / item).resolve()]:
            if not path.is_file():
                raise pytest.UsageError(f"--spec/{SPECS_ENV}: {item}: no such spec file")
            if path not in out:
                out.append(path)
    return out


test_specs.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


def spec_id(path: Path) -> str:
    """A spec's test id: its file name without .yaml (org, contoso-vision) for the repository's
    specs, else its path without .yaml."""
    if path.parent in (ROOT, ROOT / "mlgov" / "examples"):
        return path.stem
    return str(path.with_suffix(""))


_SPEC_LIST = pytest.StashKey[list[Path]]()


def pytest_configure(config: pytest.Config) -> None:
    # Read (and refuse a bad --spec / MLGOV_TEST_SPECS, in one line) before collecting.
    config.stash[_SPEC_LIST] = test_specs(config)
    # pytest-xdist registers its marker only when it is loaded: `-p no:xdist` (scripts/test
    # honours it) would otherwise fail every grouped test under --strict-markers.
    config.addinivalue_line("markers", "xdist_group(name): run these tests in one xdist worker")
    if not hasattr(config, "workerinput") and SHARED_RENDERS_ENV not in os.environ:
        shared = tempfile.mkdtemp(prefix="mlgov-test-renders-")
        os.environ[SHARED_RENDERS_ENV] = shared  # before pytest-xdist starts the workers

        def _remove() -> None:
            shutil.rmtree(shared, ignore_errors=True)
            os.environ.pop(SHARED_RENDERS_ENV, None)

        config.add_cleanup(_remove)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test that takes ``spec_path`` runs once per spec of :func:`test_specs`."""
    if "spec_path" in metafunc.fixturenames:
        specs = metafunc.config.stash[_SPEC_LIST]
        metafunc.parametrize("spec_path", specs, ids=[spec_id(p) for p in specs])


# Tests that share a costly session fixture run in one worker under pytest-xdist (`scripts/test`
# runs `-n auto --dist loadgroup`), so the fixture is still built once: the offline plans of
# every default stack (``default_plans``), the offline-applied states (``offline_applied``) and
# the stacks applied to moto (``moto_applied``: a second worker would apply them again, and an
# apply waits on the provider's consistency checks, e.g. ~30 s per bucket lifecycle rule set).
# A test joins the group of a fixture it uses, directly or through another fixture; the rest of
# its module is spread test by test (the kitchen sink's plans no longer wait behind the default
# ones). test_checkov is grouped whole: its stale-skip check needs every scan in one process.
FIXTURE_GROUPS = {
    "default_plans": "default-plans",
    "offline_applied": "offline-applied",
    "moto_applied": "moto-applied",
}
MODULE_GROUPS = {"test_checkov": "default-plans", "test_xdist_groups": "default-plans"}

# The longest tests of no group (CI's --durations), longest first: they are collected first.
# pytest-xdist's loadgroup queues the groups (most tests first), then single tests in collection
# order; a long test left to the end of that queue kept one worker busy while the others idled
# (up to two minutes between the first and the last worker to finish). Each uses only session
# fixtures (or none), so running it early splits no module fixture. tests/test_xdist_groups.py
# checks that each still names a test.
START_FIRST = (
    "tests/journey/test_day_zero_journey.py::test_day_zero",
    "tests/test_provider_loader.py::test_eager_import_renders_byte_identical_tree",
    "tests/test_split_migration.py::test_migration_plans_no_destroy_and_no_replace",
    "tests/test_plan.py::test_every_kitchen_sink_stack_plans_offline",
    "tests/test_layout.py::test_every_module_imports_on_its_own_in_a_fresh_process",
    "tests/test_transitions.py::test_principal_patterns_replace_the_per_team_associations",
    "tests/test_user_repo.py::test_check_reviews_own_templates_and_customizations_with_mlgovs_accepted_findings",
    "tests/test_separation_of_duties.py::test_every_persona_opens_exactly_its_gate",
    "tests/test_data_apply.py::test_the_lake_applies_to_moto_and_reads_back",
    "tests/test_transitions.py::test_existing_ous_are_adopted_by_import_blocks",
)


def xdist_group(item: pytest.Item) -> str | None:
    """The worker group of a test (:data:`MODULE_GROUPS`, else :data:`FIXTURE_GROUPS`), or None."""
    used = getattr(item, "fixturenames", ())
    return MODULE_GROUPS.get(item.path.stem) or next((g for f, g in FIXTURE_GROUPS.items() if f in used), None)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The spec-driven tests carry the ``spec`` marker: ``-m spec`` selects them. The tests of
    :func:`xdist_group` carry their group (a no-op without ``--dist loadgroup``). The tests of
    :data:`START_FIRST` come first.

    In an xdist worker under ``--dist loadgroup``, a grouped test's id also gets the ``@<group>``
    suffix the controller schedules by. pytest-xdist 3.8 writes it to ``item._nodeid``, which
    pytest 9 no longer reads (the id is ``item._id``), so without this no test was grouped and
    each worker built the costly fixtures again (tests/test_xdist_groups.py checks the suffix).
    """
    first = {name: i for i, name in enumerate(START_FIRST)}
    items.sort(key=lambda item: first.get(item.nodeid.split("[", 1)[0], len(first)))  # stable
    suffix_ids = bool(getattr(config.option, "loadgroup", False)) and hasattr(config, "workerinput")
    for item in items:
        if "spec_path" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.spec)
        group = xdist_group(item)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))
            if suffix_ids and not item.nodeid.endswith(f"@{group}"):
                from _pytest.nodeid import NodeId

                item._id = NodeId.parse(f"{item.nodeid}@{group}")  # type: ignore[attr-defined]


@dataclass
class SpecCase:
    """One spec of the spec-driven tests: loaded, rendered and its journey world, each once."""

    path: Path
    spec: Any
    rendered: tuple[dict[str, bytes], Any]
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def tree(self) -> dict[str, bytes]:
        return self.rendered[0]

    @cached_property
    def world(self) -> Any:
        from tests.journey.world import World

        return World(self.spec, self.tree)

    @cached_property
    def files(self) -> Path:
        """The rendered tree written out (as `mlgov synth` would write generated/), once; removed
        at exit."""
        root = Path(tempfile.mkdtemp(prefix=f"mlgov-spec-{self.path.stem}-"))
        atexit.register(shutil.rmtree, root, True)
        for rel, data in self.tree.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(data)
        return root


_SPECS: dict[Path, Any] = {}
_CASES: dict[Path, SpecCase] = {}


def load_spec_once(path: Path) -> Any:
    from mlgov.validation import load_spec

    path = path.resolve()
    if path not in _SPECS:
        _SPECS[path] = load_spec(path)
    return _SPECS[path]


def spec_case(path: Path) -> SpecCase:
    """The session's :class:`SpecCase` of a spec file: rendered once per session, by the first
    worker that needs it (:func:`shared_render`), and read by the others."""
    path = path.resolve()
    if path not in _CASES:
        spec = load_spec_once(path)
        _CASES[path] = SpecCase(path, spec, shared_render(path, spec))
    return _CASES[path]


# Rendered spec files, shared by the session's pytest-xdist workers: the controller names a
# directory in the environment (its workers inherit it; see pytest_configure). Like the per-process
# cache above, this assumes a spec file and what lies beside it do not change during a session.
SHARED_RENDERS_ENV = "MLGOV_TEST_SHARED_RENDERS"


def shared_render(path: Path, spec: Any) -> tuple[dict[str, bytes], Any]:
    """``render(spec)`` of the spec file ``path``: read from the session's shared directory when
    another worker rendered it, else rendered here (under a lock, so one worker renders while the
    others wait) and left there for them."""
    import fcntl
    import hashlib
    import pickle

    from mlgov.synth.tree import render

    shared = os.environ.get(SHARED_RENDERS_ENV)
    if not shared or not Path(shared).is_dir():
        return render(spec)
    key = hashlib.sha256(str(path).encode() + b"\0" + path.read_bytes()).hexdigest()
    done = Path(shared) / f"{key}.pickle"
    with open(Path(shared) / f"{key}.lock", "wb") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if done.is_file():
            return pickle.loads(done.read_bytes())  # noqa: S301 - written by this session's workers
        rendered = render(spec)
        partial = done.with_suffix(f".{os.getpid()}")
        partial.write_bytes(pickle.dumps(rendered, protocol=pickle.HIGHEST_PROTOCOL))
        os.replace(partial, done)
        return rendered


# -- the fast subset runs in this process ------------------------------------------------------
#
# `-m "not slow and not terraform"` must need no other program: every test that starts a process
# (terraform, node, checkov, a python or sh subprocess, a worker pool) carries `slow` or
# `terraform`. The hooks below watch process creation during each test's setup and call
# (fixtures included) and fail an unmarked test that started one, naming the command. The jsii
# kernel (node, started once by in-process synthesis) is part of rendering and exempt, and so
# is ctypes' one-time library lookup.

_WATCHED: list[pytest.Item] = []
_STARTED: dict[str, list[str]] = {}
_MARKERS = ("slow", "terraform")
# The jsii kernel; ctypes.util.find_library's `ldconfig -p` (a library lookup on first use).
_EXEMPT = ("jsii-runtime", "ldconfig -p")


def _started(what: object) -> None:
    if not _WATCHED:
        return
    item = _WATCHED[-1]
    text = " ".join(map(str, what)) if isinstance(what, list | tuple) else str(what)
    if any(part in text for part in _EXEMPT) or any(item.get_closest_marker(m) for m in _MARKERS):
        return
    _STARTED.setdefault(item.nodeid, []).append(text[:200])


_execute_child = subprocess.Popen._execute_child  # type: ignore[attr-defined]
_process_start = multiprocessing.process.BaseProcess.start


def _watched_execute_child(self: subprocess.Popen, args: Any, *rest: Any, **kwargs: Any) -> Any:
    _started(args)
    return _execute_child(self, args, *rest, **kwargs)


def _watched_process_start(self: multiprocessing.process.BaseProcess) -> None:
    _started(f"multiprocessing {self.name}")
    _process_start(self)


subprocess.Popen._execute_child = _watched_execute_child  # type: ignore[attr-defined]
multiprocessing.process.BaseProcess.start = _watched_process_start  # type: ignore[method-assign]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item):
    _WATCHED.append(item)
    try:
        return (yield)
    finally:
        _WATCHED.pop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    _WATCHED.append(item)
    try:
        return (yield)
    finally:
        _WATCHED.pop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if call.when == "call" and report.passed and (started := _STARTED.pop(item.nodeid, None)):
        report.outcome = "failed"
        report.longrepr = (
            f"{item.nodeid} started {len(started)} process(es), first: {started[0]!r}; mark it "
            "@pytest.mark.slow (or terraform): the fast subset (-m 'not slow and not terraform') runs in-process only"
        )
    return report


def require_tool(name: str) -> str:
    """Path of an external tool; on CI its absence FAILS the test, locally it skips visibly."""
    found = shutil.which(name)
    if found:
        return found
    message = f"{name} is not installed"
    if ON_CI:
        pytest.fail(f"{message} (required on CI)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def default_spec():
    return load_spec_once(DEFAULT_SPEC)


@pytest.fixture(scope="session")
def rendered(default_spec):
    """(tree, summaries) for the default spec, rendered once."""
    return spec_case(DEFAULT_SPEC).rendered


@pytest.fixture
def case(spec_path) -> SpecCase:
    """The spec of a spec-driven test (``spec_path``), rendered once per session."""
    return spec_case(spec_path)


@pytest.fixture(scope="session")
def bridge() -> None:
    """The IAM bridge (node + the pinned npm packages): skip locally without it, FAIL on CI."""
    from mlgov.review import iam

    reason = iam.unavailable()
    if reason:
        if ON_CI:
            pytest.fail(f"{reason} (required on CI)")
        pytest.skip(reason)


@pytest.fixture(scope="session")
def default_world(rendered):
    """The journey world of the default spec (tests/journey/world.py), built once per session."""
    return spec_case(DEFAULT_SPEC).world


@pytest.fixture(scope="session")
def tree(rendered):
    return rendered[0]


@pytest.fixture(scope="session")
def stacks(tree):
    """Synthesized stacks of the default spec: {stack name: parsed cdk.tf.json}."""
    return {
        path.split("/")[1]: json.loads(data)
        for path, data in tree.items()
        if path.startswith("stacks/") and path.endswith("/cdk.tf.json")
    }


@pytest.fixture(scope="session")
def render_spec():
    """Render any spec (a path or YAML text) in this process; the provider is already loaded."""
    from mlgov.spec.located import load_yaml
    from mlgov.synth.tree import render
    from mlgov.validation import load_spec, parse_spec

    def _render(spec_or_text, name="<test>"):
        spec = load_spec(spec_or_text) if isinstance(spec_or_text, Path) else parse_spec(load_yaml(spec_or_text, name))
        return render(spec)[0]

    return _render


@pytest.fixture(scope="session")
def example_tree():
    """The rendered tree of an ``mlgov/examples/*.yaml`` spec: the one :func:`spec_case` rendered
    (once per session, for every test that needs that spec)."""

    def _tree(path: Path) -> dict:
        return spec_case(path).tree

    return _tree


@pytest.fixture(scope="session")
def tf_cli_config(tmp_path_factory):
    """Terraform CLI config pointing at the local provider mirror, with a shared plugin cache."""
    from mlgov.errors import MlgovError
    from mlgov.review import terraform

    require_tool(os.environ.get("MLGOV_TERRAFORM", "terraform"))
    try:
        terraform.find_mirror()
    except MlgovError as exc:
        if ON_CI:
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    base = tmp_path_factory.mktemp("terraform")
    return terraform.write_cli_config(base / "config", base / "plugin-cache")


GENERATED_STACKS = ROOT / "generated" / "stacks"


@pytest.fixture(scope="session")
def default_plans(tf_cli_config, tmp_path_factory):
    """ONE offline plan of every committed default stack, through ``mlgov plan --offline``
    (init, plan, show -json per stack, two at a time), shared by test_terraform, test_plan and
    test_checkov: each of them used to init and plan all six stacks on its own.

    Returns a namespace: ``result`` (the CLI result), ``out`` (the plan directory: one
    initialized workspace per stack), ``cli_config`` (the terraform config those workspaces
    use), ``stacks`` (names), ``plans`` ({stack: parsed plan JSON}), ``before`` ({stack:
    cdk.tf.json bytes before planning}).
    """
    from click.testing import CliRunner

    from mlgov.cli import cli
    from mlgov.review import plan as planning

    stacks = sorted(p.name for p in GENERATED_STACKS.iterdir() if (p / "cdk.tf.json").is_file())
    before = {name: (GENERATED_STACKS / name / "cdk.tf.json").read_bytes() for name in stacks}
    out = tmp_path_factory.mktemp("default-plans") / "plans"
    args = ["plan", "--offline", "--jobs", "2", "--out", str(out), "--stacks-dir", str(GENERATED_STACKS)]
    result = CliRunner().invoke(cli, args)
    plans = {
        name: json.loads((out / name / planning.PLAN_JSON).read_text())
        for name in stacks
        if (out / name / planning.PLAN_JSON).is_file()
    }
    return SimpleNamespace(
        result=result,
        out=out,
        cli_config=out / ".terraform-config" / "terraformrc",
        stacks=stacks,
        plans=plans,
        before=before,
    )


# -- applies shared by several modules ---------------------------------------------------------


@pytest.fixture(scope="session")
def moto_endpoint():
    """A moto server in this process on 127.0.0.1 (a free port), for the whole session."""
    import socket

    from moto.server import ThreadedMotoServer

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


MOTO_RESETS = [0]  # how many times this process emptied its moto server (see moto_applied's live)


def reset_moto(endpoint: str) -> None:
    """Empty the session's moto server. A test that creates what may exist already (an
    organization, a stack's resources) starts with this: the server is shared by the tests one
    worker runs, in whatever order xdist gives them."""
    import urllib.request

    request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
    urllib.request.urlopen(request, timeout=30).read()
    MOTO_RESETS[0] += 1


@pytest.fixture(scope="session")
def moto_applied(moto_endpoint, tf_cli_config, tmp_path_factory):
    """``apply(stack, live=False)``: the moto-appliable part of a committed stack
    (``mlgov.review.localapply.filter_stack``) applied by terraform into an emptied moto, ONCE
    per session: tests/test_local_apply.py reads it back, tests/test_transitions.py plans
    against its state. ``live=True`` promises moto still holds exactly that apply (applying
    again if another one came since).

    Returns a namespace: ``endpoint`` (moto's), ``filtered`` (the configuration applied), ``region``, ``resources``
    (``terraform show -json``'s root module resources), ``tfstate`` (the state file, parsed)."""
    from mlgov.review import localapply, terraform

    applied: dict[str, SimpleNamespace] = {}
    last: list[tuple[str, int]] = []  # (stack, MOTO_RESETS just after its reset)

    def apply(name: str, *, live: bool = False) -> SimpleNamespace:
        if name in applied and (not live or last[-1:] == [(name, MOTO_RESETS[0])]):
            return applied[name]
        reset_moto(moto_endpoint)
        work = tmp_path_factory.mktemp(f"moto-{name}")
        stack = json.loads((GENERATED_STACKS / name / "cdk.tf.json").read_text())
        filtered, _ = localapply.filter_stack(stack)
        src = work / "src"
        shutil.copytree(GENERATED_STACKS / name, src)  # assets (e.g. zipped sources) come along
        (src / "cdk.tf.json").write_text(json.dumps(filtered, indent=2))
        region = stack["provider"]["aws"][0]["region"]
        ws = terraform.Workspace(src, work / "ws", tf_cli_config, offline=False)
        (ws.workdir / "mlgov_local_override.tf.json").write_text(
            json.dumps(localapply.endpoint_override(moto_endpoint, region), indent=2)
        )
        init = ws.init()
        assert init.ok, init.stderr
        last.append((name, MOTO_RESETS[0]))
        done = localapply.apply(ws)
        assert done.ok, done.stderr[-5000:]
        show = ws.run("show", "-json")
        assert show.ok, show.stderr
        applied[name] = SimpleNamespace(
            endpoint=moto_endpoint,
            filtered=filtered,
            region=region,
            resources=json.loads(show.stdout)["values"]["root_module"]["resources"],
            tfstate=json.loads((ws.workdir / "terraform.tfstate").read_text()),
        )
        return applied[name]

    return apply


@pytest.fixture(scope="session")
def offline_applied(tf_cli_config, tmp_path_factory):
    """``offline_applied(*stacks)``: committed stacks applied offline (tests/offline_apply.py),
    each once per session: {stack: Applied(ws, first plan, settled plan)}."""
    from tests.offline_apply import OfflineApplied

    return OfflineApplied(GENERATED_STACKS, tmp_path_factory.mktemp("offline-applied"), tf_cli_config)
