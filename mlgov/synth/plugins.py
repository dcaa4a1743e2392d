"""Account customizations in Python: functions other packages register under an entry point.

A package of the platform team's own (installed beside mlgov, never a fork of it) declares in
its ``pyproject.toml``::

    [project.entry-points."mlgov.customizations"]
    acme-cost-centre = "acme_platform.customize:cost_centre"

and mlgov calls ``cost_centre(target)`` once for every stack it synthesizes, after building the
stack and before synthesizing it. ``target`` (:class:`Target`) holds the stack (a cdktf
``TerraformStack``: constructs added to it land in its ``cdk.tf.json``, with the stack's own
provider, account, region and default tags), the validated spec, and which account, layer,
region and teams the stack is for. The function decides by those whether to add anything.

Deterministic: plugins run in entry-point name order, each once per stack; a construct added
directly to the stack keeps its id as its Terraform address (nested ones get cdktf's path-derived
name), so addresses are stable. The function must not read the clock, the network or random
numbers (the output has to be a pure function of the spec and the plugin's version:
``synth --check`` in CI runs with the same plugins installed).

Anything a plugin raises, a plugin that cannot be loaded, and a construct whose Terraform
address the stack already has (mlgov's or an earlier plugin's, which cdktf would silently
replace) end synth with one line naming the plugin, its entry point, the stack and the error
(:class:`PluginError`, exit 2).
"""

from __future__ import annotations

import traceback
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from mlgov.errors import MlgovError
from mlgov.spec.model import Layer, OrgSpec, StackRef

GROUP = "mlgov.customizations"


class PluginError(MlgovError):
    """A customization plugin failed to load or to run; the message names it."""


@dataclass(frozen=True)
class Target:
    """What a plugin is called with: one stack and where it belongs."""

    stack: Any  # mlgov.modules.base.AccountStack (a cdktf TerraformStack)
    spec: OrgSpec
    name: str  # the stack's name (generated/stacks/<name>/)
    account: str  # the account's key in the spec
    account_id: str
    layer: Layer
    region: str
    primary_region: bool  # the account's home region (where account-wide resources go)
    teams: tuple[str, ...]  # teams whose dev account, or one of whose stage accounts, this is


@dataclass(frozen=True)
class Plugin:
    """One registered customization: entry-point name, ``module:function`` and distribution."""

    name: str
    value: str
    dist: str
    load: Callable[[], Any]

    def label(self) -> str:
        return f"plugin {self.name!r} ({self.value}{', ' + self.dist if self.dist else ''})"


# Plugins with their imported functions, in call order.
Loaded = Sequence[tuple[Plugin, Callable[[Target], None]]]


def discover() -> list[Plugin]:
    """Every entry point of :data:`GROUP`, in name order; two with one name is an error."""
    found: dict[str, Plugin] = {}
    for ep in metadata.entry_points(group=GROUP):
        dist = f"{ep.dist.name} {ep.dist.version}" if ep.dist is not None else ""
        plugin = Plugin(ep.name, ep.value, dist, ep.load)
        if ep.name in found and found[ep.name].value != ep.value:
            raise PluginError(
                f"{GROUP}: two plugins named {ep.name!r} (got {found[ep.name].value} and {ep.value}, expected one)"
            )
        found[ep.name] = plugin
    return [found[n] for n in sorted(found)]


def load(plugins: list[Plugin]) -> Loaded:
    """Import every plugin's function; one line naming the plugin if one cannot be imported."""
    out = []
    for plugin in plugins:
        try:
            func = plugin.load()
        except Exception as exc:  # user code: reported as one line
            raise PluginError(f"{plugin.label()} cannot be loaded: {_describe(exc)}") from exc
        if not callable(func):
            raise PluginError(f"{plugin.label()}: not a function (got {type(func).__name__})")
        out.append((plugin, func))
    return out


def target(stack: Any, spec: OrgSpec, ref: StackRef) -> Target:
    account = spec.accounts[ref.account]
    teams = sorted(
        name
        for name, team in spec.teams.items()
        if team.dev_account == ref.account or any(stage.account == ref.account for stage in team.stages)
    )
    return Target(
        stack=stack,
        spec=spec,
        name=ref.name,
        account=ref.account,
        account_id=account.id,
        layer=ref.layer,
        region=ref.region,
        primary_region=ref.region == spec.primary_region(ref.account),
        teams=tuple(teams),
    )


def apply(loaded: Loaded, stack: Any, spec: OrgSpec, ref: StackRef) -> None:
    """Call every loaded plugin on ``stack``, in order; one line naming the plugin on any error,
    and on a construct whose Terraform address the stack already has (mlgov's, or an earlier
    plugin's): cdktf would write both under one JSON key, the later silently replacing the other."""
    if not loaded:
        return
    where = target(stack, spec, ref)
    before = addresses(stack)
    for plugin, func in loaded:
        try:
            func(where)
        except Exception as exc:  # user code: reported as one line
            raise PluginError(f"{plugin.label()} failed on stack {ref.name}: {_describe(exc)}") from exc
        after = addresses(stack)
        taken = sorted(a for a, n in after.items() if n > 1 and n > before.get(a, 0))
        if taken:
            raise PluginError(
                f"{plugin.label()} on stack {ref.name}: adds {', '.join(taken)}, an address the stack already has "
                "(mlgov's or an earlier plugin's; give the construct another id)"
            )
        before = after


def addresses(stack: Any) -> Counter[str]:
    """How many constructs of ``stack`` synthesize to each Terraform address (``type.name``,
    ``data.type.name``, ``output.name``); more than one is a collision."""
    from cdktf import TerraformDataSource, TerraformOutput, TerraformResource

    out: Counter[str] = Counter()
    for construct in stack.node.find_all():
        if isinstance(construct, TerraformResource):
            out[f"{construct.terraform_resource_type}.{construct.friendly_unique_id}"] += 1
        elif isinstance(construct, TerraformDataSource):
            out[f"data.{construct.terraform_resource_type}.{construct.friendly_unique_id}"] += 1
        elif isinstance(construct, TerraformOutput):
            out[f"output.{construct.friendly_unique_id}"] += 1
    return out


def _describe(exc: BaseException) -> str:
    """``Type: message (file:line)`` of the innermost frame, on one line."""
    text = " ".join(str(exc).split()) or "(no message)"
    frames = traceback.extract_tb(exc.__traceback__)
    at = f" ({Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {text}{at}"
