"""``synth``: render every stack and product template of the spec, write or check them."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from mlgov.cli.common import EXIT_DRIFT, EXIT_ENV, EXIT_INPUT, command, load, spec_argument, spec_path
from mlgov.errors import MlgovError
from mlgov.platform.catalog import released_changes
from mlgov.synth import incremental, outdir, pool
from mlgov.synth import tree as synthesis
from mlgov.synth.stacks import MissingTool


@click.command()
@spec_argument
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False),
    help="Output directory [default: generated/ beside SPEC, or $CDKTF_OUTDIR under the cdktf CLI].",
)
@click.option("--check", is_flag=True, help="Render to memory and compare with the output directory; exit 1 on drift.")
@click.option("--diff", "show_diff", is_flag=True, help="With --check: print a unified diff of the drift.")
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    help="Processes to synthesize stacks in [default: $MLGOV_SYNTH_JOBS, else 1 below 24 stacks, else one per CPU up "
    "to 4].",
)
@click.option(
    "--cache",
    "cache_dir",
    type=click.Path(file_okay=False),
    help="Directory of team stacks synthesized before: one whose inputs did not change is taken from it "
    f"[default: ${incremental.CACHE_ENV}, else no cache].",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress line per stack on stderr.")
def synth(
    spec: str | None,
    out: str | None,
    check: bool,
    show_diff: bool,
    jobs: int | None,
    cache_dir: str | None,
    quiet: bool,
) -> None:
    """Synthesize every stack and product template of SPEC into the output directory.

    Prints one line per stack on stderr as it is done (not with --quiet).
    """
    path = spec_path(spec)
    out_dir = Path(out or os.environ.get("CDKTF_OUTDIR") or path.parent / "generated")

    def progress(name: str, resources: int) -> None:
        click.echo(f"stack {name:<28} {resources:>4} resources  {out_dir}/{synthesis.stack_path(name)}", err=True)

    # The synth workers boot while the spec's semantic checks run (not with a cache: its hits
    # need no worker). Leaving the block, by an error or exit too, stops any left unused.
    caching = incremental.cache_path(Path(cache_dir) if cache_dir else None) is not None
    with pool.Warmup(jobs, enabled=not caching) as warm:
        org = load(str(path), typed=warm.typed)
        try:
            # Before rendering or reading: `--out ~` must not read (let alone replace) a home directory.
            ownership = outdir.inspect(out_dir.resolve())
            cache = incremental.cache_from(Path(cache_dir) if cache_dir else None)
            tree, _ = synthesis.render(org, jobs, progress=None if quiet else progress, cache=cache, warm=warm)
            outdir.check_targets(ownership, tree)
        except MissingTool as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_ENV)
        except MlgovError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_INPUT)
    current = synthesis.read_tree(out_dir)
    if changed_versions := released_changes(tree, current, org):
        for line in changed_versions:
            click.echo(f"{out_dir}/{line}", err=True)
        sys.exit(EXIT_INPUT)
    if check:
        drift = synthesis.compare(tree, current)
        if drift.clean:
            click.echo(f"{out_dir}/ is up to date ({len(tree)} files)")
            return
        click.echo(f"{out_dir}/ is stale; run `{command('synth')}` and commit the result:", err=True)
        for line in drift.lines():
            click.echo(f"  {line}", err=True)
        if show_diff:
            click.echo(synthesis.unified_diff(tree, current, drift, str(out_dir)), nl=False)
        sys.exit(EXIT_DRIFT)
    changed = synthesis.write_tree(tree, out_dir, current)
    click.echo(f"{out_dir}/: {'written' if changed else 'unchanged'} ({len(tree)} files)")
