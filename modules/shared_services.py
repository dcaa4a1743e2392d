"""ML shared services (hub) layer.

Reads ``organization``, ``accounts`` and ``teams``. Creates the account baseline; the
Service Catalog portfolios (#3) and the central registry, event bus, promotion function and
deployment pipelines (#4) hang off this stack.
"""

from __future__ import annotations

from modules.base import AccountStack


class SharedServicesStack(AccountStack):
    """Stack of the ML hub account."""
