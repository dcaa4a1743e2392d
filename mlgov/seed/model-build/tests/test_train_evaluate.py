"""train.py and evaluate.py end to end on the tiny dataset: a learnable label gives a good AUC,
and the report has the fields the pipeline's condition and the model registry read."""

from __future__ import annotations

import json
import tarfile

import evaluate
import preprocess
import pytest
import train


@pytest.fixture
def splits(tmp_path, raw_dir):
    preprocess.run(preprocess.arguments(["--input-dir", str(raw_dir), "--output-dir", str(tmp_path / "data")]))
    return tmp_path / "data"


def test_train_then_evaluate_from_the_model_artifact(tmp_path, splits):
    model_dir = tmp_path / "model"
    result = train.train(
        train.arguments(
            [
                "--train",
                str(splits / "train"),
                "--validation",
                str(splits / "validation"),
                "--model-dir",
                str(model_dir),
            ]
        )
    )
    assert result["validation_auc"] > 0.75
    # SageMaker hands the evaluation step the artifact as model.tar.gz
    artifact = tmp_path / "artifact"
    artifact.mkdir()
    with tarfile.open(artifact / "model.tar.gz", "w:gz") as tar:
        tar.add(model_dir / train.MODEL_FILE, arcname=train.MODEL_FILE)
    out = tmp_path / "evaluation"
    code = evaluate.main(["--model-dir", str(artifact), "--test-dir", str(splits / "test"), "--output-dir", str(out)])
    assert code == 0
    report = json.loads((out / "evaluation.json").read_text())
    assert report["metrics"]["auc"]["value"] > 0.75  # what the CheckAuc condition reads
    assert report["binary_classification_metrics"]["auc"]["value"] == report["metrics"]["auc"]["value"]


def test_sagemaker_arguments_are_tolerated():
    parsed = train.arguments(["--num_round", "20", "--unknown", "x"])
    assert parsed.num_round == 20


@pytest.mark.parametrize(
    ("labels", "scores", "expected"),
    [
        ([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], 0.75),
        ([0, 1], [0.2, 0.9], 1.0),
        ([0, 1], [0.9, 0.2], 0.0),
        ([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5], 0.5),  # ties count half
    ],
)
def test_auc(labels, scores, expected):
    assert evaluate.auc(labels, scores) == pytest.approx(expected)


def test_auc_needs_both_classes():
    with pytest.raises(ValueError, match="both classes"):
        evaluate.auc([1, 1], [0.2, 0.3])
