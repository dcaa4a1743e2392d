"""Commands for reviewing and shipping the generated Terraform: plan, summarize, graph, atlantis."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from mlgov.cli import EXIT_DRIFT, EXIT_ENV, EXIT_INPUT, default_spec_path, load, spec_argument
from mlgov.errors import MlgovError


@click.command()
@click.option("--stack", "selected", multiple=True, metavar="NAME", help="Plan only this stack (repeatable) [default: every stack].")
@click.option("--offline", is_flag=True, help="Local backend and dummy credentials: plan with no AWS access.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None, help="Stacks planned at once [default: CPU count].")
@click.option("--out", "out", type=click.Path(file_okay=False), default="plans", show_default=True, help="Where plan files and plan JSON go (<out>/<stack>/plan.json).")
@click.option("--stacks-dir", type=click.Path(file_okay=False), default="generated/stacks", show_default=True, help="The synthesized stacks.")
def plan(selected: tuple[str, ...], offline: bool, jobs: int | None, out: str, stacks_dir: str) -> None:
    """terraform init + plan + show -json for each stack, in parallel, with live progress.

    Exit 1 if any stack fails (named, with terraform's error); the plan JSON of the others
    is still written. Feed <out>/*/plan.json to `summarize`.
    """
    from mlgov import plan as planning

    root = Path(stacks_dir)
    available = sorted(p.name for p in root.iterdir() if (p / "cdk.tf.json").is_file()) if root.is_dir() else []
    if not available:
        click.echo(f"error: no stacks in {root}/ (run `python main.py synth` first)", err=True)
        sys.exit(EXIT_INPUT)
    unknown = sorted(set(selected) - set(available))
    if unknown:
        click.echo(f"error: unknown stack(s) {', '.join(unknown)} (got {', '.join(unknown)}, expected one of {', '.join(available)})", err=True)
        sys.exit(EXIT_INPUT)
    names = sorted(set(selected)) if selected else available
    try:
        runs = planning.run_plans({n: root / n for n in names}, Path(out), offline=offline, jobs=jobs or planning.default_jobs())
    except MlgovError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_ENV)
    failed = [r for r in runs if r.status != "ok"]
    for run in failed:
        click.echo(f"\nstack {run.name} failed: {run.error}", err=True)
    ok = len(runs) - len(failed)
    click.echo(f"{ok}/{len(runs)} stacks planned; plan JSON under {out}/<stack>/{planning.PLAN_JSON}")
    if failed:
        click.echo(f"failed: {', '.join(r.name for r in failed)}", err=True)
        sys.exit(EXIT_DRIFT)
