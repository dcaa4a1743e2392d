"""``check``: the review gates mlgov's own output passes, run on a platform repository's tree.

The IAM review (every policy of ``generated/``: stacks with their customizations, mlgov's and
the user's product templates) against AWS's service definitions, with the accepted findings
of ``security/iam-findings-accepted.yaml`` scoped by mlgov's naming
(:mod:`mlgov.review.accepted`), and the own SCPs beside the spec. One line per unexplained
finding; exit 1 if any, 2 for an own SCP that fails the service reference, 3 without the IAM
bridge (Node.js and its pinned packages).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mlgov.cli.common import EXIT_DRIFT, EXIT_ENV, EXIT_INPUT, command, load, spec_argument, spec_path
from mlgov.review import accepted, iam, scps
from mlgov.review.policies import collect


@click.command()
@spec_argument
@click.option(
    "--generated",
    type=click.Path(file_okay=False),
    default=None,
    help="The synthesized tree [default: generated/ beside the spec].",
)
def check(spec: str | None, generated: str | None) -> None:
    """IAM review of the generated tree and the own SCPs, as mlgov's own output passes it."""
    org = load(spec)
    root = Path(generated) if generated else spec_path(spec).parent / "generated"
    if not (root / "stacks").is_dir():
        click.echo(f"error: {root}/: no stacks (run `{command('synth')}` first)", err=True)
        sys.exit(EXIT_INPUT)
    try:
        scp_problems = scps.service_reference_problems(org)
        policies = collect(root)
        findings = iam.validate([(p.id, p.kind, p.document) for p in policies])
    except iam.IamBridgeError as exc:
        click.echo(f"error: the IAM review cannot run: {exc}", err=True)
        sys.exit(EXIT_ENV)
    for line in scp_problems:
        click.echo(line, err=True)
    if scp_problems:
        sys.exit(EXIT_INPUT)
    entries = accepted.iam_entries()
    unexplained = sorted(
        str(f)
        for f in findings
        if not any(e["code"] == f.code and accepted.explains(e, f.policy, org) for e in entries)
    )
    for line in unexplained:
        click.echo(line)
    click.echo(
        f"{root}/: {len(policies)} policies reviewed, {len(findings) - len(unexplained)} accepted finding(s), "
        f"{len(unexplained)} unexplained",
        err=True,
    )
    if unexplained:
        sys.exit(EXIT_DRIFT)
