"""What a synthesized tree says about the platform, read the way AWS would read it.

``World(spec, tree)`` takes a spec and its in-memory tree (``mlgov.synth.tree.render``) and
exposes roles (trust + inline policies), resource policies (buckets, keys, model package
groups, the central bus, Lambda permissions), event rules, pipelines, SSM parameters and the
SCPs in force for each account, and who can launch through each Service Catalog launch role
(:attr:`World.launchers`). Policies are made concrete by ``mlgov.review.policies`` (the
same collector the IAM validation uses), so ARNs of keys and references look like AWS's.
Nothing here decides anything: decisions come from iam-simulate, event matching from moto.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlgov.platform import guardrails, naming, policy
from mlgov.review import policies as collector
from mlgov.spec.model import OrgSpec

_TEMPLATES: dict[bytes, dict[str, Any]] = {}


def template_of(data: bytes) -> dict[str, Any]:
    """A product template of the tree, parsed (``mlgov.review.policies``) once per session per
    content: the default tree and its broken copies share most templates byte for byte. A
    fresh copy each time: the journey fills launch parameters in."""
    if data not in _TEMPLATES:
        _TEMPLATES[data] = collector.parse_template(data.decode("utf-8"))
    return copy.deepcopy(_TEMPLATES[data])


@dataclass
class Role:
    """One IAM role of a stack: where it lives, who may assume it and what it may do."""

    name: str
    account: str
    arn: str
    trust: dict[str, Any]
    policies: dict[str, dict[str, Any]] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def principal_tags(self) -> dict[str, str]:
        """The request context keys of the role's tags (``aws:PrincipalTag/<key>``), as AWS sets
        them for a session of the role (mlgov's trusts grant no sts:TagSession: no session tag
        overrides them)."""
        return {f"aws:PrincipalTag/{k}": v for k, v in sorted(self.tags.items())}

    @property
    def services(self) -> list[str]:
        """Services the trust policy lets assume the role (PassRole targets)."""
        out = []
        for s in self.trust.get("Statement", []):
            svc = (s.get("Principal") or {}).get("Service")
            out += [svc] if isinstance(svc, str) else list(svc or [])
        return sorted(out)


@dataclass
class Stack:
    name: str
    account: str
    region: str
    doc: dict[str, Any]
    resolver: Any

    def resources(self, rtype: str) -> dict[str, dict[str, Any]]:
        return self.doc.get("resource", {}).get(rtype, {})

    @property
    def default_tags(self) -> dict[str, str]:
        """The AWS provider's default tags (every taggable resource of the stack carries them)."""
        providers = (self.doc.get("provider") or {}).get("aws") or [{}]
        defaults = providers[0].get("default_tags") or [{}]
        return dict(defaults[0].get("tags") or {})

    def resolve(self, value: Any) -> Any:
        return collector._map_strings(value, self.resolver.resolve)


