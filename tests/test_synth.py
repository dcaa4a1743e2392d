"""Tier 1: what every synthesized stack holds (backend, provider, baseline), and determinism."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT, load_spec_once
from tests.helpers import resources, statements


def test_one_stack_per_account_in_cdktf_layout(tree, default_spec):
    names = sorted(ref.name for ref in default_spec.stack_refs())
    assert sorted(p for p in tree if p.endswith("cdk.tf.json")) == [
        "bootstrap/terraform/cdk.tf.json",  # day zero's Terraform delivery: a local state, applied once, no stack
        *sorted(f"stacks/{n}/cdk.tf.json" for n in names),
    ]
    manifest = json.loads(tree["manifest.json"])
    assert sorted(manifest["stacks"]) == names
    assert all(s["synthesizedStackPath"] == f"stacks/{n}/cdk.tf.json" for n, s in manifest["stacks"].items())


def test_backend_is_s3_with_native_locking(stacks, default_spec):
    state = default_spec.terraform.state
    for name, stack in stacks.items():
        assert stack["terraform"]["backend"] == {
            "s3": {
                "bucket": state.bucket,
                "key": f"mlgov/{name}.tfstate",
                "region": state.region,
                "encrypt": True,
                "use_lockfile": True,
            }
        }


def test_provider_is_pinned_to_the_account(stacks, default_spec):
    for ref in default_spec.stack_refs():
        (provider,) = stacks[ref.name]["provider"]["aws"]
        account_id = default_spec.accounts[ref.account].id
        assert provider["allowed_account_ids"] == [account_id]
        assert provider["assume_role"] == [
            {"role_arn": f"arn:aws:iam::{account_id}:role/mlgov-terraform", "session_name": "mlgov"}
        ]
        tags = provider["default_tags"][0]["tags"]
        assert tags["mlgov:layer"] == ref.layer.value and tags["company"] == "northwind-analytics"
        assert provider["region"] == ref.region
        assert stacks[ref.name]["terraform"]["required_providers"]["aws"]["version"] == "5.100.0"


_EXPRESSION = re.compile(r"\$\{([^}]*)\}")
_ADDRESS = re.compile(r"^(data\.[a-z0-9_]+|[a-z0-9_]+)\.([A-Za-z0-9_-]+)")


def foreign_references(stack: dict) -> list[str]:
    """Every ``${...}`` expression of a stack that names no resource or data source of that
    stack (a reference into another stack's state: cdktf's terraform_remote_state)."""
    own = {f"{t}.{n}" for t, items in stack.get("resource", {}).items() for n in items}
    own |= {
        f"data.{t}.{n}" for t, items in stack.get("data", {}).items() if t != "terraform_remote_state" for n in items
    }
    found = set()
    for expression in _EXPRESSION.findall(json.dumps(stack)):
        match = _ADDRESS.match(expression)
        if match is None or f"{match.group(1)}.{match.group(2)}" not in own:
            found.add(expression)
    return sorted(found)


@pytest.mark.parametrize("spec_file", ["org.yaml", "mlgov/examples/kitchen-sink.yaml"])
def test_a_slice_names_its_core_stacks_things_never_refers_to_them(spec_file, stacks, example_tree):
    # A team slice is planned without its core stack's state: what it uses of the core (keys,
    # buckets, the bus) is named (deterministic names, key aliases), never a Terraform reference.
    spec = load_spec_once(ROOT / spec_file)
    if spec_file == "org.yaml":
        trees = stacks
    else:
        tree = example_tree(ROOT / spec_file)
        trees = {ref.name: json.loads(tree[f"stacks/{ref.name}/cdk.tf.json"]) for ref in spec.stack_refs()}
    slices = [ref.name for ref in spec.stack_refs() if ref.is_slice]
    assert slices
    for name in slices:
        assert foreign_references(trees[name]) == [], name
        assert "terraform_remote_state" not in trees[name].get("data", {}), name
    # nor does a core stack export anything for a slice to read
    for ref in spec.stack_refs():
        assert not [o for o in trees[ref.name].get("output", {}) if "cross-stack" in o], ref.name


def test_every_account_has_the_baseline(stacks, default_spec):
    for ref in default_spec.stack_refs():
        stack = stacks[ref.name]
        if ref.is_slice:  # a team's slice: the baseline is its account's core stack's
            assert "aws_kms_key" not in stack.get("resource", {}), ref.name
            # its only bucket: in the hub, the team's own artifact store
            buckets = sorted(resources(stack, "aws_s3_bucket"))
            assert buckets == ([f"pipeline_{ref.team}"] if ref.account == default_spec.hub else []), ref.name
            continue
        account_id = default_spec.accounts[ref.account].id
        key = resources(stack, "aws_kms_key")["platform"]
        assert key["enable_key_rotation"] is True
        # the account root, plus (accounts with a network) flow log delivery for this account only
        for s in statements(key["policy"]):
            if s["Sid"] == "FlowLogDeliveryEncrypts":
                assert s["Principal"] == {"Service": "delivery.logs.amazonaws.com"}
                assert s["Condition"]["StringEquals"] == {"aws:SourceAccount": account_id}
            else:
                assert s["Principal"] == {"AWS": f"arn:aws:iam::{account_id}:root"}
        bucket = f"nwa-platform-{account_id}-{ref.region}"
        assert resources(stack, "aws_s3_bucket")["platform"]["bucket"] == bucket
        pab = resources(stack, "aws_s3_bucket_public_access_block")["platform"]
        assert all(
            pab[flag] is True
            for flag in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets")
        )
        assert (
            resources(stack, "aws_s3_bucket_versioning")["platform"]["versioning_configuration"]["status"] == "Enabled"
        )
        sse = resources(stack, "aws_s3_bucket_server_side_encryption_configuration")["platform"]["rule"][0]
        assert sse["apply_server_side_encryption_by_default"] == {
            "sse_algorithm": "aws:kms",
            "kms_master_key_id": "${aws_kms_key.platform.arn}",
        }
        assert (
            resources(stack, "aws_s3_bucket_ownership_controls")["platform"]["rule"]["object_ownership"]
            == "BucketOwnerEnforced"
        )
        deny = statements(resources(stack, "aws_s3_bucket_policy")["platform"]["policy"])[0]
        assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert deny["Resource"] == [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]


def test_no_machine_paths_or_timestamps(tree):
    for path, data in tree.items():
        if path.endswith(".zip"):
            continue  # binary assets: determinism checked in test_governance (fixed times, sorted)
        text = data.decode()
        assert str(ROOT) not in text and "/tmp/" not in text, path
        assert text.endswith("\n") and not text.endswith("\n\n"), path


def test_json_is_canonical(tree):
    for path, data in tree.items():
        if path.endswith(".json"):
            assert (
                data == (json.dumps(json.loads(data), sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()
            ), path


def test_rendering_again_and_reordered_gives_identical_bytes(tree, render_spec):
    # GIVEN the spec with every mapping reversed WHEN rendered again in this process
    # THEN every byte matches the first rendering (black's assert_stable)
    import yaml

    def reverse(node):
        if isinstance(node, dict):
            return {k: reverse(v) for k, v in reversed(list(node.items()))}
        if isinstance(node, list):
            return [reverse(v) for v in node]
        return node

    data = reverse(yaml.safe_load((ROOT / "org.yaml").read_text()))
    assert render_spec(json.dumps(data)) == tree
    assert render_spec(ROOT / "org.yaml") == tree


@pytest.mark.slow  # starts the CLI in a subprocess
def test_committed_generated_is_up_to_date_under_another_hash_seed():
    # A fresh process with a different PYTHONHASHSEED must render exactly the committed tree.
    env = dict(os.environ, PYTHONHASHSEED="4242")
    proc = subprocess.run(
        [sys.executable, "main.py", "synth", "--check"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert "is up to date" in proc.stdout
