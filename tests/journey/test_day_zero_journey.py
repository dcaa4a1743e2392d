"""The day-zero step of the journey (tests/journey/day_zero_steps.py), walked once.

From an organization with only its management account (moto): the bootstrap, the vending plan and
apply, the ids filled back in, the first team's stacks planned against the vended ids, then the
close transition. One test: each step needs the state the previous one left in moto, and the
walk (a few minutes of terraform) runs once per session.
"""

from __future__ import annotations

import json

import pytest

from tests.journey.day_zero_steps import CLOSED_TEAM, DayZero, closed_churn_data, removed_by_close, spec_text
from tests.test_transitions import plan_against_state

pytestmark = [pytest.mark.slow, pytest.mark.terraform]  # terraform against moto


def test_day_zero(render_spec, tf_cli_config, moto_endpoint, tmp_path):
    walk = DayZero(render_spec, tf_cli_config, moto_endpoint, tmp_path)
    for name in DayZero.STEPS:
        with walk.step(name):
            getattr(walk, name)()


def test_closing_a_team_plans_the_destroy_of_exactly_its_grants(render_spec, offline_applied, tree):
    # GIVEN the committed data lake stack applied (offline) into a state, and the spec after team
    # churn left (its grants removed, its account retired)
    closed = render_spec(spec_text(closed_churn_data()))
    _, lost = removed_by_close(tree, closed)
    ws = offline_applied("data-lake")["data-lake"].ws
    # WHEN the data lake's new configuration is planned against that state
    planned = plan_against_state(ws, json.loads(closed["stacks/data-lake/cdk.tf.json"]))
    changes = {rc["address"]: rc["change"]["actions"] for rc in planned["resource_changes"]}
    # THEN the plan deletes the team's Lake Formation grants, and changes nothing else
    deleted = sorted(a for a, actions in changes.items() if actions == ["delete"])
    assert deleted == sorted(lost["data-lake"]) and all(CLOSED_TEAM in a for a in deleted) and deleted
    assert {a: c for a, c in changes.items() if c not in (["no-op"], ["read"], ["delete"])} == {}
