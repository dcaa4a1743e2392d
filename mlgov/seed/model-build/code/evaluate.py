"""Evaluate: the trained model's AUC on the test split, as the pipeline's condition reads it.

The pipeline runs this in the training image with the model artifact at ``--model-dir``
(``model.tar.gz``) and the test split at ``--test-dir``; it writes ``evaluation.json`` to
``--output-dir``: ``metrics.auc.value`` (what the pipeline's AUC condition compares with
``MinimumAuc``) and the same figures as SageMaker's ``binary_classification_metrics`` (what the
model registry shows as the package's model quality).
"""

from __future__ import annotations

import argparse
import json
import sys
import tarfile
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import xgboost as xgb

MODEL_FILE = "xgboost-model"


def auc(labels: Sequence[float], scores: Sequence[float]) -> float:
    """Area under the ROC curve (the Mann-Whitney statistic; tied scores share their average rank)."""
    pairs = sorted(zip(scores, labels))
    ranks = [0.0] * len(pairs)
    i = 0
    while i < len(pairs):
        j = i
        while j + 1 < len(pairs) and pairs[j + 1][0] == pairs[i][0]:
            j += 1
        for k in range(i, j + 1):
            ranks[k] = (i + j) / 2 + 1
        i = j + 1
    positives = sum(1 for _, label in pairs if label == 1)
    negatives = len(pairs) - positives
    if positives == 0 or negatives == 0:
        raise ValueError("AUC needs both classes in the test split")
    rank_sum = sum(rank for rank, (_, label) in zip(ranks, pairs) if label == 1)
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def load_model(model_dir: Path) -> xgb.Booster:
    """The booster from ``model.tar.gz`` (as SageMaker hands the artifact over) or a plain directory."""
    archive = model_dir / "model.tar.gz"
    booster = xgb.Booster()
    if archive.is_file():
        with tempfile.TemporaryDirectory() as tmp, tarfile.open(archive) as tar:
            # Extract only the model file; the "data" filter where this Python has it.
            safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            tar.extract(MODEL_FILE, tmp, **safe)
            booster.load_model(str(Path(tmp) / MODEL_FILE))
    else:
        booster.load_model(str(model_dir / MODEL_FILE))
    return booster


def evaluate(args: argparse.Namespace) -> dict:
    files = sorted(Path(args.test_dir).glob("*.csv"))
    data = np.vstack([np.loadtxt(f, delimiter=",", ndmin=2) for f in files])
    labels, features = data[:, 0], data[:, 1:]
    scores = load_model(Path(args.model_dir)).predict(xgb.DMatrix(features))
    value = auc(labels.tolist(), scores.tolist())
    accuracy = float(np.mean((scores >= 0.5) == (labels == 1)))
    report = {
        "binary_classification_metrics": {
            "accuracy": {"standard_deviation": "NaN", "value": accuracy},
            "auc": {"standard_deviation": "NaN", "value": value},
        },
        "metrics": {"accuracy": {"value": accuracy}, "auc": {"value": value}},
    }
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "evaluation.json").write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    return report


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", default="/opt/ml/processing/model")
    parser.add_argument("--test-dir", default="/opt/ml/processing/test")
    parser.add_argument("--output-dir", default="/opt/ml/processing/evaluation")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    report = evaluate(arguments(argv))
    print(f"evaluate: test AUC {report['metrics']['auc']['value']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
