"""Semantic checks that types alone cannot express.

Each check yields ``(spec path, message)``; :func:`mlgov.validation.parse_spec` turns them into
located one-line problems. Keep messages in the ``what is wrong (got X, expected Y)`` form.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from mlgov.platform import guardrails, images, naming, workflows
from mlgov.platform.naming import Kind, PhysicalName
from mlgov.spec.model import Layer, OrgSpec
from mlgov.validation.addresses import address_problems, adoption_problems
from mlgov.validation.catalog import catalog_problems, persona_pattern_problems
from mlgov.validation.cost import cost_problems
from mlgov.validation.data import data_problems
from mlgov.validation.governance import governance_problems
from mlgov.validation.lifecycle import lifecycle_problems
from mlgov.validation.network import missing_networks, network_problems
from mlgov.validation.quotas import quota_problems
from mlgov.validation.renames import rename_problems, state_problems
from mlgov.validation.repositories import repository_problems

Finding = tuple[tuple, str]

# Services every platform region must offer (botocore's offline endpoint data), by the endpoint
# prefix botocore's endpoint data uses for them (the service model's metadata.endpointPrefix;
# tests/test_spec.py checks these against the models). IAM is global, partition-wide.
REQUIRED_SERVICES = ("sagemaker", "s3", "kms", "events", "iam", "servicecatalog", "sqs", "lambda", "codepipeline")
ENDPOINT_PREFIXES = {
    "sagemaker": "api.sagemaker",
    "s3": "s3",
    "kms": "kms",
    "events": "events",
    "servicecatalog": "servicecatalog",
    "sqs": "sqs",
    "lambda": "lambda",
    "codepipeline": "codepipeline",
}

# Text that Terraform (${ %{) or Jinja ({{ {%) would interpret if it reached the output.
INTERPOLATION_MARKERS = ("${", "%{", "{{", "{%", "{#")


@lru_cache(maxsize=1)
def known_regions() -> frozenset[str]:
    """Regions where every required service has an endpoint, from botocore's bundled data.

    Reads only botocore's endpoint data: a botocore session would also load every service's
    model (megabytes of JSON) just to look up the endpoint prefixes listed above.
    """
    from botocore.loaders import create_loader
    from botocore.regions import EndpointResolver

    resolver = EndpointResolver(create_loader().load_data("endpoints"))
    regions = None
    for prefix in ENDPOINT_PREFIXES.values():
        available = set(resolver.get_available_endpoints(prefix, "aws"))
        regions = available if regions is None else regions & available
    return frozenset(regions or ())


def semantic_problems(spec: OrgSpec, raw: Any) -> list[Finding]:
    """All semantic findings, in a stable order."""
    checks = (
        _no_interpolation(raw),
        _tags(spec),
        _regions(spec),
        _accounts(spec),
        lifecycle_problems(spec),
        _teams(spec),
        rename_problems(spec),
        state_problems(spec),
        guardrails.problems(spec),
        adoption_problems(spec),
        catalog_problems(spec),
        governance_problems(spec),
        _image_registries(spec),
        network_problems(spec),
        data_problems(spec),
        repository_problems(spec),
        cost_problems(spec),
        _drift(spec),
    )
    findings = [f for check in checks for f in check]
    if not findings:  # names depend on valid references, so check them last
        findings.extend(address_problems(spec))
        findings.extend(_physical_names(spec))
        findings.extend(persona_pattern_problems(spec))
        findings.extend(quota_problems(spec))
    if not findings:  # asked last: a spec is otherwise complete before its networks are demanded
        findings.extend(missing_networks(spec))
    return findings


def _drift(spec: OrgSpec) -> Iterator[Finding]:
    """The drift job's cron: GitHub would reject the workflow, GitLab the pipeline schedule."""
    ci = spec.terraform.ci
    if ci is not None and (problem := workflows.cron_problem(ci.drift.schedule)):
        yield ("terraform", "ci", "drift", "schedule"), problem


def _no_interpolation(raw: Any, path: tuple = ()) -> Iterator[Finding]:
    if isinstance(raw, dict):
        for key, value in raw.items():
            yield from _no_interpolation(key, path + (key,)) if isinstance(key, str) and _marker(key) else ()
            yield from _no_interpolation(value, path + (key,))
    elif isinstance(raw, list):
        for i, value in enumerate(raw):
            yield from _no_interpolation(value, path + (i,))
    elif isinstance(raw, str) and (marker := _marker(raw)):
        yield (
            path,
            (
                f"contains {marker!r}, which Terraform or the template engine would interpret "
                f"(got {raw!r}, expected plain text)"
            ),
        )


