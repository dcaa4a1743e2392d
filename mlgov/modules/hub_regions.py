"""What the hub keeps in each stage region other than its own: replicas of the promoted artifacts
and of the teams' images, so an endpoint there reads both in its own region.

SageMaker creates a model only from model data in an S3 bucket and an ECR image in the model's
own region (SageMaker API reference, CreateModel, ``ContainerDefinition.ModelDataUrl`` and
``ContainerDefinition.Image``): a package of the hub's registry cannot be deployed as it is in
another region. Reads every team's ``stages`` (their accounts' primary regions,
:func:`mlgov.platform.naming.remote_regions`). Creates, in the hub's core stack, for each such
region through the stack's provider aliased to it (:meth:`PlatformStack.region_provider`):

- KMS key ``alias/<org>/model-artifacts`` (the replica's, and the teams' pipeline stores there)
  and bucket ``<org>-model-artifacts-<hub id>-<region>``, readable by the stage roles exactly
  like the hub region's (:func:`mlgov.platform.iam.governance.artifact_bucket_statements`);
- KMS key ``alias/<org>/images`` (the teams' replica repositories there,
  :class:`mlgov.modules.images.TeamRepository`);

and, in the hub region, role ``<org>-model-artifacts-replication`` with the S3 replication of
the artifact bucket to every replica (one rule per region; versions and keys are kept, so a
package's ``ModelDataUrl`` names the same key there) and the ECR replication of each team's
repository to the regions of its stages.
"""

from __future__ import annotations

from cdktf_cdktf_provider_aws.ecr_replication_configuration import (
    EcrReplicationConfiguration,
    EcrReplicationConfigurationReplicationConfiguration,
    EcrReplicationConfigurationReplicationConfigurationRule,
    EcrReplicationConfigurationReplicationConfigurationRuleDestination,
    EcrReplicationConfigurationReplicationConfigurationRuleRepositoryFilter,
)
from cdktf_cdktf_provider_aws.s3_bucket_replication_configuration import (
    S3BucketReplicationConfigurationA,
    S3BucketReplicationConfigurationRule,
    S3BucketReplicationConfigurationRuleDeleteMarkerReplication,
    S3BucketReplicationConfigurationRuleDestination,
    S3BucketReplicationConfigurationRuleDestinationEncryptionConfiguration,
    S3BucketReplicationConfigurationRuleFilter,
    S3BucketReplicationConfigurationRuleSourceSelectionCriteria,
    S3BucketReplicationConfigurationRuleSourceSelectionCriteriaSseKmsEncryptedObjects,
)

from mlgov.modules.base import PlatformStack
from mlgov.modules.blocks import PlatformKey, SecureBucket, named, ref
from mlgov.modules.governance_common import role
from mlgov.modules.hub_registry import HubRegistry
from mlgov.platform import naming
from mlgov.platform.iam import arns
from mlgov.platform.iam import governance as iam
from mlgov.spec.model import OrgSpec


