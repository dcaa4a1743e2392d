"""Generated large org specs for the benchmark (``scripts/bench``, ``scripts/gen-large-org``).

A large org is the default spec (``org.yaml``) with its accounts and teams replaced by
``teams`` teams, each with its own dev, test and prod account (3 stacks per team, plus the
management and hub stacks). Every other top-level section of the default spec is kept as it
is, so the fixture keeps exercising whatever features ``org.yaml`` turns on, except ``data``:
its grants name the default spec's teams, and the measured stacks stay the 3-per-team shape.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

# Northwind's spec as the package ships it (the checkout's org.yaml links to this file).
DEFAULT_SPEC = Path(__file__).resolve().parents[1] / "org.yaml"
BUSINESS_UNITS = ("payments", "marketing", "logistics", "risk", "retail")


def large_org(teams: int, base: Path = DEFAULT_SPEC) -> dict[str, Any]:
    """The spec document (plain data) of an org with ``teams`` teams, 3 accounts each."""
    if not 1 <= teams <= 9999:
        raise ValueError(f"teams must be between 1 and 9999 (got {teams})")
    doc: dict[str, Any] = yaml.safe_load(base.read_text(encoding="utf-8"))
    org = doc["organization"]
    accounts = doc["accounts"]
    keep = {org["management_account"]}
    keep.update(key for key, acc in accounts.items() if acc.get("layer") in ("hub", "shared-services"))
    ous = org["organizational_units"]
    dev_ou = _ou_of_layer(accounts, "dev", ous)
    deploy_ou = _ou_of_layer(accounts, "prod", ous)
    # model-build repositories: every generated dev account connects to the base's Git provider
    source = next((acc["source"] for acc in accounts.values() if acc.get("layer") == "dev" and "source" in acc), None)

    new_accounts = {key: accounts[key] for key in sorted(keep)}
    new_teams = {}
    for n in range(1, teams + 1):
        team = f"team-{n:04d}"
        for slot, (digit, layer, ou) in enumerate(((3, "dev", dev_ou), (4, "test", deploy_ou), (5, "prod", deploy_ou))):
            new_accounts[f"ml-{layer}-{team}"] = {
                # 12 digits, unique: layer digit + team number; never clashes with org.yaml's ids.
                "id": f"{digit}9{n:010d}",
                "layer": layer,
                "ou": ou,
                "description": f"{layer} account of {team} (generated benchmark fixture).",
                "network": {"cidr": _cidr((n - 1) * 3 + slot)},
            }
            if layer == "dev" and source is not None:
                new_accounts[f"ml-{layer}-{team}"]["source"] = dict(source)
        new_teams[team] = {
            "dev_account": f"ml-dev-{team}",
            "description": f"Generated benchmark team {n}.",
            "tags": {"business-unit": BUSINESS_UNITS[n % len(BUSINESS_UNITS)]},
            "stages": [
                {"name": "test", "account": f"ml-test-{team}"},
                {"name": "prod", "account": f"ml-prod-{team}", "manual_approval": True},
            ],
        }
    doc["accounts"] = new_accounts
    doc["teams"] = new_teams
    doc.pop("data", None)  # its data account is not kept; its grants name the replaced teams
    _remap_exempt_accounts(doc, accounts, new_accounts)
    _within_quotas(doc)
    return doc


# AWS quotas (mlgov.platform.quotas) the generated orgs would break without these changes.
ACCOUNTS_DEFAULT_QUOTA = 10


def _within_quotas(doc: dict[str, Any]) -> None:
    """Keep a generated org valid: an organization of that many accounts has had AWS raise its
    account quota (``quotas.organization_accounts``). Portfolios keep their personas: one
    IAM_PATTERN principal per persona kind, whatever the number of teams."""
    if len(doc["accounts"]) > ACCOUNTS_DEFAULT_QUOTA:
        doc.setdefault("quotas", {})["organization_accounts"] = len(doc["accounts"])
    # The hub holds 3 roles per team (deploy-pipeline, select-model, start-deploy) besides its
    # own 3 and the bootstrap's 2 (Terraform and plan roles), and a rule and a pipeline per team
    # and model package group (one, the default, for a generated team): as
    # mlgov.validation.quotas counts them (tests/test_quotas.py holds these figures equal to its
    # needed_raises). Past AWS's defaults the generated org names the raises (adjustable quotas;
    # AWS grants at most 5,000 roles).
    teams = len(doc["teams"])
    for key, figure, default in (
        ("iam_roles_per_account", 5 + 3 * teams, 1000),
        ("event_rules_per_bus", teams, 300),
        ("codepipeline_pipelines_per_region", teams, 1000),
    ):
        if figure > default:
            doc.setdefault("quotas", {})[key] = figure


def _remap_exempt_accounts(doc: dict[str, Any], old: dict[str, Any], new: dict[str, Any]) -> None:
    """``management.guardrails.exempt_accounts`` names accounts of the base spec: keep only those
    still there. The generated team accounts are not added: the break-glass SCP names each
    exempt account's role ARN, and hundreds of them would not fit the SCP size quota."""
    guardrails = (doc.get("management") or {}).get("guardrails") or {}
    if guardrails.get("exempt_accounts"):
        guardrails["exempt_accounts"] = [key for key in guardrails["exempt_accounts"] if key in new]


