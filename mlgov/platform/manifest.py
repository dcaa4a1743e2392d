"""The stack manifest and the Atlantis project file: how pipelines learn the stacks' order.

Both are pure functions of the spec. The order is the platform's bootstrap order: the management
account (organization, guardrails) before the ML hub (portfolios, registry, event bus) and the data
account (the lake and its grants) before the dev, test and prod accounts that consume what those
share. Core stacks of one rank depend on every core stack of the nearest earlier rank that has
stacks, never on each other, so a pipeline may run each rank in parallel. A team's slice of a
shared account (``<account>-team-<team>``) depends on that account's core stack only: the slices
of one account never wait for each other, and nothing waits for a slice.
"""

from __future__ import annotations

from typing import Any

from mlgov.errors import MlgovError
from mlgov.platform import naming
from mlgov.platform.canonical import Tree, canonical_json
from mlgov.platform.iam import arns
from mlgov.spec.model import Layer, OrgSpec, StackRef

MANIFEST_PATH = "mlgov-manifest.json"
MANIFEST_VERSION = 1

# Bootstrap rank of each layer: a stack follows every stack of the nearest lower rank.
LAYER_RANK: dict[Layer, int] = {
    Layer.management: 0,
    Layer.hub: 1,
    Layer.dev: 2,
    Layer.test: 2,
    Layer.prod: 2,
    # The lake shares to the dev accounts, whose resource links and grants need its grants first.
    Layer.data: 1,
}


def ordered_stacks(spec: OrgSpec) -> list[StackRef]:
    """Every stack in deployment order: by layer rank, a layer's core stacks before its team
    slices, then by name."""
    return sorted(spec.stack_refs(), key=lambda ref: (LAYER_RANK[ref.layer], ref.is_slice, ref.name))


def dependencies(spec: OrgSpec) -> dict[str, list[str]]:
    """Stack name -> names of the stacks it must follow (sorted): a core stack follows every
    core stack of the nearest earlier layer rank, a team slice its account's core stack."""
    refs = ordered_stacks(spec)
    by_rank: dict[int, list[str]] = {}
    for ref in refs:
        if not ref.is_slice:
            by_rank.setdefault(LAYER_RANK[ref.layer], []).append(ref.name)
    deps = {}
    for ref in refs:
        if ref.is_slice:
            deps[ref.name] = [ref.core]
            continue
        earlier = [rank for rank in by_rank if rank < LAYER_RANK[ref.layer]]
        deps[ref.name] = sorted(by_rank[max(earlier)]) if earlier else []
    return deps


def manifest(spec: OrgSpec) -> dict[str, Any]:
    """The manifest document: stacks in deployment order with where their state lives."""
    state = spec.terraform.state
    deps = dependencies(spec)
    stacks = []
    for ref in ordered_stacks(spec):
        account = spec.accounts[ref.account]
        stacks.append(
            {
                "name": ref.name,
                "account": ref.account,
                "account_id": account.id,
                "ou": account.ou,
                "layer": ref.layer.value,
                "region": ref.region,
                "directory": f"stacks/{ref.name}",
                "backend": {
                    "bucket": state.bucket,
                    "key": f"{state.key_prefix}/{ref.state}.tfstate",
                    "region": state.region,
                },
                "role_arn": spec.terraform_role_arn(ref.account),
                "plan_role_arn": arns.role(account.id, naming.terraform_plan_role(spec)),
                "depends_on": deps[ref.name],
            }
        )
    return {
        "version": MANIFEST_VERSION,
        "organization": spec.organization.name,
        "order": [s["name"] for s in stacks],
        "stacks": stacks,
    }


def stack_ranks(doc: dict[str, Any]) -> dict[str, int]:
    """Stack -> rank, from a manifest document's ``depends_on``: 0 without dependencies, else
    one past its highest dependency (so stacks of one rank never depend on each other)."""
    deps = {s["name"]: list(s.get("depends_on", [])) for s in doc.get("stacks", [])}
    rank: dict[str, int] = {}

    def visit(name: str, path: tuple[str, ...]) -> int:
        if name in rank:
            return rank[name]
        if name in path:
            raise MlgovError(f"manifest: dependency cycle through {' -> '.join((*path, name))}")
        value = 1 + max((visit(d, (*path, name)) for d in deps.get(name, []) if d in deps), default=-1)
        rank[name] = value
        return value

    for name in doc.get("order", list(deps)):
        visit(name, ())
    return rank


ATLANTIS_PATH = "atlantis.yaml"


def render_manifest(spec: OrgSpec) -> Tree:
    """Renderer for :func:`mlgov.synth.extra_renderers`: the manifest and an Atlantis config.

    ``generated/atlantis.yaml`` names the stacks as ``generated/stacks/<name>`` (paths from
    the repository root); point Atlantis at it with the server-side ``repo_config_file``, or
    write a root ``atlantis.yaml`` with ``mlgov atlantis``.
    """
    return {
        MANIFEST_PATH: canonical_json(manifest(spec)),
        ATLANTIS_PATH: atlantis_yaml(spec).encode("utf-8"),
    }


# Files whose change should replan a stack, relative to the stack's directory (Atlantis
# matches these with .dockerignore syntax). cdk.tf.json is the whole stack; the lock file
# pins the provider.
AUTOPLAN_PATTERNS = ["*.tf.json", ".terraform.lock.hcl"]


def atlantis_config(spec: OrgSpec, stacks_dir: str = "generated/stacks") -> dict[str, Any]:
    """Atlantis repo-level config (version 3): one project per stack, ordered and linked.

    Args:
        stacks_dir: where the stack directories are, relative to the repository root.
    """
    deps = dependencies(spec)
    order = stack_ranks({"stacks": [{"name": n, "depends_on": d} for n, d in deps.items()]})
    projects = []
    for ref in ordered_stacks(spec):
        project: dict[str, Any] = {
            "name": ref.name,
            "dir": f"{stacks_dir.rstrip('/')}/{ref.name}",
            "workspace": "default",
            "execution_order_group": order[ref.name],
            "autoplan": {"enabled": True, "when_modified": list(AUTOPLAN_PATTERNS)},
        }
        if deps[ref.name]:
            project["depends_on"] = deps[ref.name]
        projects.append(project)
    return {"version": 3, "automerge": False, "parallel_plan": True, "parallel_apply": False, "projects": projects}


def atlantis_yaml(spec: OrgSpec, stacks_dir: str = "generated/stacks") -> str:
    """:func:`atlantis_config` as YAML text with a header, keys in a fixed readable order."""
    import yaml

    body = yaml.safe_dump(atlantis_config(spec, stacks_dir), sort_keys=False, default_flow_style=False, width=120)
    header = "# Generated by `mlgov atlantis` from the org spec; do not edit by hand.\n"
    return header + body
