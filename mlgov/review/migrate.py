"""Move an org from the combined stacks to the team slices without touching AWS objects.

Before the team slices, the hub and every test and prod account had one stack holding every
team's resources. Now each team's resources sit in the team's own slice of the account
(``<account>-team-<team>``, :func:`mlgov.spec.model.team_stack_name`), at the SAME Terraform
address. Moving them is a state operation only, written as Terraform blocks (Terraform 1.7+):

- in each slice, an ``import`` block per resource, with the id AWS knows it by: computed from
  the resource's names (:data:`IMPORT_IDS`), or, for the one kind whose id AWS generates (an SNS
  subscription's ARN), read from the old state of the account's stack. Nothing is guessed: a
  resource type not in the table, or a generated id without the old state, is refused;
- in the core stack, a ``removed`` block per moved address with ``lifecycle { destroy = false }``:
  Terraform forgets it instead of destroying it.

``mlgov migrate split-stacks`` writes them as fragments under ``customizations/stacks/<stack>/``
beside the spec (:mod:`mlgov.synth.customize`), so the next ``synth`` merges them into the
generated stacks; after the core stacks and then the slices are applied, delete the fragments
(docs/changing-the-platform.md).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlgov.errors import MlgovError
from mlgov.platform.canonical import Tree, canonical_json
from mlgov.spec.model import OrgSpec, StackRef

FRAGMENT = "mlgov-split-stacks.tf.json"
_REF = re.compile(r"^\$\{([a-z0-9_]+)\.([A-Za-z0-9_-]+)\.([a-z_]+)\}$")


class MigrationError(MlgovError):
    """The migration cannot be written exactly; one line saying what is missing."""


@dataclass(frozen=True)
class Resource:
    """One resource of a synthesized stack, its references to the same stack resolvable."""

    stack: str
    address: str
    config: dict[str, Any]
    region: str
    account_id: str
    resources: dict[str, dict[str, Any]]

    def value(self, key: str) -> str:
        """A string argument, a reference to another resource of the stack followed to its literal."""
        value = self.config.get(key)
        seen = 0
        while isinstance(value, str) and (match := _REF.match(value)) and seen < 5:
            target = self.resources.get(f"{match.group(1)}.{match.group(2)}", {})
            value, seen = target.get(match.group(3)), seen + 1
        if not isinstance(value, str) or "${" in value:
            raise MigrationError(f"{self.stack}: {self.address}: {key} is not known from the configuration")
        return value


def _queue_url(r: Resource, name: str) -> str:
    return f"https://sqs.{r.region}.amazonaws.com/{r.account_id}/{name}"


def _topic_arn(r: Resource, name: str) -> str:
    return f"arn:aws:sns:{r.region}:{r.account_id}:{name}"


def _event_rule_id(r: Resource) -> str:
    bus = r.config.get("event_bus_name")
    return f"{r.value('event_bus_name')}/{r.value('name')}" if bus and bus != "default" else r.value("name")


def _event_target_id(r: Resource) -> str:
    bus = r.config.get("event_bus_name")
    prefix = f"{r.value('event_bus_name')}/" if bus and bus != "default" else ""
    return f"{prefix}{r.value('rule')}/{r.value('target_id')}"


def _queue_policy_id(r: Resource) -> str:
    # queue_url refers to the queue's url, which is only known after apply: follow to its name.
    match = _REF.match(str(r.config.get("queue_url", "")))
    if match is None:
        raise MigrationError(f"{r.stack}: {r.address}: queue_url is not a reference to a queue of the stack")
    queue = r.resources[f"{match.group(1)}.{match.group(2)}"]
    return _queue_url(r, queue["name"])


def _topic_policy_id(r: Resource) -> str:
    match = _REF.match(str(r.config.get("arn", "")))
    if match is None:
        raise MigrationError(f"{r.stack}: {r.address}: arn is not a reference to a topic of the stack")
    return _topic_arn(r, r.resources[f"{match.group(1)}.{match.group(2)}"]["name"])


def _bucket_name(r: Resource) -> str:
    """The bucket a bucket's configuration resource names: its ``bucket`` argument, a reference
    to a bucket of the stack followed to that bucket's name (its id is its name)."""
    match = _REF.match(str(r.config.get("bucket", "")))
    if match is None:
        return r.value("bucket")
    if match.group(1) != "aws_s3_bucket" or match.group(3) not in ("id", "bucket"):
        raise MigrationError(f"{r.stack}: {r.address}: bucket is not a reference to a bucket of the stack")
    name = r.resources.get(f"aws_s3_bucket.{match.group(2)}", {}).get("bucket")
    if not isinstance(name, str) or "${" in name:
        raise MigrationError(f"{r.stack}: {r.address}: bucket is not known from the configuration")
    return name


