"""Promotion function: copy a model approved in a team's dev registry into the hub's registry.

Runs in the hub as AWS Lambda (Python 3.12, boto3 from the runtime), invoked by the central
bus rule with a "SageMaker Model Package State Change" event forwarded from a dev account.
For an approved source package it:

1. validates the event and the source package completely before writing anything
   (invalid or unexpected input is logged and rejected, never half-applied), including that
   every container image comes from a registry the team's stage accounts may pull from: AWS's
   SageMaker registries in the hub's region or the team's own repository in the hub; and that
   every artifact is an object of the source team's OWN dev bucket (owned by the source
   account), with a key of S3's safe characters, whose S3 version is the one the build
   recorded on the package at registration (``mlgov:version:<field path>``) and is still the
   object's current version: an artifact overwritten after registration is refused;
2. creates the central group ``<source group>-<source account>`` if missing and lets the
   team's stage accounts describe its packages (they deploy from it);
3. copies exactly the recorded version of every ``s3://`` artifact into the hub bucket with a
   managed copy, which switches to multipart ``UploadPartCopy`` above the threshold, so
   artifacts over 5 GB work; including the drift-check baselines (statistics and constraints
   the monitors compare against), so the central package's ``DriftCheckBaselines`` point into
   the hub;
4. checks once more that the source package is still Approved, then registers one central
   package (PendingManualApproval) carrying the source ARN and the hub copies' versions in its
   metadata, and creates or updates its model card.

Idempotent: the central package is looked up by the source ARN before anything is copied, so
a duplicate delivery changes nothing but the card, and events arriving out of order each map
to their own source package. A stale approval (the package was rejected since) is rejected.

This file is packaged as-is into the function's zip by :mod:`mlgov.platform.governance`; it
must import nothing from mlgov.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
import logging
import os
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

LOG = logging.getLogger("mlgov.promotion")
LOG.setLevel(logging.INFO)

SOURCE_ARN_KEY = "mlgov:source-model-package-arn"
SOURCE = "aws.sagemaker"
DETAIL_TYPE = "SageMaker Model Package State Change"
APPROVED = "Approved"
PENDING = "PendingManualApproval"
PACKAGE_ARN = re.compile(
    r"^arn:aws[a-z-]*:sagemaker:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):model-package/"
    r"(?P<group>[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62})/(?P<version>\d+)$"
)
IMAGE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/"
    r"(?P<repository>[a-z0-9][a-z0-9._/-]*)(?P<reference>[:@][\w.:-]+)$"
)
S3_URL = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(?P<key>.+)$")
# Keys of S3's "safe characters" (Amazon S3 User Guide, "Naming Amazon S3 objects": letters,
# digits and ! - _ . * ' ( ), with / as the delimiter); no empty or relative path segment.
# Anything else in a key a data scientist chose (quotes, spaces, commas, braces) is refused
# before it can reach a registry entry, a log line or the pipeline's selected.json.
SAFE_KEY = re.compile(r"^(?!/)(?!.*//)(?!(.*/)?\.\.?(/|$))[A-Za-z0-9!_.*'()/-]{1,1024}$")
# Metadata key of the S3 version an artifact field had at registration: the build records
# ``mlgov:version:<field path>`` (e.g. ``...:InferenceSpecification.Containers.0.ModelDataUrl``);
# promotion copies exactly that version and records the hub copy's under the same key.
VERSION_KEY = "mlgov:version:"
# Source fields whose s3:// URLs point at artifacts the central package must own.
ARTIFACT_FIELDS = ("InferenceSpecification", "ModelMetrics", "DriftCheckBaselines")
# Copied as-is from the source package when present.
COPIED_FIELDS = ("ModelPackageDescription", "Domain", "Task", "SamplePayloadUrl", "MetadataProperties")
MULTIPART_THRESHOLD = 256 * 1024 * 1024
MAX_NAME = 63


class Rejected(Exception):
    """The event or its source package is not something to promote; nothing was written."""


@dataclass(frozen=True)
class Source:
    """Where approvals may come from: one entry per dev account."""

    team: str
    groups: dict[str, str]  # source group -> central group
    deploy_accounts: tuple[str, ...]
    images: Images | None = None  # None: no image is acceptable (fail closed)
    buckets: tuple[str, ...] = ()  # the team's own dev buckets; empty: no artifact is acceptable


@dataclass(frozen=True)
class Images:
    """Registries a team's packages may take images from."""

    aws_accounts: tuple[str, ...]  # AWS's SageMaker registries in ``region``
    region: str  # the hub's region (where the stage accounts run the endpoints)
    repository: str  # "<hub>.dkr.ecr.<region>.amazonaws.com/<team repository>"

    def problem(self, image: str) -> str | None:
        """Why a stage account could not pull ``image``, or None."""
        match = IMAGE.match(image)
        if not match:
            return f"image {image!r} is not an ECR image URI with a tag or digest"
        if match["region"] != self.region:
            return f"image {image!r} is in region {match['region']} (expected {self.region})"
        host_repo = f"{match['account']}.dkr.ecr.{match['region']}.amazonaws.com/{match['repository']}"
        if match["account"] in self.aws_accounts or host_repo == self.repository:
            return None
        return (
            f"image {image!r} is neither from an AWS SageMaker registry nor from the team's repository "
            f"{self.repository}"
        )


