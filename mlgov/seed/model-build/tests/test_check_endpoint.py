"""check_endpoint.py, the endpoint tests the platform runs in the test stage: the sample has the
shape the endpoint receives, a model trained here passes, and wrong answers fail."""

from __future__ import annotations

import io

import check_endpoint
import numpy as np
import preprocess
import pytest
import train
import xgboost as xgb


class ScoringClient:
    """Answers as the XGBoost image does for ``text/csv``: one probability per row, comma-separated."""

    def __init__(self, score):
        self.score = score
        self.calls = []

    def invoke_endpoint(self, EndpointName, ContentType, Accept, Body):  # boto3's argument names
        self.calls.append((EndpointName, ContentType, Accept))
        rows = np.loadtxt(io.StringIO(Body.decode()), delimiter=",", ndmin=2)
        return {"Body": io.BytesIO(",".join(str(s) for s in self.score(rows)).encode())}


@pytest.fixture
def booster(tmp_path, raw_dir):
    data = tmp_path / "data"
    preprocess.run(preprocess.arguments(["--input-dir", str(raw_dir), "--output-dir", str(data)]))
    model_dir = tmp_path / "model"
    train.train(
        train.arguments(
            ["--train", str(data / "train"), "--validation", str(data / "validation"), "--model-dir", str(model_dir)]
        )
    )
    model = xgb.Booster()
    model.load_model(str(model_dir / train.MODEL_FILE))
    return model, data


def test_the_sample_has_the_columns_the_endpoint_receives(booster):
    _, data = booster
    _, rows, columns = check_endpoint.read_payload(check_endpoint.SAMPLE)
    baseline = np.loadtxt(data / "baseline" / "baseline.csv", delimiter=",", ndmin=2)
    assert rows >= 1 and columns == baseline.shape[1]


def test_a_model_trained_here_passes(booster):
    model, _ = booster
    client = ScoringClient(lambda rows: model.predict(xgb.DMatrix(rows)))
    assert check_endpoint.main(["--endpoint-name", "nwa-fraud-card-scoring"], client) == 0
    assert client.calls == [("nwa-fraud-card-scoring", "text/csv", "text/csv")]


@pytest.mark.parametrize(
    "score",
    [
        lambda rows: [0.5] * (len(rows) - 1),  # a row lost
        lambda rows: [1.5] * len(rows),  # not a probability
        lambda rows: ["label"] * len(rows),  # not a number
    ],
    ids=["row-lost", "not-a-probability", "not-a-number"],
)
def test_a_wrong_answer_fails(score):
    assert check_endpoint.main(["--endpoint-name", "e"], ScoringClient(score)) == 1


def test_a_payload_with_a_header_is_refused_before_the_call(tmp_path):
    payload = tmp_path / "p.csv"
    payload.write_text("amount,hour\n1,2\n")
    client = ScoringClient(lambda rows: [0.5])
    assert check_endpoint.main(["--endpoint-name", "e", "--payload", str(payload)], client) == 2
    assert client.calls == []
