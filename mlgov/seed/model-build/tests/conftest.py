"""Shared fixtures: the scripts on the path and a tiny dataset made here (no downloads)."""

from __future__ import annotations

import csv
import math
import random
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
for folder in ("code", "pipeline", "endpoint_tests"):
    sys.path.insert(0, str(ROOT / folder))

FEATURES = ("amount", "hour", "merchant_risk", "velocity")


def make_rows(n: int = 400, seed: int = 7) -> list[dict[str, str]]:
    """``n`` rows of four numeric features and a 0/1 label that depends on two of them."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        x = {f: rng.gauss(0, 1) for f in FEATURES}
        logit = 2.5 * x["merchant_risk"] + 1.5 * x["velocity"] - 0.5
        label = 1 if rng.random() < 1 / (1 + math.exp(-logit)) else 0
        rows.append({"label": str(label), **{f: f"{v:.5f}" for f, v in x.items()}})
    return rows


def write_dataset(directory: Path, rows: list[dict[str, str]], files: int = 2) -> Path:
    """The rows as ``files`` CSV files with a header row (what S3 input looks like)."""
    directory.mkdir(parents=True, exist_ok=True)
    size = math.ceil(len(rows) / files)
    for i in range(files):
        with (directory / f"part-{i}.csv").open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=["label", *FEATURES])
            writer.writeheader()
            writer.writerows(rows[i * size : (i + 1) * size])
    return directory


@pytest.fixture
def rows() -> list[dict[str, str]]:
    return make_rows()


@pytest.fixture
def raw_dir(tmp_path, rows) -> Path:
    return write_dataset(tmp_path / "raw", rows)
