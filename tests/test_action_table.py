"""One table of named action sets (mlgov.platform.iam.actions) used everywhere.

A feature module of mlgov.platform.iam may name an action set of its own only if no set of the
table has the same actions and no other feature module names the same set: a set used twice
lives in the table, under one name.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections import defaultdict
from pathlib import Path

import mlgov.platform.iam as iam_package
from mlgov.platform.iam import actions

ACTION = re.compile(r"[a-z0-9-]+:[A-Za-z*]+")


def action_sets(module) -> dict[str, frozenset[str]]:
    """Module-level constants a module itself defines whose value is a tuple of IAM actions."""
    source = Path(module.__file__).read_text(encoding="utf-8")
    return {
        name: frozenset(value)
        for name, value in vars(module).items()
        if name.isupper()
        and isinstance(value, tuple)
        and value
        and all(isinstance(v, str) and ACTION.fullmatch(v) for v in value)
        and re.search(rf"^{name}\s*[:=]", source, re.M)
    }


def feature_sets() -> dict[str, dict[str, frozenset[str]]]:
    names = sorted(m.name for m in pkgutil.iter_modules(iam_package.__path__) if m.name != "actions")
    return {name: action_sets(importlib.import_module(f"mlgov.platform.iam.{name}")) for name in names}


def offences(table: dict[str, frozenset[str]], features: dict[str, dict[str, frozenset[str]]]) -> list[str]:
    by_value = {value: name for name, value in table.items()}
    out = [
        f"iam/{module}.py {name} is actions.{by_value[value]}"
        for module, sets in features.items()
        for name, value in sets.items()
        if value in by_value
    ]
    owners: dict[frozenset[str], list[str]] = defaultdict(list)
    for module, sets in features.items():
        for name, value in sets.items():
            owners[value].append(f"iam/{module}.py {name}")
    out += [f"one set, two modules: {', '.join(o)}" for o in owners.values() if len({x.split()[0] for x in o}) > 1]
    return sorted(out)


def test_no_feature_module_renames_a_set_of_the_table():
    assert offences(action_sets(actions), feature_sets()) == []


def test_a_renamed_or_shared_set_is_named():
    # GIVEN a module naming the table's S3_GET again, and two modules sharing one new set
    # WHEN checked THEN both are reported with their module and name
    features = feature_sets()
    features["governance"] = {**features["governance"], "OBJECT_READ": frozenset(actions.S3_GET)}
    features["catalog"] = {**features["catalog"], "X": frozenset({"codeguru:Hypothetical"})}
    features["stage"] = {**features["stage"], "Y": frozenset({"codeguru:Hypothetical"})}
    assert offences(action_sets(actions), features) == [
        "iam/governance.py OBJECT_READ is actions.S3_GET",
        "one set, two modules: iam/catalog.py X, iam/stage.py Y",
    ]


def test_the_kms_key_sets_live_in_the_table():
    assert {"KMS_ADMIN_ACTIONS", "KMS_USE_ACTIONS"} <= set(action_sets(actions))
