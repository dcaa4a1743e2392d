"""Day zero: what must exist before mlgov's stacks can be applied, as facts and CloudFormation.

- the state bucket (``terraform.state.bucket``: versioned, SSE-KMS with its own key, TLS only,
  server access logged into a log bucket) - Terraform's S3 backend locks natively in it
  (``use_lockfile``), so no lock table is needed;
- the Terraform role (``terraform.role_name``) in every account, trusting only the management
  pipeline and the CI system's apply tokens, the read-only plan role beside it, trusting the CI's
  pull-request and drift tokens (:mod:`mlgov.platform.iam.bootstrap`), and the CI's OIDC provider.

Two deliveries of the same thing, both generated under ``generated/bootstrap/``:

- CloudFormation: ``cloudformation/management.yaml``, one stack in the management account with
  the state bucket, its key and log bucket, the management account's role and a StackSet with
  service-managed permissions that deploys ``cloudformation/terraform-role.yaml`` to every
  account of the organization (targeting the root; automatic deployment, so an account mlgov
  vends gets the role as it joins);
- Terraform: ``terraform/cdk.tf.json`` (:mod:`mlgov.modules.bootstrap`), the same resources and
  the same StackSet template, with a local state to migrate into the bucket it creates.
"""

from __future__ import annotations

import json
from typing import Any

from mlgov.platform import naming, policy
from mlgov.platform.iam import actions, arns
from mlgov.platform.iam import bootstrap as iam
from mlgov.platform.templates import render_file
from mlgov.spec.model import OrgSpec

DIR = "bootstrap"
MEMBER_TEMPLATE = f"{DIR}/cloudformation/terraform-role.yaml"
MANAGEMENT_TEMPLATE = f"{DIR}/cloudformation/management.yaml"
TERRAFORM_STACK = f"{DIR}/terraform/cdk.tf.json"
STACK_NAME = "bootstrap"  # the cdktf stack (written to TERRAFORM_STACK, not stacks/)
LOCAL_STATE = "bootstrap.tfstate"
CFN_ACCOUNT = "${AWS::AccountId}"
# S3 bucket names are at most 63 characters (docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html).
BUCKET_MAX = 63
LOG_SUFFIX = "-logs"


def log_bucket(spec: OrgSpec) -> str:
    """The state bucket's server access log bucket."""
    return f"{spec.terraform.state.bucket}{LOG_SUFFIX}"


def state_key_alias(spec: OrgSpec) -> str:
    return naming.kms_alias(spec, "terraform-state")


def stack_set_name(spec: OrgSpec) -> str:
    return naming.resource_name(spec, "terraform-role")


def stack_set_targets(spec: OrgSpec) -> list[str]:
    """Where the StackSet deploys: the root, so every member account has the role, including accounts
    created later (service-managed StackSets never deploy to the management account itself)."""
    return [spec.organization.root_id]


def cfn_sub(value: Any) -> Any:
    """``value`` with every string naming ``${AWS::...}`` wrapped in ``Fn::Sub``."""
    if isinstance(value, dict):
        return {k: cfn_sub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [cfn_sub(v) for v in value]
    if isinstance(value, str) and "${AWS::" in value:
        return {"Fn::Sub": value}
    return value


def _flow(value: Any) -> str:
    """JSON is YAML: a document printed on one line of the template."""
    return json.dumps(value, sort_keys=True)


def role_description(spec: OrgSpec) -> str:
    return f"{spec.organization.name}: Terraform (mlgov); assumed only by the management pipeline and the CI"


def plan_role_description(spec: OrgSpec) -> str:
    return f"{spec.organization.name}: Terraform plans (mlgov); read-only, assumed by the CI's plan and drift jobs"


def state_key_policy(spec: OrgSpec) -> str:
    """The state key: the management account administers and uses it; every Terraform role uses it through S3."""
    root = {"AWS": arns.account_root(iam.management_id(spec))}
    return policy.document(
        policy.statement("AccountAdministersKey", actions.KMS_ADMIN_ACTIONS, "*", principals=root),
        policy.statement("AccountUsesKey", actions.KMS_USE_ACTIONS, "*", principals=root),
        *iam.state_key_statements(spec),
    )


def account_roles(spec: OrgSpec) -> list[str]:
    """The roles the bootstrap gives every account, the management account included (the
    StackSet's member template; the management account's own stack repeats it): the Terraform
    role and the plan role."""
    return [spec.terraform.role_name, naming.terraform_plan_role(spec)]


def member_view(spec: OrgSpec) -> dict[str, Any]:
    host = iam.issuer(spec)
    return {
        "org": spec.organization.name,
        "role_name": spec.terraform.role_name,
        "description": role_description(spec),
        "trust": _flow(cfn_sub(iam.terraform_trust(spec, CFN_ACCOUNT))),
        "plan_role_name": naming.terraform_plan_role(spec),
        "plan_description": plan_role_description(spec),
        "plan_trust": _flow(cfn_sub(iam.plan_trust(spec, CFN_ACCOUNT))),
        "plan_policy_name": iam.PLAN_POLICY_NAME,
        "plan_policy": _flow(json.loads(iam.plan_policy_json(spec))),
        "read_only_policy": iam.READ_ONLY_POLICY,
        "oidc_url": f"https://{host}" if host else None,
        "audience": iam.OIDC_AUDIENCE,
        "admin_policy": iam.ADMINISTRATOR_POLICY,
        "tags": sorted(spec.organization.tags.items()),
    }


def member_template(spec: OrgSpec) -> str:
    """The StackSet's template: the Terraform role, the plan role (and the CI's OIDC provider) of one account."""
    return render_file("bootstrap/terraform-role.yaml.j2", member_view(spec))


def management_template(spec: OrgSpec) -> str:
    """The management account's bootstrap stack: state bucket, key, log bucket, its own two roles, the StackSet."""
    state = spec.terraform.state
    view = {
        **member_view(spec),
        "trust": _flow(iam.terraform_trust(spec, iam.management_id(spec))),
        "plan_trust": _flow(iam.plan_trust(spec, iam.management_id(spec))),
        "bucket": state.bucket,
        "log_bucket": log_bucket(spec),
        "key_alias": state_key_alias(spec),
        "key_policy": _flow(json.loads(state_key_policy(spec))),
        "bucket_statements": _flow([policy.tls_only(state.bucket), *iam.state_bucket_statements(spec)]),
        "log_statements": _flow(
            [policy.tls_only(log_bucket(spec)), *iam.access_log_statements(spec, log_bucket(spec))]
        ),
        "stack_set_name": stack_set_name(spec),
        "targets": stack_set_targets(spec),
        "region": spec.organization.home_region,
        "member_template": member_template(spec),
    }
    return render_file("bootstrap/management.yaml.j2", view)


def render_bootstrap(spec: OrgSpec) -> dict[str, bytes]:
    """The extra renderer for generated/: the CloudFormation delivery of the bootstrap."""
    return {
        MEMBER_TEMPLATE: member_template(spec).encode("utf-8"),
        MANAGEMENT_TEMPLATE: management_template(spec).encode("utf-8"),
    }
