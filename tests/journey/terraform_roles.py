"""Separation of duties for the bootstrap's roles: who can act as the Terraform role, the plan role or the vending role.

The Terraform role (``terraform.role_name``, docs/day-zero.md) is an administrator of its
account, and so is the vending role Organizations creates in an account it creates
(``management.vending.role_name``; AWS writes its trust: the management account's root, see
docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_accounts_create-cross-account-role.html).
The plan role (``<role_name>-plan``) reads only. Targets: all three, in every account of the spec
(the two Terraform roles' trusts and the plan role's policy read from the tree: the bootstrap's
Terraform stack in the management account, the StackSet's template elsewhere).

Callers, each an administrator of its account unless its own policies say less: every role of
the platform (:class:`World`), the Terraform role and the vending role of every account, the
plan role of every account (AdministratorAccess attached besides its own policy: the worst case
its deny must hold against), an administrator of every account (anyone with AdministratorAccess
there), and the CI's OIDC tokens presented to each account's provider: the apply environment,
the drift environment and pull requests of the repository (trusted: the apply environment by the
Terraform role only, the others by the plan role only), another environment and a branch of it,
and the apply environment of another repository (GitLab: the apply branch, another branch, and
another project's apply branch).

:func:`plan_role_requests` asks what the plan role may do beyond assuming: read the state, and
no write even with AdministratorAccess attached.

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
from typing import Any

from mlgov.platform import bootstrap, naming
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
# iam-simulate treats kms:EncryptionContext:<key> as not applicable to kms:Decrypt (it ignores the
# key, so every condition on it fails): the documents and the request name it as a single-valued
# string key of kms:Decrypt it knows instead, with the same operators and values.
KMS_STAND_IN = "kms:EncryptionAlgorithm"


def member_document(
    tree: dict[str, bytes], account_id: str, which: str = "TerraformRole:AssumeRolePolicyDocument"
) -> dict:
    """A document the StackSet creates in ``account_id`` (its template, evaluated): ``which`` is the
    end of the review's id (``PlanRole:AssumeRolePolicyDocument``, ``PlanRole:Policies/<name>``)."""
    text = tree[bootstrap.MEMBER_TEMPLATE].decode("utf-8")
    (found,) = [
        c
        for c in collector.text_policies(text, bootstrap.MEMBER_TEMPLATE, "bootstrap", "us-east-1")
        if c.id.endswith(which)
    ]
    return json.loads(json.dumps(found.document).replace(collector.ACCOUNT, account_id))


def member_trust(tree: dict[str, bytes], account_id: str) -> dict:
    """The Terraform role's trust the StackSet creates in ``account_id``."""
    return member_document(tree, account_id)


def management_document(tree: dict[str, bytes], rtype: str, name: str, attribute: str) -> dict:
    """A document of the bootstrap's Terraform stack (the management account's roles)."""
    stack = json.loads(tree[bootstrap.TERRAFORM_STACK])
    return json.loads(stack["resource"][rtype][name][attribute])


def management_trust(tree: dict[str, bytes]) -> dict:
    """The management account's Terraform role's trust (the bootstrap's Terraform stack)."""
    return management_document(tree, "aws_iam_role", "terraform", "assume_role_policy")


def plan_documents(world: World, account_id: str) -> tuple[dict, dict]:
    """(trust, inline policy) of the plan role in ``account_id``, from the tree."""
    if account_id == iam_bootstrap.management_id(world.spec):
        return (
            management_document(world.tree, "aws_iam_role", "terraform_plan", "assume_role_policy"),
            management_document(world.tree, "aws_iam_role_policy", "terraform_plan", "policy"),
        )
    return (
        member_document(world.tree, account_id, "PlanRole:AssumeRolePolicyDocument"),
        member_document(world.tree, account_id, f"PlanRole:Policies/{iam_bootstrap.PLAN_POLICY_NAME}"),
    )


def _kms_stand_in(document: Any) -> Any:
    return json.loads(json.dumps(document).replace(iam_bootstrap.STATE_CONTEXT_KEY, KMS_STAND_IN))


