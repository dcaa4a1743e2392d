"""Spec of an account's network: a VPC mlgov creates, or one it adopts.

``Account.network`` says, per dev/test/prod account, either

- ``{cidr, az_count | azs, subnet_prefix_length, egress}``: mlgov creates the VPC, private
  isolated subnets (one per availability zone), the interface endpoints, the security groups
  and flow logs; or
- ``{vpc_id, subnet_ids, security_group_ids}``: mlgov adopts an existing VPC (Control Tower's,
  a network team's) and creates only what is missing on it (the endpoints unless
  ``endpoints: false``, the security groups unless ``security_group_ids`` is given).

Fields left unset take ``OrgSpec.network_defaults.<layer>`` (which has safe defaults of its
own: two AZs, no internet egress, endpoints and flow logs on). Created and adopted fields are
mutually exclusive; :mod:`mlgov.validation.network` reports a mix as one line, and checks CIDR
syntax and size, AZs against the region, overlaps between accounts and that every dev, test
and prod account has a network.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictBool, StringConstraints

from mlgov.spec.base import SpecModel

# Shape only; :mod:`mlgov.validation.network` parses the value (host bits, prefix limits).
Cidr = Annotated[str, StringConstraints(strict=True, max_length=43)]
# EC2 ids are 8 (older) or 17 hex digits after the prefix.
VpcId = Annotated[str, StringConstraints(strict=True, pattern=r"^vpc-([0-9a-f]{8}|[0-9a-f]{17})$")]
SubnetId = Annotated[str, StringConstraints(strict=True, pattern=r"^subnet-([0-9a-f]{8}|[0-9a-f]{17})$")]
SecurityGroupId = Annotated[str, StringConstraints(strict=True, pattern=r"^sg-([0-9a-f]{8}|[0-9a-f]{17})$")]
RouteTableId = Annotated[str, StringConstraints(strict=True, pattern=r"^rtb-([0-9a-f]{8}|[0-9a-f]{17})$")]
AzName = Annotated[str, StringConstraints(strict=True, pattern=r"^[a-z]{2}(-[a-z]+)+-[0-9][a-z]$")]

# Fields of each kind of network; a network sets fields of one kind only.
CREATED_FIELDS = ("cidr", "az_count", "azs", "subnet_prefix_length")
ADOPTED_FIELDS = ("vpc_id", "subnet_ids", "security_group_ids", "route_table_ids")


class NetworkDefaults(SpecModel):
    """Settings every network of one layer gets unless its account says otherwise."""

    az_count: int = Field(
        default=2,
        ge=1,
        le=6,
        description="Availability zones of a created network (one private subnet each); at least 2.",
    )
    subnet_prefix_length: int | None = Field(
        default=None,
        ge=16,
        le=28,
        description="Prefix length of each created subnet; default: the largest equal split of the CIDR.",
    )
    egress: StrictBool = Field(
        default=False,
        description=(
            "Internet egress (opt-in): an internet gateway, one NAT gateway and HTTPS egress to 0.0.0.0/0 "
            "from the workload security group. Off: the subnets are isolated, AWS is reached only "
            "through the VPC endpoints."
        ),
    )
    endpoints: StrictBool = Field(
        default=True,
        description="Create the interface and S3 gateway endpoints (false when a network team provides them).",
    )
    flow_logs: StrictBool = Field(
        default=True, description="VPC flow logs (all traffic) to the account's platform bucket."
    )


class LayerNetworkDefaults(SpecModel):
    """Network defaults per workload layer."""

    dev: NetworkDefaults = Field(default_factory=NetworkDefaults, description="Defaults of dev accounts.")
    test: NetworkDefaults = Field(default_factory=NetworkDefaults, description="Defaults of test accounts.")
    prod: NetworkDefaults = Field(default_factory=NetworkDefaults, description="Defaults of prod accounts.")


class Network(SpecModel):
    """One account's network: created (``cidr``, ...) or adopted (``vpc_id``, ...), never both."""

    cidr: Cidr | None = Field(
        default=None,
        description="Create a VPC with this IPv4 CIDR (/16 to /28), e.g. 10.20.0.0/16; disjoint from other accounts'.",
    )
    az_count: int | None = Field(
        default=None,
        ge=1,
        le=6,
        description="Created network: number of availability zones, the region's first ones (a, b, ...).",
    )
    azs: list[AzName] | None = Field(
        default=None,
        description="Created network: these availability zones instead of az_count, e.g. [eu-west-1a, eu-west-1c].",
    )
    subnet_prefix_length: int | None = Field(
        default=None,
        ge=16,
        le=28,
        description="Created network: prefix length of each subnet; default: the largest equal split of the CIDR.",
    )
    vpc_id: VpcId | None = Field(default=None, description="Adopt this existing VPC (vpc-...).")
    subnet_ids: list[SubnetId] | None = Field(
        default=None,
        description="Adopted network: its private subnets, one per availability zone, at least two.",
    )
    security_group_ids: list[SecurityGroupId] | None = Field(
        default=None,
        max_length=16,
        description="Adopted network: security groups for Studio, jobs and endpoints; omit to let mlgov create one. "
        "At most 5 (AWS's default per network interface) unless quotas.security_groups_per_network_interface "
        "raises it (at most 16).",
    )
    route_table_ids: list[RouteTableId] | None = Field(
        default=None,
        description="Adopted network: route tables of its subnets; the S3 gateway endpoint is added to them.",
    )
    egress: StrictBool | None = Field(
        default=None, description="Internet egress opt-in; default: the layer's network_defaults (false)."
    )
    endpoints: StrictBool | None = Field(
        default=None, description="Create the VPC endpoints; default: the layer's network_defaults (true)."
    )
    flow_logs: StrictBool | None = Field(
        default=None, description="VPC flow logs to the platform bucket; default: the layer's network_defaults (true)."
    )

    def fields_of(self, names: tuple[str, ...]) -> list[str]:
        """Which of ``names`` this network sets."""
        return [n for n in names if getattr(self, n) is not None]

    @property
    def adopted(self) -> bool:
        """True when the network names an existing VPC."""
        return self.vpc_id is not None or bool(self.fields_of(ADOPTED_FIELDS))
