"""Management account layer: the organization's own account.

Reads ``organization`` and ``accounts``. Creates the account baseline; OUs, SCP guardrails,
trusted access and delegated administration are added here by the guardrails work (#5).
"""

from __future__ import annotations

from modules.base import AccountStack


class ManagementStack(AccountStack):
    """Stack of the organization's management account."""
