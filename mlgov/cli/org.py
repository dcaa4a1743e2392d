"""``discover`` and ``doctor``: the two commands that read the live AWS organization.

Both need credentials of the management account (or a role in it); ``--profile`` picks an
AWS CLI profile, else the default credential chain is used. Failures talking to AWS end in
one ``error:`` line and exit 3.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mlgov import live
from mlgov.cli.common import EXIT_DRIFT, EXIT_INPUT, default_spec_path, fail, load, spec_argument
from mlgov.errors import SpecError
from mlgov.spec import edit as specedit
from mlgov.spec.located import load_yaml
from mlgov.validation import parse_spec

profile_option = click.option(
    "--profile", help="AWS CLI profile with access to the management account [default: the credential chain]."
)


@click.command()
@spec_argument
@profile_option
@click.option(
    "--write",
    is_flag=True,
    help="Update SPEC in place with the fixable differences (ids, account OUs); nothing else changes.",
)
def discover(spec: str | None, profile: str | None, write: bool) -> None:
    """Read AWS Organizations and show how SPEC differs (missing, extra, wrong ids, moved accounts).

    Exit 0 when the spec matches (extra OUs/accounts are only listed), 1 when differences
    remain, 3 when AWS cannot be read.
    """
    path = Path(spec) if spec else default_spec_path()
    org = load(str(path))
    try:
        snapshot = live.read_organization(live.session(profile))
    except live.LiveError as exc:
        fail(str(exc))
    click.echo(
        f"organization {snapshot.id} (root {snapshot.root_id}, management {snapshot.management_account_id}): "
        f"{len(snapshot.ous)} OUs, {len(snapshot.accounts)} accounts"
    )
    diffs = live.compare(org, snapshot)
    for diff in diffs:
        click.echo(f"  {diff.line()}")
    real = [d for d in diffs if d.kind != "extra"]
    fixable = [d for d in real if d.fixable]
    if not real:
        click.echo(f"{path}: matches the organization")
        return
    if not write:
        click.echo(f"{len(real)} difference(s), {len(fixable)} fixable with --write")
        sys.exit(EXIT_DRIFT)
    if fixable:
        text = path.read_text(encoding="utf-8")
        new_text = specedit.edit_scalars(text, {d.path: d.value for d in fixable if d.value is not None})
        try:  # never write a spec that would no longer validate
            parse_spec(load_yaml(new_text, str(path)))
        except SpecError as exc:
            for problem in exc.problems:
                click.echo(f"not written: {problem}", err=True)
            sys.exit(EXIT_INPUT)
        specedit.write_atomically(path, new_text)
        click.echo(f"{path}: updated {len(fixable)} value(s)")
    left = len(real) - len(fixable)
    if left:
        click.echo(f"{left} difference(s) need a decision (fix the spec or the organization by hand)")
        sys.exit(EXIT_DRIFT)


@click.command()
@spec_argument
@profile_option
def doctor(spec: str | None, profile: str | None) -> None:
    """Check the live prerequisites of SPEC and print a pass/fail checklist with fixes.

    Checks: accounts exist in their OU, trusted access and delegated admin, SCPs enabled on
    the root, the Terraform state bucket, the Terraform role in every account, pending
    CodeConnections in the hub. Exit 0 only when every item passes; 1 otherwise; 3 when AWS
    cannot be read at all.
    """
    org = load(spec)
    try:
        checks = live.Doctor(org, live.session(profile)).run()
    except live.LiveError as exc:
        fail(str(exc))
    for check in checks:
        click.echo(f"[{'pass' if check.ok else 'FAIL'}] {check.name}: {check.detail}")
        if not check.ok and check.fix:
            click.echo(f"       fix: {check.fix}")
    failed = sum(not c.ok for c in checks)
    click.echo(f"{len(checks) - failed}/{len(checks)} checks pass")
    if failed:
        sys.exit(EXIT_DRIFT)
