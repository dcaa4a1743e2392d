"""The platform as the spec describes it, as a graph: for reviewers, not for Terraform.

Accounts sit inside their OUs (nested as the spec nests them); each account holds its stacks
and the platform parts its layer runs. Edges: the model-approval event flow (a team's dev
registry -> the hub's central bus -> promotion -> central registry -> the team's pipeline ->
its stages, with the manual approval where the spec asks for one) and the stack order of the
manifest (dotted). Reads ``organization``, ``accounts``, ``teams`` and the stack manifest.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from mlgov.platform.canonical import canonical_json
from mlgov.platform.manifest import dependencies, ordered_stacks
from mlgov.spec.model import Layer, OrgSpec


@dataclass
class Graph:
    """Groups (OUs, accounts), nodes and edges, all in a deterministic order."""

    groups: list[dict] = field(default_factory=list)  # id, label, parent (group id or None), kind
    nodes: list[dict] = field(default_factory=list)  # id, label, group, kind
    edges: list[dict] = field(default_factory=list)  # from, to, label, kind (event|deploy|order)


def _id(*parts: str) -> str:
    return "_".join(re.sub(r"[^A-Za-z0-9]", "_", p) for p in parts)


def build(spec: OrgSpec) -> Graph:
    """The graph of ``spec``."""
    g = Graph()
    org = spec.organization
    g.groups.append({"id": "root", "label": f"organization {org.name} ({org.id})", "parent": None, "kind": "root"})
    ous = org.organizational_units
    added: set[str] = set()

    def add_ou(name: str) -> None:
        if name in added or name == "root":
            return
        parent = ous[name].parent or "root"
        add_ou(parent)
        g.groups.append(
            {
                "id": _id("ou", name),
                "label": f"OU {name}",
                "parent": "root" if parent == "root" else _id("ou", parent),
                "kind": "ou",
            }
        )
        added.add(name)

    for name in sorted(ous):
        add_ou(name)
    for key in sorted(spec.accounts):
        account = spec.accounts[key]
        parent = "root" if account.ou == "root" else _id("ou", account.ou)
        g.groups.append(
            {
                "id": _id("acct", key),
                "label": f"{key} · {account.id} · {account.layer.value}",
                "parent": parent,
                "kind": "account",
            }
        )

    for ref in ordered_stacks(spec):
        g.nodes.append(
            {
                "id": _id("stack", ref.name),
                "label": f"stack {ref.name} ({ref.region})",
                "group": _id("acct", ref.account),
                "kind": "stack",
            }
        )
    deps = dependencies(spec)
    for ref in ordered_stacks(spec):
        for before in deps[ref.name]:
            g.edges.append({"from": _id("stack", before), "to": _id("stack", ref.name), "label": "", "kind": "order"})

    hubs = spec.keys_in_layer(Layer.hub)
    if not hubs:
        return g
    hub = _id("acct", hubs[0])
    bus, promote, registry = _id("hub", "bus"), _id("hub", "promotion"), _id("hub", "registry")
    g.nodes += [
        {"id": bus, "label": "central event bus", "group": hub, "kind": "component"},
        {"id": promote, "label": "promotion function", "group": hub, "kind": "component"},
        {"id": registry, "label": "central model registry", "group": hub, "kind": "component"},
    ]
    g.edges += [
        {"from": bus, "to": promote, "label": "approved model event", "kind": "event"},
        {"from": promote, "to": registry, "label": "copy + register (pending approval)", "kind": "event"},
    ]
    for team_name in sorted(spec.teams):
        team = spec.teams[team_name]
        dev_registry = _id("dev", team_name, "registry")
        pipeline = _id("pipeline", team_name)
        g.nodes.append(
            {
                "id": dev_registry,
                "label": f"{team_name} model registry",
                "group": _id("acct", team.dev_account),
                "kind": "component",
            }
        )
        g.nodes.append({"id": pipeline, "label": f"{team_name} deployment pipeline", "group": hub, "kind": "component"})
        g.edges.append({"from": dev_registry, "to": bus, "label": "model approved", "kind": "event"})
        g.edges.append({"from": registry, "to": pipeline, "label": f"{team_name} model approved", "kind": "event"})
        previous = pipeline
        for stage in team.stages:
            node = _id("stage", team_name, stage.name)
            g.nodes.append(
                {
                    "id": node,
                    "label": f"{team_name} {stage.name} endpoint",
                    "group": _id("acct", stage.account),
                    "kind": "stage",
                }
            )
            label = "manual approval" if stage.manual_approval else "deploy"
            g.edges.append({"from": previous, "to": node, "label": label, "kind": "deploy"})
            previous = node
    return g


def _children(g: Graph, parent: str | None) -> list[dict]:
    return [x for x in g.groups if x["parent"] == parent]


def mermaid(g: Graph) -> str:
    """Mermaid flowchart (GitHub renders it in Markdown)."""
    lines = ["flowchart LR"]

    def emit(group: dict, depth: int) -> None:
        pad = "  " * depth
        lines.append(f'{pad}subgraph {group["id"]}["{group["label"]}"]')
        for node in (n for n in g.nodes if n["group"] == group["id"]):
            shape = ('[("', '")]') if node["kind"] == "stack" else ('["', '"]')
            lines.append(f"{pad}  {node['id']}{shape[0]}{node['label']}{shape[1]}")
        for child in _children(g, group["id"]):
            emit(child, depth + 1)
        lines.append(f"{pad}end")

    for top in _children(g, None):
        emit(top, 1)
    arrows = {"event": "-->", "deploy": "==>", "order": "-.->"}
    for e in g.edges:
        label = f'|"{e["label"]}"|' if e["label"] else ""
        lines.append(f"  {e['from']} {arrows[e['kind']]}{label} {e['to']}")
    return "\n".join(lines) + "\n"


def dot(g: Graph) -> str:
    """Graphviz dot (``dot -Tsvg``)."""
    lines = ["digraph mlgov {", "  rankdir=LR;", '  node [shape=box, fontname="Helvetica"];', "  compound=true;"]

    def emit(group: dict, depth: int) -> None:
        pad = "  " * depth
        lines.append(f"{pad}subgraph cluster_{group['id']} {{")
        lines.append(f"{pad}  label={json.dumps(group['label'])};")
        for node in (n for n in g.nodes if n["group"] == group["id"]):
            shape = "cylinder" if node["kind"] == "stack" else "box"
            lines.append(f"{pad}  {node['id']} [label={json.dumps(node['label'])}, shape={shape}];")
        for child in _children(g, group["id"]):
            emit(child, depth + 1)
        lines.append(f"{pad}}}")

    for top in _children(g, None):
        emit(top, 1)
    styles = {"event": "solid", "deploy": "bold", "order": "dashed"}
    for e in g.edges:
        attrs = [f"style={styles[e['kind']]}"] + ([f"label={json.dumps(e['label'])}"] if e["label"] else [])
        lines.append(f"  {e['from']} -> {e['to']} [{', '.join(attrs)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(spec: OrgSpec, fmt: str) -> str:
    """The graph in ``fmt``: mermaid, dot or json."""
    g = build(spec)
    if fmt == "mermaid":
        return mermaid(g)
    if fmt == "dot":
        return dot(g)
    return canonical_json({"groups": g.groups, "nodes": g.nodes, "edges": g.edges}).decode()
