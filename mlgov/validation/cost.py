"""Cost governance checks: the instance-type guardrail against the spec's own settings, budgets.

A spec whose own endpoint, monitoring, batch or product defaults name an instance type its
instance-type guardrail (:func:`mlgov.platform.guardrails.allowed_instance_types`) denies would
deploy something AWS refuses at run time: it is refused here, one line per setting.
"""

from __future__ import annotations

from collections.abc import Iterator

import yaml

from mlgov.platform import catalog, guardrails
from mlgov.platform.guardrails import allowed_instance_types, instance_type_allowed
from mlgov.spec.governance import batch_stages, monitored_stages, resolve_endpoint
from mlgov.spec.model import Layer, OrgSpec

Finding = tuple[tuple, str]
GUARDRAIL = ("management", "guardrails", "sagemaker_instance_types")
LAYERS = (Layer.dev, Layer.test, Layer.prod)


def cost_problems(spec: OrgSpec) -> Iterator[Finding]:
    """Every cost-governance finding, in a stable order."""
    yield from _unrestricted_extras(spec)
    yield from _extras_need_reserved_names(spec)
    yield from _stage_settings(spec)
    yield from _product_defaults(spec)
    yield from _budgets(spec)


def _denied(instance_type: str, allowed: list[str] | None, where: str, layer: Layer) -> str | None:
    if allowed is None or instance_type_allowed(instance_type, allowed):
        return None
    return (
        f"instance type {instance_type} is denied in {where} by the {layer.value} instance-type guardrail "
        f"(allowed: {', '.join(allowed)}); allow it in {'.'.join(GUARDRAIL)}.{layer.value} or in the team's "
        "instance_types, or pick an allowed type"
    )


def _unrestricted_extras(spec: OrgSpec) -> Iterator[Finding]:
    for name, team in sorted(spec.teams.items()):
        for layer in LAYERS:
            if getattr(team.instance_types, layer.value) and allowed_instance_types(spec, layer) is None:
                yield (
                    ("teams", name, "instance_types", layer.value),
                    f"extra instance types for a layer without a list ({'.'.join(GUARDRAIL)}.{layer.value} is not "
                    "set, or the guardrail is disabled): they would allow nothing more; remove them or set the list",
                )


def _extras_need_reserved_names(spec: OrgSpec) -> Iterator[Finding]:
    """A shared stage account's SCP gives a team's extra types to its roles by name: the
    ``protect_audit`` SCP, whose DenyPersonaRoleNamesButTerraform statement keeps those names to
    Terraform, must be on and reach the account (attached to the root, its OU or a parent)."""
    accounts = guardrails.instance_type_extra_stage_accounts(spec)
    if not accounts:
        return
    setting = spec.management.guardrails.protect_audit
    path = ("management", "guardrails", "protect_audit")
    why = (
        f"its DenyPersonaRoleNamesButTerraform statement keeps the names of the roles that get a team's extra "
        f"instance types in {', '.join(accounts)} to Terraform"
    )
    if not setting.enabled:
        yield path + ("enabled",), f"protect_audit is off while teams have extra instance types ({why}); enable it"
        return
    targets = set(setting.targets) if setting.targets is not None else {guardrails.ROOT}
    for key in accounts:
        if not guardrails.reaches(spec, targets, spec.accounts[key].ou):
            yield (
                path + ("targets",),
                f"protect_audit does not reach account {key!r} in OU {spec.accounts[key].ou!r} (got targets "
                f"{sorted(targets)}; {why}), expected `root`, {spec.accounts[key].ou!r} or a parent of it",
            )


def _stage_settings(spec: OrgSpec) -> Iterator[Finding]:
    for name, team in sorted(spec.teams.items()):
        monitored = monitored_stages(spec, name)
        gov = team.governance
        for i, stage in enumerate(team.stages):
            if stage.account not in spec.accounts:
                continue
            layer = spec.accounts[stage.account].layer
            allowed = allowed_instance_types(spec, layer, name)
            where = f"{stage.account} (stage {stage.name})"
            given = gov.endpoints.get(stage.name)
            path = ("teams", name, "governance", "endpoints", stage.name, "instance_type")
            if problem := _denied(resolve_endpoint(spec, name, stage).instance_type, allowed, where, layer):
                yield (path if given is not None else ("teams", name, "stages", i)), problem
            if stage.name in monitored and (problem := _denied(gov.monitoring.instance_type, allowed, where, layer)):
                yield ("teams", name, "governance", "monitoring", "instance_type"), problem
            for group, batch in sorted(gov.batch.items()):
                if stage.name in batch_stages(spec, name, group) and (
                    problem := _denied(batch.instance_type, allowed, where, layer)
                ):
                    yield ("teams", name, "governance", "batch", group, "instance_type"), problem


def _product_defaults(spec: OrgSpec) -> Iterator[Finding]:
    """The newest version of each live product launches in the dev accounts with its defaults:
    each ``*InstanceType`` default must be allowed in every dev account (without a team's extras)."""
    sc = spec.service_catalog
    allowed = allowed_instance_types(spec, Layer.dev)
    if sc is None or allowed is None:
        return
    newest = {
        (pkey, key): product.versions[-1].name
        for pkey, portfolio in sc.portfolios.items()
        for key, product in portfolio.products.items()
        if not product.retired
    }
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    for artifact in catalog.product_artifacts(spec):
        if newest.get((artifact.portfolio, artifact.product)) != artifact.version:
            continue
        params = (yaml.load(artifact.text, Loader=loader) or {}).get("Parameters", {})  # noqa: S506 - a safe loader
        product = sc.portfolios[artifact.portfolio].products[artifact.product]
        path = ("service_catalog", "portfolios", artifact.portfolio, "products", artifact.product)
        for param, body in sorted(params.items()):
            default = body.get("Default") if isinstance(body, dict) else None
            if not param.endswith("InstanceType") or param.startswith("Endpoint"):
                continue  # an endpoint type is what the model package names for its stages, no dev call
            if not isinstance(default, str) or not default.startswith("ml."):
                continue
            where = f"the dev accounts (default of {param} in version {artifact.version})"
            if problem := _denied(default, allowed, where, Layer.dev):
                yield (path + ("parameters", param) if param in product.parameters else path), problem


def _budgets(spec: OrgSpec) -> Iterator[Finding]:
    for name, team in sorted(spec.teams.items()):
        if team.budget is None:
            continue
        path = ("teams", name, "budget")
        thresholds = team.budget.thresholds
        if len(set(thresholds)) != len(thresholds):
            yield path + ("thresholds",), f"thresholds repeat a value (got {thresholds}, expected distinct percentages)"
        if len({c.lower() for c in team.budget.contacts}) != len(team.budget.contacts):
            yield path + ("contacts",), f"contacts repeat an address (got {team.budget.contacts})"
