"""Validation: the spec's semantic checks on top of its types, and the one way to load a spec.

:func:`load_spec` is what every command calls: read YAML with line numbers, validate types
(:mod:`mlgov.spec.model`), then run the semantic checks (:mod:`mlgov.validation.checks`),
which use the platform facts (names, SCP sizes, product templates) that synthesis will use.
A spec that loads here synthesizes.
"""

from __future__ import annotations

from pathlib import Path

from mlgov.errors import Problem, SpecError
from mlgov.spec.located import Located, dotted
from mlgov.spec.model import OrgSpec, parse_model, read_spec_file
from mlgov.validation.checks import semantic_problems


def parse_spec(located: Located) -> OrgSpec:
    """Validate parsed YAML into an :class:`OrgSpec`, then run the semantic checks.

    Raises:
        SpecError: with one problem per type error or semantic violation.
    """
    spec = parse_model(located)
    problems = [
        Problem(located.file, located.line_of(path), dotted(path), message)
        for path, message in semantic_problems(spec, located.data)
    ]
    if problems:
        raise SpecError(problems)
    return spec


def load_spec(path: str | Path) -> OrgSpec:
    """Read, parse and validate a spec file. Raises SpecError for anything wrong with it."""
    return parse_spec(read_spec_file(path))
