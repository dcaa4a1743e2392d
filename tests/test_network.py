"""The account networks (#15): spec and validation, the facts, the synthesized stacks per layer,
the SSM parameter contract, the security assertions on weakened copies, and the real terraform
over a dev stack and the adopted-network example."""

from __future__ import annotations

import copy
import ipaddress
import json

import pytest

from mlgov.errors import SpecError
from mlgov.platform import naming
from mlgov.platform import network as facts
from mlgov.platform.iam import network as iam_network
from mlgov.review import security, terraform
from mlgov.spec.located import load_yaml
from mlgov.spec.model import Layer, team_stack_name
from mlgov.validation import load_spec, parse_spec
from tests.conftest import ROOT

BASE = (ROOT / "org.yaml").read_text()
ADOPTED_EXAMPLE = ROOT / "mlgov" / "examples" / "contoso-adopted-network.yaml"


def problems(text: str) -> list[str]:
    with pytest.raises(SpecError) as info:
        parse_spec(load_yaml(text, "spec.yaml"))
    return [str(p) for p in info.value.problems]


def with_network(account_cidr: str, replacement: str) -> str:
    old = f"network: {{cidr: {account_cidr}}}"
    assert old in BASE
    return BASE.replace(old, replacement)


# -- spec and validation -------------------------------------------------------------------


def test_default_spec_gives_every_workload_account_a_created_disjoint_network(default_spec):
    # GIVEN org.yaml WHEN each dev/test/prod account's network is resolved THEN it is created,
    # its CIDRs are pairwise disjoint, and prod takes az_count 3 from network_defaults.
    cidrs = []
    for key, account in default_spec.accounts.items():
        net = facts.account_network(default_spec, key, naming.primary_region(default_spec, key))
        if account.layer not in facts.WORKLOAD_LAYERS:
            assert net is None
            continue
        assert not net.adopted and not net.egress and net.flow_logs
        assert len(net.subnets) == (3 if account.layer is Layer.prod else 2)
        cidrs.append(ipaddress.IPv4Network(net.cidr))
    assert len(cidrs) == 4
    assert not any(a.overlaps(b) for i, a in enumerate(cidrs) for b in cidrs[i + 1 :])


def test_subnets_are_deterministic_blocks_of_the_cidr(default_spec):
    net = facts.account_network(default_spec, "ml-prod", "eu-west-1")
    assert [(s.az, s.cidr, s.public) for s in net.subnets] == [
        ("eu-west-1a", "10.30.0.0/18", False),
        ("eu-west-1b", "10.30.64.0/18", False),
        ("eu-west-1c", "10.30.128.0/18", False),
    ]
    assert net.subnet_ids == tuple(f"${{aws_subnet.network_private_{z}.id}}" for z in "abc")


def test_egress_opt_in_adds_public_subnets_after_the_private_ones():
    spec = parse_spec(load_yaml(with_network("10.20.0.0/16", "network: {cidr: 10.20.0.0/16, egress: true}"), "s"))
    net = facts.account_network(spec, "ml-test", "eu-west-1")
    assert [(s.key, s.cidr) for s in net.subnets] == [
        ("private_a", "10.20.0.0/18"),
        ("private_b", "10.20.64.0/18"),
        ("public_a", "10.20.128.0/18"),
        ("public_b", "10.20.192.0/18"),
    ]


def test_adopted_network_resolves_to_the_given_ids():
    spec = load_spec(ADOPTED_EXAMPLE)
    net = facts.account_network(spec, "dev-vision", "eu-central-1")
    assert net.adopted and not net.creates_security_group and net.subnets == ()
    assert net.vpc_id == "vpc-0c0ffee0c0ffee001"
    assert net.subnet_ids == ("subnet-0c0ffee0c0ffee011", "subnet-0c0ffee0c0ffee012")
    assert net.security_group_ids == ("sg-0c0ffee0c0ffee031",)
    assert net.parameters == {
        "vpc-id": "/cvis/network/vpc-id",
        "subnet-ids": "/cvis/network/subnet-ids",
        "security-group-ids": "/cvis/network/security-group-ids",
    }
    prod = facts.account_network(spec, "serving-prod", "eu-central-1")
    assert prod.creates_security_group and prod.security_group_ids == ("${aws_security_group.network_workloads.id}",)


