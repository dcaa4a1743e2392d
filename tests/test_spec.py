"""Tier 1: the spec model and its semantic checks."""

from __future__ import annotations

import json

import pytest

from mlgov.errors import SpecError
from mlgov.platform import naming
from mlgov.spec.located import load_yaml
from mlgov.spec.model import Layer, OrgSpec, json_schema
from mlgov.validation import parse_spec
from tests.conftest import ROOT

BASE = (ROOT / "org.yaml").read_text()


def parse(text: str) -> OrgSpec:
    return parse_spec(load_yaml(text, "spec.yaml"))


def problems(text: str) -> list[str]:
    with pytest.raises(SpecError) as info:
        parse(text)
    return [str(p) for p in info.value.problems]


def test_default_spec_is_valid_and_complete(default_spec):
    # GIVEN the shipped example org WHEN loaded THEN every layer is present
    assert default_spec.hub == "ml-shared-services"
    assert {ref.layer for ref in default_spec.stack_refs()} == set(Layer)
    assert [ref.name for ref in default_spec.stack_refs() if not ref.is_slice] == sorted(default_spec.accounts)
    # each team's slices: of the hub, and of each test and prod account it deploys to
    slices = {(ref.core, ref.team): ref.name for ref in default_spec.stack_refs() if ref.is_slice}
    assert slices == {
        (core, team): f"{core}-team-{team}"
        for core in ("ml-shared-services", "ml-test", "ml-prod")
        for team in ("churn", "fraud")
    }
    assert default_spec.terraform_role_arn("ml-test") == "arn:aws:iam::440000000005:role/mlgov-terraform"


def test_spec_is_frozen(default_spec):
    with pytest.raises(Exception):
        default_spec.organization.name = "other"


def test_schema_describes_every_field():
    schema = json_schema()
    missing = []
    for name, model in schema["$defs"].items():
        for field, body in model.get("properties", {}).items():
            if "description" not in body:
                missing.append(f"{name}.{field}")
    assert missing == []
    assert schema["additionalProperties"] is False


def test_reordering_mappings_changes_no_stack(default_spec):
    # GIVEN the accounts listed in reverse order WHEN parsed THEN the stack list is identical
    import yaml

    data = yaml.safe_load(BASE)
    data["accounts"] = dict(reversed(list(data["accounts"].items())))
    data["teams"] = dict(reversed(list(data["teams"].items())))
    reordered = parse(json.dumps(data))
    assert reordered.stack_refs() == default_spec.stack_refs()


def test_multi_region_account_gets_one_stack_per_region():
    text = BASE.replace(
        "    layer: dev\n    ou: ml-workloads\n    network: {cidr: 10.10.0.0/16}\n    description: Fraud",
        "    layer: dev\n    ou: ml-workloads\n    network: {cidr: 10.10.0.0/16}\n    regions: [eu-west-1, "
        "eu-central-1]\n    description: Fraud",
    )
    names = [ref.name for ref in parse(text).stack_refs()]
    # the home region keeps the account's own stack name: adding a region renames nothing
    assert "ml-dev-fraud" in names and "ml-dev-fraud-eu-central-1" in names
    assert "ml-dev-fraud-eu-west-1" not in names


def test_region_outside_allowed_regions():
    text = BASE.replace(
        "    layer: dev\n    ou: ml-workloads\n    network: {cidr: 10.10.0.0/16}\n    description: Fraud",
        "    layer: dev\n    ou: ml-workloads\n    network: {cidr: 10.10.0.0/16}\n    regions: [us-east-1]\n    "
        "description: Fraud",
    )
    assert problems(text) == [
        "spec.yaml:45: accounts.ml-dev-fraud.regions[0]: region is not in organization.allowed_regions "
        "(got 'us-east-1', expected one of ['eu-central-1', 'eu-west-1'])"
    ]


def test_two_teams_cannot_share_a_dev_account():
    text = BASE.replace("  churn:\n    dev_account: ml-dev-churn", "  churn:\n    dev_account: ml-dev-fraud")
    assert problems(text) == [
        "spec.yaml:75: teams.fraud.dev_account: dev account 'ml-dev-fraud' already belongs to team 'churn' (one dev "
        "account per team)"
    ]


def test_missing_required_field_points_at_parent():
    text = BASE.replace("  root_id: r-nw4a\n", "")
    assert problems(text) == ["spec.yaml:4: organization.root_id: required field is missing"]


def test_ou_parent_cycle():
    text = BASE.replace(
        "    infrastructure:\n      id: ou-nw4a-infra001\n",
        "    infrastructure:\n      id: ou-nw4a-infra001\n      parent: ml-workloads\n",
    ).replace(
        "    ml-workloads:\n      id: ou-nw4a-mlwork01\n",
        "    ml-workloads:\n      id: ou-nw4a-mlwork01\n      parent: infrastructure\n",
    )
    found = problems(text)
    assert any("OU parents form a cycle" in p for p in found), found


