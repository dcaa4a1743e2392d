"""Every policy document the synthesized stacks of a spec hold, computed without cdktf.

:func:`documents` walks the stacks the way the constructs build them (which accounts,
regions and teams get which resources: the same platform functions they call) and returns,
per stack and Terraform resource address, the document the stack carries, its kind, the AWS
object it applies to and its size as AWS counts it. ``validate --policies`` lists them; the
quota checks size them; a test holds the list equal to what synthesis writes.

Kinds: ``trust``, ``identity-inline``, ``managed``, ``scp``, ``key``, ``bucket``, ``queue``,
``topic``, ``bus``, ``repository``, ``model-package-group``, ``vpc-endpoint`` and
``lambda-permission`` (the statement a permission adds to the function's policy). A document's
size is counted on the text AWS receives (after Terraform's interpolation: ``$${`` is one ``$``
less, a reference is its value) the way the quota its kind is held to counts it
(:data:`QUOTA_OF_KIND`, :func:`mlgov.platform.quotas.measure`: IAM leaves formatting white space
out, S3, KMS, SNS, SQS and Lambda count bytes); a kind without a size quota counts characters.

A document that embeds a Terraform reference (a key ARN known only after apply) carries it as
the stack does; its size counts the reference as the longest value it can take (see
:data:`REFERENCE_LENGTHS`): the count is an upper bound, never an underestimate.

The bootstrap (docs/day-zero.md) is listed too: its Terraform delivery as the stack
``bootstrap`` (``generated/bootstrap/terraform/cdk.tf.json``: the management account's
Terraform role's trust, its plan role's trust and inline policy, the state bucket's, its key's
and the access log bucket's policies), and the StackSet's template once per member account (as
the stack ``bootstrap/cloudformation/terraform-role.yaml@<account key>``): that account's
Terraform role's trust and plan role's trust and inline policy, with the account's id (an
account not created yet counts as a reference to the id the management stack creates: 12 digits).

The policies inside the Service Catalog product templates (CloudFormation,
``generated/products/``) are not these stacks' documents: their text depends on the launch, and
:mod:`mlgov.review.product_policies` lists them as evaluated for an example launch.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from mlgov.platform import bootstrap as bootstrap_facts
from mlgov.platform import budgets, governance, lifecycle, monitoring, naming, policy
from mlgov.platform import guardrails as scp
from mlgov.platform import network as network_facts
from mlgov.platform.iam import arns, baseline
from mlgov.platform.iam import bootstrap as iam_bootstrap
from mlgov.platform.iam import budgets as iam_budgets
from mlgov.platform.iam import catalog as iam_catalog
from mlgov.platform.iam import data as iam_data
from mlgov.platform.iam import dev as iam_dev
from mlgov.platform.iam import governance as iam_hub
from mlgov.platform.iam import monitoring as iam_monitoring
from mlgov.platform.iam import network as iam_network
from mlgov.platform.iam import stage as iam_stage
from mlgov.platform.iam.common import dead_letter_queue_policy, service_trust
from mlgov.platform.iam.images import repository_policy
from mlgov.platform.iam.repositories import codebuild_statements, codepipeline_statements
from mlgov.platform.quotas import QUOTAS, measure
from mlgov.spec.model import Layer, OrgSpec, StackRef

# The size quota (mlgov.platform.quotas) each kind is held to; the other kinds have none mlgov
# checks (VPC endpoint, model package group and ECR repository policies).
QUOTA_OF_KIND = {
    "scp": "scp_chars",
    "managed": "iam_managed_policy_chars",
    "identity-inline": "iam_role_inline_policies_chars",
    "trust": "iam_role_trust_policy_chars",
    "bucket": "s3_bucket_policy_bytes",
    "key": "kms_key_policy_bytes",
    "bus": "event_bus_policy_chars",
    "topic": "sns_topic_policy_bytes",
    "queue": "sqs_queue_policy_bytes",
    "lambda-permission": "lambda_resource_policy_bytes",
}

# The longest value a reference can take, by (resource type, attribute), given the stack's
# region and account id. A KMS key id is a UUID or "mrk-" + 32 hex digits: 36 characters
# either way (AWS KMS API reference, KeyMetadata.KeyId). A connection's ARN carries the older
# "codestar-connections" service prefix or the newer, shorter "codeconnections" one, and a
# UUID (AWS CodeConnections API reference, Connection.ConnectionArn).
REFERENCE_LENGTHS: dict[tuple[str, str], Callable[[str, str], int]] = {
    # arn:aws:organizations::<management>:policy/<org id>/service_control_policy/p-<8 to 128>
    # (AWS Organizations API reference, Policy.PolicySummary: Id and Arn patterns); the org id
    # is o- and 10 to 32 characters.
    ("aws_organizations_policy", "arn"): lambda region, account: (
        len(f"arn:aws:organizations::{account}:policy/") + 34 + len("/service_control_policy/") + 130
    ),
    ("aws_kms_key", "arn"): lambda region, account: len(f"arn:aws:kms:{region}:{account}:key/") + 36,
    # An account mlgov is creating: 12 digits (AWS Organizations API reference, Account.Id: ^\d{12}$).
    ("aws_organizations_account", "id"): lambda region, account: 12,
    ("aws_codestarconnections_connection", "arn"): lambda region, account: (
        len(f"arn:aws:codestar-connections:{region}:{account}:connection/") + 36
    ),
}
_REFERENCE = re.compile(r"(?<!\$)\$\{([a-z0-9_]+)\.([A-Za-z0-9_-]+)\.([a-z_]+)\}")


@dataclass(frozen=True)
class PolicyDocument:
    """One policy document of one stack.

    Attributes:
        stack: the stack's name (``generated/stacks/<stack>``).
        account: the account key of the stack.
        account_id: its id.
        region: the stack's region.
        address: the Terraform resource address holding the document (``<type>.<name>``).
        attribute: the resource attribute holding it (``policy``, ``assume_role_policy``...).
        kind: what the document is (see the module docstring).
        aws_object: the AWS object it applies to: role, policy, bucket, queue, topic, bus,
            repository, group or function name, key alias, SCP name, endpoint Name tag.
        text: the document as the stack carries it (Terraform escapes and references kept).
    """

    stack: str
    account: str
    account_id: str
    region: str
    address: str
    attribute: str
    kind: str
    aws_object: str
    text: str

    @property
    def sized_text(self) -> str:
        """The text AWS receives, references replaced by placeholders of their longest value."""

        def longest(m: re.Match[str]) -> str:
            measure = REFERENCE_LENGTHS.get((m.group(1), m.group(3)))
            if measure is None:
                raise ValueError(f"{self.stack}:{self.address}: no known length for reference {m.group(0)}")
            return "x" * measure(self.region, self.account_id)

        return _REFERENCE.sub(longest, self.text).replace("$${", "${")

    @property
    def size(self) -> int:
        """What AWS counts against the object's limit (see the module docstring)."""
        quota = QUOTA_OF_KIND.get(self.kind)
        return measure(QUOTAS[quota], self.sized_text) if quota else len(self.sized_text)

    @property
    def has_reference(self) -> bool:
        return bool(_REFERENCE.search(self.text))

    def as_quota_row(self) -> tuple[str, str, str, str, str, str]:
        """``(kind, account, region, aws_object, name, json_text)`` for the quota checks;
        ``name`` is ``<stack>:<address>``, the text the one AWS receives (:attr:`sized_text`)."""
        return (self.kind, self.account, self.region, self.aws_object, f"{self.stack}:{self.address}", self.sized_text)