@pytest.mark.parametrize(
    ("replacement", "expected"),
    [
        (
            "network: {cidr: 10.20.0.0/16, azs: [eu-west-1a, eu-west-1b], az_count: 2}",
            "spec.yaml:59: accounts.ml-test.network.azs: give azs or az_count, not both (got both)",
        ),
        (
            "network: {cidr: 10.20.0.0/16, az_count: 4}",
            "spec.yaml:59: accounts.ml-test.network.az_count: region eu-west-1 has 3 availability zones "
            "(got az_count 4, expected at most 3)",
        ),
        (
            "network: {cidr: 10.16.0.0/12}",
            "spec.yaml:59: accounts.ml-test.network.cidr: a VPC CIDR must be /16 to /28 (got /12)",
        ),
        (
            "network: {cidr: 10.20.0.0}",
            "spec.yaml:59: accounts.ml-test.network.cidr: not an IPv4 CIDR (got '10.20.0.0', expected a block like "
            "10.20.0.0/16)",
        ),
        (
            "network: {cidr: 10.20.0.0/25, egress: true}",
            "spec.yaml:59: accounts.ml-test.network.cidr: CIDR too small for 2 private + 2 public subnets "
            "of at least /26 (got 10.20.0.0/25, expected at least a /24)",
        ),
        (
            "network: {vpc_id: vpc-0123456789abcdef0, subnet_ids: [subnet-0a1b2c3d4e5f60718]}",
            "spec.yaml:59: accounts.ml-test.network.route_table_ids: an adopted network needs the route tables",
        ),
        (
            "network: {vpc_id: vpc-0123456789abcdef0, subnet_ids: [subnet-0a1b2c3d4e5f60718], endpoints: false}",
            "spec.yaml:59: accounts.ml-test.network.security_group_ids: an adopted network that brings its own "
            "endpoints",
        ),
    ],
)
def test_network_mistakes_are_one_line_each(replacement, expected):
    got = problems(with_network("10.20.0.0/16", replacement))
    assert any(line.startswith(expected) for line in got), got


def test_overlap_lookup_finds_what_a_pairwise_scan_finds():
    # GIVEN a few thousand random blocks of /16../28 packed into a small range (so many nest and
    # many repeat) WHEN each is checked against those before it THEN the indexed lookup names
    # exactly the blocks, in the same order, that comparing with every earlier block names.
    import random

    from mlgov.validation.network import _Created

    rng = random.Random(24)
    created, earlier = _Created(), []
    for i in range(3000):
        prefix = rng.randint(16, 28)
        base = (10 << 24) | (rng.randrange(0, 1 << 18) << 6)
        cidr = ipaddress.IPv4Network((base, prefix), strict=False)
        assert created.overlapping(cidr) == [(key, other) for key, other in earlier if cidr.overlaps(other)]
        created.add(f"a{i}", cidr)
        earlier.append((f"a{i}", cidr))


def test_network_on_the_hub_is_refused():
    text = BASE.replace(
        "    ou: infrastructure\n    description: The ML hub",
        "    ou: infrastructure\n    network: {cidr: 10.40.0.0/16}\n    description: The ML hub",
    )
    assert problems(text) == [
        "spec.yaml:39: accounts.ml-shared-services.network: only dev, test and prod accounts get a network "
        "(got one on a 'hub' account)"
    ]


