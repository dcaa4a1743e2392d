"""Facts of an account's network, derived from the spec (no cdktf): the one place that decides.

- :func:`settings`: an account's ``network`` with the layer's ``network_defaults`` applied;
- :func:`zones` / :func:`subnet_cidrs`: the availability zones and the subnet CIDRs of a created
  network, deterministic (subnet *i* is the *i*-th equal block of the VPC CIDR, private ones
  first, then the public ones of an egress opt-in);
- :data:`ENDPOINTS`: the VPC endpoints a VPC-only platform needs, each with its reason and the
  layers that get it;
- :func:`account_network`: what a stack (and a test) needs to know of one account's network in
  one region: ids or Terraform references, and the SSM parameter names they are published under.

The constructs (:mod:`mlgov.modules.network`) build exactly what these functions describe,
using the Terraform addresses from :func:`address`, so a reference computed here is the
reference in the output.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass

from mlgov.platform import naming
from mlgov.platform.iam import arns
from mlgov.spec.model import Layer, OrgSpec
from mlgov.spec.network import NetworkDefaults

WORKLOAD_LAYERS = (Layer.dev, Layer.test, Layer.prod)

# AWS limits on a VPC's primary IPv4 CIDR.
MIN_VPC_PREFIX, MAX_VPC_PREFIX = 16, 28
# Smallest subnet mlgov creates: a /26 has 59 usable addresses (AWS reserves 5), which leaves
# room beside the interface endpoints' one address per endpoint and subnet for Studio apps,
# job instances and endpoint instances.
MAX_SUBNET_PREFIX = 26
MIN_AZS = 2

# Availability zone letters per region. botocore's bundled data names regions but not their
# zones, so this table is kept by hand from AWS's published region list. Zone letters map to
# physical zones per account; where an account's letters differ, write `azs` explicitly.
# Regions not listed are assumed to have zones a, b and c.
REGION_ZONES: dict[str, tuple[str, ...]] = {
    "af-south-1": ("a", "b", "c"),
    "ap-east-1": ("a", "b", "c"),
    "ap-northeast-1": ("a", "c", "d"),
    "ap-northeast-2": ("a", "b", "c", "d"),
    "ap-northeast-3": ("a", "b", "c"),
    "ap-south-1": ("a", "b", "c"),
    "ap-south-2": ("a", "b", "c"),
    "ap-southeast-1": ("a", "b", "c"),
    "ap-southeast-2": ("a", "b", "c"),
    "ap-southeast-3": ("a", "b", "c"),
    "ap-southeast-4": ("a", "b", "c"),
    "ap-southeast-5": ("a", "b", "c"),
    "ap-southeast-6": ("a", "b", "c"),
    "ap-southeast-7": ("a", "b", "c"),
    "ap-east-2": ("a", "b", "c"),
    "ca-central-1": ("a", "b", "d"),
    "ca-west-1": ("a", "b", "c"),
    "eu-central-1": ("a", "b", "c"),
    "eu-central-2": ("a", "b", "c"),
    "eu-north-1": ("a", "b", "c"),
    "eu-south-1": ("a", "b", "c"),
    "eu-south-2": ("a", "b", "c"),
    "eu-west-1": ("a", "b", "c"),
    "eu-west-2": ("a", "b", "c"),
    "eu-west-3": ("a", "b", "c"),
    "il-central-1": ("a", "b", "c"),
    "me-central-1": ("a", "b", "c"),
    "me-south-1": ("a", "b", "c"),
    "mx-central-1": ("a", "b", "c"),
    "sa-east-1": ("a", "b", "c"),
    "us-east-1": ("a", "b", "c", "d", "e", "f"),
    "us-east-2": ("a", "b", "c"),
    "us-west-1": ("a", "b"),
    "us-west-2": ("a", "b", "c", "d"),
}
DEFAULT_ZONES = ("a", "b", "c")


def region_zones(region: str) -> list[str]:
    """The availability zone names of a region (``eu-west-1a``, ...), from :data:`REGION_ZONES`."""
    return [region + letter for letter in REGION_ZONES.get(region, DEFAULT_ZONES)]


@dataclass(frozen=True)
class Endpoint:
    """A VPC endpoint the platform creates: key (address part), service name, why, which layers."""

    key: str
    service: str  # with {region}
    reason: str
    layers: tuple[Layer, ...] = WORKLOAD_LAYERS
    gateway: bool = False

    def service_name(self, region: str) -> str:
        return self.service.format(region=region)


DEV = (Layer.dev,)
# Service names as the AWS PrivateLink service list spells them (SageMaker's notebook and
# Studio endpoints use the aws.sagemaker.<region>.* form).
ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "sagemaker_api",
        "com.amazonaws.{region}.sagemaker.api",
        "SageMaker API: Studio, notebooks and SDKs create jobs, pipelines, models and the presigned Studio URL",
    ),
    Endpoint(
        "sagemaker_runtime",
        "com.amazonaws.{region}.sagemaker.runtime",
        "SageMaker Runtime: InvokeEndpoint from notebooks, jobs and applications in the VPC",
    ),
    Endpoint(
        "notebook",
        "aws.sagemaker.{region}.notebook",
        "Studio's Jupyter server and notebook instances, opened from inside the VPC",
        DEV,
    ),
    Endpoint(
        "studio",
        "aws.sagemaker.{region}.studio",
        "the Studio web app of a VPC-only domain; without it Studio cannot open",
        DEV,
    ),
    Endpoint("sts", "com.amazonaws.{region}.sts", "STS: SDKs in Studio, jobs and containers get and assume roles"),
    Endpoint(
        "kms",
        "com.amazonaws.{region}.kms",
        "KMS: jobs and apps encrypt volumes and outputs with the platform and domain keys",
    ),
    Endpoint(
        "ecr_api",
        "com.amazonaws.{region}.ecr.api",
        "ECR API: authorization tokens and image manifests for training, processing and inference images",
    ),
    Endpoint(
        "ecr_dkr",
        "com.amazonaws.{region}.ecr.dkr",
        "ECR registry (Docker): image pulls of Studio apps, jobs and model containers",
    ),
    Endpoint(
        "logs",
        "com.amazonaws.{region}.logs",
        "CloudWatch Logs: Studio apps, jobs, pipelines and endpoints write their logs",
    ),
    Endpoint(
        "monitoring",
        "com.amazonaws.{region}.monitoring",
        "CloudWatch metrics: job, endpoint and autoscaling metrics from inside the VPC",
    ),
    Endpoint(
        "ssm",
        "com.amazonaws.{region}.ssm",
        "SSM Parameter Store: notebooks and pipelines read the platform's parameters (network ids, team)",
        DEV,
    ),
    Endpoint(
        "servicecatalog",
        "com.amazonaws.{region}.servicecatalog",
        "Service Catalog: SageMaker Projects in Studio list and launch the hub's products",
        DEV,
    ),
    Endpoint(
        "athena",
        "com.amazonaws.{region}.athena",
        "Athena: notebooks and pipeline steps query the data shared with the team (docs/data.md)",
        DEV,
    ),
    Endpoint(
        "glue",
        "com.amazonaws.{region}.glue",
        "Glue Data Catalog: SDKs read the shared databases and tables through the resource links",
        DEV,
    ),
    Endpoint(
        "lakeformation",
        "com.amazonaws.{region}.lakeformation",
        "Lake Formation: GetDataAccess and the grants of the shared data, from inside the VPC",
        DEV,
    ),
    Endpoint(
        "s3",
        "com.amazonaws.{region}.s3",
        "S3 (gateway, free): data, model artifacts, ECR image layers and data capture without a NAT",
        gateway=True,
    ),
)


def endpoints_for(layer: Layer) -> list[Endpoint]:
    """The endpoints an account of ``layer`` gets, in :data:`ENDPOINTS` order."""
    return [e for e in ENDPOINTS if layer in e.layers]


FLOW_LOG_PREFIX = "flow-logs"


def flow_log_destination(bucket: str) -> str:
    """S3 destination of an account's flow logs: the ``flow-logs/`` folder of the platform bucket."""
    return f"{arns.bucket(bucket)}/{FLOW_LOG_PREFIX}/"