def documents(spec: OrgSpec) -> list[PolicyDocument]:
    """Every policy document of every stack of ``spec``, by stack then address."""
    found = [doc for ref in spec.stack_refs() for doc in _stack(spec, ref)] + bootstrap_documents(spec)
    return sorted(found, key=lambda d: (d.stack, d.address, d.attribute))


BOOTSTRAP_STACK = bootstrap_facts.STACK_NAME


def bootstrap_documents(spec: OrgSpec) -> list[PolicyDocument]:
    """The bootstrap's documents (:mod:`mlgov.modules.bootstrap`, and the StackSet's template per member account)."""
    mgmt_key = spec.organization.management_account
    mgmt = iam_bootstrap.management_id(spec)
    region = spec.terraform.state.region
    state = spec.terraform.state
    logs = bootstrap_facts.log_bucket(spec)

    def doc(stack: str, account: str, account_id: str, address: str, attribute: str, kind: str, obj: str, text: str):
        return PolicyDocument(stack, account, account_id, region, address, attribute, kind, obj, text)

    out = [
        doc(
            BOOTSTRAP_STACK,
            mgmt_key,
            mgmt,
            "aws_iam_role.terraform",
            "assume_role_policy",
            "trust",
            spec.terraform.role_name,
            iam_bootstrap.terraform_trust_json(spec, mgmt),
        ),
        doc(
            BOOTSTRAP_STACK,
            mgmt_key,
            mgmt,
            "aws_iam_role.terraform_plan",
            "assume_role_policy",
            "trust",
            naming.terraform_plan_role(spec),
            iam_bootstrap.plan_trust_json(spec, mgmt),
        ),
        doc(
            BOOTSTRAP_STACK,
            mgmt_key,
            mgmt,
            "aws_iam_role_policy.terraform_plan",
            "policy",
            "identity-inline",
            naming.terraform_plan_role(spec),
            iam_bootstrap.plan_policy_json(spec),
        ),
        doc(
            BOOTSTRAP_STACK,
            mgmt_key,
            mgmt,
            "aws_kms_key.terraform_state",
            "policy",
            "key",
            bootstrap_facts.state_key_alias(spec),
            baseline.key_policy(mgmt, iam_bootstrap.state_key_statements(spec)),
        ),
        doc(
            BOOTSTRAP_STACK,
            mgmt_key,
            mgmt,
            "aws_s3_bucket_policy.terraform_state",
            "policy",
            "bucket",
            state.bucket,
            baseline.bucket_policy(state.bucket, iam_bootstrap.state_bucket_statements(spec)),
        ),
        doc(
            BOOTSTRAP_STACK,
            mgmt_key,
            mgmt,
            "aws_s3_bucket_policy.access_logs",
            "policy",
            "bucket",
            logs,
            policy.document(policy.tls_only(logs), *iam_bootstrap.access_log_statements(spec, logs)),
        ),
    ]
    for key, account in sorted(spec.accounts.items()):
        if key == mgmt_key:  # the StackSet deploys to every member account, retired ones included
            continue
        # A pending account: the id the management stack creates (REFERENCE_LENGTHS counts it as 12 digits).
        account_id = account.id or tf_ref(lifecycle.ACCOUNT_TYPE, naming.construct_id(key), "id")
        member = f"{bootstrap_facts.MEMBER_TEMPLATE}@{key}"
        plan_role = naming.terraform_plan_role(spec)
        out += [
            doc(
                member,
                key,
                account.id,
                "TerraformRole",
                "AssumeRolePolicyDocument",
                "trust",
                spec.terraform.role_name,
                iam_bootstrap.terraform_trust_json(spec, account_id),
            ),
            doc(
                member,
                key,
                account.id,
                "PlanRole",
                "AssumeRolePolicyDocument",
                "trust",
                plan_role,
                iam_bootstrap.plan_trust_json(spec, account_id),
            ),
            doc(
                member,
                key,
                account.id,
                "PlanRole",
                f"Policies/{iam_bootstrap.PLAN_POLICY_NAME}",  # as the review names a template's inline policy
                "identity-inline",
                plan_role,
                iam_bootstrap.plan_policy_json(spec),
            ),
        ]
    return out