@dataclass(frozen=True)
class Config:
    """The function's settings, from its environment (written by mlgov from the spec)."""

    artifact_bucket: str
    kms_key_arn: str
    sources: dict[str, Source]

    @classmethod
    def from_env(cls, env: dict[str, str], sources_file: Path | None = None) -> Config:
        """Settings from the environment; the sources mapping from ``SOURCES`` when set, else from
        the ``sources.json`` mlgov ships beside this module (it grows with the teams, and Lambda
        allows 4 KB of environment variables in all)."""
        if "SOURCES" in env:
            raw = json.loads(env["SOURCES"])
        else:
            raw = json.loads((sources_file or Path(__file__).with_name("sources.json")).read_text())
        sources = {
            account: Source(
                team=s["team"],
                groups=dict(s["groups"]),
                deploy_accounts=tuple(s["deploy_accounts"]),
                images=Images(
                    aws_accounts=tuple(s["images"]["aws_accounts"]),
                    region=s["images"]["region"],
                    repository=s["images"]["repository"],
                )
                if s.get("images")
                else None,
                buckets=tuple(s.get("buckets", ())),
            )
            for account, s in raw.items()
        }
        return cls(artifact_bucket=env["ARTIFACT_BUCKET"], kms_key_arn=env["ARTIFACT_KMS_KEY_ARN"], sources=sources)


@dataclass
class Clients:
    """The AWS clients the function uses; tests pass moto-backed ones."""

    sagemaker: Any
    s3: Any
    transfer_config: Any = None

    @classmethod
    def default(cls) -> Clients:
        import boto3
        from boto3.s3.transfer import TransferConfig

        return cls(
            sagemaker=boto3.client("sagemaker"),
            s3=boto3.client("s3"),
            transfer_config=TransferConfig(
                multipart_threshold=MULTIPART_THRESHOLD, multipart_chunksize=MULTIPART_THRESHOLD
            ),
        )


@dataclass(frozen=True)
class Approval:
    """A validated approval event."""

    arn: str
    account: str
    group: str
    version: int
    source: Source
    central_group: str


@dataclass
class Plan:
    """Everything promotion will write, computed before the first write."""

    approval: Approval
    package: dict[str, Any]
    copies: dict[str, str] = field(default_factory=dict)  # source URL -> hub URL
    versions: dict[str, str] = field(default_factory=dict)  # source URL -> S3 version to copy
    fields: dict[str, str] = field(default_factory=dict)  # field path -> source URL
    hub_versions: dict[str, str] = field(default_factory=dict)  # field path -> hub copy's version


def handler(event: dict, context: Any) -> dict:
    """Lambda entry point. Rejections return normally (no retry); AWS errors raise (retry, then DLQ)."""
    return promote(event, Config.from_env(dict(os.environ)), Clients.default())


def promote(event: Any, config: Config, clients: Clients) -> dict:
    """Promote the package an approval event names; see the module docstring."""
    try:
        approval = parse_event(event, config)
        plan = plan_promotion(approval, config, clients)
    except Rejected as exc:
        _log("rejected", reason=str(exc), event_id=event.get("id") if isinstance(event, dict) else None)
        return {"status": "rejected", "reason": str(exc)}
    group_arn = ensure_central_group(plan, config, clients)
    existing = find_central_package(approval.central_group, approval.arn, clients)
    if existing:
        status, arn = "already-promoted", existing
    else:
        copy_artifacts(plan, config, clients)
        try:
            still_approved(approval, clients)
        except Rejected as exc:
            # The copies stay under the central prefix, unreferenced; nothing is registered.
            _log("rejected", reason=str(exc), event_id=event.get("id"))
            return {"status": "rejected", "reason": str(exc)}
        arn = register(plan, clients)
        status = "promoted"
    card = upsert_model_card(plan, arn, clients)
    _log(status, source=approval.arn, central=arn, group=group_arn, model_card=card)
    return {"status": status, "central_model_package_arn": arn, "model_card": card}


