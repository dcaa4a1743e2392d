"""``validate`` and ``schema``: the spec on its own, nothing synthesized."""

from __future__ import annotations

import sys

import click

from mlgov.cli.common import EXIT_INPUT, default_spec_path, load, spec_argument
from mlgov.platform.canonical import canonical_json
from mlgov.platform.iam import inventory
from mlgov.review import iam, scps
from mlgov.review.product_policies import product_documents
from mlgov.spec.model import json_schema


@click.command()
@spec_argument
@click.option("--policies", is_flag=True, help="Also list every policy document the stacks will hold, with its size.")
@click.option("--json", "as_json", is_flag=True, help="With --policies: print JSON instead of a table.")
def validate(spec: str | None, policies: bool, as_json: bool) -> None:
    """Check SPEC: types, references, regions, ids and every derived AWS name.

    With --policies, list every policy document of the synthesized stacks (computed without
    synthesizing): stack, resource address, kind, the AWS object it applies to and its size as
    AWS counts it (IAM documents without white space; a Terraform reference counted as the
    longest value it can take), sorted by stack and address; then those of the product
    templates (stack: the template's path), sized as evaluated for an example launch.
    """
    org = load(spec)
    own_scp_check(org)
    summary = (
        f"{spec or default_spec_path()}: valid ({len(org.accounts)} accounts, {len(org.teams)} teams, "
        f"{len(org.stack_refs())} stacks)"
    )
    if not policies:
        click.echo(summary)
        return
    docs = inventory.documents(org) + product_documents(org)
    rows = [(d.stack, ".".join(filter(None, (d.address, d.attribute))), d.kind, d.aws_object, d.size) for d in docs]
    if as_json:
        keys = ("stack", "address", "kind", "object", "size")
        payload = {"summary": summary, "policies": [dict(zip(keys, row, strict=True)) for row in rows]}
        click.echo(canonical_json(payload).decode(), nl=False)
        return
    click.echo(summary)
    header = ("stack", "address", "kind", "object", "size")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(4)]
    for row in [header, *rows]:
        cells = [str(row[i]).ljust(widths[i]) for i in range(4)]
        click.echo("  ".join([*cells, str(row[4]).rjust(6)]))


def own_scp_check(org) -> None:
    """The spec's own SCPs against AWS's service definitions: one line per finding and exit 2;
    without the IAM bridge (Node.js and its pinned packages) one note line, as `mlgov check`
    then fails (exit 3)."""
    try:
        problems = scps.service_reference_problems(org)
    except iam.IamBridgeError as exc:
        click.echo(f"note: own SCPs not checked against AWS's service definitions ({exc})", err=True)
        return
    for line in problems:
        click.echo(line, err=True)
    if problems:
        sys.exit(EXIT_INPUT)


@click.command()
def schema() -> None:
    """Print the JSON Schema of the org spec (for editor completion)."""
    click.echo(canonical_json(json_schema()).decode(), nl=False)
