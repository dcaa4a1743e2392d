"""Building blocks shared by every account layer.

Resources get readable, stable Terraform addresses (``aws_s3_bucket.platform``) through
:func:`named`, which also refuses two resources of one type with one name in a stack -
cdktf would otherwise let the second silently replace the first in the JSON. :func:`ref`
refers to an attribute of a named resource by that address.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

import jsii
from cdktf import TerraformProvider, TerraformResource, TerraformStack
from cdktf_cdktf_provider_aws.kms_alias import KmsAlias
from cdktf_cdktf_provider_aws.kms_key import KmsKey
from cdktf_cdktf_provider_aws.s3_bucket import S3Bucket
from cdktf_cdktf_provider_aws.s3_bucket_lifecycle_configuration import (
    S3BucketLifecycleConfiguration,
    S3BucketLifecycleConfigurationRule,
    S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload,
    S3BucketLifecycleConfigurationRuleFilter,
    S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration,
)
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

from mlgov.platform.iam import arns, baseline
from mlgov.platform.naming import construct_id

R = TypeVar("R", bound=TerraformResource)


def named(resource: R, name: str, *, was: str | None = None) -> R:
    """Give ``resource`` the Terraform address ``<type>.<name>`` and return it.

    The stack is the one ``resource`` was created in (its scope's), and the stack keeps the
    addresses given so far: there is no module-level state, so a construct built on its own
    (a test, a second App in the same process) gets the same checks as one built by build_app.

    ``was``: the name the resource had before a rename in the spec (``renamed_from``); the
    stack then carries a ``moved`` block from ``<type>.<was>``, so Terraform moves the state
    instead of destroying one resource and creating another.

    Raises:
        ValueError: the stack already has a resource of that type with that name.
    """
    stack = stack_of(resource)
    seen: set[tuple[str, str]] | None = getattr(stack, "_mlgov_addresses", None)
    if seen is None:
        seen = set()
        stack._mlgov_addresses = seen  # type: ignore[attr-defined]
    address = (_resource_type(resource), name)
    if address in seen:
        raise ValueError(f"duplicate Terraform address {address[0]}.{name} in stack {stack.node.id}")
    seen.add(address)
    resource.override_logical_id(name)
    resource._mlgov_address = f"{address[0]}.{name}"  # type: ignore[attr-defined]
    if was is not None and was != name:
        resource.move_from_id(f"{address[0]}.{was}")
    return resource


def stack_of(construct: Construct) -> TerraformStack:
    """The stack ``construct`` belongs to, as ``TerraformStack.of`` answers it, mostly without
    asking Node.

    ``TerraformStack.of`` is a jsii round trip, and :func:`named` needs the stack of every
    resource (a third of all round trips of a synth). The answer is a pure function of the
    construct tree, and the tree is built from Python: every construct's parent is the scope
    its constructor was given, and that constructor hands the scope to ``jsii.create``
    (:func:`_record_scopes` keeps it on the new object). So walking those scopes up to the first
    :class:`TerraformStack` is the walk Node would do. A construct with no recorded scope (made
    before this module was imported, or by Node itself) is asked through jsii, as before.

    Nothing here depends on who is building what: no "current stack" is kept anywhere, so a
    construct built on its own (a test, a second App in one process) finds the same stack
    through the same walk as one built by ``build_app``.
    """
    scope: object = construct
    while not isinstance(scope, TerraformStack):
        parent = getattr(scope, _SCOPE, None)
        if parent is None:
            return TerraformStack.of(construct)
        scope = parent
    return scope


# The attribute on a jsii-created construct that holds the scope it was created in (set by the
# jsii.create wrapper below; jsii keeps every object it created for the life of the process, so
# this holds nothing alive that jsii would not).
_SCOPE = "_mlgov_scope"


def _record_scopes() -> None:
    """Wrap ``jsii.create`` so that a construct created from Python keeps its scope (see
    :func:`stack_of`). Every construct class's constructor (cdktf's, the provider's generated
    ones, ``constructs.Construct`` for mlgov's own) calls ``jsii.create(cls, obj, [scope, id,
    ...])`` through the module attribute, so wrapping it once covers them all. Only a
    :class:`Construct` whose first argument is a :class:`Construct` is recorded. Idempotent;
    the wrapper changes no argument or result, so what Node builds is exactly what it was."""
    original = jsii.create
    if getattr(original, "_mlgov_records_scopes", False):
        return

    def create(klass: Any, obj: Any, args: list[Any] | None = None) -> Any:
        ref = original(klass, obj, args)
        if args and isinstance(obj, Construct) and isinstance(args[0], Construct):
            setattr(obj, _SCOPE, args[0])
        return ref

    create._mlgov_records_scopes = True  # type: ignore[attr-defined]
    jsii.create = create


_record_scopes()


def ref(resource: object, attribute: str) -> str:
    """The Terraform reference ``${<type>.<name>.<attribute>}`` to ``resource``.

    For a resource given its address by :func:`named` the reference is built here: reading
    ``resource.<attribute>`` instead costs a round trip to the jsii Node process, and cdktf
    resolves that token to exactly this string. Any other resource is asked through jsii.
    ``attribute`` is the Terraform (snake_case) name, which is also the Python property name.
    """
    address = getattr(resource, "_mlgov_address", None)
    if address is None:
        return getattr(resource, attribute)
    return f"${{{address}.{attribute}}}"


_RESOURCE_TYPES: dict[type, str] = {}


def _resource_type(resource: TerraformResource) -> str:
    """The Terraform type of ``resource``; each jsii property read is a Node round trip, so for
    the provider's generated classes (one fixed type per class) it is read once per class."""
    cls = type(resource)
    cached = _RESOURCE_TYPES.get(cls)
    if cached is None:
        cached = resource.terraform_resource_type
        if cls.__module__.startswith("cdktf_cdktf_provider_aws."):
            _RESOURCE_TYPES[cls] = cached
    return cached


