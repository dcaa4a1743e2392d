"""The suite's worker groups take effect: under `scripts/test` (pytest-xdist, --dist loadgroup)
the tests sharing a costly session fixture run in one worker, which builds it once.

This module is grouped itself (tests/conftest.py, MODULE_GROUPS): pytest-xdist 3.8 marks a
grouped test's id in a way pytest 9 ignores, and then every worker built the default plans, the
offline-applied states and the moto applies again (each a minute or more of CPU).
"""

from __future__ import annotations

import pytest

from tests.conftest import MODULE_GROUPS, ROOT, START_FIRST


def test_a_grouped_test_carries_its_group_in_its_id(request):
    config = request.config
    if not (getattr(config.option, "loadgroup", False) and hasattr(config, "workerinput")):
        pytest.skip("runs only in a pytest-xdist worker under --dist loadgroup (scripts/test)")
    # GIVEN this module's group WHEN it runs in a worker THEN its id ends with the group the
    # controller schedules by (tests with one suffix go to one worker)
    assert request.node.nodeid.endswith("@" + MODULE_GROUPS["test_xdist_groups"]), request.node.nodeid


def test_each_test_started_first_exists_and_is_collected_first(request):
    # GIVEN the tests conftest starts first WHEN their ids are looked up THEN each names a test
    # function (a renamed test would otherwise silently drop back to the end of the queue)
    for nodeid in START_FIRST:
        path, name = nodeid.split("::")
        assert f"def {name}(" in (ROOT / path).read_text(), nodeid
    # AND in this session they come first, in the order listed
    collected = [item.nodeid.split("[", 1)[0] for item in request.session.items]
    listed = [nodeid for nodeid in collected if nodeid in START_FIRST]
    assert collected[: len(listed)] == listed == sorted(listed, key=START_FIRST.index)


def test_a_spec_file_is_rendered_by_one_worker_and_read_by_the_others(tmp_path, monkeypatch):
    import mlgov.synth.tree
    from tests import conftest

    # GIVEN the session's shared directory, and a render that counts its calls
    calls = []
    monkeypatch.setenv(conftest.SHARED_RENDERS_ENV, str(tmp_path / "shared"))
    (tmp_path / "shared").mkdir()
    monkeypatch.setattr(mlgov.synth.tree, "render", lambda spec: calls.append(spec) or ({"a": b"1"}, ["s"]))
    spec_file = tmp_path / "org.yaml"
    spec_file.write_text("organization: {}\n")
    # WHEN two workers (here: two calls) need the same spec file
    first = conftest.shared_render(spec_file, "spec")
    second = conftest.shared_render(spec_file, "spec")
    # THEN it is rendered once and the second reads the same tree
    assert calls == ["spec"] and first == second == ({"a": b"1"}, ["s"])
    # AND a changed spec file is rendered again
    spec_file.write_text("organization: {name: other}\n")
    conftest.shared_render(spec_file, "spec")
    assert len(calls) == 2
