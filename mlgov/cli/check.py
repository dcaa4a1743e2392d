"""``check``: the review gates mlgov's own output passes, run on a platform repository's tree.

Three gates, in this order, each ending in one summary line (stderr) and one line per finding
(stdout), sorted:

- ``iam``: the IAM review (every policy of ``generated/``: stacks with their customizations,
  mlgov's and the user's product templates, the bootstrap) against AWS's service definitions, with the accepted
  findings of ``mlgov/security/iam-findings-accepted.yaml`` scoped by mlgov's naming
  (:mod:`mlgov.review.accepted`), after the own SCPs beside the spec;
- ``cfn-lint``: every product template and bootstrap template of the tree (errors and
  warnings, no rule disabled);
- ``checkov``: the stacks and the bootstrap's stack as Terraform JSON, the product and
  bootstrap templates as CloudFormation, offline, with mlgov's skip list
  (``mlgov/security/checkov-skips.yaml``).

The tools are found before anything runs (:mod:`mlgov.review.gates`); one missing is one line
and exit 3, unless that gate is skipped with ``--skip``, which the summary then says. Exit 1 if
any gate has a finding, 2 for an own SCP that fails the service reference or a tree without
stacks, 3 for a missing tool (Node.js and the IAM packages, cfn-lint, checkov).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import click

from mlgov.cli.common import EXIT_DRIFT, EXIT_ENV, EXIT_INPUT, command, load, spec_argument, spec_path
from mlgov.review import accepted, gates, iam, scps
from mlgov.review.policies import collect
from mlgov.spec.model import OrgSpec

GATES = ("iam", "cfn-lint", "checkov")


@click.command()
@spec_argument
@click.option(
    "--generated",
    type=click.Path(file_okay=False),
    default=None,
    help="The synthesized tree [default: generated/ beside the spec].",
)
@click.option(
    "--checkov",
    "checkov_path",
    default=None,
    metavar="PATH",
    help=f"checkov {gates.CHECKOV_VERSION} [default: ${gates.CHECKOV_ENV}, else on PATH].",
)
@click.option(
    "--cfn-lint",
    "cfn_lint_path",
    default=None,
    metavar="PATH",
    help=f"cfn-lint [default: ${gates.CFN_LINT_ENV}, else mlgov's own Python's, else on PATH].",
)
@click.option(
    "--skip",
    "skipped",
    multiple=True,
    type=click.Choice(GATES),
    help="Do not run this gate (repeatable); the summary says it was skipped.",
)
def check(
    spec: str | None,
    generated: str | None,
    checkov_path: str | None,
    cfn_lint_path: str | None,
    skipped: tuple[str, ...],
) -> None:
    """The IAM review, cfn-lint and checkov over the generated tree, as mlgov's own output passes them."""
    org = load(spec)
    root = Path(generated) if generated else spec_path(spec).parent / "generated"
    if not (root / "stacks").is_dir():
        click.echo(f"error: {root}/: no stacks (run `{command('synth')}` first)", err=True)
        sys.exit(EXIT_INPUT)
    cfn_lint = checkov = None
    if "cfn-lint" not in skipped:
        cfn_lint = gates.cfn_lint_command(cfn_lint_path)
        if cfn_lint is None:
            where = cfn_lint_path or f"${gates.CFN_LINT_ENV}, mlgov's Python or PATH"
            _missing(
                f"cfn-lint not found ({where}); install it (`pip install cfn-lint=={gates.CFN_LINT_VERSION}`)",
                "cfn-lint",
            )
    if "checkov" not in skipped:
        checkov = gates.checkov_command(checkov_path)
        if checkov is None:
            where = checkov_path or f"${gates.CHECKOV_ENV} or PATH"
            _missing(f"checkov not found ({where}); install checkov=={gates.CHECKOV_VERSION} (its own venv)", "checkov")
    if "iam" not in skipped and (reason := iam.unavailable()):
        _missing(f"the IAM review cannot run: {reason}", "iam")

    failed = False
    if "iam" in skipped:
        click.echo("iam: skipped (--skip iam)", err=True)
    else:
        failed |= _iam(org, root)
    if cfn_lint is None:
        click.echo("cfn-lint: skipped (--skip cfn-lint)", err=True)
    else:
        failed |= _cfn_lint(cfn_lint, root)
    if checkov is None:
        click.echo("checkov: skipped (--skip checkov)", err=True)
    else:
        failed |= _checkov(checkov, root)
    if failed:
        sys.exit(EXIT_DRIFT)


def _missing(message: str, gate: str) -> None:
    click.echo(f"error: {message} (or `--skip {gate}`)", err=True)
    sys.exit(EXIT_ENV)


def _iam(org: OrgSpec, root: Path) -> bool:
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
        f"iam: {len(policies)} policies reviewed, {len(findings) - len(unexplained)} accepted finding(s), "
        f"{len(unexplained)} unexplained",
        err=True,
    )
    return bool(unexplained)


def _cfn_lint(cmd: list[str], root: Path) -> bool:
    products = gates.product_templates(root)
    files = [*products, *gates.bootstrap_files(root, "cloudformation")]
    try:
        findings = gates.run_cfn_lint(cmd, files, relative_to=root)
    except gates.GateError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_ENV)
    for finding in findings:
        click.echo(str(finding))
    bootstrap = len(files) - len(products)
    click.echo(
        f"cfn-lint: {len(products)} product templates, {bootstrap} bootstrap templates, {len(findings)} finding(s)",
        err=True,
    )
    return bool(findings)


def _checkov(cmd: list[str], root: Path) -> bool:
    failed: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="mlgov-checkov-") as tmp:
        try:
            for framework, directory in sorted(gates.checkov_trees(root, Path(tmp)).items()):
                failed += gates.run_checkov(cmd, directory, framework)
        except gates.GateError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_ENV)
    skips = accepted.checkov_skips()
    lines = sorted(
        f"{c['file_path'].lstrip('/')}: checkov {c['check_id']} {c['resource']}: {c['check_name']}"
        for c in failed
        if gates.skip_for(c, skips) is None
    )
    for line in lines:
        click.echo(line)
    click.echo(
        f"checkov: {len(failed) - len(lines)} skipped by mlgov/security/checkov-skips.yaml, {len(lines)} unexplained",
        err=True,
    )
    return bool(lines)
