"""The promotion function's code against moto (SageMaker registry + model cards, S3, KMS).

moto 5.2.5 implements model package groups/packages, model cards, S3 multipart copies and KMS.
It does NOT implement ``PutModelPackageGroupPolicy``: that one call is recorded by a thin
wrapper (:class:`PolicyRecorder`) and asserted on; every other call goes to moto.
Everything runs in one moto account, which plays both the dev account and the hub.
"""

from __future__ import annotations

import io
import json
import sys
import zipfile

import boto3
import pytest
from boto3.s3.transfer import TransferConfig
from moto import mock_aws

from mlgov.functions import promotion
from mlgov.functions.promotion import Clients, Config, Images, Source

REGION = "eu-west-1"
ACCOUNT = "123456789012"  # moto's default account
DEV_BUCKET = "nwa-models-dev"
OTHER_TEAM_BUCKET = "nwa-models-dev-churn"  # another team's dev bucket the hub role can also read
HUB_BUCKET = "nwa-model-artifacts-hub"
GROUP = "nwa-fraud-card-scoring"
CENTRAL = f"{GROUP}-{ACCOUNT}"
MB = 1024 * 1024
AWS_XGBOOST = "141502667606.dkr.ecr.eu-west-1.amazonaws.com/xgboost:1.7-1"
TEAM_REPOSITORY = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/nwa/fraud"
IMAGES = Images(aws_accounts=("141502667606", "763104351884"), region=REGION, repository=TEAM_REPOSITORY)


class PolicyRecorder:
    """The moto SageMaker client, except PutModelPackageGroupPolicy (absent from moto) is recorded."""

    def __init__(self, client):
        self._client = client
        self.policies: dict[str, dict] = {}

    def put_model_package_group_policy(self, ModelPackageGroupName, ResourcePolicy):
        self.policies[ModelPackageGroupName] = json.loads(ResourcePolicy)
        return {
            "ModelPackageGroupArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package-group/{ModelPackageGroupName}"
        }

    def __getattr__(self, name):
        return getattr(self._client, name)


@pytest.fixture
def aws(monkeypatch):
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        sm = boto3.client("sagemaker", region_name=REGION)
        s3 = boto3.client("s3", region_name=REGION)
        kms = boto3.client("kms", region_name=REGION)
        for bucket in (DEV_BUCKET, HUB_BUCKET, OTHER_TEAM_BUCKET):
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        key_arn = kms.create_key(Description="hub model artifacts")["KeyMetadata"]["Arn"]
        sm.create_model_package_group(ModelPackageGroupName=GROUP)
        config = Config(
            artifact_bucket=HUB_BUCKET,
            kms_key_arn=key_arn,
            sources={
                ACCOUNT: Source(
                    team="fraud",
                    groups={GROUP: CENTRAL},
                    deploy_accounts=("440000000005", "550000000006"),
                    images=IMAGES,
                    buckets=(DEV_BUCKET,),
                )
            },
        )
        clients = Clients(sagemaker=PolicyRecorder(sm), s3=s3, transfer_config=TransferConfig())
        yield sm, s3, config, clients


MODEL_FIELD = "InferenceSpecification.Containers.0.ModelDataUrl"


