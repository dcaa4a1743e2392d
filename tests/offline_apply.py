"""Offline stand-in for ``terraform apply``, so tests can get REAL plans of updates,
replacements and deletions without AWS.

Terraform only produces update/replace/delete actions against a prior state, and a real
state needs an apply, which needs AWS. So the tests write the state an apply would have left,
in Terraform's own state format (v4): every planned resource with the values of the plan's
``after`` and, for values only known after apply (ids, ARNs), deterministic placeholders of
the right type taken from ``terraform providers schema -json``; an unknown value whose
configuration is a plain reference to another resource's attribute (``bucket =
aws_s3_bucket.x.id``) takes that attribute's value, as an apply would. Then they converge: plan
against that state with ``-refresh=false`` and fold any remaining change back in, until
Terraform itself reports no changes (placeholders flow through references exactly as real
values would). From then on every plan is genuine: Terraform and the AWS provider compare
the new configuration with that state and decide create/update/replace/delete themselves.
"""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlgov.review.terraform import Workspace

LINEAGE = "6d6c676f-7600-4000-8000-000000000000"  # fixed: output must not vary between runs
PROVIDER_REF = 'provider["registry.terraform.io/hashicorp/aws"]'


def resource_schemas(ws: Workspace) -> dict[str, Any]:
    """{resource type: {"version", "block"}} of an initialized workspace's provider."""
    result = ws.run("providers", "schema", "-json")
    assert result.ok, result.stderr
    providers = json.loads(result.stdout)["provider_schemas"]
    return next(iter(providers.values()))["resource_schemas"]


def _placeholder(type_expr: Any, attr: str, address: str, after: dict, region: str) -> Any:
    if type_expr == "string":
        if attr == "arn" or attr.endswith("_arn"):
            rtype, _, name = address.partition(".")
            service = rtype.split("_")[1]
            if service == "iam" and attr == "arn":
                # IAM ARNs are global and typed (role/NAME): Lake Formation validates its principals.
                kind = rtype.removeprefix("aws_iam_")
                return f"arn:aws:iam::000000000000:{kind}/{after.get('name') or name}"
            return f"arn:aws:{service}:{region}:000000000000:{rtype.removeprefix('aws_')}/{name}"
        if attr == "id":
            for key in ("bucket", "name", "name_prefix"):
                if isinstance(after.get(key), str) and after[key]:
                    return after[key]
        if attr.endswith("id"):
            return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{address}#{attr}"))
        return f"offline-{attr}"
    if type_expr == "number":
        return 0
    if type_expr == "bool":
        return False
    if isinstance(type_expr, list) and type_expr[0] in ("list", "set", "tuple"):
        return []
    if isinstance(type_expr, list) and type_expr[0] == "map":
        return {}
    return None


def _attribute_refs(expression: Any) -> list[str]:
    """``type.name.attribute`` references of a configuration expression (plan JSON), in order."""
    refs = expression.get("references", []) if isinstance(expression, dict) else []
    return [r for r in refs if r.count(".") == 2 and r.split(".", 1)[0].startswith("aws_")]


def _referenced(type_expr: Any, expression: Any, filled: dict[str, dict]) -> Any:
    """The value a plain reference (or a list of them) resolves to in ``filled``
    ({address: attributes}), or None where it cannot be told without evaluating."""
    refs = _attribute_refs(expression)
    values = []
    for ref in refs:
        rtype, name, attr = ref.split(".")
        value = filled.get(f"{rtype}.{name}", {}).get(attr)
        if not isinstance(value, str):
            return None
        values.append(value)
    if type_expr == "string" and len(values) == 1:
        return values[0]
    if isinstance(type_expr, list) and type_expr[0] in ("list", "set") and type_expr[1] == "string" and values:
        return values
    return None