def tf_ref(rtype: str, name: str, attribute: str) -> str:
    """The reference a construct writes for a named resource (:func:`mlgov.modules.blocks.ref`)."""
    return f"${{{rtype}.{name}.{attribute}}}"


def key_arn(name: str) -> str:
    """Reference to the ARN of the PlatformKey named ``name`` in the same stack."""
    return tf_ref("aws_kms_key", name, "arn")


class _Stack:
    """Collects the documents of one stack, with helpers shaped like the constructs."""

    def __init__(self, spec: OrgSpec, ref: StackRef) -> None:
        self.spec, self.ref = spec, ref
        self.account_id = spec.accounts[ref.account].id
        self.docs: list[PolicyDocument] = []

    def add(
        self, rtype: str, name: str, attribute: str, kind: str, aws_object: str, text: str, region: str | None = None
    ) -> None:
        """One document; ``region``: where its object is, when the stack's aliased provider puts it
        in another region than the stack's."""
        self.docs.append(
            PolicyDocument(
                self.ref.name,
                self.ref.account,
                self.account_id,
                region or self.ref.region,
                f"{rtype}.{name}",
                attribute,
                kind,
                aws_object,
                text,
            )
        )

    def key(
        self, name: str, alias_purpose: str, extra: Sequence[dict[str, Any]] = (), region: str | None = None
    ) -> None:
        """PlatformKey: key policy at ``aws_kms_key.<name>``."""
        alias = naming.kms_alias(self.spec, alias_purpose)
        self.add("aws_kms_key", name, "policy", "key", alias, baseline.key_policy(self.account_id, extra), region)

    def bucket(self, name: str, bucket: str, extra: Sequence[dict[str, Any]] = (), region: str | None = None) -> None:
        """SecureBucket: bucket policy at ``aws_s3_bucket_policy.<name>``."""
        text = baseline.bucket_policy(bucket, extra)
        self.add("aws_s3_bucket_policy", name, "policy", "bucket", bucket, text, region)

    def role(self, address: str, name: str, trust: str, statements: Sequence[dict[str, Any]]) -> None:
        """A role and its inline policy (:func:`mlgov.modules.governance_common.role`)."""
        self.add("aws_iam_role", address, "assume_role_policy", "trust", name, trust)
        self.add("aws_iam_role_policy", address, "policy", "identity-inline", name, policy.document(*statements))

    def dlq(self, address: str, name: str, sender_arn: str, sender_service: str) -> None:
        """Dead-letter queue policy (:func:`mlgov.modules.governance_common.dead_letter_queue`)."""
        text = dead_letter_queue_policy(self.ref.region, self.account_id, name, sender_arn, sender_service)
        self.add("aws_sqs_queue_policy", address, "policy", "queue", name, text)


