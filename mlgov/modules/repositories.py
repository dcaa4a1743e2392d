"""Model-build repositories of one team's dev account: the connection and the team's build CI roles.

Reads ``accounts.<key>.source`` (provider, owner, branch), the team and ``organization.name``.
Creates, in the account's primary region:

- ``aws_codestarconnections_connection.source``: ``<org>-<provider>``, the account's connection to
  its Git provider. AWS creates it PENDING; someone with access to the provider completes the
  handshake once in the console (``mlgov doctor`` reports a connection still pending);
- SSM parameters ``/<org>/source/connection-arn``, ``/<org>/source/owner`` and
  ``/<org>/source/branch``: what the model-build product (v3) reads at launch;
- roles ``<org>-<team>-codebuild`` (the build every push runs: uploads the project's code,
  updates and starts the project's SageMaker pipeline, passes only the team's execution role,
  never approves or registers a model) and ``<org>-<team>-codepipeline`` (uses the connection,
  starts the project's build), each under the catalog's product permissions boundary when the
  account has one. Project resources are matched by the names the product gives them
  (``<project>-build``) and by the buckets and keys product stacks create.
"""

from __future__ import annotations

from cdktf_cdktf_provider_aws.codestarconnections_connection import CodestarconnectionsConnection
from cdktf_cdktf_provider_aws.ssm_parameter import SsmParameter
from constructs import Construct

from mlgov.modules.blocks import named, ref
from mlgov.modules.governance_common import service_trust, team_role
from mlgov.platform import naming
from mlgov.platform import tags as tags_of
from mlgov.platform.iam.repositories import codebuild_statements, codepipeline_statements
from mlgov.platform.naming import construct_id
from mlgov.spec.model import OrgSpec


class Repositories(Construct):
    """The connection, its SSM parameters and the team's build roles in one dev account."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        spec: OrgSpec,
        team: str,
        account_key: str,
        region: str,
        boundary_arn: str | None,
    ) -> None:
        super().__init__(scope, id)
        source = spec.accounts[account_key].source
        assert source is not None
        account_id = spec.accounts[account_key].id
        tags = tags_of.team_tags(spec, team)  # AWS keeps a renamed team's name
        connection = named(
            CodestarconnectionsConnection(
                self,
                "connection",
                name=naming.source_connection(spec, account_key),
                provider_type=source.provider.value,
                tags=tags,
            ),
            "source",
        )
        for parts, value in (
            (("source", "connection-arn"), ref(connection, "arn")),
            (("source", "owner"), source.owner),
            (("source", "branch"), source.branch),
        ):
            named(
                SsmParameter(
                    self,
                    f"param_{construct_id(*parts)}",
                    name=naming.ssm_parameter(spec, *parts),
                    type="String",
                    value=value,
                    description=naming.PARAMETERS[parts],
                    tags=tags,
                ),
                construct_id(*parts),
            )
        self.codebuild = team_role(
            self,
            spec,
            team,
            "codebuild",
            trust=service_trust(naming.BUILD_ROLES["codebuild"], account_id),
            description=f"Model-build projects of team {naming.team_label(spec, team)}: the build every push runs",
            statements=codebuild_statements(spec, team, account_id, region),
            permissions_boundary=boundary_arn,
        )
        self.codepipeline = team_role(
            self,
            spec,
            team,
            "codepipeline",
            trust=service_trust(naming.BUILD_ROLES["codepipeline"], account_id),
            description=f"Model-build projects of team {naming.team_label(spec, team)}: the source pipeline of each "
            "repository",
            statements=codepipeline_statements(account_id, region, ref(connection, "arn")),
            permissions_boundary=boundary_arn,
        )