def _fill(
    values: Any,
    unknown: Any,
    block: dict,
    address: str,
    region: str,
    expressions: Any = None,
    filled: dict[str, dict] | None = None,
) -> Any:
    """``values`` with every unknown leaf (per ``unknown``) replaced: by the attribute it plainly
    references (``expressions``: the resource's configuration; ``filled``: attributes of the
    resources filled so far), else by a placeholder."""
    if not isinstance(values, dict):
        return values
    out = dict(values)
    unknown = unknown if isinstance(unknown, dict) else {}
    expressions = expressions if isinstance(expressions, dict) else {}
    for name, attr in block.get("attributes", {}).items():
        if unknown.get(name) is True:
            value = _referenced(attr.get("type"), expressions.get(name), filled or {})
            out[name] = value if value is not None else _placeholder(attr.get("type"), name, address, values, region)
    for name, nested in block.get("block_types", {}).items():
        mark = unknown.get(name)
        current = out.get(name)
        nested_expr = expressions.get(name)
        if isinstance(current, list):
            marks = mark if isinstance(mark, list) else [None] * len(current)
            exprs = nested_expr if isinstance(nested_expr, list) and len(nested_expr) == len(current) else []
            out[name] = [
                _fill(v, m, nested["block"], address, region, exprs[i] if exprs else None, filled)
                for i, (v, m) in enumerate(zip(current, marks, strict=False))
            ]
        elif isinstance(current, dict):
            out[name] = _fill(current, mark, nested["block"], address, region, nested_expr, filled)
    return out


def _all_refs(expressions: Any) -> set[str]:
    """Every ``type.name.attribute`` reference anywhere in a resource's configuration."""
    if isinstance(expressions, list):
        return set().union(*map(_all_refs, expressions)) if expressions else set()
    if not isinstance(expressions, dict):
        return set()
    found = set(_attribute_refs(expressions))
    for key, value in expressions.items():
        if key != "references":
            found |= _all_refs(value)
    return found


def _in_reference_order(plan: dict) -> tuple[list[dict], dict[str, dict]]:
    """The plan's managed resource changes, each after the resources it references (as far as
    the references allow), and {address: configuration expressions}."""
    configured = {
        r["address"]: r.get("expressions", {})
        for r in plan.get("configuration", {}).get("root_module", {}).get("resources", [])
    }
    changes = [rc for rc in plan.get("resource_changes", []) if rc.get("mode") == "managed"]
    pending = {rc["address"]: rc for rc in changes}

    needs = {a: {r.rsplit(".", 1)[0] for r in _all_refs(configured.get(a))} & pending.keys() - {a} for a in pending}
    ordered: list[dict] = []
    while pending:
        ready = [a for a in pending if not needs[a] & pending.keys()] or [next(iter(pending))]
        for a in ready:
            ordered.append(pending.pop(a))
    return ordered, configured


def apply_offline(plan: dict, state: dict | None, schemas: dict, region: str) -> dict:
    """The state ``terraform apply`` of ``plan`` would leave (placeholders for unknowns)."""
    instances: dict[str, dict] = {}
    for res in (state or {}).get("resources", []):
        instances[f"{res['type']}.{res['name']}"] = res
    ordered, configured = _in_reference_order(plan)
    filled = {a: res["instances"][0]["attributes"] for a, res in instances.items()}
    for rc in ordered:
        actions = rc["change"]["actions"]
        if actions == ["delete"]:
            instances.pop(rc["address"], None)
            continue
        if actions in (["no-op"], ["read"]):
            continue
        schema = schemas[rc["type"]]
        prior = {}
        if rc["address"] in instances and actions == ["update"]:
            prior = instances[rc["address"]]["instances"][0]["attributes"]
        after = dict(prior)
        after.update({k: v for k, v in (rc["change"]["after"] or {}).items() if v is not None or k not in prior})
        attributes = _fill(
            after,
            rc["change"]["after_unknown"],
            schema["block"],
            rc["address"],
            region,
            configured.get(rc["address"]),
            filled,
        )
        if actions == ["update"]:
            # Unknown-after-update leaves that had a value keep it (as AWS would usually report).
            for key, mark in (rc["change"]["after_unknown"] or {}).items():
                if mark is True and prior.get(key) is not None:
                    attributes[key] = prior[key]
        filled[rc["address"]] = attributes
        instances[rc["address"]] = {
            "mode": "managed",
            "type": rc["type"],
            "name": rc["name"],
            "provider": PROVIDER_REF,
            "instances": [
                {
                    "schema_version": schema.get("version", 0),
                    "attributes": attributes,
                    "sensitive_attributes": _sensitive_paths(rc["change"].get("after_sensitive")),
                }
            ],
        }
    serial = (state or {}).get("serial", 0) + 1
    return {
        "version": 4,
        "terraform_version": plan["terraform_version"],
        "serial": serial,
        "lineage": LINEAGE,
        "outputs": {},
        "resources": [instances[k] for k in sorted(instances)],
        "check_results": None,
    }