def _stack(spec: OrgSpec, ref: StackRef) -> Iterator[PolicyDocument]:
    s = _Stack(spec, ref)
    if ref.team is not None:  # a team's slice of the hub or of a stage account: no baseline
        if ref.layer == Layer.hub:
            _hub_team(s, ref.team)
        else:
            _stage_team(s, ref.team)
        yield from s.docs
        return
    _baseline(s)
    layer = ref.layer
    if layer in (Layer.dev, Layer.test, Layer.prod):
        _network(s)
    if layer == Layer.management:
        _management(s)
    elif layer == Layer.hub:
        _hub(s)
    elif layer == Layer.dev:
        _dev(s)
    elif layer in (Layer.test, Layer.prod):
        _stage(s)
    elif layer == Layer.data:
        _data(s)
    yield from s.docs


def _baseline(s: _Stack) -> None:
    """AccountStack: the platform key and bucket (flow-log delivery where the network logs)."""
    spec, ref = s.spec, s.ref
    facts = network_facts.account_network(spec, ref.account, ref.region)
    flow_logs = facts is not None and facts.flow_logs
    s.key("platform", "platform", iam_network.flow_log_key_statements(s.account_id, ref.region) if flow_logs else ())
    bucket = naming.bucket_name(spec, ref.account, ref.region, "platform")
    s.bucket(
        "platform",
        bucket,
        iam_network.flow_log_bucket_statements(s.account_id, ref.region, bucket) if flow_logs else (),
    )


