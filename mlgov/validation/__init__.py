"""Validation: the spec's semantic checks on top of its types, and the one way to load a spec.

:func:`load_spec` is what every command calls: read YAML with line numbers, validate types
(:mod:`mlgov.spec.model`), then run the semantic checks (:mod:`mlgov.validation.checks`),
which use the platform facts (names, SCP sizes, product templates) that synthesis will use.
A spec that loads here synthesizes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mlgov.errors import Problem, SpecError
from mlgov.spec.located import Located, dotted
from mlgov.spec.model import OrgSpec, parse_model, read_spec_file
from mlgov.validation.checks import semantic_problems


def parse_spec(located: Located, typed: Callable[[OrgSpec], None] | None = None) -> OrgSpec:
    """Validate parsed YAML into an :class:`OrgSpec`, then run the semantic checks.

    ``typed`` is called with the spec once its types are valid, before the semantic checks (the
    slow part of a large spec): ``mlgov synth`` starts its workers there. It must not change it.

    Raises:
        SpecError: with one problem per type error or semantic violation.
    """
    spec = parse_model(located)
    if typed is not None:
        typed(spec)
    problems = [
        Problem(located.file, located.line_of(path), dotted(path), message)
        for path, message in semantic_problems(spec, located.data)
    ]
    if problems:
        raise SpecError(problems)
    return spec


def load_spec(path: str | Path, typed: Callable[[OrgSpec], None] | None = None) -> OrgSpec:
    """Read, parse and validate a spec file (``typed``: see :func:`parse_spec`). Raises
    SpecError for anything wrong with it."""
    return parse_spec(read_spec_file(path), typed)
