"""The AWS service quotas mlgov's output can reach, as data: limit, source, hard or adjustable.

AWS enforces these at apply time, long after synthesis; ``validate`` computes each figure for
the spec (:mod:`mlgov.validation.quotas`) and refuses one over its limit. Each entry names
the AWS documentation page it comes from (title and address) and the AWS object it applies
to. A COUNT quota is counted from the spec through the platform functions the constructs use;
a SIZE quota is measured on a policy document (:func:`mlgov.validation.quotas.check_policy_sizes`).

Adjustable quotas can be raised in the spec (``quotas:``, :class:`mlgov.spec.quotas.QuotaRaises`)
when the organization has had them raised; hard ones cannot (AWS does not raise them).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import Enum

from mlgov.spec.model import OrgSpec


class Measure(Enum):
    """What a quota limits, and how AWS measures it."""

    COUNT = "count"
    # IAM: "IAM does not count white space when calculating the size of a policy".
    IAM_CHARS = "characters, whitespace not counted"
    # Organizations counts every character of the SCP as submitted, whitespace included.
    CHARS = "characters as submitted"
    BYTES = "bytes as submitted (UTF-8)"


@dataclass(frozen=True)
class Quota:
    """One AWS quota.

    Attributes:
        key: its name in mlgov (the ``quotas:`` field for an adjustable one, and in messages).
        title: AWS's own name of the quota.
        limit: AWS's default (for a hard quota, the only value).
        adjustable: whether AWS raises it on request.
        maximum: the highest value AWS grants, when its documentation gives one.
        measure: what is counted or measured.
        applies_to: the AWS object it limits.
        source: title of the AWS documentation page it comes from.
        url: that page's address.
        remedy: what to do when the spec breaks it.
    """

    key: str
    title: str
    limit: int
    adjustable: bool
    maximum: int | None
    measure: Measure
    applies_to: str
    source: str
    url: str
    remedy: str


IAM_QUOTAS = ("IAM and AWS STS quotas", "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html")
ORGANIZATIONS_QUOTAS = (
    "Quotas for AWS Organizations",
    "https://docs.aws.amazon.com/organizations/latest/userguide/orgs_reference_limits.html",
)
EVENTBRIDGE_QUOTAS = (
    "Amazon EventBridge quotas",
    "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html",
)
ECR_QUOTAS = (
    "Amazon ECR service quotas",
    "https://docs.aws.amazon.com/AmazonECR/latest/userguide/service-quotas.html",
)
VPC_QUOTAS = ("Amazon VPC quotas", "https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html")
PRIVATELINK_QUOTAS = (
    "Quotas for AWS PrivateLink",
    "https://docs.aws.amazon.com/vpc/latest/privatelink/vpc-limits-endpoints.html",
)
LAKE_FORMATION_TAGS = (
    "Lake Formation Tag-based access control notes and restrictions",
    "https://docs.aws.amazon.com/lake-formation/latest/dg/TBAC-notes.html",
)
LAKE_FORMATION_CROSS_ACCOUNT = (
    "Lake Formation cross-account data sharing best practices and considerations",
    "https://docs.aws.amazon.com/lake-formation/latest/dg/cross-account-notes.html",
)

# Key length 128 and value length 256 (Unicode characters) are on the same page; the spec's
# TagKey and TagValue types hold them (mlgov.spec.base).
TAGGING = (
    "Tagging AWS resources and Tag Editor: Tag naming limits and requirements",
    "https://docs.aws.amazon.com/tag-editor/latest/userguide/tagging.html",
)

_TABLE = (
    # -- counted from the spec ---------------------------------------------------------------
    Quota(
        "portfolio_iam_pattern_principals",
        "Principals of type IAM_PATTERN associated with one portfolio",
        10,
        False,
        None,
        Measure.COUNT,
        "Service Catalog portfolio",
        "AssociatePrincipalWithPortfolio (AWS Service Catalog API Reference)",
        "https://docs.aws.amazon.com/servicecatalog/latest/dg/API_AssociatePrincipalWithPortfolio.html",
        "name fewer personas or role_patterns on the portfolio, or split the teams over more portfolios",
    ),
    Quota(
        "iam_roles_per_account",
        "Roles in an AWS account",
        1000,
        True,
        5000,
        Measure.COUNT,
        "IAM roles of the account",
        *IAM_QUOTAS,
        "spread the teams over more stage accounts, or raise it in quotas.iam_roles_per_account once AWS has",
    ),
    Quota(
        "event_rules_per_bus",
        "Rules per event bus",
        300,
        True,
        None,
        Measure.COUNT,
        "EventBridge event bus",
        *EVENTBRIDGE_QUOTAS,
        "raise it in quotas.event_rules_per_bus once AWS has, or give the teams fewer model package groups",
    ),
    Quota(
        "codepipeline_pipelines_per_region",
        "Maximum number of pipelines per Region in an AWS account",
        1000,
        True,
        None,
        Measure.COUNT,
        "CodePipeline pipelines of the account and region",
        "Quotas in AWS CodePipeline",
        "https://docs.aws.amazon.com/codepipeline/latest/userguide/limits.html",
        "raise it in quotas.codepipeline_pipelines_per_region once AWS has, or give the teams fewer model package "
        "groups",
    ),
    # The hub registry's one replication configuration (per account and region) copies the teams'
    # images to the regions of their stages other than the hub's: one rule per such region, one
    # filter per team deploying there (mlgov.modules.hub_regions).
    Quota(
        "ecr_replication_rules",
        "Rules per replication configuration",
        10,
        False,
        None,
        Measure.COUNT,
        "ECR replication configuration of the hub registry",
        *ECR_QUOTAS,
        "run the stages in at most 10 regions other than the hub's",
    ),
    Quota(
        "ecr_replication_filters_per_rule",
        "Filters per rule in a replication configuration",
        100,
        False,
        None,
        Measure.COUNT,
        "ECR replication rule (one stage region)",
        *ECR_QUOTAS,
        "let fewer teams deploy to that region, or move some of their stages to the hub's region",
    ),
    Quota(
        "vpc_interface_endpoints_per_vpc",
        "Interface VPC endpoints per VPC",
        50,
        True,
        None,
        Measure.COUNT,
        "VPC",
        *PRIVATELINK_QUOTAS,
        "an adopted VPC already holds endpoints: raise it in quotas.vpc_interface_endpoints_per_vpc once AWS has",
    ),
    Quota(
        "security_group_inbound_rules",
        "Inbound or outbound rules per security group (inbound)",
        60,
        True,
        None,
        Measure.COUNT,
        "security group",
        *VPC_QUOTAS,
        "list fewer security_group_ids, or raise it in quotas.security_group_inbound_rules once AWS has",
    ),
    Quota(
        "security_group_outbound_rules",
        "Inbound or outbound rules per security group (outbound)",
        60,
        True,
        None,
        Measure.COUNT,
        "security group",
        *VPC_QUOTAS,
        "raise it in quotas.security_group_outbound_rules once AWS has",
    ),
    Quota(
        "security_groups_per_network_interface",
        "Security groups per network interface",
        5,
        True,
        16,
        Measure.COUNT,
        "network interfaces of SageMaker workloads",
        *VPC_QUOTAS,
        "list fewer security_group_ids, or raise it in quotas.security_groups_per_network_interface once AWS has",
    ),
    Quota(
        "organization_accounts",
        "Number of accounts in an organization",
        10,
        True,
        None,
        Measure.COUNT,
        "AWS organization",
        *ORGANIZATIONS_QUOTAS,
        "ask AWS to raise the organization's account quota, then set quotas.organization_accounts",
    ),
    Quota(
        "organization_ous",
        "Number of OUs in an organization",
        1000,
        False,
        None,
        Measure.COUNT,
        "AWS organization",
        *ORGANIZATIONS_QUOTAS,
        "declare fewer organizational units",
    ),
    Quota(
        "ou_nesting_depth",
        "OU maximum nesting in a root (levels of OUs under the root)",
        5,
        False,
        None,
        Measure.COUNT,
        "OU tree under the organization root",
        *ORGANIZATIONS_QUOTAS,
        "nest the OU closer to the root",
    ),
    Quota(
        "scps_per_target",
        "Maximum number of SCPs attached to a root, OU or account (FullAWSAccess included)",
        5,
        False,
        None,
        Measure.COUNT,
        "organization root, OU or account",
        *ORGANIZATIONS_QUOTAS,
        "attach fewer guardrails to the target",
    ),
    Quota(
        "lf_tags_per_account",
        "Maximum number of LF-tags that can be created",
        1000,
        True,
        None,
        Measure.COUNT,
        "LF-tags of the data account",
        *LAKE_FORMATION_TAGS,
        "declare fewer data.lf_tags, or raise it in quotas.lf_tags_per_account once AWS has",
    ),
    Quota(
        "lf_tag_values",
        "Maximum number of values that can be defined for an LF-tag",
        1000,
        True,
        None,
        Measure.COUNT,
        "LF-tag",
        *LAKE_FORMATION_TAGS,
        "list fewer values, or raise it in quotas.lf_tag_values once AWS has",
    ),
    Quota(
        "lf_tags_per_resource",
        "Maximum number of LF-tags that can be assigned to a Data Catalog resource",
        50,
        False,
        None,
        Measure.COUNT,
        "Glue database or table",
        *LAKE_FORMATION_TAGS,
        "assign fewer LF-tags to the database or table",
    ),
    # Grants to principals of the data account itself are not limited (same page); a grant to
    # another account by the named resource method (a database, table or columns, not an LF-tag
    # expression) is, and AWS raises it through RAM's resource shares quota.
    Quota(
        "lf_cross_account_grants",
        "Maximum number of cross-account grants an account can make with the named resource method",
        1600,
        True,
        None,
        Measure.COUNT,
        "Lake Formation grants of the data account to other accounts",
        *LAKE_FORMATION_CROSS_ACCOUNT,
        "grant whole databases or LF-tag expressions instead of single tables, or raise it in "
        "quotas.lf_cross_account_grants once AWS has (RAM's resource shares quota)",
    ),
    Quota(
        "tags_per_resource",
        "Maximum tags per resource (user-created; the aws: prefix is reserved and not counted)",
        50,
        False,
        None,
        Measure.COUNT,
        "AWS resource of an account's stack (its default tags and its own)",
        *TAGGING,
        "put fewer tags on the organization or the team (organization.tags, teams.<team>.tags)",
    ),
    # -- measured on documents ---------------------------------------------------------------
    Quota(
        "scp_chars",
        "Maximum size of a service control policy document",
        5120,
        False,
        None,
        Measure.CHARS,
        "service control policy",
        *ORGANIZATIONS_QUOTAS,
        "list fewer names or actions, or split the SCP",
    ),
    Quota(
        "iam_managed_policy_chars",
        "Managed policy length",
        6144,
        False,
        None,
        Measure.IAM_CHARS,
        "IAM managed policy",
        *IAM_QUOTAS,
        "split the policy, or scope it by a pattern or condition instead of listing names",
    ),
    Quota(
        "iam_role_inline_policies_chars",
        "Role policy length (all inline policies of a role together)",
        10240,
        False,
        None,
        Measure.IAM_CHARS,
        "IAM role (its inline policies together)",
        *IAM_QUOTAS,
        "scope the statements by a pattern or condition instead of one per team or model",
    ),
    Quota(
        "iam_role_trust_policy_chars",
        "Role trust policy length",
        2048,
        True,
        4096,
        Measure.IAM_CHARS,
        "IAM role trust policy",
        *IAM_QUOTAS,
        "trust fewer principals, or raise it in quotas.iam_role_trust_policy_chars once AWS has",
    ),
    Quota(
        "s3_bucket_policy_bytes",
        "Bucket policy size (20 KB)",
        20 * 1024,
        False,
        None,
        Measure.BYTES,
        "S3 bucket policy",
        "Bucket policies for Amazon S3",
        "https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-policies.html",
        "scope the statements by an organization, account or prefix condition instead of one per team",
    ),
    Quota(
        "kms_key_policy_bytes",
        "Key policy document size (32 KB)",
        32 * 1024,
        False,
        None,
        Measure.BYTES,
        "KMS key policy",
        "Key policies in AWS KMS",
        "https://docs.aws.amazon.com/kms/latest/developerguide/key-policies.html",
        "scope the statements by an account or organization condition instead of one per team",
    ),
    # "Event bus policy size": adjustable in the page's table (Service Quotas raises it).
    Quota(
        "event_bus_policy_chars",
        "Event bus resource-based policy size",
        10240,
        True,
        None,
        Measure.CHARS,
        "EventBridge event bus policy",
        *EVENTBRIDGE_QUOTAS,
        "allow the senders by an organization condition instead of one statement per account, or raise it in "
        "quotas.event_bus_policy_chars once AWS has",
    ),
    Quota(
        "event_pattern_chars",
        "Event pattern size",
        2048,
        True,
        4096,
        Measure.CHARS,
        "EventBridge event pattern of a rule",
        *EVENTBRIDGE_QUOTAS,
        "give the team fewer model package groups (its dev account's forwarding rule lists them), or raise it in "
        "quotas.event_pattern_chars once AWS has",
    ),
    Quota(
        "sns_topic_policy_bytes",
        "Topic policy size (30 KB)",
        30 * 1024,
        False,
        None,
        Measure.BYTES,
        "SNS topic policy",
        "Amazon SNS API permissions: Actions and resources reference (Policy quotas)",
        "https://docs.aws.amazon.com/sns/latest/dg/sns-access-policy-language-api-permissions-reference.html",
        "allow fewer principals on the topic",
    ),
    Quota(
        "sqs_queue_policy_bytes",
        "Queue policy size",
        8192,
        False,
        None,
        Measure.BYTES,
        "SQS queue policy",
        "Amazon SQS policy quotas",
        "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-policies.html",
        "allow fewer senders on the queue",
    ),
    # Every value of a pipeline action's configuration map (ActionDeclaration "configuration":
    # value length 1 to 1,000); the CloudFormation action's ParameterOverrides "has a maximum size
    # of 1 kilobyte" (User Guide, CloudFormation deploy action reference), hence the template
    # configuration file of mlgov.platform.deploy.
    Quota(
        "codepipeline_action_configuration_value_chars",
        "Action configuration value length (ActionConfigurationValue)",
        1000,
        False,
        None,
        Measure.CHARS,
        "CodePipeline action configuration value",
        "ActionDeclaration (AWS CodePipeline API Reference)",
        "https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_ActionDeclaration.html",
        "give the team fewer stages, or shorter stage names: the prod approval's summary names every stage "
        "whose endpoint tests the pin passed",
    ),
    Quota(
        "lambda_resource_policy_bytes",
        "Function resource-based policy size (20 KB)",
        20 * 1024,
        False,
        None,
        Measure.BYTES,
        "Lambda function resource-based policy",
        "Lambda quotas",
        "https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html",
        "allow the callers by an organization or account condition instead of one permission each",
    ),
)

QUOTAS: dict[str, Quota] = {q.key: q for q in _TABLE}
COUNT_QUOTAS = tuple(q.key for q in _TABLE if q.measure is Measure.COUNT)
SIZE_QUOTAS = tuple(q.key for q in _TABLE if q.measure is not Measure.COUNT)

# The spec's `quotas:` fields are exactly the adjustable quotas and its HARD_QUOTAS exactly the
# hard ones: tests/test_quotas.py holds the two sides together.


def limit(spec: OrgSpec, key: str) -> int:
    """The quota in force for this spec: a raise the spec names, else AWS's default."""
    raised = spec.quotas.raised().get(key)
    return raised if raised is not None else QUOTAS[key].limit


_WHITESPACE = re.compile(r"\s+")


def measure(quota: Quota, text: str) -> int:
    """The size AWS holds ``text`` to under ``quota``.

    IAM leaves whitespace out of its count; mlgov takes that as formatting whitespace
    (between JSON tokens) and counts what is inside strings, by re-serializing compactly.
    """
    if quota.measure is Measure.IAM_CHARS:
        try:
            return len(json.dumps(json.loads(text), separators=(",", ":"), ensure_ascii=False))
        except ValueError:  # not JSON: the safest reading of "no whitespace"
            return len(_WHITESPACE.sub("", text))
    if quota.measure is Measure.BYTES:
        return len(text.encode("utf-8"))
    return len(text)
