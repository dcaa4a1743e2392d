"""mlgov's own security assertions (mlgov/security.py) over every generated stack, and proof
that each assertion fails on a deliberately weakened copy of a stack."""

from __future__ import annotations

import copy
import json

import pytest
from click.testing import CliRunner

from mlgov.cli import cli
from mlgov.platform import policy
from mlgov.review import security
from mlgov.spec.model import team_stack_name
from tests.conftest import ROOT

GENERATED = ROOT / "generated"


def _files() -> dict[str, bytes]:
    return {p.relative_to(GENERATED).as_posix(): p.read_bytes() for p in sorted(GENERATED.rglob("*")) if p.is_file()}


def test_committed_generated_tree_has_no_findings():
    # GIVEN the committed generated/ WHEN every assertion runs THEN nothing is reported
    findings = security.check_tree(_files())
    assert not findings, "\n".join(map(str, findings))


def test_rendered_tree_has_no_findings(tree):
    findings = security.check_tree(tree)
    assert not findings, "\n".join(map(str, findings))


def test_checks_see_the_resources_they_guard(stacks, default_spec):
    # The assertions are not vacuous: every core stack's bucket, key and policies are found, and
    # every team slice's roles' policies and resource policies (its core holds the baseline).
    for ref in default_spec.stack_refs():
        stack = stacks[ref.name]
        kinds = {(p.rtype, p.is_resource_based) for p in security.policies(stack)}
        if not ref.is_slice:
            assert security._by_type(stack, "aws_s3_bucket") and security._by_type(stack, "aws_kms_key"), ref.name
            assert ("aws_kms_key", True) in kinds and ("aws_s3_bucket_policy", True) in kinds, ref.name
            continue
        assert security._by_type(stack, "aws_iam_role"), ref.name
        assert any(p.rtype == "aws_iam_role" and p.is_trust for p in security.policies(stack)), ref.name
        assert ("aws_iam_role_policy", False) in kinds, ref.name
        for rtype in (
            "aws_s3_bucket_policy",
            "aws_sqs_queue_policy",
            "aws_ecr_repository_policy",
            "aws_sns_topic_policy",
        ):
            if security._by_type(stack, rtype):
                assert (rtype, True) in kinds, (ref.name, rtype)
    hub_slice = stacks[team_stack_name(default_spec.hub, "fraud")]
    assert security._by_type(hub_slice, "aws_s3_bucket")  # the team's artifact store


# -- weakening: each assertion fails ---------------------------------------------------------


@pytest.fixture
def prod(stacks):
    """A private, mutable copy of the prod stack."""
    return copy.deepcopy(stacks["ml-prod"])


def _checks(findings, check):
    return [f for f in findings if f.check == check]


def _add(stack, rtype, name, config):
    stack.setdefault("resource", {}).setdefault(rtype, {})[name] = config


def _role(stack, name, statements, trust=None):
    trust = trust or [policy.statement("Trust", ["sts:AssumeRole"], principals={"Service": "sagemaker.amazonaws.com"})]
    _add(
        stack,
        "aws_iam_role",
        name,
        {
            "name": name,
            "assume_role_policy": policy.document(*trust),
            "inline_policy": [{"name": "inline", "policy": policy.document(*statements)}],
        },
    )


def _only(stack, check):
    return _checks(security.check_stack("ml-prod", stack), check)


@pytest.mark.parametrize("action", ["*", "s3:*", "iam:*"])
def test_wildcard_action_on_any_resource_fails(prod, action):
    _role(prod, "weak", [policy.statement("Broad", [action], "*")])
    found = _only(prod, security.WILDCARD)
    assert [f.address for f in found] == ["aws_iam_role.weak"]
    assert f'allows {action!r} on Resource "*"' in found[0].message


def test_wildcard_in_standalone_policy_and_not_action_fail(prod):
    _add(prod, "aws_iam_policy", "weak", {"policy": policy.document(policy.statement("Any", ["sagemaker:*"], "*"))})
    _add(
        prod,
        "aws_iam_role_policy",
        "notaction",
        {
            "policy": json.dumps(
                {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]}
            )
        },
    )
    found = _only(prod, security.WILDCARD)
    assert {f.address for f in found} == {"aws_iam_policy.weak", "aws_iam_role_policy.notaction"}


