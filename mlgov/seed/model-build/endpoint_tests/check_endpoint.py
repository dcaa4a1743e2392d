"""Endpoint tests: the deployed model answers a sample payload with one score per row.

The platform's deployment pipeline runs this in the test stage, inside the stage account's VPC,
right after it deploys the approved package there and before the governance officer is asked
to approve prod: a non-zero exit fails the pipeline run, and prod is never offered. It sends
``sample.csv`` (feature rows, no header, no label: what the endpoint receives) as ``text/csv``
and checks what the XGBoost image returns: one probability in [0, 1] per row.

Only the standard library and boto3 (both in the build image): the stage's VPC has no way to a
package index.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

CONTENT_TYPE = "text/csv"
SAMPLE = Path(__file__).resolve().parent / "sample.csv"


def read_payload(path: str | Path) -> tuple[bytes, int, int]:
    """(body, rows, columns) of a CSV payload; every row the same number of numeric columns."""
    lines = [line.strip() for line in Path(path).read_text().splitlines() if line.strip()]
    if not lines:
        raise ValueError(f"{path}: no rows")
    widths = set()
    for number, line in enumerate(lines, 1):
        cells = line.split(",")
        for cell in cells:
            try:
                float(cell)
            except ValueError:  # a header or a text column: refused before the endpoint is called
                raise ValueError(f"{path}: row {number}: not a number: {cell!r}") from None
        widths.add(len(cells))
    if len(widths) != 1:
        raise ValueError(f"{path}: rows of different widths {sorted(widths)}")
    return ("\n".join(lines) + "\n").encode(), len(lines), widths.pop()


def response_problems(body: str, rows: int) -> list[str]:
    """What is wrong with an endpoint's answer to ``rows`` rows (none: ``[]``)."""
    cells = [c for c in body.replace("\n", ",").split(",") if c.strip()]
    if len(cells) != rows:
        return [f"expected {rows} scores (one per row), got {len(cells)}: {body[:200]!r}"]
    problems = []
    for i, cell in enumerate(cells):
        try:
            score = float(cell)
        except ValueError:
            problems.append(f"score {i} is not a number: {cell!r}")
            continue
        if math.isnan(score) or not 0.0 <= score <= 1.0:
            problems.append(f"score {i} is not a probability in [0, 1]: {score}")
    return problems


def invoke(endpoint: str, body: bytes, client=None) -> str:
    """The endpoint's answer to ``body`` (``client``: a boto3 sagemaker-runtime client)."""
    if client is None:
        import boto3

        client = boto3.client("sagemaker-runtime")
    answer = client.invoke_endpoint(EndpointName=endpoint, ContentType=CONTENT_TYPE, Accept=CONTENT_TYPE, Body=body)
    return answer["Body"].read().decode()


def main(argv: list[str] | None = None, client=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint-name", required=True)
    parser.add_argument("--payload", default=str(SAMPLE))
    args = parser.parse_args(argv)
    try:
        body, rows, _ = read_payload(args.payload)
    except (OSError, ValueError) as exc:
        print(f"endpoint tests: bad payload: {exc}", file=sys.stderr)
        return 2
    problems = response_problems(invoke(args.endpoint_name, body, client), rows)
    for line in problems:
        print(f"endpoint tests: {args.endpoint_name}: {line}", file=sys.stderr)
    if not problems:
        print(f"endpoint tests: {args.endpoint_name}: {rows} rows scored")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
