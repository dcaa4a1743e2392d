"""Separation of duties for the bootstrap's roles: who can act as the Terraform role or the vending role.

The Terraform role (``terraform.role_name``, docs/day-zero.md) is an administrator of its
account, and so is the vending role Organizations creates in an account it creates
(``management.vending.role_name``; AWS writes its trust: the management account's root, see
docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_accounts_create-cross-account-role.html).
Targets: both, in every account of the spec (the Terraform role's trust read from the tree: the
bootstrap's Terraform stack in the management account, the StackSet's template elsewhere).

Callers, each an administrator of its account unless its own policies say less: every role of
the platform (:class:`World`), the Terraform role and the vending role of every account, an
administrator of every account (anyone with AdministratorAccess there), and the CI's OIDC tokens
presented to each account's provider: the apply environment and pull requests of the
repository (trusted), another environment and a branch of it, and the apply environment of
another repository.

iam-simulate decides every hop (identity policies, the trust, the caller account's SCPs); the
walk is plain set closure. iam-simulate knows no ``sub`` or ``aud`` key of GitHub's or
GitLab's issuer (AWS's OIDC keys are the issuer's host followed by the claim: IAM User Guide,
reference_policies_iam-condition-keys.html#condition-keys-wif), so both the trust and the
token's context name them under a stand-in issuer whose keys it knows: the same conditions,
operators and values, decided by the simulator.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from mlgov.platform import bootstrap
from mlgov.platform.iam import arns
from mlgov.platform.iam import bootstrap as iam_bootstrap
from mlgov.review import iam
from mlgov.review import policies as collector
from tests.journey import decisions as decisions_of
from tests.journey.gates import _may_name, _request
from tests.journey.world import Role, World

ADMINISTRATOR = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
# An issuer whose sub and aud keys iam-simulate knows (sts:AssumeRoleWithWebIdentity's condition keys).
STAND_IN = "cognito-identity.amazonaws.com"


def member_trust(tree: dict[str, bytes], account_id: str) -> dict:
    """The Terraform role's trust the StackSet creates in ``account_id`` (its template, evaluated)."""
    text = tree[bootstrap.MEMBER_TEMPLATE].decode("utf-8")
    (found,) = [
        c
        for c in collector.text_policies(text, bootstrap.MEMBER_TEMPLATE, "bootstrap", "us-east-1")
        if c.id.endswith("TerraformRole:AssumeRolePolicyDocument")
    ]
    return json.loads(json.dumps(found.document).replace(collector.ACCOUNT, account_id))


def management_trust(tree: dict[str, bytes]) -> dict:
    """The management account's Terraform role's trust (the bootstrap's Terraform stack)."""
    stack = json.loads(tree[bootstrap.TERRAFORM_STACK])
    return json.loads(stack["resource"]["aws_iam_role"]["terraform"]["assume_role_policy"])


def vending_trust(management_id: str) -> dict:
    """The trust AWS gives the role Organizations creates in a new account: the management account."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": arns.account_root(management_id)}, "Action": "sts:AssumeRole"}
        ],
    }


@dataclass
class Hops:
    """Who reaches which target: ``reached[caller] = {target: shortest path}``."""

    reached: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    def of(self, caller: str) -> set[str]:
        return set(self.reached.get(caller, {}))


def _stand_in(document: dict, host: str | None) -> dict:
    return json.loads(json.dumps(document).replace(f"{host}:", f"{STAND_IN}:")) if host else document


def subjects(world: World) -> dict[str, bool]:
    """CI token subjects presented, each with whether the trust must admit it."""
    spec = world.spec
    ci = spec.terraform.ci
    if ci is None:
        return {}
    trusted = iam_bootstrap.oidc_subjects(spec)
    if ci.provider == "github":
        repo = ci.repository
        others = [
            f"repo:{repo}:environment:{ci.apply_environment}-staging",
            f"repo:{repo}:ref:refs/heads/main",
            f"repo:{repo}-fork:environment:{ci.apply_environment}",
        ]
        return {**dict.fromkeys(trusted, True), **dict.fromkeys(others, False)}
    return {
        f"project_path:{ci.repository}:ref_type:branch:ref:main": True,
        f"project_path:{ci.repository}-fork:ref_type:branch:ref:main": False,
    }


def token(account_id: str, subject: str) -> str:
    """How a token is named in the results."""
    return f"oidc:{account_id}:{subject}"


def walk(worlds: list[World]) -> list[Hops]:
    """For each world: every caller's reach among the Terraform and vending roles, in ONE simulator batch."""
    plans = [_plan(w) for w in worlds]
    decided = decisions_of.simulate([r for requests, _ in plans for r in requests])
    out, at = [], 0
    for requests, what in plans:
        edges: dict[str, set[str]] = {}
        for (who, target), decision in zip(what, decided[at : at + len(requests)], strict=True):
            if decision.decision == "Error":
                raise AssertionError(f"simulator refused {who} -> {target}: {decision.errors}")
            if decision.allowed:
                edges.setdefault(who, set()).add(target)
        at += len(requests)
        hops = Hops()
        for start in {who for who, _ in what}:
            paths = {start: [start]}
            queue = [start]
            while queue:
                current = queue.pop(0)
                for nxt in sorted(edges.get(current, ())):
                    if nxt not in paths:
                        paths[nxt] = [*paths[current], nxt]
                        queue.append(nxt)
            hops.reached[start] = {t: p for t, p in paths.items() if t != start}
        out.append(hops)
    return out


