"""The ``mlgov`` command line (also ``python main.py``).

Exit codes follow black's ``--check`` contract: 0 success / up to date, 1 drift or a failed
check, 2 bad input (spec or arguments), 3 a problem with the environment (missing tool).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from mlgov.errors import MlgovError, SpecError

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
    from mlgov.spec import load_spec

    path = Path(spec_path) if spec_path else default_spec_path()
    try:
        return load_spec(path)
    except SpecError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        sys.exit(EXIT_INPUT)


spec_argument = click.argument("spec", required=False, type=click.Path(dir_okay=False))


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="mlgov", message="mlgov %(version)s")
def cli() -> None:
    """mlgov: generate a governed multi-account ML platform on AWS from one org spec.

    SPEC defaults to the file named in cdktf.json (context key mlgovSpec), else org.yaml.
    """


@cli.command()
@spec_argument
def validate(spec: str | None) -> None:
    """Check SPEC: types, references, regions, ids and every derived AWS name."""
    org = load(spec)
    click.echo(f"{spec or default_spec_path()}: valid ({len(org.accounts)} accounts, {len(org.teams)} teams, {len(org.stack_refs())} stacks)")


@cli.command()
def schema() -> None:
    """Print the JSON Schema of the org spec (for editor completion)."""
    from mlgov.spec import json_schema
    from mlgov.synth import canonical_json

    click.echo(canonical_json(json_schema()).decode(), nl=False)


@cli.command()
@spec_argument
@click.option("--out", "out", type=click.Path(file_okay=False), help="Output directory [default: generated/, or $CDKTF_OUTDIR under the cdktf CLI].")
@click.option("--check", is_flag=True, help="Render to memory and compare with the output directory; exit 1 on drift.")
@click.option("--diff", "show_diff", is_flag=True, help="With --check: print a unified diff of the drift.")
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    help="Processes to synthesize stacks in [default: $MLGOV_SYNTH_JOBS, else 1 below 24 stacks, else one per CPU up to 4].",
)
def synth(spec: str | None, out: str | None, check: bool, show_diff: bool, jobs: int | None) -> None:
    """Synthesize every stack and product template of SPEC into the output directory."""
    from mlgov import synth as synthesis

    org = load(spec)
    out_dir = Path(out or os.environ.get("CDKTF_OUTDIR") or "generated")
    try:
        tree, summaries = synthesis.render(org, jobs)
    except MlgovError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_INPUT)
    current = synthesis.read_tree(out_dir)
    from mlgov.products import released_changes

    if changed_versions := released_changes(tree, current):
        for line in changed_versions:
            click.echo(f"{out_dir}/{line}", err=True)
        sys.exit(EXIT_INPUT)
    if check:
        drift = synthesis.compare(tree, current)
        if drift.clean:
            click.echo(f"{out_dir}/ is up to date ({len(tree)} files)")
            return
        click.echo(f"{out_dir}/ is stale; run `python main.py synth` and commit the result:", err=True)
        for line in drift.lines():
            click.echo(f"  {line}", err=True)
        if show_diff:
            click.echo(synthesis.unified_diff(tree, current, drift, str(out_dir)), nl=False)
        sys.exit(EXIT_DRIFT)
    for summary in summaries:
        click.echo(f"stack {summary.name:<28} {summary.resources:>4} resources  {out_dir}/{summary.path}")
    changed = synthesis.write_tree(tree, out_dir, current)
    click.echo(f"{out_dir}/: {'written' if changed else 'unchanged'} ({len(tree)} files)")


def main() -> None:
    """Console-script entry point: run the CLI with user errors as one line, never a traceback."""
    try:
        cli(prog_name="mlgov")
    except MlgovError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_ENV)


from mlgov import commands_org  # noqa: E402  (commands defined in their own modules)

cli.add_command(commands_org.discover)
cli.add_command(commands_org.doctor)
from mlgov import commands_review  # noqa: E402  (imports cli; must come after the group exists)

cli.add_command(commands_review.plan)
cli.add_command(commands_review.summarize)
cli.add_command(commands_review.graph)
cli.add_command(commands_review.atlantis)
