"""Container images of the teams: one ECR repository per team in the hub.

Reads ``organization`` (name, id), ``governance`` (image_keep_count, untagged_image_days) and
every team's ``dev_account`` and ``stages``. Creates, in the hub's home region:

- KMS key ``alias/<org>/images`` the repositories are encrypted with (the hub's core stack);
- per team, in the team's slice of the hub (``<hub>-team-<team>``), repository
  ``<org>/<team>``: scan on push, IMMUTABLE tags (a tag names one image
  forever, so a promoted package always deploys the image it was tested with), a lifecycle
  policy (untagged images expire, only the newest tagged ones are kept), and a repository
  policy letting exactly the team's dev account push (its roles' own policies say which push)
  and its test/prod accounts pull (the team's endpoint roles there only), each only from
  inside the organization (``aws:PrincipalOrgID``); the same repository in each region of the
  team's stages other than the hub's (ECR replicates the images there, mlgov.modules.hub_regions;
  key ``alias/<org>/images`` of that region).

The promotion function accepts an image of this repository (or of AWS's SageMaker
registries) in a team's package: :mod:`mlgov.platform.images`.
"""

from __future__ import annotations

import json

from cdktf import TerraformProvider, TerraformResourceLifecycle, TerraformStack
from cdktf_cdktf_provider_aws.ecr_lifecycle_policy import EcrLifecyclePolicy
from cdktf_cdktf_provider_aws.ecr_repository import (
    EcrRepository,
    EcrRepositoryEncryptionConfiguration,
    EcrRepositoryImageScanningConfiguration,
)
from cdktf_cdktf_provider_aws.ecr_repository_policy import EcrRepositoryPolicy
from constructs import Construct

from mlgov.modules.blocks import PlatformKey, named, ref
from mlgov.platform import naming
from mlgov.platform import tags as tags_of
from mlgov.platform.iam import arns
from mlgov.platform.iam.images import repository_policy
from mlgov.platform.naming import construct_id
from mlgov.spec.model import OrgSpec


def lifecycle_policy(spec: OrgSpec) -> str:
    """Untagged images expire after ``untagged_image_days``; only the newest tagged images stay."""
    rules = [
        {
            "rulePriority": 1,
            "description": "Expire untagged images",
            "selection": {
                "tagStatus": "untagged",
                "countType": "sinceImagePushed",
                "countUnit": "days",
                "countNumber": spec.governance.untagged_image_days,
            },
            "action": {"type": "expire"},
        },
        {
            "rulePriority": 2,
            "description": "Keep the newest tagged images",
            "selection": {
                "tagStatus": "any",
                "countType": "imageCountMoreThan",
                "countNumber": spec.governance.image_keep_count,
            },
            "action": {"type": "expire"},
        },
    ]
    return json.dumps({"rules": rules}, sort_keys=True)


class ImagesKey(Construct):
    """The key the teams' image repositories are encrypted with, in the hub's core stack."""

    def __init__(self, scope: Construct, id: str, *, spec: OrgSpec) -> None:
        super().__init__(scope, id)
        self.key = PlatformKey(
            self,
            "key",
            name="images",
            account_id=spec.accounts[spec.hub].id,
            alias=naming.kms_alias(spec, "images"),
            description="mlgov team container images (ECR)",
        )


class TeamRepository(Construct):
    """One team's image repository, its lifecycle and its policy, in the team's slice of the hub.

    The key is in the hub's core stack: the repository names it by its alias ARN (its id is
    random). ECR records the key's ARN on creation and never changes a repository's encryption
    (the provider would replace the repository for any difference), so the encryption settings
    are left alone after creation (``ignore_changes``): the alias always names the same key.
    """

    def __init__(self, scope: Construct, id: str, *, spec: OrgSpec, team: str) -> None:
        super().__init__(scope, id)
        address = construct_id(team)
        former = naming.former_team(spec, team)  # a renamed team's repository keeps its name
        was = construct_id(former) if former else None
        hub_id = spec.accounts[spec.hub].id
        self.repository = self._repository(spec, team, naming.hub_region(spec), hub_id, address, was)
        # ECR replicates the team's images into a repository of the same name in each region
        # of its stages (mlgov.modules.hub_regions); made here first, it has this policy and
        # lifecycle, where one ECR created would have none.
        for region in naming.team_remote_regions(spec, team):
            suffix = naming.region_alias(region)
            self._repository(
                spec,
                team,
                region,
                hub_id,
                f"{address}_{suffix}",
                was and f"{was}_{suffix}",
                provider=TerraformStack.of(self).region_provider(region),  # type: ignore[attr-defined]
            )

    def _repository(
        self,
        spec: OrgSpec,
        team: str,
        region: str,
        hub_id: str,
        address: str,
        was: str | None,
        provider: TerraformProvider | None = None,
    ) -> EcrRepository:
        """The team's repository in ``region``, its lifecycle and its policy, at ``address``."""
        key_alias_arn = arns.kms_alias(region, hub_id, naming.kms_alias(spec, "images"))
        repository = named(
            EcrRepository(
                self,
                f"{address}_repository",
                provider=provider,
                name=naming.team_image_repository(spec, team),
                image_tag_mutability="IMMUTABLE",
                image_scanning_configuration=EcrRepositoryImageScanningConfiguration(scan_on_push=True),
                encryption_configuration=[
                    EcrRepositoryEncryptionConfiguration(encryption_type="KMS", kms_key=key_alias_arn)
                ],
                tags=tags_of.team_tags(spec, team),
                lifecycle=TerraformResourceLifecycle(ignore_changes=["encryption_configuration"]),
            ),
            address,
            was=was,
        )
        named(
            EcrLifecyclePolicy(
                self,
                f"{address}_lifecycle",
                provider=provider,
                repository=ref(repository, "name"),
                policy=lifecycle_policy(spec),
            ),
            address,
            was=was,
        )
        named(
            EcrRepositoryPolicy(
                self,
                f"{address}_policy",
                provider=provider,
                repository=ref(repository, "name"),
                policy=repository_policy(spec, team, region),
            ),
            address,
            was=was,
        )
        return repository
