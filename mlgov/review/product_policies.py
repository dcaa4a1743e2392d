"""The policy documents inside the Service Catalog product templates of a spec.

The stacks' documents come from :func:`mlgov.platform.iam.inventory.documents`; the product
templates (CloudFormation, ``generated/products/``) hold more: the roles, managed policies,
key and bucket policies a launch creates. Their final text depends on the launch (account,
region, parameter values), so they are evaluated the way ``review`` evaluates them
(:mod:`mlgov.review.policies`: pseudo parameters of an example account, parameter defaults or
example values) and sized on that text: an estimate for a typical launch, not an upper bound.
"""

from __future__ import annotations

import json
from collections import Counter

from mlgov.platform.catalog import render_products
from mlgov.platform.iam.inventory import PolicyDocument
from mlgov.review import policies
from mlgov.spec.model import OrgSpec

# CloudFormation resource type -> kind of the documents it holds (a role: see _kind).
_KINDS = {
    "AWS::IAM::ManagedPolicy": "managed",
    "AWS::IAM::Policy": "identity-inline",
    "AWS::S3::BucketPolicy": "bucket",
    "AWS::KMS::Key": "key",
    "AWS::SQS::QueuePolicy": "queue",
    "AWS::SNS::TopicPolicy": "topic",
    "AWS::ECR::Repository": "repository",
    "AWS::Events::EventBusPolicy": "bus",
    "AWS::Lambda::Permission": "lambda-permission",
    "AWS::SageMaker::ModelPackageGroup": "model-package-group",
}


def home_region(spec: OrgSpec) -> str:
    """The region most stacks deploy to (products launch there too; ties: the first by name)."""
    counts = Counter(ref.region for ref in spec.stack_refs() if not ref.is_slice)
    return min(counts, key=lambda region: (-counts[region], region))


def _kind(rtype: str, where: str) -> str:
    if rtype == "AWS::IAM::Role":
        return "trust" if where.endswith(":AssumeRolePolicyDocument") else "identity-inline"
    return _KINDS.get(rtype, "resource")


def product_documents(spec: OrgSpec) -> list[PolicyDocument]:
    """Every policy of every product version of ``spec``; ``stack`` is the template's path
    (``products/<portfolio>/<product>/<version>.yaml``), ``address`` the logical id (and
    property), ``aws_object`` the logical id, ``text`` the evaluated document as compact JSON."""
    region = home_region(spec)
    out = []
    for rel, data in sorted(render_products(spec).items()):
        text = data.decode("utf-8")
        resources = policies.parse_template(text).get("Resources") or {}
        for found in policies.text_policies(text, rel, rel.split("/")[-2], region):
            where = found.id.removeprefix(f"{rel}:")
            logical, _, attribute = where.partition(":")
            document = json.dumps(found.document, sort_keys=True, separators=(",", ":"))
            kind = _kind(str(resources.get(logical, {}).get("Type", "")), where)
            out.append(PolicyDocument(rel, "", policies.ACCOUNT, region, logical, attribute, kind, logical, document))
    return sorted(out, key=lambda d: (d.stack, d.address, d.attribute))
