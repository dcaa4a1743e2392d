"""Repository policies of the teams' image repositories in the hub (:mod:`mlgov.modules.images`)."""

from __future__ import annotations

from mlgov.platform import naming, policy
from mlgov.platform.iam import actions, arns
from mlgov.spec.model import OrgSpec

PULL_ACTIONS = actions.ECR_PULL
PUSH_ACTIONS = actions.ECR_PULL + (
    "ecr:CompleteLayerUpload",
    "ecr:InitiateLayerUpload",
    "ecr:PutImage",
    "ecr:UploadLayerPart",
)


def repository_policy(spec: OrgSpec, team: str) -> str:
    """Exactly the team's dev account pushes, its stage accounts' endpoint roles pull; all inside the organization."""
    t = spec.teams[team]
    org = {"StringEquals": {"aws:PrincipalOrgID": spec.organization.id}}
    dev = spec.accounts[t.dev_account].id
    stages = sorted({spec.accounts[s.account].id for s in t.stages if s.account in spec.accounts})
    statements = [
        policy.statement("DevAccountPushes", PUSH_ACTIONS, principals={"AWS": [arns.account_root(dev)]}, conditions=org)
    ]
    if stages:
        # Stage accounts are shared by teams: only this team's endpoint roles (its models and
        # batch transforms run as them), not another team's, even with a broad identity policy.
        pullers = sorted(arns.role(a, naming.team_role(spec, team, "endpoint")) for a in stages)
        statements.append(
            policy.statement(
                "StageAccountsPull",
                PULL_ACTIONS,
                principals={"AWS": [arns.account_root(a) for a in stages]},
                conditions={**org, "ArnEquals": {"aws:PrincipalArn": pullers}},
            )
        )
    return policy.document(*statements)