# Import id of each resource type a slice holds, from its names (the AWS provider's documented
# `terraform import` ids for these types). A type missing here is refused, never guessed.
IMPORT_IDS: dict[str, Callable[[Resource], str]] = {
    "aws_iam_role": lambda r: r.value("name"),
    "aws_iam_role_policy": lambda r: f"{r.value('role')}:{r.value('name')}",
    "aws_cloudwatch_event_rule": _event_rule_id,
    "aws_cloudwatch_event_target": _event_target_id,
    "aws_codebuild_project": lambda r: r.value("name"),
    "aws_codepipeline": lambda r: r.value("name"),
    "aws_sqs_queue": lambda r: _queue_url(r, r.value("name")),
    "aws_sqs_queue_policy": _queue_policy_id,
    "aws_ecr_repository": lambda r: r.value("name"),
    "aws_ecr_lifecycle_policy": lambda r: r.value("repository"),
    "aws_ecr_repository_policy": lambda r: r.value("repository"),
    "aws_sns_topic": lambda r: _topic_arn(r, r.value("name")),
    "aws_sns_topic_policy": _topic_policy_id,
    "aws_cloudwatch_metric_alarm": lambda r: r.value("alarm_name"),
    # the team's artifact store (in the hub's stack since the per-team stores): the bucket name
    "aws_s3_bucket": lambda r: r.value("bucket"),
    "aws_s3_bucket_lifecycle_configuration": _bucket_name,
    "aws_s3_bucket_ownership_controls": _bucket_name,
    "aws_s3_bucket_policy": _bucket_name,
    "aws_s3_bucket_public_access_block": _bucket_name,
    "aws_s3_bucket_server_side_encryption_configuration": _bucket_name,
    "aws_s3_bucket_versioning": _bucket_name,
}
# Types whose import id AWS generates: read from the old state of the account's stack.
FROM_STATE = frozenset({"aws_sns_topic_subscription"})


def state_ids(path: Path) -> dict[str, str]:
    """``{address: id}`` of the managed resources in a Terraform state file (format 4)."""
    try:
        doc = json.loads(path.read_bytes())
    except OSError as exc:
        raise MigrationError(f"{path}: cannot read it ({exc.strerror})") from None
    except ValueError as exc:
        raise MigrationError(f"{path}: not a Terraform state (not JSON: {exc})") from None
    if not isinstance(doc, dict) or doc.get("version") != 4 or not isinstance(doc.get("resources"), list):
        raise MigrationError(f"{path}: not a Terraform state of format version 4 (`terraform state pull` writes one)")
    out = {}
    for res in doc["resources"]:
        if res.get("mode") != "managed" or res.get("module"):
            continue
        instances = res.get("instances") or []
        if len(instances) != 1 or "index_key" in instances[0]:
            continue  # mlgov's stacks use neither count nor for_each
        out[f"{res['type']}.{res['name']}"] = str(instances[0]["attributes"].get("id"))
    return out


