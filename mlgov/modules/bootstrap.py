"""The bootstrap as Terraform: the alternative to the CloudFormation delivery (docs/day-zero.md).

One stack in the management account, applied once with the management account's own
administrator credentials (the Terraform role does not exist yet) and a LOCAL state, which is
moved into the bucket it creates afterwards (``terraform init -migrate-state``). It creates what
:mod:`mlgov.platform.bootstrap` describes: the state bucket (versioned, SSE-KMS with its own key,
TLS only, access logged), the log bucket, the management account's Terraform role, its read-only
plan role and the CI's OIDC provider there, and the service-managed StackSet that puts the same
two roles into every member account (the very template the CloudFormation delivery uses).

Written to ``generated/bootstrap/terraform/cdk.tf.json``, not under ``stacks/``: it is not one
of the stacks the pipelines plan, it is what they need before they can.
"""

from __future__ import annotations

from cdktf import LocalBackend, TerraformOutput, TerraformStack
from cdktf_cdktf_provider_aws.cloudformation_stack_set import (
    CloudformationStackSet,
    CloudformationStackSetAutoDeployment,
    CloudformationStackSetManagedExecution,
)
from cdktf_cdktf_provider_aws.cloudformation_stack_set_instance import (
    CloudformationStackSetInstance,
    CloudformationStackSetInstanceDeploymentTargets,
)
from cdktf_cdktf_provider_aws.iam_openid_connect_provider import IamOpenidConnectProvider
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.iam_role_policy_attachment import IamRolePolicyAttachment
from cdktf_cdktf_provider_aws.provider import AwsProvider, AwsProviderDefaultTags
from cdktf_cdktf_provider_aws.s3_bucket import S3Bucket
from cdktf_cdktf_provider_aws.s3_bucket_logging import S3BucketLoggingA
from cdktf_cdktf_provider_aws.s3_bucket_ownership_controls import (
    S3BucketOwnershipControls,
    S3BucketOwnershipControlsRule,
)
from cdktf_cdktf_provider_aws.s3_bucket_policy import S3BucketPolicy
from cdktf_cdktf_provider_aws.s3_bucket_public_access_block import S3BucketPublicAccessBlock
from cdktf_cdktf_provider_aws.s3_bucket_server_side_encryption_configuration import (
    S3BucketServerSideEncryptionConfigurationA,
    S3BucketServerSideEncryptionConfigurationRuleA,
    S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA,
)
from cdktf_cdktf_provider_aws.s3_bucket_versioning import (
    S3BucketVersioningA,
    S3BucketVersioningVersioningConfiguration,
)
from constructs import Construct

from mlgov.modules.blocks import PlatformKey, SecureBucket, baseline_lifecycle, named, ref
from mlgov.platform import bootstrap as facts
from mlgov.platform import naming, policy
from mlgov.platform.iam import bootstrap as iam
from mlgov.spec.model import OrgSpec


