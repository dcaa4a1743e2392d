"""Account customizations: Terraform JSON fragments of the platform team's own, merged into stacks.

Beside the spec (paths relative to its folder):

- ``customizations/layers/<layer>/*.tf.json``: merged into every core stack of that layer
  (``management``, ``shared-services``, ``dev``, ``test``, ``prod``, ``data``), every region;
  never into a team's slice of an account, which would then hold a second copy;
- ``customizations/accounts/<account key>/*.tf.json``: merged into that account's stack in its
  primary region (the stack named after the key);
- ``customizations/stacks/<stack name>/*.tf.json``: merged into exactly that stack (a team's
  slice included); ``mlgov migrate split-stacks`` writes its ``import`` and ``removed`` blocks
  here (docs/changing-the-platform.md).

A fragment may hold ``resource``, ``data``, ``output``, ``locals``, ``moved``, ``import`` and
``removed`` blocks, in Terraform's JSON syntax. The backend, providers and modules stay mlgov's: a fragment
with ``terraform``, ``provider`` or ``module`` is refused (a module source would also need the
network at ``init``). Addresses are the fragment's own names, never derived from positions, so
they are stable; one that is already in the stack (mlgov's or another fragment's) is refused, as
is anything that is not a JSON object of named blocks. Files are read in name order and the
result is canonical JSON, so the output is deterministic. The merged stacks then go through
every gate the generated tree does (``synth --check``, ``mlgov scan``, plans).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from mlgov.errors import MlgovError
from mlgov.platform.canonical import Tree, canonical_json
from mlgov.spec.model import Layer, OrgSpec

FOLDER = "customizations"
FOLDERS = ("layers", "accounts", "stacks")
SUFFIX = ".tf.json"
# Named blocks: {type: {name: body}} (resource, data) or {name: value} (output, locals).
TWO_LEVEL = ("resource", "data")
ONE_LEVEL = ("output", "locals")
LISTS = ("moved", "import", "removed")
MLGOV_ONLY = ("terraform", "provider", "module")
# Terraform identifiers (block labels): a letter or underscore, then letters, digits, _ and -.
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


class CustomizationError(MlgovError):
    """A fragment that cannot be merged; one line naming the file and what is wrong."""


def fragments(spec: OrgSpec) -> dict[str, list[Path]]:
    """Fragment files per stack name, in merge order (layer ones first, then the account's)."""
    home = spec.home
    if home is None or not (home / FOLDER).is_dir():
        return {}
    root = home / FOLDER
    known = {layer.value for layer in Layer}
    for kind in sorted(p.name for p in root.iterdir()):
        if kind not in FOLDERS:
            raise CustomizationError(f"{root / kind}: unknown folder (expected layers/, accounts/ or stacks/)")
    stacks = {ref.name for ref in spec.stack_refs()}
    for folder, allowed, what in (
        ("layers", known, "layer"),
        ("accounts", set(spec.accounts), "account key"),
        ("stacks", stacks, "stack"),
    ):
        for entry in sorted((root / folder).iterdir()) if (root / folder).is_dir() else []:
            if entry.name not in allowed:
                raise CustomizationError(
                    f"{entry}: unknown {what} (got {entry.name!r}, expected one of {sorted(allowed)})"
                )
    out: dict[str, list[Path]] = {}
    for ref in spec.stack_refs():
        files = [] if ref.is_slice else sorted((root / "layers" / ref.layer.value).glob(f"*{SUFFIX}"))
        if ref.name == ref.account:  # the account's primary-region stack is named after its key
            files += sorted((root / "accounts" / ref.account).glob(f"*{SUFFIX}"))
        files += sorted((root / "stacks" / ref.name).glob(f"*{SUFFIX}"))
        if files:
            out[ref.name] = files
    return out


def _load(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_bytes())
    except (OSError, UnicodeDecodeError) as exc:
        raise CustomizationError(f"{path}: cannot read it ({exc})") from None
    except ValueError as exc:
        raise CustomizationError(f"{path}: not JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise CustomizationError(f"{path}: expected a JSON object of Terraform blocks (got {type(doc).__name__})")
    for key in doc:
        if key in MLGOV_ONLY:
            raise CustomizationError(f"{path}: {key!r} blocks are mlgov's (backend, providers); not allowed here")
        if key not in TWO_LEVEL + ONE_LEVEL + LISTS:
            allowed = ", ".join(TWO_LEVEL + ONE_LEVEL + LISTS)
            raise CustomizationError(f"{path}: unknown block {key!r} (expected one of {allowed})")
        block = doc[key]
        if key in LISTS:
            if not isinstance(block, list) or not all(isinstance(item, dict) for item in block):
                raise CustomizationError(f"{path}: {key} must be a JSON list of objects")
        elif key in TWO_LEVEL:
            for kind, named in _labels(path, key, block).items():
                _labels(path, f"{key}.{kind}", named)
        else:
            _labels(path, key, block)
    return doc


def _labels(path: Path, where: str, block: Any) -> dict[str, Any]:
    if not isinstance(block, dict) or not block:
        raise CustomizationError(f"{path}: {where} must be a non-empty JSON object of named blocks")
    for name in block:
        if not IDENTIFIER.match(name):
            raise CustomizationError(f"{path}: {where}.{name}: not a Terraform identifier (letters, digits, _ and -)")
    return block


def merge(stack: dict[str, Any], fragment: dict[str, Any], path: Path) -> None:
    """Merge ``fragment`` (read and checked from ``path``) into the stack document, refusing any
    address the stack already has."""
    for key, block in fragment.items():
        if key in LISTS:
            stack.setdefault(key, []).extend(block)
            continue
        target = stack.setdefault(key, {})
        if key in TWO_LEVEL:
            for kind, named in block.items():
                present = target.setdefault(kind, {})
                for name, body in named.items():
                    if name in present:
                        address = f"{'data.' if key == 'data' else ''}{kind}.{name}"
                        raise CustomizationError(f"{path}: {address} is already in the stack (rename it)")
                    present[name] = body
        else:
            for name, value in block.items():
                if name in target:
                    raise CustomizationError(f"{path}: {key}.{name} is already in the stack (rename it)")
                target[name] = value


def load_all(spec: OrgSpec) -> dict[str, list[tuple[Path, dict[str, Any]]]]:
    """Every stack's fragments, read and checked (before synthesis: a bad file fails fast)."""
    return {name: [(path, _load(path)) for path in files] for name, files in fragments(spec).items()}


def apply(tree: Tree, loaded: dict[str, list[tuple[Path, dict[str, Any]]]]) -> Tree:
    """``tree`` with the fragments of :func:`load_all` merged into their stacks (``tree`` itself
    is not modified)."""
    out = dict(tree)
    for name, parts in sorted(loaded.items()):
        rel = f"stacks/{name}/cdk.tf.json"
        stack = json.loads(out[rel])
        for path, fragment in parts:
            merge(stack, json.loads(json.dumps(fragment)), path)
        out[rel] = canonical_json(stack)
    return out