# -- settings -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """An account's network with every default applied (valid specs only)."""

    adopted: bool
    cidr: str | None
    azs: tuple[str, ...]
    subnet_prefix_length: int | None
    egress: bool
    endpoints: bool
    flow_logs: bool
    vpc_id: str | None
    subnet_ids: tuple[str, ...]
    security_group_ids: tuple[str, ...]
    route_table_ids: tuple[str, ...]


def layer_defaults(spec: OrgSpec, layer: Layer) -> NetworkDefaults:
    return getattr(spec.network_defaults, layer.value)


def settings(spec: OrgSpec, account_key: str, region: str) -> Settings | None:
    """The account's network in ``region`` with its layer's defaults; None if it has none."""
    account = spec.accounts[account_key]
    net = account.network
    if net is None or account.layer not in WORKLOAD_LAYERS:
        return None
    base = layer_defaults(spec, account.layer)
    azs = tuple(net.azs) if net.azs is not None else tuple(region_zones(region)[: net.az_count or base.az_count])
    return Settings(
        adopted=net.adopted,
        cidr=net.cidr,
        azs=() if net.adopted else azs,
        subnet_prefix_length=net.subnet_prefix_length or base.subnet_prefix_length,
        egress=base.egress if net.egress is None else net.egress,
        endpoints=base.endpoints if net.endpoints is None else net.endpoints,
        flow_logs=base.flow_logs if net.flow_logs is None else net.flow_logs,
        vpc_id=net.vpc_id,
        subnet_ids=tuple(net.subnet_ids or ()),
        security_group_ids=tuple(net.security_group_ids or ()),
        route_table_ids=tuple(net.route_table_ids or ()),
    )


