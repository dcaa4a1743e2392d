"""The lazy provider import: same bytes as the ordinary import, only used modules, clean fallback."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

import pytest

from mlgov.synth import provider_loader
from mlgov.synth.tree import read_tree
from tests.conftest import ROOT, require_tool

# --- the real provider, in this session and in a fresh eager process --------------------------


def test_session_imports_only_the_used_provider_submodules(tree):
    # GIVEN the session's default-spec render (conftest installed the lazy import first)
    package = sys.modules[provider_loader.PACKAGE]
    on_disk = {p.name for p in Path(package.__path__[0]).iterdir() if (p / "__init__.py").exists()}
    # WHEN we look at what got imported
    loaded = set(provider_loader.loaded_submodules())
    # THEN the stacks' resource modules are there, and only a small part of the package
    assert provider_loader.STATUS == {"mode": "lazy", "node_hook": True}
    assert {"_jsii", "provider", "kms_key", "s3_bucket", "s3_bucket_policy"} <= loaded
    assert len(on_disk) > 2000
    assert len(loaded) < len(on_disk) // 10, sorted(loaded)


def test_unused_submodule_is_still_reachable_as_attribute():
    package = sys.modules[provider_loader.PACKAGE]
    name = "xray_sampling_rule"
    assert "xray_sampling_rule" in dir(package)
    module = getattr(package, name)
    assert module.XraySamplingRule.__name__ == "XraySamplingRule"
    assert name in provider_loader.loaded_submodules()
    with pytest.raises(AttributeError):
        package.no_such_resource  # noqa: B018


EAGER_SCRIPT = textwrap.dedent(
    """
    import hashlib, json, sys
    sys.path.insert(0, ".")
    from mlgov.synth import provider_loader
    from mlgov.synth.stacks import prepare_runtime
    from mlgov.synth.tree import render
    from mlgov.validation import load_spec
    prepare_runtime()
    mode = provider_loader.install()
    tree, _ = render(load_spec("org.yaml"))
    print(json.dumps({
        "mode": mode,
        "loaded": len(provider_loader.loaded_submodules()),
        "files": {path: hashlib.sha256(data).hexdigest() for path, data in tree.items()},
    }))
    """
)


@pytest.mark.slow  # starts python subprocesses
def test_eager_import_renders_byte_identical_tree(tree):
    # GIVEN a fresh process that imports the whole provider the ordinary way (Python and Node)
    env = dict(os.environ, MLGOV_PROVIDER_IMPORT="eager")
    env.pop("NODE_OPTIONS", None)
    # WHEN it renders the default spec
    proc = subprocess.run([sys.executable, "-c", EAGER_SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    eager = json.loads(proc.stdout.strip().splitlines()[-1])
    # THEN it really was the eager import, and every byte equals the lazy session's tree and generated/
    assert eager["mode"] == "eager"
    assert eager["loaded"] > 2000
    lazy = {path: hashlib.sha256(data).hexdigest() for path, data in tree.items()}
    assert eager["files"] == lazy
    assert read_tree(ROOT / "generated") == tree


# --- the mechanism on small packages built in tmp_path -----------------------------------------


def _fake_package(root: Path, name: str, init_lines: list[str]) -> None:
    pkg = root / name
    (pkg / "_jsii").mkdir(parents=True)
    (pkg / "_jsii" / "__init__.py").write_text("ASSEMBLY = 'loaded'\n__all__ = ['ASSEMBLY']\n")
    for sub in ("alpha", "beta"):
        (pkg / sub).mkdir()
        (pkg / sub / "__init__.py").write_text(f"from .._jsii import *\nVALUE = {sub!r}\n")
    (pkg / "__init__.py").write_text("\n".join(['"""A provider-shaped package."""', *init_lines, ""]))


GOOD_INIT = [
    "from pkgutil import extend_path",
    "__path__ = extend_path(__path__, __name__)",
    "import publication",
    "from ._jsii import *",
    "__all__ = ['alpha', 'beta']",
    "publication.publish()",
    "from . import alpha",
    "from . import beta",
]


@pytest.fixture
def fake_root(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [n for n in sys.modules if n.startswith("mlgovfake")]:
        del sys.modules[name]


def test_lazy_install_imports_submodules_on_demand(fake_root):
    # GIVEN a package laid out like the provider
    _fake_package(fake_root, "mlgovfake_ok", GOOD_INIT)
    err = io.StringIO()
    # WHEN installed lazily
    mode = provider_loader.install("mlgovfake_ok", environ={}, stderr=err)
    # THEN no submodule but _jsii ran; each one imports on first use, by import or attribute
    assert (mode, err.getvalue()) == ("lazy", "")
    assert provider_loader.loaded_submodules("mlgovfake_ok") == ["_jsii", "_private"]
    import mlgovfake_ok.alpha

    assert mlgovfake_ok.alpha.VALUE == "alpha"
    assert provider_loader.loaded_submodules("mlgovfake_ok") == ["_jsii", "_private", "alpha"]
    from mlgovfake_ok import beta

    assert beta.VALUE == "beta"
    assert provider_loader.install("mlgovfake_ok", environ={}, stderr=err) == "already"


@pytest.mark.parametrize(
    "extra_lines",
    [
        ["from . import alpha as renamed"],  # an alias the lazy getattr would not know
        ["from . import gamma"],  # a directory without __init__.py: not a submodule it knows
        ["FIRST = alpha.VALUE"],  # top-level code that needs a submodule
    ],
    ids=["alias", "unknown-submodule", "top-level-use"],
)
def test_unknown_layout_falls_back_to_ordinary_import_with_one_warning(fake_root, extra_lines):
    # GIVEN a future build whose __init__ does something the technique does not expect
    _fake_package(fake_root, "mlgovfake_bad", GOOD_INIT + extra_lines)
    (fake_root / "mlgovfake_bad" / "gamma").mkdir()
    err = io.StringIO()
    # WHEN installed
    mode = provider_loader.install("mlgovfake_bad", environ={}, stderr=err)
    # THEN one warning line, and the package was imported the ordinary way (every submodule)
    lines = err.getvalue().splitlines()
    assert mode == "eager"
    assert len(lines) == 1 and lines[0].startswith("mlgov: warning: lazy import of mlgovfake_bad unavailable (")
    assert {"alpha", "beta"} <= set(provider_loader.loaded_submodules("mlgovfake_bad"))


def test_install_after_an_ordinary_import_warns_once(fake_root):
    # GIVEN a provider-shaped package something imported the ordinary way (all submodules)
    _fake_package(fake_root, "mlgovfake_late", GOOD_INIT)
    import mlgovfake_late  # noqa: F401

    err = io.StringIO()
    # WHEN install() runs after that, twice
    first = provider_loader.install("mlgovfake_late", environ={}, stderr=err)
    second = provider_loader.install("mlgovfake_late", environ={}, stderr=err)
    # THEN it changes nothing and says so in one line, not on every call
    assert (first, second) == ("already", "already")
    assert err.getvalue().splitlines() == [
        "mlgov: warning: mlgovfake_late was imported before provider_loader.install(); "
        "the lazy import cannot take effect (slower synth)"
    ]


def test_second_install_after_its_own_is_silent(fake_root):
    _fake_package(fake_root, "mlgovfake_twice", GOOD_INIT)
    err = io.StringIO()
    assert provider_loader.install("mlgovfake_twice", environ={}, stderr=err) == "lazy"
    assert provider_loader.install("mlgovfake_twice", environ={}, stderr=err) == "already"
    assert err.getvalue() == ""


def test_eager_mode_from_environment(fake_root):
    _fake_package(fake_root, "mlgovfake_env", GOOD_INIT)
    err = io.StringIO()
    assert provider_loader.install("mlgovfake_env", environ={"MLGOV_PROVIDER_IMPORT": "eager"}, stderr=err) == "eager"
    assert err.getvalue() == ""
    assert {"alpha", "beta"} <= set(provider_loader.loaded_submodules("mlgovfake_env"))


def test_unknown_mode_warns_and_stays_lazy(fake_root):
    _fake_package(fake_root, "mlgovfake_mode", GOOD_INIT)
    err = io.StringIO()
    assert provider_loader.install("mlgovfake_mode", environ={"MLGOV_PROVIDER_IMPORT": "fast"}, stderr=err) == "lazy"
    assert "MLGOV_PROVIDER_IMPORT='fast' is not one of lazy, eager" in err.getvalue()


def test_split_init_refuses_init_without_submodule_imports():
    with pytest.raises(provider_loader.LayoutError, match=r"no 'from \. import"):
        provider_loader.split_init("import jsii\n__all__ = []\n", {"_jsii"})


# --- the Node-side hook ----------------------------------------------------------------------

NODE_PROBE = textwrap.dedent(
    """
    globalThis.loaded = [];
    const pkg = require(process.argv[1]);
    const before = [...globalThis.loaded];
    const value = pkg.alpha.VALUE;
    console.log(JSON.stringify({ before, value, after: globalThis.loaded, keys: Object.keys(pkg) }));
    """
)


def _node_package(root: Path, index_lines: list[str]) -> Path:
    pkg = root / "node_modules" / "@cdktf" / "provider-aws"
    (pkg / "lib").mkdir(parents=True)
    (pkg / "package.json").write_text(json.dumps({"name": "@cdktf/provider-aws", "main": "lib/index.js"}))
    for sub in ("alpha", "beta"):
        (pkg / "lib" / sub).mkdir()
        (pkg / "lib" / sub / "index.js").write_text(f"globalThis.loaded.push({sub!r}); exports.VALUE = {sub!r};\n")
    (pkg / "lib" / "index.js").write_text("\n".join(index_lines) + "\n")
    return pkg


TS_INDEX = [
    '"use strict";',
    "/**",
    " * Copyright (c) HashiCorp, Inc.",
    " */",
    'Object.defineProperty(exports, "__esModule", { value: true });',
    "exports.beta = exports.alpha = void 0;",
    "// generated by cdktf get",
    'exports.alpha = require("./alpha");',
    'exports.beta = require("./beta");',
]


def _probe(pkg: Path) -> tuple[dict, str]:
    node = require_tool("node")
    env = dict(os.environ, NODE_OPTIONS=f'--require "{provider_loader.NODE_HOOK}"')
    proc = subprocess.run([node, "-e", NODE_PROBE, str(pkg)], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout), proc.stderr


@pytest.mark.slow  # starts node
def test_node_hook_requires_provider_modules_on_first_use(tmp_path):
    out, err = _probe(_node_package(tmp_path, TS_INDEX))
    assert out == {"before": [], "value": "alpha", "after": ["alpha"], "keys": ["alpha", "beta"]}
    assert err == ""


@pytest.mark.slow  # starts node
def test_node_hook_loads_everything_with_a_warning_on_unknown_index(tmp_path):
    out, err = _probe(_node_package(tmp_path, [*TS_INDEX, "exports.extra = 1;"]))
    assert out["before"] == ["alpha", "beta"]
    assert (
        "mlgov: warning: lazy require of @cdktf/provider-aws unavailable (unexpected line: exports.extra = 1;)" in err
    )


@pytest.mark.slow  # starts node
def test_node_hook_recognizes_the_installed_provider_index():
    # The installed provider's own lib/index.js (read from its jsii tarball) is in the shape the
    # hook rewrites, with one getter per resource module.
    node = require_tool("node")
    tarball = next(Path(sys.modules[provider_loader.PACKAGE].__path__[0], "_jsii").glob("*.jsii.tgz"))
    with tarfile.open(tarball) as tar:
        index = tar.extractfile("package/lib/index.js").read()
    script = (
        "const h = require(process.argv[1]);"
        " const r = h.parseIndex(require('fs').readFileSync(0, 'utf-8'));"
        " console.log(r.reason || r.entries.length);"
    )
    proc = subprocess.run([node, "-e", script, str(provider_loader.NODE_HOOK)], input=index, capture_output=True)
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout) > 2000


TRACE_PROBE = "const st = require(process.argv[1]); console.log(JSON.stringify(st.captureStackTrace()));"


def _trace_probe(module: Path, **env_extra: str) -> list:
    node = require_tool("node")
    env = dict(os.environ, NODE_OPTIONS=f'--require "{provider_loader.TOKEN_TRACES_HOOK}"', **env_extra)
    proc = subprocess.run([node, "-e", TRACE_PROBE, str(module)], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _package_file(root: Path, package: str, rel: str, text: str) -> Path:
    (root / "package.json").write_text(json.dumps({"name": package}))
    target = root / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    return target


@pytest.mark.slow  # starts node
def test_token_traces_hook_empties_the_installed_cdktf_stack_traces(tmp_path):
    # cdktf's own stack-trace module, from the jsii tarball the synth loads.
    import cdktf

    tarball = next(Path(cdktf.__path__[0], "_jsii").glob("*.jsii.tgz"))
    with tarfile.open(tarball) as tar:
        tar.extractall(
            tmp_path,
            members=[tar.getmember("package/package.json"), tar.getmember("package/lib/tokens/private/stack-trace.js")],
        )
    module = tmp_path / "package" / "lib" / "tokens" / "private" / "stack-trace.js"
    assert _trace_probe(module) == []
    assert len(_trace_probe(module, MLGOV_TOKEN_TRACES="1")) > 0  # the escape hatch keeps them


@pytest.mark.slow  # starts node
def test_token_traces_hook_leaves_other_packages_alone(tmp_path):
    module = _package_file(
        tmp_path, "not-cdktf", "lib/tokens/private/stack-trace.js", 'exports.captureStackTrace = () => ["frame"];\n'
    )
    assert _trace_probe(module) == ["frame"]