def test_region_table_covers_every_platform_region():
    # Every region validation accepts has an entry (no silent a/b/c guess for a known region).
    from mlgov.validation.checks import known_regions

    missing = sorted(
        r
        for r in known_regions()
        if r not in facts.REGION_ZONES and not r.startswith(("ap-southeast-5", "ap-southeast-7", "mx-", "ap-east-2"))
    )
    assert not missing, f"add these regions' zones to mlgov.platform.network.REGION_ZONES: {missing}"


def test_endpoint_services_are_real_privatelink_names():
    # Interface names follow com.amazonaws.<region>.<service> except SageMaker's notebook and
    # Studio (aws.sagemaker.<region>.<kind>); the com.amazonaws names' service part is an
    # endpoint prefix in botocore's endpoint data, so a typo fails here.
    from botocore.loaders import create_loader

    prefixes = set(create_loader().load_data("endpoints")["partitions"][0]["services"])
    for endpoint in facts.ENDPOINTS:
        name = endpoint.service_name("eu-west-1")
        if name.startswith("aws.sagemaker.eu-west-1."):
            assert endpoint.key in ("notebook", "studio")
            continue
        assert name.startswith("com.amazonaws.eu-west-1."), name
        service = name.removeprefix("com.amazonaws.eu-west-1.")
        botocore_prefix = {
            "sagemaker.api": "api.sagemaker",
            "sagemaker.runtime": "runtime.sagemaker",
            "ecr.api": "api.ecr",
            "ecr.dkr": "api.ecr",  # the registry (Docker) side of the same service
        }.get(service, service)
        assert botocore_prefix in prefixes, name
        assert endpoint.reason


# -- synthesized stacks ----------------------------------------------------------------------


def _network(stack: dict) -> dict[str, list[str]]:
    return {
        t: sorted(n for n in v if n.startswith("network"))
        for t, v in stack["resource"].items()
        if any(n.startswith("network") for n in v)
    }


@pytest.mark.parametrize("name", ["ml-dev-fraud", "ml-test", "ml-prod"])
def test_every_workload_stack_has_its_network(stacks, default_spec, name):
    stack = stacks[name]
    net = facts.account_network(default_spec, name, "eu-west-1")
    res = stack["resource"]
    # GIVEN the layer's endpoint list THEN exactly those endpoints, org-scoped, private DNS on
    endpoints = res["aws_vpc_endpoint"]
    assert sorted(endpoints) == sorted(f"network_{e.key}" for e in facts.endpoints_for(net.layer))
    for key, endpoint in endpoints.items():
        expected = iam_network.endpoint_policy(default_spec, key.removeprefix("network_"), "eu-west-1")
        assert json.loads(endpoint["policy"]) == json.loads(expected), key
        if endpoint["vpc_endpoint_type"] == "Interface":
            assert endpoint["private_dns_enabled"] is True
            assert endpoint["subnet_ids"] == list(net.subnet_ids)
            assert endpoint["security_group_ids"] == ["${aws_security_group.network_endpoints.id}"]
        else:
            assert endpoint["route_table_ids"] == ["${aws_route_table.network_private.id}"]
    # no internet path, isolated subnets, empty default SG, flow logs to the platform bucket
    for rtype in ("aws_internet_gateway", "aws_nat_gateway", "aws_route", "aws_eip"):
        assert rtype not in res, rtype
    assert all(s["map_public_ip_on_launch"] is False for s in res["aws_subnet"].values())
    assert [s["cidr_block"] for _, s in sorted(res["aws_subnet"].items())] == [s.cidr for s in net.subnets]
    assert "ingress" not in res["aws_default_security_group"]["network"]
    flow = res["aws_flow_log"]["network"]
    bucket = naming.bucket_name(default_spec, name, "eu-west-1", "platform")
    assert flow["log_destination"] == f"arn:aws:s3:::{bucket}/flow-logs/" and flow["traffic_type"] == "ALL"
    # the platform bucket and key admit log delivery, scoped to this account
    bucket_policy = json.loads(res["aws_s3_bucket_policy"]["platform"]["policy"])
    assert {s["Sid"] for s in bucket_policy["Statement"]} >= {"FlowLogDeliveryWrite", "FlowLogDeliveryAclCheck"}
    key_policy = json.loads(res["aws_kms_key"]["platform"]["policy"])
    assert "FlowLogDeliveryEncrypts" in {s["Sid"] for s in key_policy["Statement"]}


