"""mlgov's own security assertions over synthesized stacks (what checkov cannot see).

checkov reads policies embedded as JSON strings poorly: it misses ``iam:PassRole`` on "*",
has no rule for EventBridge bus policies and checks S3 TLS-only only on public buckets. These
checks are pure functions over parsed ``cdk.tf.json`` documents and work on EVERY resource of
the relevant types, so resources added later are covered without touching this file:

- every string attribute of every resource that parses as a JSON policy document is checked
  (identity, trust, key, bucket, bus, queue, model package group policies, ...);
- buckets, KMS keys, endpoint configurations and EventBridge targets are found by type;
- networks: no security group ingress from anywhere, internet egress (0.0.0.0/0 rules and
  routes, internet/NAT gateways) only where the spec opted in, every VPC endpoint's policy
  scoped to the organization.

Run as ``mlgov scan [generated/]``: one line per finding, exit 1 if any.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

# Check ids, also used by tests and in the README.
WILDCARD = "wildcard-grant"
PASSROLE = "passrole-scope"
PRINCIPAL = "principal-scope"
BUS = "bus-policy"
BUCKET = "bucket-baseline"
KMS = "kms-key"
ENDPOINT = "prod-endpoint-config"
TARGET = "cross-account-target"
SECRETS = "no-secrets"
LITERAL = "policy-literal"
INGRESS = "open-ingress"
EGRESS = "internet-egress"
ENDPOINT_POLICY = "endpoint-policy"

_ACCOUNT_ARN = re.compile(r"^arn:aws:iam::[0-9]{12}:(root|role/[\w+=,.@/-]+|user/[\w+=,.@/-]+)$")
_ROLE_ARN = re.compile(r"^arn:aws:iam::[0-9]{12}:role/[\w+=,.@/-]+$")
_ACCOUNT_ID = re.compile(r"^[0-9]{12}$")
_ORG_KEYS = ("aws:principalorgid", "aws:principalaccount", "aws:sourceaccount", "aws:sourceorgid")
# Attributes that must hold a literal policy document (anything else that parses as a policy
# is checked too). Not "content": aws_s3_object uses it for arbitrary file bodies.
_POLICY_ATTRS = {"policy", "assume_role_policy", "resource_policy"}
# A role created in the same stack is a named principal even when referenced by address.
_SAME_STACK_ROLE = re.compile(r"^\$\{aws_iam_role\.[\w-]+\.arn\}$")
# Policy types that filter rather than grant (SCPs; VPC endpoint policies, which only narrow
# what IAM allows through the endpoint and are checked by check_endpoint_policies instead).
_FILTER_TYPES = {"aws_organizations_policy", "aws_vpc_endpoint"}
# Resource types whose "policy" attribute is not an IAM document (ECR lifecycle rules).
_NOT_IAM_TYPES = {"aws_ecr_lifecycle_policy"}
_ANYWHERE = {"0.0.0.0/0", "::/0"}
# The tag an egress opt-in puts on the VPC / security group (mlgov.modules.network.EGRESS_TAG).
_EGRESS_TAG = ("mlgov:egress", "internet")
# Resources that exist only to reach the internet.
_INTERNET_TYPES = ("aws_internet_gateway", "aws_nat_gateway", "aws_egress_only_internet_gateway")
# Resource types that are long-lived credentials: never generated.
_CREDENTIAL_TYPES = {"aws_iam_access_key", "aws_iam_user_login_profile", "aws_iam_service_specific_credential"}

_SECRET_PATTERNS = (
    (re.compile(rb"\b(AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b"), "AWS access key id"),
    (re.compile(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----"), "private key"),
    (re.compile(rb"\bgh[pousr]_[A-Za-z0-9]{36}\b"), "GitHub token"),
    (re.compile(rb"\bxox[abpr]-[A-Za-z0-9-]{10,}"), "Slack token"),
    (
        re.compile(
            rb'"(access_key|secret_key|secret_access_key|session_token|token|password|master_user_password|client_secret)"'
            rb'\s*:\s*"(?!\$\{)[^"]+"',
            re.IGNORECASE,
        ),
        "credential-named attribute with a literal value",
    ),
)


@dataclass(frozen=True, order=True)
class Finding:
    """One violated assertion: where (stack, Terraform address) and what."""

    stack: str
    address: str
    check: str
    message: str

    def __str__(self) -> str:
        return f"{self.stack}: {self.address}: [{self.check}] {self.message}"


# -- helpers ----------------------------------------------------------------------------


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _resources(stack: dict) -> Iterator[tuple[str, str, dict]]:
    for rtype, items in sorted(stack.get("resource", {}).items()):
        for name, config in sorted(items.items()):
            yield rtype, name, config


def _by_type(stack: dict, rtype: str) -> dict[str, dict]:
    return stack.get("resource", {}).get(rtype, {})


def _stack_account(stack: dict) -> str | None:
    for provider in _as_list(stack.get("provider", {}).get("aws")):
        ids = provider.get("allowed_account_ids") or []
        if ids:
            return ids[0]
    return None


def _stack_layer(stack: dict) -> str | None:
    for provider in _as_list(stack.get("provider", {}).get("aws")):
        for tags in _as_list(provider.get("default_tags")):
            layer = (tags.get("tags") or {}).get("mlgov:layer")
            if layer:
                return layer
    return None


def _parse_policy(value: Any) -> dict | None:
    if not isinstance(value, str) or not value.lstrip().startswith("{"):
        return None
    try:
        doc = json.loads(value)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) and "Statement" in doc else None


@dataclass(frozen=True)
class Policy:
    """A policy document found in a resource attribute."""

    rtype: str
    name: str
    attr: str
    doc: dict

    @property
    def address(self) -> str:
        return f"{self.rtype}.{self.name}"

    @property
    def statements(self) -> list[dict]:
        return [s for s in _as_list(self.doc.get("Statement")) if isinstance(s, dict)]

    @property
    def is_trust(self) -> bool:
        return self.attr.endswith("assume_role_policy")

    @property
    def is_filter(self) -> bool:
        return self.rtype in _FILTER_TYPES

    @property
    def is_resource_based(self) -> bool:
        """Key, bucket, bus, queue, registry policies: statements name a Principal."""
        return (
            not self.is_trust
            and not self.is_filter
            and any("Principal" in s or "NotPrincipal" in s for s in self.statements)
        )


def _walk(value: Any, attr: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, inner in sorted(value.items()):
            if key != "//":
                yield from _walk(inner, f"{attr}.{key}" if attr else key)
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            yield from _walk(inner, f"{attr}[{i}]")
    else:
        yield attr, value


def policies(stack: dict) -> list[Policy]:
    """Every JSON policy document in any resource attribute of the stack."""
    found = []
    for rtype, name, config in _resources(stack):
        for attr, value in _walk(config, ""):
            doc = _parse_policy(value)
            if doc is not None:
                found.append(Policy(rtype, name, attr, doc))
    return found


def _actions(stmt: dict) -> list[str]:
    return [a for a in _as_list(stmt.get("Action")) if isinstance(a, str)]


def _matches(action_pattern: str, action: str) -> bool:
    return fnmatch.fnmatchcase(action.lower(), action_pattern.lower())


def _condition_keys(stmt: dict) -> dict[str, Any]:
    """{lower-case condition key: value} across every operator."""
    keys = {}
    for _operator, block in (stmt.get("Condition") or {}).items():
        if isinstance(block, dict):
            for key, value in block.items():
                keys[key.lower()] = value
    return keys


def _aws_principals(stmt: dict) -> list[str]:
    principal = stmt.get("Principal")
    if principal == "*":
        return ["*"]
    if isinstance(principal, dict):
        return [p for p in _as_list(principal.get("AWS")) if isinstance(p, str)]
    return []


# -- the checks -------------------------------------------------------------------------


def check_policy_literals(name: str, stack: dict) -> Iterator[Finding]:
    """Policy attributes must be literal JSON so the output (and these checks) show the final policy."""
    for rtype, rname, config in _resources(stack):
        for attr in sorted(_POLICY_ATTRS & set(config)):
            value = config[attr]
            if (
                isinstance(value, str)
                and value
                and _parse_policy(value) is None
                and rtype not in _FILTER_TYPES | _NOT_IAM_TYPES | {"aws_lambda_permission"}
            ):
                yield Finding(
                    name,
                    f"{rtype}.{rname}",
                    LITERAL,
                    f"{attr} is not a literal JSON policy document (got {value[:60]!r})",
                )


def check_wildcard_grants(name: str, stack: dict) -> Iterator[Finding]:
    """No Allow of "*" or "service:*" on Resource "*", and no Allow with NotAction/NotResource."""
    for pol in policies(stack):
        if pol.is_filter or pol.is_trust:
            continue
        for stmt in pol.statements:
            if stmt.get("Effect") != "Allow":
                continue
            sid = stmt.get("Sid", "?")
            if "NotAction" in stmt or "NotResource" in stmt:
                yield Finding(
                    name,
                    pol.address,
                    WILDCARD,
                    f"statement {sid!r} allows with NotAction/NotResource (grants everything not listed)",
                )
                continue
            resources = _as_list(stmt.get("Resource"))
            # Resource-based policies apply to their own resource; "*" there means "this resource".
            if "*" not in resources and not pol.is_resource_based:
                continue
            for action in _actions(stmt):
                if action == "*" or action.endswith(":*"):
                    on = "this resource" if pol.is_resource_based and "*" not in resources else 'Resource "*"'
                    yield Finding(
                        name,
                        pol.address,
                        WILDCARD,
                        f"statement {sid!r} allows {action!r} on {on} (expected named actions)",
                    )


def check_passrole(name: str, stack: dict) -> Iterator[Finding]:
    """iam:PassRole only on named role ARNs and only with an iam:PassedToService condition."""
    for pol in policies(stack):
        if pol.is_filter or pol.is_trust:
            continue
        for stmt in pol.statements:
            if stmt.get("Effect") != "Allow" or not any(_matches(a, "iam:PassRole") for a in _actions(stmt)):
                continue
            sid = stmt.get("Sid", "?")
            bad = [
                r
                for r in _as_list(stmt.get("Resource"))
                if not (isinstance(r, str) and _ROLE_ARN.match(r) and "*" not in r)
            ]
            if bad or not stmt.get("Resource"):
                yield Finding(
                    name,
                    pol.address,
                    PASSROLE,
                    f"statement {sid!r} passes roles {bad or 'on no Resource'} (expected named role ARNs)",
                )
            if "iam:passedtoservice" not in _condition_keys(stmt):
                yield Finding(
                    name,
                    pol.address,
                    PASSROLE,
                    f"statement {sid!r} allows iam:PassRole without an iam:PassedToService condition",
                )


def check_principals(name: str, stack: dict) -> Iterator[Finding]:
    """Trust and resource policies name accounts/roles; "*" only with an organization condition.

    Trust policies (assume_role_policy) may not use "*" at all: who may assume a role must be
    a named principal.
    """
    for pol in policies(stack):
        if not (pol.is_trust or pol.is_resource_based):
            continue
        for stmt in pol.statements:
            if stmt.get("Effect") != "Allow":
                continue
            sid = stmt.get("Sid", "?")
            if "NotPrincipal" in stmt:
                yield Finding(name, pol.address, PRINCIPAL, f"statement {sid!r} allows with NotPrincipal")
            org_scoped = any(k in _condition_keys(stmt) for k in _ORG_KEYS)
            for principal in _aws_principals(stmt):
                if principal == "*":
                    if pol.is_trust:
                        yield Finding(
                            name,
                            pol.address,
                            PRINCIPAL,
                            f"statement {sid!r} lets any principal assume the role (expected named principals)",
                        )
                    elif not org_scoped:
                        yield Finding(
                            name,
                            pol.address,
                            PRINCIPAL,
                            f"statement {sid!r} allows principal '*' without aws:PrincipalOrgID (expected named "
                            "accounts or the organization)",
                        )
                elif not (
                    _ACCOUNT_ID.match(principal)
                    or _SAME_STACK_ROLE.match(principal)
                    or (_ACCOUNT_ARN.match(principal) and "*" not in principal)
                ):
                    yield Finding(
                        name,
                        pol.address,
                        PRINCIPAL,
                        f"statement {sid!r} has principal {principal!r} (expected an account id or a named IAM ARN)",
                    )


def check_bus_policies(name: str, stack: dict) -> Iterator[Finding]:
    """Every bus policy principal is a named account, or "*" restricted by aws:PrincipalOrgID."""
    for rname, config in sorted(_by_type(stack, "aws_cloudwatch_event_bus_policy").items()):
        address = f"aws_cloudwatch_event_bus_policy.{rname}"
        doc = _parse_policy(config.get("policy"))
        if doc is None:
            yield Finding(name, address, BUS, "bus policy is not a literal JSON policy document")
            continue
        for stmt in _as_list(doc.get("Statement")):
            if stmt.get("Effect") != "Allow":
                continue
            sid = stmt.get("Sid", "?")
            principal = stmt.get("Principal")
            if isinstance(principal, dict) and set(principal) - {"AWS"}:
                yield Finding(
                    name,
                    address,
                    BUS,
                    f"statement {sid!r} names non-account principals {sorted(set(principal) - {'AWS'})}",
                )
            for p in _aws_principals(stmt):
                if p == "*":
                    if "aws:principalorgid" not in _condition_keys(stmt):
                        yield Finding(
                            name, address, BUS, f"statement {sid!r} allows '*' without an aws:PrincipalOrgID condition"
                        )
                elif not (_ACCOUNT_ID.match(p) or re.match(r"^arn:aws:iam::[0-9]{12}:root$", p)):
                    yield Finding(
                        name,
                        address,
                        BUS,
                        f"statement {sid!r} has principal {p!r} (expected an account id or '*' with "
                        "aws:PrincipalOrgID)",
                    )
    for rname, config in sorted(_by_type(stack, "aws_cloudwatch_event_permission").items()):
        principal = config.get("principal")
        condition = _as_list(config.get("condition"))
        if principal == "*" and not any(c.get("key") == "aws:PrincipalOrgID" for c in condition):
            yield Finding(
                name,
                f"aws_cloudwatch_event_permission.{rname}",
                BUS,
                "permission for '*' without an aws:PrincipalOrgID condition",
            )
        elif principal != "*" and not _ACCOUNT_ID.match(str(principal)):
            yield Finding(
                name, f"aws_cloudwatch_event_permission.{rname}", BUS, f"principal {principal!r} is not an account id"
            )


def _refers_to(value: Any, bucket_name: str, bucket: dict) -> bool:
    return value in {
        f"${{aws_s3_bucket.{bucket_name}.id}}",
        f"${{aws_s3_bucket.{bucket_name}.bucket}}",
        bucket.get("bucket"),
    }


def _for_bucket(stack: dict, rtype: str, bucket_name: str, bucket: dict) -> list[dict]:
    return [c for _n, c in sorted(_by_type(stack, rtype).items()) if _refers_to(c.get("bucket"), bucket_name, bucket)]


def check_buckets(name: str, stack: dict) -> Iterator[Finding]:
    """Every bucket: public access block (all four), versioning, SSE-KMS with a customer key, TLS-only."""
    for bname, bucket in sorted(_by_type(stack, "aws_s3_bucket").items()):
        address = f"aws_s3_bucket.{bname}"
        pabs = _for_bucket(stack, "aws_s3_bucket_public_access_block", bname, bucket)
        flags = ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets")
        if not pabs or not all(all(p.get(f) is True for f in flags) for p in pabs):
            yield Finding(name, address, BUCKET, f"no public access block with all of {', '.join(flags)} = true")
        versioning = _for_bucket(stack, "aws_s3_bucket_versioning", bname, bucket)
        if not any(
            _as_list(v.get("versioning_configuration"))
            and _as_list(v["versioning_configuration"])[0].get("status") == "Enabled"
            for v in versioning
        ):
            yield Finding(name, address, BUCKET, "versioning is not enabled")
        sse_ok = False
        for conf in _for_bucket(stack, "aws_s3_bucket_server_side_encryption_configuration", bname, bucket):
            for rule in _as_list(conf.get("rule")):
                for default in _as_list(rule.get("apply_server_side_encryption_by_default")):
                    key = str(default.get("kms_master_key_id") or "")
                    # A key of this stack, a key ARN, or (a team slice naming its core stack's key)
                    # an alias ARN outside alias/aws/, the prefix AWS reserves for its managed keys.
                    customer_key = (
                        re.match(r"^\$\{aws_kms_key\.[\w-]+\.(arn|id)\}$", key)
                        or re.match(r"^arn:aws:kms:[\w-]+:[0-9]{12}:key/", key)
                        or re.match(r"^arn:aws:kms:[\w-]+:[0-9]{12}:alias/(?!aws/)[\w/-]+$", key)
                    )
                    if default.get("sse_algorithm") in ("aws:kms", "aws:kms:dsse") and customer_key:
                        sse_ok = True
        if not sse_ok:
            yield Finding(name, address, BUCKET, "no default SSE-KMS encryption with a customer-managed key")
        tls_ok = False
        for pol in _for_bucket(stack, "aws_s3_bucket_policy", bname, bucket):
            doc = _parse_policy(pol.get("policy")) or {}
            for stmt in _as_list(doc.get("Statement")):
                secure = _condition_keys(stmt).get("aws:securetransport")
                if (
                    stmt.get("Effect") == "Deny"
                    and _aws_principals(stmt) == ["*"]
                    and str(secure).lower() == "false"
                    and any(_matches(a, "s3:GetObject") and _matches(a, "s3:PutObject") for a in _actions(stmt))
                ):
                    tls_ok = True
        if not tls_ok:
            yield Finding(name, address, BUCKET, "bucket policy does not deny s3:* when aws:SecureTransport is false")


def check_kms_keys(name: str, stack: dict) -> Iterator[Finding]:
    """Every KMS key rotates and carries an explicit key policy."""
    key_policies = {str(c.get("key_id")) for c in _by_type(stack, "aws_kms_key_policy").values()}
    for kname, key in sorted(_by_type(stack, "aws_kms_key").items()):
        address = f"aws_kms_key.{kname}"
        if key.get("enable_key_rotation") is not True:
            yield Finding(name, address, KMS, "key rotation is not enabled")
        separate = {
            f"${{aws_kms_key.{kname}.id}}",
            f"${{aws_kms_key.{kname}.key_id}}",
            f"${{aws_kms_key.{kname}.arn}}",
        } & key_policies
        if _parse_policy(key.get("policy")) is None and not separate:
            yield Finding(name, address, KMS, "no explicit key policy (the default grants kms:* to the account)")


def check_prod_endpoint_configs(name: str, stack: dict) -> Iterator[Finding]:
    """Endpoint configurations in prod stacks encrypt storage and capture data."""
    if _stack_layer(stack) != "prod":
        return
    for ename, conf in sorted(_by_type(stack, "aws_sagemaker_endpoint_configuration").items()):
        address = f"aws_sagemaker_endpoint_configuration.{ename}"
        if not conf.get("kms_key_arn"):
            yield Finding(name, address, ENDPOINT, "prod endpoint config has no kms_key_arn")
        capture = _as_list(conf.get("data_capture_config"))
        if not capture or capture[0].get("enable_capture") is False or not capture[0].get("destination_s3_uri"):
            yield Finding(
                name,
                address,
                ENDPOINT,
                "prod endpoint config does not capture data (data_capture_config with a destination)",
            )
        elif not capture[0].get("kms_key_id"):
            yield Finding(name, address, ENDPOINT, "prod endpoint config captures data without kms_key_id")


def check_event_targets(name: str, stack: dict) -> Iterator[Finding]:
    """EventBridge targets in another account need a role to put events and a dead-letter queue."""
    account = _stack_account(stack)
    for tname, target in sorted(_by_type(stack, "aws_cloudwatch_event_target").items()):
        arn = str(target.get("arn") or "")
        match = re.match(r"^arn:aws[\w-]*:[\w-]+:[\w-]*:([0-9]{12}):", arn)
        if not match or match.group(1) == account:
            continue
        address = f"aws_cloudwatch_event_target.{tname}"
        if not target.get("role_arn"):
            yield Finding(name, address, TARGET, f"target in account {match.group(1)} has no role_arn")
        if not any(d.get("arn") for d in _as_list(target.get("dead_letter_config"))):
            yield Finding(name, address, TARGET, f"target in account {match.group(1)} has no dead_letter_config")


def _rule_cidrs(rule: dict) -> list[str]:
    """The CIDRs of a security group rule in any of the provider's three rule shapes."""
    cidrs = [rule.get("cidr_ipv4"), rule.get("cidr_ipv6")]
    cidrs += _as_list(rule.get("cidr_blocks")) + _as_list(rule.get("ipv6_cidr_blocks"))
    return [c for c in cidrs if isinstance(c, str)]


