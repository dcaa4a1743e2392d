"""Semantic checks of the accounts' networks (``accounts.<key>.network``, ``network_defaults``).

- created and adopted fields are never mixed (one line naming both kinds);
- a created network: CIDR syntax, no host bits, /16../28, big enough for its subnets (one per
  AZ, plus one public per AZ with egress, each at least a /26), at least two AZs, AZs of the
  account's region and no more than the region has (:data:`mlgov.platform.network.REGION_ZONES`);
- an adopted network: subnets in at least two AZs (two distinct subnet ids), one region only,
  security groups given when it brings its own endpoints;
- created networks of different accounts do not overlap: an ERROR, because the platform's
  VPCs are meant to be routable to each other and to the hub (transit gateway, peering), and
  an overlap cannot be fixed later without replacing a VPC;
- every dev, test and prod account has a network (checked once the rest of the spec is valid,
  see :func:`missing_networks`), and only those accounts have one.
"""

from __future__ import annotations

import bisect
import ipaddress
from collections.abc import Iterator

from mlgov.platform import network as facts
from mlgov.spec.model import OrgSpec
from mlgov.spec.network import ADOPTED_FIELDS, CREATED_FIELDS, Network

Finding = tuple[tuple, str]


def network_problems(spec: OrgSpec) -> Iterator[Finding]:
    """Every network finding except missing networks, in account order."""
    created = _Created()
    for key, account in sorted(spec.accounts.items()):
        net = account.network
        if net is None:
            continue
        path = ("accounts", key, "network")
        if account.layer not in facts.WORKLOAD_LAYERS:
            yield path, f"only dev, test and prod accounts get a network (got one on a {account.layer.value!r} account)"
            continue
        mixed_created, mixed_adopted = net.fields_of(CREATED_FIELDS), net.fields_of(ADOPTED_FIELDS)
        if mixed_created and mixed_adopted:
            yield (
                path,
                (
                    f"mixes fields of a created network ({', '.join(mixed_created)}) and of an adopted one "
                    f"({', '.join(mixed_adopted)}) (expected either cidr [az_count | azs, subnet_prefix_length] "
                    "to create a VPC, or vpc_id, subnet_ids and route_table_ids [security_group_ids] to adopt one)"
                ),
            )
            continue
        regions = spec.account_regions(key)
        if net.adopted:
            yield from _adopted(path, net, regions)
        elif net.cidr is None:
            yield (
                path + ("cidr",),
                "a created network needs a cidr (got none; or give vpc_id and subnet_ids to adopt one)",
            )
        else:
            cidr = yield from _created(spec, key, path, net, regions)
            if cidr is not None:
                for other, other_cidr in created.overlapping(cidr):
                    yield (
                        path + ("cidr",),
                        (
                            f"CIDR overlaps the network of account {other!r} (got {cidr}, overlapping "
                            f"{other_cidr}; expected disjoint ranges so the VPCs stay routable to each other)"
                        ),
                    )
                created.add(key, cidr)


