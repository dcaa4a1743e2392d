"""Build the cdktf App for a spec: one stack per account and region, one per team slice."""

from __future__ import annotations

from cdktf import App

from mlgov.modules.base import AccountStack, PlatformStack
from mlgov.modules.data import DataAccountStack
from mlgov.modules.dev import DevAccountStack
from mlgov.modules.hub import HubStack, HubTeamStack
from mlgov.modules.management import ManagementStack
from mlgov.modules.stage import StageAccountStack, StageTeamStack
from mlgov.platform.manifest import dependencies
from mlgov.spec.model import Layer, OrgSpec, StackRef

STACK_CLASSES: dict[Layer, type[AccountStack]] = {
    Layer.management: ManagementStack,
    Layer.hub: HubStack,
    Layer.dev: DevAccountStack,
    Layer.test: StageAccountStack,
    Layer.prod: StageAccountStack,
    Layer.data: DataAccountStack,
}
# A team's slice of a shared account (StackRef.team set), by the account's layer.
TEAM_STACK_CLASSES: dict[Layer, type[PlatformStack]] = {
    Layer.hub: HubTeamStack,
    Layer.test: StageTeamStack,
    Layer.prod: StageTeamStack,
}


def stack_class(ref: StackRef) -> type[PlatformStack]:
    """The class that builds the stack ``ref``: its layer's, or its layer's team slice."""
    return TEAM_STACK_CLASSES[ref.layer] if ref.team is not None else STACK_CLASSES[ref.layer]


def build_app(spec: OrgSpec, outdir: str) -> App:
    """Create every stack of ``spec`` in a new App writing to ``outdir`` (not yet synthesized)."""
    # skipValidation off, no stack traces: metadata must not carry machine paths.
    app = App(outdir=outdir, stack_traces=False)
    stacks = {}
    for ref in spec.stack_refs():
        stacks[ref.name] = stack_class(ref)(app, ref.name, spec=spec, ref=ref)
    # The manifest's order, also for `cdktf deploy '*'` (cdktf reads it from manifest.json).
    for name, before in dependencies(spec).items():
        for dep in before:
            stacks[name].add_dependency(stacks[dep])
    return app