def _sensitive_paths(marks: Any, path: tuple = ()) -> list[list[dict[str, Any]]]:
    """State's ``sensitive_attributes`` from a plan's ``after_sensitive`` marks: without them
    Terraform plans an update of every sensitive value (e.g. an SSM parameter's ``value``),
    because the value's sensitivity differs from the state's."""
    if marks is True:
        return [
            [
                {"type": "get_attr", "value": str(p)}
                if isinstance(p, str)
                else {"type": "index", "value": {"value": p, "type": "number"}}
                for p in path
            ]
        ]
    out: list[list[dict[str, Any]]] = []
    if isinstance(marks, dict):
        for key in sorted(marks):
            out += _sensitive_paths(marks[key], (*path, key))
    elif isinstance(marks, list):
        for i, mark in enumerate(marks):
            out += _sensitive_paths(mark, (*path, i))
    return out


def plan_json(ws: Workspace, *extra: str) -> dict:
    """``terraform plan -refresh=false`` (+ extra args) and its ``show -json``."""
    result = ws.run("plan", "-input=false", "-no-color", "-lock=false", "-refresh=false", "-out=plan.tfplan", *extra)
    assert result.ok, result.stderr
    shown = ws.show_json("plan.tfplan")
    assert shown.ok, shown.stderr
    return json.loads(shown.stdout)


def converge(ws: Workspace, schemas: dict, region: str, rounds: int = 5) -> tuple[dict, dict]:
    """Simulate applying the workspace's configuration until Terraform plans no change.

    Returns (the first plan: everything created, the last: no change against the state)."""
    state: dict | None = None
    first: dict | None = None
    for _ in range(rounds):
        planned = plan_json(ws)
        first = first or planned
        pending = [rc for rc in planned["resource_changes"] if rc["change"]["actions"] not in (["no-op"], ["read"])]
        if not pending and state is not None:
            return first, planned
        state = apply_offline(planned, state, schemas, region)
        (ws.workdir / "terraform.tfstate").write_text(json.dumps(state, indent=1))
    raise AssertionError(f"offline apply did not converge in {rounds} rounds: {[rc['address'] for rc in pending]}")


@dataclass
class Applied:
    """A committed stack applied offline: its initialized workspace (``terraform.tfstate`` holds
    the converged state), the first plan (all creates) and the settled one (no change)."""

    ws: Workspace
    first: dict
    settled: dict


class OfflineApplied:
    """Committed stacks (generated/stacks) applied offline, each ONCE per session, shared by
    every test that plans against a prior state (tests/test_summarize.py, test_transitions.py).

    A test may plan another configuration in a workspace (write cdk.tf.json, plan) but puts the
    committed cdk.tf.json back and never changes the state."""

    def __init__(self, stacks_dir: Path, base: Path, cli_config: Path) -> None:
        self.stacks_dir, self.base, self.cli_config = stacks_dir, base, cli_config
        self.applied: dict[str, Applied] = {}
        self._schemas: dict | None = None

    def __call__(self, *names: str) -> dict[str, Applied]:
        new = [name for name in names if name not in self.applied]
        workspaces = {}
        for name in new:  # inits one at a time: they share the plugin cache
            ws = Workspace(self.stacks_dir / name, self.base / name, self.cli_config)
            init = ws.init()
            assert init.ok, init.stderr
            workspaces[name] = ws
        if new and self._schemas is None:
            self._schemas = resource_schemas(workspaces[new[0]])

        def apply(name: str) -> Applied:
            ws = workspaces[name]
            region = json.loads((ws.workdir / "cdk.tf.json").read_text())["provider"]["aws"][0]["region"]
            return Applied(ws, *converge(ws, self._schemas or {}, region))

        with ThreadPoolExecutor(max_workers=2) as pool:
            self.applied.update(zip(new, pool.map(apply, new), strict=True))
        return {name: self.applied[name] for name in names}