def _sg_rules(stack: dict) -> Iterator[tuple[str, str, dict]]:
    """(direction, address, rule) of every security group rule, inline or separate."""
    for kind in ("aws_security_group", "aws_default_security_group"):
        for rname, group in sorted(_by_type(stack, kind).items()):
            for direction in ("ingress", "egress"):
                for rule in _as_list(group.get(direction)):
                    if isinstance(rule, dict):
                        yield direction, f"{kind}.{rname}", rule
    for rname, rule in sorted(_by_type(stack, "aws_security_group_rule").items()):
        yield str(rule.get("type")), f"aws_security_group_rule.{rname}", rule
    for direction in ("ingress", "egress"):
        rtype = f"aws_vpc_security_group_{direction}_rule"
        for rname, rule in sorted(_by_type(stack, rtype).items()):
            yield direction, f"{rtype}.{rname}", rule


def _egress_opted_in(stack: dict) -> bool:
    """The stack's network opted in to internet egress: its VPC or a security group carries the tag."""
    for rtype in ("aws_vpc", "aws_security_group"):
        for config in _by_type(stack, rtype).values():
            if (config.get("tags") or {}).get(_EGRESS_TAG[0]) == _EGRESS_TAG[1]:
                return True
    return False


def check_open_ingress(name: str, stack: dict) -> Iterator[Finding]:
    """No security group admits traffic from anywhere (0.0.0.0/0 or ::/0), whatever the port."""
    for direction, address, rule in _sg_rules(stack):
        if direction == "ingress" and (wide := sorted(set(_rule_cidrs(rule)) & _ANYWHERE)):
            yield Finding(
                name, address, INGRESS, f"ingress from {', '.join(wide)} (expected security group references)"
            )