class World:
    """The platform of one synthesized tree."""

    def __init__(self, spec: OrgSpec, tree: dict[str, bytes]) -> None:
        self.spec = spec
        self.tree = tree
        self.stacks: dict[str, Stack] = {}
        self._product_roles: dict[tuple[str, str], Role | None] = {}
        self._templates: dict[str, tuple[str, dict] | None] = {}
        for path, data in sorted(tree.items()):
            if path.startswith("stacks/") and path.endswith("/cdk.tf.json"):
                name = path.split("/")[1]
                doc = json.loads(data)
                resolver = collector.StackResolver(name, doc)
                self.stacks[name] = Stack(name, resolver.account, resolver.region, doc, resolver)
        with tempfile.TemporaryDirectory(prefix="mlgov-journey-") as tmp:
            root = Path(tmp)
            for path, data in tree.items():
                if path.startswith("stacks/") and path.endswith("/cdk.tf.json"):
                    target = root / path
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(data)
            found = collector.collect(root)
        self.collected = {c.id: c.document for c in found}
        self.roles: dict[str, Role] = {}
        for stack in self.stacks.values():
            for address, attrs in stack.resources("aws_iam_role").items():
                name = attrs["name"]
                trust = self.collected.get(f"stacks/{stack.name}:aws_iam_role.{address}:assume_role_policy", {})
                role = Role(name, stack.account, policy.role_arn(stack.account, name), trust)
                # The provider's default tags and the role's own (AWS tags the role with both).
                role.tags = {**stack.default_tags, **(stack.resolve(attrs.get("tags")) or {})}
                inline = self.collected.get(f"stacks/{stack.name}:aws_iam_role_policy.{address}:policy")
                if inline:
                    role.policies[name] = inline
                self.roles[role.arn] = role
        self.launchers = self._launchers()
        # An account stack's team slices (same account and region): its lookups by name see them.
        self.slices: dict[str, list[Stack]] = {}
        for ref in spec.stack_refs():
            if ref.is_slice and ref.name in self.stacks:
                self.slices.setdefault(ref.core, []).append(self.stacks[ref.name])

    def _launchers(self) -> dict[str, set[str]]:
        """Launch role ARN -> ARNs of the roles that can run a launch as it.

        Read from the hub stack as Service Catalog reads it: a LAUNCH constraint of a portfolio names
        a LOCAL role (the role of that name in the account a product is launched in), and only the
        principals associated with that portfolio (``IAM_PATTERN``: a role name pattern matched in the
        launching account) can launch its products. Nobody else reaches a launch role: its trust
        names only the Service Catalog service.
        """
        slices = {ref.name for ref in self.spec.stack_refs() if ref.is_slice}
        hub = next(
            (s for s in self.stacks.values() if s.account == self.account_id(self.spec.hub) and s.name not in slices),
            None,
        )
        if hub is None:
            return {}
        local_roles: dict[str, set[str]] = {}
        for attrs in hub.resources("aws_servicecatalog_constraint").values():
            if attrs.get("type") == "LAUNCH":
                local_roles.setdefault(attrs["portfolio_id"], set()).add(
                    json.loads(attrs["parameters"])["LocalRoleName"]
                )
        patterns: dict[str, set[str]] = {}
        for attrs in hub.resources("aws_servicecatalog_principal_portfolio_association").values():
            if attrs.get("principal_type") == "IAM_PATTERN":
                patterns.setdefault(attrs["portfolio_id"], set()).add(attrs["principal_arn"].split(":role/", 1)[1])
        out: dict[str, set[str]] = {}
        for portfolio, names in local_roles.items():
            for launch in self.roles.values():
                if launch.name not in names:
                    continue
                out.setdefault(launch.arn, set()).update(
                    r.arn
                    for r in self.roles.values()
                    if r.account == launch.account
                    and r.arn != launch.arn
                    and any(fnmatch.fnmatchcase(r.name, p) for p in patterns.get(portfolio, ()))
                )
        return out

    # --- products ----------------------------------------------------------------------

    def newest_template(self, product: str) -> tuple[str, dict] | None:
        """(path, template) of the newest version of a product (versions are listed in order)."""
        if product not in self._templates:
            self._templates[product] = self._newest_template(product)
        return self._templates[product]

    def _newest_template(self, product: str) -> tuple[str, dict] | None:
        catalog = self.spec.service_catalog
        if catalog is None:
            return None
        for pkey, portfolio in sorted(catalog.portfolios.items()):
            if product in portfolio.products:
                version = portfolio.products[product].versions[-1].name
                path = naming.product_template_key(self.spec, pkey, product, version)
                if path in self.tree:
                    return path, template_of(self.tree[path])
        return None

    def templates(self, product: str) -> list[tuple[str, dict]]:
        """(path, template) of every version of a product in the tree, oldest first."""
        catalog = self.spec.service_catalog
        out = []
        for pkey, portfolio in sorted((catalog.portfolios if catalog else {}).items()):
            for version in portfolio.products[product].versions if product in portfolio.products else []:
                path = naming.catalog_template_key(pkey, product, version.name)
                if path in self.tree:
                    out.append((path, template_of(self.tree[path])))
        return out

    def launch_parameters(self, template: dict, resolver: Any, account_key: str) -> None:
        """Give a template's SSM-typed parameters the values the account's stack writes."""
        values = self.ssm(self.stack_of(account_key))
        for pname, pspec in (template.get("Parameters") or {}).items():
            ptype = str(pspec.get("Type", ""))
            if ptype.startswith("AWS::SSM::Parameter::Value<") and pspec.get("Default") in values:
                _kind, value = values[pspec["Default"]]
                resolver.params[pname] = value.split(",") if "List" in ptype else value

    def product_role(self, account_key: str, name: str) -> Role | None:
        """A role some newest product version creates in a dev account, with its policies."""
        key = (account_key, name)
        if key not in self._product_roles:
            self._product_roles[key] = self._product_role(account_key, name)
        return self._product_roles[key]

    def _product_role(self, account_key: str, name: str) -> Role | None:
        catalog = self.spec.service_catalog
        account = self.account_id(account_key)
        region = naming.primary_region(self.spec, account_key)
        for _key, portfolio in sorted((catalog.portfolios if catalog else {}).items()):
            for product in sorted(portfolio.products):
                found = self.newest_template(product)
                if not found:
                    continue
                path, template = found
                resolver = collector._Template(template, "stack", region, account)
                for logical, r in (template.get("Resources") or {}).items():
                    if r.get("Type") != "AWS::IAM::Role":
                        continue
                    if resolver.resolve((r.get("Properties") or {}).get("RoleName")) != name:
                        continue
                    # Evaluated here, in the real account, with the values this account's stack
                    # writes into the SSM parameters the template reads at launch.
                    self.launch_parameters(template, resolver, account_key)
                    props = resolver.resolve(r.get("Properties") or {})
                    role = Role(
                        name, account, policy.role_arn(account, name), props.get("AssumeRolePolicyDocument") or {}
                    )
                    for inline in props.get("Policies") or []:
                        role.policies[f"{path}:{logical}:{inline['PolicyName']}"] = inline["PolicyDocument"]
                    for other, m in (template.get("Resources") or {}).items():
                        if m.get("Type") == "AWS::IAM::ManagedPolicy" and {"Ref": logical} in (
                            (m.get("Properties") or {}).get("Roles") or []
                        ):
                            role.policies[f"{path}:{other}"] = resolver.resolve(m["Properties"]["PolicyDocument"])
                    return role
        return None

    # --- lookups -------------------------------------------------------------------------

    def account_id(self, key: str) -> str:
        return self.spec.accounts[key].id

    def stack_of(self, account_key: str) -> Stack:
        """The stack of an account's primary region (where its governance resources are): the
        one named by the account's key alone."""
        return self.stacks[account_key]

    def role(self, account_key: str, name: str) -> Role | None:
        return self.roles.get(policy.role_arn(self.account_id(account_key), name))

    def family(self, stack: Stack) -> list[Stack]:
        """``stack`` and its teams' slices of the same account and region (``<stack>-team-<team>``)."""
        return [stack, *self.slices.get(stack.name, [])]

    def resource_policy(self, stack: Stack, rtype: str, attr: str, where: str | None = None) -> dict | None:
        """The concrete policy document of the first ``rtype`` resource of a stack (or of its
        team slices) whose statements mention ``where`` (an ARN or name), or of the first one if
        ``where`` is None."""
        for member in self.family(stack):
            for address in member.resources(rtype):
                doc = self.collected.get(f"stacks/{member.name}:{rtype}.{address}:{attr}")
                if doc and (where is None or where in json.dumps(doc)):
                    return doc
        return None

    @staticmethod
    def _in_region(stack: Stack, attrs: dict, region: str | None) -> bool:
        """Whether a resource of ``stack`` is in ``region`` (None: the stack's): an aliased
        provider (``aws.<alias>``) puts it in that provider's region."""
        provider = attrs.get("provider")
        where = stack.resolver.regions.get(str(provider), stack.region) if provider else stack.region
        return where == (region or stack.region)

    def key_arn(self, stack: Stack, alias: str, region: str | None = None) -> str | None:
        """ARN of the key behind an alias in a stack (the collector's stand-in for its random id),
        in ``region`` (default: the stack's)."""
        for attrs in stack.resources("aws_kms_alias").values():
            if attrs.get("name") == alias and self._in_region(stack, attrs, region):
                target = attrs["target_key_id"].replace(".key_id}", ".arn}")
                return stack.resolver.resolve(target)
        return None

    def key_policy(self, stack: Stack, alias: str, region: str | None = None) -> dict | None:
        for attrs in stack.resources("aws_kms_alias").values():
            if attrs.get("name") == alias and self._in_region(stack, attrs, region):
                address = attrs["target_key_id"].split(".")[1]
                return self.collected.get(f"stacks/{stack.name}:aws_kms_key.{address}:policy")
        return None

    def rule(self, stack: Stack, name: str) -> tuple[dict, list[dict]] | None:
        """(event pattern, targets) of the rule called ``name`` in a stack or its team slices."""
        for member in self.family(stack)[1:]:
            found = self.rule(member, name)
            if found is not None:
                return found
        for address, attrs in stack.resources("aws_cloudwatch_event_rule").items():
            if attrs.get("name") == name:
                targets = [
                    stack.resolve(t)
                    for t in stack.resources("aws_cloudwatch_event_target").values()
                    if t.get("rule") == f"${{aws_cloudwatch_event_rule.{address}.name}}"
                ]
                return json.loads(attrs["event_pattern"]), targets
        return None

    def lambda_permission(self, stack: Stack) -> list[dict]:
        return [
            doc for cid, doc in self.collected.items() if cid.startswith(f"stacks/{stack.name}:aws_lambda_permission.")
        ]

    def pipeline(self, stack: Stack, name: str) -> dict | None:
        """The pipeline called ``name`` in a stack or its team slices, references resolved."""
        for member in self.family(stack):
            for attrs in member.resources("aws_codepipeline").values():
                if attrs.get("name") == name:
                    return member.resolve(attrs)
        return None

    def ssm(self, stack: Stack) -> dict[str, tuple[str, str]]:
        return {a["name"]: (a["type"], a["value"]) for a in stack.resources("aws_ssm_parameter").values()}

    def scps(self, account_key: str) -> list[dict[str, dict]]:
        """SCP levels for an account, root first: what iam-simulate's ``scps`` takes.

        The management account is not subject to SCPs at all (AWS's rule). Worked out once per
        account (a world is never changed once built; a gate walk asks thousands of times)."""
        memo: dict[str, list[dict[str, dict]]] = self.__dict__.setdefault("_scps", {})
        if account_key not in memo:
            memo[account_key] = self._scps_of(account_key)
        return memo[account_key]

    def _scps_of(self, account_key: str) -> list[dict[str, dict]]:
        if self.spec.accounts[account_key].layer.value == "management":
            return []
        management = self.stacks.get(self.spec.organization.management_account) or next(
            (
                s
                for s in self.stacks.values()
                if s.account == self.account_id(self.spec.organization.management_account)
            ),
            None,
        )
        contents: dict[str, dict] = {}
        if management is not None:
            for address, _attrs in management.resources("aws_organizations_policy").items():
                doc = self.collected.get(f"stacks/{management.name}:aws_organizations_policy.{address}:content")
                if doc:
                    contents[address] = doc
        by_target: dict[str, dict[str, dict]] = {}
        for scp in guardrails.service_control_policies(self.spec):
            if scp.key in contents:
                for target in scp.targets:
                    by_target.setdefault(target, {})[scp.name] = contents[scp.key]
        chain = []
        ou = self.spec.accounts[account_key].ou
        ous = self.spec.organization.organizational_units
        while ou and ou != guardrails.ROOT and ou in ous:
            chain.append(ou)
            ou = ous[ou].parent
        levels = [by_target.get(guardrails.ROOT, {})] + [by_target.get(o, {}) for o in reversed(chain)]
        # the account's own level: the SCPs attached to the account itself (instance types)
        return [*levels, by_target.get(f"{guardrails.ACCOUNT_TARGET}{account_key}", {})]
