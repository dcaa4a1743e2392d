"""The network of one dev, test or prod account in one region (one per account/region stack).

Reads ``accounts.<key>.network`` and ``network_defaults.<layer>`` through
:func:`mlgov.platform.network.account_network`, which decides everything; this construct only
builds it, at the Terraform addresses that function's references name.

Created network (``cidr``): the VPC (DNS on), one private isolated subnet per AZ and their
route table, the default security group stripped of its rules, and - only with the
``egress`` opt-in - an internet gateway, public subnets, one NAT gateway and the default routes.
Adopted network (``vpc_id``): nothing of the above; the given VPC, subnets and route tables
are used as they are (no data sources: the ids are in the spec, so the plan runs offline).

Both: the workload security group (unless the spec names its own), the endpoints' security
group, the interface endpoints (private DNS, org-scoped policy) and the S3 gateway endpoint,
VPC flow logs to the platform bucket (SSE-KMS with the platform key) and the SSM parameters
``/<org>/network/{vpc-id,subnet-ids,security-group-ids}`` that products and pipelines read.
"""

from __future__ import annotations

from typing import Any

from cdktf_cdktf_provider_aws.default_security_group import DefaultSecurityGroup
from cdktf_cdktf_provider_aws.eip import Eip
from cdktf_cdktf_provider_aws.flow_log import FlowLog
from cdktf_cdktf_provider_aws.internet_gateway import InternetGateway
from cdktf_cdktf_provider_aws.nat_gateway import NatGateway
from cdktf_cdktf_provider_aws.route import Route
from cdktf_cdktf_provider_aws.route_table import RouteTable
from cdktf_cdktf_provider_aws.route_table_association import RouteTableAssociation
from cdktf_cdktf_provider_aws.security_group import SecurityGroup
from cdktf_cdktf_provider_aws.ssm_parameter import SsmParameter
from cdktf_cdktf_provider_aws.subnet import Subnet
from cdktf_cdktf_provider_aws.vpc import Vpc
from cdktf_cdktf_provider_aws.vpc_endpoint import VpcEndpoint
from cdktf_cdktf_provider_aws.vpc_security_group_egress_rule import VpcSecurityGroupEgressRule
from cdktf_cdktf_provider_aws.vpc_security_group_ingress_rule import VpcSecurityGroupIngressRule
from constructs import Construct

from mlgov.modules.blocks import named, ref
from mlgov.platform import naming
from mlgov.platform import network as facts
from mlgov.platform.iam import network as iam
from mlgov.platform.network import ResolvedNetwork, address
from mlgov.spec.model import OrgSpec

ANYWHERE = "0.0.0.0/0"
EGRESS_TAG = "mlgov:egress"  # "internet" on the VPC and security group of an egress opt-in