def test_reserved_aws_tag_key():
    text = BASE.replace("    managed-by: mlgov\n", "    aws:managed: mlgov\n")
    assert problems(text) == [
        "spec.yaml:13: organization.tags.aws:managed: tag keys starting with 'aws:' are reserved by AWS (got "
        "'aws:managed')"
    ]


def test_terraform_role_name_limit():
    # IAM role names stop at 64 characters; the plan role's name adds "-plan" to this one.
    line = BASE.splitlines().index("  role_name: mlgov-terraform") + 1  # org.yaml grows with every feature
    longest = 64 - len(naming.TERRAFORM_PLAN_SUFFIX)
    text = BASE.replace("  role_name: mlgov-terraform", "  role_name: " + "r" * longest)
    assert parse(text).terraform.role_name == "r" * longest
    text = BASE.replace("  role_name: mlgov-terraform", "  role_name: " + "r" * (longest + 1))
    assert problems(text) == [
        f"spec.yaml:{line}: terraform.role_name: derived iam role name '{'r' * (longest + 1)}-plan' is invalid "
        "(65 characters; expected 1-64 characters of A-Z a-z 0-9 +=,.@_-); shorten the name"
    ]
    text = BASE.replace("  role_name: mlgov-terraform", "  role_name: " + "r" * 65)
    found = problems(text)
    assert len(found) == 1 and found[0].startswith(f"spec.yaml:{line}: terraform.role_name: invalid value"), found


def test_region_check_uses_the_endpoint_prefixes_of_botocores_service_models():
    """known_regions() reads only the endpoint data; the prefixes it assumes must be the models'."""
    import botocore.session

    from mlgov.validation.checks import ENDPOINT_PREFIXES, REQUIRED_SERVICES, known_regions

    session = botocore.session.get_session()
    assert set(ENDPOINT_PREFIXES) == set(REQUIRED_SERVICES) - {"iam"}
    for service, prefix in ENDPOINT_PREFIXES.items():
        assert session.get_service_data(service)["metadata"].get("endpointPrefix", service) == prefix, service
    # Same answer as asking a full botocore session, service by service.
    via_session = set.intersection(*(set(session.get_available_regions(s)) for s in ENDPOINT_PREFIXES))
    assert known_regions() == via_session and "eu-west-1" in via_session


def test_the_hub_layers_earlier_name_still_reads_as_hub():
    # GIVEN a spec written before the rename (`layer: shared-services`)
    text = (ROOT / "org.yaml").read_text().replace("layer: hub", "layer: shared-services")
    assert "layer: shared-services" in text
    # WHEN it is parsed THEN the account is in the hub layer, like the renamed spec's
    old = parse_spec(load_yaml(text, "old.yaml"))
    new = parse_spec(load_yaml((ROOT / "org.yaml").read_text(), "org.yaml"))
    assert old.accounts[old.hub].layer is Layer.hub
    assert old.model_dump() == new.model_dump()


def test_a_renamed_teams_slice_state_clash_is_named_at_the_team():
    # GIVEN team churn renamed to retention (its slices keep churn's states, e.g.
    # ml-test-team-churn) and a new dev account whose key is that very state name
    import yaml

    data = yaml.safe_load(BASE)
    data["teams"]["retention"] = {"renamed_from": "churn", **data["teams"].pop("churn")}
    data["data"]["grants"]["retention"] = data["data"]["grants"].pop("churn")
    data["accounts"]["ml-test-team-churn"] = {**data["accounts"]["ml-dev-churn"], "id": "330000000009"}
    data["accounts"]["ml-test-team-churn"].pop("network", None)
    lines = [p.split(": ", 1)[1] for p in problems(yaml.safe_dump(data, sort_keys=False))]
    # THEN one line per clashing slice, at the team's renamed_from (not at an account's)
    assert lines == [
        "teams.retention.renamed_from: stack ml-test-team-retention would use the state of stack "
        "ml-test-team-churn (got state mlgov/ml-test-team-churn.tfstate twice, expected one state per stack)"
    ]


def test_derived_facts_are_per_spec_object_and_never_shared_with_a_copy(default_spec):
    # GIVEN the default spec, whose derived facts (staged teams, dev owners, layers) are memoized
    # per spec object WHEN a team's view (a model_copy) and a pickled copy are asked THEN each
    # answers for what it holds, not what the spec it was copied from answered first.
    import pickle

    from mlgov.synth.incremental import view

    full = dict(default_spec.staged_teams)
    assert full["ml-prod"] == ("churn", "fraud")
    one = view(default_spec, "fraud")
    assert dict(one.staged_teams) == {"ml-test": ("fraud",), "ml-prod": ("fraud",)}
    assert dict(one.dev_owners) == {"ml-dev-fraud": ("fraud",)}
    assert "ml-dev-churn" not in one.keys_in_layer(Layer.dev)
    assert dict(pickle.loads(pickle.dumps(default_spec)).staged_teams) == full  # noqa: S301 - our own bytes
    assert dict(default_spec.staged_teams) == full