def targets(world: World) -> dict[str, tuple[str, dict]]:
    """ARN -> (account id, trust) of the Terraform role and the vending role of every account."""
    spec = world.spec
    mgmt = iam_bootstrap.management_id(spec)
    host = iam_bootstrap.issuer(spec)
    out: dict[str, tuple[str, dict]] = {}
    for account in spec.accounts.values():
        if not account.id:
            continue
        trust = management_trust(world.tree) if account.id == mgmt else member_trust(world.tree, account.id)
        out[arns.role(account.id, spec.terraform.role_name)] = (account.id, _stand_in(trust, host))
        if account.id != mgmt:
            out[arns.role(account.id, spec.management.vending.role_name)] = (account.id, vending_trust(mgmt))
    return out


def administrator(account_id: str) -> str:
    return arns.role(account_id, "someone-with-administrator-access")


def _plan(world: World) -> tuple[list[iam.Request], list[tuple[str, str]]]:
    spec = world.spec
    goal = targets(world)
    callers = [r for r in world.roles.values() if _may_name(r, "sts:AssumeRole")]
    for arn, (account_id, trust) in goal.items():
        callers.append(Role(arn.split("/")[-1], account_id, arn, trust, {"AdministratorAccess": ADMINISTRATOR}))
    for account in spec.accounts.values():
        if account.id:
            arn = administrator(account.id)
            callers.append(Role(arn.split("/")[-1], account.id, arn, {}, {"AdministratorAccess": ADMINISTRATOR}))
    requests: list[iam.Request] = []
    what: list[tuple[str, str]] = []
    for caller in callers:
        for arn, (account_id, trust) in goal.items():
            if arn != caller.arn:
                requests.append(_request(world, caller, "sts:AssumeRole", arn, account_id, resource_policy=trust))
                what.append((caller.arn, arn))
    host = iam_bootstrap.issuer(spec)
    for arn, (account_id, trust) in goal.items():
        if host is None or not arn.endswith(f":role/{spec.terraform.role_name}"):
            continue
        for subject in subjects(world):
            requests.append(
                iam.Request(
                    principal=iam_bootstrap.oidc_provider(account_id, host),
                    action="sts:AssumeRoleWithWebIdentity",
                    resource=arn,
                    resource_account=account_id,
                    resource_policy=trust,
                    context={f"{STAND_IN}:sub": subject, f"{STAND_IN}:aud": iam_bootstrap.OIDC_AUDIENCE},
                )
            )
            what.append((token(account_id, subject), arn))
    return requests, what


def expected(world: World) -> dict[str, set[str]]:
    """The story: the management pipeline reaches every Terraform and vending role; an account's
    Terraform role only itself; a trusted CI token only its account's Terraform role (and in the
    management account, as the pipeline, what the pipeline reaches); the
    management account's administrators the vending roles (AWS's trust of them names the
    management account); nobody else anything."""
    spec = world.spec
    mgmt = iam_bootstrap.management_id(spec)
    pipeline = iam_bootstrap.pipeline_role(spec)
    goal = targets(world)
    out: dict[str, set[str]] = {pipeline: set(goal) - {pipeline}}
    vending = {arn for arn in goal if arn.endswith(f":role/{spec.management.vending.role_name}")}
    out[administrator(mgmt)] = vending
    for subject, trusted in subjects(world).items():
        for arn, (account_id, _) in goal.items():
            if trusted and arn == arns.role(account_id, spec.terraform.role_name):
                # In the management account the token IS the pipeline: it reaches what the pipeline reaches.
                out[token(account_id, subject)] = {arn} | (out[pipeline] if arn == pipeline else set())
    return out


def violations(world: World, hops: Hops) -> list[str]:
    """One line per caller that reaches a target it must not, or misses one it must reach."""
    want = expected(world)
    lines = []
    for caller in sorted(hops.reached):
        got = hops.of(caller)
        for target in sorted(got - want.get(caller, set())):
            lines.append(f"{caller} reaches {target} it must not, via {' -> '.join(hops.reached[caller][target])}")
        for target in sorted(want.get(caller, set()) - got):
            lines.append(f"{caller} cannot reach {target}")
    return lines
