"""What every command shares: exit codes, the default spec, loading it, the program's name.

Exit codes follow black's ``--check`` contract: 0 success / up to date, 1 drift or a failed
check, 2 bad input (spec or arguments), 3 a problem with the environment (missing tool).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import NoReturn

import click

from mlgov.errors import SpecError
from mlgov.validation import load_spec

EXIT_DRIFT, EXIT_INPUT, EXIT_ENV = 1, 2, 3
DEFAULT_SPEC = "org.yaml"
CONTEXT_SPEC_KEY = "mlgovSpec"


def default_spec_path() -> Path:
    """The spec named by ``cdktf.json`` (context key ``mlgovSpec``) in the current directory."""
    config = Path("cdktf.json")
    if config.is_file():
        try:
            name = json.loads(config.read_text()).get("context", {}).get(CONTEXT_SPEC_KEY)
        except (OSError, ValueError):
            name = None
        if name:
            return Path(name)
    return Path(DEFAULT_SPEC)


def load(spec_path: str | None):
    """Load and validate the spec, or end the command with one line per problem and exit 2."""
    path = Path(spec_path) if spec_path else default_spec_path()
    try:
        return load_spec(path)
    except SpecError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        sys.exit(EXIT_INPUT)


spec_argument = click.argument("spec", required=False, type=click.Path(dir_okay=False))


def command(*args: str) -> str:
    """How the user runs mlgov: ``mlgov synth`` as the console script, ``python main.py synth``
    from a checkout; for messages that tell the user what to run next."""
    program = "python main.py" if os.path.basename(sys.argv[0]) == "main.py" else "mlgov"
    return " ".join((program, *args))


def fail(message: str, code: int = EXIT_ENV) -> NoReturn:
    """End the command with one ``error:`` line on stderr."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)
