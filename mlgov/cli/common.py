"""What every command shares: exit codes, the default spec, loading it, the program's name.

Exit codes follow black's ``--check`` contract: 0 success / up to date, 1 drift or a failed
check, 2 bad input (spec or arguments), 3 a problem with the environment (missing tool); and 4,
``plan --detailed-exitcode`` only: every stack planned and at least one plan holds changes
(terraform's own ``-detailed-exitcode`` says 2 there, which mlgov gives bad input).

Which spec a command reads: the SPEC argument or ``--spec``; else the one ``cdktf.json`` in the
current directory names (its ``context.mlgovSpec``, else the first ``.yaml``/``.yml`` word of
its ``app`` command); else ``org.yaml``. ``mlgov init`` writes a ``cdktf.json`` that names it.
"""

from __future__ import annotations

import functools
import json
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import click

from mlgov.errors import SpecError
from mlgov.spec.model import OrgSpec
from mlgov.validation import load_spec

EXIT_DRIFT, EXIT_INPUT, EXIT_ENV, EXIT_CHANGES = 1, 2, 3, 4
DEFAULT_SPEC = "org.yaml"
CONTEXT_SPEC_KEY = "mlgovSpec"


def default_spec_path() -> Path:
    """The spec named by ``cdktf.json`` in the current directory (see the module docstring)."""
    config = Path("cdktf.json")
    if not config.is_file():
        return Path(DEFAULT_SPEC)
    try:
        doc = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        fail(f"{config}: not valid JSON ({exc})", EXIT_INPUT)
    if not isinstance(doc, dict):
        fail(f"{config}: expected a JSON object", EXIT_INPUT)
    context = doc.get("context")
    name = context.get(CONTEXT_SPEC_KEY) if isinstance(context, dict) else None
    if isinstance(name, str) and name:
        return Path(name)
    app = doc.get("app")
    try:
        words = shlex.split(app) if isinstance(app, str) else []
    except ValueError:
        words = []
    for word in words:
        if word.endswith((".yaml", ".yml")):
            return Path(word)
    return Path(DEFAULT_SPEC)


def spec_path(spec: str | None) -> Path:
    """The spec a command reads: ``spec`` when given, else :func:`default_spec_path`."""
    return Path(spec) if spec else default_spec_path()


def load(spec: str | None, typed: Callable[[OrgSpec], None] | None = None):
    """Load and validate the spec, or end the command with one line per problem and exit 2
    (``typed``: see :func:`mlgov.validation.parse_spec`)."""
    path = spec_path(spec)
    try:
        return load_spec(path, typed)
    except SpecError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        sys.exit(EXIT_INPUT)


def spec_argument(func: Callable[..., Any]) -> Callable[..., Any]:
    """The spec as an optional SPEC argument or ``--spec`` (the same thing; giving two different
    ones is an error), passed on as ``spec``."""

    @functools.wraps(func)
    def run(*args: Any, spec: str | None = None, spec_option: str | None = None, **kwargs: Any) -> Any:
        if spec and spec_option and Path(spec) != Path(spec_option):
            fail(f"two specs given (got {spec} and --spec {spec_option}, expected one)", EXIT_INPUT)
        return func(*args, spec=spec or spec_option, **kwargs)

    run = click.option(
        "--spec",
        "spec_option",
        type=click.Path(dir_okay=False),
        help="The org spec (same as SPEC) [default: the one cdktf.json names, else org.yaml].",
    )(run)
    return click.argument("spec", required=False, type=click.Path(dir_okay=False))(run)


def command(*args: str) -> str:
    """A command line for messages that tell the user what to run next: always the installed
    ``mlgov`` command (a checkout's ``python main.py`` is the same program)."""
    return " ".join(("mlgov", *args))


def fail(message: str, code: int = EXIT_ENV) -> NoReturn:
    """End the command with one ``error:`` line on stderr."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)