def test_security_groups_reference_each_other_only(stacks):
    res = stacks["ml-dev-fraud"]["resource"]
    ingress = res["aws_vpc_security_group_ingress_rule"]
    egress = res["aws_vpc_security_group_egress_rule"]
    workloads = "${aws_security_group.network_workloads.id}"
    endpoints = "${aws_security_group.network_endpoints.id}"
    assert {
        (r["security_group_id"], r.get("referenced_security_group_id"), r["ip_protocol"]) for r in ingress.values()
    } == {
        (workloads, workloads, "-1"),
        (endpoints, workloads, "tcp"),
    }
    assert {(r.get("referenced_security_group_id") or r.get("prefix_list_id")) for r in egress.values()} == {
        workloads,
        endpoints,
        "${aws_vpc_endpoint.network_s3.prefix_list_id}",
    }
    assert not any("cidr_ipv4" in r for r in list(ingress.values()) + list(egress.values()))


@pytest.mark.parametrize("name", ["ml-dev-fraud", "ml-test", "ml-prod"])
def test_ssm_parameters_publish_the_network_under_the_contract_names(stacks, default_spec, name):
    # The contract of mlgov.platform.naming.PARAMETERS: names, types and values.
    net = facts.account_network(default_spec, name, "eu-west-1")
    params = {p["name"]: p for p in stacks[name]["resource"]["aws_ssm_parameter"].values() if "/network/" in p["name"]}
    assert params == {
        naming.ssm_parameter(default_spec, "network", "vpc-id"): params["/nwa/network/vpc-id"],
        naming.ssm_parameter(default_spec, "network", "subnet-ids"): params["/nwa/network/subnet-ids"],
        naming.ssm_parameter(default_spec, "network", "security-group-ids"): params["/nwa/network/security-group-ids"],
    }
    assert params["/nwa/network/vpc-id"]["type"] == "String"
    assert params["/nwa/network/vpc-id"]["value"] == "${aws_vpc.network.id}" == net.vpc_id
    assert params["/nwa/network/subnet-ids"]["type"] == "StringList"
    assert params["/nwa/network/subnet-ids"]["value"] == ",".join(net.subnet_ids)
    assert params["/nwa/network/security-group-ids"]["type"] == "StringList"
    assert params["/nwa/network/security-group-ids"]["value"] == ",".join(net.security_group_ids)
    # every reference the facts hand out is an address the stack really has
    for value in (net.vpc_id, *net.subnet_ids, *net.security_group_ids):
        rtype, rname, _ = value[2:-1].split(".")
        assert rname in stacks[name]["resource"][rtype], value


def test_hub_and_management_have_no_network(stacks):
    for name in ("ml-shared-services", "management"):
        assert "aws_vpc" not in stacks[name]["resource"] and "aws_vpc_endpoint" not in stacks[name]["resource"]


@pytest.fixture(scope="module")
def adopted_tree(render_spec):
    return render_spec(ADOPTED_EXAMPLE)


def _stack(tree, name):
    return json.loads(tree[f"stacks/{name}/cdk.tf.json"])


