"""Constructs shared by the governance layers of the dev, hub and stage accounts.

An IAM role with its inline policy, the dead-letter queue of an event target, the approval
event pattern. The documents they attach are built in :mod:`mlgov.platform.iam.common`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.sqs_queue import SqsQueue
from cdktf_cdktf_provider_aws.sqs_queue_policy import SqsQueuePolicy
from constructs import Construct

from mlgov.modules.blocks import named, ref
from mlgov.platform import naming, policy
from mlgov.platform import tags as tags_of

# The governance rules' patterns are platform data (validate measures them); constructs import them here.
from mlgov.platform.governance import MODEL_PACKAGE_STATE_CHANGE as MODEL_PACKAGE_STATE_CHANGE
from mlgov.platform.governance import approval_pattern as approval_pattern
from mlgov.platform.iam.common import dead_letter_queue_policy

# The documents' pieces live in mlgov.platform.iam.common; governance_hub still imports these three
# from here until it draws its documents from the platform layer too.
from mlgov.platform.iam.common import only_role as only_role
from mlgov.platform.iam.common import register_pending as register_pending
from mlgov.platform.iam.common import service_trust as service_trust
from mlgov.platform.naming import construct_id
from mlgov.spec.model import OrgSpec

# EventBridge keeps retrying a failed delivery for up to a day before the DLQ gets it.
RETRY_ATTEMPTS = 185
RETRY_MAX_AGE_SECONDS = 86400
DLQ_RETENTION_SECONDS = 14 * 86400


def role(
    scope: Construct,
    address: str,
    *,
    name: str,
    trust: str,
    statements: Sequence[dict[str, Any]],
    description: str,
    tags: dict[str, str] | None = None,
    was: str | None = None,
    permissions_boundary: str | None = None,
) -> IamRole:
    """An IAM role with one inline policy, both at ``<type>.<address>`` (moved from ``<type>.<was>``;
    with a permissions boundary if given)."""
    iam_role = named(
        IamRole(
            scope,
            f"{address}_role",
            name=name,
            assume_role_policy=trust,
            description=description,
            max_session_duration=3600,
            tags=tags,
            permissions_boundary=permissions_boundary,
        ),
        address,
        was=was,
    )
    named(
        IamRolePolicy(
            scope, f"{address}_policy", name=name, role=ref(iam_role, "name"), policy=policy.document(*statements)
        ),
        address,
        was=was,
    )
    return iam_role


def team_role(
    scope: Construct,
    spec: OrgSpec,
    team: str,
    purpose: str,
    *,
    trust: str,
    statements: Sequence[dict[str, Any]],
    description: str,
    permissions_boundary: str | None = None,
) -> IamRole:
    """A :func:`role` of one team for one purpose: named ``naming.team_role`` (a renamed team keeps
    the name AWS created it with), at ``<team>_<purpose>`` (moved from the former team's address)
    and tagged with the team's label."""
    key = purpose.replace("-", "_")
    return role(
        scope,
        construct_id(team, key),
        was=naming.moved_id(naming.former_team(spec, team), key),
        name=naming.team_role(spec, team, purpose),
        tags=tags_of.team_tags(spec, team),
        trust=trust,
        statements=statements,
        description=description,
        permissions_boundary=permissions_boundary,
    )


def dead_letter_queue(
    scope: Construct,
    address: str,
    *,
    name: str,
    region: str,
    account_id: str,
    sender_arn: str,
    sender_service: str,
    was: str | None = None,
    tags: dict[str, str] | None = None,
) -> SqsQueue:
    """Encrypted SQS queue that only ``sender_service`` acting for ``sender_arn`` may write to."""
    queue = named(
        SqsQueue(
            scope,
            f"{address}_queue",
            name=name,
            sqs_managed_sse_enabled=True,
            message_retention_seconds=DLQ_RETENTION_SECONDS,
            tags=tags,
        ),
        address,
        was=was,
    )
    named(
        SqsQueuePolicy(
            scope,
            f"{address}_queue_policy",
            queue_url=ref(queue, "url"),
            policy=dead_letter_queue_policy(region, account_id, name, sender_arn, sender_service),
        ),
        address,
        was=was,
    )
    return queue
