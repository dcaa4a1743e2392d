"""Checks of the account lifecycle (docs/day-zero.md): accounts mlgov creates, adopts and retires.

A stack that needs the id of an account mlgov has not created yet waits for it: the finding
names the step to run, never a guessed id.
"""

from __future__ import annotations

from collections.abc import Iterator

from mlgov.platform import bootstrap
from mlgov.spec.model import Layer, OrgSpec

Finding = tuple[tuple, str]

WAIT = (
    "apply the management stack (it creates the account), then run `mlgov discover --write` "
    "(or `mlgov discover --write --from-state STATE`) to fill in its id"
)


def _pending(spec: OrgSpec, key: str) -> bool:
    return key in spec.accounts and not spec.accounts[key].id


def _retired(spec: OrgSpec, key: str) -> bool:
    return key in spec.accounts and spec.accounts[key].retired


def lifecycle_problems(spec: OrgSpec) -> Iterator[Finding]:
    """Every finding of the account lifecycle, in a stable order."""
    vending = spec.management.vending
    ous = spec.organization.organizational_units
    mgmt = spec.organization.management_account
    emails: dict[str, str] = {}
    for key, account in sorted(spec.accounts.items()):
        path = ("accounts", key)
        if not account.id and account.email is None:
            yield path + ("id",), "required field is missing (or give `email` to have mlgov create the account)"
        if key == mgmt and (account.email is not None or account.retired):
            yield (
                path + (("email",) if account.email is not None else ("retired",)),
                "the management account exists before mlgov and is never created or retired by it",
            )
        if account.retired and account.email is None:
            yield path + ("retired",), "only an account mlgov owns (with `email`) can be retired by it"
        elif account.retired and not account.id:
            yield path + ("retired",), "an account that was never created cannot be retired; remove it instead"
        if account.email is not None:
            if account.email.lower() in emails:
                other = emails[account.email.lower()]
                yield path + ("email",), f"duplicate email (got {account.email!r}, already used by account {other!r})"
            emails.setdefault(account.email.lower(), key)
    if vending.suspended_ou is not None and vending.suspended_ou not in ous:
        yield (
            ("management", "vending", "suspended_ou"),
            f"unknown OU (got {vending.suspended_ou!r}, expected one of {sorted(ous)})",
        )
    for key in sorted(spec.accounts):
        if _retired(spec, key) and vending.on_retire == "suspend" and vending.suspended_ou is None:
            yield (
                ("accounts", key, "retired"),
                "management.vending.on_retire is suspend but management.vending.suspended_ou is not set "
                "(expected the OU retired accounts move to)",
            )
            break
    if vending.method == "control_tower" and vending.control_tower is None:
        yield (
            ("management", "vending", "control_tower"),
            "method control_tower needs the Account Factory settings (sso_user_email at least)",
        )
    if len(bootstrap.log_bucket(spec)) > bootstrap.BUCKET_MAX:
        yield (
            ("terraform", "state", "bucket"),
            f"the bootstrap's access log bucket {bootstrap.log_bucket(spec)!r} would be longer than "
            f"{bootstrap.BUCKET_MAX} characters (got {len(bootstrap.log_bucket(spec))}); use a shorter bucket name",
        )
    yield from _references(spec)


def _references(spec: OrgSpec) -> Iterator[Finding]:
    """What needs an account's id waits for it; nothing refers to a retired account."""

    def check(path: tuple, key: str, who: str) -> Iterator[Finding]:
        if _retired(spec, key):
            yield path, f"account {key!r} is retired (accounts.{key}.retired); {who} cannot use it"
        elif _pending(spec, key):
            yield path, f"account {key!r} is not created yet (no id), and {who} needs its id: {WAIT}"

    for name, team in sorted(spec.teams.items()):
        yield from check(("teams", name, "dev_account"), team.dev_account, f"team {name!r}")
        for i, stage in enumerate(team.stages):
            yield from check(("teams", name, "stages", i, "account"), stage.account, f"team {name!r}")
    for i, key in enumerate(spec.management.guardrails.exempt_accounts):
        if _retired(spec, key):
            yield (
                ("management", "guardrails", "exempt_accounts", i),
                f"account {key!r} is retired (accounts.{key}.retired); remove it from exempt_accounts",
            )
    others = [k for k in spec.live_accounts() if spec.accounts[k].layer != Layer.management]
    for layer in (Layer.hub, Layer.data):
        for key in spec.keys_in_layer(layer):
            if _pending(spec, key) and others:
                yield (
                    ("accounts", key, "id"),
                    f"account {key!r} ({layer.value}) is not created yet (no id), and the stacks of {others} need "
                    f"its id: {WAIT}",
                )
            elif _retired(spec, key):
                yield (
                    ("accounts", key, "retired"),
                    f"the {layer.value} account cannot be retired while the platform runs",
                )
