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