def parse_event(event: Any, config: Config) -> Approval:
    """Check the event is an approval from a known team's group; raise Rejected otherwise."""
    if not isinstance(event, dict):
        raise Rejected(f"event is not an object (got {type(event).__name__})")
    if event.get("source") != SOURCE or event.get("detail-type") != DETAIL_TYPE:
        raise Rejected(f"unexpected event (source {event.get('source')!r}, detail-type {event.get('detail-type')!r})")
    detail = event.get("detail")
    if not isinstance(detail, dict):
        raise Rejected("event has no detail object")
    arn = detail.get("ModelPackageArn")
    if not isinstance(arn, str) or not (match := PACKAGE_ARN.match(arn)):
        raise Rejected(f"detail.ModelPackageArn missing or not a versioned model package ARN (got {arn!r})")
    if detail.get("ModelApprovalStatus") != APPROVED:
        raise Rejected(f"event is not an approval (got status {detail.get('ModelApprovalStatus')!r})")
    account = match["account"]
    if event.get("account") != account:
        raise Rejected(f"event account {event.get('account')!r} does not own {arn}")
    source = config.sources.get(account)
    if source is None:
        raise Rejected(f"account {account} is not a team dev account")
    central = source.groups.get(match["group"])
    if central is None:
        raise Rejected(f"group {match['group']!r} is not a governed group of team {source.team!r}")
    return Approval(arn, account, match["group"], int(match["version"]), source, central)


def plan_promotion(approval: Approval, config: Config, clients: Clients) -> Plan:
    """Describe the source package and check every artifact, still without writing."""
    from botocore.exceptions import ClientError

    try:
        package = clients.sagemaker.describe_model_package(ModelPackageName=approval.arn)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        message = exc.response.get("Error", {}).get("Message", "")
        if code in ("ValidationException", "ResourceNotFound") and "not found" in message.lower():
            raise Rejected(f"source model package not found: {approval.arn}") from None
        raise
    status = package.get("ModelApprovalStatus")
    if status != APPROVED:
        # Events can arrive late: the package may have been rejected after this approval.
        raise Rejected(f"source model package is no longer approved (now {status!r}): {approval.arn}")
    containers = (package.get("InferenceSpecification") or {}).get("Containers") or []
    if not containers or not all(isinstance(c, dict) and c.get("Image") for c in containers):
        raise Rejected(f"source model package has no InferenceSpecification.Containers with an Image: {approval.arn}")
    rules = approval.source.images
    for container in containers:
        why = "team has no image rules" if rules is None else rules.problem(container["Image"])
        if why:
            # The stage accounts could not pull it: promoting it would only fail at deploy time.
            raise Rejected(f"{why}: {approval.arn}")
    plan = Plan(approval, package)
    # The team's label first: the stage roles read ``<their team tag>/*`` of the bucket.
    central_prefix = f"{approval.source.team}/{approval.central_group}/v{approval.version}"
    recorded = package.get("CustomerMetadataProperties") or {}
    urls = {path: url for f in ARTIFACT_FIELDS for path, url in _s3_fields(package.get(f), f)}
    for path, url in sorted(urls.items()):
        match = S3_URL.match(url)
        if not match or match["key"].endswith("/"):
            raise Rejected(f"artifact is not an S3 object URL (got {url!r})")
        if match["bucket"] not in approval.source.buckets:
            own = ", ".join(approval.source.buckets) or "none"
            raise Rejected(f"artifact {url} is not in team {approval.source.team}'s own dev bucket ({own})")
        if not SAFE_KEY.match(match["key"]):
            raise Rejected(f"artifact key {match['key']!r} has characters outside S3's safe set: {approval.arn}")
        version = recorded.get(VERSION_KEY + path)
        if not version:
            raise Rejected(f"artifact {url} has no S3 version recorded at registration ({VERSION_KEY}{path})")
        if url in plan.versions and plan.versions[url] != version:
            raise Rejected(f"artifact {url} is recorded with two versions")
        current = _current_version(clients, approval.account, match["bucket"], match["key"], url)
        if current != version:
            raise Rejected(f"artifact {url} changed after registration (registered version {version}, now {current})")
        digest = hashlib.sha256(url.encode()).hexdigest()[:16]
        name = match["key"].rsplit("/", 1)[-1]
        plan.copies[url] = f"s3://{config.artifact_bucket}/{central_prefix}/{digest}/{name}"
        plan.versions[url] = version
        plan.fields[path] = url
    return plan


