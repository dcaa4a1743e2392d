"""Repository policies of the teams' image repositories in the hub (:mod:`mlgov.modules.images`)."""

from __future__ import annotations

from mlgov.platform import naming, policy
from mlgov.platform.iam import actions, arns
from mlgov.spec.model import OrgSpec

PUSH_ACTIONS = actions.ECR_PULL + (
    "ecr:CompleteLayerUpload",
    "ecr:InitiateLayerUpload",
    "ecr:PutImage",
    "ecr:UploadLayerPart",
)


def repository_policy(spec: OrgSpec, team: str, region: str | None = None) -> str:
    """Exactly the team's dev account pushes, the endpoint roles of its stage accounts in ``region``
    (default: the hub's; a replica's region holds the stages that run there) pull; all inside
    the organization. A replica with no stage to serve would have no statement: it is never made
    (:func:`mlgov.platform.naming.team_remote_regions`)."""
    t = spec.teams[team]
    region = region or naming.hub_region(spec)
    org = {"StringEquals": {"aws:PrincipalOrgID": spec.organization.id}}
    dev = spec.accounts[t.dev_account].id
    stages = sorted(
        {
            spec.accounts[s.account].id
            for s in t.stages
            if s.account in spec.accounts and naming.stage_region(spec, s.account) == region
        }
    )
    # The dev account pushes to the hub region's repository only; ECR replicates to the others.
    statements = []
    if region == naming.hub_region(spec):
        statements.append(
            policy.statement(
                "DevAccountPushes", PUSH_ACTIONS, principals={"AWS": [arns.account_root(dev)]}, conditions=org
            )
        )
    if stages:
        # Stage accounts are shared by teams: only this team's endpoint roles (its models and
        # batch transforms run as them), not another team's, even with a broad identity policy.
        pullers = sorted(arns.role(a, naming.team_role(spec, team, "endpoint")) for a in stages)
        statements.append(
            policy.statement(
                "StageAccountsPull",
                actions.ECR_PULL,
                principals={"AWS": [arns.account_root(a) for a in stages]},
                conditions={**org, "ArnEquals": {"aws:PrincipalArn": pullers}},
            )
        )
    return policy.document(*statements)
