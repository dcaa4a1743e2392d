"""Commands for reviewing and shipping the generated Terraform: plan, summarize, scan, graph, atlantis."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from mlgov.cli.common import EXIT_DRIFT, EXIT_ENV, EXIT_INPUT, command, load, spec_argument
from mlgov.errors import MlgovError
from mlgov.platform.canonical import canonical_json
from mlgov.platform.manifest import atlantis_yaml
from mlgov.review import graph as graphing
from mlgov.review import plan as planning
from mlgov.review import security, summary
from mlgov.synth import outdir


@click.command()
@click.option(
    "--stack",
    "selected",
    multiple=True,
    metavar="NAME",
    help="Plan only this stack (repeatable) [default: every stack].",
)
@click.option("--offline", is_flag=True, help="Local backend and dummy credentials: plan with no AWS access.")
@click.option(
    "--jobs", "-j", type=click.IntRange(min=1), default=None, help="Stacks planned at once [default: CPU count]."
)
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False),
    default="plans",
    show_default=True,
    help="Where plan files and plan JSON go (<out>/<stack>/plan.json).",
)
@click.option(
    "--stacks-dir",
    type=click.Path(file_okay=False),
    default="generated/stacks",
    show_default=True,
    help="The synthesized stacks.",
)
def plan(selected: tuple[str, ...], offline: bool, jobs: int | None, out: str, stacks_dir: str) -> None:
    """terraform init + plan + show -json for each stack, in parallel, with live progress.

    Exit 1 if any stack fails (named, with terraform's error); the plan JSON of the others
    is still written. Feed <out>/*/plan.json to `summarize`.
    """
    root = Path(stacks_dir)
    available = sorted(p.name for p in root.iterdir() if (p / "cdk.tf.json").is_file()) if root.is_dir() else []
    if not available:
        click.echo(f"error: no stacks in {root}/ (run `{command('synth')}` first)", err=True)
        sys.exit(EXIT_INPUT)
    unknown = sorted(set(selected) - set(available))
    if unknown:
        click.echo(
            f"error: unknown stack(s) {', '.join(unknown)} (got {', '.join(unknown)}, expected one of "
            f"{', '.join(available)})",
            err=True,
        )
        sys.exit(EXIT_INPUT)
    names = sorted(set(selected)) if selected else available
    try:
        runs = planning.run_plans(
            {n: root / n for n in names}, Path(out), offline=offline, jobs=jobs or planning.default_jobs()
        )
    except outdir.UnsafeOutput as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_INPUT)
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


@click.command()
@click.argument("plan_json", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["markdown", "json"]),
    default="markdown",
    show_default=True,
    help="markdown for a PR comment, json for a pipeline.",
)
@click.option(
    "--max-chars",
    type=click.IntRange(min=1000),
    default=65000,
    show_default=True,
    help="Fold detail to stay under this size (destroy/replace warnings are never dropped).",
)
@click.option(
    "--manifest",
    "manifest_path",
    type=click.Path(dir_okay=False),
    default="generated/mlgov-manifest.json",
    show_default=True,
    help="Stack manifest naming each stack's account (optional).",
)
def summarize(plan_json: tuple[str, ...], fmt: str, max_chars: int, manifest_path: str) -> None:
    """One PR-ready report for the plan JSON of all stacks (`terraform show -json` output).

    The stack is named after the file's directory (plans/<stack>/plan.json) or its stem
    (<stack>.json). Destroys and replacements come first, security-relevant changes are
    called out, stacks without changes share one line.
    """
    manifest = None
    if Path(manifest_path).is_file():
        manifest = json.loads(Path(manifest_path).read_text())
    try:
        reports = summary.load_reports([Path(p) for p in plan_json], manifest)
    except (ValueError, KeyError, TypeError) as exc:
        click.echo(f"error: not a terraform plan JSON document ({type(exc).__name__}: {exc})", err=True)
        sys.exit(EXIT_INPUT)
    if fmt == "json":
        click.echo(canonical_json(summary.as_json(reports, max_chars)).decode(), nl=False)
    else:
        click.echo(summary.markdown(reports, max_chars), nl=False)


@click.command()
@spec_argument
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False),
    default="atlantis.yaml",
    show_default=True,
    help="File to write ('-' for stdout).",
)
@click.option(
    "--stacks-dir",
    default="generated/stacks",
    show_default=True,
    help="Stack directories relative to the repository root.",
)
@click.option("--check", is_flag=True, help="Compare with the file instead of writing; exit 1 if it differs.")
def atlantis(spec: str | None, out: str, stacks_dir: str, check: bool) -> None:
    """Write atlantis.yaml: one project per stack, depends_on from the stack manifest."""
    text = atlantis_yaml(load(spec), stacks_dir)
    if out == "-":
        click.echo(text, nl=False)
        return
    path = Path(out)
    if check:
        if not path.is_file() or path.read_text() != text:
            click.echo(f"{out} is stale; run `{command('atlantis')}` and commit the result", err=True)
            sys.exit(EXIT_DRIFT)
        click.echo(f"{out} is up to date")
        return
    path.write_text(text)
    click.echo(f"{out}: {text.count('- name:')} projects")


@click.command()
@spec_argument
@click.option("--format", "fmt", type=click.Choice(["mermaid", "dot", "json"]), default="mermaid", show_default=True)
def graph(spec: str | None, fmt: str) -> None:
    """The platform as SPEC describes it: accounts by OU, stacks, event flow, deployment stages."""
    click.echo(graphing.render(load(spec), fmt), nl=False)


@click.command()
@click.argument("directory", required=False, default="generated", type=click.Path(file_okay=False))
def scan(directory: str) -> None:
    """mlgov's own security assertions over a generated tree (DIRECTORY, default generated/).

    One line per finding (stack, resource, check, what is wrong); exit 1 if any.
    """
    root = Path(directory)
    if not root.is_dir():
        click.echo(f"error: {root}: not a directory (run `{command('synth')}` first)", err=True)
        sys.exit(EXIT_INPUT)
    files = {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
    findings = security.check_tree(files)
    for finding in findings:
        click.echo(str(finding))
    click.echo(f"{root}/: {len(findings)} security finding(s) in {len(files)} files", err=True)
    if findings:
        sys.exit(EXIT_DRIFT)
