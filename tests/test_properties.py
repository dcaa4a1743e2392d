"""Property-based tests (hypothesis): generated valid specs synthesize deterministically, and
random mutations of a spec are accepted or refused with a SpecError, never another exception.

Example counts are small and derandomized so CI is reproducible and fast: a synthesis costs
seconds, a parse microseconds.
"""

from __future__ import annotations

import copy
import json
import os

import pytest
import yaml
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from mlgov.errors import SpecError
from mlgov.review import security, terraform
from mlgov.spec.located import load_yaml
from mlgov.spec.model import Layer, OrgSpec
from mlgov.validation import parse_spec
from tests import modules_root
from tests.conftest import ROOT

BASE = yaml.safe_load((ROOT / "org.yaml").read_text())

names = st.from_regex(r"\A[a-z][a-z0-9]{1,10}\Z")
FIXED = {
    "management": ("management", "root"),
    "hub": ("hub", "infrastructure"),
    "test": ("test", "ml-deployment"),
    "prod": ("prod", "ml-deployment"),
}


@st.composite
def valid_specs(draw):
    """An org with 1-4 teams, each with its own dev account and a test (+ prod) path."""
    teams = draw(st.lists(names, min_size=1, max_size=4, unique=True))
    ids = draw(st.lists(st.from_regex(r"\A[0-9]{12}\Z"), min_size=len(teams) + 4, max_size=len(teams) + 4, unique=True))
    accounts = {key: {"id": ids[i], "layer": layer, "ou": ou} for i, (key, (layer, ou)) in enumerate(FIXED.items())}
    accounts["test"]["network"] = {"cidr": "10.1.0.0/16"}
    accounts["prod"]["network"] = {"cidr": "10.2.0.0/16"}
    spec_teams = {}
    for i, team in enumerate(teams):
        accounts[f"dev-{team}"] = {
            "id": ids[4 + i],
            "layer": "dev",
            "ou": "ml-workloads",
            "network": {"cidr": f"10.{10 + i}.0.0/16"},
        }
        stages = [{"name": "test", "account": "test"}]
        if draw(st.booleans()):
            stages.append({"name": "prod", "account": "prod", "manual_approval": True})
        spec_teams[team] = {"dev_account": f"dev-{team}", "stages": stages}
    org = copy.deepcopy(BASE["organization"])
    org["management_account"] = "management"
    org["name"] = draw(st.from_regex(r"\A[a-z][a-z0-9]{1,6}\Z"))
    org["home_region"] = draw(st.sampled_from(org["allowed_regions"]))
    return {"organization": org, "accounts": accounts, "teams": spec_teams, "terraform": BASE["terraform"]}


def _parse(data):
    return parse_spec(load_yaml(yaml.safe_dump(data, sort_keys=False), "<hypothesis>"))


@settings(
    max_examples=3,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(valid_specs())
def test_valid_specs_synthesize_deterministically_and_securely(render_spec, data):
    # GIVEN a generated valid spec WHEN rendered twice THEN identical bytes, one stack per
    # account, and mlgov's security assertions hold
    text = yaml.safe_dump(data, sort_keys=False)
    first = render_spec(text)
    assert render_spec(text) == first
    stacks = {p.split("/")[1] for p in first if p.startswith("stacks/")}
    refs = _parse(data).stack_refs()
    assert stacks == {ref.name for ref in refs}
    # one core stack per account; the team slices besides, of the hub and the stage accounts
    assert {ref.name for ref in refs if not ref.is_slice} == set(data["accounts"])
    assert {ref.layer for ref in refs if ref.is_slice} <= {Layer.hub, Layer.test, Layer.prod}
    assert not security.check_tree(first)


def _paths(value, path=()):
    yield path
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, path + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, path + (i,))


ALL_PATHS = [p for p in _paths(BASE) if p]
junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**13), 10**13),
    st.floats(allow_nan=False),
    st.text(max_size=30),
    st.sampled_from(["${x}", "%{x}", "{{x}}", "aws:x", "ml-test", "eu-west-1", "", "0" * 12]),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


def _set(data, path, value):
    target = data
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value