class BootstrapStack(TerraformStack):
    """The management account's bootstrap (local state)."""

    def __init__(self, scope: Construct, id: str, *, spec: OrgSpec) -> None:
        super().__init__(scope, id)
        state = spec.terraform.state
        mgmt = iam.management_id(spec)
        LocalBackend(self, path=facts.LOCAL_STATE)
        AwsProvider(
            self,
            "aws",
            region=state.region,
            allowed_account_ids=[mgmt],
            default_tags=[
                AwsProviderDefaultTags(
                    tags=dict(sorted({**spec.organization.tags, "mlgov:layer": "bootstrap"}.items()))
                )
            ],
        )
        key = PlatformKey(
            self,
            "state_key",
            name="terraform_state",
            account_id=mgmt,
            alias=facts.state_key_alias(spec),
            description=f"{spec.organization.name}: Terraform state",
            extra_statements=iam.state_key_statements(spec),
        )
        logs, logs_policy = self._log_bucket(spec)
        bucket = SecureBucket(
            self,
            "state_bucket",
            name="terraform_state",
            bucket_name=state.bucket,
            kms_key_arn=key.arn,
            extra_statements=iam.state_bucket_statements(spec),
        )
        named(
            S3BucketLoggingA(
                self,
                "state_logging",
                bucket=ref(bucket.bucket, "id"),
                target_bucket=ref(logs, "id"),
                target_prefix="state/",
                # S3 refuses the logging configuration until the log bucket's policy admits the delivery.
                depends_on=[logs_policy],
            ),
            "terraform_state",
        )
        host = iam.issuer(spec)
        if host is not None:
            named(
                IamOpenidConnectProvider(self, "oidc", url=f"https://{host}", client_id_list=[iam.OIDC_AUDIENCE]),
                "ci",
            )
        role = named(
            IamRole(
                self,
                "terraform_role",
                name=spec.terraform.role_name,
                description=facts.role_description(spec),
                assume_role_policy=iam.terraform_trust_json(spec, mgmt),
                max_session_duration=3600,
            ),
            "terraform",
        )
        named(
            IamRolePolicyAttachment(
                self, "terraform_admin", role=ref(role, "name"), policy_arn=iam.ADMINISTRATOR_POLICY
            ),
            "terraform_administrator",
        )
        plan_role = named(
            IamRole(
                self,
                "plan_role",
                name=naming.terraform_plan_role(spec),
                description=facts.plan_role_description(spec),
                assume_role_policy=iam.plan_trust_json(spec, mgmt),
                max_session_duration=3600,
            ),
            "terraform_plan",
        )
        named(
            IamRolePolicyAttachment(
                self, "plan_read_only", role=ref(plan_role, "name"), policy_arn=iam.READ_ONLY_POLICY
            ),
            "terraform_plan_read_only",
        )
        named(
            IamRolePolicy(
                self,
                "plan_policy",
                role=ref(plan_role, "name"),
                name=iam.PLAN_POLICY_NAME,
                policy=iam.plan_policy_json(spec),
            ),
            "terraform_plan",
        )
        stack_set = named(
            CloudformationStackSet(
                self,
                "stack_set",
                name=facts.stack_set_name(spec),
                description=facts.role_description(spec),
                permission_model="SERVICE_MANAGED",
                auto_deployment=CloudformationStackSetAutoDeployment(
                    enabled=True, retain_stacks_on_account_removal=False
                ),
                managed_execution=CloudformationStackSetManagedExecution(active=True),
                capabilities=["CAPABILITY_NAMED_IAM"],
                template_body=facts.member_template(spec),
                lifecycle={"ignore_changes": ["administration_role_arn"]},
            ),
            "terraform_role",
        )
        named(
            CloudformationStackSetInstance(
                self,
                "stack_set_instance",
                stack_set_name=ref(stack_set, "name"),
                region=spec.organization.home_region,
                deployment_targets=CloudformationStackSetInstanceDeploymentTargets(
                    organizational_unit_ids=facts.stack_set_targets(spec)
                ),
            ),
            "terraform_role",
        )
        for name, value, description in (
            ("state_bucket", state.bucket, "The Terraform state bucket."),
            ("terraform_role_arn", ref(role, "arn"), "The management account's Terraform role."),
            ("plan_role_arn", ref(plan_role, "arn"), "The management account's read-only plan role."),
        ):
            TerraformOutput(self, f"output_{name}", value=value, description=description).override_logical_id(name)

    def _log_bucket(self, spec: OrgSpec) -> tuple[S3Bucket, S3BucketPolicy]:
        """The access log bucket: SSE-S3 (server access logs are delivered to nothing else), private,
        versioned, incomplete uploads and old versions expired (the state bucket's rule, in both deliveries)."""
        name = facts.log_bucket(spec)
        bucket = named(S3Bucket(self, "log_bucket", bucket=name), "access_logs")
        bucket_id = ref(bucket, "id")
        public = named(
            S3BucketPublicAccessBlock(
                self,
                "log_public_access",
                bucket=bucket_id,
                block_public_acls=True,
                block_public_policy=True,
                ignore_public_acls=True,
                restrict_public_buckets=True,
            ),
            "access_logs",
        )
        named(
            S3BucketVersioningA(
                self,
                "log_versioning",
                bucket=bucket_id,
                versioning_configuration=S3BucketVersioningVersioningConfiguration(status="Enabled"),
            ),
            "access_logs",
        )
        named(
            S3BucketServerSideEncryptionConfigurationA(
                self,
                "log_encryption",
                bucket=bucket_id,
                rule=[
                    S3BucketServerSideEncryptionConfigurationRuleA(
                        apply_server_side_encryption_by_default=S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA(
                            sse_algorithm="AES256"
                        )
                    )
                ],
            ),
            "access_logs",
        )
        named(
            S3BucketOwnershipControls(
                self,
                "log_ownership",
                bucket=bucket_id,
                rule=S3BucketOwnershipControlsRule(object_ownership="BucketOwnerEnforced"),
            ),
            "access_logs",
        )
        named(baseline_lifecycle(self, "log_lifecycle", bucket_id), "access_logs")
        log_policy = named(
            S3BucketPolicy(
                self,
                "log_policy",
                bucket=bucket_id,
                policy=policy.document(policy.tls_only(name), *iam.access_log_statements(spec, name)),
                depends_on=[public],
            ),
            "access_logs",
        )
        return bucket, log_policy
