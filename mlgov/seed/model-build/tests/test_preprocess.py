"""preprocess.py: every training source gives the same splits; mistakes end as one line."""

from __future__ import annotations

import csv

import boto3
import preprocess
import pytest
from botocore.stub import ANY, Stubber


def read(path):
    with path.open(newline="") as handle:
        return [[float(v) for v in row] for row in csv.reader(handle)]


def args(tmp_path, **kw):
    argv = ["--output-dir", str(tmp_path / "out"), "--input-dir", str(tmp_path / "raw"), "--region", "eu-west-1"]
    for key, value in kw.items():
        argv += [f"--{key.replace('_', '-')}", value]
    return preprocess.arguments(argv)


def test_s3_input_is_split_label_first_and_baselined(tmp_path, raw_dir, rows):
    counts = preprocess.run(args(tmp_path))
    assert counts == {"train": 280, "validation": 60, "test": 60}
    out = tmp_path / "out"
    train = read(out / "train" / "train.csv")
    assert len(train) == 280 and all(len(r) == 5 and r[0] in (0.0, 1.0) for r in train)
    # the baseline is the training features without the label, in the same order
    assert read(out / "baseline" / "baseline.csv") == [r[1:] for r in train]
    # every row lands in exactly one split
    splits = [row for name in ("train", "validation", "test") for row in read(out / name / f"{name}.csv")]
    assert len(splits) == len(rows)


def test_splits_are_deterministic(tmp_path, raw_dir):
    preprocess.run(args(tmp_path))
    first = (tmp_path / "out" / "test" / "test.csv").read_bytes()
    preprocess.run(args(tmp_path))
    assert (tmp_path / "out" / "test" / "test.csv").read_bytes() == first


def athena_stubs(stub, rows, query):
    """The calls of one query: start, one status poll, two pages of results (header first)."""
    header = list(rows[0])
    cells = [{"Data": [{"VarCharValue": c} for c in header]}] + [
        {"Data": [{"VarCharValue": row[c]} for c in header]} for row in rows
    ]
    stub.add_response(
        "start_query_execution",
        {"QueryExecutionId": "q-1"},
        {"QueryString": query, "WorkGroup": "nwa-fraud"},
    )
    stub.add_response(
        "get_query_execution",
        {"QueryExecution": {"Status": {"State": "SUCCEEDED"}}},
        {"QueryExecutionId": "q-1"},
    )
    half = len(cells) // 2
    stub.add_response(
        "get_query_results",
        {"ResultSet": {"Rows": cells[:half]}, "NextToken": "t"},
        {"QueryExecutionId": "q-1"},
    )
    stub.add_response(
        "get_query_results",
        {"ResultSet": {"Rows": cells[half:]}},
        {"QueryExecutionId": "q-1", "NextToken": "t"},
    )


def test_glue_source_is_read_through_athena_in_the_workgroup(tmp_path, rows):
    athena = boto3.client("athena", region_name="eu-west-1")
    with Stubber(athena) as stub:
        athena_stubs(stub, rows, 'SELECT * FROM "fraud_lake"."transactions"')
        counts = preprocess.run(
            args(tmp_path, training_source="glue:fraud_lake.transactions", athena_workgroup="nwa-fraud"),
            clients={"athena": athena, "sagemaker": None},
        )
        stub.assert_no_pending_responses()
    assert counts == {"train": 280, "validation": 60, "test": 60}


def test_feature_group_is_read_from_its_offline_store(tmp_path, rows):
    sagemaker = boto3.client("sagemaker", region_name="eu-west-1")
    athena = boto3.client("athena", region_name="eu-west-1")
    stored = [
        {**r, "txn_id": str(i), "event_time": "1", "write_time": "x", "is_deleted": "false"} for i, r in enumerate(rows)
    ]
    with Stubber(sagemaker) as sm, Stubber(athena) as at:
        sm.add_response(
            "describe_feature_group",
            {
                "FeatureGroupArn": "arn:aws:sagemaker:eu-west-1:330000000003:feature-group/transactions",
                "FeatureGroupName": "transactions",
                "RecordIdentifierFeatureName": "txn_id",
                "EventTimeFeatureName": "event_time",
                "FeatureDefinitions": [{"FeatureName": "txn_id", "FeatureType": "String"}],
                "CreationTime": "2026-01-01T00:00:00Z",
                "NextToken": "",
                "OfflineStoreConfig": {
                    "S3StorageConfig": {"S3Uri": "s3://b/p"},
                    "DataCatalogConfig": {
                        "TableName": "transactions_1700000000",
                        "Catalog": "AwsDataCatalog",
                        "Database": "sagemaker_featurestore",
                    },
                },
            },
            {"FeatureGroupName": "transactions"},
        )
        athena_stubs(at, stored, 'SELECT * FROM "sagemaker_featurestore"."transactions_1700000000"')
        preprocess.run(
            args(tmp_path, training_source="feature-group:transactions", athena_workgroup="nwa-fraud"),
            clients={"athena": athena, "sagemaker": sagemaker},
        )
    # the store's own columns (record id, event time, write time, deletion flag) are no features
    assert all(len(r) == 5 for r in read(tmp_path / "out" / "train" / "train.csv"))


def test_failed_query_is_one_line(tmp_path):
    athena = boto3.client("athena", region_name="eu-west-1")
    with Stubber(athena) as stub:
        stub.add_response("start_query_execution", {"QueryExecutionId": "q-2"}, {"QueryString": ANY, "WorkGroup": ANY})
        stub.add_response(
            "get_query_execution",
            {
                "QueryExecution": {
                    "Status": {"State": "FAILED", "StateChangeReason": "Insufficient Lake Formation permission(s)"}
                }
            },
            {"QueryExecutionId": "q-2"},
        )
        with pytest.raises(preprocess.DataError, match="q-2 FAILED: Insufficient Lake Formation"):
            preprocess.run(args(tmp_path, training_source="glue:db.t"), clients={"athena": athena})


@pytest.mark.parametrize(
    "source", ["glue:db", "glue:db.t;DROP", 'glue:db."t"', "feature-group:", "s3://bucket/data", "None"]
)
def test_bad_sources_are_refused_before_any_query(source):
    with pytest.raises(preprocess.DataError, match="is not glue:<database>.<table>"):
        preprocess.parse_source(source)


def test_missing_label_and_text_values_are_one_line_each(tmp_path, raw_dir):
    assert preprocess.main(["--input-dir", str(raw_dir), "--output-dir", str(tmp_path / "o"), "--label", "fraud"]) == 2
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.csv").write_text("label,amount\n1,high\n")
    with pytest.raises(preprocess.DataError, match="row 0: every column must be numeric"):
        preprocess.run(preprocess.arguments(["--input-dir", str(bad), "--output-dir", str(tmp_path / "o")]))