def _network(s: _Stack) -> None:
    """AccountNetwork: one endpoint policy per VPC endpoint."""
    spec = s.spec
    r = network_facts.account_network(spec, s.ref.account, s.ref.region)
    if r is None or not r.endpoints:
        return
    prefix = naming.resource_name(spec, naming.account_label(spec, r.account))
    for endpoint in r.endpoints:
        name = f"{prefix}-{endpoint.key.replace('_', '-')}"
        text = iam_network.endpoint_policy(spec, endpoint.key, r.region)
        s.add("aws_vpc_endpoint", network_facts.address(endpoint.key), "policy", "vpc-endpoint", name, text)


def _management(s: _Stack) -> None:
    """Guardrails: one SCP per enabled guardrail; the budget action's role (TeamBudgets)."""
    for p in scp.service_control_policies(s.spec):
        s.add("aws_organizations_policy", p.key, "content", "scp", p.name, p.content)
    if accounts := budgets.action_accounts(s.spec):
        policy_arn = tf_ref("aws_organizations_policy", budgets.DENY_COMPUTE_KEY, "arn")
        s.role(
            "budget_action",
            naming.budget_action_role(s.spec),
            service_trust(iam_budgets.BUDGETS, s.account_id),
            iam_budgets.action_statements(s.spec, policy_arn, accounts),
        )


def _hub(s: _Stack) -> None:
    """SharedServicesStack: governance and images in the hub region, the catalog in every region."""
    spec, region = s.spec, s.ref.region
    if spec.teams and region == naming.hub_region(spec):
        _hub_governance(s)
        s.key("images", "images")
        _hub_stage_regions(s)
    if spec.service_catalog and spec.service_catalog.portfolios:
        s.key("catalog", "catalog", iam_catalog.template_key_statements(spec, region))
        bucket = naming.bucket_name(spec, spec.hub, region, "catalog")
        s.bucket("catalog", bucket, iam_catalog.template_bucket_statements(spec, bucket))


def _hub_stage_regions(s: _Stack) -> None:
    """HubStageRegions: per stage region other than the hub's, the artifact key and replica bucket,
    the images key; the replication role."""
    spec = s.spec
    regions = naming.remote_regions(spec)
    for region in regions:
        suffix = naming.region_alias(region)
        s.key(f"model_artifacts_{suffix}", "model-artifacts", iam_hub.artifact_key_statements(spec, region), region)
        s.bucket(
            f"model_artifacts_{suffix}",
            naming.bucket_name(spec, spec.hub, region, "model-artifacts"),
            iam_hub.artifact_bucket_statements(spec, region),
            region,
        )
        s.key(f"images_{suffix}", "images", region=region)
    if regions:
        s.role(
            "model_artifacts_replication",
            naming.role_name(spec, "model-artifacts-replication"),
            iam_hub.replication_trust(spec),
            iam_hub.replication_statements(spec),
        )


def _hub_team(s: _Stack, team: str) -> None:
    """HubTeamStack: the team's pipelines (HubPipelines) and image repository (TeamRepository),
    with their copies in the regions of its stages other than the hub's."""
    spec, region, hub_id = s.spec, s.ref.region, s.account_id
    store = naming.construct_id("pipeline", naming.team_label(spec, team))
    s.bucket(store, naming.team_pipeline_bucket(spec, team), iam_hub.team_pipeline_bucket_statements(spec, team))
    remote = naming.team_remote_regions(spec, team)
    for other in remote:
        s.bucket(
            f"{store}_{naming.region_alias(other)}",
            naming.team_pipeline_bucket(spec, team, other),
            iam_hub.team_pipeline_bucket_statements(spec, team, other),
            other,
        )
    s.role(
        naming.construct_id(team, "deploy_pipeline"),
        naming.team_role(spec, team, "deploy-pipeline"),
        iam_hub.pipeline_trust(spec),
        iam_hub.deploy_pipeline_statements(spec, team, region),
    )
    s.role(
        naming.construct_id(team, "select_model"),
        naming.team_role(spec, team, "select-model"),
        iam_hub.select_trust(spec),
        iam_hub.select_model_statements(spec, team, region),
    )
    s.role(
        naming.construct_id(team, "start_deploy"),
        naming.team_role(spec, team, "start-deploy"),
        iam_hub.start_deploy_trust(spec),
        iam_hub.start_deploy_statements(spec, team, region),
    )
    for group in spec.teams[team].governance.model_package_groups:
        group_rule = naming.central_approval_rule(spec, team, group)
        s.dlq(
            f"{naming.construct_id(team, group)}_approved_dlq",
            naming.dlq(group_rule),
            arns.event_rule(region, hub_id, group_rule),
            iam_hub.EVENTS,
        )
    repository = naming.team_image_repository(spec, team)
    for where in [region, *remote]:
        s.add(
            "aws_ecr_repository_policy",
            naming.construct_id(team, naming.region_alias(where) if where != region else ""),
            "policy",
            "repository",
            repository,
            repository_policy(spec, team, where),
            where,
        )