def subnet_slots(az_count: int, egress: bool) -> int:
    """Equal blocks a created network's CIDR is split into: private subnets (+ public ones with egress)."""
    return az_count * (2 if egress else 1)


def default_subnet_prefix(cidr_prefix: int, slots: int) -> int:
    """The largest equal split of a CIDR into ``slots`` blocks."""
    return cidr_prefix + math.ceil(math.log2(slots)) if slots > 1 else cidr_prefix


@dataclass(frozen=True)
class Subnet:
    """One created subnet: its AZ, CIDR and whether it is the public (NAT) one of an AZ."""

    az: str
    cidr: str
    public: bool

    @property
    def key(self) -> str:
        """Address part: ``private_a`` / ``public_a`` (the zone letter; one stack per region)."""
        return f"{'public' if self.public else 'private'}_{self.az[-1]}"


def subnet_cidrs(s: Settings) -> list[Subnet]:
    """The subnets of a created network: block i of the CIDR, private subnets first."""
    net = ipaddress.IPv4Network(s.cidr)
    slots = subnet_slots(len(s.azs), s.egress)
    prefix = s.subnet_prefix_length or default_subnet_prefix(net.prefixlen, slots)
    size = 2 ** (32 - prefix)
    base = int(net.network_address)
    out = []
    kinds = [False] + ([True] if s.egress else [])
    for k, public in enumerate(kinds):
        for i, az in enumerate(s.azs):
            start = ipaddress.IPv4Address(base + (k * len(s.azs) + i) * size)
            out.append(Subnet(az, f"{start}/{prefix}", public))
    return out


# -- addresses and the resolved view --------------------------------------------------------


def address(*parts: str) -> str:
    """Terraform resource name of a network resource: ``network_<parts>``."""
    return naming.construct_id("network", *parts)


def tf_ref(rtype: str, name: str, attribute: str = "id") -> str:
    return f"${{{rtype}.{name}.{attribute}}}"


PARAMETER_KEYS = ("vpc-id", "subnet-ids", "security-group-ids")


def parameter_names(spec: OrgSpec) -> dict[str, str]:
    """The SSM parameter names of the network contract (:data:`mlgov.platform.naming.PARAMETERS`)."""
    return {key: naming.ssm_parameter(spec, "network", key) for key in PARAMETER_KEYS}


def parameter_arns(spec: OrgSpec, account_key: str, region: str) -> list[str]:
    """ARNs of the account's network parameters in ``region`` (for ssm:GetParameters grants)."""
    account_id = spec.accounts[account_key].id
    return [f"arn:aws:ssm:{region}:{account_id}:parameter{name}" for name in parameter_names(spec).values()]


@dataclass(frozen=True)
class ResolvedNetwork:
    """One account's network in one region, as the stack builds and publishes it.

    Ids are literal for what is adopted and Terraform references (``${aws_vpc.network.id}``)
    for what mlgov creates; ``parameters`` maps ``vpc-id`` / ``subnet-ids`` /
    ``security-group-ids`` to the SSM parameter names the stack writes them under.
    """

    account: str
    region: str
    layer: Layer
    adopted: bool
    cidr: str | None
    subnets: tuple[Subnet, ...]
    egress: bool
    endpoints: tuple[Endpoint, ...]
    flow_logs: bool
    vpc_id: str
    subnet_ids: tuple[str, ...]
    security_group_ids: tuple[str, ...]
    creates_security_group: bool
    route_table_ids: tuple[str, ...]
    parameters: dict[str, str]


def account_network(spec: OrgSpec, account_key: str, region: str) -> ResolvedNetwork | None:
    """The network of ``account_key`` in ``region`` (None for accounts without one)."""
    s = settings(spec, account_key, region)
    if s is None:
        return None
    layer = spec.accounts[account_key].layer
    subnets = () if s.adopted else tuple(subnet_cidrs(s))
    if s.adopted:
        assert s.vpc_id is not None  # validation: an adopted network names its VPC
        vpc_id = s.vpc_id
        subnet_ids = s.subnet_ids
    else:
        vpc_id = tf_ref("aws_vpc", address())
        subnet_ids = tuple(tf_ref("aws_subnet", address(n.key)) for n in subnets if not n.public)
    creates_sg = not s.security_group_ids
    sgs = (tf_ref("aws_security_group", address("workloads")),) if creates_sg else s.security_group_ids
    return ResolvedNetwork(
        account=account_key,
        region=region,
        layer=layer,
        adopted=s.adopted,
        cidr=s.cidr,
        subnets=subnets,
        egress=s.egress,
        endpoints=tuple(endpoints_for(layer)) if s.endpoints else (),
        flow_logs=s.flow_logs,
        vpc_id=vpc_id,
        subnet_ids=subnet_ids,
        security_group_ids=sgs,
        creates_security_group=creates_sg,
        route_table_ids=s.route_table_ids if s.adopted else (tf_ref("aws_route_table", address("private")),),
        parameters=parameter_names(spec),
    )
