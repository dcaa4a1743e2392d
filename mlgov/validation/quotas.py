"""AWS service quotas, computed for the spec at validate time (:mod:`mlgov.platform.quotas`).

COUNT quotas are counted here from the spec with the platform functions the constructs build
the same objects with (role names, portfolio principals, network plans, the governance
flow's teams and groups); tests/test_quotas.py proves every count equal to the count in the
synthesized JSON of org.yaml and mlgov/examples/*.yaml. SIZE quotas are measured on policy
documents by :func:`check_policy_sizes`.

Each broken quota is ONE finding, on its largest object: ``<quota>: <figure> > <limit>
(<AWS object>); <remedy>`` (the AWS object says how many more break it).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import yaml

from mlgov.platform import bootstrap, budgets, catalog, deploy, governance, monitoring, naming, network
from mlgov.platform import data as data_facts
from mlgov.platform import tags as tags_of
from mlgov.platform.guardrails import BUILTIN_PER_TARGET, service_control_policies
from mlgov.platform.iam import inventory
from mlgov.platform.quotas import COUNT_QUOTAS, QUOTAS, SIZE_QUOTAS, limit, measure
from mlgov.spec.governance import batch_stages, monitored_stages
from mlgov.spec.located import load_yaml
from mlgov.spec.model import Layer, OrgSpec, parse_model

Finding = tuple[tuple, str]

# Quotas whose check lives elsewhere already (mlgov.platform.guardrails.problems, with its own
# wording): their figures are computed here for the benchmark, never reported twice.
CHECKED_ELSEWHERE = frozenset({"scps_per_target", "scp_chars"})


@dataclass(frozen=True)
class Figure:
    """One AWS object's figure under one quota."""

    quota: str
    value: int
    aws_object: str
    spec_path: tuple


# -- counts ------------------------------------------------------------------------------------


def _portfolio_principals(spec: OrgSpec) -> Iterator[Figure]:
    sc = spec.service_catalog
    if sc is None or not sc.portfolios:
        return
    for pkey in sorted(sc.portfolios):
        count = len(catalog.portfolio_principal_patterns(spec, pkey))
        yield Figure(
            "portfolio_iam_pattern_principals",
            count,
            f"{pkey} in {spec.hub}",
            ("service_catalog", "portfolios", pkey),
        )


def account_roles(spec: OrgSpec) -> dict[str, list[str]]:
    """Names of the IAM roles mlgov's stacks create, by account key (roles are global: every
    region's stack of an account counts toward one quota; mlgov builds them in its primary one)."""
    roles: dict[str, list[str]] = defaultdict(list)
    if spec.teams and spec.keys_in_layer(Layer.hub):
        hub = spec.hub
        roles[hub] += [naming.role_name(spec, p) for p in ("model-promotion", "ml-engineer", "governance-officer")]
        for team in spec.teams:
            roles[hub] += [naming.team_role(spec, team, p) for p in ("deploy-pipeline", "select-model", "start-deploy")]
        if naming.remote_regions(spec):
            roles[hub].append(naming.role_name(spec, "model-artifacts-replication"))
    catalog_on = spec.service_catalog is not None and bool(spec.service_catalog.portfolios)
    owners = {t.dev_account: name for name, t in spec.teams.items()}
    live = set(spec.live_accounts())  # an account not created yet or retired has no stacks
    for key in spec.keys_in_layer(Layer.dev):
        if key not in live:
            continue
        if catalog_on:
            assert spec.service_catalog is not None
            roles[key] += [naming.catalog_launch_role(spec, p) for p in spec.service_catalog.portfolios]
        owner = owners.get(key)
        if owner is None:
            continue
        roles[key] += [
            naming.team_role(spec, owner, p)
            for p in ("data-scientist", "lead-data-scientist", "sagemaker-execution", "event-forwarder")
        ]
        if spec.accounts[key].source is not None:
            roles[key] += [naming.team_role(spec, owner, p) for p in naming.BUILD_ROLES]
    stage_accounts = set(spec.keys_in_layer(Layer.test) + spec.keys_in_layer(Layer.prod))
    monitored = set(monitoring.monitored_accounts(spec))
    for team in naming.by_label(spec, spec.teams):  # one walk over the teams: linear in the org's size
        t = spec.teams[team]
        watched = set(monitored_stages(spec, team))
        batch = {s for g in t.governance.model_package_groups for s in batch_stages(spec, team, g)}
        staging = set(governance.staging_stages(spec, team))
        here: dict[str, set[str]] = defaultdict(set)
        for stage in t.stages:
            if stage.account in stage_accounts:
                here[stage.account].add(stage.name)
        for key, names in here.items():
            roles[key] += [naming.team_role(spec, team, p) for p in ("deploy", "endpoint-deployer", "endpoint")]
            if key in monitored and names & watched:
                roles[key].append(naming.team_role(spec, team, "monitoring"))
            if names & batch:
                roles[key].append(naming.team_role(spec, team, "batch"))
            if names & staging:
                roles[key].append(naming.team_role(spec, team, "endpoint-tester"))
    if budgets.action_accounts(spec):
        roles[spec.organization.management_account].append(naming.budget_action_role(spec))
    data = naming.data_account(spec)
    if data is not None:
        roles[data].append(naming.lake_access_role(spec))
        if spec.data is not None and spec.data.feature_store is not None:
            roles[data].append(naming.feature_store_role(spec))
    return dict(roles)


