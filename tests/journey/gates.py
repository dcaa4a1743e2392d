"""Separation of duties: which human gate each role of the platform can open, directly or not.

The gates of the story: the dev approval of a team's packages (``UpdateModelPackage`` in the
dev registry), the central approval (``UpdateModelPackage`` in the hub registry), the prod
approval (``codepipeline:PutApprovalResult`` on a pipeline's manual approval action), and
registering a package already Approved (a way around every gate: nobody may).

A role opens a gate directly when iam-simulate allows the request (identity policies, the
resource's policy and the SCPs of the caller's account). It opens it indirectly when it can
act as another role that opens it: by assuming it (identity + trust), by passing it to a service
its trust names (iam:PassRole with iam:PassedToService), by starting a CodePipeline pipeline,
CodeBuild project or Lambda function that runs as it, or by launching a Service Catalog product
whose launch constraint names it (only the principals associated with the portfolio can:
:attr:`World.launchers`); followed transitively. A launch role may open the gates of those who can
launch through it, and no other: it acts for them, so what it can reach they can reach, and any
wider reach shows up as a violation of one of them. Every decision
comes from one simulator batch; the graph walk is plain set closure.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from mlgov.platform import naming
from mlgov.platform.governance import approval_actions
from mlgov.review import iam
from tests.journey.world import Role, World


@dataclass(frozen=True)
class Gate:
    name: str
    action: str
    resource: str
    account: str
    context: dict


def gates(world: World) -> list[Gate]:
    """Every gate of the spec: per team and model, dev and central approval and the bypasses;
    per pipeline, its manual approvals."""
    spec = world.spec
    hub_id = world.account_id(spec.hub)
    hub_region = naming.hub_region(spec)
    out = []
    for team, t in sorted(spec.teams.items()):
        dev_id = world.account_id(t.dev_account)
        region = naming.primary_region(spec, t.dev_account)
        for group in t.governance.model_package_groups:
            local = naming.model_package_group(spec, team, group)
            central = naming.central_model_package_group(spec, team, group)
            dev_pkg = f"arn:aws:sagemaker:{region}:{dev_id}:model-package/{local}/1"
            hub_pkg = f"arn:aws:sagemaker:{hub_region}:{hub_id}:model-package/{central}/1"
            approved = {"sagemaker:ModelApprovalStatus": "Approved"}
            out += [
                Gate(f"dev-approval:{team}", "sagemaker:UpdateModelPackage", dev_pkg, dev_id, approved),
                Gate("central-approval", "sagemaker:UpdateModelPackage", hub_pkg, hub_id, approved),
                Gate("register-approved", "sagemaker:CreateModelPackage", dev_pkg, dev_id, approved),
                Gate("register-approved", "sagemaker:CreateModelPackage", hub_pkg, hub_id, approved),
            ]
    out += [
        Gate("prod-approval", "codepipeline:PutApprovalResult", arn, hub_id, {})
        for arn in approval_actions(spec, hub_region)
    ]
    return out


def expected(world: World) -> dict[str, set[str]]:
    """The story's answer: the lead of a team, the ML engineer and the governance officer each
    open exactly their own gate; every other role opens none (see :func:`allowed` for launch roles)."""
    spec = world.spec
    out: dict[str, set[str]] = {arn: set() for arn in world.roles}
    for team, t in spec.teams.items():
        lead = world.role(t.dev_account, naming.team_role(spec, team, "lead-data-scientist"))
        if lead:
            out[lead.arn].add(f"dev-approval:{team}")
    for purpose, gate in (("ml-engineer", "central-approval"), ("governance-officer", "prod-approval")):
        role = world.role(spec.hub, naming.role_name(spec, purpose))
        if role:
            out[role.arn].add(gate)
    return out


def allowed(world: World) -> dict[str, set[str]]:
    """The gates each role may open: its own (:func:`expected`), and for a launch role the gates of
    the principals that can launch through it (it runs only on their behalf)."""
    want = expected(world)
    out = {arn: set(gates) for arn, gates in want.items()}
    for launch, launchers in world.launchers.items():
        for who in launchers:
            out.setdefault(launch, set()).update(want.get(who, set()))
    return out


def _request(world: World, role: Role, action: str, resource: str, account: str, **extra) -> iam.Request:
    region = (
        resource.split(":")[3] if resource.count(":") >= 4 and resource.split(":")[3] else naming.hub_region(world.spec)
    )
    key = next(k for k, a in world.spec.accounts.items() if a.id == role.account)
    context = {
        "aws:PrincipalOrgID": world.spec.organization.id,
        "aws:PrincipalAccount": role.account,
        "aws:PrincipalArn": role.arn,
        "aws:RequestedRegion": region,
        **extra.pop("context", {}),
    }
    return iam.Request(
        principal=role.arn,
        action=action,
        resource=resource,
        resource_account=account,
        identity_policies=dict(role.policies),
        scps=world.scps(key),
        context=context,
        **extra,
    )


def _runners(world: World) -> list[tuple[str, str, str, str]]:
    """(action, resource ARN, account, role ARN) of everything that runs as a role when started."""
    out = []
    for stack in world.stacks.values():
        for attrs in stack.resources("aws_codepipeline").values():
            a = stack.resolve(attrs)
            arn = f"arn:aws:codepipeline:{stack.region}:{stack.account}:{a['name']}"
            out.append(("codepipeline:StartPipelineExecution", arn, stack.account, a["role_arn"]))
        for attrs in stack.resources("aws_codebuild_project").values():
            a = stack.resolve(attrs)
            arn = f"arn:aws:codebuild:{stack.region}:{stack.account}:project/{a['name']}"
            out.append(("codebuild:StartBuild", arn, stack.account, a["service_role"]))
        for attrs in stack.resources("aws_lambda_function").values():
            a = stack.resolve(attrs)
            arn = f"arn:aws:lambda:{stack.region}:{stack.account}:function:{a['function_name']}"
            out.append(("lambda:InvokeFunction", arn, stack.account, a["role"]))
    return out


def _may_name(role: Role, action: str) -> bool:
    """Whether any Allow of the role's policies names ``action`` (wildcards included).

    Only a filter that keeps the batch small (a role whose policies never mention PassRole
    cannot pass a role): every request it keeps is still decided by iam-simulate, and a policy
    with an Allow on NotAction keeps every request."""
    for doc in role.policies.values():
        for stmt in doc.get("Statement", []):
            if stmt.get("Effect") != "Allow":
                continue
            if "NotAction" in stmt:
                return True
            actions = stmt.get("Action", [])
            for pattern in [actions] if isinstance(actions, str) else actions:
                if fnmatch.fnmatchcase(action.lower(), pattern.lower()):
                    return True
    return False


def _plan(world: World) -> tuple[list[iam.Request], list[tuple[str, str, str]]]:
    """Every gate request of every role, and every "can act as" request between roles."""
    roles = list(world.roles.values())
    all_gates = gates(world)
    requests: list[iam.Request] = []
    what: list[tuple[str, str, str]] = []
    for role in roles:
        for gate in all_gates:
            requests.append(_request(world, role, gate.action, gate.resource, gate.account, context=gate.context))
            what.append(("gate", role.arn, gate.name))
        for other in roles:
            if other.arn == role.arn:
                continue
            if _may_name(role, "sts:AssumeRole"):
                requests.append(
                    _request(world, role, "sts:AssumeRole", other.arn, other.account, resource_policy=other.trust)
                )
                what.append(("edge", role.arn, other.arn))
            for service in other.services if _may_name(role, "iam:PassRole") else ():
                requests.append(
                    _request(
                        world, role, "iam:PassRole", other.arn, other.account, context={"iam:PassedToService": service}
                    )
                )
                what.append(("edge", role.arn, other.arn))
        for action, arn, account, runs_as in _runners(world):
            if runs_as != role.arn and runs_as in world.roles and _may_name(role, action):
                requests.append(_request(world, role, action, arn, account))
                what.append(("edge", role.arn, runs_as))
    return requests, what


def _closure(world: World, what, decisions) -> dict[str, dict[str, list[str]]]:
    """For every role: each gate it can open, with a shortest path that opens it (role ARNs)."""
    roles = list(world.roles.values())
    direct: dict[str, set[str]] = {r.arn: set() for r in roles}
    edges: dict[str, set[str]] = {r.arn: set() for r in roles}
    for (kind, who, target), decision in zip(what, decisions, strict=True):
        if decision.decision == "Error":
            raise AssertionError(f"simulator refused {kind} {who} -> {target}: {decision.errors}")
        if decision.allowed:
            (direct if kind == "gate" else edges)[who].add(target)
    # Launching through a portfolio is Service Catalog's decision (the principal association), not IAM's.
    for launch, launchers in world.launchers.items():
        for who in launchers:
            edges[who].add(launch)
    out: dict[str, dict[str, list[str]]] = {}
    for role in roles:
        paths = {role.arn: [role.arn]}
        queue = [role.arn]
        while queue:
            current = queue.pop(0)
            for nxt in sorted(edges[current]):
                if nxt not in paths:
                    paths[nxt] = [*paths[current], nxt]
                    queue.append(nxt)
        found: dict[str, list[str]] = {}
        for via, path in paths.items():
            for gate in sorted(direct[via]):
                if gate not in found or len(path) < len(found[gate]):
                    found[gate] = path
        out[role.arn] = found
    return out


def opened_of(worlds: list[World]) -> list[dict[str, dict[str, list[str]]]]:
    """Gates each role of each world can open, decided in ONE simulator batch."""
    plans = [_plan(w) for w in worlds]
    decisions = iam.simulate([r for requests, _ in plans for r in requests])
    out, at = [], 0
    for world, (requests, what) in zip(worlds, plans, strict=True):
        out.append(_closure(world, what, decisions[at : at + len(requests)]))
        at += len(requests)
    return out


def violations(world: World) -> list[str]:
    """One line per role whose set of gates is not exactly the story's."""
    return violations_of([world])[0]


def violations_of(worlds: list[World]) -> list[list[str]]:
    return [_violations(w, got) for w, got in zip(worlds, opened_of(worlds), strict=True)]


def _violations(world: World, got: dict[str, dict[str, list[str]]]) -> list[str]:
    want, may = expected(world), allowed(world)
    lines = []
    for arn in sorted(world.roles):
        extra = sorted(set(got[arn]) - may[arn])
        missing = sorted(want[arn] - set(got[arn]))
        for gate in extra:
            lines.append(f"{arn} opens gate {gate} it must not, via {' -> '.join(got[arn][gate])}")
        for gate in missing:
            lines.append(f"{arn} cannot open its own gate {gate}")
    return lines
