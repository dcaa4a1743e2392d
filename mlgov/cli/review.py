"""Commands for reviewing and shipping the generated Terraform: affected, plan, summarize, scan, graph, atlantis."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import click

from mlgov.cli.common import EXIT_CHANGES, EXIT_DRIFT, EXIT_ENV, EXIT_INPUT, command, load, spec_argument
from mlgov.errors import MlgovError
from mlgov.platform import workflows
from mlgov.platform.canonical import canonical_json
from mlgov.platform.manifest import atlantis_yaml
from mlgov.review import affected as affecting
from mlgov.review import graph as graphing
from mlgov.review import plan as planning
from mlgov.review import security, summary, terraform
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
@click.option(
    "--changed-since",
    "since",
    metavar="REF",
    help="Plan only the stacks whose generated files differ from git REF (see `affected`), and plan stacks "
    "that left the spec as destroys.",
)
@click.option("--all", "plan_all", is_flag=True, help="Plan every stack (the default; for scheduled drift detection).")
@click.option(
    "--refresh",
    is_flag=True,
    help="Read every resource in the state from AWS before planning, so changes made outside Terraform show "
    "(drift detection; not with --offline) [default: compare the configuration with the state as recorded].",
)
@click.option(
    "--plan-role",
    is_flag=True,
    help="Plan with the credentials the environment holds, the stack's account's read-only plan role (the CI's "
    "plan and drift jobs, docs/ci.md), instead of assuming the stack's Terraform role, which the plan role may not "
    "(not with --offline) [default: assume the Terraform role].",
)
@click.option(
    "--detailed-exitcode",
    "detailed",
    is_flag=True,
    help=f"Exit {EXIT_CHANGES} when every stack planned and any plan holds changes, 0 when none does (a failed stack "
    f"still exits {EXIT_DRIFT}). Not terraform's 2: mlgov's 2 is bad input.",
)
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, exists=True),
    default=None,
    help="With --offline: plan each stack against DIR/<state>.tfstate (when present; <state> as in the stack's "
    "backend key, its own name unless its account was renamed) instead of an empty state.",
)
@click.option(
    "--providers",
    type=click.Choice(terraform.SOURCES),
    default=None,
    help=f"Where terraform init gets hashicorp/aws: mirror (a local filesystem mirror only), registry (download), "
    f"auto (a mirror when found, else the registry when online) [default: ${terraform.SOURCE_ENV}, else auto].",
)
def plan(
    selected: tuple[str, ...],
    offline: bool,
    jobs: int | None,
    out: str,
    stacks_dir: str,
    since: str | None,
    plan_all: bool,
    refresh: bool,
    plan_role: bool,
    detailed: bool,
    state_dir: str | None,
    providers: str | None,
) -> None:
    """terraform init + plan + show -json for each stack, in parallel, with live progress.

    Exit 1 if any stack fails (named, with terraform's error); the plan JSON of the others
    is still written. Feed <out>/*/plan.json to `summarize`. With --detailed-exitcode: 0 no
    stack has changes, 4 some stack has (named), 1 a stack failed (it wins over 4).
    """
    if since and plan_all:
        click.echo("error: --changed-since selects the stacks itself (got it with --all)", err=True)
        sys.exit(EXIT_INPUT)
    if refresh and offline:
        click.echo("error: --refresh reads every resource from AWS: it needs a real plan (got --offline)", err=True)
        sys.exit(EXIT_INPUT)
    if plan_role and offline:
        click.echo(
            "error: --plan-role plans with the environment's AWS credentials: it needs a real plan (got --offline)",
            err=True,
        )
        sys.exit(EXIT_INPUT)
    if state_dir and not offline:
        click.echo("error: --state-dir needs --offline (a real plan reads each stack's own backend)", err=True)
        sys.exit(EXIT_INPUT)
    states = Path(state_dir) if state_dir else None
    root = Path(stacks_dir)
    if since:
        _plan_changed(
            root,
            since,
            selected,
            Path(out),
            offline,
            jobs or planning.default_jobs(),
            states,
            providers,
            refresh,
            detailed,
            plan_role,
        )
        return
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
            {n: root / n for n in names},
            Path(out),
            offline=offline,
            jobs=jobs or planning.default_jobs(),
            states=states,
            providers=providers,
            refresh=refresh,
            plan_role=plan_role,
        )
    except outdir.UnsafeOutput as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_INPUT)
    except MlgovError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_ENV)
    _finish(runs, out, detailed=detailed)


def _finish(runs: list[planning.StackRun], out: str, extra: str = "", *, detailed: bool = False) -> None:
    failed = [r for r in runs if r.status != "ok"]
    for run in failed:
        click.echo(f"\nstack {run.name} failed: {run.error}", err=True)
    ok = len(runs) - len(failed)
    click.echo(f"{ok}/{len(runs)} stacks planned{extra}; plan JSON under {out}/<stack>/{planning.PLAN_JSON}")
    if failed:
        click.echo(f"failed: {', '.join(r.name for r in failed)}", err=True)
        sys.exit(EXIT_DRIFT)
    changed = [r.name for r in runs if r.changed]
    if detailed:
        click.echo(f"changes: {', '.join(changed)}" if changed else "no changes")
    if detailed and changed:
        sys.exit(EXIT_CHANGES)


def _affected(generated: Path, since: str) -> affecting.Affected:
    try:
        return affecting.affected(generated, since)
    except MlgovError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_INPUT)


def _plan_changed(
    root: Path,
    since: str,
    selected: tuple[str, ...],
    out: Path,
    offline: bool,
    jobs: int,
    states: Path | None,
    providers: str | None,
    refresh: bool = False,
    detailed: bool = False,
    plan_role: bool = False,
) -> None:
    """``plan --changed-since``: the affected stacks (those of ``selected`` only, when given:
    one runner of a CI matrix plans one stack), destroys from the ref's copy, and the
    selection written to <out>/mlgov-affected.json for `summarize`."""
    found = _affected(root.parent, since)
    if not_affected := sorted(set(selected) - set(found.names())):
        click.echo(
            f"error: --stack {', '.join(not_affected)}: no configuration change since {since} (got "
            f"{', '.join(not_affected)}, expected one of {', '.join(found.names()) or 'no stack'})",
            err=True,
        )
        sys.exit(EXIT_INPUT)
    try:
        # Before writing the selection file: never write into a directory that is not plan's.
        planning.check_out(out.resolve(), found.names())
    except outdir.UnsafeOutput as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_INPUT)
    out.mkdir(parents=True, exist_ok=True)
    (out / planning.OUT_MARKER).write_text("Written by `mlgov plan`: one workspace per stack.\n")
    (out / affecting.AFFECTED_FILE).write_bytes(canonical_json(found.as_json()))
    wanted = set(selected or found.names())
    stacks = {name: root / name for name in found.names("changed", "added") if name in wanted}
    removed = [name for name in found.names("removed") if name in wanted]
    with tempfile.TemporaryDirectory(prefix="mlgov-removed-") as tmp:
        for name in removed:
            stacks[name] = affecting.materialize_removed(root.parent, found, name, Path(tmp))
        click.echo(
            f"since {since}: {len(stacks) - len(removed)} stack(s) to plan, {len(removed)} to destroy, "
            f"{len(found.unchanged)} with no configuration change"
        )
        try:
            runs = (
                planning.run_plans(
                    stacks,
                    out,
                    offline=offline,
                    jobs=jobs,
                    destroy=removed,
                    states=states,
                    providers=providers,
                    refresh=refresh,
                    plan_role=plan_role,
                )
                if stacks
                else []
            )
        except MlgovError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_ENV)
    _finish(runs, str(out), f" ({len(removed)} as destroys)" if removed else "", detailed=detailed)


@click.command()
@click.option("--since", "since", required=True, metavar="REF", help="Git ref to compare with (a PR's base commit).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "gitlab"]),
    default="text",
    show_default=True,
    help="gitlab: the child pipeline that plans these stacks (see docs/ci.md).",
)
@click.option(
    "--generated",
    type=click.Path(file_okay=False),
    default="generated",
    show_default=True,
    help="The generated tree (inside a git work tree).",
)
def affected(since: str, fmt: str, generated: str) -> None:
    """The stacks whose generated files differ from git REF, in deployment order (rank).

    changed/added stacks are planned, removed ones (they left the spec) are planned as
    destroys; the JSON form (plan, destroy, stacks with rank, account, role_arn) feeds a
    pipeline's matrix. Compares committed and uncommitted files alike.
    """
    found = _affected(Path(generated), since)
    if fmt == "json":
        click.echo(canonical_json(found.as_json()).decode(), nl=False)
    elif fmt == "gitlab":
        click.echo(workflows.gitlab_child_yaml(found.as_json()), nl=False)
    else:
        click.echo(found.text(), nl=False)


@click.command()
@click.argument("plan_json", nargs=-1, type=click.Path(exists=True, dir_okay=False))
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
@click.option(
    "--affected",
    "affected_path",
    type=click.Path(dir_okay=False),
    help=f"The selection of `plan --changed-since` [default: {affecting.AFFECTED_FILE} beside the plans' "
    "directories, if there]: unplanned stacks get one line.",
)
def summarize(
    plan_json: tuple[str, ...], fmt: str, max_chars: int, manifest_path: str, affected_path: str | None
) -> None:
    """One PR-ready report for the plan JSON of all stacks (`terraform show -json` output).

    The stack is named after the file's directory (plans/<stack>/plan.json) or its stem
    (<stack>.json). Destroys and replacements come first, security-relevant changes are
    called out, stacks without changes share one line, and so do the stacks that
    `plan --changed-since` left out (no configuration change).
    """
    unplanned: list[str] = []
    removed: list[str] = []
    parents = {Path(p).resolve().parent.parent for p in plan_json}
    if affected_path is None and len(parents) == 1 and (parents.pop() / affecting.AFFECTED_FILE).is_file():
        affected_path = str(Path(plan_json[0]).resolve().parent.parent / affecting.AFFECTED_FILE)
    if affected_path:
        selection = _json_object(affected_path, "a selection written by `plan --changed-since`")
        unplanned, removed = list(selection.get("unchanged", [])), list(selection.get("destroy", []))
    elif not plan_json:
        click.echo("error: no plan JSON given (and no --affected selection)", err=True)
        sys.exit(EXIT_INPUT)
    manifest = None
    if Path(manifest_path).is_file():
        manifest = _json_object(manifest_path, "mlgov's stack manifest")
    try:
        reports = summary.load_reports([Path(p) for p in plan_json], manifest)
    except summary.NotAPlan as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_INPUT)
    if fmt == "json":
        click.echo(canonical_json(summary.as_json(reports, max_chars, unplanned, removed)).decode(), nl=False)
    else:
        click.echo(summary.markdown(reports, max_chars, unplanned, removed), nl=False)


def _json_object(path: str, what: str) -> dict:
    """The JSON object in ``path``, or one line and exit 2."""
    try:
        doc = json.loads(Path(path).read_bytes())
    except (OSError, ValueError) as exc:
        doc, problem = None, str(exc)
    else:
        problem = f"got a JSON {type(doc).__name__}"
    if not isinstance(doc, dict):
        click.echo(f"error: {path}: not {what} ({problem})", err=True)
        sys.exit(EXIT_INPUT)
    return doc


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
