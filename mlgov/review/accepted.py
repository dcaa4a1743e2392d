"""The accepted findings of mlgov's reviews (mlgov/security/*.yaml, shipped as package data), scoped
by mlgov's own naming rather than by one spec's names, so they hold for any organization.

An IAM review entry (``mlgov/security/iam-findings-accepted.yaml``, section ``iam_data``) names the
policies it explains by ``policies`` (globs over :func:`mlgov.review.policies.collect` ids whose
every part is mlgov's: construct names, never a spec key) and/or by ``templates`` +
``resources``: every product version of the spec that renders one of mlgov's own templates of
those names (not a user template of the same name beside the spec), at the template key
:func:`mlgov.platform.naming.product_template_key` gives it, with the CloudFormation resources
listed. So a spec that calls its portfolio ``platform`` and its product ``workspace`` gets the
same explanation as Northwind's ``ml-admin/studio-domain``.
"""

from __future__ import annotations

import fnmatch
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from mlgov.platform import naming, templates
from mlgov.spec.model import OrgSpec

FOLDER = Path(__file__).resolve().parent.parent / "security"
IAM_FILE = FOLDER / "iam-findings-accepted.yaml"
CHECKOV_FILE = FOLDER / "checkov-skips.yaml"


@cache
def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


def iam_entries(section: str = "iam_data") -> list[dict[str, Any]]:
    """The entries of one section of the IAM review's accepted findings."""
    return list(_load(IAM_FILE)[section])


def checkov_skips() -> list[dict[str, Any]]:
    """The checkov skip list (check id, resource globs over mlgov's construct names, frameworks)."""
    return list(_load(CHECKOV_FILE)["skips"])


def _shipped(spec: OrgSpec, name: str) -> bool:
    path = templates.template_path(spec, name)
    return path is not None and path.resolve().parent == templates.TEMPLATES_DIR.resolve()


def policy_patterns(entry: dict[str, Any], spec: OrgSpec | None) -> list[str]:
    """The policy id globs ``entry`` explains in ``spec``'s tree."""
    patterns = list(entry.get("policies", []))
    wanted = set(entry.get("templates", []))
    catalog = spec.service_catalog if spec is not None else None
    if not wanted or spec is None or catalog is None:
        return patterns
    for portfolio, pf in sorted(catalog.portfolios.items()):
        for key, product in sorted(pf.products.items()):
            for version in product.versions:
                name = version.template or product.template
                if name in wanted and _shipped(spec, name):
                    template_key = naming.product_template_key(spec, portfolio, key, version.name)
                    patterns += [f"{template_key}:{resource}" for resource in entry["resources"]]
    return patterns


def explains(entry: dict[str, Any], policy_id: str, spec: OrgSpec | None) -> bool:
    return any(fnmatch.fnmatchcase(policy_id, p) for p in policy_patterns(entry, spec))
