"""AccountStack: what every account's stack has, whatever its layer.

Reads ``organization`` (tags, id), ``accounts.<key>`` and ``terraform`` from the spec.
Creates the S3 backend (one state per stack, native S3 locking), the AWS provider pinned to
the account (``allowed_account_ids``, ``assume_role``, ``default_tags``) and the baseline:
the ``platform`` KMS key and the ``platform`` bucket (which, in an account with a network,
also admit VPC flow log delivery: :mod:`mlgov.modules.network`).
"""

from __future__ import annotations

from cdktf import S3Backend, TerraformOutput, TerraformStack
from cdktf_cdktf_provider_aws.provider import AwsProvider, AwsProviderAssumeRole, AwsProviderDefaultTags
from constructs import Construct

from mlgov.modules.blocks import PlatformKey, SecureBucket
from mlgov.modules.network import AccountNetwork
from mlgov.platform import naming
from mlgov.platform import network as network_facts
from mlgov.platform import tags as tags_of
from mlgov.platform.iam import network as iam_network
from mlgov.spec.model import OrgSpec, StackRef


class PlatformStack(TerraformStack):
    """One Terraform state in one account and region: backend, provider, tags, outputs.

    The base of an account's core stack (:class:`AccountStack`) and of a team's slice of a
    shared account (:class:`TeamSliceStack`)."""

    def __init__(self, scope: Construct, id: str, *, spec: OrgSpec, ref: StackRef) -> None:
        super().__init__(scope, id)
        self.spec = spec
        self.ref = ref
        self.account_key = ref.account
        self.account = spec.accounts[ref.account]
        self.account_id = self.account.id
        self.region = ref.region

        state = spec.terraform.state
        # A renamed account's stacks keep their state where it is (ref.state: the old key's stack name).
        S3Backend(
            self, bucket=state.bucket, key=f"{state.key_prefix}/{ref.state}.tfstate", region=state.region, encrypt=True
        )
        # S3-native locking (Terraform >= 1.10); cdktf 0.21's S3Backend predates the argument.
        self.add_override("terraform.backend.s3.use_lockfile", True)

        self.provider(ref.region)

    def provider(self, region: str, *, alias: str | None = None) -> AwsProvider:
        """The AWS provider of this account in ``region``: the stack's own (no alias), or an
        aliased one for resources this stack keeps in another of the account's regions."""
        return AwsProvider(
            self,
            "aws" if alias is None else f"aws_{alias}",
            alias=alias,
            region=region,
            allowed_account_ids=[self.account_id],
            assume_role=[
                AwsProviderAssumeRole(role_arn=self.spec.terraform_role_arn(self.ref.account), session_name="mlgov")
            ],
            default_tags=[AwsProviderDefaultTags(tags=self.base_tags())],
        )

    def region_provider(self, region: str) -> AwsProvider | None:
        """The provider of this account in ``region``: None (the stack's own) in the stack's region,
        else one aliased provider per region (alias :func:`mlgov.platform.naming.region_alias`),
        made on first use."""
        if region == self.region:
            return None
        made: dict[str, AwsProvider] = self.__dict__.setdefault("_region_providers", {})
        if region not in made:
            made[region] = self.provider(region, alias=naming.region_alias(region))
        return made[region]

    def base_tags(self) -> dict[str, str]:
        """The account's tags (:func:`mlgov.platform.tags.account_tags`: the organization's, where the
        resource belongs and, in a team's dev account, the team's); applied through provider default_tags."""
        return tags_of.account_tags(self.spec, self.account_key)

    def output(self, name: str, value, description: str) -> TerraformOutput:
        """A stack output with a description, named from the spec (never a position)."""
        out = TerraformOutput(self, f"output_{name}", value=value, description=description)
        out.override_logical_id(name)
        return out


class AccountStack(PlatformStack):
    """The core stack of one account (and region): what every account has, whatever its layer."""

    def __init__(self, scope: Construct, id: str, *, spec: OrgSpec, ref: StackRef) -> None:
        super().__init__(scope, id, spec=spec, ref=ref)

        # The account's network (dev/test/prod) in this region; its flow logs land in the platform bucket.
        self.network_facts = network_facts.account_network(spec, ref.account, ref.region)
        flow_logs = self.network_facts is not None and self.network_facts.flow_logs
        self.platform_key = PlatformKey(
            self,
            "platform_key",
            name="platform",
            account_id=self.account_id,
            alias=naming.kms_alias(spec, "platform"),
            description=f"mlgov platform key for {naming.account_label(spec, ref.account)} ({ref.layer.value})",
            extra_statements=iam_network.flow_log_key_statements(self.account_id, ref.region) if flow_logs else (),
        )
        bucket = naming.bucket_name(spec, ref.account, ref.region, "platform")
        self.platform_bucket = SecureBucket(
            self,
            "platform_bucket",
            name="platform",
            bucket_name=bucket,
            kms_key_arn=self.platform_key.arn,
            extra_statements=(
                iam_network.flow_log_bucket_statements(self.account_id, ref.region, bucket) if flow_logs else ()
            ),
        )
        self.output("platform_key_arn", self.platform_key.arn, "ARN of the account's platform KMS key.")
        self.output("platform_bucket", self.platform_bucket.bucket_name, "Name of the account's platform bucket.")

    def build_network(self) -> None:
        """The account's network in this region (:class:`mlgov.modules.network.AccountNetwork`), if it has one."""
        self.network = None
        if self.network_facts is not None:
            self.network = AccountNetwork(
                self,
                "network",
                spec=self.spec,
                resolved=self.network_facts,
                platform_bucket=self.platform_bucket.bucket_name,
                flow_log_depends_on=[self.platform_bucket.policy],
            )
            self.output("vpc_id", self.network_facts.vpc_id, "The account's VPC in this region.")
            self.output(
                "subnet_ids", list(self.network_facts.subnet_ids), "Private subnets of Studio, jobs and endpoints."
            )
            self.output(
                "security_group_ids",
                list(self.network_facts.security_group_ids),
                "Security groups of Studio, jobs and endpoints.",
            )
