"""The offline apply's own rules (tests/offline_apply.py), on small plan documents."""

from __future__ import annotations

from tests.offline_apply import apply_offline

SCHEMAS = {
    "aws_s3_bucket": {
        "version": 0,
        "block": {"attributes": {"bucket": {"type": "string"}, "id": {"type": "string"}, "arn": {"type": "string"}}},
    },
    "aws_s3_bucket_policy": {
        "version": 0,
        "block": {"attributes": {"bucket": {"type": "string"}, "policy": {"type": "string"}, "id": {"type": "string"}}},
    },
    "aws_vpc_endpoint": {
        "version": 0,
        "block": {"attributes": {"subnet_ids": {"type": ["set", "string"]}, "id": {"type": "string"}}},
    },
    "aws_subnet": {"version": 0, "block": {"attributes": {"id": {"type": "string"}}}},
}


def _create(address: str, after: dict, unknown: dict) -> dict:
    rtype, name = address.split(".")
    return {
        "address": address,
        "mode": "managed",
        "type": rtype,
        "name": name,
        "change": {"actions": ["create"], "after": after, "after_unknown": unknown},
    }


def test_an_unknown_plain_reference_takes_the_referenced_value():
    # GIVEN a plan whose policy names its bucket by reference (listed before the bucket) and an
    # endpoint whose subnets are two references, and a policy built from a reference
    plan = {
        "terraform_version": "1.11.4",
        "resource_changes": [
            _create("aws_s3_bucket_policy.b", {}, {"bucket": True, "policy": True, "id": True}),
            _create("aws_vpc_endpoint.e", {}, {"subnet_ids": True, "id": True}),
            _create("aws_s3_bucket.b", {"bucket": "nwa-b"}, {"id": True, "arn": True}),
            _create("aws_subnet.a", {}, {"id": True}),
            _create("aws_subnet.c", {}, {"id": True}),
        ],
        "configuration": {
            "root_module": {
                "resources": [
                    {
                        "address": "aws_s3_bucket_policy.b",
                        "expressions": {
                            "bucket": {"references": ["aws_s3_bucket.b.id", "aws_s3_bucket.b"]},
                            "policy": {"references": ["aws_s3_bucket.b.arn", "aws_s3_bucket.b", "data.x.y.z"]},
                        },
                    },
                    {
                        "address": "aws_vpc_endpoint.e",
                        "expressions": {
                            "subnet_ids": {
                                "references": ["aws_subnet.a.id", "aws_subnet.a", "aws_subnet.c.id", "aws_subnet.c"]
                            }
                        },
                    },
                ]
            }
        },
    }
    # WHEN it is applied offline
    state = apply_offline(plan, None, SCHEMAS, "eu-west-1")
    values = {f"{r['type']}.{r['name']}": r["instances"][0]["attributes"] for r in state["resources"]}
    # THEN the references resolve to what the referenced resources were given
    assert values["aws_s3_bucket.b"]["id"] == "nwa-b"
    assert values["aws_s3_bucket_policy.b"]["bucket"] == "nwa-b"
    assert values["aws_vpc_endpoint.e"]["subnet_ids"] == [values["aws_subnet.a"]["id"], values["aws_subnet.c"]["id"]]
    # AND a string built from a reference gets the reference's value (the next round corrects it)
    assert values["aws_s3_bucket_policy.b"]["policy"] == values["aws_s3_bucket.b"]["arn"]
