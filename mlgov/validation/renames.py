"""Renames (``renamed_from``) must be one step from a key that is gone.

A rename keeps what exists under the old key: the team's AWS names, the portfolio's and
product's template paths, the account's state. That only works when the old key is no longer
in the spec (else two things would claim one name), when each old key is claimed once, and
when the rename is one step (``a`` renamed from ``b`` renamed from ``c`` would leave ``b``'s
resources to nobody). Renamed accounts keep their stacks' state names: every state must stay
distinct from every other stack's.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from mlgov.spec.located import dotted
from mlgov.spec.model import OrgSpec, StackRef, team_stack_name

Finding = tuple[tuple, str]


def _mapping_problems(path: tuple, entries: Mapping[str, Any], what: str) -> Iterator[Finding]:
    """Findings of one mapping of spec keys (``teams``, ``accounts``, a portfolio's products)."""
    claimed: dict[str, str] = {}
    for key, entry in sorted(entries.items()):
        old = entry.renamed_from
        if old is None:
            continue
        where = path + (key, "renamed_from")
        if old == key:
            yield where, f"{what} {key!r} is renamed from itself (got {old!r}, expected the key it had before)"
        elif old in entries and entries[old].renamed_from == key:
            if key > old:
                continue  # one line per cycle, at its first key
            yield (
                where,
                f"renames form a cycle (got {key!r} renamed from {old!r} and {old!r} renamed from {key!r}, "
                "expected one rename from a key that is gone)",
            )
        elif old in entries and entries[old].renamed_from is not None:
            yield (
                where,
                f"renames chain (got {key!r} renamed from {old!r}, itself renamed from "
                f"{entries[old].renamed_from!r}; expected one step: the key the resources were created with)",
            )
        elif old in entries:
            yield (
                where,
                f"{what} {old!r} still exists (got renamed_from: {old!r}, expected a key no longer in "
                f"{dotted(path)}); remove {old!r} or drop renamed_from",
            )
        elif old in claimed:
            yield (
                where,
                f"{old!r} is renamed twice (got {claimed[old]!r} and {key!r} both renamed from {old!r}, "
                "expected one new key per old one)",
            )
        else:
            claimed[old] = key


def rename_problems(spec: OrgSpec) -> Iterator[Finding]:
    """Every ``renamed_from`` of the spec: teams, accounts, portfolios, products."""
    yield from _mapping_problems(("accounts",), spec.accounts, "account")
    yield from _mapping_problems(("teams",), spec.teams, "team")
    catalog = spec.service_catalog
    if catalog is not None:
        yield from _mapping_problems(("service_catalog", "portfolios"), catalog.portfolios, "portfolio")
        for pkey, portfolio in sorted(catalog.portfolios.items()):
            yield from _mapping_problems(
                ("service_catalog", "portfolios", pkey, "products"), portfolio.products, "product"
            )


def state_problems(spec: OrgSpec) -> Iterator[Finding]:
    """Two stacks must never share a name or a state (a renamed account's stacks keep their old
    names' states; ``<key>-<region>`` of one account can be another account's key)."""
    owner: dict[str, StackRef] = {}
    for ref in spec.stack_refs():
        first = owner.setdefault(ref.state, ref)
        if first is ref:
            continue
        if first.name == ref.name:
            yield (
                ("accounts", ref.account),
                f"two stacks named {ref.name} (got account {first.account} in {first.region} and account "
                f"{ref.account} in {ref.region}, expected one name per stack); rename an account",
            )
        else:
            where: tuple = ("accounts", ref.account, "renamed_from")
            renamed = _renamed_team(spec, ref, first)
            if renamed is not None:
                old = spec.teams[renamed].renamed_from
                if old in spec.teams or [t.renamed_from for t in spec.teams.values()].count(old) > 1:
                    continue  # rename_problems names that renamed_from already
                where = ("teams", renamed, "renamed_from")
            yield (
                where,
                f"stack {ref.name} would use the state of stack {first.name} (got state "
                f"{spec.terraform.state.key_prefix}/{ref.state}.tfstate twice, expected one state per stack)",
            )


def _renamed_team(spec: OrgSpec, *refs: StackRef) -> str | None:
    """The renamed team whose slice's state (its old name's) is one of ``refs``' clashing states,
    if a team's ``renamed_from`` is what makes two team slices share a state."""
    for ref in refs:
        if ref.team is None:
            continue
        old = spec.teams[ref.team].renamed_from
        if old is not None and ref.state.endswith(team_stack_name("", old)):
            return ref.team
    return None
