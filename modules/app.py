"""Build the cdktf App for a spec: one stack per account and region."""

from __future__ import annotations

from cdktf import App

from mlgov.modules.base import AccountStack
from mlgov.modules.data import DataAccountStack
from mlgov.modules.dev import DevAccountStack
from mlgov.modules.hub import HubStack
from mlgov.modules.management import ManagementStack
from mlgov.modules.stage import StageAccountStack
from mlgov.platform.manifest import dependencies
from mlgov.spec.model import Layer, OrgSpec

STACK_CLASSES: dict[Layer, type[AccountStack]] = {
    Layer.management: ManagementStack,
    Layer.hub: HubStack,
    Layer.dev: DevAccountStack,
    Layer.test: StageAccountStack,
    Layer.prod: StageAccountStack,
    Layer.data: DataAccountStack,
}


def build_app(spec: OrgSpec, outdir: str) -> App:
    """Create every stack of ``spec`` in a new App writing to ``outdir`` (not yet synthesized)."""
    # skipValidation off, no stack traces: metadata must not carry machine paths.
    app = App(outdir=outdir, stack_traces=False)
    stacks = {}
    for ref in spec.stack_refs():
        stacks[ref.name] = STACK_CLASSES[ref.layer](app, ref.name, spec=spec, ref=ref)
    # The manifest's order, also for `cdktf deploy '*'` (cdktf reads it from manifest.json).
    for name, before in dependencies(spec).items():
        for dep in before:
            stacks[name].add_dependency(stacks[dep])
    return app
