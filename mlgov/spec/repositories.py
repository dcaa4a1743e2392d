"""Spec of where a dev account's model-build repositories live: ``accounts.<key>.source``.

One CodeConnections connection per dev account, to GitHub, GitLab or Bitbucket. mlgov creates
the connection (it starts PENDING: the provider's console handshake stays a manual step that
``mlgov doctor`` checks) and writes its ARN, the repositories' owner and their default branch to
SSM parameters, so the model-build product pre-fills a project's repository as
``<owner>/<project name>`` on ``<branch>`` and its pipeline runs on every push to that branch.
:mod:`mlgov.validation.repositories` checks that only dev accounts declare one and that every
team's dev account does when a product version builds from a repository.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated

from pydantic import Field, StringConstraints

from mlgov.spec.base import SpecModel

# A GitHub organization or user, a GitLab group path (subgroups with "/") or a Bitbucket workspace.
Owner = Annotated[
    str,
    StringConstraints(
        strict=True, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*(/[A-Za-z0-9][A-Za-z0-9_.-]*)*$"
    ),
]
# A git branch name (no spaces, no "..", no leading "-" or "/").
Branch = Annotated[
    str,
    StringConstraints(
        strict=True, max_length=100, pattern=r"^[A-Za-z0-9_][A-Za-z0-9_./-]*[A-Za-z0-9_-]$|^[A-Za-z0-9_]$"
    ),
]


class Provider(str, Enum):
    """The hosted Git providers a CodeConnections connection reaches (CodeCommit is closed to new customers)."""

    github = "GitHub"
    gitlab = "GitLab"
    bitbucket = "Bitbucket"


class SourceConnection(SpecModel):
    """The Git provider the account's model-build projects keep their code in."""

    provider: Provider = Field(description="GitHub | GitLab | Bitbucket: the provider the connection reaches.")
    owner: Owner = Field(
        description="Organization, group or workspace owning the repositories; a project's repository defaults "
        "to <owner>/<project name>."
    )
    branch: Branch = Field(
        default="main", description="Branch whose pushes rerun a project's pipeline, unless a project names another."
    )
