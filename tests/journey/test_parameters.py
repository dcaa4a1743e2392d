"""Launch-time handoff: every SSM parameter a product version reads is written where it launches.

Products carry no per-team data (a new team never changes a released version); they resolve
it from SSM parameters at launch. This walks every rendered product version that takes
``AWS::SSM::Parameter::Value<...>`` parameters and asserts that each parameter it names is
written, in every account the product's portfolio is shared to, by that account's stack (or
by another product, ``naming.PRODUCT_PARAMETERS``). On every spec of the list (tests/conftest.py).
"""

from __future__ import annotations

import json

from mlgov.platform import naming
from mlgov.review.policies import parse_template
from mlgov.spec.model import Layer, OrgSpec, StackRef


def _written(spec: OrgSpec, tree: dict[str, bytes], ref: StackRef) -> set[str]:
    """Parameters written in ``ref``'s account and region, by any stack of the account (a dev
    account's primary stack writes the team's parameters into its other regions too)."""
    out = set()
    for other in spec.stack_refs():
        if other.account != ref.account:
            continue
        doc = json.loads(tree[f"stacks/{other.name}/cdk.tf.json"])
        regions = {f"aws.{p['alias']}": p["region"] for p in doc["provider"]["aws"] if p.get("alias")}
        for param in doc.get("resource", {}).get("aws_ssm_parameter", {}).values():
            if regions.get(param.get("provider", ""), other.region) == ref.region:
                out.add(param["name"])
    return out


def _read(text: bytes) -> set[str]:
    template = parse_template(text.decode("utf-8"))
    return {
        str(p["Default"])
        for p in (template.get("Parameters") or {}).values()
        if str(p.get("Type", "")).startswith("AWS::SSM::Parameter::Value<") and "Default" in p
    }


def missing_parameters(spec: OrgSpec, tree: dict[str, bytes]) -> list[str]:
    """One line per (product version, account, parameter) that nothing writes."""
    catalog = spec.service_catalog
    if catalog is None:
        return []
    # By rendered path: a renamed portfolio or product keeps its old key in products/.
    by_path = {
        naming.product_template_key(spec, p, k, v.name): prod
        for p, pf in catalog.portfolios.items()
        for k, prod in pf.products.items()
        for v in prod.versions
    }
    product_written = {naming.ssm_parameter(spec, *parts) for parts in naming.PRODUCT_PARAMETERS}
    dev_stacks = [ref for ref in spec.stack_refs() if ref.layer == Layer.dev]
    out = []
    for path, data in sorted(tree.items()):
        if not path.startswith("products/"):
            continue
        product = by_path[path]
        if getattr(product, "retired", False):
            continue
        for name in sorted(_read(data) - product_written):
            for ref in dev_stacks:
                if name not in _written(spec, tree, ref):
                    out.append(f"{path}: reads {name}, which stack {ref.name} does not write")
    return out


def test_products_find_their_parameters(case):
    # GIVEN a spec of the list (org.yaml and every example, or --spec) THEN every parameter a
    # product version reads is written where it launches
    assert missing_parameters(case.spec, case.tree) == []


def test_a_parameter_no_stack_writes_is_reported(default_spec, tree):
    # GIVEN the dev stacks stop writing the team's models bucket parameter
    name = naming.ssm_parameter(default_spec, "team", "models-bucket")
    broken = dict(tree)
    for ref in default_spec.stack_refs():
        if ref.layer == Layer.dev:
            doc = json.loads(broken[f"stacks/{ref.name}/cdk.tf.json"])
            params = doc["resource"]["aws_ssm_parameter"]
            doc["resource"]["aws_ssm_parameter"] = {k: v for k, v in params.items() if v["name"] != name}
            broken[f"stacks/{ref.name}/cdk.tf.json"] = json.dumps(doc).encode()
    # THEN every product version that reads it names the stack that does not write it
    lines = missing_parameters(default_spec, broken)
    assert lines and all(name in line for line in lines)
    assert any("model-build/v2.yaml" in line and "ml-dev-fraud" in line for line in lines)
