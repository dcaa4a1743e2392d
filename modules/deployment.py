"""ML deployment layer: test and prod accounts that host model endpoints.

Reads ``teams`` (stages that target this account) and ``accounts``. Creates the account
baseline; deploy roles trusted only by the hub pipeline come with #4.
"""

from __future__ import annotations

from modules.base import AccountStack


class DeploymentAccountStack(AccountStack):
    """Stack of a test or prod account."""

    def teams_deploying_here(self) -> list[str]:
        """Teams with a stage in this account, sorted."""
        return sorted(n for n, t in self.spec.teams.items() if any(s.account == self.account_key for s in t.stages))
