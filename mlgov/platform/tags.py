"""The tags mlgov puts on what it creates: per account (provider ``default_tags``) and per team.

One function per question, so the constructs never spell a tag set themselves:

- :func:`account_tags`: every resource of an account's stack (the organization's tags, where
  it belongs and, in a team's dev account, the team's tags);
- :func:`team_tags`: every resource mlgov creates for one team in the hub and stage accounts
  (and, through the dev account's default tags, in its dev account): the org's cost tags with
  the team's values, the team's own ``tags`` and ``mlgov:team``. Written as a plain mapping so
  it can become the ``default_tags`` of a per-team stack unchanged;
- :func:`team_cost_tags`: the four cost tag values the team's products launch with (the SSM
  parameters of its dev account);
- :func:`cost_allocation_tag_keys`: the keys activated for cost allocation in the management
  account.

AWS limits (Tagging AWS resources and Tag Editor, "Tag naming limits and requirements":
``https://docs.aws.amazon.com/tag-editor/latest/userguide/tagging.html``): 50 user tags per
resource, keys of at most 128 and values of at most 256 Unicode characters, the ``aws:``
prefix reserved. The key and value lengths are the spec's own types (``TagKey``, ``TagValue``);
the count is the quota ``tags_per_resource`` of :mod:`mlgov.platform.quotas`.
"""

from __future__ import annotations

from mlgov.platform import naming
from mlgov.spec.model import Layer, OrgSpec

TEAM_TAG = "mlgov:team"
ACCOUNT_TAG = "mlgov:account"
LAYER_TAG = "mlgov:layer"
# The cost tags: (tag key, field of service_catalog.cost_tags). Their values are the spec's
# defaults, or the team's own value when its `tags` name the key.
COST_TAG_FIELDS = (
    ("environment", "environment"),
    ("finance-owner", "finance_owner"),
    ("business-unit", "business_unit"),
    ("cost-center", "cost_center"),
)
# Keys a construct adds to one resource besides these sets: `Name` (network resources) and
# `mlgov:egress` (an egress opt-in's VPC and security group). Counted in tags_per_resource.
RESOURCE_OWN_KEYS = ("Name", "mlgov:egress")


def team_cost_tags(spec: OrgSpec, team: str) -> dict[str, str]:
    """The cost tags of ``team``: the spec's cost tag defaults, each overridden by the team's tag of
    that key. Empty without a service catalog (no cost tags are defined then)."""
    if spec.service_catalog is None:
        return {}
    cost = spec.service_catalog.cost_tags
    own = spec.teams[team].tags
    return {key: own.get(key, getattr(cost, field)) for key, field in COST_TAG_FIELDS}


def team_tags(spec: OrgSpec, team: str) -> dict[str, str]:
    """Tags of every resource mlgov creates for ``team``, sorted by key. ``mlgov:team`` carries the
    team's AWS name (a renamed team keeps its former one, like its resources)."""
    tags = {**team_cost_tags(spec, team), **spec.teams[team].tags, TEAM_TAG: naming.team_label(spec, team)}
    return dict(sorted(tags.items()))


def account_tags(spec: OrgSpec, account_key: str) -> dict[str, str]:
    """Default tags of every resource of an account's stacks: the organization's tags, where the
    resource belongs and, in a team's dev account, :func:`team_tags` of that team."""
    tags = dict(spec.organization.tags)
    layer = spec.accounts[account_key].layer
    if layer is Layer.dev:
        owner = next(iter(spec.dev_owners.get(account_key, ())), None)
        if owner is not None:
            tags.update(team_tags(spec, owner))
    # A renamed account's resources keep the tag they were created with (no update to every resource).
    tags.update({ACCOUNT_TAG: naming.account_label(spec, account_key), LAYER_TAG: layer.value})
    return dict(sorted(tags.items()))


def stack_teams(spec: OrgSpec, account_key: str) -> list[str]:
    """Teams with resources in the account's stacks: the dev account's owner, every team in the
    hub, the teams deploying to a stage account, the teams with a budget in the management account."""
    layer = spec.accounts[account_key].layer
    if layer is Layer.management:
        return sorted(n for n, t in spec.teams.items() if t.budget is not None)
    if layer is Layer.hub:
        return sorted(spec.teams)
    if layer is Layer.dev:
        return list(spec.dev_owners.get(account_key, ()))
    if layer in (Layer.test, Layer.prod):
        return list(spec.staged_teams.get(account_key, ()))
    return []


def most_tags(spec: OrgSpec, account_key: str, teams: list[str]) -> int:
    """The most tags one resource of the account's stacks can carry: its default tags, the tags of
    the team (of ``teams``) with the most, and the keys constructs add themselves."""
    base = set(account_tags(spec, account_key)) | set(RESOURCE_OWN_KEYS)
    return max([len(base)] + [len(base | set(team_tags(spec, t))) for t in teams])


def cost_allocation_tag_keys(spec: OrgSpec) -> list[str]:
    """Keys to activate as cost allocation tags: mlgov's team, account and layer keys, the
    organization's tags, the cost tags (with a service catalog) and every team's tag keys."""
    keys = {TEAM_TAG, ACCOUNT_TAG, LAYER_TAG, *spec.organization.tags}
    if spec.service_catalog is not None:
        keys |= {key for key, _field in COST_TAG_FIELDS}
    for team in spec.teams.values():
        keys |= set(team.tags)
    return sorted(keys)