def _roles(spec: OrgSpec) -> Iterator[Figure]:
    stacks = account_roles(spec)
    for key in sorted(set(stacks) | set(spec.live_accounts())):
        names = stacks.get(key, []) + bootstrap.account_roles(spec)  # and the bootstrap's
        yield Figure("iam_roles_per_account", len(names), key, ("accounts", key))


def event_bus_rules(spec: OrgSpec) -> dict[tuple[str, str, str], list[str]]:
    """Rule names by (account key, region, bus name): the central bus's promotion rule, the hub's
    default bus's rule per team and model package group, each dev account's forwarding rule."""
    rules: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    if not spec.teams or not spec.keys_in_layer(Layer.hub):
        return {}
    hub, region = spec.hub, naming.hub_region(spec)
    rules[(hub, region, naming.central_bus(spec))].append(naming.promotion_rule(spec))
    for team, t in spec.teams.items():
        for group in t.governance.model_package_groups:
            rules[(hub, region, "default")].append(naming.central_approval_rule(spec, team, group))
        dev = t.dev_account
        rules[(dev, naming.primary_region(spec, dev), "default")].append(naming.approval_forward_rule(spec, team))
    return dict(rules)


def _rules(spec: OrgSpec) -> Iterator[Figure]:
    for (key, region, bus), names in sorted(event_bus_rules(spec).items()):
        yield Figure("event_rules_per_bus", len(names), f"{bus} of {key} in {region}", ("teams",))


def pipelines(spec: OrgSpec) -> dict[tuple[str, str], list[str]]:
    """CodePipeline pipelines by (account key, region): one per team and model package group in the hub."""
    if not spec.teams or not spec.keys_in_layer(Layer.hub):
        return {}
    names = [
        naming.deploy_pipeline(spec, t, g) for t in spec.teams for g in spec.teams[t].governance.model_package_groups
    ]
    return {(spec.hub, naming.hub_region(spec)): names}


def _pipelines(spec: OrgSpec) -> Iterator[Figure]:
    for (key, region), names in sorted(pipelines(spec).items()):
        yield Figure("codepipeline_pipelines_per_region", len(names), f"{key} in {region}", ("accounts", key))


def image_replication_rules(spec: OrgSpec) -> dict[str, list[str]]:
    """The hub registry's ECR replication rules: per stage region other than the hub's, the
    repositories of the teams with a stage there (one filter each; the hub region's registry,
    the only one with a replication configuration)."""
    if not spec.teams or not spec.keys_in_layer(Layer.hub):
        return {}
    return {
        region: [
            naming.team_image_repository(spec, t)
            for t in naming.by_label(spec, spec.teams)
            if region in naming.team_remote_regions(spec, t)
        ]
        for region in naming.remote_regions(spec)
    }


def _image_replication(spec: OrgSpec) -> Iterator[Figure]:
    rules = image_replication_rules(spec)
    if not rules:
        return
    where = f"{spec.hub} in {naming.hub_region(spec)}"
    yield Figure("ecr_replication_rules", len(rules), where, ("accounts", spec.hub))
    for region, filters in sorted(rules.items()):
        yield Figure("ecr_replication_filters_per_rule", len(filters), f"to {region} of {where}", ("teams",))


@dataclass(frozen=True)
class SecurityGroupRules:
    """Rules mlgov creates on one security group of an account's network."""

    group: str  # "workloads" or "endpoints"
    inbound: int
    outbound: int


def security_group_rules(r: network.ResolvedNetwork) -> list[SecurityGroupRules]:
    """The rules :class:`mlgov.modules.network.AccountNetwork` puts on the groups it creates."""
    out = []
    if r.creates_security_group:
        gateway = any(e.gateway for e in r.endpoints)
        outbound = 1 + int(r.egress) + int(gateway) + int(bool(r.endpoints))
        out.append(SecurityGroupRules("workloads", 1, outbound))
    if r.endpoints:
        out.append(SecurityGroupRules("endpoints", len(r.security_group_ids), 0))
    return out


