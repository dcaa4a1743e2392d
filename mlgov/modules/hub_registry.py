"""The hub registry's storage: its key, artifact and pipeline buckets, and the pipelines' source.

Reads ``organization``, every team's ``stages`` and ``governance`` (groups, monitoring).
Creates KMS key ``alias/<org>/model-artifacts``, bucket ``<org>-model-artifacts-<id>-<region>``
(promoted artifacts; readable only by the stage accounts' endpoint and monitoring roles),
bucket ``<org>-deploy-pipelines-<id>-<region>`` (the pipelines' source: its object
``sources/endpoint-source.zip``, read-only for every team's roles; each team's run artifacts
are in its own bucket, :mod:`mlgov.modules.hub_pipelines`). Policies:
:mod:`mlgov.platform.iam.governance`.
"""

from __future__ import annotations

import hashlib

from cdktf_cdktf_provider_aws.s3_object import S3Object
from constructs import Construct

from mlgov.modules.blocks import PlatformKey, SecureBucket, named
from mlgov.platform import governance, naming
from mlgov.platform.iam import governance as iam
from mlgov.spec.model import OrgSpec


class HubRegistry:
    """Key, buckets and source object of the hub, built into ``scope`` (the governance hub).

    Not a construct of its own: a child construct would add a segment to every resource's
    construct path, which the synthesized JSON records.
    """

    def __init__(self, scope: Construct, *, spec: OrgSpec, region: str) -> None:
        self.key = PlatformKey(
            scope,
            "artifact_key",
            name="model_artifacts",
            account_id=spec.accounts[spec.hub].id,
            alias=naming.kms_alias(spec, "model-artifacts"),
            description="mlgov model artifacts, deployment pipelines and promotion logs",
            extra_statements=iam.artifact_key_statements(spec, region),
        )
        self.artifact_bucket = naming.bucket_name(spec, spec.hub, region, "model-artifacts")
        self.artifacts = SecureBucket(
            scope,
            "artifact_bucket",
            name="model_artifacts",
            bucket_name=self.artifact_bucket,
            kms_key_arn=self.key.arn,
            extra_statements=iam.artifact_bucket_statements(spec, region),
        )
        self.pipeline_bucket = naming.bucket_name(spec, spec.hub, region, "deploy-pipelines")
        self.pipelines_bucket = SecureBucket(
            scope,
            "pipeline_bucket",
            name="deploy_pipelines",
            bucket_name=self.pipeline_bucket,
            kms_key_arn=self.key.arn,
            extra_statements=iam.pipeline_bucket_statements(spec, region),
        )
        named(
            S3Object(
                scope,
                "endpoint_source",
                bucket=self.pipeline_bucket,
                key=governance.SOURCE_KEY,
                source=governance.ENDPOINT_SOURCE_ZIP,
                source_hash=hashlib.sha256(governance.endpoint_source_zip(spec)).hexdigest(),
                server_side_encryption=iam.SSE_KMS,
                kms_key_id=self.key.arn,
                depends_on=[self.pipelines_bucket.bucket],
            ),
            "endpoint_source",
        )