def _current_version(clients: Clients, account: str, bucket: str, key: str, url: str) -> str | None:
    """The object's current S3 version, read from a bucket the source account owns."""
    from botocore.exceptions import ClientError

    try:
        head = clients.s3.head_object(Bucket=bucket, Key=key, ExpectedBucketOwner=account)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            raise Rejected(f"artifact not found: {url}") from None
        raise
    return head.get("VersionId")


def still_approved(approval: Approval, clients: Clients) -> None:
    """Raise Rejected unless the source package is Approved now (it may have been rejected
    while its artifacts were being copied)."""
    status = clients.sagemaker.describe_model_package(ModelPackageName=approval.arn).get("ModelApprovalStatus")
    if status != APPROVED:
        raise Rejected(f"source model package is no longer approved (now {status!r}): {approval.arn}")


def ensure_central_group(plan: Plan, config: Config, clients: Clients) -> str:
    """Create the central group if missing and let the stage accounts read its packages."""
    from botocore.exceptions import ClientError

    approval = plan.approval
    sm = clients.sagemaker
    try:
        arn = sm.describe_model_package_group(ModelPackageGroupName=approval.central_group)["ModelPackageGroupArn"]
    except ClientError:
        try:
            arn = sm.create_model_package_group(
                ModelPackageGroupName=approval.central_group,
                ModelPackageGroupDescription=f"Models of team {approval.source.team} promoted from {approval.account}/{approval.group}",
                Tags=[
                    {"Key": "mlgov:team", "Value": approval.source.team},
                    {"Key": "mlgov:source-account", "Value": approval.account},
                ],
            )["ModelPackageGroupArn"]
        except ClientError:  # a concurrent delivery created it first
            arn = sm.describe_model_package_group(ModelPackageGroupName=approval.central_group)["ModelPackageGroupArn"]
    packages = arn.replace(":model-package-group/", ":model-package/") + "/*"
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "StageAccountsDeployFromRegistry",
                "Effect": "Allow",
                "Principal": {"AWS": sorted(f"arn:aws:iam::{a}:root" for a in approval.source.deploy_accounts)},
                "Action": ["sagemaker:DescribeModelPackage"],
                "Resource": packages,
            }
        ],
    }
    if approval.source.deploy_accounts:
        sm.put_model_package_group_policy(
            ModelPackageGroupName=approval.central_group, ResourcePolicy=json.dumps(policy, sort_keys=True)
        )
    return arn


def find_central_package(central_group: str, source_arn: str, clients: Clients) -> str | None:
    """ARN of the central package promoted from ``source_arn``, if there is one."""
    sm = clients.sagemaker
    kwargs: dict[str, Any] = {"ModelPackageGroupName": central_group, "MaxResults": 100}
    while True:
        page = sm.list_model_packages(**kwargs)
        for summary in page.get("ModelPackageSummaryList", []):
            described = sm.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
            if (described.get("CustomerMetadataProperties") or {}).get(SOURCE_ARN_KEY) == source_arn:
                return summary["ModelPackageArn"]
        if not page.get("NextToken"):
            return None
        kwargs["NextToken"] = page["NextToken"]


def copy_artifacts(plan: Plan, config: Config, clients: Clients) -> None:
    """Managed copy of every artifact into the hub bucket, encrypted with the hub key."""
    for url in sorted(plan.copies):
        src = S3_URL.match(url)
        assert src is not None  # checked by plan_promotion
        key = plan.copies[url].split("/", 3)[3]
        clients.s3.copy(
            {"Bucket": src["bucket"], "Key": src["key"], "VersionId": plan.versions[url]},
            config.artifact_bucket,
            key,
            ExtraArgs={"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": config.kms_key_arn},
            Config=clients.transfer_config,
        )
        version = clients.s3.head_object(Bucket=config.artifact_bucket, Key=key).get("VersionId")
        for path, source_url in plan.fields.items():
            if source_url == url and version:
                plan.hub_versions[path] = version


