"""The ``mlgov`` command line (in a checkout also ``python main.py``): the group that registers every command.

Each command lives in the module of its feature and imports only :mod:`mlgov.cli.common`
and the layers below; this module imports them all and adds them to the group, in the
order ``mlgov --help`` lists them.
"""

from __future__ import annotations

import sys

import click

from mlgov.cli import check, init, migrate, org, review, seed, spec, synth
from mlgov.cli.common import EXIT_ENV
from mlgov.errors import MlgovError


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="mlgov", message="mlgov %(version)s")
def cli() -> None:
    """mlgov: generate a governed multi-account ML platform on AWS from one org spec.

    SPEC (or --spec) defaults to the file cdktf.json names (context key mlgovSpec, else the
    .yaml in its app command), else org.yaml. In SPEC's folder: templates/ (own product
    templates), released/<org name>/ (released product versions), scps/<target>/ (own SCPs),
    customizations/ (Terraform JSON merged into stacks), generated/ (synth's output); see
    docs/extending.md.
    """


for _command in (
    init.init,
    spec.validate,
    spec.schema,
    synth.synth,
    review.affected,
    review.plan,
    review.summarize,
    review.scan,
    check.check,
    review.graph,
    review.atlantis,
    migrate.migrate,
    seed.seed,
    org.discover,
    org.doctor,
    org.clean_state,
):
    cli.add_command(_command)


def main() -> None:
    """Console-script entry point: run the CLI with user errors as one line, never a traceback."""
    try:
        cli(prog_name="mlgov")
    except MlgovError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_ENV)