def test_named_actions_on_star_and_service_star_on_named_resource_pass(prod):
    _role(
        prod,
        "ok",
        [
            policy.statement("List", ["s3:ListAllMyBuckets"], "*"),
            policy.statement("Bucket", ["s3:*"], ["arn:aws:s3:::b"]),
        ],
    )
    assert not _only(prod, security.WILDCARD)


def test_kms_star_in_key_policy_fails(prod):
    key = prod["resource"]["aws_kms_key"]["platform"]
    doc = json.loads(key["policy"])
    doc["Statement"][0]["Action"] = "kms:*"
    key["policy"] = json.dumps(doc)
    assert [f.address for f in _only(prod, security.WILDCARD)] == ["aws_kms_key.platform"]


def test_passrole_on_star_fails(prod):
    _role(prod, "passer", [policy.statement("Pass", ["iam:PassRole"], "*")])
    messages = [f.message for f in _only(prod, security.PASSROLE)]
    assert len(messages) == 2
    assert "expected named role ARNs" in messages[0] or "expected named role ARNs" in messages[1]
    assert any("without an iam:PassedToService condition" in m for m in messages)


def test_passrole_via_wildcard_action_and_role_pattern_fails(prod):
    _role(
        prod,
        "passer",
        [
            policy.statement(
                "Pass",
                ["iam:Pass*"],
                ["arn:aws:iam::550000000006:role/team-*"],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            )
        ],
    )
    found = _only(prod, security.PASSROLE)
    assert len(found) == 1 and "team-*" in found[0].message


def test_passrole_on_named_role_with_condition_passes(prod):
    _role(
        prod,
        "passer",
        [
            policy.statement(
                "Pass",
                ["iam:PassRole"],
                ["arn:aws:iam::550000000006:role/nwa-fraud-execution"],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            )
        ],
    )
    assert not _only(prod, security.PASSROLE)


def test_bus_policy_star_without_org_condition_fails(prod):
    open_stmt = policy.statement(
        "PutFromAnyone",
        ["events:PutEvents"],
        "arn:aws:events:eu-west-1:550000000006:event-bus/x",
        principals={"AWS": "*"},
    )
    _add(prod, "aws_cloudwatch_event_bus_policy", "hub", {"event_bus_name": "x", "policy": policy.document(open_stmt)})
    assert [
        f.check for f in security.check_stack("ml-prod", prod) if f.address == "aws_cloudwatch_event_bus_policy.hub"
    ] == [security.BUS, security.PRINCIPAL]


def test_bus_policy_with_org_condition_or_named_accounts_passes(prod):
    org = policy.statement(
        "PutFromOrg",
        ["events:PutEvents"],
        "arn:aws:events:eu-west-1:550000000006:event-bus/x",
        principals={"AWS": "*"},
        conditions={"StringEquals": {"aws:PrincipalOrgID": "o-nw4a8k2j6q"}},
    )
    named = policy.statement(
        "PutFromDev",
        ["events:PutEvents"],
        "arn:aws:events:eu-west-1:550000000006:event-bus/x",
        principals={"AWS": ["330000000003", "arn:aws:iam::330000000004:root"]},
    )
    _add(prod, "aws_cloudwatch_event_bus_policy", "hub", {"event_bus_name": "x", "policy": policy.document(org, named)})
    assert not _only(prod, security.BUS) and not _only(prod, security.PRINCIPAL)


def test_bus_permission_for_star_without_condition_fails(prod):
    _add(prod, "aws_cloudwatch_event_permission", "any", {"principal": "*", "statement_id": "any"})
    assert [f.address for f in _only(prod, security.BUS)] == ["aws_cloudwatch_event_permission.any"]


def test_trust_policy_for_anyone_or_wildcard_arn_fails(prod):
    _role(
        prod,
        "open",
        [policy.statement("Read", ["s3:GetObject"], ["arn:aws:s3:::b/*"])],
        trust=[
            policy.statement(
                "Anyone",
                ["sts:AssumeRole"],
                principals={"AWS": "*"},
                conditions={"StringEquals": {"aws:PrincipalOrgID": "o-nw4a8k2j6q"}},
            ),
            policy.statement("Pattern", ["sts:AssumeRole"], principals={"AWS": "arn:aws:iam::*:root"}),
        ],
    )
    messages = [f.message for f in _only(prod, security.PRINCIPAL)]
    assert len(messages) == 2
    assert any("any principal" in m for m in messages) and any("arn:aws:iam::*:root" in m for m in messages)