def _delete(data, path):
    target = data
    for part in path[:-1]:
        target = target[part]
    del target[path[-1]]


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(ALL_PATHS), st.sampled_from(["set", "delete", "add"]), junk, st.text(min_size=1, max_size=8)
        ),
        min_size=1,
        max_size=3,
    )
)
def test_mutated_spec_is_accepted_or_refused_cleanly(mutations):
    data = copy.deepcopy(BASE)
    for path, op, value, key in mutations:
        try:
            if op == "set":
                _set(data, path, value)
            elif op == "delete":
                _delete(data, path)
            else:
                parent = data
                for part in path:
                    parent = parent[part]
                if isinstance(parent, dict):
                    parent[key] = value
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed or replaced the path
    try:
        _parse(data)
    except SpecError as exc:
        assert exc.problems and all(str(p).strip() and "\n" not in str(p) for p in exc.problems)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(st.data())
def test_corrupted_bytes_are_accepted_or_refused_cleanly(data):
    raw = bytearray((ROOT / "org.yaml").read_bytes())
    for _ in range(data.draw(st.integers(1, 4))):
        op = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        at = data.draw(st.integers(0, len(raw) - 1))
        if op == "flip":
            raw[at] = data.draw(st.integers(0, 255))
        elif op == "cut":
            del raw[at:]
            if not raw:
                break
        else:
            raw[at:at] = data.draw(
                st.sampled_from([b":", b"- ", b"\t", b"&a ", b"*a", b"!!", b"{", b"'", b"\n  x: 1\n", b"\xff"])
            )
    try:
        parse_spec(load_yaml(bytes(raw), "<corrupt>"))
    except SpecError as exc:
        assert exc.problems and all("\n" not in str(p) for p in exc.problems)


# Names that collapse into each other when joined (team + group) or reduced to an address
# (role patterns, tag keys): the space where "validates" and "synthesizes" could disagree.
TEAM_NAMES = ["ab", "ab-cd", "cd", "fraud", "fraud-card"]
GROUP_NAMES = ["cd", "ab-cd", "card-scoring", "scoring", "models"]
ROLE_PATTERNS = ["*sagemaker*", "sagemaker", "*ml-admin*", "ml-admin?", "Sage*"]
TAG_KEYS = ["Team", "team", "cost-center", "cost_center", "mlgov:portfolio"]
# Data grants of every shape, and tables whose names collapse into each other's addresses
# (``a`` + ``b__c`` and ``a__b`` + ``c`` join to one ``__`` address).
GRANT_SHAPES = [
    {"database": "payments"},
    {"database": "payments", "table": "transactions"},
    {"database": "payments", "table": "cardholders", "columns": ["card_id", "country"]},
    {"lf_tags": {"domain": ["payments"]}},
    {"lf_tags": {"sensitivity": ["confidential"], "domain": ["payments", "customers"]}},
    {"feature_group": "customer-activity"},
    {"database": "a", "table": "b__c"},
    {"database": "a__b", "table": "c"},
]
COLLIDING_DATABASES = {
    "a": {"tables": {"b__c": {"columns": [{"name": "x", "type": "string"}]}}},
    "a__b": {"tables": {"c": {"columns": [{"name": "x", "type": "string"}]}}},
}
GUARDRAILS = ["region_restriction", "sagemaker_vpc_kms", "sagemaker_domain_vpc_only", "deny_leave_organization"]


