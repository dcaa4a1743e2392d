"""Import only the AWS provider submodules that are actually used.

``cdktf_cdktf_provider_aws/__init__.py`` runs ``from . import <name>`` for every one of its
~2,100 resource submodules, so the first ``import cdktf_cdktf_provider_aws.s3_bucket`` pays
for all of them (most of a cold synth's time and memory). Each submodule is self-contained:
it imports ``.._jsii`` (which loads the provider's jsii assembly into Node, once), ``cdktf``
and ``constructs``, never a sibling. So the package object only has to exist with the right
``__path__`` for a submodule to import on its own.

:func:`install` builds that package object from the installed ``__init__.py`` with its
``from . import <submodule>`` statements removed and everything else (the ``_jsii`` import,
``check_type``, ``__all__``, ``publication.publish()``) executed as written, then gives it a
module ``__getattr__`` that imports a submodule on first attribute access. Nothing on disk
changes; the Node side loads the same assembly, so the synthesized bytes are the same.

If the package's layout is not the one this relies on, or anything in the lazy set-up
fails, one warning line goes to stderr and the package is imported the ordinary way.
The same happens on the Node side: jsii's ``require()`` of the provider's ``lib/index.js``
would compile all ~2,100 JavaScript modules (~250 MB). ``mlgov/node/lazy_provider.js``,
preloaded into the jsii Node process through ``NODE_OPTIONS``, turns that index into getters
that require a module on first use (it too falls back, with a warning, on an unknown layout).
The hook can only be placed before the jsii kernel starts, i.e. before anything imports cdktf.

``MLGOV_PROVIDER_IMPORT=eager`` forces the ordinary import (used by the test that proves
both ways produce identical output).
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import TextIO

PACKAGE = "cdktf_cdktf_provider_aws"
NODE_HOOK = Path(__file__).resolve().parent / "node" / "lazy_provider.js"
# Also preloaded in lazy mode: cdktf records no stack trace per token (see the file).
TOKEN_TRACES_HOOK = NODE_HOOK.with_name("token_traces.js")
ENV = "MLGOV_PROVIDER_IMPORT"
MODES = ("lazy", "eager")


# What install() did in this process, for tests and diagnostics.
STATUS: dict[str, object] = {"mode": None, "node_hook": False}
# Packages install() has set up (lazily or not), and those it has warned about: a package
# imported before install() is reported once.
_INSTALLED: set[str] = set()
_WARNED: set[str] = set()


class LayoutError(Exception):
    """The package does not look like the layout the lazy import relies on."""


def install(package: str = PACKAGE, *, environ=None, stderr: TextIO | None = None) -> str:
    """Make ``package`` importable submodule by submodule; returns the mode now in effect.

    Returns ``"lazy"`` or ``"eager"`` for what this call did, or ``"already"`` when the package
    was imported before (whichever way): a second call changes nothing.
    """
    environ = os.environ if environ is None else environ
    stderr = sys.stderr if stderr is None else stderr
    if package in sys.modules:
        if package not in _INSTALLED and package not in _WARNED:
            # Something imported the package the ordinary way first: every submodule is
            # loaded already, and nothing here can undo that; say so once.
            _WARNED.add(package)
            print(
                f"mlgov: warning: {package} was imported before provider_loader.install(); "
                "the lazy import cannot take effect (slower synth)",
                file=stderr,
            )
        return "already"
    mode = _install(package, environ, stderr)
    _INSTALLED.add(package)
    if package == PACKAGE:
        STATUS["mode"] = mode
    return mode


def _install(package: str, environ, stderr: TextIO) -> str:
    mode = environ.get(ENV, "lazy").strip().lower() or "lazy"
    if mode not in MODES:
        print(f"mlgov: warning: {ENV}={mode!r} is not one of {', '.join(MODES)}; using lazy", file=stderr)
        mode = "lazy"
    if mode == "lazy":
        try:
            _install_lazy(package)
            return "lazy"
        except Exception as exc:  # noqa: BLE001 - any failure means: use the ordinary import
            _forget(package)
            print(
                f"mlgov: warning: lazy import of {package} unavailable ({type(exc).__name__}: {exc}); "
                "importing the whole package (slower)",
                file=stderr,
            )
    importlib.import_module(package)
    return "eager"


def loaded_submodules(package: str = PACKAGE) -> list[str]:
    """Names of the package's submodules imported so far (for tests and the benchmark)."""
    prefix = package + "."
    return sorted(name[len(prefix) :] for name in sys.modules if name.startswith(prefix))