def check_internet_egress(name: str, stack: dict) -> Iterator[Finding]:
    """Egress to the internet (0.0.0.0/0 rules and routes, internet and NAT gateways) only in a
    stack whose network opted in (``egress: true`` in the spec, tagged mlgov:egress=internet)."""
    if _egress_opted_in(stack):
        return
    for direction, address, rule in _sg_rules(stack):
        if direction == "egress" and (wide := sorted(set(_rule_cidrs(rule)) & _ANYWHERE)):
            yield Finding(name, address, EGRESS, f"egress to {', '.join(wide)} without the spec's egress opt-in")
    for rname, route in sorted(_by_type(stack, "aws_route").items()):
        if {route.get("destination_cidr_block"), route.get("destination_ipv6_cidr_block")} & _ANYWHERE:
            yield Finding(name, f"aws_route.{rname}", EGRESS, "default route without the spec's egress opt-in")
    for rname, table in sorted(_by_type(stack, "aws_route_table").items()):
        for route in _as_list(table.get("route")):
            if isinstance(route, dict) and {route.get("cidr_block"), route.get("ipv6_cidr_block")} & _ANYWHERE:
                yield Finding(
                    name, f"aws_route_table.{rname}", EGRESS, "default route without the spec's egress opt-in"
                )
    for rtype in _INTERNET_TYPES:
        for rname in sorted(_by_type(stack, rtype)):
            yield Finding(name, f"{rtype}.{rname}", EGRESS, f"{rtype} without the spec's egress opt-in")


