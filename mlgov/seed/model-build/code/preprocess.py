"""Preprocess: read the team's training data, split it, and write what the next steps read.

The SageMaker pipeline runs this in the processing image with
``--training-source`` (the value of the account's SSM parameter ``/<org>/data/training-source``):

- ``glue:<database>.<table>``: the governed data lake table (a resource link in this account's
  Glue catalog), read with Athena in the team's workgroup (``--athena-workgroup``);
- ``feature-group:<name>``: a feature group's offline store, read the same way (its Glue table);
- ``none``: CSV files with a header row under the S3 input (the pipeline's ``InputDataUri``,
  mounted at ``--input-dir``).

Every column but ``--label`` must be numeric. Outputs (under ``--output-dir``), CSV without a
header, label first (what the XGBoost training image expects):
``train/train.csv``, ``validation/validation.csv``, ``test/test.csv``, and
``baseline/baseline.csv``: the features only, in the order an endpoint receives them, from
which the pipeline's baseline step computes the data-quality baseline a monitor compares with.
"""

from __future__ import annotations

import argparse
import csv
import random
import re
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

# Columns the Feature Store adds to every offline store table.
FEATURE_STORE_COLUMNS = ("write_time", "api_invocation_time", "is_deleted")
NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
SPLITS = (("train", 0.7), ("validation", 0.15), ("test", 0.15))


class DataError(Exception):
    """The training data cannot be read or used as it is (one line for the job's log)."""


def parse_source(source: str) -> tuple[str, str, str]:
    """``(kind, database, table)`` of a training source; kind is glue, feature-group or none."""
    if source == "none":
        return "none", "", ""
    kind, _, rest = source.partition(":")
    if kind == "glue":
        database, _, table = rest.partition(".")
        if NAME.match(database) and NAME.match(table):
            return kind, database, table
    elif kind == "feature-group" and NAME.match(rest):
        return kind, "", rest
    raise DataError(f"training source {source!r} is not glue:<database>.<table>, feature-group:<name> or none")