def _hub_governance(s: _Stack) -> None:
    """HubGovernance: registry, bus, promotion, gates (each team's pipelines: :func:`_hub_team`)."""
    spec, region, hub_id = s.spec, s.ref.region, s.account_id
    key = key_arn("model_artifacts")
    # HubRegistry
    s.key("model_artifacts", "model-artifacts", iam_hub.artifact_key_statements(spec, region))
    s.bucket(
        "model_artifacts",
        naming.bucket_name(spec, spec.hub, region, "model-artifacts"),
        iam_hub.artifact_bucket_statements(spec, region),
    )
    s.bucket(
        "deploy_pipelines",
        naming.bucket_name(spec, spec.hub, region, "deploy-pipelines"),
        iam_hub.pipeline_bucket_statements(spec, region),
    )
    # HubBus
    bus = naming.central_bus(spec)
    bus_doc = iam_hub.bus_policy(spec, region)
    if bus_doc is not None:
        s.add("aws_cloudwatch_event_bus_policy", "model_governance", "policy", "bus", bus, bus_doc)
    # HubPromotion
    function_name = naming.promotion_function(spec)
    s.dlq(
        "promotion_function_dlq",
        naming.dlq(function_name),
        arns.lambda_function(region, hub_id, function_name),
        iam_hub.LAMBDA,
    )
    s.role(
        "model_promotion",
        naming.role_name(spec, "model-promotion"),
        iam_hub.promotion_trust(spec),
        iam_hub.promotion_statements(spec, region, key),
    )
    rule_name = naming.promotion_rule(spec)
    rule_arn = arns.event_rule(region, hub_id, rule_name, bus=bus)
    s.dlq("promotion_rule_dlq", naming.dlq(rule_name), rule_arn, iam_hub.EVENTS)
    permission = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "CentralBusRule",
                "Effect": "Allow",
                "Principal": {"Service": iam_hub.EVENTS},
                "Action": iam_hub.INVOKE_FUNCTION,
                "Resource": arns.lambda_function(region, hub_id, function_name),
                "Condition": {"ArnLike": {"aws:SourceArn": rule_arn}},
            }
        ],
    }
    s.add(
        "aws_lambda_permission",
        "promote_approved_models",
        "statement",
        "lambda-permission",
        function_name,
        lambda_permission_text(permission),
    )
    # HubGates
    trust = iam_hub.people_trust(spec)
    s.role("ml_engineer", naming.role_name(spec, "ml-engineer"), trust, iam_hub.ml_engineer_statements(spec, region))
    s.role(
        "governance_officer",
        naming.role_name(spec, "governance-officer"),
        trust,
        iam_hub.governance_officer_statements(spec, region),
    )


def lambda_permission_text(permission: dict[str, Any]) -> str:
    """The statement a Lambda permission adds to the function's policy, as canonical JSON."""
    return json.dumps(permission, sort_keys=True, separators=(",", ":"))


