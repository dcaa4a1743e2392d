"""The VPC endpoints are a perimeter on both sides: the organization's principals, on the
organization's resources (and the AWS-owned ones the platform needs), decided by iam-simulate.

Path 7 of the gate review: the endpoint policies used to check only the caller's organization,
so a role of the platform could write to another organization's bucket through the private path
(data exfiltration). Each request below goes through the endpoint policy the synthesized dev
stack carries, with an identity policy that allows everything: the endpoint policy alone
decides. A broken copy (the policy as it was, the principal check only) lets the foreign write
through, and the test says so.
"""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from mlgov.platform import images
from mlgov.platform import network as facts
from mlgov.review import iam
from tests.conftest import ROOT
from tests.journey import decisions

pytestmark = pytest.mark.slow  # node (iam-simulate)

DEV, REGION = "ml-dev-fraud", "eu-west-1"
ROLE = "arn:aws:iam::330000000003:role/nwa-fraud-sagemaker-execution"
ORG, FOREIGN_ORG = "o-nw4a8k2j6q", "o-f0re1gn0rg1"
EVERYTHING = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
OWN_BUCKET = "arn:aws:s3:::nwa-models-330000000003-eu-west-1/fraud/model.tar.gz"
FOREIGN_BUCKET = "arn:aws:s3:::exfiltration-bucket/loot.csv"
LAYERS = f"arn:aws:s3:::prod-{REGION}-starport-layer-bucket/sha256:0123"
AWS_XGBOOST = f"arn:aws:ecr:{REGION}:{images.aws_registry_accounts(REGION)[0]}:repository/sagemaker-xgboost"
FOREIGN_REPOSITORY = f"arn:aws:ecr:{REGION}:999999999999:repository/sagemaker-xgboost"

# The IAM service prefix behind each endpoint whose key is not already one.
IAM_PREFIX = {
    "sagemaker_api": "sagemaker",
    "sagemaker_runtime": "sagemaker",
    "notebook": "sagemaker",
    "studio": "sagemaker",
    "ecr_api": "ecr",
    "ecr_dkr": "ecr",
    "monitoring": "cloudwatch",
}

# (endpoint, action, resource, resource account, resource org or None, allowed)
CASES = {
    "own bucket": ("s3", "s3:PutObject", OWN_BUCKET, "330000000003", ORG, True),
    "another organization's bucket": ("s3", "s3:PutObject", FOREIGN_BUCKET, "999999999999", FOREIGN_ORG, False),
    "ECR's layer bucket (AWS-owned)": ("s3", "s3:GetObject", LAYERS, "888888888888", "o-aws0000000", True),
    "AWS's SageMaker image registry": (
        "ecr_dkr",
        "ecr:BatchGetImage",
        AWS_XGBOOST,
        AWS_XGBOOST.split(":")[4],
        "o-aws0000000",
        True,
    ),
    "another organization's registry": (
        "ecr_dkr",
        "ecr:BatchGetImage",
        FOREIGN_REPOSITORY,
        "999999999999",
        FOREIGN_ORG,
        False,
    ),
    "a call on no resource": ("ecr_api", "ecr:GetAuthorizationToken", "*", "330000000003", None, True),
    "own key": ("kms", "kms:Decrypt", "arn:aws:kms:eu-west-1:330000000003:key/k", "330000000003", ORG, True),
    "another organization's key": (
        "kms",
        "kms:Decrypt",
        "arn:aws:kms:eu-west-1:999999999999:key/k",
        "999999999999",
        FOREIGN_ORG,
        False,
    ),
}


def request(policy: dict, action: str, resource: str, account: str, org: str | None) -> iam.Request:
    context = {"aws:PrincipalOrgID": ORG, "aws:PrincipalAccount": "330000000003", "aws:PrincipalArn": ROLE}
    if org:
        context["aws:ResourceOrgID"] = org
    # The resource grants the role in its own policy (an attacker's bucket is open to all; the
    # own key's policy admits the account): only the endpoint policy can refuse.
    open_to_all = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}],
    }
    return iam.Request(
        principal=ROLE,
        action=action,
        resource=resource,
        resource_account=account,
        identity_policies={"everything": EVERYTHING},
        resource_policy=open_to_all if resource != "*" else None,
        vpc_endpoint_policies={"endpoint": policy},
        context=context,
    )


def principal_check_only(policy: dict) -> dict:
    """The broken copy: the endpoint policy as it was, the caller's organization only."""
    return {**policy, "Statement": [s for s in policy["Statement"] if s["Effect"] == "Allow"]}


@pytest.fixture(scope="module")
def endpoint_policies(stacks) -> dict[str, dict]:
    endpoints = stacks[DEV]["resource"]["aws_vpc_endpoint"]
    return {key.removeprefix("network_"): json.loads(e["policy"]) for key, e in endpoints.items()}


@pytest.fixture(scope="module")
def decided(bridge, endpoint_policies) -> dict[tuple[str, bool], iam.Decision]:
    names, requests = [], []
    for name, (endpoint, action, resource, account, org, _ok) in CASES.items():
        for broken in (False, True):
            policy = endpoint_policies[endpoint]
            names.append((name, broken))
            requests.append(request(principal_check_only(policy) if broken else policy, action, resource, account, org))
    return dict(zip(names, decisions.simulate(requests), strict=True))


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_endpoint_admits_only_the_organizations_resources(decided, name):
    # GIVEN the dev stack's endpoint policy and a role allowed everything by its identity
    # WHEN it calls a resource through the endpoint THEN the resource's org decides
    want = CASES[name][-1]
    decision = decided[(name, False)]
    assert decision.allowed == want, (name, decision.decision, decision.explanation)


def test_the_broken_copy_lets_the_foreign_writes_through(decided):
    # GIVEN the endpoint policy without the resource condition (the principal check only)
    # THEN every foreign call this test refuses is allowed: the test would fail on it
    refused = [name for name, case in CASES.items() if not case[-1]]
    assert refused
    assert [name for name in refused if decided[(name, True)].allowed] == refused


def test_every_endpoint_service_sets_the_resource_org_key(bridge):
    # GIVEN iam-utils' list of actions AWS sets no aws:ResourceOrgID for (the resource
    # information keys) THEN no service behind an endpoint has one of them: the condition is
    # read for every call it filters
    prefixes = sorted({IAM_PREFIX.get(e.key, e.key) for e in facts.ENDPOINTS})
    source = ROOT / "node_modules/@cloud-copilot/iam-utils/dist/cjs/resourceInfoContextKeys.js"
    listed = set(re.findall(r"'([a-z0-9-]+):[a-z0-9]+'", source.read_text()))
    script = (
        "const u=require('@cloud-copilot/iam-utils');const out={};"
        "for(const p of JSON.parse(process.argv[1])){out[p]=u.isAwsResourceInfoExcludedAction(p+':anyaction')}"
        "console.log(JSON.stringify(out))"
    )
    done = subprocess.run(
        ["node", "-e", script, json.dumps(prefixes)], cwd=ROOT, capture_output=True, text=True, check=True
    )
    by_prefix = json.loads(done.stdout)
    assert listed and "ec2" in listed  # the list was read
    assert sorted(by_prefix) == prefixes
    assert [p for p in prefixes if p in listed or by_prefix[p]] == []