def athena_rows(athena: Any, query: str, workgroup: str, poll_seconds: float = 2.0) -> list[dict[str, str]]:
    """Run ``query`` in ``workgroup`` (its output location and encryption are the workgroup's) and
    return the rows as dicts by column name."""
    execution = athena.start_query_execution(QueryString=query, WorkGroup=workgroup)["QueryExecutionId"]
    while True:
        status = athena.get_query_execution(QueryExecutionId=execution)["QueryExecution"]["Status"]
        if status["State"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
            break
        time.sleep(poll_seconds)
    if status["State"] != "SUCCEEDED":
        raise DataError(f"Athena query {execution} {status['State']}: {status.get('StateChangeReason', '')}")
    header: list[str] | None = None
    rows: list[dict[str, str]] = []
    token: str | None = None
    while True:
        page = athena.get_query_results(QueryExecutionId=execution, **({"NextToken": token} if token else {}))
        for row in page["ResultSet"]["Rows"]:
            values = [cell.get("VarCharValue", "") for cell in row["Data"]]
            if header is None:
                header = values  # the first row of the first page names the columns
            else:
                rows.append(dict(zip(header, values)))
        token = page.get("NextToken")
        if not token:
            return rows


def read_table(
    athena: Any, database: str, table: str, workgroup: str, drop: Iterable[str] = ()
) -> list[dict[str, str]]:
    """Every row of a Glue table through Athena, without the columns in ``drop``."""
    if not (NAME.match(database) and NAME.match(table)):
        raise DataError(f"not a Glue database and table name: {database!r}.{table!r}")
    # Both names match NAME: no quote gets into the query.
    query = f'SELECT * FROM "{database}"."{table}"'  # noqa: S608
    rows = athena_rows(athena, query, workgroup)
    dropped = set(drop)
    return [{k: v for k, v in row.items() if k not in dropped} for row in rows]


def read_feature_group(sagemaker: Any, athena: Any, name: str, workgroup: str) -> list[dict[str, str]]:
    """A feature group's offline store (its Glue table) through Athena, features only."""
    group = sagemaker.describe_feature_group(FeatureGroupName=name)
    catalog = (group.get("OfflineStoreConfig") or {}).get("DataCatalogConfig")
    if not catalog:
        raise DataError(f"feature group {name!r} has no offline store to train from")
    drop = (*FEATURE_STORE_COLUMNS, group["RecordIdentifierFeatureName"], group["EventTimeFeatureName"])
    return read_table(athena, catalog["Database"], catalog["TableName"], workgroup, drop)


def read_csv_dir(directory: Path) -> list[dict[str, str]]:
    """Every row of the CSV files (with a header row) under ``directory``, files in name order."""
    files = sorted(p for p in directory.rglob("*.csv") if p.is_file())
    if not files:
        raise DataError(f"no CSV files under {directory} (the pipeline's InputDataUri)")
    rows: list[dict[str, str]] = []
    for path in files:
        with path.open(newline="") as handle:
            rows += list(csv.DictReader(handle))
    return rows


def to_matrix(rows: list[dict[str, str]], label: str) -> tuple[list[str], list[list[float]]]:
    """Feature names (sorted, so every source gives one order) and rows of floats, label first."""
    if not rows:
        raise DataError("the training data has no rows")
    if label not in rows[0]:
        raise DataError(f"the training data has no label column {label!r} (columns: {sorted(rows[0])})")
    features = sorted(k for k in rows[0] if k != label)
    out = []
    for i, row in enumerate(rows):
        try:
            out.append([float(row[label])] + [float(row[f]) for f in features])
        except (KeyError, ValueError) as exc:
            raise DataError(f"row {i}: every column must be numeric ({exc})") from None
    return features, out


def split(matrix: list[list[float]], seed: int = 42) -> dict[str, list[list[float]]]:
    """Shuffled (deterministically) into train, validation and test."""
    rows = list(matrix)
    random.Random(seed).shuffle(rows)
    out, start = {}, 0
    for i, (name, share) in enumerate(SPLITS):
        end = len(rows) if i == len(SPLITS) - 1 else start + round(share * len(rows))
        out[name] = rows[start:end]
        start = end
    return out


def write_csv(path: Path, rows: list[list[float]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows([[repr(v) for v in row] for row in rows])


def run(args: argparse.Namespace, clients: dict[str, Any] | None = None) -> dict[str, int]:
    """Read, split and write; returns the number of rows per output."""
    kind, database, table = parse_source(args.training_source)
    if kind == "none":
        rows = read_csv_dir(Path(args.input_dir))
    else:
        clients = clients or {}
        if "athena" not in clients:
            import boto3  # in the processing image; only the governed data path needs it

            clients = {name: boto3.client(name, region_name=args.region) for name in ("athena", "sagemaker")}
        if kind == "glue":
            rows = read_table(clients["athena"], database, table, args.athena_workgroup)
        else:
            rows = read_feature_group(clients["sagemaker"], clients["athena"], table, args.athena_workgroup)
    features, matrix = to_matrix(rows, args.label)
    parts = split(matrix)
    out = Path(args.output_dir)
    for name, part in parts.items():
        write_csv(out / name / f"{name}.csv", part)
    write_csv(out / "baseline" / "baseline.csv", [row[1:] for row in parts["train"]])
    print(f"preprocess: features in endpoint order: {', '.join(features)}")
    return {name: len(part) for name, part in parts.items()}


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--training-source", default="none")
    parser.add_argument("--athena-workgroup", default="primary")
    parser.add_argument("--region", default=None)
    parser.add_argument("--label", default="label")
    parser.add_argument("--input-dir", default="/opt/ml/processing/input/raw")
    parser.add_argument("--output-dir", default="/opt/ml/processing")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    try:
        counts = run(arguments(argv))
    except DataError as exc:
        print(f"preprocess: {exc}", file=sys.stderr)
        return 2
    print("preprocess: " + ", ".join(f"{name} {n} rows" for name, n in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
