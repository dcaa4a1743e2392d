"""terraform apply of generated stacks against a local moto server, then read back with boto3.

moto runs in this process on 127.0.0.1 (a free port), for the session (tests/conftest.py);
each stack is applied once per session (``moto_applied``), and tests/test_transitions.py plans
against the same apply's state. Stacks are filtered to what moto supports (mlgov/localapply.py). Applying costs
minutes per stack on a small runner, so only the fewest stacks whose resource types together
cover every type any stack applies are applied (today two of six); a layer that gains a new
resource type gets its stack applied automatically.
"""

from __future__ import annotations

import json

import pytest

from mlgov.review import localapply
from tests.conftest import ROOT, moto_endpoint  # noqa: F401 - tests/test_data_apply.py imports the fixture from here

GENERATED = ROOT / "generated" / "stacks"
REGION_KW = {"aws_access_key_id": "mlgov-local", "aws_secret_access_key": "mlgov-local"}


def _stacks() -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in sorted(GENERATED.glob("*/cdk.tf.json"))}


def representative_stacks() -> list[str]:
    """Fewest stacks whose moto-appliable resource types together cover every type any stack
    applies (greedy set cover: the stack adding most uncovered types first, ties by name).

    Each apply costs minutes on a small runner; applying one stack per distinct type SET
    repeated the baseline types in every apply."""
    types = {
        name: frozenset(localapply.filter_stack(stack)[0].get("resource", {})) for name, stack in _stacks().items()
    }
    uncovered = frozenset().union(*types.values())
    chosen: list[str] = []
    while uncovered:
        best = min(types, key=lambda name: (-len(types[name] & uncovered), name))
        chosen.append(best)
        uncovered -= types[best]
    return sorted(chosen)


# -- the filter (fast, no server) -------------------------------------------------------------


def test_filter_drops_unsupported_resources_and_everything_depending_on_them():
    stack = {
        "resource": {
            "aws_servicecatalog_portfolio": {"p": {"name": "p"}},
            "aws_iam_role": {
                "launch": {"name": "launch"},
                "uses_portfolio": {"name": "x", "description": "${aws_servicecatalog_portfolio.p.id}"},
            },
            "aws_iam_role_policy": {
                "chained": {"role": "${aws_iam_role.uses_portfolio.name}", "policy": "{}"},
                "kept": {"role": "${aws_iam_role.launch.name}", "policy": "{}"},
            },
            "aws_kms_key": {"k": {"depends_on": ["aws_servicecatalog_portfolio.p"]}},
        },
        "output": {
            "portfolio": {"value": "${aws_servicecatalog_portfolio.p.id}"},
            "role": {"value": "${aws_iam_role.launch.arn}"},
        },
    }
    filtered, dropped = localapply.filter_stack(stack)
    assert dropped == [
        "aws_iam_role.uses_portfolio",
        "aws_iam_role_policy.chained",
        "aws_kms_key.k",
        "aws_servicecatalog_portfolio.p",
    ]
    assert filtered["resource"] == {
        "aws_iam_role": {"launch": {"name": "launch"}},
        "aws_iam_role_policy": {"kept": stack["resource"]["aws_iam_role_policy"]["kept"]},
    }
    assert list(filtered["output"]) == ["role"]
    assert "aws_servicecatalog_portfolio" in stack["resource"]  # the input is not modified


def test_every_generated_stack_keeps_its_baseline_after_filtering(default_spec):
    # Core stacks keep the baseline; a team slice (no baseline: its core's) keeps its roles, and
    # a slice of the hub also the team's artifact store.
    refs = {ref.name: ref for ref in default_spec.stack_refs()}
    stacks = _stacks()
    assert set(stacks) == set(refs)
    for name, stack in stacks.items():
        filtered, _ = localapply.filter_stack(stack)
        kept = set(filtered["resource"])
        if not refs[name].is_slice:
            assert {"aws_kms_key", "aws_s3_bucket", "aws_s3_bucket_policy"} <= kept, name
            continue
        assert {"aws_iam_role", "aws_iam_role_policy"} <= kept, name
        assert set(filtered["resource"]["aws_iam_role"]) == set(stack["resource"]["aws_iam_role"]), name
        if refs[name].account == default_spec.hub:
            assert {"aws_s3_bucket", "aws_s3_bucket_policy", "aws_sqs_queue"} <= kept, name


def test_representative_stacks_cover_every_appliable_type_with_fewer_applies():
    types = {name: set(localapply.filter_stack(stack)[0].get("resource", {})) for name, stack in _stacks().items()}
    chosen = representative_stacks()
    assert set().union(*(types[name] for name in chosen)) == set().union(*types.values())
    assert len(chosen) < len({frozenset(t) for t in types.values()})


