"""The cost steps of the story: instance types a dev account may start, and the budget action.

- 11 instance types in dev: the request the team's model-build pipeline makes to train (its
  role, its VPC and volume key keys) asked again with ``sagemaker:InstanceTypes``: an over-size
  type and a GPU type the team's list does not hold are denied by the account's instance-type
  SCP, a type of the layer's list passes, and so does each extra type the team is listed for.
  Only where the spec restricts the dev layer.
- 0 only Terraform makes a batch or endpoint-deployer role: in a shared stage account whose
  instance-type SCP gives a team's roles extra types by name, an administrator of the account may
  not make or change a role of those names (``protect_audit``); Terraform may.
- 12 budget action (once per spec with an action): only AWS Budgets, for the management account,
  assumes ``<org>-budget-action``; the role attaches and detaches the deny-new-compute SCP on each
  budgeted account and nothing else (no other SCP, no other account, no other Organizations
  call); no persona (a team's data scientist or lead, the hub's ML engineer or governance
  officer) assumes the role or detaches the SCP.

Every decision is the IAM simulator's (:mod:`tests.journey.journey`'s contracts).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlgov.platform import budgets, guardrails, naming, policy
from mlgov.platform.iam import budgets as iam_budgets
from mlgov.review import iam
from mlgov.spec.model import Layer
from tests.journey.world import Role

if TYPE_CHECKING:
    from tests.journey.journey import Journey

# Candidates for "over-size" and "GPU" (AWS's SageMaker instance types): the first one the
# team's list does not allow is asked.
OVER_SIZE = ("ml.m5.24xlarge", "ml.c5.18xlarge", "ml.r5.24xlarge")
GPU = ("ml.p4d.24xlarge", "ml.g5.xlarge", "ml.p3.2xlarge", "ml.g4dn.xlarge")
EVERYTHING = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def concrete(pattern: str) -> str:
    """An instance type a pattern of the list stands for (``ml.g5.*`` -> ``ml.g5.xlarge``)."""
    return pattern.replace("*", "xlarge")


def add(j: Journey, team: str) -> None:
    _dev_instance_types(j, team)
    _stage_role_names(j, team)


def _training_request(j: Journey, team: str) -> tuple[Role | None, str, dict] | None:
    """(role, training job ARN, the keys it sends) of the team's first training job, or None."""
    spec, w = j.spec, j.w
    t = spec.teams[team]
    groups = list(t.governance.model_package_groups)
    if not groups:
        return None
    dev = t.dev_account
    dev_id = w.account_id(dev)
    region = w.stack_of(dev).region
    jobs = j.pipeline_jobs(dev, dev_id, region)
    if jobs is None:  # no catalog: the team's own pipelines run as the execution role
        execution = w.role(dev, naming.team_role(spec, team, "sagemaker-execution"))
        key = w.key_arn(w.stack_of(dev), naming.kms_alias(spec, "models"))
        steps = [
            ("sagemaker:CreateTrainingJob", "training-job", execution, {"VpcSubnets": True, "VolumeKmsKeyId": key})
        ]
    else:
        steps = jobs[0]
    training = [s for s in steps if s[0] == "sagemaker:CreateTrainingJob"]
    if not training:
        return None
    _action, kind, role, sent = training[0]
    ctx = {"aws:RequestedRegion": region}
    if sent.get("VpcSubnets"):
        ctx["sagemaker:VpcSubnets"] = ["subnet-0a0a0a0a0a0a0a0a0"]
        ctx["sagemaker:VpcSecurityGroupIds"] = ["sg-0a0a0a0a0a0a0a0a0"]
    if sent.get("VolumeKmsKeyId"):
        ctx["sagemaker:VolumeKmsKeyArn"] = str(sent["VolumeKmsKeyId"])
    local = naming.model_package_group(spec, team, groups[0])
    return role, f"arn:aws:sagemaker:{region}:{dev_id}:{kind}/{local}-1", ctx


def _dev_instance_types(j: Journey, team: str) -> None:
    spec = j.spec
    allowed = guardrails.allowed_instance_types(spec, Layer.dev, team)
    base = guardrails.allowed_instance_types(spec, Layer.dev)
    request = _training_request(j, team) if allowed is not None and base is not None else None
    if request is None or allowed is None or base is None:
        return
    role, job, ctx = request
    dev = spec.teams[team].dev_account
    dev_id = j.w.account_id(dev)
    asks: list[tuple[str, str, bool]] = []
    for what, candidates in (("over-size", OVER_SIZE), ("GPU", GPU)):
        denied = next((c for c in candidates if not guardrails.instance_type_allowed(c, allowed)), None)
        if denied:
            asks.append((what, denied, False))
    listed = next((p for p in base if p != "system" and "*" not in p), concrete(base[0]))
    asks.append(("a type of the layer's list", listed, True))
    for extra in spec.teams[team].instance_types.dev:
        asks.append(("the team's listed type", concrete(extra), True))
    for what, instance_type, ok in asks:
        j.call(
            f"[{team}] 11 instance types in dev ({what} {instance_type})",
            role,
            "the pipeline's role",
            "sagemaker:CreateTrainingJob",
            job,
            dev_id,
            scps_of=dev,
            context={**ctx, "sagemaker:InstanceTypes": [instance_type]},
            allowed=ok,
        )