def register(plan: Plan, clients: Clients) -> str:
    """Create the central package pointing at the hub copies."""
    approval, package = plan.approval, plan.package
    rewrite = _rewriter(plan.copies)
    metadata = {k: v for k, v in (package.get("CustomerMetadataProperties") or {}).items() if not k.startswith(VERSION_KEY)}
    metadata.update(
        {SOURCE_ARN_KEY: approval.arn, "mlgov:source-account": approval.account, "mlgov:team": approval.source.team}
    )
    # The versions of the hub copies replace the dev versions, field by field.
    metadata.update({VERSION_KEY + path: version for path, version in plan.hub_versions.items()})
    request: dict[str, Any] = {
        "ModelPackageGroupName": approval.central_group,
        "ModelApprovalStatus": PENDING,
        "CustomerMetadataProperties": metadata,
        # Same token for the same source package: AWS answers a concurrent duplicate with
        # the first package instead of registering a second one.
        "ClientToken": str(uuid.uuid5(uuid.NAMESPACE_URL, approval.arn)),
    }
    for name in ARTIFACT_FIELDS:
        if package.get(name):
            request[name] = rewrite(package[name])
    for name in COPIED_FIELDS:
        if package.get(name):
            request[name] = package[name]
    return clients.sagemaker.create_model_package(**request)["ModelPackageArn"]


def model_card_name(central_group: str) -> str:
    """Card name of a model: one card per central group (the model), updated with each version.

    Group names are SageMaker names (at most 63 characters), so the group name fits as it is."""
    return central_group[:MAX_NAME]


def model_card_content(plan: Plan, central_arn: str, previous: str | None = None) -> str:
    """Model card content (SageMaker model card JSON schema) describing the model's newest version.

    ``previous`` is the card's current content: the versions promoted before stay listed."""
    approval, package = plan.approval, plan.package
    versions = {str(approval.version)}
    if previous:
        try:
            before = json.loads(previous)
            details = before["additional_information"]["custom_details"]
            versions.update(v for v in details.get("promoted_versions", "").split(",") if v)
            if int(details["latest_version"]) > approval.version:
                # An older version arrived late (events are unordered): the card keeps the newest.
                details["promoted_versions"] = ",".join(sorted(versions, key=int))
                return json.dumps(before, sort_keys=True)
        except (ValueError, KeyError, TypeError, AttributeError):
            pass  # a card edited by hand: describe this version
    content = {
        "model_overview": {
            "model_description": package.get("ModelPackageDescription")
            or f"{approval.group} version {approval.version}",
            "model_owner": approval.source.team,
            "model_artifact": sorted(plan.copies.values()),
        },
        "additional_information": {
            "custom_details": {
                "source_model_package_arn": approval.arn,
                "central_model_package_arn": central_arn,
                "source_account": approval.account,
                "team": approval.source.team,
                "latest_version": str(approval.version),
                "promoted_versions": ",".join(sorted(versions, key=int)),
            }
        },
    }
    return json.dumps(content, sort_keys=True)


def upsert_model_card(plan: Plan, central_arn: str, clients: Clients) -> str:
    """Create the model's card on its first promotion; later versions update the same card."""
    from botocore.exceptions import ClientError

    name = model_card_name(plan.approval.central_group)
    sm = clients.sagemaker
    try:
        current = sm.describe_model_card(ModelCardName=name)
    except ClientError:
        current = None
    if current is None:
        content = model_card_content(plan, central_arn)
        sm.create_model_card(
            ModelCardName=name,
            Content=content,
            ModelCardStatus="Draft",
            Tags=[{"Key": "mlgov:team", "Value": plan.approval.source.team}],
        )
        return name
    content = model_card_content(plan, central_arn, current.get("Content"))
    if current.get("Content") != content:
        sm.update_model_card(ModelCardName=name, Content=content)
    return name


def _s3_fields(value: Any, path: str):
    """(field path, URL) of every ``s3://`` string in ``value``; list items by index."""
    if isinstance(value, str):
        if value.startswith("s3://"):
            yield path, value
    elif isinstance(value, dict):
        for name, item in value.items():
            yield from _s3_fields(item, f"{path}.{name}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _s3_fields(item, f"{path}.{index}")


def _rewriter(copies: dict[str, str]) -> Callable[[Any], Any]:
    def rewrite(value: Any) -> Any:
        if isinstance(value, str):
            return copies.get(value, value)
        if isinstance(value, dict):
            return {k: rewrite(v) for k, v in value.items()}
        if isinstance(value, list):
            return [rewrite(v) for v in value]
        return value

    return rewrite


def _log(outcome: str, **fields: Any) -> None:
    LOG.info(json.dumps({"outcome": outcome, **fields}, sort_keys=True, default=str))