def plan_role(world: World, account_id: str) -> str:
    return arns.role(account_id, naming.terraform_plan_role(world.spec))


def apply_role(world: World, account_id: str) -> str:
    return arns.role(account_id, world.spec.terraform.role_name)


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


def subjects(world: World) -> dict[str, set[str]]:
    """CI token subjects presented, each with the roles of an account it must reach: ``apply`` (the
    Terraform role), ``plan`` (the plan role), or none. Written out here, not read from the trust."""
    spec = world.spec
    ci = spec.terraform.ci
    if ci is None:
        return {}
    repo = ci.repository
    if ci.provider == "github":
        return {
            f"repo:{repo}:environment:{ci.apply_environment}": {"apply"},
            f"repo:{repo}:pull_request": {"plan"},
            f"repo:{repo}:environment:{ci.drift.environment}": {"plan"} if ci.drift.enabled else set(),
            f"repo:{repo}:environment:{ci.apply_environment}-staging": set(),
            f"repo:{repo}:ref:refs/heads/main": set(),
            f"repo:{repo}-fork:environment:{ci.apply_environment}": set(),
        }
    return {
        f"project_path:{repo}:ref_type:branch:ref:main": {"apply", "plan"},
        f"project_path:{repo}:ref_type:branch:ref:feature-x": {"plan"},
        f"project_path:{repo}-fork:ref_type:branch:ref:main": set(),
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
    """ARN -> (account id, trust) of the Terraform role, the plan role and the vending role of every account."""
    spec = world.spec
    mgmt = iam_bootstrap.management_id(spec)
    host = iam_bootstrap.issuer(spec)
    out: dict[str, tuple[str, dict]] = {}
    for account in spec.accounts.values():
        if not account.id:
            continue
        trust = management_trust(world.tree) if account.id == mgmt else member_trust(world.tree, account.id)
        out[arns.role(account.id, spec.terraform.role_name)] = (account.id, _stand_in(trust, host))
        out[plan_role(world, account.id)] = (account.id, _stand_in(plan_documents(world, account.id)[0], host))
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
        policies = {"AdministratorAccess": ADMINISTRATOR}
        if arn == plan_role(world, account_id):  # the worst case: its deny against AdministratorAccess
            policies[iam_bootstrap.PLAN_POLICY_NAME] = plan_documents(world, account_id)[1]
        callers.append(Role(arn.split("/")[-1], account_id, arn, trust, policies))
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
        if host is None or arn not in (apply_role(world, account_id), plan_role(world, account_id)):
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
    """The story: the management pipeline reaches every Terraform, plan and vending role; an
    account's Terraform role and plan role nothing but themselves; a trusted CI token only its
    account's roles :func:`subjects` names (and in the management account, through the Terraform
    role, what the pipeline reaches); the management account's administrators the vending roles
    (AWS's trust of them names the management account); nobody else anything."""
    spec = world.spec
    mgmt = iam_bootstrap.management_id(spec)
    pipeline = iam_bootstrap.pipeline_role(spec)
    goal = targets(world)
    out: dict[str, set[str]] = {pipeline: set(goal) - {pipeline}}
    vending = {arn for arn in goal if arn.endswith(f":role/{spec.management.vending.role_name}")}
    out[administrator(mgmt)] = vending
    for subject, kinds in subjects(world).items():
        for account_id in sorted({a for a, _ in goal.values()}):
            roles = {"apply": apply_role(world, account_id), "plan": plan_role(world, account_id)}
            reach = {roles[k] for k in kinds}
            if pipeline in reach:
                # In the management account the apply token IS the pipeline: it reaches what the pipeline reaches.
                reach |= out[pipeline]
            if reach:
                out[token(account_id, subject)] = reach
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


def plan_role_requests(world: World, account_id: str) -> list[tuple[str, bool, iam.Request]]:
    """The plan role of ``account_id`` read against the tree: it reads and lists the state (its own
    policy and the state bucket's) and decrypts it through S3 (the state key's policy), not another
    bucket's objects under the same key, and even with AdministratorAccess attached beside its own policy
    it writes nothing: no role created, no object put (the state's or another bucket's), no role
    assumed (the account's Terraform role, whose trust would otherwise be the only guard)."""
    spec = world.spec
    mgmt = iam_bootstrap.management_id(spec)
    state = spec.terraform.state
    trust, policy = _kms_stand_in(plan_documents(world, account_id))
    bucket_policy = management_document(world.tree, "aws_s3_bucket_policy", "terraform_state", "policy")
    state_object = f"{arns.objects(state.bucket, state.key_prefix)[:-1]}some-stack.tfstate"
    as_is = Role(naming.terraform_plan_role(spec), account_id, plan_role(world, account_id), trust, {"plan": policy})
    widened = Role(as_is.name, account_id, as_is.arn, trust, {"plan": policy, "AdministratorAccess": ADMINISTRATOR})
    apply_trust = targets(world)[apply_role(world, account_id)][1]
    other_bucket = f"arn:aws:s3:::{spec.organization.name}-not-the-state-{account_id}/data.csv"
    key_policy = _kms_stand_in(management_document(world.tree, "aws_kms_key", "terraform_state", "policy"))
    key = arns.arn("kms", state.region, mgmt, "key/00000000-0000-0000-0000-000000000000")
    state_bucket = arns.bucket(state.bucket)

    def via(s3_arn: str) -> dict[str, str]:
        """S3's call to KMS for an object of ``s3_arn`` (the bucket's ARN: it has an S3 Bucket Key)."""
        return {"kms:ViaService": f"s3.{state.region}.amazonaws.com", KMS_STAND_IN: s3_arn}

    checks = [
        ("reads the state", True, as_is, "s3:GetObject", state_object, mgmt, {"resource_policy": bucket_policy}),
        (
            "lists the state",
            True,
            as_is,
            "s3:ListBucket",
            arns.bucket(state.bucket),
            mgmt,
            {"resource_policy": bucket_policy, "context": {"s3:prefix": f"{state.key_prefix}/"}},
        ),
        (
            "decrypts the state",
            True,
            as_is,
            "kms:Decrypt",
            key,
            mgmt,
            {"resource_policy": key_policy, "context": via(state_bucket)},
        ),
        (
            "decrypts another bucket's objects",
            False,
            as_is,
            "kms:Decrypt",
            key,
            mgmt,
            {"resource_policy": key_policy, "context": via(f"arn:aws:s3:::{spec.organization.name}-other-bucket")},
        ),
        ("writes the state", False, widened, "s3:PutObject", state_object, mgmt, {"resource_policy": bucket_policy}),
        ("writes another bucket", False, widened, "s3:PutObject", other_bucket, account_id, {}),
        ("creates a role", False, widened, "iam:CreateRole", arns.role(account_id, "anything"), account_id, {}),
        (
            "assumes the Terraform role",
            False,
            widened,
            "sts:AssumeRole",
            apply_role(world, account_id),
            account_id,
            {"resource_policy": apply_trust},
        ),
    ]
    return [
        (label, allowed, _request(world, role, action, resource, account, **extra))
        for label, allowed, role, action, resource, account, extra in checks
    ]


def plan_role_violations(worlds_and_accounts: list[tuple[World, str]]) -> list[list[str]]:
    """For each (world, account): one line per plan role check that came out the other way, in ONE
    simulator batch."""
    plans = [plan_role_requests(w, a) for w, a in worlds_and_accounts]
    decided = decisions_of.simulate([r for checks in plans for _, _, r in checks])
    out, at = [], 0
    for checks in plans:
        lines = []
        for (label, allowed, request), decision in zip(checks, decided[at : at + len(checks)], strict=True):
            if decision.decision == "Error":
                raise AssertionError(f"simulator refused {request.principal} {request.action}: {decision.errors}")
            if decision.allowed != allowed:
                verb = "cannot" if allowed else "can"
                lines.append(f"{request.principal} {verb}: {label} ({request.action} on {request.resource})")
        at += len(checks)
        out.append(lines)
    return out