def split_init(source: str, submodules: set[str]) -> tuple[ast.Module, list[str]]:
    """The package ``__init__`` without its ``from . import <submodule>`` lines, and those names.

    Raises:
        LayoutError: no such lines, or one names something that is not a submodule on disk.
    """
    tree = ast.parse(source)
    kept: list[ast.stmt] = []
    lazy: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module is None:
            names = [alias.name for alias in node.names]
            if any(alias.asname for alias in node.names) or not set(names) <= submodules:
                raise LayoutError(f"unexpected 'from . import {', '.join(names)}'")
            lazy.extend(names)
        else:
            kept.append(node)
    if not lazy:
        raise LayoutError("no 'from . import <submodule>' statements found")
    return ast.Module(body=kept, type_ignores=[]), lazy


def _install_lazy(package: str) -> None:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None or not spec.submodule_search_locations:
        raise LayoutError(f"{package} is not an installed regular package")
    init = Path(spec.origin)
    on_disk = {
        p.stem if p.suffix == ".py" else p.name
        for location in spec.submodule_search_locations
        for p in Path(location).iterdir()
        if (p.is_dir() and (p / "__init__.py").exists()) or p.suffix == ".py"
    }
    body, lazy = split_init(init.read_text(encoding="utf-8"), on_disk)
    if "_jsii" not in on_disk:
        raise LayoutError("no _jsii submodule (the assembly loader)")

    module = importlib.util.module_from_spec(spec)
    sys.modules[package] = module
    with _node_hook():
        exec(compile(body, str(init), "exec"), module.__dict__)  # noqa: S102 - the package's own code
    # publication.publish() may have replaced the module object in sys.modules.
    public = sys.modules[package]
    if not hasattr(public, "__path__") or f"{package}._jsii" not in sys.modules:
        raise LayoutError("package has no __path__, or its init did not import ._jsii")
    _attach_lazy_getattr(public, package, frozenset(lazy))


def kernel_started() -> bool:
    """Whether a jsii assembly (hence the Node process) has been loaded in this process."""
    return any(name == "_jsii" or name.endswith("._jsii") for name in sys.modules)


@contextlib.contextmanager
def _node_hook():
    """Start the jsii Node process with the lazy-require hook preloaded, if not yet started."""
    if kernel_started():
        yield
        return
    if not NODE_HOOK.is_file():
        # An install without its package data: synthesis still works, Node just loads all of
        # the provider's JavaScript.
        print(f"mlgov: warning: {NODE_HOOK} is missing; Node loads the whole provider (slower)", file=sys.stderr)
        yield
        return
    before = os.environ.get("NODE_OPTIONS")
    hook = " ".join(f'--require "{script}"' for script in (NODE_HOOK, TOKEN_TRACES_HOOK) if script.is_file())
    os.environ["NODE_OPTIONS"] = f"{before} {hook}" if before else hook
    try:
        yield
        STATUS["node_hook"] = kernel_started()
    finally:
        # The kernel has started (or failed to); other child processes need not see the hook.
        if before is None:
            os.environ.pop("NODE_OPTIONS", None)
        else:
            os.environ["NODE_OPTIONS"] = before


def _attach_lazy_getattr(module: ModuleType, package: str, lazy: frozenset[str]) -> None:
    def __getattr__(name: str):
        if name in lazy:
            return importlib.import_module(f"{package}.{name}")
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__():
        return sorted(set(module.__dict__) | lazy)

    module.__getattr__ = __getattr__  # type: ignore[method-assign]
    module.__dir__ = __dir__  # type: ignore[method-assign]


def _forget(package: str) -> None:
    """Drop the half-built package object; imported submodules stay valid and are reused."""
    for name in (package, f"{package}._private"):
        sys.modules.pop(name, None)