def test_adopted_network_creates_only_what_is_missing(adopted_tree):
    dev = _stack(adopted_tree, "dev-vision")["resource"]
    for rtype in ("aws_vpc", "aws_subnet", "aws_route_table", "aws_default_security_group"):
        assert rtype not in dev, rtype
    assert "network_workloads" not in dev["aws_security_group"]  # the spec names its own
    assert dev["aws_vpc_endpoint"]["network_sts"]["vpc_id"] == "vpc-0c0ffee0c0ffee001"
    assert dev["aws_vpc_endpoint"]["network_s3"]["route_table_ids"] == ["rtb-0c0ffee0c0ffee021"]
    assert (
        dev["aws_vpc_security_group_ingress_rule"]["network_endpoints_https_from_sg_0c0ffee0c0ffee031"][
            "referenced_security_group_id"
        ]
        == "sg-0c0ffee0c0ffee031"
    )
    assert (
        dev["aws_ssm_parameter"]["network_subnet_ids"]["value"] == "subnet-0c0ffee0c0ffee011,subnet-0c0ffee0c0ffee012"
    )
    prod = _stack(adopted_tree, "serving-prod")["resource"]
    assert "network_workloads" in prod["aws_security_group"]
    assert (
        prod["aws_ssm_parameter"]["network_security_group_ids"]["value"] == "${aws_security_group.network_workloads.id}"
    )


def test_egress_opt_in_builds_the_internet_path_and_is_tagged(adopted_tree):
    res = _stack(adopted_tree, "dev-forecast")["resource"]
    assert set(res["aws_internet_gateway"]) == {"network"} and set(res["aws_nat_gateway"]) == {"network"}
    assert res["aws_vpc"]["network"]["tags"]["mlgov:egress"] == "internet"
    assert res["aws_vpc_security_group_egress_rule"]["network_workloads_internet_https"]["cidr_ipv4"] == "0.0.0.0/0"
    assert not security.check_stack("dev-forecast", _stack(adopted_tree, "dev-forecast"))


def test_adopted_example_has_no_security_findings(adopted_tree):
    findings = security.check_tree(adopted_tree)
    assert not findings, "\n".join(map(str, findings))


# -- security assertions fail on weakened copies --------------------------------------------------


@pytest.fixture
def dev(stacks):
    return copy.deepcopy(stacks["ml-dev-fraud"])


def _only(stack, check):
    return [f for f in security.check_stack("ml-dev-fraud", stack) if f.check == check]


def test_intact_dev_stack_passes_the_network_checks(dev):
    for check in (security.INGRESS, security.EGRESS, security.ENDPOINT_POLICY):
        assert not _only(dev, check)


@pytest.mark.parametrize("cidr", ["0.0.0.0/0", "::/0"])
def test_ingress_from_anywhere_fails(dev, cidr):
    rule = dev["resource"]["aws_vpc_security_group_ingress_rule"]["network_workloads_self_in"]
    rule.pop("referenced_security_group_id")
    rule["cidr_ipv6" if ":" in cidr else "cidr_ipv4"] = cidr
    assert [f.address for f in _only(dev, security.INGRESS)] == [
        "aws_vpc_security_group_ingress_rule.network_workloads_self_in"
    ]


def test_inline_ingress_from_anywhere_fails(dev):
    dev["resource"]["aws_security_group"]["network_endpoints"]["ingress"] = [
        {"from_port": 22, "to_port": 22, "protocol": "tcp", "cidr_blocks": ["0.0.0.0/0"]}
    ]
    assert [f.address for f in _only(dev, security.INGRESS)] == ["aws_security_group.network_endpoints"]


def test_internet_egress_without_opt_in_fails(dev):
    res = dev["resource"]
    rule = res["aws_vpc_security_group_egress_rule"]["network_workloads_endpoints_https"]
    rule.pop("referenced_security_group_id")
    rule["cidr_ipv4"] = "0.0.0.0/0"
    res["aws_internet_gateway"] = {"network": {"vpc_id": "${aws_vpc.network.id}"}}
    res["aws_route"] = {"x": {"route_table_id": "r", "destination_cidr_block": "0.0.0.0/0", "gateway_id": "g"}}
    assert sorted(f.address for f in _only(dev, security.EGRESS)) == [
        "aws_internet_gateway.network",
        "aws_route.x",
        "aws_vpc_security_group_egress_rule.network_workloads_endpoints_https",
    ]
    # WHEN the VPC carries the opt-in tag (what egress: true generates) THEN it passes
    res["aws_vpc"]["network"]["tags"]["mlgov:egress"] = "internet"
    assert not _only(dev, security.EGRESS)


