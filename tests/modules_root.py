"""Many stacks through ONE terraform run: the stacks as the modules of one root configuration.

A terraform ``validate``, ``plan`` or ``show`` costs about 3 s of CPU before it looks at the
configuration: the AWS provider's schema, loaded again by every command. A test that needs 20
stacks validated or planned pays that 20 times per command when each stack is its own root;
as the modules of one root it pays it once per command. Each stack's configuration is used as
it is, with two differences a module imposes: its backend is ignored (terraform says so in a
warning, filtered here), and it may not hold ``import`` blocks (a root module only): such
stacks are for :func:`with_imports`, to run alone.

The root sits beside ``stacks/`` (``<tree>/<name>``), so the modules' relative sources hold.
"""

from __future__ import annotations

import json
from pathlib import Path

from mlgov.review import terraform

BACKEND_IGNORED = "Backend configuration ignored"


def with_imports(tree: Path, names: list[str]) -> list[str]:
    """The stacks of ``names`` (under ``tree/stacks``) that hold ``import`` blocks."""
    return [name for name in names if "import" in _stack(tree, name)]


def root(tree: Path, names: list[str], name: str, cli_config: Path, *, offline: bool = False) -> terraform.Workspace:
    """An initialized workspace ``tree/<name>-ws`` whose root calls each stack of ``names`` as
    the module of that name. ``offline``: each stack's directory gets the offline override
    (:func:`mlgov.review.terraform.offline_override`, without the backend a module cannot have),
    so the plan needs no AWS access; ``tree`` must then be the caller's own copy."""
    source = tree / name
    source.mkdir()
    modules = {stack: {"source": f"../stacks/{stack}"} for stack in names}
    (source / "main.tf.json").write_text(json.dumps({"module": modules}, indent=1))
    if offline:
        for stack in names:
            override = terraform.stack_offline_override(_stack(tree, stack))
            del override["terraform"]
            (tree / "stacks" / stack / terraform.OVERRIDE_NAME).write_text(json.dumps(override, indent=1))
    ws = terraform.Workspace(source, tree / f"{name}-ws", cli_config, offline=False)
    init = ws.init()
    assert init.ok, init.stderr
    return ws


def validate_as_modules(tree: Path, names: list[str], cli_config: Path) -> list[dict]:
    """``terraform validate`` of the stacks ``names`` under ``tree/stacks`` as the modules of one
    root. Returns terraform's diagnostics other than the ignored backends, each naming its
    stack's file."""
    validate = root(tree, names, "together", cli_config).validate()
    found = json.loads(validate.stdout)
    diagnostics = [d for d in found["diagnostics"] if d["summary"] != BACKEND_IGNORED]
    assert found["valid"] == validate.ok == (found["error_count"] == 0), validate.stdout
    return diagnostics


def errors_of(diagnostics: list[dict], stack: str) -> list[dict]:
    """The errors of :func:`validate_as_modules` that are ``stack``'s: those naming its file, and
    those naming no file (which may be anyone's)."""
    mine = f"../stacks/{stack}/cdk.tf.json"  # as terraform names a module's file from the root
    return [d for d in diagnostics if d["severity"] == "error" and d.get("range", {}).get("filename", mine) == mine]


def plan_as_modules(tree: Path, names: list[str], cli_config: Path) -> tuple[terraform.Result, dict | None]:
    """An offline ``terraform plan`` (no refresh, no state) of the stacks ``names`` under
    ``tree/stacks`` (the caller's copy: the offline overrides are written into it) as the
    modules of one root: the plan's result and, when it planned, its ``show -json``."""
    ws = root(tree, names, "planned", cli_config, offline=True)
    planned = ws.plan()
    if not planned.ok:
        return planned, None
    shown = ws.show_json()
    assert shown.ok, shown.stderr
    return planned, json.loads(shown.stdout)


def module_of(address: str) -> str:
    """The stack (module) a plan address of :func:`plan_as_modules` belongs to."""
    return address.removeprefix("module.").split(".", 1)[0]


def _stack(tree: Path, name: str) -> dict:
    return json.loads((tree / "stacks" / name / "cdk.tf.json").read_text())
