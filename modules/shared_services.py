"""ML shared services (hub) layer.

Reads ``organization``, ``accounts``, ``teams`` and ``service_catalog``. Creates the account
baseline and the Service Catalog portfolios, products and shares (:mod:`modules.catalog`);
the central registry, event bus, promotion function and deployment pipelines (#4) hang off
this stack.
"""

from __future__ import annotations

from modules.base import AccountStack


class SharedServicesStack(AccountStack):
    """Stack of the ML hub account."""

    def __init__(self, scope, id: str, **kwargs) -> None:
        super().__init__(scope, id, **kwargs)
        if self.spec.service_catalog and self.spec.service_catalog.portfolios:
            from modules.catalog import CatalogHub, catalog_view

            CatalogHub(self, "catalog", spec=self.spec, account_id=self.account_id, region=self.region, view=catalog_view(self.spec))