def register_source(
    sm,
    s3,
    *,
    status="Approved",
    size=1024,
    metrics=True,
    name="model.tar.gz",
    image=AWS_XGBOOST,
    baselines=False,
    bucket=DEV_BUCKET,
    record=True,
):
    """A source package in the dev group with a model artifact (and a metrics report, and the
    data-quality drift baselines the build pipeline registers: SEAMS.md item 2), registered as
    the build registers it: with the S3 version of every artifact (``record``)."""
    run = name.split(".")[0]  # each build run writes under its own prefix
    versions = {
        MODEL_FIELD: s3.put_object(Bucket=bucket, Key=f"train/{name}", Body=b"m" * size)["VersionId"],
        "ModelMetrics.ModelQuality.Statistics.S3Uri": s3.put_object(
            Bucket=DEV_BUCKET, Key=f"runs/{run}/metrics.json", Body=b'{"auc": 0.93}'
        )["VersionId"],
    }
    request = {
        "ModelPackageGroupName": GROUP,
        "ModelPackageDescription": "Gradient-boosted card-fraud scorer",
        "InferenceSpecification": {
            "Containers": [
                {
                    "Image": image,
                    "ModelDataUrl": f"s3://{bucket}/train/{name}",
                }
            ],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        "ModelApprovalStatus": status,
        "CustomerMetadataProperties": {"trained-by": "pipeline-42"},
    }
    if metrics:
        request["ModelMetrics"] = {
            "ModelQuality": {
                "Statistics": {"ContentType": "application/json", "S3Uri": f"s3://{DEV_BUCKET}/runs/{run}/metrics.json"}
            }
        }
    if baselines:
        for kind in ("statistics", "constraints"):
            put = s3.put_object(Bucket=DEV_BUCKET, Key=f"runs/{run}/baseline/{kind}.json", Body=b"{}")
            versions[f"DriftCheckBaselines.ModelDataQuality.{kind.title()}.S3Uri"] = put["VersionId"]
        request["DriftCheckBaselines"] = {
            "ModelDataQuality": {
                kind.title(): {
                    "ContentType": "application/json",
                    "S3Uri": f"s3://{DEV_BUCKET}/runs/{run}/baseline/{kind}.json",
                }
                for kind in ("statistics", "constraints")
            }
        }
    if record:
        request["CustomerMetadataProperties"].update({promotion.VERSION_KEY + f: v for f, v in versions.items()})
    return sm.create_model_package(**request)["ModelPackageArn"]


def approval_event(arn, event_id="e-1", status="Approved"):
    return {
        "id": event_id,
        "source": "aws.sagemaker",
        "detail-type": "SageMaker Model Package State Change",
        "account": ACCOUNT,
        "region": REGION,
        "detail": {"ModelPackageArn": arn, "ModelApprovalStatus": status, "ModelPackageGroupName": GROUP},
    }


def central_packages(sm):
    try:
        summaries = sm.list_model_packages(ModelPackageGroupName=CENTRAL)["ModelPackageSummaryList"]
    except sm.exceptions.ClientError:
        return []
    return [sm.describe_model_package(ModelPackageName=s["ModelPackageArn"]) for s in summaries]


def hub_keys(s3):
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=HUB_BUCKET).get("Contents", []))


def assert_nothing_written(sm, s3, clients):
    assert central_packages(sm) == []
    assert [g["ModelPackageGroupName"] for g in sm.list_model_package_groups()["ModelPackageGroupSummaryList"]] == [
        GROUP
    ]
    assert hub_keys(s3) == []
    assert sm.list_model_cards()["ModelCardSummaries"] == []
    assert clients.sagemaker.policies == {}


