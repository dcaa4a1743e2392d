"""seal.py records the current S3 version of every artifact, and refuses what it cannot seal."""

from __future__ import annotations

import json

import pytest
import seal


class Bucket:
    """S3's HeadObject over a dict of ``(bucket, key) -> VersionId`` (``None``: no such object)."""

    def __init__(self, objects):
        self.objects = objects

    def __call__(self, Bucket, Key):
        version = self.objects[(Bucket, Key)]
        return {} if version is None else {"VersionId": version}


def test_every_artifact_gets_its_current_version(tmp_path):
    head = Bucket({("models", "p/model.tar.gz"): "v-model", ("models", "p/b/statistics.json"): "v-stat"})
    argv = [
        "--artifact",
        "model",
        "s3://models/p/model.tar.gz",
        "--artifact",
        "statistics",
        "s3://models/p/b/statistics.json",
        "--output-dir",
        str(tmp_path),
    ]
    assert seal.main(argv, head) == 0
    written = json.loads((tmp_path / seal.OUTPUT_FILE).read_text())
    assert written == {"versions": {"model": "v-model", "statistics": "v-stat"}}


@pytest.mark.parametrize(
    ("artifacts", "message"),
    [
        ([("model", "s3://models/p/model.tar.gz")], "has no S3 version"),  # unversioned bucket: "null"
        ([("model", "s3://models/p/")], "is not an S3 object URL"),
        ([("model", "/local/model.tar.gz")], "is not an S3 object URL"),
        ([("Model", "s3://models/p/model.tar.gz")], "is not a new lower-case identifier"),
    ],
)
def test_what_cannot_be_sealed_fails_the_run(tmp_path, capsys, artifacts, message):
    head = Bucket({("models", "p/model.tar.gz"): "null"})
    argv = [x for name, url in artifacts for x in ("--artifact", name, url)] + ["--output-dir", str(tmp_path)]
    assert seal.main(argv, head) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / seal.OUTPUT_FILE).exists()


def test_a_name_given_twice_is_refused():
    head = Bucket({("models", "a"): "1"})
    with pytest.raises(seal.SealError, match="not a new"):
        seal.versions([("model", "s3://models/a"), ("model", "s3://models/a")], head)