def check_endpoint_policies(name: str, stack: dict) -> Iterator[Finding]:
    """Every VPC endpoint has a literal policy whose every Allow is scoped to the organization
    (aws:PrincipalOrgID), so credentials from outside the org cannot use the private path."""
    for rname, endpoint in sorted(_by_type(stack, "aws_vpc_endpoint").items()):
        address = f"aws_vpc_endpoint.{rname}"
        doc = _parse_policy(endpoint.get("policy"))
        if doc is None:
            yield Finding(name, address, ENDPOINT_POLICY, "no literal endpoint policy (the default allows anyone)")
            continue
        allows = [s for s in _as_list(doc.get("Statement")) if isinstance(s, dict) and s.get("Effect") == "Allow"]
        if not allows:
            yield Finding(
                name, address, ENDPOINT_POLICY, "endpoint policy allows nothing (expected an org-scoped Allow)"
            )
        for stmt in allows:
            if "aws:principalorgid" not in _condition_keys(stmt):
                yield Finding(
                    name,
                    address,
                    ENDPOINT_POLICY,
                    f"statement {stmt.get('Sid', '?')!r} is not scoped to the organization (expected "
                    "aws:PrincipalOrgID)",
                )


STACK_CHECKS: tuple[Callable[[str, dict], Iterator[Finding]], ...] = (
    check_policy_literals,
    check_wildcard_grants,
    check_passrole,
    check_principals,
    check_bus_policies,
    check_buckets,
    check_kms_keys,
    check_prod_endpoint_configs,
    check_event_targets,
    check_open_ingress,
    check_internet_egress,
    check_endpoint_policies,
)