def test_endpoint_policy_missing_or_not_org_scoped_fails(dev):
    endpoints = dev["resource"]["aws_vpc_endpoint"]
    endpoints["network_sts"].pop("policy")
    doc = json.loads(endpoints["network_kms"]["policy"])
    doc["Statement"][0].pop("Condition")
    endpoints["network_kms"]["policy"] = json.dumps(doc)
    assert sorted(f.address for f in _only(dev, security.ENDPOINT_POLICY)) == [
        "aws_vpc_endpoint.network_kms",
        "aws_vpc_endpoint.network_sts",
    ]


# -- the real terraform ----------------------------------------------------------------------------


@pytest.mark.terraform
def test_dev_stack_with_network_validates_and_plans_offline(tmp_path, tf_cli_config):
    stack_dir = ROOT / "generated" / "stacks" / "ml-dev-fraud"
    ws = terraform.Workspace(stack_dir, tmp_path / "ws", tf_cli_config)
    for step in (ws.init, ws.validate, ws.plan):
        result = step()
        assert result.ok, result.stderr
    plan = json.loads(ws.show_json().stdout)
    created = {c["address"] for c in plan["resource_changes"] if c["change"]["actions"] == ["create"]}
    assert {"aws_vpc.network", "aws_vpc_endpoint.network_studio", "aws_flow_log.network"} <= created


@pytest.mark.terraform
def test_adopted_example_synthesizes_and_plans_offline(tmp_path, tf_cli_config, adopted_tree):
    for name in ("dev-vision", "serving-prod"):
        stack_dir = tmp_path / "stacks" / name
        stack_dir.mkdir(parents=True)
        (stack_dir / "cdk.tf.json").write_bytes(adopted_tree[f"stacks/{name}/cdk.tf.json"])
        ws = terraform.Workspace(stack_dir, tmp_path / "ws" / name, tf_cli_config)
        for step in (ws.init, ws.validate, ws.plan):
            result = step()
            assert result.ok, f"{name}: {result.stderr}"


@pytest.mark.parametrize("role", ["fraud_deploy", "fraud_endpoint_deployer", "churn_deploy"])
def test_stage_roles_may_read_exactly_the_network_parameters_their_stack_writes(stacks, default_spec, role):
    # CloudFormation resolves the endpoint template's SSM-typed parameters with these roles. The
    # account's core stack writes the parameters; the team's slice holds the role.
    stack = stacks["ml-prod"]
    written = {p["name"] for p in stack["resource"]["aws_ssm_parameter"].values() if "/network/" in p["name"]}
    team_stack = stacks[team_stack_name("ml-prod", role.split("_")[0])]
    policy_doc = json.loads(team_stack["resource"]["aws_iam_role_policy"][role]["policy"])
    grants = [s for s in policy_doc["Statement"] if s["Sid"] == "NetworkParameters"]
    assert len(grants) == 1 and grants[0]["Action"] == ["ssm:GetParameters"]
    prefix = f"arn:aws:ssm:eu-west-1:{default_spec.accounts['ml-prod'].id}:parameter"
    assert sorted(grants[0]["Resource"]) == sorted(prefix + name for name in written)


def test_docs_list_every_endpoint_with_its_reason():
    # docs/network.md's endpoint table is the ENDPOINTS list, row for row (no drift).
    doc = (ROOT / "docs" / "network.md").read_text()
    rows = [line for line in doc.splitlines() if line.startswith("| `") and "<region>" in line]
    assert rows == [
        f"| `{e.service.replace('{region}', '<region>')}` | {'gateway' if e.gateway else 'interface'} | "
        f"{', '.join(layer.value for layer in e.layers)} | {e.reason} |"
        for e in facts.ENDPOINTS
    ]
