"""``validate`` and ``schema``: the spec on its own, nothing synthesized."""

from __future__ import annotations

import click

from mlgov.cli.common import default_spec_path, load, spec_argument
from mlgov.platform.canonical import canonical_json
from mlgov.spec.model import json_schema


@click.command()
@spec_argument
def validate(spec: str | None) -> None:
    """Check SPEC: types, references, regions, ids and every derived AWS name."""
    org = load(spec)
    click.echo(
        f"{spec or default_spec_path()}: valid ({len(org.accounts)} accounts, {len(org.teams)} teams, "
        f"{len(org.stack_refs())} stacks)"
    )


@click.command()
def schema() -> None:
    """Print the JSON Schema of the org spec (for editor completion)."""
    click.echo(canonical_json(json_schema()).decode(), nl=False)