def check_stack(name: str, stack: dict) -> list[Finding]:
    """Every stack-level assertion over one parsed cdk.tf.json."""
    findings = [f for check in STACK_CHECKS for f in check(name, stack)]
    for rtype, rname, _config in _resources(stack):
        if rtype in _CREDENTIAL_TYPES:
            findings.append(Finding(name, f"{rtype}.{rname}", SECRETS, "long-lived credentials must not be generated"))
    return sorted(set(findings))


def check_secrets(files: dict[str, bytes]) -> list[Finding]:
    """No access keys, private keys, tokens or literal passwords in any generated file."""
    findings = []
    for rel, data in sorted(files.items()):
        for pattern, what in _SECRET_PATTERNS:
            for match in pattern.finditer(data):
                line = data[: match.start()].count(b"\n") + 1
                findings.append(Finding(rel, f"line {line}", SECRETS, f"looks like a {what}"))
    return findings


def check_tree(files: dict[str, bytes]) -> list[Finding]:
    """All assertions over a generated tree ({relpath: bytes}, as mlgov.synth.render returns)."""
    findings = check_secrets(files)
    for rel, data in sorted(files.items()):
        if rel.startswith("stacks/") and rel.endswith("/cdk.tf.json"):
            findings.extend(check_stack(rel.split("/")[1], json.loads(data)))
    return findings


