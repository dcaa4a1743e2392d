"""``seed``: the first commit of a model-build repository (scripts, tests, pipeline, buildspec)."""

from __future__ import annotations

from pathlib import Path

import click

from mlgov.cli.common import EXIT_INPUT, fail
from mlgov.platform.seed import seed_tree
from mlgov.synth import outdir
from mlgov.synth.tree import write_tree

# A fresh clone of the project's (empty) repository holds only git's own folder.
KEEP = (".git",)


@click.command()
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
def seed(out: Path) -> None:
    """Write the model-build seed into OUT, to push as the project's first commit.

    OUT must be new, empty (a fresh clone: its .git is left alone) or a seed mlgov wrote before
    (it then rewrites only its own files, listed in mlgov-files.txt). The seed's
    pipeline/definition.json is the one the model-build product (v3) creates.
    """
    try:
        changed = write_tree(seed_tree(), out, keep=KEEP)
    except outdir.UnsafeOutput as exc:
        fail(str(exc), EXIT_INPUT)
    click.echo(f"{out}: {'written' if changed else 'unchanged'} (model-build seed, {len(seed_tree())} files)")