def test_resource_policy_star_without_org_condition_fails(prod):
    _add(
        prod,
        "aws_sagemaker_model_package_group_policy",
        "g",
        {
            "model_package_group_name": "g",
            "resource_policy": policy.document(
                policy.statement("Read", ["sagemaker:DescribeModelPackage"], "*", principals={"AWS": "*"})
            ),
        },
    )
    assert [f.address for f in _only(prod, security.PRINCIPAL)] == ["aws_sagemaker_model_package_group_policy.g"]


@pytest.mark.parametrize(
    "rtype, mutate, expected",
    [
        (
            "aws_s3_bucket_public_access_block",
            lambda c: c.update(restrict_public_buckets=False),
            "no public access block",
        ),
        ("aws_s3_bucket_public_access_block", None, "no public access block"),
        (
            "aws_s3_bucket_versioning",
            lambda c: c.update(versioning_configuration={"status": "Suspended"}),
            "versioning is not enabled",
        ),
        ("aws_s3_bucket_versioning", None, "versioning is not enabled"),
        (
            "aws_s3_bucket_server_side_encryption_configuration",
            lambda c: c["rule"][0].update(apply_server_side_encryption_by_default={"sse_algorithm": "AES256"}),
            "no default SSE-KMS",
        ),
        (
            "aws_s3_bucket_server_side_encryption_configuration",
            lambda c: c["rule"][0]["apply_server_side_encryption_by_default"].update(kms_master_key_id="alias/aws/s3"),
            "no default SSE-KMS",
        ),
        (
            "aws_s3_bucket_server_side_encryption_configuration",
            lambda c: c["rule"][0]["apply_server_side_encryption_by_default"].update(
                kms_master_key_id="arn:aws:kms:eu-west-1:550000000006:alias/aws/s3"
            ),
            "no default SSE-KMS",
        ),
        (
            "aws_s3_bucket_policy",
            lambda c: c.update(
                policy=policy.document(
                    policy.statement(
                        "Nothing", ["s3:GetObject"], ["arn:aws:s3:::x/*"], effect="Deny", principals={"AWS": "*"}
                    )
                )
            ),
            "aws:SecureTransport",
        ),
        ("aws_s3_bucket_policy", None, "aws:SecureTransport"),
    ],
)
def test_weakened_bucket_fails(prod, rtype, mutate, expected):
    if mutate is None:
        del prod["resource"][rtype]["platform"]  # the platform bucket's (prod also has the monitoring bucket)
    else:
        mutate(prod["resource"][rtype]["platform"])
    found = _only(prod, security.BUCKET)
    assert len(found) == 1 and found[0].address == "aws_s3_bucket.platform" and expected in found[0].message


def test_second_bucket_without_companions_fails_every_bucket_check(prod):
    _add(prod, "aws_s3_bucket", "extra", {"bucket": "nwa-extra-550000000006"})
    assert len([f for f in _only(prod, security.BUCKET) if f.address == "aws_s3_bucket.extra"]) == 4


def test_kms_key_without_rotation_or_policy_fails(prod):
    key = prod["resource"]["aws_kms_key"]["platform"]
    key["enable_key_rotation"] = False
    del key["policy"]
    messages = sorted(f.message for f in _only(prod, security.KMS))
    assert messages == [
        "key rotation is not enabled",
        "no explicit key policy (the default grants kms:* to the account)",
    ]


def test_policy_reference_instead_of_literal_fails(prod):
    prod["resource"]["aws_s3_bucket_policy"]["platform"]["policy"] = "${data.aws_iam_policy_document.x.json}"
    assert [f.address for f in _only(prod, security.LITERAL)] == ["aws_s3_bucket_policy.platform"]


def _endpoint_config(**extra):
    conf = {"name": "fraud-prod", "production_variants": [{"variant_name": "main", "model_name": "m"}]}
    conf.update(extra)
    return conf


def test_prod_endpoint_config_without_encryption_or_capture_fails(prod, stacks):
    _add(prod, "aws_sagemaker_endpoint_configuration", "fraud", _endpoint_config())
    assert sorted(f.message for f in _only(prod, security.ENDPOINT)) == [
        "prod endpoint config does not capture data (data_capture_config with a destination)",
        "prod endpoint config has no kms_key_arn",
    ]
    # the same config in the test layer is not held to the prod rule
    test = copy.deepcopy(stacks["ml-test"])
    _add(test, "aws_sagemaker_endpoint_configuration", "fraud", _endpoint_config())
    assert not _checks(security.check_stack("ml-test", test), security.ENDPOINT)