def _networks(spec: OrgSpec) -> Iterator[Figure]:
    for ref in spec.stack_refs():
        r = network.account_network(spec, ref.account, ref.region)
        if r is None or ref.is_slice:  # the network is in the core stack
            continue
        path = ("accounts", ref.account, "network")
        where = f"{ref.account} in {ref.region}"
        interface = [e for e in r.endpoints if not e.gateway]
        yield Figure("vpc_interface_endpoints_per_vpc", len(interface), where, path)
        for sg in security_group_rules(r):
            obj = f"{sg.group} of {where}"
            yield Figure("security_group_inbound_rules", sg.inbound, obj, path)
            yield Figure("security_group_outbound_rules", sg.outbound, obj, path)
        yield Figure(
            "security_groups_per_network_interface",
            len(r.security_group_ids),
            where,
            path + (("security_group_ids",) if not r.creates_security_group else ()),
        )


def _organization(spec: OrgSpec) -> Iterator[Figure]:
    org = spec.organization
    yield Figure("organization_accounts", len(spec.accounts), org.id, ("accounts",))
    ous = org.organizational_units
    yield Figure("organization_ous", len(ous), org.id, ("organization", "organizational_units"))
    for name in sorted(ous):
        depth, cursor, seen = 1, ous[name].parent, {name}
        while cursor in ous and cursor not in seen:
            seen.add(cursor)
            depth, cursor = depth + 1, ous[cursor].parent
        yield Figure("ou_nesting_depth", depth, name, ("organization", "organizational_units", name, "parent"))
    per_target: Counter[str] = Counter(t for scp in service_control_policies(spec) for t in scp.targets)
    for target, count in sorted(per_target.items()):
        yield Figure("scps_per_target", count + BUILTIN_PER_TARGET, target, ("management", "guardrails"))


def cross_account_grants(spec: OrgSpec) -> list[str]:
    """Addresses of the data account's grants to the teams' dev accounts by named resource (each
    shared database, each table, columns, whole-database or feature group grant); the LF-tag
    expression grants are not of that method (:class:`mlgov.modules.data.DataLake` makes them all)."""
    out = []
    for team in data_facts.granted_teams(spec):
        out += [data_facts.database_grant_address(team, db) for db in data_facts.shared_databases(spec, team)]
        out += [g.address for g in data_facts.team_grants(spec, team) if g.kind != "lf_tags"]
    return out


def _lake_formation(spec: OrgSpec) -> Iterator[Figure]:
    data = spec.data
    if data is None or naming.data_account(spec) is None:
        return
    account = naming.data_account(spec)
    yield Figure("lf_tags_per_account", len(data.lf_tags), f"{account}", ("data", "lf_tags"))
    yield Figure("lf_cross_account_grants", len(cross_account_grants(spec)), f"{account}", ("data", "grants"))
    for key, values in sorted(data.lf_tags.items()):
        yield Figure("lf_tag_values", len(set(values)), key, ("data", "lf_tags", key))
    for db, database in sorted(data.databases.items()):
        path = ("data", "databases", db)
        yield Figure("lf_tags_per_resource", len(database.lf_tags), f"database {db}", path + ("lf_tags",))
        for name, table in sorted(database.tables.items()):
            yield Figure(
                "lf_tags_per_resource",
                len(table.lf_tags),
                f"table {db}.{name}",
                path + ("tables", name, "lf_tags"),
            )


def _tags(spec: OrgSpec) -> Iterator[Figure]:
    """The most tags one resource of each stack carries (default tags, a team's tags, the keys
    constructs add), on the stack's account; the spec path is the tags that weigh most.

    Computed once per account: its core stack and every team slice of it share the figure (a
    shared account's slices would otherwise walk all its teams each, quadratic in the teams)."""
    per_account: dict[str, tuple[int, tuple]] = {}
    for ref in spec.stack_refs():
        if ref.account not in per_account:
            teams = tags_of.stack_teams(spec, ref.account)
            figure = tags_of.most_tags(spec, ref.account, teams)
            heaviest = max(teams, key=lambda t: len(tags_of.team_tags(spec, t)), default=None)
            per_account[ref.account] = (figure, ("teams", heaviest, "tags") if heaviest else ("organization", "tags"))
        figure, path = per_account[ref.account]
        yield Figure("tags_per_resource", figure, f"resources of stack {ref.name}", path)


