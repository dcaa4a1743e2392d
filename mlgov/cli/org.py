"""``discover``, ``doctor`` and ``clean-state``: the commands that read the live AWS organization
(and the state bucket).

Each needs credentials of the management account (or a role in it); ``--profile`` picks an
AWS CLI profile, else the default credential chain is used. Failures talking to AWS end in
one ``error:`` line and exit 3.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from mlgov import live
from mlgov.cli.common import EXIT_DRIFT, EXIT_INPUT, default_spec_path, fail, load, spec_argument
from mlgov.errors import SpecError
from mlgov.platform import lifecycle
from mlgov.spec import edit as specedit
from mlgov.spec.located import load_yaml
from mlgov.spec.model import parse_model, read_spec_file
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
@click.option(
    "--from-state",
    "state_file",
    type=click.Path(exists=True, dir_okay=False),
    help="Read the ids of the accounts mlgov created from the management stack's state (`terraform state pull`, "
    "`terraform show -json` or `terraform output -json`) instead of AWS.",
)
def discover(spec: str | None, profile: str | None, write: bool, state_file: str | None) -> None:
    """Read AWS Organizations and show how SPEC differs (missing, extra, wrong ids, moved accounts).

    With --from-state, only the ids of the accounts mlgov owns (`email`) are compared, with the
    management stack's state; no AWS call. Exit 0 when the spec matches (extra OUs/accounts are
    only listed), 1 when differences remain, 3 when AWS cannot be read.
    """
    path = Path(spec) if spec else default_spec_path()
    if state_file is not None:
        _discover_from_state(path, Path(state_file), write)
        return
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
        _write_edits(path, {d.path: d.value for d in fixable if d.value is not None})
    left = len(real) - len(fixable)
    if left:
        click.echo(f"{left} difference(s) need a decision (fix the spec or the organization by hand)")
        sys.exit(EXIT_DRIFT)


def _write_edits(path: Path, edits: dict) -> None:
    """Write ``edits`` into the spec in place, only if the result validates."""
    text = path.read_text(encoding="utf-8")
    new_text = specedit.edit_scalars(text, edits)
    try:  # never write a spec that would no longer validate
        parse_spec(load_yaml(new_text, str(path)))
    except SpecError as exc:
        for problem in exc.problems:
            click.echo(f"not written: {problem}", err=True)
        sys.exit(EXIT_INPUT)
    specedit.write_atomically(path, new_text)
    click.echo(f"{path}: updated {len(edits)} value(s)")


def _discover_from_state(path: Path, state_file: Path, write: bool) -> None:
    """``discover --from-state``: the owned accounts' ids from the management stack's state. The
    spec is read for its types only: a team may already wait for the ids this fills in."""
    try:
        org = parse_model(read_spec_file(path))
    except SpecError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        sys.exit(EXIT_INPUT)
    try:
        state = json.loads(state_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        fail(f"{state_file}: not a Terraform state or JSON output ({exc})", EXIT_INPUT)
    found = lifecycle.ids_from_state(state if isinstance(state, dict) else {})
    edits: dict[tuple, str] = {}
    for key in lifecycle.owned_accounts(org):
        have, got = org.accounts[key].id, found.get(key)
        if got is None:
            if not have:
                click.echo(f"  waiting  accounts.{key}: not in {state_file.name} (not created yet)")
            continue
        if have != got:
            click.echo(f"  {'new' if not have else 'wrong'}      accounts.{key}.id: {got} (spec: {have or 'none yet'})")
            edits[("accounts", key, "id")] = got
    if not edits:
        click.echo(f"{path}: every account in {state_file.name} has its id")
        return
    if not write:
        click.echo(f"{len(edits)} id(s) to fill in with --write")
        sys.exit(EXIT_DRIFT)
    _write_edits(path, edits)


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


@click.command("clean-state")
@spec_argument
@profile_option
@click.option("--dry-run", is_flag=True, help="List the state objects that would be deleted; delete nothing.")
def clean_state(spec: str | None, profile: str | None, dry_run: bool) -> None:
    """Delete the Terraform state objects that a closed team or a retired account left in the state bucket.

    Only the states of stacks SPEC no longer has AND that were a team's slice
    (`<account>-team-<team>`, the team gone from SPEC) or a retired account's stack; each with
    every version and its lock file. A state that still holds resources (its destroy was not
    applied) is kept and reported. Run it after the destroys applied. Exit 0 when every such
    state is gone, 1 when one was kept, 3 when AWS cannot be read.
    """
    org = load(spec)
    try:
        sess = live.session(profile)
        left = live.left_states(org, sess)
        kept = [s for s in left if s.held != 0]
        for state in left:
            if state.held != 0:
                held = "cannot be read as a state" if state.held < 0 else f"still holds {state.held} resource(s)"
                click.echo(f"kept {state.key}: {held}; apply the stack's destroy first")
            elif dry_run:
                click.echo(f"would delete {state.key} ({len(state.versions)} version(s), lock included)")
            else:
                live.delete_state(org, sess, state)
                click.echo(f"deleted {state.key} ({len(state.versions)} version(s), lock included)")
    except live.LiveError as exc:
        fail(str(exc))
    if not left:
        click.echo("no state left by a closed team or a retired account")
    if kept:
        sys.exit(EXIT_DRIFT)