@st.composite
def spec_space(draw):
    """Specs across the spec space: service catalog (role patterns, tag options), accounts in
    one or two regions, the management options and guardrails, governance settings, team
    and group names chosen to collide when joined, renames (teams, dev accounts, a portfolio) and the
    data section (grants of every shape, with or without the feature store, tables whose addresses
    collide)."""
    data = copy.deepcopy(BASE)
    regions = data["organization"]["allowed_regions"]
    teams = draw(st.lists(st.sampled_from(TEAM_NAMES), min_size=1, max_size=3, unique=True))
    ids = iter(f"{n:012d}" for n in range(500000000001, 500000000100))
    accounts = {k: v for k, v in data["accounts"].items() if v["layer"] != "dev"}
    for key in ("ml-shared-services", "ml-test"):
        if draw(st.booleans()):
            accounts[key] = {**accounts[key], "regions": list(regions)}
    data["teams"] = {}
    for team in teams:
        dev = f"dev-{team}"
        cidr = f"10.{50 + len(data['teams'])}.0.0/16"
        accounts[dev] = {"id": next(ids), "layer": "dev", "ou": "ml-workloads", "network": {"cidr": cidr}}
        if draw(st.booleans()):
            accounts[dev]["regions"] = draw(st.sampled_from([regions, regions[1:]]))
        stages = [{"name": "test", "account": "ml-test"}]
        if draw(st.booleans()):
            stages.append({"name": "prod", "account": "ml-prod", "manual_approval": True})
        groups = draw(st.lists(st.sampled_from(GROUP_NAMES), min_size=1, max_size=2, unique=True))
        data["teams"][team] = {"dev_account": dev, "stages": stages, "governance": {"model_package_groups": groups}}
        if draw(st.booleans()):  # renamed: from a name that may collide with another team's
            data["teams"][team]["renamed_from"] = draw(st.sampled_from(TEAM_NAMES + ["old"]))
        if draw(st.booleans()):
            accounts[dev]["renamed_from"] = draw(st.sampled_from([f"dev-{t}" for t in TEAM_NAMES] + ["dev-old"]))
    data["accounts"] = accounts
    management = data["management"]
    # the break-glass role exempt nowhere, in the hub, or in the management account (no workload
    # account may be exempt: validate refuses it)
    management["guardrails"]["exempt_accounts"] = draw(st.sampled_from([[], ["ml-shared-services"], ["management"]]))
    for flag in ("own_ous", "service_catalog_access", "stacksets_delegated_admin"):
        management[flag] = draw(st.booleans())
    for name in GUARDRAILS:
        management["guardrails"][name]["enabled"] = draw(st.booleans())
    if draw(st.booleans()):
        del data["governance"]
    if draw(st.booleans()):
        del data["data"]
    else:
        lake = data["data"]
        for name in draw(st.lists(st.sampled_from(sorted(COLLIDING_DATABASES)), max_size=2, unique=True)):
            lake["databases"][name] = copy.deepcopy(COLLIDING_DATABASES[name])
        if draw(st.booleans()):
            del lake["feature_store"]
        if draw(st.booleans()):
            accounts["data-lake"] = {**accounts["data-lake"], "regions": list(regions)}
        lake["grants"] = {
            team: draw(st.lists(st.sampled_from(GRANT_SHAPES), max_size=3, unique_by=repr))
            for team in teams
            if draw(st.booleans())
        }
    if draw(st.booleans()):
        del data["service_catalog"]
    else:
        portfolios = data["service_catalog"]["portfolios"]
        portfolio = portfolios[draw(st.sampled_from(sorted(portfolios)))]
        portfolio["role_patterns"] = draw(st.lists(st.sampled_from(ROLE_PATTERNS), min_size=1, max_size=3, unique=True))
        keys = draw(st.lists(st.sampled_from(TAG_KEYS), max_size=3, unique=True))
        portfolio["tag_options"] = dict.fromkeys(keys, "x")
        if draw(st.booleans()):
            portfolio["renamed_from"] = draw(st.sampled_from(sorted(portfolios) + ["old-portfolio"]))
    return data


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(spec_space())
def test_every_spec_validate_accepts_synthesizes(render_spec, data):
    # GIVEN a spec from anywhere in the spec space WHEN validate accepts it
    text = yaml.safe_dump(data, sort_keys=False)
    try:
        spec = _parse(data)
    except SpecError as exc:
        # (a refusal is one clean line per problem)
        assert all("\n" not in str(p) for p in exc.problems)
        event("refused")
        return
    event("accepted")
    if "renamed_from" in text:
        event("accepted with a rename")
    # THEN synthesis succeeds with one stack per account and region
    tree = render_spec(text)
    stacks = {p.split("/")[1] for p in tree if p.startswith("stacks/") and p.endswith("/cdk.tf.json")}
    assert stacks == {ref.name for ref in spec.stack_refs()}