def count_figures(spec: OrgSpec) -> list[Figure]:
    """Every COUNT quota's figure for every AWS object the spec's output creates or fills."""
    figures = [
        f
        for part in (
            _portfolio_principals,
            _roles,
            _rules,
            _pipelines,
            _image_replication,
            _networks,
            _organization,
            _lake_formation,
            _tags,
        )
        for f in part(spec)
    ]
    assert {f.quota for f in figures} <= set(COUNT_QUOTAS)
    return figures


# -- raises a generated org names ----------------------------------------------------------------


def needed_raises(spec: OrgSpec) -> dict[str, int]:
    """The adjustable COUNT quotas the spec passes AWS's default on, each at its largest figure:
    what an organization of that shape must have had AWS raise (and name under ``quotas:``)."""
    largest: dict[str, int] = {}
    for f in count_figures(spec):
        if QUOTAS[f.quota].adjustable and f.value > QUOTAS[f.quota].limit:
            largest[f.quota] = max(f.value, largest.get(f.quota, 0))
    return dict(sorted(largest.items()))


def name_needed_raises(doc: dict[str, Any], file: str = "generated.yaml") -> dict[str, Any]:
    """A generated spec document (plain data) with :func:`needed_raises` named under its ``quotas:``
    (a raise it names already is kept when larger). Parsed for its types only: the figures are
    the point, and a raise beyond what AWS grants is left for ``validate`` to refuse."""
    spec = parse_model(load_yaml(yaml.safe_dump(doc, sort_keys=False), file))
    raises = needed_raises(spec)
    if raises:
        named = doc.setdefault("quotas", {})
        for key, value in raises.items():
            named[key] = max(value, named.get(key, 0))
    return doc


# -- reporting ------------------------------------------------------------------------------------


def _over(spec: OrgSpec, figures: Iterable[Figure]) -> Iterator[Finding]:
    """One finding per broken quota: its largest object (ties: the first in order)."""
    by_quota: dict[str, list[Figure]] = defaultdict(list)
    for f in figures:
        by_quota[f.quota].append(f)
    for key in [k for k in QUOTAS if k in by_quota]:
        allowed = limit(spec, key)
        over = [f for f in by_quota[key] if f.value > allowed]
        if not over:
            continue
        worst = max(over, key=lambda f: f.value)  # max keeps the first of equals
        more = f", and {len(over) - 1} more" if len(over) > 1 else ""
        quota = QUOTAS[key]
        yield (
            worst.spec_path,
            f"{key}: {worst.value:,} > {allowed:,} ({quota.applies_to}: {worst.aws_object}{more}); {quota.remedy}",
        )


def raise_problems(spec: OrgSpec) -> Iterator[Finding]:
    """A "raise" below AWS's default, or above the most AWS grants (where AWS documents one)."""
    for key, value in sorted(spec.quotas.raised().items()):
        top = QUOTAS[key].maximum
        if value < QUOTAS[key].limit:
            yield (
                ("quotas", key),
                f"not a raise: AWS's default is {QUOTAS[key].limit:,} (got {value:,}); omit it to keep the default",
            )
        elif top is not None and value > top:
            yield (
                ("quotas", key),
                f"AWS raises {key} to at most {top:,} (got {value:,}); see {QUOTAS[key].source}",
            )


def quota_problems(spec: OrgSpec) -> Iterator[Finding]:
    """Every COUNT and SIZE quota the spec breaks (one finding per quota), every impossible raise."""
    yield from raise_problems(spec)
    yield from _over(spec, (f for f in count_figures(spec) if f.quota not in CHECKED_ELSEWHERE))
    yield from check_policy_sizes(
        spec, inventory_rows(spec) + event_pattern_rows(spec) + pipeline_configuration_rows(spec)
    )


# -- sizes ----------------------------------------------------------------------------------------

# Document kinds of check_policy_sizes, with the quota each is measured against. Inline
# policies are summed per role (AWS limits all of a role's inline policies together).
DOCUMENT_QUOTAS = {
    "scp": "scp_chars",
    "managed-policy": "iam_managed_policy_chars",
    "inline-policy": "iam_role_inline_policies_chars",
    "trust-policy": "iam_role_trust_policy_chars",
    "bucket-policy": "s3_bucket_policy_bytes",
    "key-policy": "kms_key_policy_bytes",
    "bus-policy": "event_bus_policy_chars",
    "event-pattern": "event_pattern_chars",
    "topic-policy": "sns_topic_policy_bytes",
    "queue-policy": "sqs_queue_policy_bytes",
    "lambda-policy": "lambda_resource_policy_bytes",
    "action-configuration": "codepipeline_action_configuration_value_chars",
}