# Top-level blocks of a stack that checkov 3.3.30's Terraform JSON parser cannot read ("this
# method receives only dicts": it expects every top-level value to be an object, and these are
# lists), and the terraform keys it rejects. None of them declares a resource or a policy.
CHECKOV_UNREADABLE_BLOCKS = ("moved", "import")
CHECKOV_UNREADABLE_TERRAFORM_KEYS = ("required_version",)


def checkov_copy(stack: dict) -> dict:
    """The stack as checkov can parse it: without ``moved`` blocks (renames), ``import`` blocks
    (adopted OUs) and ``terraform.required_version``, its bucket policies as
    :func:`checkov_readable_policies` writes them.

    What is lost: checkov never sees those blocks, so nothing about a rename or an adoption is
    scanned (they only re-address or adopt resources that are themselves scanned, under their
    new address); ``terraform validate`` and the offline plan still read the stack whole."""
    doc = {key: value for key, value in stack.items() if key not in CHECKOV_UNREADABLE_BLOCKS}
    if "terraform" in doc:
        doc["terraform"] = {k: v for k, v in doc["terraform"].items() if k not in CHECKOV_UNREADABLE_TERRAFORM_KEYS}
    resources = doc.get("resource")
    if isinstance(resources, dict):
        doc["resource"] = {
            rtype: _checkov_readable(blocks) if rtype in CHECKOV_ONE_ARN_TYPES else blocks
            for rtype, blocks in resources.items()
        }
    return doc


