"""The one Jinja environment that renders product templates (and the governance flow's
endpoint template, ``templates/governance/``).

Templates hold loops and conditionals only; Python builds every value they print (see
:mod:`mlgov.platform.catalog`). The environment is deterministic by construction: no extensions
(so no time, random or uuid helpers), undefined names fail loudly, output keeps its trailing
newline, and nothing is HTML-escaped (the output is YAML).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import jinja2

# The repository's templates/ folder; installed, the same files ship as package data
# (mlgov/templates is a link to it in the checkout).
TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
TEMPLATE_SUFFIX = ".yaml.j2"


def _quote(value: object) -> str:
    """A YAML-safe scalar: JSON strings and numbers are valid YAML flow scalars."""
    return json.dumps(value, ensure_ascii=False)


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The shared environment (cached: templates compile once per process)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
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


def released_path(key: str) -> Path:
    """Released copy of the product file ``products/<portfolio>/<product>/<version>.yaml``: the
    bytes users provisioned, served as they are for a ``frozen: true`` version."""
    return TEMPLATES_DIR / "released" / key.removeprefix("products/")


def template_path(name: str) -> Path:
    """Where template ``name`` lives (``templates/<name>.yaml.j2``)."""
    return TEMPLATES_DIR / f"{name}{TEMPLATE_SUFFIX}"


def render_file(relpath: str, view: dict) -> str:
    """Render ``templates/<relpath>`` (any suffix, e.g. ``governance/endpoint.json.j2``) with
    ``view`` as its only context; for templates that are not Service Catalog products."""
    return environment().get_template(relpath).render(**view)


def render_template(name: str, view: dict) -> str:
    """Render ``templates/<name>.yaml.j2`` with ``view`` as its only context."""
    return environment().get_template(f"{name}{TEMPLATE_SUFFIX}").render(**view)
