"""ML development layer: one account per team.

Reads ``teams`` (the team whose ``dev_account`` this is) and ``accounts``. Creates the
account baseline; team registries, personas and approval-event forwarding come with #4.
"""

from __future__ import annotations

from modules.base import AccountStack


class DevAccountStack(AccountStack):
    """Stack of one team's ML development account."""

    @property
    def team_name(self) -> str | None:
        """The team that owns this dev account (validation guarantees at most one)."""
        owners = [name for name, team in self.spec.teams.items() if team.dev_account == self.account_key]
        return owners[0] if owners else None