# checkov 3.3.30's CKV_AWS_70 ("S3 bucket does not allow an action with any Principal") passes a
# condition's aws:PrincipalArn / aws:SourceArn value to re.match, so a LIST of ARNs there crashes
# the check ("Failed to run check CKV_AWS_70 ...": the bucket policy is then not checked at all).
CHECKOV_ONE_ARN_TYPES = ("aws_s3_bucket_policy", "aws_s3_bucket")
_ARN_OPERATORS = ("ArnEquals", "ArnLike")
_ARN_KEYS = ("aws:PrincipalArn", "aws:SourceArn")


def _split_arn_lists(statement: Any) -> list[Any]:
    """One statement per ARN where a statement's ArnEquals/ArnLike condition lists several: the
    same access (a condition key's values are ORed), in a shape checkov's CKV_AWS_70 can read."""
    if not isinstance(statement, dict) or not isinstance(statement.get("Condition"), dict):
        return [statement]
    for operator in _ARN_OPERATORS:
        block = statement["Condition"].get(operator)
        for key in _ARN_KEYS:
            values = block.get(key) if isinstance(block, dict) else None
            if isinstance(values, list) and len(values) > 1:
                out = []
                for i, value in enumerate(values):
                    condition = dict(statement["Condition"], **{operator: dict(block, **{key: value})})
                    one = dict(statement, Condition=condition)
                    if "Sid" in one:
                        one["Sid"] = f"{one['Sid']}{i}"
                    out.extend(_split_arn_lists(one))
                return out
    return [statement]