Document = tuple[str, str, str, str, str, str]  # (kind, account key, region, AWS object, name, JSON text)


def size_figures(documents: Iterable[Document]) -> list[Figure]:
    """Each document's size under its quota; inline policies summed per (account, role).

    ``aws_object`` of an inline policy is the role it belongs to; ``name`` the policy's name.
    """
    figures: list[Figure] = []
    inline: dict[tuple[str, str], int] = defaultdict(int)
    for kind, account, region, aws_object, name, text in documents:
        if kind not in DOCUMENT_QUOTAS:
            raise ValueError(f"unknown document kind {kind!r} (expected one of {sorted(DOCUMENT_QUOTAS)})")
        key = DOCUMENT_QUOTAS[kind]
        size = measure(QUOTAS[key], text)
        if kind == "inline-policy":
            inline[(account, aws_object)] += size
            continue
        figures.append(Figure(key, size, f"{aws_object} {name} in {account} ({region})", ("accounts", account)))
    for (account, role), size in sorted(inline.items()):
        figures.append(
            Figure("iam_role_inline_policies_chars", size, f"role {role} in {account}", ("accounts", account))
        )
    assert {f.quota for f in figures} <= set(SIZE_QUOTAS)
    return figures


def check_policy_sizes(spec: OrgSpec, documents: Iterable[Document]) -> list[Finding]:
    """Every SIZE quota the documents break, one finding per quota, as ``(spec path, message)``.

    SCPs are measured (:func:`size_figures`) but not reported here: the guardrails check their
    size already (:func:`mlgov.platform.guardrails.problems`), in their own words.

    Args:
        spec: the validated spec (its ``quotas:`` raises apply).
        documents: ``(kind, account, region, aws_object, name, json_text)`` tuples; ``kind`` is a
            key of :data:`DOCUMENT_QUOTAS`, ``account`` a spec account key, ``aws_object`` what
            holds the document (for an inline policy: its role's name).
    """
    return list(_over(spec, (f for f in size_figures(documents) if f.quota not in CHECKED_ELSEWHERE)))


def event_pattern_rows(spec: OrgSpec) -> list[Document]:
    """The event pattern of every rule :func:`event_bus_rules` names, as size rows (the text the
    constructs give the rule: :mod:`mlgov.platform.governance`). The dev forwarding rule lists
    its team's groups, so it grows with them; the others are one group or one prefix."""
    if not spec.teams or not spec.keys_in_layer(Layer.hub):
        return []
    hub, region = spec.hub, naming.hub_region(spec)
    rows: list[Document] = [
        ("event-pattern", hub, region, "rule", naming.promotion_rule(spec), governance.promotion_pattern(spec))
    ]
    for team, t in spec.teams.items():
        for group in t.governance.model_package_groups:
            name = naming.central_approval_rule(spec, team, group)
            rows.append(
                ("event-pattern", hub, region, "rule", name, governance.central_approval_pattern(spec, team, group))
            )
        dev = t.dev_account
        name = naming.approval_forward_rule(spec, team)
        rows.append(
            (
                "event-pattern",
                dev,
                naming.primary_region(spec, dev),
                "rule",
                name,
                governance.forward_pattern(spec, team),
            )
        )
    return rows


def pipeline_configuration_rows(spec: OrgSpec) -> list[Document]:
    """Every configuration value of every action of the hub's deployment pipelines, as size rows:
    the configurations the hub builds the pipelines from (:func:`mlgov.platform.deploy.action_configurations`)."""
    if not spec.teams or not spec.keys_in_layer(Layer.hub):
        return []
    hub, region = spec.hub, naming.hub_region(spec)
    return [
        ("action-configuration", hub, region, f"pipeline {naming.deploy_pipeline(spec, team, group)}", f"{a}.{k}", v)
        for team, t in spec.teams.items()
        for group in t.governance.model_package_groups
        for a, config in deploy.action_configurations(spec, team, group).items()
        for k, v in config.items()
    ]


def inventory_rows(spec: OrgSpec) -> list[Document]:
    """Every policy document of the spec's stacks (computed, not synthesized) as size rows."""
    kind_of_quota = {quota: kind for kind, quota in DOCUMENT_QUOTAS.items()}
    return [
        (kind_of_quota[quota], d.account, d.region, d.aws_object, f"{d.stack}:{d.address}", d.sized_text)
        for d in inventory.documents(spec)
        if (quota := inventory.QUOTA_OF_KIND.get(d.kind))
    ]