def _cidr(index: int) -> str:
    """The ``index``-th /23 of 10.0.0.0/8: disjoint per account, enough for 9999 teams x 3."""
    address = (10 << 24) + index * 512
    return f"{address >> 24}.{(address >> 16) & 255}.{(address >> 8) & 255}.0/23"


def shared_stage_org(teams: int, base: Path = DEFAULT_SPEC) -> dict[str, Any]:
    """The spec document of the default spec grown to ``teams`` teams in its own topology: each
    added team gets its own dev account and deploys to the base's shared test and prod accounts.

    Unlike :func:`large_org` every section of the base is kept (data included): this is the
    shape whose shared accounts, portfolios and buses fill up as teams are added, measured by
    ``scripts/bench --quotas``.
    """
    doc: dict[str, Any] = yaml.safe_load(base.read_text(encoding="utf-8"))
    accounts, existing = doc["accounts"], doc["teams"]
    if not len(existing) <= teams <= 9999:
        raise ValueError(f"teams must be between {len(existing)} and 9999 (got {teams})")
    template = existing[sorted(existing)[0]]
    dev = accounts[template["dev_account"]]
    stages = template["stages"]
    for n in range(len(existing) + 1, teams + 1):
        team = f"team-{n:04d}"
        accounts[f"ml-dev-{team}"] = {
            "id": f"39{n:010d}",
            "layer": "dev",
            "ou": dev["ou"],
            "description": f"dev account of {team} (generated benchmark fixture).",
            # /23s from 10.64.0.0 on: clear of the base's networks (10.0.0.0/10 is left to them)
            "network": {"cidr": _cidr(8192 + n)},
            **({"source": dict(dev["source"])} if "source" in dev else {}),
        }
        existing[team] = {
            "dev_account": f"ml-dev-{team}",
            "description": f"Generated benchmark team {n}.",
            "tags": {"business-unit": BUSINESS_UNITS[n % len(BUSINESS_UNITS)]},
            "stages": [dict(stage) for stage in stages],
        }
    if len(accounts) > ACCOUNTS_DEFAULT_QUOTA:  # an organization this large has had AWS raise it
        doc.setdefault("quotas", {})["organization_accounts"] = len(accounts)
    return doc


def write_large_org(path: Path, teams: int, base: Path = DEFAULT_SPEC) -> Path:
    """Write the large org spec to ``path`` as YAML (ids quoted) and return ``path``."""
    return write_doc(path, large_org(teams, base), f"{teams} teams x (dev, test, prod)")


def write_doc(path: Path, doc: dict[str, Any], shape: str) -> Path:
    """Write a generated spec document to ``path`` as YAML (ids quoted) and return ``path``."""
    text = f"# Generated by mlgov.spec.large_org: {shape}. Do not edit.\n"
    text += yaml.safe_dump(doc, sort_keys=False, default_flow_style=False)
    path.write_text(text, encoding="utf-8")
    return path


def _ou_of_layer(accounts: dict[str, Any], layer: str, ous: dict[str, Any]) -> str:
    """The OU that the base spec puts ``layer`` accounts in (first such account), else root."""
    for acc in accounts.values():
        if acc.get("layer") == layer and (acc.get("ou") in ous or acc.get("ou") == "root"):
            return str(acc["ou"])
    return "root"