def _tags(spec: OrgSpec) -> Iterator[Finding]:
    tag_sets: list[tuple[tuple[str, ...], dict[str, str]]] = [(("organization", "tags"), spec.organization.tags)]
    tag_sets += [(("teams", name, "tags"), team.tags) for name, team in sorted(spec.teams.items())]
    for path, tags in tag_sets:
        for key in sorted(tags):
            if key.lower().startswith("aws:"):
                yield path + (key,), f"tag keys starting with 'aws:' are reserved by AWS (got {key!r})"


def _marker(text: str) -> str | None:
    return next((m for m in INTERPOLATION_MARKERS if m in text), None)


def _region_problem(region: str) -> str | None:
    regions = known_regions()
    if region in regions:
        return None
    close = difflib.get_close_matches(region, sorted(regions), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return (
        "not a region where SageMaker, Service Catalog and the platform's services are available "
        f"(got {region!r}{hint})"
    )


def _image_registries(spec: OrgSpec) -> Iterator[Finding]:
    """The hub region must have AWS image registries mlgov knows (promotion and the monitors use them)."""
    if not spec.teams or not spec.keys_in_layer(Layer.hub):
        return
    region = naming.hub_region(spec)
    if region in known_regions() and region not in images.known_regions():
        yield (
            ("accounts", spec.hub),
            (
                f"no AWS SageMaker image registries known in the hub region (got {region!r}, expected one of "
                f"{images.known_regions()}): promotion could accept no AWS image and the monitors would have none"
            ),
        )


def _regions(spec: OrgSpec) -> Iterator[Finding]:
    org = spec.organization
    for path, region in (
        [(("organization", "home_region"), org.home_region)]
        + [(("organization", "allowed_regions", i), r) for i, r in enumerate(org.allowed_regions)]
        + [(("terraform", "state", "region"), spec.terraform.state.region)]
        + [
            (("accounts", key, "regions", i), r)
            for key, account in sorted(spec.accounts.items())
            for i, r in enumerate(account.regions or [])
        ]
    ):
        if problem := _region_problem(region):
            yield path, problem
    seen = set()
    for i, region in enumerate(org.allowed_regions):
        if region in seen:
            yield ("organization", "allowed_regions", i), f"duplicate region (got {region!r} twice)"
        seen.add(region)
    if org.home_region not in org.allowed_regions and org.home_region in known_regions():
        yield (
            ("organization", "home_region"),
            (
                f"home region is not in allowed_regions (got {org.home_region!r}, expected one of "
                f"{sorted(org.allowed_regions)})"
            ),
        )
    for key, account in sorted(spec.accounts.items()):
        for i, region in enumerate(account.regions or []):
            if region not in org.allowed_regions and region in known_regions():
                yield (
                    ("accounts", key, "regions", i),
                    (
                        f"region is not in organization.allowed_regions (got {region!r}, expected one of "
                        f"{sorted(org.allowed_regions)})"
                    ),
                )


def _accounts(spec: OrgSpec) -> Iterator[Finding]:
    org = spec.organization
    ous = org.organizational_units
    for name, ou in sorted(ous.items()):
        if name == "root":
            yield ("organization", "organizational_units", name), "`root` is reserved for the organization root"
        if ou.parent is not None and ou.parent not in ous:
            yield (
                ("organization", "organizational_units", name, "parent"),
                (f"unknown OU (got {ou.parent!r}, expected one of {sorted(ous)})"),
            )
        # walk up the parents; a loop means the tree is not a tree
        seen, cursor = {name}, ou.parent
        while cursor in ous:
            if cursor in seen:
                yield (
                    ("organization", "organizational_units", name, "parent"),
                    f"OU parents form a cycle through {cursor!r}",
                )
                break
            seen.add(cursor)
            cursor = ous[cursor].parent
    seen_ou_ids: dict[str, str] = {}
    for name, ou in sorted(ous.items()):
        if ou.id in seen_ou_ids:
            yield (
                ("organization", "organizational_units", name, "id"),
                (f"duplicate OU id (got {ou.id!r}, already used by OU {seen_ou_ids[ou.id]!r})"),
            )
        seen_ou_ids.setdefault(ou.id, name)

    seen_ids: dict[str, str] = {}
    for key, account in sorted(spec.accounts.items()):
        if not account.id:  # one mlgov is creating (mlgov.validation.lifecycle)
            pass
        elif account.id in seen_ids:
            yield (
                ("accounts", key, "id"),
                f"duplicate account id (got {account.id!r}, already used by account {seen_ids[account.id]!r})",
            )
        seen_ids.setdefault(account.id, key)
        if account.ou != "root" and account.ou not in ous:
            yield ("accounts", key, "ou"), f"unknown OU (got {account.ou!r}, expected `root` or one of {sorted(ous)})"
        if account.regions is not None and len(set(account.regions)) != len(account.regions):
            yield ("accounts", key, "regions"), "duplicate region in the list"

    mgmt = org.management_account
    if mgmt not in spec.accounts:
        yield (
            ("organization", "management_account"),
            f"unknown account (got {mgmt!r}, expected one of {sorted(spec.accounts)})",
        )
    elif spec.accounts[mgmt].layer != Layer.management:
        yield (
            ("organization", "management_account"),
            (f"account {mgmt!r} has layer {spec.accounts[mgmt].layer.value!r} (expected 'management')"),
        )
    for layer in (Layer.management, Layer.hub):
        keys = spec.keys_in_layer(layer)
        if len(keys) != 1:
            yield ("accounts",), f"expected exactly one account with layer {layer.value!r} (got {len(keys)}: {keys})"
    for key in spec.keys_in_layer(Layer.management):
        if key != mgmt:
            yield (
                ("accounts", key, "layer"),
                f"only organization.management_account ({mgmt!r}) may have layer 'management'",
            )


def _teams(spec: OrgSpec) -> Iterator[Finding]:
    dev_owner: dict[str, str] = {}
    for team_name, team in sorted(spec.teams.items()):
        tpath = ("teams", team_name)
        dev = team.dev_account
        if dev not in spec.accounts:
            yield (
                tpath + ("dev_account",),
                f"unknown account (got {dev!r}, expected one of {spec.keys_in_layer(Layer.dev)})",
            )
        elif spec.accounts[dev].layer != Layer.dev:
            yield (
                tpath + ("dev_account",),
                (
                    f"account {dev!r} has layer {spec.accounts[dev].layer.value!r} and cannot be a team's dev account "
                    "(expected layer 'dev')"
                ),
            )
        elif dev in dev_owner:
            yield (
                tpath + ("dev_account",),
                f"dev account {dev!r} already belongs to team {dev_owner[dev]!r} (one dev account per team)",
            )
        else:
            dev_owner[dev] = team_name

        dev_valid = dev in spec.accounts and spec.accounts[dev].layer == Layer.dev
        names: set[str] = set()
        accounts_seen: dict[str, int] = {}
        seen_prod = False
        for i, stage in enumerate(team.stages):
            spath = tpath + ("stages", i)
            if stage.name in names:
                yield spath + ("name",), f"duplicate stage name (got {stage.name!r})"
            names.add(stage.name)
            if stage.account == dev and dev_valid:
                yield (
                    spath + ("account",),
                    f"a team cannot deploy to its own dev account (got {stage.account!r}, expected a test or prod "
                    "account)",
                )
                continue
            if stage.account in accounts_seen:
                yield (
                    spath + ("account",),
                    (
                        f"account {stage.account!r} already appears at stage {accounts_seen[stage.account]}: "
                        "stages must form a path without cycles"
                    ),
                )
            accounts_seen.setdefault(stage.account, i)
            if stage.account not in spec.accounts:
                yield (
                    spath + ("account",),
                    (
                        f"unknown account (got {stage.account!r}, expected one of "
                        f"{spec.keys_in_layer(Layer.test) + spec.keys_in_layer(Layer.prod)})"
                    ),
                )
                continue
            layer = spec.accounts[stage.account].layer
            if layer not in (Layer.test, Layer.prod):
                yield (
                    spath + ("account",),
                    (
                        f"account {stage.account!r} has layer {layer.value!r} and cannot be a deployment stage "
                        "(expected 'test' or 'prod')"
                    ),
                )
            elif layer == Layer.prod:
                seen_prod = True
                if not stage.manual_approval:
                    yield (
                        spath + ("manual_approval",),
                        "a prod stage must require manual approval (got false, expected true)",
                    )
                if i == 0:
                    yield spath + ("account",), "the first stage must not be prod: deploy to a test account first"
            elif seen_prod:
                yield (
                    spath + ("account",),
                    f"test stage {stage.name!r} comes after a prod stage (expected test stages first)",
                )


def planned_names(spec: OrgSpec) -> Iterator[PhysicalName]:
    """Every physical name the stacks will create: :func:`mlgov.platform.naming.planned_names`
    plus the SCPs of the management layer."""
    yield from naming.planned_names(spec)
    yield from (PhysicalName(path, Kind.SCP, name) for path, name in guardrails.planned_names(spec))


def _physical_names(spec: OrgSpec) -> Iterator[Finding]:
    seen: dict[str, tuple] = {}
    for name in planned_names(spec):
        if problem := name.problem():
            yield name.spec_path, problem
        if name.kind.name == "S3_BUCKET":
            if name.name in seen and seen[name.name] != name.spec_path:
                yield (
                    name.spec_path,
                    f"derived bucket name {name.name!r} collides with the one for "
                    f"{'.'.join(map(str, seen[name.name]))}",
                )
            seen.setdefault(name.name, name.spec_path)