def checkov_readable_policies(policy: str) -> str:
    """A JSON policy document as checkov's CKV_AWS_70 can evaluate it (:func:`_split_arn_lists`);
    anything that is not a JSON policy document is returned unchanged."""
    doc = _parse_policy(policy)
    if doc is None or not isinstance(doc.get("Statement"), list):
        return policy
    statements = [one for stmt in doc["Statement"] for one in _split_arn_lists(stmt)]
    if len(statements) == len(doc["Statement"]):
        return policy
    return json.dumps(dict(doc, Statement=statements), sort_keys=True, separators=(",", ":"))


def _checkov_readable(value: Any) -> Any:
    """``value`` with every string under a ``policy`` key made :func:`checkov_readable_policies`."""
    if isinstance(value, dict):
        return {
            k: checkov_readable_policies(v) if k == "policy" and isinstance(v, str) else _checkov_readable(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_checkov_readable(v) for v in value]
    return value


def checkov_plan_copy(plan: Any) -> Any:
    """A plan's JSON (``terraform show -json``) with the policies of its S3 buckets and bucket
    policies (every entry whose ``type`` is one of :data:`CHECKOV_ONE_ARN_TYPES`: planned values,
    resource changes, prior state) as :func:`checkov_readable_policies` writes them."""
    if isinstance(plan, dict):
        if plan.get("type") in CHECKOV_ONE_ARN_TYPES:
            return _checkov_readable(plan)
        return {k: checkov_plan_copy(v) for k, v in plan.items()}
    if isinstance(plan, list):
        return [checkov_plan_copy(v) for v in plan]
    return plan
