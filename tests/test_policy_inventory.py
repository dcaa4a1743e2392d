"""The policy inventory (mlgov.platform.iam.inventory) lists exactly the documents synthesis writes.

For org.yaml and every example spec, the set of (stack, address, attribute, document) found in
the synthesized stacks equals the inventory's, computed without cdktf. A document the inventory
misses, one it invents, or a construct that attaches a different text all break the equality.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlgov.platform import bootstrap
from mlgov.platform.iam import inventory
from mlgov.review import policies
from mlgov.review.product_policies import home_region, product_documents
from mlgov.validation import load_spec

ROOT = Path(__file__).resolve().parent.parent
SPECS = [ROOT / "org.yaml", *sorted((ROOT / "mlgov" / "examples").glob("*.yaml"))]

Row = tuple[str, str, str, str]


def synthesized(tree: dict[str, bytes]) -> set[Row]:
    """(stack, address, attribute, document) of every policy in the tree's cdk.tf.json files,
    found the way review.policies finds them, references left as the stack holds them."""
    rows: set[Row] = set()
    for path, data in tree.items():
        if path == bootstrap.TERRAFORM_STACK:
            name = inventory.BOOTSTRAP_STACK
        elif path.startswith("stacks/") and path.endswith("/cdk.tf.json"):
            name = path.split("/")[1]
        else:
            continue
        doc = json.loads(data)
        stack = policies.StackResolver(name, doc)
        for rtype, items in stack.resources.items():
            if rtype in policies._TF_SKIP:
                continue
            for rname, attrs in items.items():
                address = f"{rtype}.{rname}"
                if rtype == "aws_lambda_permission":
                    text = inventory.lambda_permission_text(policies.lambda_permission(attrs, stack.function_arn))
                    rows.add((name, address, "statement", text))
                    continue
                for attr, value in attrs.items():
                    if attr == "inline_policy":
                        for block in value if isinstance(value, list) else [value]:
                            rows.add((name, address, f"inline_policy/{block.get('name', '')}", block.get("policy")))
                    elif policies._policy_json(value) is not None:
                        rows.add((name, address, attr, value))
    return rows


def listed(spec) -> set[Row]:
    """The inventory's rows of the Terraform stacks (the StackSet template's are compared below)."""
    return {
        (d.stack, d.address, d.attribute, d.text)
        for d in inventory.documents(spec)
        if not d.stack.startswith(bootstrap.MEMBER_TEMPLATE)
    }


def difference(found: set[Row], inv: set[Row]) -> list[str]:
    """What one side has and the other lacks, one line each (address and the first characters)."""
    return [f"synthesized only: {r[0]} {r[1]}.{r[2]}: {r[3][:120]}" for r in sorted(found - inv)] + [
        f"inventory only: {r[0]} {r[1]}.{r[2]}: {r[3][:120]}" for r in sorted(inv - found)
    ]


@pytest.fixture(scope="module")
def default_rows(tree, default_spec):
    return synthesized(tree), listed(default_spec)


def test_default_spec_inventory_equals_synthesis(default_rows):
    # GIVEN org.yaml synthesized WHEN its policies are compared with the inventory THEN equal
    found, inv = default_rows
    assert len(found) > 100
    assert difference(found, inv) == []


@pytest.mark.parametrize("path", SPECS[1:], ids=[p.stem for p in SPECS[1:]])
def test_example_spec_inventory_equals_synthesis(example_tree, path):
    found, inv = synthesized(example_tree(path)), listed(load_spec(path))
    assert found
    assert difference(found, inv) == []


def test_the_bootstrap_is_in_the_inventory(default_rows, tree, default_spec):
    # GIVEN org.yaml's bootstrap (docs/day-zero.md) THEN its Terraform delivery's documents are
    # rows of the equality above: the two roles' trusts, the plan role's inline policy, the state
    # key's, state and log buckets' policies
    found, _ = default_rows
    assert sorted((r[1], r[2]) for r in found if r[0] == inventory.BOOTSTRAP_STACK) == [
        ("aws_iam_role.terraform", "assume_role_policy"),
        ("aws_iam_role.terraform_plan", "assume_role_policy"),
        ("aws_iam_role_policy.terraform_plan", "policy"),
        ("aws_kms_key.terraform_state", "policy"),
        ("aws_s3_bucket_policy.access_logs", "policy"),
        ("aws_s3_bucket_policy.terraform_state", "policy"),
    ]
    # AND the StackSet's template, evaluated as review evaluates it in one member account, holds
    # the documents the inventory lists for that account (three per member account)
    members = [d for d in inventory.documents(default_spec) if d.stack.startswith(bootstrap.MEMBER_TEMPLATE)]
    assert [d.stack for d in members] == [f"{bootstrap.MEMBER_TEMPLATE}@{d.account}" for d in members]
    assert sorted(d.account for d in members) == sorted(
        k for k in default_spec.accounts if k != default_spec.organization.management_account for _ in range(3)
    )
    text = tree[bootstrap.MEMBER_TEMPLATE].decode()
    found_docs = {
        p.id: p.document for p in policies.text_policies(text, bootstrap.MEMBER_TEMPLATE, "bootstrap", "eu-west-1")
    }
    # (review stands 123456789012 for the account the template is deployed in; lists compared as sets)
    first = [d for d in members if d.account == members[0].account]
    listed_docs = {
        f"{bootstrap.MEMBER_TEMPLATE}:{d.address}:{d.attribute}": unordered(
            json.loads(d.text.replace(d.account_id, policies.ACCOUNT))
        )
        for d in first
    }
    assert {k: unordered(v) for k, v in found_docs.items()} == listed_docs


def unordered(value):
    """A JSON value with every list sorted (an ARN list's order follows the account ids in it)."""
    if isinstance(value, dict):
        return {k: unordered(v) for k, v in value.items()}
    if isinstance(value, list):
        return sorted((unordered(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    return value


def test_a_dropped_document_or_an_added_statement_is_reported(default_rows):
    # GIVEN the equal sets WHEN the inventory loses one document, or a construct attaches a
    # document with one more statement THEN the comparison names that address
    found, inv = default_rows
    dropped = sorted(inv)[0]
    assert difference(found, inv - {dropped}) == [
        f"synthesized only: {dropped[0]} {dropped[1]}.{dropped[2]}: {dropped[3][:120]}"
    ]
    role = next(r for r in sorted(found) if r[1].startswith("aws_iam_role_policy."))
    doc = json.loads(role[3])
    doc["Statement"].append({"Sid": "Extra", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"})
    changed = (*role[:3], json.dumps(doc, sort_keys=True, separators=(",", ":")))
    lines = difference((found - {role}) | {changed}, inv)
    assert len(lines) == 2 and all(role[1] in line for line in lines)


def test_every_document_has_a_kind_an_object_and_a_size(default_spec):
    docs = inventory.documents(default_spec)
    kinds = {d.kind for d in docs}
    assert kinds >= {"trust", "identity-inline", "managed", "scp", "key", "bucket", "queue", "topic", "bus"}
    assert all(d.aws_object and d.size > 0 for d in docs)
    # Sorted and unique by place.
    places = [(d.stack, d.address, d.attribute) for d in docs]
    assert places == sorted(set(places))


def test_sizes_count_as_aws_does(default_spec):
    docs = inventory.documents(default_spec)
    # IAM: no white space counted; the documents are compact already, so size is the length
    # once the $${ escape is read as ${ (descriptions with spaces would shrink it further).
    plain = next(d for d in docs if d.kind == "trust" and "$$" not in d.text)
    assert plain.size == len(re.sub(r"\s", "", plain.text))
    escaped = next(d for d in docs if "$${" in d.text)
    assert "$${" not in escaped.sized_text
    assert escaped.sized_text.count("${aws:") == escaped.text.count("$${aws:") > 0
    # SCPs: as sent, white space included.
    scp = next(d for d in docs if d.kind == "scp")
    assert scp.size == len(scp.text)


def test_a_key_reference_counts_as_the_longest_key_arn(default_spec):
    # GIVEN a document holding ${aws_kms_key.<name>.arn} WHEN sized THEN the reference counts
    # as a real key ARN of that stack's account and region (a UUID or mrk- id: 36 characters)
    doc = next(d for d in inventory.documents(default_spec) if "${aws_kms_key." in d.text)
    refs = re.findall(r"\$\{aws_kms_key\.[a-z_]+\.arn\}", doc.text)
    real = f"arn:aws:kms:{doc.region}:{doc.account_id}:key/mrk-0123456789abcdef0123456789abcdef"
    assert len(real) == len(f"arn:aws:kms:{doc.region}:{doc.account_id}:key/") + 36
    expected = len(re.sub(r"\s", "", doc.text.replace("$${", "${"))) + sum(len(real) - len(r) for r in refs)
    assert doc.size == expected
    kind, account, region, aws_object, name, text = doc.as_quota_row()
    assert (kind, account, region, aws_object) == (doc.kind, doc.account, doc.region, doc.aws_object)
    assert name == f"{doc.stack}:{doc.address}" and "${aws_kms_key" not in text


def test_an_unknown_reference_is_refused_not_guessed():
    doc = inventory.PolicyDocument(
        "s", "a", "123456789012", "us-east-1", "x.y", "policy", "bucket", "b", "${aws_x.y.arn}"
    )
    with pytest.raises(ValueError, match="no known length"):
        _ = doc.size


def test_product_documents_are_the_policies_review_finds_in_the_templates(default_spec):
    # GIVEN the committed generated/products (synth --check keeps them equal to the spec's)
    # WHEN review collects their policies THEN the product inventory lists the same documents
    generated = ROOT / "generated"
    region = home_region(default_spec)
    found = {
        (c.id, json.dumps(c.document, sort_keys=True, separators=(",", ":")))
        for f in sorted(generated.glob("products/**/*.yaml"))
        for c in policies.template_policies(f, generated, region)
    }
    docs = product_documents(default_spec)
    listed_ids = {(f"{d.stack}:{':'.join(filter(None, (d.address, d.attribute)))}", d.text) for d in docs}
    assert len(found) > 20 and listed_ids == found
    kinds = {d.kind for d in docs}
    assert {"trust", "identity-inline", "managed", "bucket"} <= kinds and "resource" not in kinds


def test_validate_policies_lists_every_document_as_a_table_and_json(default_spec):
    from mlgov.cli import cli

    docs = inventory.documents(default_spec) + product_documents(default_spec)
    table = CliRunner().invoke(cli, ["validate", str(ROOT / "org.yaml"), "--policies"])
    assert table.exit_code == 0, table.output
    lines = [line for line in table.output.splitlines() if line.startswith(tuple({d.stack for d in docs}))]
    assert len(lines) == len(docs)
    largest = max(docs, key=lambda d: d.size)
    assert any(largest.address in line and str(largest.size) in line for line in lines)
    as_json = CliRunner().invoke(cli, ["validate", str(ROOT / "org.yaml"), "--policies", "--json"])
    assert as_json.exit_code == 0, as_json.output
    rows = json.loads(as_json.output)["policies"]
    assert [(r["stack"], r["address"], r["kind"], r["object"], r["size"]) for r in rows] == [
        (d.stack, ".".join(filter(None, (d.address, d.attribute))), d.kind, d.aws_object, d.size) for d in docs
    ]


def test_validate_policies_keeps_the_exit_code_of_a_bad_spec(tmp_path):
    from mlgov.cli import cli

    bad = tmp_path / "bad.yaml"
    bad.write_text((ROOT / "org.yaml").read_text().replace("organization:", "organisation:", 1))
    result = CliRunner().invoke(cli, ["validate", str(bad), "--policies"])
    assert result.exit_code != 0
    assert "Traceback" not in result.output
