"""Train: an XGBoost binary classifier on the preprocessed CSVs (label first, no header).

The pipeline runs this in the training image in script mode: SageMaker mounts the ``train``
and ``validation`` channels at ``SM_CHANNEL_TRAIN`` / ``SM_CHANNEL_VALIDATION`` and packs
``SM_MODEL_DIR`` into the model artifact. The model is saved as ``xgboost-model``, the file the
XGBoost image serves as it is (CSV in, probability out), so the registered package needs no
inference code. Hyperparameters come as ``--name value`` arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
import xgboost as xgb

MODEL_FILE = "xgboost-model"


def load(directory: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(labels, features) of every CSV under ``directory``."""
    files = sorted(Path(directory).glob("*.csv"))
    if not files:
        raise FileNotFoundError(f"no CSV files under {directory}")
    data = np.vstack([np.loadtxt(f, delimiter=",", ndmin=2) for f in files])
    return data[:, 0], data[:, 1:]


def train(args: argparse.Namespace) -> dict[str, float]:
    """Train, save the booster under ``args.model_dir`` and return the last validation AUC."""
    y_train, x_train = load(args.train)
    y_valid, x_valid = load(args.validation)
    params = {
        "objective": "binary:logistic",
        "eval_metric": "auc",
        "max_depth": args.max_depth,
        "eta": args.eta,
        "subsample": args.subsample,
        "seed": args.seed,
    }
    history: dict[str, dict[str, list[float]]] = {}
    booster = xgb.train(
        params,
        xgb.DMatrix(x_train, label=y_train),
        num_boost_round=args.num_round,
        evals=[(xgb.DMatrix(x_valid, label=y_valid), "validation")],
        evals_result=history,
        early_stopping_rounds=args.early_stopping_rounds,
        verbose_eval=False,
    )
    model_dir = Path(args.model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    booster.save_model(str(model_dir / MODEL_FILE))
    return {"validation_auc": float(history["validation"]["auc"][-1])}


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-round", "--num_round", type=int, default=100)
    parser.add_argument("--max-depth", "--max_depth", type=int, default=4)
    parser.add_argument("--eta", type=float, default=0.2)
    parser.add_argument("--subsample", type=float, default=0.9)
    parser.add_argument("--early-stopping-rounds", "--early_stopping_rounds", type=int, default=10)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--train", default=os.environ.get("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train"))
    parser.add_argument(
        "--validation", default=os.environ.get("SM_CHANNEL_VALIDATION", "/opt/ml/input/data/validation")
    )
    parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR", "/opt/ml/model"))
    # SageMaker may pass more (its own) arguments: they are not ours to refuse.
    return parser.parse_known_args(argv)[0]


def main(argv: list[str] | None = None) -> int:
    print(f"train: {json.dumps(train(arguments(argv)), sort_keys=True)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