def _admin(account_id: str, name: str) -> Role:
    return Role(name, account_id, policy.role_arn(account_id, name), {}, {"AdministratorAccess": EVERYTHING})


def _stage_role_names(j: Journey, team: str) -> None:
    """In each shared stage account whose instance-type SCP names the team's roles, only
    Terraform makes or changes them (the account's administrator gets no extra types by a name)."""
    spec, w = j.spec, j.w
    extra_accounts = set(guardrails.instance_type_extra_stage_accounts(spec))
    for account in sorted({s.account for s in spec.teams[team].stages} & extra_accounts):
        layer = spec.accounts[account].layer
        if not getattr(spec.teams[team].instance_types, layer.value):
            continue
        account_id = w.account_id(account)
        admin = _admin(account_id, "AccountAdministrator")
        terraform = _admin(account_id, spec.terraform.role_name)
        for purpose in guardrails.STAGE_INSTANCE_ROLES:
            step = f"[{team}] 0 only Terraform makes a {purpose} role in {account}"
            arn = policy.role_arn(account_id, naming.team_role(spec, team, purpose))
            for action in ("iam:CreateRole", "iam:UpdateAssumeRolePolicy", "iam:AttachRolePolicy"):
                j.call(step, admin, "account admin", action, arn, account_id, scps_of=account, allowed=False)
                j.call(step, terraform, "Terraform role", action, arn, account_id, scps_of=account)


def budget_action(j: Journey, teams: list[str]) -> None:
    """12. The budget action, for the spec's budgets with an action (once per spec)."""
    spec, w = j.spec, j.w
    accounts = budgets.action_accounts(spec)
    if not accounts:
        return
    management = spec.organization.management_account
    management_id = w.account_id(management)
    stack = w.stack_of(management)
    name = naming.budget_action_role(spec)
    role = w.role(management, name)
    if role is None:
        j.fact("12 budget action", False, f"role {name} does not exist in {management}")
        return
    scps = {
        scp.key: stack.resolve(f"${{aws_organizations_policy.{scp.key}.arn}}")
        for scp in guardrails.service_control_policies(spec)
    }
    deny = scps[budgets.DENY_COMPUTE_KEY]

    # only AWS Budgets, acting for the management account, assumes the role
    step = "12 budget action (only AWS Budgets assumes the role)"
    for source, ok in ((management_id, True), *((a, False) for a in accounts[:1])):
        j.contracts.append(_service_assume(j, step, role, source, ok))

    # it attaches and detaches the deny-new-compute SCP on each budgeted account ...
    step = "12 budget action (attaches deny-new-compute to the budgeted account)"
    for action in iam_budgets.ACTION_ACTIONS:
        for resource in [deny, *(iam_budgets.account_arn(spec, a) for a in accounts)]:
            j.call(step, role, "budget action role", action, resource, management_id)
    # ... and nothing else: no other SCP, no other account, no other Organizations call
    step = "12 budget action (nothing but deny-new-compute on the budgeted accounts)"
    others = [arn for key, arn in sorted(scps.items()) if key != budgets.DENY_COMPUTE_KEY]
    unbudgeted = sorted(a.id for a in spec.accounts.values() if a.id not in accounts and a.id != management_id)
    for resource in others[:3] + [iam_budgets.account_arn(spec, a) for a in unbudgeted[:2]]:
        for action in iam_budgets.ACTION_ACTIONS:
            j.call(step, role, "budget action role", action, resource, management_id, allowed=False)
    for action in ("organizations:UpdatePolicy", "organizations:DeletePolicy", "organizations:CreatePolicy"):
        j.call(step, role, "budget action role", action, deny, management_id, allowed=False)

    # no persona assumes the role or detaches the SCP
    hub = spec.hub
    personas: list[tuple[str, Role | None]] = [
        (p, w.role(hub, naming.role_name(spec, p))) for p in ("ml-engineer", "governance-officer")
    ]
    for team in teams:
        dev = spec.teams[team].dev_account
        personas += [(f"{team} {p}", w.role(dev, naming.team_role(spec, team, p))) for p in PERSONAS]
    for who, persona in personas:
        if persona is None:
            continue
        step = f"12 budget action (no persona takes it: {who})"
        j.call(step, persona, who, "sts:AssumeRole", role.arn, management_id, resource_policy=role.trust, allowed=False)
        scps_of = next(k for k, a in spec.accounts.items() if a.id == persona.account)
        for resource in (deny, iam_budgets.account_arn(spec, accounts[0])):
            j.call(
                step,
                persona,
                who,
                "organizations:DetachPolicy",
                resource,
                management_id,
                scps_of=scps_of,
                allowed=False,
            )


PERSONAS = ("data-scientist", "lead-data-scientist")


def _service_assume(j: Journey, step: str, role: Role, source_account: str, ok: bool):
    from tests.journey.journey import Contract

    return Contract(
        step,
        iam.Request(
            principal=iam_budgets.BUDGETS,
            action="sts:AssumeRole",
            resource=role.arn,
            resource_account=role.account,
            resource_policy=role.trust,
            context={"aws:SourceAccount": source_account},
        ),
        ok,
    )