# -- every documented option, combined -------------------------------------------------------
# Drawn from mlgov/examples/kitchen-sink.yaml (every option on) by switching options off, changing
# them or adding ones validate refuses: validate => synth must hold for every combination, and
# terraform validate for a few. Few examples on CI (profile "mlgov-ci"); set
# MLGOV_HYPOTHESIS_PROFILE=mlgov-thorough for many more.
KITCHEN_SINK = yaml.safe_load((ROOT / "mlgov" / "examples" / "kitchen-sink.yaml").read_text())
settings.register_profile(
    "mlgov-ci",
    max_examples=3,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.register_profile(
    "mlgov-thorough",
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
OPTIONS_PROFILE = settings.get_profile(os.environ.get("MLGOV_HYPOTHESIS_PROFILE", "mlgov-ci"))


@st.composite
def option_specs(draw):
    """The kitchen sink with options switched off, changed or combined differently."""
    data = copy.deepcopy(KITCHEN_SINK)
    accounts, teams = data["accounts"], data["teams"]
    pricing = teams["pricing"]
    # organization and management
    management = data["management"]
    management["own_ous"] = draw(st.booleans())
    management["adopt_ous"] = management["own_ous"] and draw(st.booleans())
    for flag in ("service_catalog_access", "stacksets_delegated_admin"):
        management[flag] = draw(st.booleans())
    for name in (*GUARDRAILS, "protect_audit"):
        management["guardrails"][name]["enabled"] = draw(st.booleans())
    # accounts: regions, networks (created or adopted, defaults or per account), sources
    if draw(st.booleans()):
        accounts["dev-pricing"]["regions"] = ["eu-west-1"]  # (only the lake's region: the data grants)
    if draw(st.booleans()):  # the adopted network becomes a created one
        accounts["dev-demand"]["network"] = {"cidr": "10.43.0.0/16"}
    for key in ("dev-vision", "dev-search", "serving-test", "serving-prod"):
        net = accounts[key]["network"]
        for flag in ("egress", "flow_logs"):  # (a created network always has its endpoints)
            if draw(st.booleans()):
                net[flag] = draw(st.booleans())
    for layer in ("dev", "test", "prod"):
        if draw(st.booleans()):
            data["network_defaults"].pop(layer, None)
    # service catalog versions first: what they offer decides which other options are coherent
    catalog = data["service_catalog"]
    studio, projects = catalog["portfolios"]["studio"], catalog["portfolios"]["projects"]
    sso = draw(st.booleans())
    studio["products"]["domain"]["parameters"]["AuthMode"] = "SSO" if sso else "IAM"
    profile_versions = studio["products"]["profile"]["versions"]
    if not sso or rare(draw):  # an SSO domain with no SSO-capable profile version: refused
        studio["products"]["profile"]["versions"] = profile_versions[: draw(st.integers(1, len(profile_versions)))]
    build_versions = projects["products"]["build"]["versions"]
    projects["products"]["build"]["versions"] = build_versions[: draw(st.integers(1, len(build_versions)))]
    builds_from_git = len(projects["products"]["build"]["versions"]) == len(build_versions)
    for key in ("dev-pricing", "dev-demand", "dev-vision", "dev-search"):
        if (not builds_from_git or rare(draw)) and draw(st.booleans()):
            del accounts[key]["source"]  # refused while model-build v3 is offered
    # teams: rename, approvals, a second prod, governance
    if draw(st.booleans()):
        del teams["demand"]["renamed_from"]
    pricing["stages"][0]["manual_approval"] = draw(st.booleans())
    if draw(st.booleans()):  # pricing deploys to one prod only
        pricing["stages"] = pricing["stages"][:2]
        pricing["governance"]["endpoints"].pop("prod-eu")
        pricing["governance"]["monitoring"]["stages"].remove("prod-eu")
        pricing["governance"]["batch"]["elasticity"]["stages"] = ["prod"]
    monitoring = pricing["governance"]["monitoring"]
    if draw(st.booleans()):
        monitoring["drift_features"] = {}
    if draw(st.booleans()):
        monitoring["stages"] = [s for s in monitoring["stages"] if s != "test"]
    monitoring["schedule"] = draw(st.sampled_from(["hourly", "daily", "cron(0 2 * * ? *)"]))
    if draw(st.booleans()):
        pricing["governance"]["batch"] = {}
    if rare(draw):  # refused until model-build registers their baselines
        if draw(st.booleans()):
            monitoring["model_quality"] = {"problem_type": "BinaryClassification", "metric": "auc"}
        else:
            monitoring["bias"] = {}
    # data: grants of every shape, or none, or no data section
    lake = data["data"]
    if draw(st.booleans()):
        lake["grants"] = {
            team: draw(st.lists(st.sampled_from(GRANT_SHAPES_KS), max_size=3, unique_by=repr))
            for team in sorted(teams)
            if draw(st.booleans())
        }
    if draw(st.integers(0, 5)) == 5:
        del data["data"]
    if draw(st.booleans()):
        del studio["renamed_from"]
    if draw(st.integers(0, 5)) == 5:
        del data["service_catalog"]
    return data


def rare(draw) -> bool:
    """True about one time in eight: an option combination validate must refuse."""
    return draw(st.integers(0, 7)) == 7  # (not 0: the simplest example hypothesis draws is all zeros)


GRANT_SHAPES_KS = [
    {"database": "sales"},
    {"database": "sales", "table": "receipts"},
    {"database": "sales", "table": "customers", "columns": ["zip", "customer_id"]},
    {"database": "catalog"},
    {"lf_tags": {"domain": ["images"], "sensitivity": ["public", "internal"]}},
    {"lf_tags": {"domain": ["sales", "catalog"]}},
    {"feature_group": "store-traffic"},
]


def _accepted(data) -> OrgSpec | None:
    """The parsed spec, or None when validate refuses it (one clean line per problem)."""
    try:
        spec = _parse(data)
    except SpecError as exc:
        assert exc.problems and all(str(p).strip() and "\n" not in str(p) for p in exc.problems)
        event("refused")
        return None
    event("accepted")
    return spec


@settings(OPTIONS_PROFILE)
@given(option_specs())
def test_every_option_combination_validate_accepts_synthesizes(render_spec, data):
    # GIVEN a combination of the documented options WHEN validate accepts it
    spec = _accepted(data)
    if spec is None:
        return
    # THEN it synthesizes, twice to the same bytes, one stack per account and region, and
    # mlgov's security assertions hold
    text = yaml.safe_dump(data, sort_keys=False)
    tree = render_spec(text)
    assert render_spec(text) == tree
    stacks = {p.split("/")[1] for p in tree if p.startswith("stacks/") and p.endswith("/cdk.tf.json")}
    assert stacks == {ref.name for ref in spec.stack_refs()}
    assert not security.check_tree(tree)


@pytest.mark.terraform
@settings(OPTIONS_PROFILE, max_examples=max(1, OPTIONS_PROFILE.max_examples // 4))
@given(option_specs())
def test_option_combinations_pass_terraform_validate(render_spec, tf_cli_config, tmp_path_factory, data):
    # GIVEN a combination of the documented options that validate accepts, synthesized
    spec = _accepted(data)
    assume(spec is not None)
    assert spec is not None
    tree = render_spec(yaml.safe_dump(data, sort_keys=False))
    out = tmp_path_factory.mktemp("options")
    for path, body in tree.items():
        (out / path).parent.mkdir(parents=True, exist_ok=True)
        (out / path).write_bytes(body)
    # WHEN terraform validates every stack THEN each is valid
    names = [ref.name for ref in spec.stack_refs()]
    alone = modules_root.with_imports(out, names)
    for name in alone:  # import blocks are allowed in a root module only
        ws = terraform.Workspace(out / "stacks" / name, out / "work" / name, tf_cli_config)
        init = ws.init()
        assert init.ok, f"{name}: {init.stderr}"
        result = ws.validate()
        assert result.ok and json.loads(result.stdout)["valid"], f"{name}: {result.stdout}"
    together = [name for name in names if name not in alone]
    diagnostics = modules_root.validate_as_modules(out, together, tf_cli_config)
    assert not [d for d in diagnostics if d["severity"] == "error"], json.dumps(diagnostics, indent=1)


@pytest.mark.terraform
def test_validating_stacks_as_modules_names_a_broken_one(tf_cli_config, tmp_path):
    # GIVEN two committed stacks, one with an argument its resource does not have
    for name in ("ml-dev-churn", "ml-test"):
        (tmp_path / "stacks" / name).mkdir(parents=True)
        doc = json.loads((ROOT / "generated" / "stacks" / name / "cdk.tf.json").read_text())
        if name == "ml-test":
            next(iter(doc["resource"]["aws_s3_bucket"].values()))["no_such_argument"] = True
        (tmp_path / "stacks" / name / "cdk.tf.json").write_text(json.dumps(doc))
    # WHEN they are validated as the modules of one root THEN the error names the broken stack's file
    diagnostics = modules_root.validate_as_modules(tmp_path, ["ml-dev-churn", "ml-test"], tf_cli_config)
    errors = [d for d in diagnostics if d["severity"] == "error"]
    assert errors and {d["range"]["filename"] for d in errors} == {"../stacks/ml-test/cdk.tf.json"}, errors
    assert "no_such_argument" in errors[0]["detail"]
