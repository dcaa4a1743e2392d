"""The one Jinja environment that renders product templates (and the governance flow's
endpoint template, ``templates/governance/``), and where a spec's templates come from.

Templates hold loops and conditionals only; Python builds every value they print (see
:mod:`mlgov.platform.catalog`). The environment is deterministic by construction: no extensions
(so no time, random or uuid helpers), undefined names fail loudly, output keeps its trailing
newline, and nothing is HTML-escaped (the output is YAML).

Where templates come from, for a spec loaded from a file (paths relative to the spec's folder):

- ``templates/<name>.yaml.j2``: the platform team's own product templates, searched before the
  ones mlgov ships (so a template of one's own may also replace a built-in one by name);
- ``released/<org name>/<portfolio>/<product>/<version>.yaml``: the released copy of a
  ``frozen: true`` product version, keyed by the spec's ``organization.name``. The copies mlgov
  ships (``mlgov/templates/released/``) are Northwind's, the org of the spec mlgov ships, and are
  served only to a spec of that organization (its name and id): never another org's bytes.

In mlgov's own checkout the spec is ``mlgov/org.yaml`` (the top-level ``org.yaml`` links to it,
and a spec's folder is its real one), so its ``templates/`` folder *is* the shipped one; a frozen
version of its org then keeps its copy in ``mlgov/templates/released/``, which ships with the
package.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import jinja2

from mlgov.spec.model import OrgSpec

# The package's templates/ folder (mlgov/templates), shipped as package data.
TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
TEMPLATE_SUFFIX = ".yaml.j2"
# Beside the spec: the user's own templates, and the released copies of frozen versions by org.
USER_TEMPLATES = "templates"
USER_RELEASED = "released"
# The organization of the spec mlgov ships (org.yaml): the only one the shipped released copies
# belong to (tests/test_user_repo.py checks org.yaml still says so).
SHIPPED_ORG = ("nwa", "o-nw4a8k2j6q")
# The shipped folder as it is on disk (not as a test may repoint TEMPLATES_DIR).
_SHIPPED_REAL = TEMPLATES_DIR.resolve()


def _quote(value: object) -> str:
    """A YAML-safe scalar: JSON strings and numbers are valid YAML flow scalars."""
    return json.dumps(value, ensure_ascii=False)


@dataclass(frozen=True)
class Sources:
    """Where one spec's templates and released copies are read from, in search order."""

    folders: tuple[Path, ...]  # template folders: the user's first, the shipped one last
    released: tuple[Path, ...]  # roots holding <portfolio>/<product>/<version>.yaml
    remedy: str  # where a new released copy goes, relative to the spec's folder (for messages)


def _is_checkout(home: Path) -> bool:
    """Whether ``home`` is mlgov's own checkout (its templates/ is the shipped folder)."""
    return (home / USER_TEMPLATES).resolve() == _SHIPPED_REAL


def sources(spec: OrgSpec) -> Sources:
    """The :class:`Sources` of ``spec`` (a spec not read from a file has the shipped ones only)."""
    home = spec.home
    shipped_org = (spec.organization.name, spec.organization.id) == SHIPPED_ORG
    builtin_released = (TEMPLATES_DIR / "released",) if shipped_org else ()
    if home is None:
        return Sources((TEMPLATES_DIR,), builtin_released, f"{USER_TEMPLATES}/released")
    if _is_checkout(home):
        return Sources((TEMPLATES_DIR,), builtin_released, f"{USER_TEMPLATES}/released")
    own = home / USER_TEMPLATES
    folders = ((own,) if own.is_dir() else ()) + (TEMPLATES_DIR,)
    org_released = f"{USER_RELEASED}/{spec.organization.name}"
    return Sources(folders, (home / org_released, *builtin_released), org_released)


@lru_cache(maxsize=8)
def environment(folders: tuple[Path, ...] = ()) -> jinja2.Environment:
    """The shared environment over ``folders`` (default: the shipped templates), cached: templates
    compile once per process."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(f) for f in folders or (TEMPLATES_DIR,)]),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # noqa: S701 - the output is YAML, not HTML
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=[],
    )
    env.filters["quote"] = _quote
    # Globals a template could use to smuggle in non-determinism or file access.
    for name in ("range", "lipsum", "cycler", "joiner", "namespace"):
        env.globals.pop(name, None)
    return env


def released_path(spec: OrgSpec, key: str) -> Path | None:
    """Released copy of the product file ``products/<portfolio>/<product>/<version>.yaml``: the
    bytes users provisioned, served as they are for a ``frozen: true`` version; None if ``spec``
    has none (see the module docstring for where it is looked up)."""
    rel = key.removeprefix("products/")
    for root in sources(spec).released:
        if (root / rel).is_file():
            return root / rel
    return None


def released_target(spec: OrgSpec | None, key: str) -> str:
    """Where the released copy of ``key`` belongs, relative to the spec's folder."""
    remedy = sources(spec).remedy if spec is not None else f"{USER_TEMPLATES}/released"
    return f"{remedy}/{key.removeprefix('products/')}"


def template_path(spec: OrgSpec, name: str) -> Path | None:
    """The file template ``name`` (``<name>.yaml.j2``) is read from, or None if ``spec`` has none."""
    for folder in sources(spec).folders:
        if (folder / f"{name}{TEMPLATE_SUFFIX}").is_file():
            return folder / f"{name}{TEMPLATE_SUFFIX}"
    return None


def known_templates(spec: OrgSpec) -> list[str]:
    """Names of every product template ``spec`` may use, sorted."""
    names = {p.name.removesuffix(TEMPLATE_SUFFIX) for f in sources(spec).folders for p in f.glob(f"*{TEMPLATE_SUFFIX}")}
    return sorted(names)


def render_file(relpath: str, view: dict) -> str:
    """Render the shipped ``templates/<relpath>`` (any suffix, e.g. ``governance/endpoint.json.j2``)
    with ``view`` as its only context; for templates that are not Service Catalog products."""
    return environment((TEMPLATES_DIR,)).get_template(relpath).render(**view)


def render_template(name: str, view: dict, spec: OrgSpec | None = None) -> str:
    """Render product template ``name`` (``<name>.yaml.j2``: ``spec``'s own before the shipped
    one) with ``view`` as its only context."""
    folders = sources(spec).folders if spec is not None else (TEMPLATES_DIR,)
    return environment(folders).get_template(f"{name}{TEMPLATE_SUFFIX}").render(**view)
