"""``migrate``: one-off transitions of an existing org to a new stack layout."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mlgov.cli.common import EXIT_INPUT, command, load, spec_argument, spec_path
from mlgov.errors import MlgovError
from mlgov.review import migrate as migration
from mlgov.synth import tree as synthesis


@click.group()
def migrate() -> None:
    """One-off transitions of an org already applied with an earlier stack layout."""


@migrate.command("split-stacks")
@spec_argument
@click.option(
    "--state",
    "states",
    multiple=True,
    metavar="STACK=FILE",
    help="The old state of a core stack (`terraform state pull` in its directory before the move); repeatable. "
    "Needed where AWS generated an id (SNS subscriptions); with it only what the state holds moves.",
)
@click.option(
    "--stack",
    "cores",
    multiple=True,
    metavar="STACK",
    help="Move only the slices of this core stack (repeatable) [default: every core stack with team slices].",
)
@click.option("--dry-run", is_flag=True, help="Print the fragments' paths and block counts; write nothing.")
def split_stacks(spec: str | None, states: tuple[str, ...], cores: tuple[str, ...], dry_run: bool) -> None:
    """Move each team's resources from the hub's and the test/prod accounts' stacks into the team's
    own slices (<account>-team-<team>) without destroying or replacing anything.

    Writes customizations/stacks/<stack>/mlgov-split-stacks.tf.json beside SPEC: `import`
    blocks in every slice, `removed { lifecycle { destroy = false } }` blocks in every core stack
    (Terraform 1.7+). Then: synth, apply the core stacks, then the slices, then delete the files
    and synth again (docs/changing-the-platform.md).
    """
    path = spec_path(spec)
    org = load(str(path))
    parsed: dict[str, Path] = {}
    for item in states:
        name, sep, file = item.partition("=")
        if not sep or not name or not file:
            click.echo(f"error: --state {item}: expected STACK=FILE", err=True)
            sys.exit(EXIT_INPUT)
        parsed[name] = Path(file)
    try:
        tree, _ = synthesis.render(org)
        fragments = migration.plan_fragments(org, tree, parsed, set(cores) if cores else None)
        files = migration.fragment_files(fragments)
        if not dry_run:
            migration.write_fragments(path.parent, files)
    except MlgovError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_INPUT)
    for rel in sorted(files):
        name = rel.split("/")[2]
        kind, blocks = next(iter(fragments[name].items()))
        click.echo(f"{path.parent / rel}: {len(blocks)} {kind} block(s)")
    if not fragments:
        click.echo("nothing to move: no stack has team slices")
    elif not dry_run:
        click.echo(f"next: `{command('synth')}`, apply the core stacks, then the slices; then delete these files")