class AccountNetwork(Construct):
    """The account's network in this stack's region, created or adopted."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        spec: OrgSpec,
        resolved: ResolvedNetwork,
        platform_bucket: str,
        flow_log_depends_on: list | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.resolved = r = resolved
        prefix = naming.resource_name(spec, naming.account_label(spec, r.account))
        egress_tags = {EGRESS_TAG: "internet"} if r.egress else {}

        if not r.adopted:
            self._create_vpc(prefix, egress_tags)

        workload_sgs = list(r.security_group_ids)
        if r.creates_security_group:
            sg = named(
                SecurityGroup(
                    self,
                    "workloads",
                    name=f"{prefix}-sagemaker",
                    description="SageMaker Studio, jobs and endpoints: traffic among themselves and to the VPC "
                    "endpoints",
                    vpc_id=r.vpc_id,
                    tags={"Name": f"{prefix}-sagemaker", **egress_tags},
                ),
                address("workloads"),
            )
            sg_id = ref(sg, "id")
            self._rule(
                VpcSecurityGroupIngressRule,
                "workloads_self_in",
                sg_id,
                "Studio apps, EFS (NFS) and distributed jobs reach each other",
                referenced_security_group_id=sg_id,
            )
            self._rule(
                VpcSecurityGroupEgressRule,
                "workloads_self_out",
                sg_id,
                "Studio apps, EFS (NFS) and distributed jobs reach each other",
                referenced_security_group_id=sg_id,
            )
            if r.egress:
                self._rule(
                    VpcSecurityGroupEgressRule,
                    "workloads_internet_https",
                    sg_id,
                    "egress opt-in: HTTPS to the internet through the NAT gateway",
                    https=True,
                    cidr_ipv4=ANYWHERE,
                )

        self.endpoint_sg = None
        if r.endpoints:
            esg = named(
                SecurityGroup(
                    self,
                    "endpoints",
                    name=f"{prefix}-vpc-endpoints",
                    description="Interface VPC endpoints: HTTPS from the SageMaker workloads only",
                    vpc_id=r.vpc_id,
                    tags={"Name": f"{prefix}-vpc-endpoints"},
                ),
                address("endpoints"),
            )
            esg_id = ref(esg, "id")
            self.endpoint_sg = esg
            for source in workload_sgs:
                key = "workloads" if source.startswith("${") else source.replace("-", "_")
                self._rule(
                    VpcSecurityGroupIngressRule,
                    f"endpoints_https_from_{key}",
                    esg_id,
                    "HTTPS from the SageMaker workloads",
                    https=True,
                    referenced_security_group_id=source,
                )
            for endpoint in r.endpoints:
                service = endpoint.service_name(r.region)
                common: dict[str, Any] = {
                    "vpc_id": r.vpc_id,
                    "service_name": service,
                    "policy": iam.endpoint_policy(spec, endpoint.key, r.region),
                    "tags": {"Name": f"{prefix}-{endpoint.key.replace('_', '-')}"},
                }
                if endpoint.gateway:
                    gw = named(
                        VpcEndpoint(
                            self,
                            f"endpoint_{endpoint.key}",
                            vpc_endpoint_type="Gateway",
                            route_table_ids=list(r.route_table_ids),
                            **common,
                        ),
                        address(endpoint.key),
                    )
                    if r.creates_security_group:
                        self._rule(
                            VpcSecurityGroupEgressRule,
                            "workloads_s3_https",
                            ref(sg, "id"),
                            "HTTPS to S3 through the gateway endpoint",
                            https=True,
                            prefix_list_id=ref(gw, "prefix_list_id"),
                        )
                else:
                    named(
                        VpcEndpoint(
                            self,
                            f"endpoint_{endpoint.key}",
                            vpc_endpoint_type="Interface",
                            subnet_ids=list(r.subnet_ids),
                            security_group_ids=[esg_id],
                            private_dns_enabled=True,
                            **common,
                        ),
                        address(endpoint.key),
                    )
            if r.creates_security_group:
                self._rule(
                    VpcSecurityGroupEgressRule,
                    "workloads_endpoints_https",
                    ref(sg, "id"),
                    "HTTPS to the interface VPC endpoints",
                    https=True,
                    referenced_security_group_id=esg_id,
                )

        if r.flow_logs:
            named(
                FlowLog(
                    self,
                    "flow_log",
                    vpc_id=r.vpc_id,
                    traffic_type="ALL",
                    log_destination_type="s3",
                    log_destination=facts.flow_log_destination(platform_bucket),
                    max_aggregation_interval=600,
                    tags={"Name": f"{prefix}-flow-log"},
                    depends_on=flow_log_depends_on or None,
                ),
                address(),
            )

        values = {
            "vpc-id": ("String", r.vpc_id),
            "subnet-ids": ("StringList", ",".join(r.subnet_ids)),
            "security-group-ids": ("StringList", ",".join(r.security_group_ids)),
        }
        for key, (kind, value) in values.items():
            named(
                SsmParameter(
                    self,
                    f"parameter_{key}",
                    name=r.parameters[key],
                    type=kind,
                    value=value,
                    description=naming.PARAMETERS[("network", key)],
                ),
                address(key.replace("-", "_")),
            )

    def _create_vpc(self, prefix: str, egress_tags: dict[str, str]) -> None:
        r = self.resolved
        vpc = named(
            Vpc(
                self,
                "vpc",
                cidr_block=r.cidr,
                enable_dns_support=True,  # private DNS of the interface endpoints needs both
                enable_dns_hostnames=True,
                tags={"Name": prefix, **egress_tags},
            ),
            address(),
        )
        vpc_id = ref(vpc, "id")
        # The default security group stays empty: nothing may fall back to its allow-all rules.
        named(DefaultSecurityGroup(self, "default_sg", vpc_id=vpc_id, tags={"Name": f"{prefix}-default"}), address())
        private_rt = named(
            RouteTable(self, "private_rt", vpc_id=vpc_id, tags={"Name": f"{prefix}-private"}), address("private")
        )
        public_rt = None
        if r.egress:
            igw = named(InternetGateway(self, "igw", vpc_id=vpc_id, tags={"Name": prefix, **egress_tags}), address())
            public_rt = named(
                RouteTable(self, "public_rt", vpc_id=vpc_id, tags={"Name": f"{prefix}-public"}), address("public")
            )
            named(
                Route(
                    self,
                    "public_default",
                    route_table_id=ref(public_rt, "id"),
                    destination_cidr_block=ANYWHERE,
                    gateway_id=ref(igw, "id"),
                ),
                address("public_internet"),
            )
        nat_subnet = None
        for subnet in r.subnets:
            created = named(
                Subnet(
                    self,
                    f"subnet_{subnet.key}",
                    vpc_id=vpc_id,
                    cidr_block=subnet.cidr,
                    availability_zone=subnet.az,
                    map_public_ip_on_launch=False,
                    tags={
                        "Name": f"{prefix}-{subnet.key.replace('_', '-')}",
                        "mlgov:tier": "public" if subnet.public else "private",
                    },
                ),
                address(subnet.key),
            )
            if subnet.public and nat_subnet is None:
                nat_subnet = created
            named(
                RouteTableAssociation(
                    self,
                    f"rta_{subnet.key}",
                    subnet_id=ref(created, "id"),
                    route_table_id=ref(public_rt if subnet.public else private_rt, "id"),
                ),
                address(subnet.key),
            )
        if r.egress:
            eip = named(Eip(self, "nat_eip", domain="vpc", tags={"Name": f"{prefix}-nat"}), address("nat"))
            nat = named(
                NatGateway(
                    self,
                    "nat",
                    allocation_id=ref(eip, "id"),
                    subnet_id=ref(nat_subnet, "id"),  # egress always has a public subnet
                    tags={"Name": f"{prefix}-nat", **egress_tags},
                ),
                address(),
            )
            named(
                Route(
                    self,
                    "private_default",
                    route_table_id=ref(private_rt, "id"),
                    destination_cidr_block=ANYWHERE,
                    nat_gateway_id=ref(nat, "id"),
                ),
                address("private_nat"),
            )

    def _rule(self, cls, key: str, group_id: str, description: str, *, https: bool = False, **target) -> None:
        """One security group rule: all traffic, or TCP 443 with ``https``, to/from ``target``."""
        ports = {"ip_protocol": "tcp", "from_port": 443, "to_port": 443} if https else {"ip_protocol": "-1"}
        named(cls(self, key, security_group_id=group_id, description=description, **ports, **target), address(key))
