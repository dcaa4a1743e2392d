"""The platform's story as contracts, one per handoff, built from a :class:`World`.

Each person opens Studio for their own user profile only and launches a project from the
hub's products. A data scientist trains in the VPC and registers (pending), the lead approves, the approval
event leaves the dev account for the hub's bus, the promotion function reads the dev package,
artifacts and key cross-account and registers centrally (pending), the ML engineer approves,
that event starts the team's pipeline, which deploys to test and runs the endpoint tests there
(:mod:`tests.journey.staging_steps`), the governance officer approves,
the pipeline deploys to prod, and the endpoint runs in the account's subnets, monitored
(:mod:`tests.journey.monitor_steps`); a stage in another region than the hub's deploys from
the copies there (:mod:`tests.journey.second_region`).

Each contract is an IAM request for iam-simulate (``Contract``) or a fact checked with a real
tool (``Fact``: event patterns through moto's EventBridge matcher). ``problems`` runs every
contract in ONE simulator batch and returns one line per broken handoff, naming the step, the
principal and what denied it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from moto.events.models import EventPattern

from mlgov.platform import governance as assets
from mlgov.platform import images, naming, policy
from mlgov.platform.governance import approval_action_name
from mlgov.platform.pipeline import VERSION_KEY
from mlgov.review import iam
from mlgov.review import policies as collector
from tests.journey import build_steps, cost_steps, data_steps, monitor_steps, second_region, staging_steps
from tests.journey import decisions as decisions_of
from tests.journey.world import Role, World

PENDING, APPROVED = "PendingManualApproval", "Approved"
PERSONAS = ("data-scientist", "lead-data-scientist")


@dataclass(frozen=True)
class Contract:
    """One request the story needs allowed (or, for a gate, denied)."""

    step: str
    request: iam.Request
    allowed: bool = True


@dataclass(frozen=True)
class Fact:
    """One handoff that is not an IAM call (an event reaching a rule, a role existing)."""

    step: str
    ok: bool
    message: str


def approval_event(account: str, region: str, group: str, version: int = 1, status: str = APPROVED) -> dict:
    """A "SageMaker Model Package State Change" event as AWS documents it (EventBridge events
    from SageMaker: the detail is the DescribeModelPackage shape)."""
    arn = f"arn:aws:sagemaker:{region}:{account}:model-package/{group}/{version}"
    return {
        "version": "0",
        "id": "5ae6b2f6-8e0c-4e4f-9c5a-0c7d3f3b9c21",
        "detail-type": "SageMaker Model Package State Change",
        "source": "aws.sagemaker",
        "account": account,
        "time": "2026-12-01T10:00:00Z",
        "region": region,
        "resources": [arn],
        "detail": {
            "ModelPackageGroupName": group,
            "ModelPackageVersion": version,
            "ModelPackageArn": arn,
            "ModelApprovalStatus": status,
            "ModelPackageStatus": "Completed",
            "CreationTime": 1764583200000,
        },
    }


def _identity(role: Role | None) -> dict:
    return dict(role.policies) if role else {}


def _principal(role: Role | None, fallback: str) -> str:
    return role.arn if role else fallback


class Journey:
    """Every contract of the story for every team and model of a spec."""

    def __init__(self, world: World, teams: list[str] | None = None) -> None:
        self.w = world
        self.spec = world.spec
        self.contracts: list[Contract] = []
        self.facts: list[Fact] = []
        self.hub = self.spec.hub
        self.hub_id = world.account_id(self.hub)
        self.hub_region = naming.hub_region(self.spec)
        self.account_ids = {a.id for a in self.spec.accounts.values()}
        self.hub_stack = world.stack_of(self.hub)
        for team in sorted(teams or self.spec.teams):
            self._studio(team)
            self._persona_names(team)
            for group in self.spec.teams[team].governance.model_package_groups:
                self._story(team, group)
                build_steps.build(self, team, group)
            data_steps.add(self, team)
            cost_steps.add(self, team)
        cost_steps.budget_action(self, sorted(teams or self.spec.teams))

    # --- helpers -----------------------------------------------------------------------

    def fact(self, step: str, ok: bool, message: str) -> None:
        self.facts.append(Fact(step, ok, message))

    def call(
        self,
        step: str,
        role: Role | None,
        missing: str,
        action: str,
        resource: str,
        account: str,
        *,
        resource_policy: dict | None = None,
        scps_of: str | None = None,
        context: dict | None = None,
        allowed: bool = True,
        boundary: dict | None = None,
    ) -> None:
        if role is None:
            self.fact(step, False, f"principal {missing} does not exist")
            return
        # Keys every request carries: who calls (org, account, ARN) and where (the resource's
        # region; global services' ARNs have none, then the caller's home region).
        arn_region = resource.split(":")[3] if resource.count(":") >= 4 else ""
        ctx = {
            "aws:PrincipalOrgID": self.spec.organization.id,
            "aws:PrincipalAccount": role.account,
            "aws:PrincipalArn": role.arn,
            "aws:RequestedRegion": arn_region or self.hub_region,
            **role.principal_tags,
            # Every account of the spec is in the organization (AWS sets the key for its resources).
            **({"aws:ResourceOrgID": self.spec.organization.id} if account in self.account_ids else {}),
            **(context or {}),
        }
        self.contracts.append(
            Contract(
                step,
                iam.Request(
                    principal=role.arn,
                    action=action,
                    resource=resource,
                    resource_account=account,
                    identity_policies=_identity(role),
                    resource_policy=resource_policy,
                    scps=self.w.scps(scps_of) if scps_of else (),
                    permission_boundary=boundary,
                    context=ctx,
                ),
                allowed,
            )
        )

    def assume(self, step: str, caller: Role | None, target: Role | None, target_name: str) -> None:
        """``caller`` may assume ``target``: its identity allows it and the trust admits it."""
        if target is None:
            self.fact(step, False, f"role {target_name} does not exist")
            return
        self.call(step, caller, "caller", "sts:AssumeRole", target.arn, target.account, resource_policy=target.trust)

    def _job_images(self, tag: str, team: str, dev: str, dev_id: str, region: str, execution: Role | None) -> None:
        """The execution role pulls the jobs' images (AWS's SageMaker registries in the region),
        and no image of a repository outside them and the team's own (another account's). Each
        repository is modelled open to every principal (as AWS's registries are): only the
        execution role's own policy decides."""
        step = f"{tag} 2 train in the VPC (images)"
        open_repository = policy.document(
            policy.statement("OpenToAll", ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"], "*", principals="*")
        )
        xgboost = f"arn:aws:ecr:{region}:{images.aws_registry_accounts(region)[0]}:repository/sagemaker-xgboost"
        foreign = f"arn:aws:ecr:{region}:999999999999:repository/sagemaker-xgboost"
        other = [t for t in self.spec.teams if t != team]
        for arn, ok in [(xgboost, True), (foreign, False)] + [
            (
                f"arn:aws:ecr:{self.hub_region}:{self.hub_id}:repository/{naming.team_image_repository(self.spec, o)}",
                False,
            )
            for o in other[:1]
        ]:
            account = arn.split(":")[4]
            self.call(
                step,
                execution,
                "execution",
                "ecr:BatchGetImage",
                arn,
                account,
                scps_of=dev,
                resource_policy=json.loads(open_repository),
                allowed=ok,
            )

    def _no_content_change(self, step: str, role: Role | None, who: str, package: str, account: str, scps: str) -> None:
        """An approver's UpdateModelPackage is a decision only: an update without a status (it
        could carry a new InferenceSpecification or metadata), or one that sets or removes an
        artifact's recorded S3 version, is denied."""
        model = f"{VERSION_KEY}InferenceSpecification.Containers.0.ModelDataUrl"
        edits = {
            "no status": {},
            "sets a recorded version": {
                "sagemaker:ModelApprovalStatus": APPROVED,
                f"sagemaker:CustomerMetadataProperties/{model}": "another-version",
            },
            "removes a recorded version": {
                "sagemaker:ModelApprovalStatus": APPROVED,
                "sagemaker:CustomerMetadataPropertiesToRemove": [model],
            },
        }
        for what, context in edits.items():
            self.call(
                f"{step} (content edit: {what})",
                role,
                who,
                "sagemaker:UpdateModelPackage",
                package,
                account,
                scps_of=scps,
                context=context,
                allowed=False,
            )

    def matches(self, step: str, pattern: dict | None, event: dict, rule: str) -> None:
        if pattern is None:
            self.fact(step, False, f"rule {rule} does not exist")
            return
        ok = EventPattern.load(json.dumps(pattern)).matches_event(event)
        self.fact(step, ok, f"event {event['detail']['ModelPackageArn']} does not match rule {rule}'s pattern")

    # --- Studio: each person opens their own profile, and only theirs -------------------

    def _studio(self, team: str) -> None:
        """0. People open Studio as their persona role, named by their session's source identity.

        The user profile product names each profile after its owner; the domain
        (USER_PROFILE_NAME) and the person's own sign-in set that name as source identity."""
        w, spec = self.w, self.spec
        dev = spec.teams[team].dev_account
        dev_id = w.account_id(dev)
        region = w.stack_of(dev).region
        sm = f"arn:aws:sagemaker:{region}:{dev_id}"
        domain = "d-journey0000"
        people = {
            "data scientist": (f"{team}-alice", w.role(dev, naming.team_role(spec, team, "data-scientist"))),
            "lead": (f"{team}-bob", w.role(dev, naming.team_role(spec, team, "lead-data-scientist"))),
        }
        for who, (profile, role) in people.items():
            (other_who, (other, _)), *_ = [(k, v) for k, v in people.items() if k != who]
            step = f"[{team}] 0 {who} opens own Studio"
            # Studio assumes the persona and stamps the profile name as source identity.
            for action in ("sts:AssumeRole", "sts:SetSourceIdentity"):
                self.service_call(
                    step,
                    "sagemaker.amazonaws.com",
                    action,
                    role.arn if role else "",
                    dev_id,
                    role.trust if role else None,
                    {"aws:SourceAccount": dev_id, "sts:SourceIdentity": profile},
                )
            own = {"aws:SourceIdentity": profile}
            for target, target_who, ok in ((profile, "own", True), (other, f"the {other_who}'s", False)):
                step = f"[{team}] 0 {who} opens {target_who} Studio"
                self.call(
                    step,
                    role,
                    who,
                    "sagemaker:CreatePresignedDomainUrl",
                    f"{sm}:user-profile/{domain}/{target}",
                    dev_id,
                    scps_of=dev,
                    context=own,
                    allowed=ok,
                )
                self.call(
                    step,
                    role,
                    who,
                    "sagemaker:CreateApp",
                    f"{sm}:app/{domain}/{target}/jupyterlab/default",
                    dev_id,
                    scps_of=dev,
                    context=own,
                    allowed=ok,
                )
            step = f"[{team}] 0 {who} launches a project from Studio"
            self.call(step, role, who, "sagemaker:CreateProject", f"{sm}:project/{team}-journey", dev_id, context=own)
            self.call(
                step,
                role,
                who,
                "servicecatalog:ProvisionProduct",
                f"arn:aws:catalog:{self.hub_region}:{self.hub_id}:product/prod-journey0000",
                # A shared portfolio is Service Catalog's grant, not a resource policy: IAM
                # decides on the caller's identity policy alone, as for a same-account call.
                dev_id,
                scps_of=dev,
                context=own,
            )
            self._launches(step, team, dev, role, who)

    def _launches(self, step: str, team: str, dev: str, role: Role | None, who: str) -> None:
        """Service Catalog's half of a launch: the persona's role matches a principal pattern of every
        portfolio that names its persona (and of no other), read from the hub's associations the way
        Service Catalog matches them in the dev account (:attr:`World.launchers`)."""
        catalog = self.spec.service_catalog
        if role is None or catalog is None:
            return
        persona = next(p for p in PERSONAS if naming.team_role(self.spec, team, p) == role.name)
        for pkey, portfolio in sorted(catalog.portfolios.items()):
            launch = self.w.role(dev, naming.catalog_launch_role(self.spec, pkey))
            if launch is None:
                continue
            named = persona in {p.value for p in portfolio.personas}
            matched = role.arn in self.w.launchers.get(launch.arn, set())
            self.fact(
                step,
                matched == named,
                f"{who} {role.arn} {'matches no' if named else 'matches a'} principal pattern of portfolio {pkey}",
            )

    # --- persona role names: only Terraform makes or changes them ----------------------

    def _persona_names(self, team: str) -> None:
        """0. A portfolio opens to every role whose name matches ``<org>-*-<persona>``: in the team's
        dev account an administrator may not make such a role (nor take over or widen one), under
        any path; the Terraform role may; other role names stay the administrator's."""
        w, spec = self.w, self.spec
        dev = spec.teams[team].dev_account
        dev_id = w.account_id(dev)
        catalog = spec.service_catalog
        personas = sorted({p.value for pf in (catalog.portfolios.values() if catalog else []) for p in pf.personas})
        everything = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        admin_name, terraform_name = "AccountAdministrator", spec.terraform.role_name
        admin = Role(admin_name, dev_id, policy.role_arn(dev_id, admin_name), {}, {"AdministratorAccess": everything})
        terraform = Role(
            terraform_name, dev_id, policy.role_arn(dev_id, terraform_name), {}, {"AdministratorAccess": everything}
        )
        org = spec.organization.name
        for persona in personas:
            step = f"[{team}] 0 only Terraform makes a {persona} role"
            intruder = policy.role_arn(dev_id, naming.team_role(spec, "intruder", persona))
            with_path = f"arn:aws:iam::{dev_id}:role/{org}-x/intruder-{persona}"  # a path inside the pattern
            existing = policy.role_arn(dev_id, naming.team_role(spec, team, persona))
            for action, resource in (
                ("iam:CreateRole", intruder),
                ("iam:CreateRole", with_path),
                ("iam:UpdateAssumeRolePolicy", existing),
                ("iam:AttachRolePolicy", existing),
            ):
                self.call(step, admin, "account admin", action, resource, dev_id, scps_of=dev, allowed=False)
                self.call(step, terraform, "Terraform role", action, resource, dev_id, scps_of=dev)
        if personas:
            other = policy.role_arn(dev_id, naming.team_role(spec, team, "notebook"))
            step = f"[{team}] 0 an account admin still makes other roles"
            self.call(step, admin, "account admin", "iam:CreateRole", other, dev_id, scps_of=dev)

    # --- the story of one model --------------------------------------------------------

    def _story(self, team: str, group: str) -> None:
        w, spec = self.w, self.spec
        t = spec.teams[team]
        dev = t.dev_account
        dev_id = w.account_id(dev)
        dev_stack = w.stack_of(dev)
        region = dev_stack.region
        local = naming.model_package_group(spec, team, group)
        central = naming.central_model_package_group(spec, team, group)
        ds = w.role(dev, naming.team_role(spec, team, "data-scientist"))
        lead = w.role(dev, naming.team_role(spec, team, "lead-data-scientist"))
        execution = w.role(dev, naming.team_role(spec, team, "sagemaker-execution"))
        tag = f"[{team}/{group}]"

        # 1. launch: the products find the personas and the team's parameters
        step = f"{tag} 1 launch project"
        for name, role in (("data-scientist", ds), ("lead-data-scientist", lead), ("sagemaker-execution", execution)):
            self.fact(step, role is not None, f"persona role {naming.team_role(spec, team, name)} does not exist")
        params = w.ssm(dev_stack)
        groups_param = params.get(naming.ssm_parameter(spec, "team", "model-package-groups"))
        self.fact(
            step,
            groups_param is not None and local in groups_param[1].split(","),
            f"SSM parameter {naming.ssm_parameter(spec, 'team', 'model-package-groups')} does not list {local}",
        )
        self.fact(
            step,
            # the name the team's roles and groups carry (its renamed_from, if it was renamed)
            params.get(naming.ssm_parameter(spec, "team", "name")) == ("String", naming.team_label(spec, team)),
            f"SSM parameter {naming.ssm_parameter(spec, 'team', 'name')} is not {naming.team_label(spec, team)!r}",
        )

        # Every SSM parameter the newest products read at launch is written in this account
        # (by its stack) or by another product (the Studio domain's id).
        written = set(params) | {naming.ssm_parameter(spec, *k) for k in naming.PRODUCT_PARAMETERS}
        catalog = spec.service_catalog
        for product in sorted(p for pf in (catalog.portfolios.values() if catalog else []) for p in pf.products):
            found = w.newest_template(product)
            for pname, pspec in ((found[1].get("Parameters") or {}) if found else {}).items():
                if str(pspec.get("Type", "")).startswith("AWS::SSM::Parameter::Value<"):
                    self.fact(
                        step,
                        pspec.get("Default") in written,
                        f"product {product} reads SSM parameter {pspec.get('Default')} ({pname}) "
                        f"that nothing writes in {dev}",
                    )

        # 2. train inside the VPC: each job of the model-build pipeline, created by the
        # pipeline's role with the request keys its definition sends; the guardrails of the
        # account's OU see exactly those keys.
        models_key = w.key_arn(dev_stack, naming.kms_alias(spec, "models"))
        package = f"arn:aws:sagemaker:{region}:{dev_id}:model-package/{local}/1"
        jobs = self.pipeline_jobs(dev, dev_id, region)
        if jobs is None:  # no catalog: the team's own pipelines run as the execution role
            network = {"VpcSubnets": True, "VolumeKmsKeyId": models_key}
            jobs = (
                [
                    ("sagemaker:CreateProcessingJob", "processing-job", execution, network),
                    ("sagemaker:CreateTrainingJob", "training-job", execution, network),
                ],
                [(execution, PENDING)],
            )
        steps, registrations = jobs
        for action, kind, role, sent in steps:
            ctx = {"aws:RequestedRegion": region}
            if sent.get("VpcSubnets"):
                ctx["sagemaker:VpcSubnets"] = ["subnet-0a0a0a0a0a0a0a0a0"]  # the network parameters' values
                ctx["sagemaker:VpcSecurityGroupIds"] = ["sg-0a0a0a0a0a0a0a0a0"]
            if sent.get("VolumeKmsKeyId"):
                ctx["sagemaker:VolumeKmsKeyArn"] = str(sent["VolumeKmsKeyId"])
            self.call(
                f"{tag} 2 train in the VPC ({action})",
                role,
                "the pipeline's role",
                action,
                f"arn:aws:sagemaker:{region}:{dev_id}:{kind}/{local}-1",
                dev_id,
                scps_of=dev,
                context=ctx,
            )

        # ... pulling the images from AWS's registries of the region only, never another account's
        self._job_images(tag, team, dev, dev_id, region, execution)

        # 3. register, pending only: the pipeline sends PendingManualApproval, and no role
        # may register a package already Approved
        for role, status in registrations:
            self.fact(
                f"{tag} 3 register (pipeline)",
                status == PENDING,
                f"the pipeline registers with ModelApprovalStatus {status!r} (expected {PENDING!r}, not a parameter)",
            )
            for sent, ok in ((PENDING, True), (APPROVED, False)):
                self.call(
                    f"{tag} 3 register ({sent})",
                    role,
                    "the pipeline's role",
                    "sagemaker:CreateModelPackage",
                    package,
                    dev_id,
                    scps_of=dev,
                    context={"sagemaker:ModelApprovalStatus": sent},
                    allowed=ok,
                )

        # 4. the lead approves in the dev registry; the data scientist cannot
        for who, role, ok in (("lead", lead, True), ("data scientist", ds, False)):
            self.call(
                f"{tag} 4 approve in dev ({who})",
                role,
                who,
                "sagemaker:UpdateModelPackage",
                package,
                dev_id,
                scps_of=dev,
                context={"sagemaker:ModelApprovalStatus": APPROVED},
                allowed=ok,
            )
        # ... and even the lead cannot change what was registered: only a decision, no version edits
        self._no_content_change(f"{tag} 4 approve in dev (lead)", lead, "lead", package, dev_id, dev)

        # 5. the approval leaves the dev account for the hub's bus
        step = f"{tag} 5 forward approval to hub"
        rule_name = naming.approval_forward_rule(spec, team)
        found = w.rule(dev_stack, rule_name)
        event = approval_event(dev_id, region, local)
        self.matches(step, found[0] if found else None, event, rule_name)
        rejected = approval_event(dev_id, region, local, status="Rejected")
        if found:
            self.fact(
                step,
                not EventPattern.load(json.dumps(found[0])).matches_event(rejected),
                f"a Rejected event matches rule {rule_name}",
            )
        bus_name = naming.central_bus(spec)
        bus_arn = f"arn:aws:events:{self.hub_region}:{self.hub_id}:event-bus/{bus_name}"
        targets = found[1] if found else []
        forwarder_arn = next((tt.get("role_arn") for tt in targets if tt.get("arn") == bus_arn), None)
        forwarder = w.roles.get(forwarder_arn or "")
        self.fact(step, forwarder is not None, f"rule {rule_name} has no target on {bus_arn} with an existing role")
        bus_policy = w.resource_policy(self.hub_stack, "aws_cloudwatch_event_bus_policy", "policy")
        self.call(
            step,
            forwarder,
            "event-forwarder",
            "events:PutEvents",
            bus_arn,
            self.hub_id,
            resource_policy=bus_policy,
            scps_of=dev,
            context={"aws:RequestedRegion": self.hub_region},
        )

        # 6. the hub rule invokes the promotion function
        step = f"{tag} 6 promote on the hub"
        promo_rule = naming.promotion_rule(spec)
        found = w.rule(self.hub_stack, promo_rule)
        self.matches(step, found[0] if found else None, event, promo_rule)
        function_arn = f"arn:aws:lambda:{self.hub_region}:{self.hub_id}:function:{naming.promotion_function(spec)}"
        if found:
            self.fact(
                step,
                any(tt.get("arn") == function_arn for tt in found[1]),
                f"rule {promo_rule} does not target {function_arn}",
            )
        permissions = w.lambda_permission(self.hub_stack)
        rule_arn = f"arn:aws:events:{self.hub_region}:{self.hub_id}:rule/{bus_name}/{promo_rule}"
        self.service_call(
            step,
            "events.amazonaws.com",
            "lambda:InvokeFunction",
            function_arn,
            self.hub_id,
            permissions[0] if permissions else None,
            {"aws:SourceArn": rule_arn, "aws:SourceAccount": self.hub_id},
        )

        # 7. the promotion function reads the dev package, artifacts and key cross-account,
        # then registers centrally (pending) and writes the model's one card
        step = f"{tag} 7 promotion reads dev"
        promotion = w.role(self.hub, naming.role_name(spec, "model-promotion"))
        group_policy = w.resource_policy(
            dev_stack, "aws_sagemaker_model_package_group_policy", "resource_policy", local
        )
        self.call(
            step,
            promotion,
            "model-promotion",
            "sagemaker:DescribeModelPackage",
            package,
            dev_id,
            resource_policy=group_policy,
            scps_of=self.hub,
        )
        bucket = naming.bucket_name(spec, dev, region, "models")
        self.call(
            step,
            promotion,
            "model-promotion",
            "s3:GetObject",
            f"arn:aws:s3:::{bucket}/{local}/1/model.tar.gz",
            dev_id,
            resource_policy=w.resource_policy(dev_stack, "aws_s3_bucket_policy", "policy", bucket),
            scps_of=self.hub,
        )
        self.call(
            step,
            promotion,
            "model-promotion",
            "kms:Decrypt",
            models_key or "",
            dev_id,
            resource_policy=w.key_policy(dev_stack, naming.kms_alias(spec, "models")),
            scps_of=self.hub,
            context={
                "kms:ViaService": f"s3.{region}.amazonaws.com",
                "kms:ResourceAliases": [naming.kms_alias(spec, "models")],
            },
        )
        hub_sm = f"arn:aws:sagemaker:{self.hub_region}:{self.hub_id}"
        central_package = f"{hub_sm}:model-package/{central}/1"
        step = f"{tag} 7 promotion registers centrally"
        for status, ok in ((PENDING, True), (APPROVED, False)):
            self.call(
                f"{step} ({status})",
                promotion,
                "model-promotion",
                "sagemaker:CreateModelPackage",
                central_package,
                self.hub_id,
                scps_of=self.hub,
                context={"sagemaker:ModelApprovalStatus": status},
                allowed=ok,
            )
        for action in ("sagemaker:CreateModelCard", "sagemaker:UpdateModelCard"):
            self.call(
                f"{step} (one model card)",
                promotion,
                "model-promotion",
                action,
                f"{hub_sm}:model-card/{central}",
                self.hub_id,
                scps_of=self.hub,
            )

        # 8. the ML engineer approves centrally; the event starts the team's pipeline
        step = f"{tag} 8 approve centrally"
        engineer = w.role(self.hub, naming.role_name(spec, "ml-engineer"))
        self.call(
            step,
            engineer,
            "ml-engineer",
            "sagemaker:UpdateModelPackage",
            central_package,
            self.hub_id,
            scps_of=self.hub,
            context={"sagemaker:ModelApprovalStatus": APPROVED},
        )
        self._no_content_change(step, engineer, "ml-engineer", central_package, self.hub_id, self.hub)
        step = f"{tag} 9 approval starts the pipeline"
        start_rule = naming.central_approval_rule(spec, team, group)
        found = w.rule(self.hub_stack, start_rule)
        self.matches(
            step, found[0] if found else None, approval_event(self.hub_id, self.hub_region, central), start_rule
        )
        pipeline_name = naming.deploy_pipeline(spec, team, group)
        pipeline_arn = f"arn:aws:codepipeline:{self.hub_region}:{self.hub_id}:{pipeline_name}"
        start_arn = next(
            (tt.get("role_arn") for tt in (found[1] if found else []) if tt.get("arn") == pipeline_arn), None
        )
        self.fact(
            step, start_arn in w.roles, f"rule {start_rule} has no target on {pipeline_arn} with an existing role"
        )
        self.call(
            step,
            w.roles.get(start_arn or ""),
            "start-deploy",
            "codepipeline:StartPipelineExecution",
            pipeline_arn,
            self.hub_id,
            scps_of=self.hub,
        )

        # 10.. each stage: assume the deploy role, run the endpoint stack, build the endpoint
        pipeline = w.pipeline(self.hub_stack, pipeline_name)
        pipeline_role = w.roles.get((pipeline or {}).get("role_arn", ""))
        self.fact(
            f"{tag} 10 pipeline",
            pipeline is not None and pipeline_role is not None,
            f"pipeline {pipeline_name} or its role does not exist",
        )
        actions = {a["name"]: a for st in (pipeline or {}).get("stage", []) for a in st.get("action", [])}
        self._sources_read_only(tag, team, pipeline_role)
        self._artifact_stores(tag, team, pipeline_role, actions)
        for stage in t.stages:
            self._stage(tag, team, group, stage, actions, pipeline_role, pipeline_arn, central_package)

    def _sources_read_only(self, tag: str, team: str, pipeline_role: Role | None) -> None:
        """The pipelines' source (every team's endpoint template) is read, never replaced, by the
        roles that share the artifact store: the team's pipeline and select roles."""
        step = f"{tag} 10 pipeline source read-only"
        bucket = naming.bucket_name(self.spec, self.hub, self.hub_region, "deploy-pipelines")
        source = f"arn:aws:s3:::{bucket}/{assets.SOURCE_KEY}"
        select = self.w.role(self.hub, naming.team_role(self.spec, team, "select-model"))
        self.call(step, pipeline_role, "deploy-pipeline", "s3:GetObject", source, self.hub_id, scps_of=self.hub)
        for who, role in (("deploy-pipeline", pipeline_role), ("select-model", select)):
            for action in ("s3:PutObject", "s3:DeleteObject"):
                self.call(f"{step} ({who})", role, who, action, source, self.hub_id, scps_of=self.hub, allowed=False)

    def _artifact_stores(self, tag: str, team: str, pipeline_role: Role | None, actions: dict) -> None:
        """Each team's pipeline runs in its own artifact store: the team's pipeline and select
        roles write there and in no other team's store, and the team's stage deploy roles read
        it (another team's deploy role does not)."""
        step = f"{tag} 10 own artifact store"
        spec, w = self.spec, self.w
        select = w.role(self.hub, naming.team_role(spec, team, "select-model"))
        others = [o for o in sorted(spec.teams) if o != team]
        stores = [(team, True)] + [(o, False) for o in others[:1]]
        for owner, ok in stores:
            bucket = naming.team_pipeline_bucket(spec, owner)
            obj = f"arn:aws:s3:::{bucket}/{naming.deploy_pipeline(spec, owner, 'x')[:20]}/selected/run0001"
            store_policy = w.resource_policy(self.hub_stack, "aws_s3_bucket_policy", "policy", bucket)
            whose = "own" if ok else f"team {owner}'s"
            for who, role in (("deploy-pipeline", pipeline_role), ("select-model", select)):
                self.call(
                    f"{step} ({who} writes {whose})",
                    role,
                    who,
                    "s3:PutObject",
                    obj,
                    self.hub_id,
                    resource_policy=store_policy,
                    scps_of=self.hub,
                    allowed=ok,
                )
            # The hub region's store serves the stages there; a stage in another region reads
            # the store of its region (tests.journey.second_region).
            here = [
                a
                for name, a in sorted(actions.items())
                if name.startswith("deploy-") and a.get("region", self.hub_region) == self.hub_region
            ]
            for stage_action in here:
                deploy = w.roles.get(stage_action.get("role_arn", ""))
                self.call(
                    f"{step} ({stage_action['name']} reads {whose})",
                    deploy,
                    "deploy",
                    "s3:GetObject",
                    obj,
                    self.hub_id,
                    resource_policy=store_policy,
                    scps_of=next((k for k, a in spec.accounts.items() if deploy and a.id == deploy.account), self.hub),
                    allowed=ok,
                )
                break  # one stage's deploy role is enough: each stage's is the same statement

    def _stage(self, tag, team, group, stage, actions, pipeline_role, pipeline_arn, central_package) -> None:
        w, spec = self.w, self.spec
        account = stage.account
        account_id = w.account_id(account)
        stack = w.stack_of(account)
        region = stack.region
        deploy_action = actions.get(f"deploy-{stage.name}")
        step = f"{tag} deploy to {stage.name}"
        if deploy_action is None:
            self.fact(step, False, f"pipeline has no deploy-{stage.name} action")
            return
        self.fact(
            step,
            deploy_action.get("region", self.hub_region) == region,
            f"deploy-{stage.name} runs in {deploy_action.get('region')} but {account} is built in {region}",
        )
        deploy = w.roles.get(deploy_action.get("role_arn", ""))
        self.assume(step, pipeline_role, deploy, deploy_action.get("role_arn", "?"))
        config = deploy_action.get("configuration", {})
        stack_arn = f"arn:aws:cloudformation:{region}:{account_id}:stack/{config.get('StackName')}/1"
        for action in ("cloudformation:CreateStack", "cloudformation:UpdateStack"):
            self.call(
                step,
                deploy,
                "deploy",
                action,
                stack_arn,
                account_id,
                scps_of=account,
                context={"aws:RequestedRegion": region},
            )
        deployer = w.roles.get(config.get("RoleArn", ""))
        self.call(
            step,
            deploy,
            "deploy",
            "iam:PassRole",
            config.get("RoleArn", "?"),
            account_id,
            context={"iam:PassedToService": "cloudformation.amazonaws.com"},
        )
        # The endpoint template, resolved with the pipeline's parameters, says what CloudFormation sends.
        resolved = monitor_steps.stage_parameters(self, team, group, config, central_package)
        self.fact(f"{step} (template configuration)", isinstance(resolved, dict), f"no parameters: {resolved}")
        parameters = resolved if isinstance(resolved, dict) else {}
        template = collector._Template(
            assets.endpoint_template(spec), config.get("StackName", "stack"), region, account_id
        )
        for key, value in parameters.items():
            if key in template.params and isinstance(value, str):
                spec_type = assets.endpoint_template(spec)["Parameters"][key].get("Type", "String")
                template.params[key] = value.split(",") if spec_type == "CommaDelimitedList" else value
        template.params["ModelPackageArn"] = central_package  # what the select step hands over
        resources = template.t.get("Resources", {})
        model = next(
            (template.resolve(r["Properties"]) for r in resources.values() if r["Type"] == "AWS::SageMaker::Model"), {}
        )
        config_props = next(
            (
                template.resolve(r["Properties"])
                for r in resources.values()
                if r["Type"] == "AWS::SageMaker::EndpointConfig"
            ),
            {},
        )
        vpc = model.get("VpcConfig") or {}
        ctx = {"aws:RequestedRegion": region}
        if vpc.get("Subnets"):
            ctx["sagemaker:VpcSubnets"] = vpc["Subnets"]
            ctx["sagemaker:VpcSecurityGroupIds"] = vpc.get("SecurityGroupIds", [])
        ctx["sagemaker:NetworkIsolation"] = str(bool(model.get("EnableNetworkIsolation"))).lower()
        endpoint = parameters.get("EndpointName", naming.endpoint_name(spec, team, group))
        sm = f"arn:aws:sagemaker:{region}:{account_id}"
        self.call(
            f"{step} (model in the account's subnets)",
            deployer,
            "endpoint-deployer",
            "sagemaker:CreateModel",
            f"{sm}:model/{endpoint}-v1-0123abcd",
            account_id,
            scps_of=account,
            context=ctx,
        )
        kms = {"aws:RequestedRegion": region}
        if config_props.get("KmsKeyId"):
            kms["sagemaker:VolumeKmsKeyArn"] = config_props["KmsKeyId"]
        self.call(
            f"{step} (endpoint config with volume key)",
            deployer,
            "endpoint-deployer",
            "sagemaker:CreateEndpointConfig",
            f"{sm}:endpoint-config/{endpoint}-v1-0123abcd",
            account_id,
            scps_of=account,
            context=kms,
        )
        self.call(
            step,
            deployer,
            "endpoint-deployer",
            "sagemaker:CreateEndpoint",
            f"{sm}:endpoint/{endpoint}",
            account_id,
            scps_of=account,
            context={"aws:RequestedRegion": region},
        )
        endpoint_role = w.roles.get(parameters.get("ModelExecutionRoleArn", ""))
        self.call(
            step,
            deployer,
            "endpoint-deployer",
            "iam:PassRole",
            parameters.get("ModelExecutionRoleArn", "?"),
            account_id,
            context={"iam:PassedToService": "sagemaker.amazonaws.com"},
        )
        # The endpoint reads the promoted artifact and its key in the hub, in its own region (a
        # stage in another region than the hub's reads the hub's replica there).
        if region != self.hub_region:
            second_region.stage_steps(self, tag, team, group, stage, actions, pipeline_role, deploy, central_package)
        artifact_bucket = naming.bucket_name(spec, self.hub, region, "model-artifacts")
        prefix = naming.artifact_prefix(spec, team, group)
        self.call(
            f"{step} (endpoint reads the artifact)",
            endpoint_role,
            "endpoint",
            "s3:GetObject",
            f"arn:aws:s3:::{artifact_bucket}/{prefix}/v1/model.tar.gz",
            self.hub_id,
            resource_policy=w.resource_policy(self.hub_stack, "aws_s3_bucket_policy", "policy", artifact_bucket),
            scps_of=account,
        )
        hub_alias = naming.kms_alias(spec, "model-artifacts")
        self.call(
            f"{step} (endpoint decrypts the artifact)",
            endpoint_role,
            "endpoint",
            "kms:Decrypt",
            w.key_arn(self.hub_stack, hub_alias, region) or "",
            self.hub_id,
            resource_policy=w.key_policy(self.hub_stack, hub_alias, region),
            scps_of=account,
            context={"kms:ResourceAliases": [hub_alias], "kms:ViaService": f"s3.{region}.amazonaws.com"},
        )
        monitor_steps.stage_steps(self, tag, team, group, stage, parameters, deployer, central_package)
        staging_steps.stage_steps(self, tag, team, group, stage, actions, pipeline_role, parameters)
        if stage.manual_approval:
            gate = f"{pipeline_arn}/{stage.name}/{approval_action_name(stage.name)}"
            officer = w.role(self.hub, naming.role_name(spec, "governance-officer"))
            self.fact(
                f"{tag} approve {stage.name}",
                approval_action_name(stage.name) in actions,
                f"pipeline has no {approval_action_name(stage.name)} action",
            )
            self.call(
                f"{tag} approve {stage.name} (governance officer)",
                officer,
                "governance-officer",
                "codepipeline:PutApprovalResult",
                gate,
                self.hub_id,
                scps_of=self.hub,
            )

    def pipeline_jobs(self, dev: str, dev_id: str, region: str):
        """The pipelines of the model-build versions a team may launch as (jobs, registrations), or None.

        Every version from the newest back to the first that pins registration (v2 and v3 of the
        default spec; v1 exposed ModelApprovalStatus as a pipeline parameter and is no longer
        launchable). jobs: (create action, ARN kind, the role that creates it, {VpcSubnets,
        VolumeKmsKeyId} it sends); registrations: (role, ModelApprovalStatus sent). Evaluated in
        the dev account."""
        found = self.w.templates("model-build")
        if not found:
            return None
        jobs, registrations = [], []
        for _path, template in reversed(found):
            pinned = self._pipeline_jobs(template, dev, dev_id, region, jobs, registrations)
            if not pinned:
                break
        return jobs, registrations

    def _pipeline_jobs(self, template: dict, dev: str, dev_id: str, region: str, jobs: list, registrations: list):
        """Add one version's pipeline jobs; False when the version lets a starter choose the status
        (its pipelines take ModelApprovalStatus as a parameter): older versions are not walked."""
        resolver = collector._Template(template, "project", region, dev_id)
        self.w.launch_parameters(template, resolver, dev)
        newest = not jobs and not registrations
        at_jobs, at_registrations = len(jobs), len(registrations)
        pinned = True
        for r in (template.get("Resources") or {}).values():
            if r.get("Type") != "AWS::SageMaker::Pipeline":
                continue
            props = resolver.resolve(r.get("Properties") or {})
            body = props["PipelineDefinition"]["PipelineDefinitionBody"]
            definition = json.loads(body) if isinstance(body, str) else body
            pipeline_role = self.role_named(dev, str(props.get("RoleArn", "")).rsplit("/", 1)[-1])
            for step in _steps(definition.get("Steps", [])):
                args = step.get("Arguments") or {}
                role = self.role_named(dev, str(args.get("RoleArn", "")).rsplit("/", 1)[-1]) or pipeline_role
                if step.get("Type") == "Training":
                    sent = {
                        "VpcSubnets": (args.get("VpcConfig") or {}).get("Subnets"),
                        "VolumeKmsKeyId": (args.get("ResourceConfig") or {}).get("VolumeKmsKeyId"),
                    }
                    jobs.append(("sagemaker:CreateTrainingJob", "training-job", pipeline_role, sent))
                elif step.get("Type") == "Processing":
                    network = (args.get("NetworkConfig") or {}).get("VpcConfig") or {}
                    cluster = (args.get("ProcessingResources") or {}).get("ClusterConfig") or {}
                    sent = {"VpcSubnets": network.get("Subnets"), "VolumeKmsKeyId": cluster.get("VolumeKmsKeyId")}
                    jobs.append(("sagemaker:CreateProcessingJob", "processing-job", pipeline_role, sent))
                elif "ModelApprovalStatus" in args or step.get("Type") == "RegisterModel":
                    registrations.append((pipeline_role, args.get("ModelApprovalStatus")))
                del role  # jobs are created by the pipeline's role; the job's role runs them
            if any(p.get("Name") == "ModelApprovalStatus" for p in definition.get("Parameters", [])):
                pinned = False
        if not pinned and not newest:  # an unlaunchable old version: its steps are not the story's
            del jobs[at_jobs:], registrations[at_registrations:]
        return pinned

    def role_named(self, account_key: str, name: str) -> Role | None:
        """A role of an account: the Terraform one, else one a product creates."""
        return self.w.role(account_key, name) or self.w.product_role(account_key, name)

    def service_call(self, step, service, action, resource, account, resource_policy, context) -> None:
        """An AWS service principal's call, allowed by the resource policy alone."""
        if resource_policy is None:
            self.fact(step, False, f"no resource policy lets {service} call {action} on {resource}")
            return
        self.contracts.append(
            Contract(
                step,
                iam.Request(
                    principal=service,
                    action=action,
                    resource=resource,
                    resource_account=account,
                    resource_policy=resource_policy,
                    context=context,
                ),
            )
        )


def _steps(steps: list) -> list[dict]:
    """Every step of a pipeline definition, those inside conditions included."""
    out = []
    for step in steps:
        out.append(step)
        args = step.get("Arguments") or {}
        out += _steps(args.get("IfSteps", [])) + _steps(args.get("ElseSteps", []))
    return out


def describe(contract: Contract, decision: iam.Decision) -> str:
    r = contract.request
    want = "allowed" if contract.allowed else "denied"
    why = "; ".join(decision.errors) or decision.explanation
    return (
        f"{contract.step}: {r.principal} {r.action} on {r.resource}: expected {want}, got {decision.decision} ({why})"
    )


def problems(world: World) -> list[str]:
    """One line per broken handoff of the story (empty: the story works end to end)."""
    return problems_of([world])[0]


def problems_of(worlds: list[World], teams: list[str] | None = None) -> list[list[str]]:
    """:func:`problems` of several worlds (of ``teams`` only, if given) in ONE simulator batch."""
    return lines_of([Journey(w, teams) for w in worlds])


def lines_of(journeys: list[Journey]) -> list[list[str]]:
    """Problem lines of each journey, every contract decided in ONE simulator batch."""
    decisions = decisions_of.simulate([c.request for j in journeys for c in j.contracts])
    out, at = [], 0
    for journey in journeys:
        lines = [f"{f.step}: {f.message}" for f in journey.facts if not f.ok]
        for contract in journey.contracts:
            decision = decisions[at]
            at += 1
            if decision.allowed != contract.allowed or decision.decision == "Error":
                lines.append(describe(contract, decision))
        out.append(lines)
    return out


def broken_lines(world: World, broken: dict, teams: list[str] | None = None) -> dict[str, list[str]]:
    """{seam: the problem lines a broken copy of ``world``'s tree has and ``world`` has not}.

    ``broken`` maps a seam to (an edit of a tree, ...): each copy is the tree with that edit,
    walked for ``teams`` (all when None), every copy in ONE simulator batch."""
    copies = []
    for seam in sorted(broken):
        tree = dict(world.tree)
        broken[seam][0](tree)
        copies.append(World(world.spec, tree))
    baseline, *rest = lines_of([Journey(world, teams)] + [Journey(w, teams) for w in copies])
    pairs = zip(sorted(broken), rest, strict=True)
    return {seam: [line for line in lines if line not in baseline] for seam, lines in pairs}


__all__ = [
    "Contract",
    "Fact",
    "Journey",
    "World",
    "approval_event",
    "broken_lines",
    "lines_of",
    "policy",
    "problems",
    "problems_of",
]
