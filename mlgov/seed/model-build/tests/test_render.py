"""pipeline/render.py: the repository's definition renders completely, or not at all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import render

DEFINITION = Path(__file__).resolve().parent.parent / "pipeline" / "definition.json"


def values(names):
    env = {name: f"value-of-{name}" for name in names}
    env["MinimumAuc"] = "0.7"  # a number in the JSON
    return env


def test_definition_renders_to_json_without_placeholders():
    text = DEFINITION.read_text()
    rendered = render.render(text, values(render.placeholders(text)))
    assert "${" not in rendered
    doc = json.loads(rendered)
    # the steps this repository's scripts are for
    assert [s["Name"] for s in doc["Steps"]] == ["Preprocess", "Baseline", "Train", "Evaluate", "Seal", "CheckAuc"]


def test_every_script_the_definition_runs_is_in_code():
    text = DEFINITION.read_text()
    for script in ("preprocess.py", "evaluate.py", "seal.py"):
        assert f"/opt/ml/processing/input/code/{script}" in text
    assert '"sagemaker_program": "train.py"' in text
    code = DEFINITION.parent.parent / "code"
    assert {p.name for p in code.glob("*.py")} >= {"preprocess.py", "train.py", "evaluate.py", "seal.py"}


def test_registration_is_pending_with_drift_baselines():
    doc = json.loads(render.render(DEFINITION.read_text(), values(render.placeholders(DEFINITION.read_text()))))
    (check,) = [s for s in doc["Steps"] if s["Type"] == "Condition"]
    (register,) = check["Arguments"]["IfSteps"]
    assert register["Arguments"]["ModelApprovalStatus"] == "PendingManualApproval"
    quality = register["Arguments"]["DriftCheckBaselines"]["ModelDataQuality"]
    assert sorted(quality) == ["Constraints", "Statistics"]
    # every artifact's S3 version, as seal.py found it, is recorded under the artifact's field path
    versions = register["Arguments"]["CustomerMetadataProperties"]
    assert sorted(versions) == [
        "mlgov:version:DriftCheckBaselines.ModelDataQuality.Constraints.S3Uri",
        "mlgov:version:DriftCheckBaselines.ModelDataQuality.Statistics.S3Uri",
        "mlgov:version:InferenceSpecification.Containers.0.ModelDataUrl",
        "mlgov:version:ModelMetrics.ModelQuality.Statistics.S3Uri",
    ]
    for value in versions.values():
        assert value["Std:JsonGet"]["PropertyFile"] == {"Get": "Steps.Seal.PropertyFiles.Seal"}


def test_a_missing_variable_is_named_and_nothing_is_written(tmp_path, capsys, monkeypatch):
    definition = tmp_path / "d.json"
    definition.write_text('{"a": "${One}", "b": "${Two}"}')
    monkeypatch.setenv("One", "1")
    monkeypatch.delenv("Two", raising=False)
    assert render.main(["render.py", str(definition)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "placeholder(s): Two" in captured.err


def test_a_value_that_breaks_the_json_is_refused():
    with pytest.raises(render.RenderError, match="not JSON"):
        render.render('{"a": "${One}"}', {"One": 'x"'})
