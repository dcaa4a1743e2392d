"""Base model and constrained types shared by every part of the org spec.

Split from :mod:`mlgov.spec` so each feature's sub-models (portfolios, governance,
guardrails) can live in their own module without import cycles.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

# Names are used in Terraform addresses, IAM role names, bucket names and SageMaker names,
# so they are held to the strictest common alphabet: lower-case, digits, inner hyphens.
Name = Annotated[str, StringConstraints(strict=True, pattern=r"^[a-z][a-z0-9-]*[a-z0-9]$", max_length=40)]
AccountId = Annotated[str, StringConstraints(strict=True, pattern=r"^[0-9]{12}$")]
OrgId = Annotated[str, StringConstraints(strict=True, pattern=r"^o-[a-z0-9]{10,32}$")]
RootId = Annotated[str, StringConstraints(strict=True, pattern=r"^r-[0-9a-z]{4,32}$")]
OuId = Annotated[str, StringConstraints(strict=True, pattern=r"^ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}$")]
Region = Annotated[str, StringConstraints(strict=True, pattern=r"^[a-z]{2}(-[a-z]+)+-[0-9]$")]
# AWS tag limits: keys of 1-128 and values of 0-256 Unicode characters ("Tagging AWS resources and
# Tag Editor: Tag naming limits and requirements", TAGGING in mlgov.platform.quotas).
TagKey = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=128, pattern=r"^[\w .:/=+@-]+$")]
TagValue = Annotated[str, StringConstraints(strict=True, max_length=256, pattern=r"^[\w .:/=+@-]*$")]
Text = Annotated[str, StringConstraints(strict=True, max_length=1024)]


class SpecModel(BaseModel):
    """Every spec model: unknown keys are errors, instances are immutable."""

    # defer_build: validators are built on first validation, not at import. Synth workers only
    # unpickle an already validated spec and never pay for them.
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)