def _dev(s: _Stack) -> None:
    """DevAccountStack (primary region): governance, catalog launch roles, repositories."""
    spec, ref, account_id = s.spec, s.ref, s.account_id
    if ref.region != naming.primary_region(spec, ref.account):
        return
    team = governance.dev_team(spec, ref.account)
    region = ref.region
    if team:
        platform_bucket = naming.bucket_name(spec, ref.account, region, "platform")
        data = iam_data.data_statements(spec, team, account_id, region, platform_bucket, key_arn("platform"))
        _dev_governance(s, team, data)
    if spec.service_catalog and spec.service_catalog.portfolios:
        regions = spec.account_regions(ref.account)
        trust = iam_catalog.launch_role_trust()
        for pkey in sorted(spec.service_catalog.portfolios):
            address = naming.construct_id("catalog_launch", pkey)
            name = naming.catalog_launch_role(spec, pkey)
            s.add("aws_iam_role", address, "assume_role_policy", "trust", name, trust)
            text = iam_catalog.launch_role_policy(spec, account_id, regions, pkey)
            s.add("aws_iam_role_policy", address, "policy", "identity-inline", name, text)
        s.add(
            "aws_iam_policy",
            "catalog_product_boundary",
            "policy",
            "managed",
            naming.product_boundary(spec),
            iam_catalog.boundary_policy(spec, account_id, regions),
        )
    if team and spec.accounts[ref.account].source is not None:
        s.role(
            naming.construct_id(team, "codebuild"),
            naming.team_role(spec, team, "codebuild"),
            service_trust(naming.BUILD_ROLES["codebuild"], account_id),
            codebuild_statements(spec, team, account_id, region),
        )
        s.role(
            naming.construct_id(team, "codepipeline"),
            naming.team_role(spec, team, "codepipeline"),
            service_trust(naming.BUILD_ROLES["codepipeline"], account_id),
            codepipeline_statements(account_id, region, tf_ref("aws_codestarconnections_connection", "source", "arn")),
        )


def _dev_governance(s: _Stack, team: str, data: list[dict[str, Any]]) -> None:
    """DevGovernance: group policies, models key and bucket, personas, approval forwarding."""
    spec, region, account_id = s.spec, s.ref.region, s.account_id
    for group in spec.teams[team].governance.model_package_groups:
        name = naming.model_package_group(spec, team, group)
        s.add(
            "aws_sagemaker_model_package_group_policy",
            naming.construct_id("team", group),
            "resource_policy",
            "model-package-group",
            name,
            iam_dev.group_policy(spec, team, region, name),
        )
    s.key("models", "models", iam_dev.models_key_statements(spec, region))
    s.bucket("models", iam_dev.models_bucket(spec, team, region), iam_dev.models_bucket_statements(spec, team, region))
    models_key = key_arn("models")
    persona = iam_dev.persona_trust(spec, team)
    for suffix, lead in (("data_scientist", False), ("lead_data_scientist", True)):
        s.role(
            naming.construct_id(team, suffix),
            naming.team_role(spec, team, suffix.replace("_", "-")),
            persona,
            iam_dev.persona_statements(spec, team, region, models_key, data, lead=lead),
        )
    s.role(
        naming.construct_id(team, "sagemaker_execution"),
        naming.team_role(spec, team, "sagemaker-execution"),
        service_trust("sagemaker.amazonaws.com", account_id),
        iam_dev.execution_statements(spec, team, region, models_key, data),
    )
    s.role(
        "event_forwarder",
        naming.team_role(spec, team, "event-forwarder"),
        service_trust("events.amazonaws.com", account_id),
        iam_dev.forwarder_statements(spec),
    )
    rule_name = naming.approval_forward_rule(spec, team)
    s.dlq(
        "model_approved_dlq",
        naming.dlq(rule_name),
        arns.event_rule(region, account_id, rule_name),
        "events.amazonaws.com",
    )