def _resources(stack: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{t}.{n}": body for t, items in stack.get("resource", {}).items() for n, body in items.items()}


def plan_fragments(
    spec: OrgSpec, tree: Tree, states: dict[str, Path], cores: set[str] | None = None
) -> dict[str, dict[str, Any]]:
    """``{stack name: fragment}``: the ``import`` blocks of every slice and the ``removed``
    blocks of every core stack that has slices, for ``tree`` (the spec's rendered stacks).

    ``states``: the old state file of a core stack, by stack name. With it, only what that
    state holds is moved (anything else is created as usual) and generated ids are read from
    it; without it every resource of the slices is taken to exist under its name. ``cores``:
    move only the slices of these core stacks (None: of every core stack).
    """
    refs = {ref.name: ref for ref in spec.stack_refs()}
    for name in sorted(states):
        ref = refs.get(name)
        if ref is None or ref.is_slice or not any(r.core == name and r.is_slice for r in refs.values()):
            raise MigrationError(f"--state {name}: not a core stack with team slices")
    with_slices = {r.core for r in refs.values() if r.is_slice}
    for name in sorted((cores or set()) - with_slices):
        raise MigrationError(f"--stack {name}: not a core stack with team slices")
    old = {name: state_ids(path) for name, path in sorted(states.items())}
    fragments: dict[str, dict[str, Any]] = {}
    removed: dict[str, list[str]] = {}
    for ref in sorted(refs.values()):
        if not ref.is_slice or (cores is not None and ref.core not in cores):
            continue
        stack = json.loads(tree[f"stacks/{ref.name}/cdk.tf.json"])
        blocks = _imports(spec, ref, stack, old.get(ref.core))
        if blocks:
            fragments[ref.name] = {"import": blocks}
            removed.setdefault(ref.core, []).extend(block["to"] for block in blocks)
    for core, addresses in sorted(removed.items()):
        fragments[core] = {
            "removed": [{"from": address, "lifecycle": {"destroy": False}} for address in sorted(addresses)]
        }
    return fragments


def _imports(spec: OrgSpec, ref: StackRef, stack: dict[str, Any], old: dict[str, str] | None) -> list[dict[str, str]]:
    resources = _resources(stack)
    account_id = spec.accounts[ref.account].id
    blocks = []
    for address in sorted(resources):
        rtype = address.split(".", 1)[0]
        if old is not None and address not in old:
            continue  # not in the old stack: created as usual
        if rtype in FROM_STATE:
            if old is None:
                raise MigrationError(
                    f"{ref.name}: {address}: AWS generated its id; give the old state of {ref.core} "
                    f"(--state {ref.core}=FILE, from `terraform state pull`)"
                )
            blocks.append({"to": address, "id": old[address]})
            continue
        compute = IMPORT_IDS.get(rtype)
        if compute is None:
            raise MigrationError(f"{ref.name}: {address}: no known import id for {rtype}; cannot move it")
        resource = Resource(ref.name, address, resources[address], ref.region, account_id, resources)
        blocks.append({"to": address, "id": compute(resource)})
    return blocks


def fragment_files(fragments: dict[str, dict[str, Any]]) -> dict[str, bytes]:
    """``{path relative to the spec's folder: bytes}`` of the fragments (canonical JSON)."""
    return {f"customizations/stacks/{name}/{FRAGMENT}": canonical_json(doc) for name, doc in sorted(fragments.items())}


def write_fragments(home: Path, files: dict[str, bytes]) -> list[str]:
    """Write the fragment files under ``home``; a file already there with other content is
    refused before anything is written (mlgov never overwrites a file it did not write).
    Returns the paths written or already identical."""
    for rel, data in sorted(files.items()):
        target = home / rel
        if target.is_symlink() or (target.exists() and (not target.is_file() or target.read_bytes() != data)):
            raise MigrationError(f"{target}: already exists with other content; remove it first")
    for rel, data in sorted(files.items()):
        target = home / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            target.write_bytes(data)
    return sorted(files)