class HubStageRegions:
    """The replicas of the hub in every stage region, built into ``stack`` (the hub's core stack;
    not a construct of its own, so each resource keeps a flat construct path)."""

    def __init__(self, stack: PlatformStack, *, spec: OrgSpec, registry: HubRegistry) -> None:
        self.regions = naming.remote_regions(spec)
        if not self.regions:
            return
        hub_id = spec.accounts[spec.hub].id
        self.artifact_keys: dict[str, PlatformKey] = {}
        self.replicas: dict[str, SecureBucket] = {}
        for region in self.regions:
            self._artifact_replica(stack, spec, hub_id, region)
            self._images_key(stack, spec, hub_id, region)
        self._artifact_replication(stack, spec, registry)
        self._image_replication(stack, spec, hub_id)

    def _artifact_replica(self, stack: PlatformStack, spec: OrgSpec, hub_id: str, region: str) -> None:
        """Key and replica bucket of the promoted artifacts in ``region``."""
        provider = stack.region_provider(region)
        suffix = naming.region_alias(region)
        key = PlatformKey(
            stack,
            f"artifact_key_{suffix}",
            name=f"model_artifacts_{suffix}",
            account_id=hub_id,
            alias=naming.kms_alias(spec, "model-artifacts"),
            description=f"mlgov model artifacts and deployment pipelines in stage region {region}",
            extra_statements=iam.artifact_key_statements(spec, region),
            provider=provider,
        )
        self.artifact_keys[region] = key
        self.replicas[region] = SecureBucket(
            stack,
            f"artifact_bucket_{suffix}",
            name=f"model_artifacts_{suffix}",
            bucket_name=naming.bucket_name(spec, spec.hub, region, "model-artifacts"),
            kms_key_arn=key.arn,
            extra_statements=iam.artifact_bucket_statements(spec, region),
            provider=provider,
        )

    def _images_key(self, stack: PlatformStack, spec: OrgSpec, hub_id: str, region: str) -> None:
        """The key of the teams' replica repositories in ``region`` (as ``alias/<org>/images`` in the hub region)."""
        suffix = naming.region_alias(region)
        PlatformKey(
            stack,
            f"images_key_{suffix}",
            name=f"images_{suffix}",
            account_id=hub_id,
            alias=naming.kms_alias(spec, "images"),
            description=f"mlgov team container images (ECR) in stage region {region}",
            provider=stack.region_provider(region),
        )

    def _artifact_replication(self, stack: PlatformStack, spec: OrgSpec, registry: HubRegistry) -> None:
        """S3 replication of the hub region's artifact bucket to every replica, with its role."""
        replication_role = role(
            stack,
            "model_artifacts_replication",
            name=naming.role_name(spec, "model-artifacts-replication"),
            trust=iam.replication_trust(spec),
            statements=iam.replication_statements(spec),
            description="S3 replication of the promoted model artifacts to the stage regions' replicas",
        )
        rules = [
            S3BucketReplicationConfigurationRule(
                id=f"to-{region}",
                priority=priority,
                status="Enabled",
                filter=S3BucketReplicationConfigurationRuleFilter(prefix=""),
                delete_marker_replication=S3BucketReplicationConfigurationRuleDeleteMarkerReplication(
                    status="Disabled"
                ),
                source_selection_criteria=S3BucketReplicationConfigurationRuleSourceSelectionCriteria(
                    sse_kms_encrypted_objects=S3BucketReplicationConfigurationRuleSourceSelectionCriteriaSseKmsEncryptedObjects(
                        status="Enabled"
                    )
                ),
                destination=S3BucketReplicationConfigurationRuleDestination(
                    bucket=arns.bucket(naming.bucket_name(spec, spec.hub, region, "model-artifacts")),
                    encryption_configuration=S3BucketReplicationConfigurationRuleDestinationEncryptionConfiguration(
                        replica_kms_key_id=self.artifact_keys[region].arn
                    ),
                ),
            )
            for priority, region in enumerate(self.regions, start=1)
        ]
        named(
            S3BucketReplicationConfigurationA(
                stack,
                "artifact_replication",
                bucket=ref(registry.artifacts.bucket, "id"),
                role=ref(replication_role, "arn"),
                rule=rules,
                # Replication needs versioning on the source, and the replicas to exist.
                depends_on=[registry.artifacts.versioning, *(b.versioning for b in self.replicas.values())],
            ),
            "model_artifacts",
        )

    def _image_replication(self, stack: PlatformStack, spec: OrgSpec, hub_id: str) -> None:
        """ECR replication of each team's repository to the regions of its stages: one rule per
        region, one filter per team deploying there (ECR quotas: rules per configuration,
        filters per rule, destinations; checked by ``validate``)."""
        rules = []
        for region in self.regions:
            teams = [t for t in naming.by_label(spec, spec.teams) if region in naming.team_remote_regions(spec, t)]
            rules.append(
                EcrReplicationConfigurationReplicationConfigurationRule(
                    destination=[
                        EcrReplicationConfigurationReplicationConfigurationRuleDestination(
                            region=region, registry_id=hub_id
                        )
                    ],
                    repository_filter=[
                        EcrReplicationConfigurationReplicationConfigurationRuleRepositoryFilter(
                            filter=naming.team_image_repository(spec, t), filter_type="PREFIX_MATCH"
                        )
                        for t in teams
                    ],
                )
            )
        named(
            EcrReplicationConfiguration(
                stack,
                "image_replication",
                replication_configuration=EcrReplicationConfigurationReplicationConfiguration(rule=rules),
            ),
            "images",
        )