def _stage(s: _Stack) -> None:
    """StageAccountStack (primary region, teams deploying here): the monitoring key and bucket."""
    spec, ref, region = s.spec, s.ref, s.ref.region
    teams = governance.stage_teams(spec, ref.account)
    if not teams or region != naming.primary_region(spec, ref.account):
        return
    if ref.account in monitoring.monitored_accounts(spec):
        s.key("monitoring", "monitoring", iam_monitoring.key_statements(spec, ref.account, region))
        s.bucket(
            "monitoring",
            naming.monitoring_bucket(spec, ref.account),
            iam_monitoring.bucket_statements(spec, ref.account),
        )


def _stage_team(s: _Stack, team: str) -> None:
    """StageTeamStack: a team's roles in a stage account (StageGovernance) and its alarm topic."""
    spec, ref, account_id, region = s.spec, s.ref, s.account_id, s.ref.region
    monitored = ref.account in monitoring.monitored_accounts(spec)
    if monitored and team in iam_monitoring.monitored_teams(spec, ref.account):
        s.add(
            "aws_sns_topic_policy",
            f"{naming.construct_id(team)}_monitoring",
            "policy",
            "topic",
            naming.monitoring_topic(spec, team),
            iam_monitoring.topic_policy(spec, team, ref.account, region),
        )
    sagemaker = service_trust("sagemaker.amazonaws.com", account_id)
    watched, batch_groups, in_network = governance.stage_team_scope(spec, team, ref.account, monitored)
    s.role(
        naming.construct_id(team, "deploy"),
        naming.team_role(spec, team, "deploy"),
        iam_stage.deploy_trust(spec, team),
        iam_stage.deploy_statements(spec, team, ref.account, region),
    )
    s.role(
        naming.construct_id(team, "endpoint_deployer"),
        naming.team_role(spec, team, "endpoint-deployer"),
        service_trust("cloudformation.amazonaws.com", account_id),
        iam_stage.deployer_statements(spec, team, ref.account, region, watched=watched, batch_groups=batch_groups),
    )
    s.role(
        naming.construct_id(team, "endpoint"),
        naming.team_role(spec, team, "endpoint"),
        sagemaker,
        iam_stage.endpoint_statements(
            spec, team, ref.account, region, batch_groups=batch_groups, in_network=in_network
        ),
    )
    if watched:
        s.role(
            naming.construct_id(team, "monitoring"),
            naming.team_role(spec, team, "monitoring"),
            sagemaker,
            iam_stage.monitoring_statements(spec, team, ref.account, region),
        )
    if batch_groups:
        s.role(
            naming.construct_id(team, "batch"),
            naming.team_role(spec, team, "batch"),
            sagemaker,
            iam_stage.batch_statements(spec, team, ref.account, region, batch_groups),
        )
    if ref.account in governance.tested_accounts(spec, team):
        s.role(
            naming.construct_id(team, "endpoint_tester"),
            naming.team_role(spec, team, "endpoint-tester"),
            service_trust("codebuild.amazonaws.com", account_id),
            iam_stage.tester_statements(spec, team, ref.account, region),
        )


def _data(s: _Stack) -> None:
    """DataAccountStack (primary region): the lake, the feature store and their roles."""
    spec, ref, account_id = s.spec, s.ref, s.account_id
    if ref.region != naming.primary_region(spec, ref.account):
        return
    store = spec.data.feature_store if spec.data else None
    s.key("lake", "lake")
    s.bucket("lake", naming.lake_bucket(spec))
    keys = [key_arn("lake")]
    if store is not None:
        s.key("feature_store", "feature-store")
        s.bucket("feature_store", naming.feature_store_bucket(spec))
        keys.append(key_arn("feature_store"))
    s.role(
        "lake_data_access",
        naming.lake_access_role(spec),
        service_trust("lakeformation.amazonaws.com", account_id),
        iam_data.lake_access_statements(spec, keys),
    )
    if store is not None:
        s.role(
            "feature_store",
            naming.feature_store_role(spec),
            service_trust("sagemaker.amazonaws.com", account_id),
            iam_data.feature_store_statements(spec, key_arn("feature_store")),
        )
