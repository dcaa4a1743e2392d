"""Derived Terraform addresses must be unique: two spec names that collapse to one address
would crash synthesis (``named()`` refuses the second), so they are refused here, with the
spec path of each and what they collapse to."""

from __future__ import annotations

from collections.abc import Iterator

from mlgov.platform.addresses import Address, derived_addresses
from mlgov.spec.located import dotted
from mlgov.spec.model import OrgSpec

Finding = tuple[tuple, str]


def address_problems(spec: OrgSpec) -> Iterator[Finding]:
    """One finding per address that a second, different spec value derives again."""
    first: dict[tuple[str, str, str], Address] = {}
    for address in derived_addresses(spec):
        key = (address.scope, address.family, address.name)
        seen = first.setdefault(key, address)
        if seen.source != address.source:
            yield (
                address.spec_path,
                f"{address.source!r} and {seen.source!r} ({dotted(seen.spec_path)}) derive the same "
                f"Terraform address for the {address.family} (got {address.name!r} twice, expected distinct names); "
                "rename one",
            )


def adoption_problems(spec: OrgSpec) -> Iterator[Finding]:
    """``management.adopt_ous`` imports the OUs mlgov owns: meaningless without ``own_ous``."""
    if spec.management.adopt_ous and not spec.management.own_ous:
        yield (
            ("management", "adopt_ous"),
            "adopt_ous imports the OUs mlgov owns (got own_ous: false, expected own_ous: true)",
        )