# -- apply against moto ----------------------------------------------------------------------


def _client(service, endpoint, region):
    import boto3

    return boto3.client(service, endpoint_url=endpoint, region_name=region, **REGION_KW)


def _json_equal(a: str, b: str) -> bool:
    return json.loads(a) == json.loads(b)


# Read-back checks by resource type: (boto3 clients factory, state values, resource config).
def _check_bucket(c, values, state):
    bucket = values["bucket"]
    pab = c("s3").get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(pab.values()) and len(pab) == 4, pab
    assert c("s3").get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    rule = c("s3").get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    default = rule["ApplyServerSideEncryptionByDefault"]
    assert default["SSEAlgorithm"] == "aws:kms"
    assert default["KMSMasterKeyID"] in {r["values"].get("arn") for r in state if r["type"] == "aws_kms_key"}
    stmts = json.loads(c("s3").get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]
    assert any(
        s["Effect"] == "Deny" and s["Condition"]["Bool"]["aws:SecureTransport"] == "false"
        for s in stmts
        if "Condition" in s
    )


def _check_key(c, values, state):
    kms = c("kms")
    assert kms.get_key_rotation_status(KeyId=values["key_id"])["KeyRotationEnabled"] is True
    assert _json_equal(kms.get_key_policy(KeyId=values["key_id"], PolicyName="default")["Policy"], values["policy"])


def _check_bus_policy(c, values, state):
    policy = json.loads(c("events").describe_event_bus(Name=values.get("event_bus_name") or "default")["Policy"])
    for stmt in policy["Statement"]:
        if stmt.get("Principal") in ("*", {"AWS": "*"}):
            conditions = {k for block in stmt.get("Condition", {}).values() for k in block}
            assert "aws:PrincipalOrgID" in conditions, stmt


def _check_role(c, values, state):
    role = c("iam").get_role(RoleName=values["name"])["Role"]
    document = role["AssumeRolePolicyDocument"]
    document = json.dumps(document) if not isinstance(document, str) else document
    assert _json_equal(document, values["assume_role_policy"])


def _check_queue(c, values, state):
    attrs = c("sqs").get_queue_attributes(QueueUrl=values["url"], AttributeNames=["All"])["Attributes"]
    if values.get("kms_master_key_id"):
        assert attrs.get("KmsMasterKeyId") == values["kms_master_key_id"]


READBACK = {
    "aws_s3_bucket": _check_bucket,
    "aws_kms_key": _check_key,
    "aws_cloudwatch_event_bus_policy": _check_bus_policy,
    "aws_iam_role": _check_role,
    "aws_sqs_queue": _check_queue,
}


@pytest.mark.slow
@pytest.mark.terraform
@pytest.mark.parametrize("stack_name", representative_stacks())
def test_stack_applies_to_moto_and_reads_back(stack_name, moto_applied):
    # GIVEN the moto-appliable part of a generated stack and an empty moto
    # WHEN terraform applies it (once per session: tests/test_transitions.py plans against its state)
    applied = moto_applied(stack_name, live=True)
    filtered, state, region = applied.filtered, applied.resources, applied.region
    # THEN every declared resource exists, and what AWS (moto) holds matches the intent
    declared = {f"{t}.{n}" for t, items in filtered["resource"].items() for n in items}
    assert {r["address"] for r in state if r["mode"] == "managed"} == declared
    checked = 0
    for resource in state:
        check = READBACK.get(resource["type"])
        if check:
            check(lambda service: _client(service, applied.endpoint, region), resource["values"], state)
            checked += 1
    assert checked >= 2


def test_an_apply_is_repeated_once_only_after_a_providers_consistency_wait():
    """localapply.apply: a failed consistency wait gets one more apply; any other failure none."""
    from mlgov.review.terraform import Result

    class Fake:
        def __init__(self, *errors):
            self.errors, self.calls = list(errors), 0

        def run(self, *args, timeout):
            self.calls += 1
            err = self.errors.pop(0) if self.errors else ""
            return Result(["terraform", *args], 1 if err else 0, "", err)

    wait = "waiting for KMS Key policy update: GetKeyPolicy, exceeded maximum number of attempts, 1"
    flaky = Fake(wait)
    assert localapply.apply(flaky).ok and flaky.calls == 2
    broken = Fake("Error: creating IAM Role: AccessDenied")
    assert not localapply.apply(broken).ok and broken.calls == 1
    twice = Fake(wait, wait)
    assert not localapply.apply(twice).ok and twice.calls == 2