class _Created:
    """The created networks checked so far, found by address instead of one comparison each.

    Two CIDR blocks overlap only when one holds the other. The blocks holding a new one are its
    supernets (at most one per shorter prefix length: a dictionary lookup each); the blocks it
    holds, and blocks with its own first address, start inside it (a range of the list sorted by
    first address). So each network costs a few lookups, not a comparison with every network
    before it (which made a 1,500-account org's check quadratic)."""

    def __init__(self) -> None:
        self._order: list[tuple[str, ipaddress.IPv4Network]] = []  # in the order added
        self._starts: list[tuple[int, int]] = []  # (first address, index in _order), sorted
        self._blocks: dict[tuple[int, int], list[int]] = {}  # (first address, prefix) -> indexes

    def add(self, key: str, cidr: ipaddress.IPv4Network) -> None:
        index = len(self._order)
        self._order.append((key, cidr))
        start = int(cidr.network_address)
        bisect.insort(self._starts, (start, index))
        self._blocks.setdefault((start, cidr.prefixlen), []).append(index)

    def overlapping(self, cidr: ipaddress.IPv4Network) -> list[tuple[str, ipaddress.IPv4Network]]:
        """The networks added so far that overlap ``cidr``, in the order they were added."""
        start, end = int(cidr.network_address), int(cidr.broadcast_address)
        low = bisect.bisect_left(self._starts, (start, -1))
        high = bisect.bisect_right(self._starts, (end, len(self._order)))
        found = {index for _, index in self._starts[low:high]}
        for prefix in range(cidr.prefixlen):
            outer = start & (0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF  # the supernet's first address
            found.update(self._blocks.get((outer, prefix), ()))
        return [self._order[index] for index in sorted(found)]


def _adopted(path: tuple, net: Network, regions: list[str]) -> Iterator[Finding]:
    if net.vpc_id is None:
        yield path + ("vpc_id",), "an adopted network needs its vpc_id (got subnet or security group ids without one)"
    subnets = net.subnet_ids or []
    if len(set(subnets)) < facts.MIN_AZS:
        yield (
            path + ("subnet_ids",),
            (
                f"an adopted network needs subnets in at least {facts.MIN_AZS} availability zones "
                f"(got {len(set(subnets))} distinct subnet id(s), expected one per AZ)"
            ),
        )
    for i, subnet in enumerate(subnets):
        if subnet in subnets[:i]:
            yield path + ("subnet_ids", i), f"duplicate subnet id (got {subnet!r} twice)"
    groups = net.security_group_ids or []
    for i, group in enumerate(groups):
        if group in groups[:i]:
            yield path + ("security_group_ids", i), f"duplicate security group id (got {group!r} twice)"
    if len(regions) > 1:
        yield (
            path + ("vpc_id",),
            (
                f"an adopted VPC lives in one region but the account is built in {len(regions)} "
                f"(got regions {regions}; give each region its own account key, or create the network with a cidr)"
            ),
        )
    if net.endpoints is not False and not net.route_table_ids:
        yield (
            path + ("route_table_ids",),
            (
                "an adopted network needs the route tables of its subnets for the S3 gateway endpoint "
                "(got none; or set endpoints: false when the network team provides the endpoints)"
            ),
        )
    if net.endpoints is False and not groups:
        yield (
            path + ("security_group_ids",),
            (
                "an adopted network that brings its own endpoints (endpoints: false) must name the security "
                "groups that reach them (got none)"
            ),
        )


def _created(spec: OrgSpec, key: str, path: tuple, net: Network, regions: list[str]):
    """Checks of a created network; returns its parsed CIDR (or None when that is invalid)."""
    assert net.cidr is not None  # a created network is one with a cidr
    try:
        cidr = ipaddress.IPv4Network(net.cidr, strict=False)
    except ValueError:
        yield path + ("cidr",), f"not an IPv4 CIDR (got {net.cidr!r}, expected a block like 10.20.0.0/16)"
        return None
    if "/" not in net.cidr:
        yield path + ("cidr",), f"not an IPv4 CIDR (got {net.cidr!r}, expected a block like {cidr.network_address}/16)"
        return None
    if str(cidr) != net.cidr:
        yield path + ("cidr",), f"CIDR has host bits set (got {net.cidr!r}, expected {str(cidr)!r})"
        return None
    if not facts.MIN_VPC_PREFIX <= cidr.prefixlen <= facts.MAX_VPC_PREFIX:
        yield (
            path + ("cidr",),
            f"a VPC CIDR must be /{facts.MIN_VPC_PREFIX} to /{facts.MAX_VPC_PREFIX} (got /{cidr.prefixlen})",
        )
        return None
    if net.azs is not None and net.az_count is not None:
        yield path + ("azs",), "give azs or az_count, not both (got both)"
        return cidr
    if net.endpoints is False:
        yield (
            path + ("endpoints",),
            "a created network needs its endpoints (got endpoints: false; adopt a VPC to use a network team's "
            "endpoints)",
        )
    defaults = facts.layer_defaults(spec, spec.accounts[key].layer)
    if net.azs is not None:
        az_count = len(net.azs)
        if len(regions) > 1:
            yield (
                path + ("azs",),
                f"azs name one region's zones but the account is built in {len(regions)} (got regions {regions}; use "
                "az_count)",
            )
            return cidr
        for i, az in enumerate(net.azs):
            known = facts.region_zones(regions[0])
            if az in net.azs[:i]:
                yield path + ("azs", i), f"duplicate availability zone (got {az!r} twice)"
            elif az not in known:
                yield (
                    path + ("azs", i),
                    f"not an availability zone of {regions[0]} (got {az!r}, expected one of {known})",
                )
        az_path = path + ("azs",)
    else:
        az_count = net.az_count or defaults.az_count
        az_path = path + ("az_count",) if net.az_count is not None else path
        for region in regions:
            known = facts.region_zones(region)
            if az_count > len(known):
                yield (
                    az_path,
                    f"region {region} has {len(known)} availability zones (got az_count {az_count}, expected at most "
                    f"{len(known)})",
                )
    if az_count < facts.MIN_AZS:
        yield (
            az_path,
            f"a network needs at least {facts.MIN_AZS} availability zones (got {az_count}): subnets, endpoints and "
            "Studio span AZs",
        )
        return cidr
    egress = defaults.egress if net.egress is None else net.egress
    slots = facts.subnet_slots(az_count, egress)
    prefix = net.subnet_prefix_length or defaults.subnet_prefix_length
    what = f"{az_count} private" + (f" + {az_count} public" if egress else "") + " subnets"
    if prefix is None:
        prefix = facts.default_subnet_prefix(cidr.prefixlen, slots)
        if prefix > facts.MAX_SUBNET_PREFIX:
            need = facts.MAX_SUBNET_PREFIX - (prefix - cidr.prefixlen)
            yield (
                path + ("cidr",),
                f"CIDR too small for {what} of at least /{facts.MAX_SUBNET_PREFIX} (got {cidr}, expected at least a "
                f"/{need})",
            )
    else:
        sub_path = path + ("subnet_prefix_length",) if net.subnet_prefix_length is not None else path
        if prefix > facts.MAX_SUBNET_PREFIX:
            yield (
                sub_path,
                f"subnets smaller than /{facts.MAX_SUBNET_PREFIX} leave no room for endpoints and instances (got "
                f"/{prefix})",
            )
        elif prefix < cidr.prefixlen or 2 ** (prefix - cidr.prefixlen) < slots:
            need = prefix - (facts.default_subnet_prefix(0, slots))
            yield (
                path + ("cidr",),
                f"CIDR too small for {what} of /{prefix} (got {cidr}, expected at least a /{need})",
            )
    return cidr


def missing_networks(spec: OrgSpec) -> Iterator[Finding]:
    """Every dev, test and prod account needs a network: the platform's guardrails demand VPC-only
    Studio domains and SageMaker jobs and endpoints in a VPC."""
    for key, account in sorted(spec.accounts.items()):
        if account.layer in facts.WORKLOAD_LAYERS and account.network is None and not account.retired:
            yield (
                ("accounts", key),
                (
                    f"a {account.layer.value} account needs a network (got none; expected `network: {{cidr: ...}}` "
                    "to create one or `network: {vpc_id: ..., subnet_ids: [...]}` to adopt one)"
                ),
            )