def test_happy_path_registers_copies_and_writes_a_model_card(aws):
    sm, s3, config, clients = aws
    # GIVEN an approved package in the team's dev group WHEN its approval event arrives
    source = register_source(sm, s3)
    result = promotion.promote(approval_event(source), config, clients)
    # THEN one central package, pending manual approval, carrying the source ARN
    assert result["status"] == "promoted"
    (package,) = central_packages(sm)
    assert package["ModelPackageArn"] == result["central_model_package_arn"]
    assert package["ModelPackageGroupName"] == CENTRAL
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    meta = package["CustomerMetadataProperties"]
    assert (
        meta["mlgov:source-model-package-arn"] == source
        and meta["mlgov:team"] == "fraud"
        and meta["trained-by"] == "pipeline-42"
    )
    # AND every s3:// artifact now lives in the hub bucket, KMS-encrypted with the hub key
    model_url = package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
    report_url = package["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]
    # AND under the team's label first: the stage roles read only their own team tag's prefix
    assert model_url.startswith(f"s3://{HUB_BUCKET}/fraud/{CENTRAL}/v1/") and model_url.endswith("/model.tar.gz")
    assert report_url.startswith(f"s3://{HUB_BUCKET}/fraud/{CENTRAL}/v1/")
    assert hub_keys(s3) == sorted(u.split("/", 3)[3] for u in (model_url, report_url))
    head = s3.head_object(Bucket=HUB_BUCKET, Key=model_url.split("/", 3)[3])
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == config.kms_key_arn
    # AND a model card describes it
    card = sm.describe_model_card(ModelCardName=result["model_card"])
    content = json.loads(card["Content"])
    assert content["additional_information"]["custom_details"]["source_model_package_arn"] == source
    assert (
        content["additional_information"]["custom_details"]["central_model_package_arn"] == package["ModelPackageArn"]
    )
    assert content["model_overview"]["model_artifact"] == sorted([model_url, report_url])
    # AND the stage accounts may describe the central packages (recorded: moto lacks the API)
    statement = clients.sagemaker.policies[CENTRAL]["Statement"][0]
    assert statement["Principal"] == {"AWS": ["arn:aws:iam::440000000005:root", "arn:aws:iam::550000000006:root"]}
    assert statement["Action"] == ["sagemaker:DescribeModelPackage"]
    assert statement["Resource"] == f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/{CENTRAL}/*"


def test_duplicate_event_leaves_exactly_one_central_package(aws):
    sm, s3, config, clients = aws
    source = register_source(sm, s3)
    first = promotion.promote(approval_event(source, "e-1"), config, clients)
    keys = hub_keys(s3)
    versions = s3.list_object_versions(Bucket=HUB_BUCKET).get("Versions", [])
    # WHEN the same approval is delivered again (EventBridge delivers at least once)
    second = promotion.promote(approval_event(source, "e-1"), config, clients)
    # THEN nothing new is registered or copied, and the same card is kept
    assert second["status"] == "already-promoted"
    assert second["central_model_package_arn"] == first["central_model_package_arn"]
    assert len(central_packages(sm)) == 1
    assert hub_keys(s3) == keys and s3.list_object_versions(Bucket=HUB_BUCKET).get("Versions", []) == versions
    assert [c["ModelCardName"] for c in sm.list_model_cards()["ModelCardSummaries"]] == [first["model_card"]]


def test_out_of_order_events_map_one_to_one_and_stale_approvals_are_rejected(aws):
    sm, s3, config, clients = aws
    v1 = register_source(sm, s3, name="v1.tar.gz")
    v2 = register_source(sm, s3, name="v2.tar.gz")
    # WHEN version 2's approval arrives before version 1's, then version 1's again
    r2 = promotion.promote(approval_event(v2, "e-2"), config, clients)
    r1 = promotion.promote(approval_event(v1, "e-1"), config, clients)
    again = promotion.promote(approval_event(v1, "e-1b"), config, clients)
    # THEN each source package has exactly one central package
    sources = sorted(p["CustomerMetadataProperties"]["mlgov:source-model-package-arn"] for p in central_packages(sm))
    assert sources == sorted([v1, v2])
    assert again["central_model_package_arn"] == r1["central_model_package_arn"] != r2["central_model_package_arn"]
    # AND an approval that arrives after the package was rejected promotes nothing
    v3 = register_source(sm, s3, name="v3.tar.gz")
    sm.update_model_package(ModelPackageArn=v3, ModelApprovalStatus="Rejected")
    stale = promotion.promote(approval_event(v3, "e-3"), config, clients)
    assert stale["status"] == "rejected" and "no longer approved (now 'Rejected')" in stale["reason"]
    assert len(central_packages(sm)) == 2


@pytest.mark.parametrize(
    "mutate, reason",
    [
        (lambda e: e.pop("detail"), "event has no detail object"),
        (lambda e: e["detail"].pop("ModelPackageArn"), "detail.ModelPackageArn missing"),
        (
            lambda e: e["detail"].update(ModelPackageArn="arn:aws:sagemaker:eu-west-1:123456789012:model-package/x"),
            "not a versioned model package ARN",
        ),
        (lambda e: e["detail"].update(ModelApprovalStatus="Rejected"), "event is not an approval"),
        (lambda e: e.update({"detail-type": "Something Else"}), "unexpected event"),
        (lambda e: e.update(account="999999999999"), "does not own"),
    ],
)
def test_event_with_missing_or_wrong_metadata_is_rejected_without_writes(aws, mutate, reason):
    sm, s3, config, clients = aws
    event = approval_event(register_source(sm, s3))
    mutate(event)
    result = promotion.promote(event, config, clients)
    assert result["status"] == "rejected" and reason in result["reason"]
    assert_nothing_written(sm, s3, clients)


def test_unknown_account_or_group_and_missing_artifact_are_rejected_without_writes(aws):
    sm, s3, config, clients = aws
    source = register_source(sm, s3)
    other = Config(config.artifact_bucket, config.kms_key_arn, {"999999999999": config.sources[ACCOUNT]})
    assert "is not a team dev account" in promotion.promote(approval_event(source), other, clients)["reason"]
    s3.delete_object(Bucket=DEV_BUCKET, Key="runs/model/metrics.json")
    result = promotion.promote(approval_event(source), config, clients)
    assert result == {"status": "rejected", "reason": f"artifact not found: s3://{DEV_BUCKET}/runs/model/metrics.json"}
    assert_nothing_written(sm, s3, clients)


def test_artifact_over_the_single_request_limit_goes_through_multipart_copy(aws):
    sm, s3, config, clients = aws
    # GIVEN a threshold lowered to moto's minimum part size (the real function uses 256 MiB,
    # which keeps a 5 TB artifact under S3's 10,000 parts), and an 11 MiB artifact
    clients.transfer_config = TransferConfig(multipart_threshold=5 * MB, multipart_chunksize=5 * MB)
    source = register_source(sm, s3, size=11 * MB, metrics=False)
    result = promotion.promote(approval_event(source), config, clients)
    (package,) = central_packages(sm)
    key = package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"].split("/", 3)[3]
    head = s3.head_object(Bucket=HUB_BUCKET, Key=key)
    # THEN the copy was a three-part UploadPartCopy (a multipart ETag ends in -<parts>)
    assert result["status"] == "promoted"
    assert head["ETag"].strip('"').endswith("-3")
    assert head["ContentLength"] == 11 * MB and head["ServerSideEncryption"] == "aws:kms"
    assert s3.get_object(Bucket=HUB_BUCKET, Key=key)["Body"].read() == b"m" * (11 * MB)


def test_source_package_not_found_is_rejected_without_writes(aws):
    sm, s3, config, clients = aws
    register_source(sm, s3)
    missing = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/{GROUP}/99"
    result = promotion.promote(approval_event(missing), config, clients)
    assert result == {"status": "rejected", "reason": f"source model package not found: {missing}"}
    assert_nothing_written(sm, s3, clients)


def test_model_card_is_named_after_the_model_not_the_version():
    assert promotion.model_card_name("a" * 63) == "a" * 63
    assert promotion.model_card_name("nwa-fraud-models-330000000003") == "nwa-fraud-models-330000000003"


def test_each_version_updates_the_one_card_of_its_model(aws):
    sm, s3, config, clients = aws
    # GIVEN two versions of one model promoted one after the other
    v1 = register_source(sm, s3, name="v1.tar.gz")
    v2 = register_source(sm, s3, name="v2.tar.gz")
    first = promotion.promote(approval_event(v1, "e-1"), config, clients)
    second = promotion.promote(approval_event(v2, "e-2"), config, clients)
    # THEN there is one card, named after the central group, describing the newest version
    assert first["model_card"] == second["model_card"] == CENTRAL
    assert [c["ModelCardName"] for c in sm.list_model_cards()["ModelCardSummaries"]] == [CENTRAL]
    details = json.loads(sm.describe_model_card(ModelCardName=CENTRAL)["Content"])["additional_information"][
        "custom_details"
    ]
    assert details["central_model_package_arn"] == second["central_model_package_arn"]
    assert details["source_model_package_arn"] == v2
    assert details["latest_version"] == "2" and details["promoted_versions"] == "1,2"
    # AND the card's own version history records the update (moto keeps one entry per version)
    history = sm.list_model_card_versions(ModelCardName=CENTRAL)["ModelCardVersionSummaryList"]
    assert len(history) == 2


def test_config_reads_the_environment_mlgov_writes():
    config = Config.from_env(
        {
            "ARTIFACT_BUCKET": "b",
            "ARTIFACT_KMS_KEY_ARN": "k",
            "SOURCES": json.dumps(
                {
                    "330000000003": {
                        "team": "fraud",
                        "groups": {"g": "g-330000000003"},
                        "deploy_accounts": ["440000000005"],
                    }
                }
            ),
        }
    )
    assert config.sources["330000000003"] == Source("fraud", {"g": "g-330000000003"}, ("440000000005",))
    assert config.sources["330000000003"].buckets == ()  # no bucket written: every artifact is refused


def test_config_reads_the_image_rules_the_hub_stack_writes(default_spec, tree, tmp_path):
    # GIVEN the promotion function's environment as the synthesized hub stack sets it
    from mlgov.platform import images, naming

    hub = json.loads(tree[f"stacks/{default_spec.hub}/cdk.tf.json"])
    (function,) = hub["resource"]["aws_lambda_function"].values()
    with zipfile.ZipFile(io.BytesIO(tree[f"stacks/{default_spec.hub}/assets/promotion.zip"])) as package:
        sources = tmp_path / "sources.json"
        sources.write_bytes(package.read("sources.json"))
    config = Config.from_env(function["environment"]["variables"], sources)
    # THEN every team's source carries its own repository and AWS's registries of the hub region
    for team_name, team in default_spec.teams.items():
        source = config.sources[default_spec.accounts[team.dev_account].id]
        region = naming.hub_region(default_spec)
        assert source.images == Images(
            aws_accounts=tuple(images.aws_registry_accounts(region)),
            region=region,
            repository=naming.image_repository_uri(default_spec, team_name),
        )
        assert source.images.problem(f"{naming.image_repository_uri(default_spec, team_name)}:v1") is None
        assert source.images.problem(f"{images.model_monitor_image(region)}:latest") is None
        # AND the team's own dev models buckets, and no other team's
        assert source.buckets == tuple(
            sorted(
                naming.bucket_name(default_spec, team.dev_account, r, "models")
                for r in default_spec.account_regions(team.dev_account)
            )
        )
    all_buckets = [b for s in config.sources.values() for b in s.buckets]
    assert len(all_buckets) == len(set(all_buckets))


def test_lambda_handler_reads_its_environment_and_rejects_garbage(aws, monkeypatch):
    _sm, _s3, config, _clients = aws
    monkeypatch.setenv("ARTIFACT_BUCKET", HUB_BUCKET)
    monkeypatch.setenv("ARTIFACT_KMS_KEY_ARN", config.kms_key_arn)
    monkeypatch.setenv(
        "SOURCES", json.dumps({ACCOUNT: {"team": "fraud", "groups": {GROUP: CENTRAL}, "deploy_accounts": []}})
    )
    assert promotion.handler(["not", "an", "event"], None) == {
        "status": "rejected",
        "reason": "event is not an object (got list)",
    }


def test_team_image_from_the_hub_repository_is_promoted(aws):
    sm, s3, config, clients = aws
    # GIVEN a package whose container comes from the team's own repository in the hub
    source = register_source(sm, s3, image=f"{TEAM_REPOSITORY}@sha256:{'a' * 64}")
    # THEN it is promoted and the central package carries that image unchanged
    assert promotion.promote(approval_event(source), config, clients)["status"] == "promoted"
    (package,) = central_packages(sm)
    assert package["InferenceSpecification"]["Containers"][0]["Image"] == f"{TEAM_REPOSITORY}@sha256:{'a' * 64}"


@pytest.mark.parametrize(
    "image, reason",
    [
        ("999999999999.dkr.ecr.eu-west-1.amazonaws.com/xgboost:1.7-1", "neither from an AWS SageMaker registry"),
        (f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/nwa/churn:v1", "neither from an AWS SageMaker registry"),
        ("141502667606.dkr.ecr.us-east-1.amazonaws.com/xgboost:1.7-1", "is in region us-east-1"),
        ("docker.io/library/python:3.12", "is not an ECR image URI"),
        (f"{TEAM_REPOSITORY}", "is not an ECR image URI with a tag or digest"),
    ],
)
def test_image_the_stage_accounts_cannot_pull_is_rejected_without_writes(aws, caplog, image, reason):
    sm, s3, config, clients = aws
    # GIVEN a package with an image from another account, team, region or registry
    source = register_source(sm, s3, image=image)
    with caplog.at_level("INFO", logger="mlgov.promotion"):
        result = promotion.promote(approval_event(source), config, clients)
    # THEN it is rejected with a clear reason, logged, and nothing is written
    assert result["status"] == "rejected" and reason in result["reason"] and image in result["reason"]
    (record,) = [json.loads(r.getMessage()) for r in caplog.records]
    assert record["outcome"] == "rejected" and record["reason"] == result["reason"]
    assert_nothing_written(sm, s3, clients)


def test_team_without_image_rules_promotes_nothing(aws):
    sm, s3, config, clients = aws
    source = register_source(sm, s3)
    bare = Config(config.artifact_bucket, config.kms_key_arn, {ACCOUNT: Source("fraud", {GROUP: CENTRAL}, ())})
    assert "team has no image rules" in promotion.promote(approval_event(source), bare, clients)["reason"]
    assert_nothing_written(sm, s3, clients)


def test_drift_baselines_are_copied_into_the_hub_and_the_central_package_points_at_them(aws):
    sm, s3, config, clients = aws
    # GIVEN a package registered with data-quality drift baselines in the team's models bucket
    source = register_source(sm, s3, baselines=True)
    assert promotion.promote(approval_event(source), config, clients)["status"] == "promoted"
    (package,) = central_packages(sm)
    quality = package["DriftCheckBaselines"]["ModelDataQuality"]
    # THEN both baselines live in the hub bucket under the central group's prefix, KMS-encrypted
    for kind in ("Statistics", "Constraints"):
        url = quality[kind]["S3Uri"]
        assert url.startswith(f"s3://{HUB_BUCKET}/fraud/{CENTRAL}/v1/") and url.endswith(f"/{kind.lower()}.json"), url
        assert quality[kind]["ContentType"] == "application/json"
        head = s3.head_object(Bucket=HUB_BUCKET, Key=url.split("/", 3)[3])
        assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == config.kms_key_arn
    # AND nothing in the central package still points at the dev bucket
    assert DEV_BUCKET not in json.dumps(package, default=str)


def test_missing_drift_baseline_is_rejected_without_writes(aws):
    sm, s3, config, clients = aws
    source = register_source(sm, s3, baselines=True)
    s3.delete_object(Bucket=DEV_BUCKET, Key="runs/model/baseline/constraints.json")
    result = promotion.promote(approval_event(source), config, clients)
    assert result["reason"] == f"artifact not found: s3://{DEV_BUCKET}/runs/model/baseline/constraints.json"
    assert_nothing_written(sm, s3, clients)


def test_artifact_in_another_teams_dev_bucket_is_rejected_without_writes(aws):
    sm, s3, config, clients = aws
    # GIVEN a fraud package whose model lives in churn's dev bucket (the hub role may read both)
    source = register_source(sm, s3, bucket=OTHER_TEAM_BUCKET)
    result = promotion.promote(approval_event(source), config, clients)
    # THEN it is refused: promotion copies only from the source team's own dev bucket
    assert result["status"] == "rejected", result
    assert f"s3://{OTHER_TEAM_BUCKET}/train/model.tar.gz is not in team fraud's own dev bucket" in result["reason"]
    assert_nothing_written(sm, s3, clients)


@pytest.mark.parametrize(
    "name",
    [
        f'x","ModelPackageArn":"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/other/1","y":".tar.gz',
        "model v2.tar.gz",
        "model{1}.tar.gz",
        "a,b.tar.gz",
        "../model.tar.gz",
        "a//model.tar.gz",
    ],
)
def test_artifact_key_outside_the_safe_characters_is_rejected_without_writes(aws, name):
    sm, s3, config, clients = aws
    source = register_source(sm, s3, name=name)
    result = promotion.promote(approval_event(source), config, clients)
    assert result["status"] == "rejected" and "has characters outside S3's safe set" in result["reason"], result
    assert_nothing_written(sm, s3, clients)


def test_safe_keys_the_build_writes_are_accepted():
    for key in ("projects/p-1/models/pipelines-abc123-Train-XyZ/output/model.tar.gz", "runs/a_b/(1)/x!*'.json"):
        assert promotion.SAFE_KEY.match(key), key


def test_artifact_overwritten_after_registration_is_refused_without_writes(aws):
    sm, s3, config, clients = aws
    # GIVEN an approved package, WHEN its model object is overwritten after the lead approved it
    source = register_source(sm, s3, baselines=True)
    s3.put_object(Bucket=DEV_BUCKET, Key="train/model.tar.gz", Body=b"something else")
    result = promotion.promote(approval_event(source), config, clients)
    # THEN nothing is promoted: the approved version is no longer the object's current one
    assert result["status"] == "rejected" and "changed after registration" in result["reason"], result
    assert f"s3://{DEV_BUCKET}/train/model.tar.gz" in result["reason"]
    assert_nothing_written(sm, s3, clients)
    # AND the same for a drift baseline (the data scientist cannot loosen the constraints)
    s3.put_object(Bucket=DEV_BUCKET, Key="train/model.tar.gz", Body=b"m" * 1024)  # (model restored: new version)
    constraints = register_source(sm, s3, baselines=True, name="v2.tar.gz")
    s3.put_object(Bucket=DEV_BUCKET, Key="runs/v2/baseline/constraints.json", Body=b'{"features": []}')
    result = promotion.promote(approval_event(constraints, "e-2"), config, clients)
    assert "runs/v2/baseline/constraints.json changed after registration" in result["reason"], result
    assert_nothing_written(sm, s3, clients)


def test_package_without_recorded_versions_is_refused_without_writes(aws):
    sm, s3, config, clients = aws
    source = register_source(sm, s3, record=False)
    result = promotion.promote(approval_event(source), config, clients)
    assert result["status"] == "rejected", result
    assert f"has no S3 version recorded at registration (mlgov:version:{MODEL_FIELD})" in result["reason"]
    assert_nothing_written(sm, s3, clients)


def test_promotion_copies_exactly_the_recorded_versions_and_records_the_hub_copies(aws):
    sm, s3, config, clients = aws
    source = register_source(sm, s3, baselines=True)
    recorded = sm.describe_model_package(ModelPackageName=source)["CustomerMetadataProperties"]
    assert promotion.promote(approval_event(source), config, clients)["status"] == "promoted"
    (package,) = central_packages(sm)
    meta = package["CustomerMetadataProperties"]
    fields = sorted(k for k in recorded if k.startswith(promotion.VERSION_KEY))
    assert sorted(k for k in meta if k.startswith(promotion.VERSION_KEY)) == fields and len(fields) == 4
    for key in fields:
        path = key.removeprefix(promotion.VERSION_KEY).split(".")
        node = package
        for part in path:
            node = node[int(part)] if isinstance(node, list) else node[part]
        # the central field points at a hub object whose current version is the one recorded
        head = s3.head_object(Bucket=HUB_BUCKET, Key=node.split("/", 3)[3])
        assert meta[key] == head["VersionId"] != recorded[key]
    model = package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
    assert s3.get_object(Bucket=HUB_BUCKET, Key=model.split("/", 3)[3])["Body"].read() == b"m" * 1024


class RejectDuringCopy:
    """The moto S3 client, except the lead rejects the source package while its artifacts are copied."""

    def __init__(self, client, sm, arn):
        self._client, self._sm, self._arn = client, sm, arn

    def copy(self, *args, **kwargs):
        self._sm.update_model_package(ModelPackageArn=self._arn, ModelApprovalStatus="Rejected")
        return self._client.copy(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._client, name)


def test_package_rejected_while_copying_is_not_registered(aws):
    sm, s3, config, clients = aws
    source = register_source(sm, s3)
    clients.s3 = RejectDuringCopy(s3, sm, source)
    result = promotion.promote(approval_event(source), config, clients)
    # THEN the approval is re-checked before registering: no central package
    assert result["status"] == "rejected" and "no longer approved (now 'Rejected')" in result["reason"], result
    assert central_packages(sm) == []


class OverwriteDuringCopy:
    """The moto S3 client, except the data scientist overwrites the model just before it is copied."""

    def __init__(self, client):
        self._client = client

    def copy(self, source, *args, **kwargs):
        self._client.put_object(Bucket=DEV_BUCKET, Key="train/model.tar.gz", Body=b"tampered")
        return self._client.copy(source, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._client, name)


def test_an_overwrite_racing_the_copy_does_not_reach_the_hub(aws):
    sm, s3, config, clients = aws
    source = register_source(sm, s3)
    clients.s3 = OverwriteDuringCopy(s3)
    assert promotion.promote(approval_event(source), config, clients)["status"] == "promoted"
    (package,) = central_packages(sm)
    model = package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
    # THEN the hub holds the registered bytes: the copy names the recorded version
    assert s3.get_object(Bucket=HUB_BUCKET, Key=model.split("/", 3)[3])["Body"].read() == b"m" * 1024


def _load_seal():
    """The seed's seal.py, as the pipeline's Seal step runs it."""
    import importlib.util

    from mlgov.platform.seed import SEED_DIR

    spec = importlib.util.spec_from_file_location("seed_seal", SEED_DIR / "code" / "seal.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_package_registered_as_the_newest_build_registers_it_is_promoted(aws):
    """The seam between the build and the hub: the definition's Seal and Register steps, resolved
    as SageMaker resolves them for one run (the seed's seal.py run against the bucket), give a
    package that promotion accepts; an artifact overwritten after the run is refused."""
    import re

    from mlgov.platform import catalog, pipeline

    sm, s3, config, clients = aws
    doc = pipeline.repository_document(*catalog.repository_pipeline())
    steps = {s["Name"]: s for s in doc["Steps"]}
    (register,) = steps["CheckAuc"]["Arguments"]["IfSteps"]
    values = {
        "ModelsBucket": DEV_BUCKET,
        "SageMakerProjectName": "p",
        "TrainingImageUri": AWS_XGBOOST,
        "ModelPackageGroup": GROUP,
    }
    seal_file: dict = {}

    def resolve(value):
        if isinstance(value, str):
            return re.sub(r"\$\{(\w+)\}", lambda m: values.get(m.group(1), "ml.m5.large"), value)
        if isinstance(value, list):
            return [resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if "Std:Join" in value:
            return value["Std:Join"]["On"].join(resolve(v) for v in value["Std:Join"]["Values"])
        if "Std:JsonGet" in value:
            node = seal_file
            for part in value["Std:JsonGet"]["Path"].split("."):
                node = node[part]
            return node
        if "Get" in value:
            got = value["Get"]
            if got == "Execution.PipelineExecutionId":
                return "run-1"
            step = steps[got.split(".")[1]]["Arguments"]
            if got.endswith("ModelArtifacts.S3ModelArtifacts"):
                return resolve(step["OutputDataConfig"]["S3OutputPath"]) + "/pipelines-run-1-Train/output/model.tar.gz"
            name = got.split("'")[1]
            (output,) = [o for o in step["ProcessingOutputConfig"]["Outputs"] if o["OutputName"] == name]
            return resolve(output["S3Output"]["S3Uri"])
        return {k: resolve(v) for k, v in value.items()}

    # GIVEN the run's objects where the definition writes them
    sealed_args = resolve(steps["Seal"]["Arguments"]["AppSpecification"]["ContainerArguments"])
    artifacts = [(sealed_args[i + 1], sealed_args[i + 2]) for i, a in enumerate(sealed_args) if a == "--artifact"]
    assert [name for name, _ in artifacts] == ["model", "statistics", "constraints", "evaluation"]
    for _name, url in artifacts:
        assert url.startswith(f"s3://{DEV_BUCKET}/projects/p/"), url
        s3.put_object(Bucket=DEV_BUCKET, Key=url.split("/", 3)[3], Body=b"{}")
    # WHEN the Seal step runs (the seed's script, S3's answers) and the Register step registers
    seal_file["versions"] = _load_seal().versions(artifacts, s3.head_object)
    request = resolve(register["Arguments"])
    assert request["ModelApprovalStatus"] == "PendingManualApproval"
    # (registered as the lead leaves it, Approved: moto's UpdateModelPackage drops the metadata)
    approved = {**request, "ModelApprovalStatus": "Approved"}
    arn = sm.create_model_package(**approved)["ModelPackageArn"]
    # THEN the hub promotes it
    result = promotion.promote(approval_event(arn), config, clients)
    assert result["status"] == "promoted", result
    # AND once an artifact is overwritten after the run, the same registration is refused
    model = dict(artifacts)["model"]
    s3.put_object(Bucket=DEV_BUCKET, Key=model.split("/", 3)[3], Body=b"retrained")
    again = sm.create_model_package(**approved)["ModelPackageArn"]
    refused = promotion.promote(approval_event(again, "e-2"), config, clients)
    assert refused["status"] == "rejected" and f"{model} changed after registration" in refused["reason"], refused


def test_the_packaged_function_reads_the_sources_it_ships_with(default_spec, tree, tmp_path, monkeypatch):
    # GIVEN the hub's promotion package unpacked as Lambda unpacks it, and the function's
    # environment as the hub stack sets it (no SOURCES: the mapping ships in the package)
    import importlib.util

    from mlgov.platform import governance

    with zipfile.ZipFile(io.BytesIO(tree[f"stacks/{default_spec.hub}/assets/promotion.zip"])) as package:
        package.extractall(tmp_path)
    hub = json.loads(tree[f"stacks/{default_spec.hub}/cdk.tf.json"])
    (function,) = hub["resource"]["aws_lambda_function"].values()
    env = function["environment"]["variables"]
    assert "SOURCES" not in env
    spec = importlib.util.spec_from_file_location("packaged_promotion", tmp_path / "promotion.py")
    assert spec is not None and spec.loader is not None
    packaged = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "packaged_promotion", packaged)  # dataclasses look their module up
    spec.loader.exec_module(packaged)
    # WHEN it reads its settings the way its handler does THEN every team's source is there
    config = packaged.Config.from_env(dict(env))
    expected = governance.promotion_sources(default_spec)
    assert sorted(config.sources) == sorted(expected)
    for account, source in config.sources.items():
        assert source.team == expected[account]["team"] and source.groups == expected[account]["groups"]