def test_prod_endpoint_config_encrypting_and_capturing_passes(prod):
    _add(
        prod,
        "aws_sagemaker_endpoint_configuration",
        "fraud",
        _endpoint_config(
            kms_key_arn="${aws_kms_key.platform.arn}",
            data_capture_config=[
                {
                    "enable_capture": True,
                    "destination_s3_uri": "s3://b/capture",
                    "kms_key_id": "${aws_kms_key.platform.arn}",
                    "initial_sampling_percentage": 100,
                    "capture_options": [{"capture_mode": "Input"}],
                }
            ],
        ),
    )
    assert not _only(prod, security.ENDPOINT)


def test_cross_account_event_target_without_role_or_dlq_fails(prod):
    _add(
        prod,
        "aws_cloudwatch_event_target",
        "to_hub",
        {"rule": "r", "arn": "arn:aws:events:eu-west-1:220000000002:event-bus/nwa-ml"},
    )
    _add(prod, "aws_cloudwatch_event_target", "local", {"rule": "r", "arn": "arn:aws:sqs:eu-west-1:550000000006:q"})
    found = _only(prod, security.TARGET)
    assert {f.address for f in found} == {"aws_cloudwatch_event_target.to_hub"} and len(found) == 2
    prod["resource"]["aws_cloudwatch_event_target"]["to_hub"].update(
        role_arn="arn:aws:iam::550000000006:role/nwa-events",
        dead_letter_config=[{"arn": "arn:aws:sqs:eu-west-1:550000000006:dlq"}],
    )
    assert not _only(prod, security.TARGET)


@pytest.mark.parametrize(
    "secret",
    [
        b'"access_key": "AKIAABCDEFGHIJKLMNOP"',
        b'"secret_key": "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"',
        b"-----BEGIN RSA PRIVATE KEY-----",
        b'"password": "hunter2"',
        b'"token": "ghp_' + b"a" * 36 + b'"',
    ],
)
def test_secret_in_any_generated_file_fails(tree, secret):
    files = dict(tree)
    files["products/x/template.yaml"] = b"Resources:\n  X:\n    " + secret + b"\n"
    found = [f for f in security.check_tree(files) if f.check == security.SECRETS]
    assert found and found[0].stack == "products/x/template.yaml" and found[0].address == "line 3"


def test_generated_access_key_resource_fails(prod):
    _add(prod, "aws_iam_access_key", "ci", {"user": "ci"})
    assert [f.address for f in _only(prod, security.SECRETS)] == ["aws_iam_access_key.ci"]


def test_cli_reports_findings_and_exit_code(tmp_path, stacks):
    # GIVEN a generated tree with one weakened stack WHEN run as a CLI THEN exit 1 + one line each
    weak = copy.deepcopy(stacks["ml-prod"])
    weak["resource"]["aws_kms_key"]["platform"]["enable_key_rotation"] = False
    target = tmp_path / "stacks" / "ml-prod"
    target.mkdir(parents=True)
    (target / "cdk.tf.json").write_text(json.dumps(weak))
    weak_run = CliRunner().invoke(cli, ["scan", str(tmp_path)])
    assert weak_run.exit_code == 1, weak_run.output
    assert weak_run.stdout.splitlines() == [line for line in weak_run.stdout.splitlines() if "ml-prod" in line] != []
    clean_run = CliRunner().invoke(cli, ["scan", str(GENERATED)])
    assert clean_run.exit_code == 0, clean_run.output


def test_same_stack_role_reference_is_a_named_principal_and_object_content_is_not_a_policy(prod):
    _add(
        prod,
        "aws_sqs_queue_policy",
        "q",
        {
            "queue_url": "u",
            "policy": policy.document(
                policy.statement(
                    "Send",
                    ["sqs:SendMessage"],
                    "arn:aws:sqs:eu-west-1:550000000006:q",
                    principals={"AWS": "${aws_iam_role.sender.arn}"},
                )
            ),
        },
    )
    _add(prod, "aws_s3_object", "template", {"bucket": "b", "key": "t.yaml", "content": "Resources: {}\n"})
    assert not _only(prod, security.PRINCIPAL) and not _only(prod, security.LITERAL)
