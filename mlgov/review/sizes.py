"""The size-limited documents of synthesized stacks, for :func:`mlgov.validation.quotas.check_policy_sizes`.

Reads the Terraform JSON that synthesis produced (``{stack name: cdk.tf.json}``) and returns each
policy, trust policy, event pattern, SCP and pipeline action configuration value as ``(kind,
account, region, aws_object, name, text)``, with Terraform references replaced by the ARN or name
they stand for (what AWS will receive, as :mod:`mlgov.review.policies` resolves them). A Lambda
function's permissions become the one resource policy AWS keeps for the function. Used by
``scripts/bench --quotas`` to measure real output; validation measures the documents before synthesis.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from mlgov.review.policies import StackResolver, lambda_permission
from mlgov.spec.model import OrgSpec
from mlgov.validation.quotas import Document

# resource type -> (kind, attribute with the document, attribute naming the object or "" for the
# address, what the object is)
_DOCUMENTS = {
    "aws_iam_policy": ("managed-policy", "policy", "name", "policy"),
    "aws_s3_bucket_policy": ("bucket-policy", "policy", "bucket", "bucket"),
    "aws_kms_key": ("key-policy", "policy", "", "key"),
    "aws_cloudwatch_event_bus_policy": ("bus-policy", "policy", "event_bus_name", "bus"),
    "aws_cloudwatch_event_rule": ("event-pattern", "event_pattern", "name", "rule"),
    "aws_sns_topic_policy": ("topic-policy", "policy", "arn", "topic"),
    "aws_sqs_queue_policy": ("queue-policy", "policy", "queue_url", "queue"),
    "aws_organizations_policy": ("scp", "content", "name", "SCP"),
}


def stack_documents(spec: OrgSpec, stacks: dict[str, dict[str, Any]]) -> Iterator[Document]:
    """Every size-limited document of the stacks, references resolved."""
    where = {ref.name: (ref.account, ref.region) for ref in spec.stack_refs()}
    for name in sorted(stacks):
        account, region = where[name]
        stack = StackResolver(name, stacks[name])
        resources = stacks[name].get("resource", {})
        for rtype, (kind, attr, label, what) in _DOCUMENTS.items():
            for rname, attrs in sorted(resources.get(rtype, {}).items()):
                text = attrs.get(attr)
                if isinstance(text, str) and text:
                    obj = stack.resolve(attrs[label]) if label else rname
                    yield (kind, account, region, what, obj, stack.resolve(text))
        for rname, attrs in sorted(resources.get("aws_iam_role", {}).items()):
            role = stack.resolve(attrs.get("name", rname))
            if attrs.get("assume_role_policy"):
                yield ("trust-policy", account, region, "role", role, stack.resolve(attrs["assume_role_policy"]))
            for block in attrs.get("inline_policy") or []:
                yield ("inline-policy", account, region, role, block.get("name", ""), stack.resolve(block["policy"]))
        for rname, attrs in sorted(resources.get("aws_iam_role_policy", {}).items()):
            role = stack.resolve(attrs["role"])
            yield ("inline-policy", account, region, role, attrs.get("name", rname), stack.resolve(attrs["policy"]))
        functions: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for _, attrs in sorted(resources.get("aws_lambda_permission", {}).items()):
            statement = lambda_permission(attrs, stack.function_arn)["Statement"][0]
            functions[stack.function_arn(attrs.get("function_name", ""))].append(statement)
        for function, statements in sorted(functions.items()):
            text = json.dumps(
                {"Version": "2012-10-17", "Id": "default", "Statement": statements}, separators=(",", ":")
            )
            yield ("lambda-policy", account, region, "function", function.rsplit(":", 1)[-1], text)
        for _, attrs in sorted(resources.get("aws_codepipeline", {}).items()):
            pipeline = f"pipeline {stack.resolve(attrs['name'])}"
            for stage in attrs.get("stage") or []:
                for action in stage.get("action") or []:
                    for key, value in sorted((action.get("configuration") or {}).items()):
                        name = f"{action['name']}.{key}"
                        yield ("action-configuration", account, region, pipeline, name, stack.resolve(value))