class PlatformKey(Construct):
    """Customer-managed KMS key with rotation, an explicit key policy and an alias.

    The account root gets the administrative and usage actions (so IAM in that account
    decides), plus any extra statements a layer needs (service principals, other accounts).
    ``provider``: the stack's aliased provider of another region (default: the stack's own).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name: str,
        account_id: str,
        alias: str,
        description: str,
        extra_statements: Sequence[dict[str, Any]] = (),
        provider: TerraformProvider | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.key = named(
            KmsKey(
                self,
                "key",
                provider=provider,
                description=description,
                enable_key_rotation=True,
                deletion_window_in_days=30,
                policy=baseline.key_policy(account_id, extra_statements),
            ),
            name,
        )
        self.alias = named(
            KmsAlias(self, "alias", provider=provider, name=alias, target_key_id=ref(self.key, "key_id")), name
        )

    @property
    def arn(self) -> str:
        return ref(self.key, "arn")


def baseline_lifecycle(
    scope: Construct, id: str, bucket_id: str, noncurrent_days: int = 90, *, provider: TerraformProvider | None = None
) -> S3BucketLifecycleConfiguration:
    """The platform's lifecycle rule for a versioned bucket: incomplete uploads aborted after 7
    days, non-current versions expired after ``noncurrent_days``."""
    return S3BucketLifecycleConfiguration(
        scope,
        id,
        provider=provider,
        bucket=bucket_id,
        rule=[
            S3BucketLifecycleConfigurationRule(
                id="abort-incomplete-uploads-and-expire-noncurrent",
                status="Enabled",
                filter=[S3BucketLifecycleConfigurationRuleFilter(prefix="")],
                abort_incomplete_multipart_upload=[
                    S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload(days_after_initiation=7)
                ],
                noncurrent_version_expiration=[
                    S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration(noncurrent_days=noncurrent_days)
                ],
            )
        ],
    )


class SecureBucket(Construct):
    """S3 bucket with the platform baseline.

    Public access blocked (all four flags), versioning, SSE-KMS with a customer key and
    bucket keys, bucket-owner-enforced ownership, a TLS-only policy, and a lifecycle rule
    that cleans up incomplete uploads and old non-current versions. ``provider``: the stack's
    aliased provider of another region (default: the stack's own).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        name: str,
        bucket_name: str,
        kms_key_arn: str,
        extra_statements: Sequence[dict[str, Any]] = (),
        noncurrent_days: int = 90,
        provider: TerraformProvider | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.bucket_name = bucket_name
        self.bucket = named(S3Bucket(self, "bucket", provider=provider, bucket=bucket_name), name)
        bucket_id = ref(self.bucket, "id")
        self.public_access = named(
            S3BucketPublicAccessBlock(
                self,
                "public_access",
                provider=provider,
                bucket=bucket_id,
                block_public_acls=True,
                block_public_policy=True,
                ignore_public_acls=True,
                restrict_public_buckets=True,
            ),
            name,
        )
        self.versioning = named(
            S3BucketVersioningA(
                self,
                "versioning",
                provider=provider,
                bucket=bucket_id,
                versioning_configuration=S3BucketVersioningVersioningConfiguration(status="Enabled"),
            ),
            name,
        )
        named(
            S3BucketServerSideEncryptionConfigurationA(
                self,
                "encryption",
                provider=provider,
                bucket=bucket_id,
                rule=[
                    S3BucketServerSideEncryptionConfigurationRuleA(
                        apply_server_side_encryption_by_default=S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA(
                            sse_algorithm="aws:kms", kms_master_key_id=kms_key_arn
                        ),
                        bucket_key_enabled=True,
                    )
                ],
            ),
            name,
        )
        named(
            S3BucketOwnershipControls(
                self,
                "ownership",
                provider=provider,
                bucket=bucket_id,
                rule=S3BucketOwnershipControlsRule(object_ownership="BucketOwnerEnforced"),
            ),
            name,
        )
        named(baseline_lifecycle(self, "lifecycle", bucket_id, noncurrent_days, provider=provider), name)
        self.policy = named(
            S3BucketPolicy(
                self,
                "policy",
                provider=provider,
                bucket=bucket_id,
                policy=baseline.bucket_policy(bucket_name, extra_statements),
                # The public access block must exist first or a broad policy could slip in.
                depends_on=[self.public_access],
            ),
            name,
        )

    @property
    def arn(self) -> str:
        return arns.bucket(self.bucket_name)


__all__ = ["PlatformKey", "SecureBucket", "construct_id", "named", "ref"]
