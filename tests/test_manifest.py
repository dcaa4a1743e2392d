"""The stack manifest, atlantis.yaml and the graph: derived from the spec, ordered, valid."""

from __future__ import annotations

import json
import re

import yaml

from mlgov.platform import manifest
from mlgov.review import graph
from mlgov.spec.model import Layer
from tests.conftest import ROOT

# Atlantis repo-level config, version 3, as documented (runatlantis.io "Repo Level
# atlantis.yaml Config": top-level keys, Project and Autoplan tables; depends_on since v0.27).
ATLANTIS_TOP_KEYS = {
    "version",
    "automerge",
    "autodiscover",
    "delete_source_branch_on_merge",
    "parallel_plan",
    "parallel_apply",
    "abort_on_execution_order_fail",
    "projects",
    "workflows",
    "allowed_regexp_prefixes",
}
ATLANTIS_PROJECT_KEYS = {
    "name",
    "branch",
    "dir",
    "workspace",
    "execution_order_group",
    "delete_source_branch_on_merge",
    "repo_locking",
    "repo_locks",
    "custom_policy_check",
    "autoplan",
    "terraform_version",
    "terraform_distribution",
    "plan_requirements",
    "apply_requirements",
    "import_requirements",
    "workflow",
    "silence_pr_comments",
    "depends_on",
}
ATLANTIS_AUTOPLAN_KEYS = {"enabled", "when_modified"}


def atlantis_problems(doc) -> list[str]:
    """What Atlantis would refuse in a repo config (the documented version-3 schema)."""
    problems = []
    if not isinstance(doc, dict):
        return ["top level must be a mapping"]
    problems += [f"unknown top-level key {k!r}" for k in sorted(set(doc) - ATLANTIS_TOP_KEYS)]
    if doc.get("version") != 3:
        problems.append(f"version must be 3 (got {doc.get('version')!r})")
    for key in ("automerge", "parallel_plan", "parallel_apply"):
        if key in doc and not isinstance(doc[key], bool):
            problems.append(f"{key} must be a boolean")
    projects = doc.get("projects")
    if not isinstance(projects, list) or not projects:
        return problems + ["projects must be a non-empty list"]
    names = [p.get("name") for p in projects]
    seen_dirs = set()
    for p in projects:
        where = f"project {p.get('name')!r}"
        problems += [f"{where}: unknown key {k!r}" for k in sorted(set(p) - ATLANTIS_PROJECT_KEYS)]
        if not isinstance(p.get("dir"), str) or not p["dir"] or p["dir"].startswith("/") or ".." in p["dir"].split("/"):
            problems.append(f"{where}: dir is required, relative to the repo root")
        if not isinstance(p.get("name"), str) or not re.fullmatch(r"[\w./-]+", p["name"]):
            problems.append(f"{where}: name must be a non-empty string without spaces")
        key = (p.get("dir"), p.get("workspace", "default"))
        if key in seen_dirs:
            problems.append(f"{where}: dir and workspace used twice")
        seen_dirs.add(key)
        if "execution_order_group" in p and not isinstance(p["execution_order_group"], int):
            problems.append(f"{where}: execution_order_group must be an int")
        auto = p.get("autoplan", {})
        problems += [f"{where}: unknown autoplan key {k!r}" for k in sorted(set(auto) - ATLANTIS_AUTOPLAN_KEYS)]
        if not isinstance(auto.get("enabled", True), bool):
            problems.append(f"{where}: autoplan.enabled must be a boolean")
        wm = auto.get("when_modified", [])
        if not isinstance(wm, list) or not all(isinstance(x, str) and x for x in wm):
            problems.append(f"{where}: autoplan.when_modified must be a list of patterns")
        for dep in p.get("depends_on", []):
            if dep not in names:
                problems.append(f"{where}: depends_on names unknown project {dep!r}")
            if dep == p.get("name"):
                problems.append(f"{where}: depends on itself")
    if len(set(names)) != len(names):
        problems.append("project names must be unique")
    return problems


def is_topological(order: list[str], deps: dict[str, list[str]]) -> bool:
    position = {name: i for i, name in enumerate(order)}
    return set(order) == set(deps) and all(position[d] < position[s] for s, ds in deps.items() for d in ds)


def test_manifest_in_generated_is_derived_from_the_spec(tree, default_spec):
    # GIVEN the rendered tree WHEN reading the manifest THEN it names every stack once, with its state
    doc = json.loads(tree["mlgov-manifest.json"])
    names = [s["name"] for s in doc["stacks"]]
    assert sorted(names) == sorted(r.name for r in default_spec.stack_refs())
    assert doc["order"] == names
    churn = next(s for s in doc["stacks"] if s["name"] == "ml-dev-churn")
    assert churn["account_id"] == default_spec.accounts["ml-dev-churn"].id
    assert churn["backend"] == {
        "bucket": "nwa-terraform-state-110000000001",
        "key": "mlgov/ml-dev-churn.tfstate",
        "region": "eu-west-1",
    }
    assert churn["depends_on"] == ["data-lake", "ml-shared-services"]
    # backend keys are exactly those in the stacks' own backend blocks
    for stack in doc["stacks"]:
        backend = json.loads(tree[f"{stack['directory']}/cdk.tf.json"])["terraform"]["backend"]["s3"]
        assert backend["key"] == stack["backend"]["key"] and backend["bucket"] == stack["backend"]["bucket"]


def test_manifest_order_is_topological_management_hub_then_workloads(default_spec):
    doc = manifest.manifest(default_spec)
    deps = {s["name"]: s["depends_on"] for s in doc["stacks"]}
    assert is_topological(doc["order"], deps)
    layer = {s["name"]: s["layer"] for s in doc["stacks"]}
    assert deps["ml-shared-services"] == ["management"]
    assert deps["data-lake"] == ["management"]
    core = {ref.name: ref.core for ref in default_spec.stack_refs()}
    for name in doc["order"]:
        if core[name] != name:
            # a team's slice follows its account's core stack, and nothing else
            assert deps[name] == [core[name]], name
        elif layer[name] in {"dev", "test", "prod"}:
            # the dev accounts' resource links and grants need the lake's grants to them
            assert deps[name] == ["data-lake", "ml-shared-services"]
    assert deps["ml-shared-services-team-fraud"] == ["ml-shared-services"]
    assert deps["ml-prod-team-churn"] == ["ml-prod"]
    # a reversed order is caught by the checker itself
    assert not is_topological(list(reversed(doc["order"])), deps)


def test_two_region_hub_precedes_every_workload_stack():
    from mlgov.spec.located import load_yaml
    from mlgov.validation import parse_spec

    data = yaml.safe_load((ROOT / "org.yaml").read_text())
    # GIVEN a spec whose hub layer has two regions THEN both hub stacks precede every workload stack
    data["accounts"]["ml-shared-services"]["regions"] = ["eu-west-1", "eu-central-1"]
    spec = parse_spec(load_yaml(yaml.safe_dump(data), "<two-region-hub>"))
    doc = manifest.manifest(spec)
    deps = {s["name"]: s["depends_on"] for s in doc["stacks"]}
    hubs = [s["name"] for s in doc["stacks"] if s["layer"] == Layer.hub.value and "-team-" not in s["name"]]
    assert len(hubs) == 2 and is_topological(doc["order"], deps)
    # the teams' slices of the hub are in the home region only, after its core stack
    assert deps["ml-shared-services-team-fraud"] == ["ml-shared-services"]
    assert "ml-shared-services-eu-central-1-team-fraud" not in deps
    assert deps["ml-prod"] == sorted([*hubs, "data-lake"])


def test_atlantis_yaml_matches_the_atlantis_schema_and_the_manifest(tree, default_spec):
    doc = yaml.safe_load(tree["atlantis.yaml"])
    assert atlantis_problems(doc) == []
    projects = {p["name"]: p for p in doc["projects"]}
    order = manifest.manifest(default_spec)["order"]
    assert [p["name"] for p in doc["projects"]] == order
    for stack in manifest.manifest(default_spec)["stacks"]:
        project = projects[stack["name"]]
        assert project["dir"] == f"generated/{stack['directory']}"
        assert (ROOT / project["dir"] / "cdk.tf.json").is_file()
        assert project.get("depends_on", []) == stack["depends_on"]
        assert project["autoplan"]["enabled"] is True and "*.tf.json" in project["autoplan"]["when_modified"]


def test_atlantis_checker_rejects_what_atlantis_rejects():
    assert "version must be 3 (got 2)" in atlantis_problems({"version": 2, "projects": [{"dir": "a", "name": "a"}]})
    bad = {
        "version": 3,
        "projects": [{"name": "a", "dir": "x", "autoplan": {"when": []}, "depends_on": ["b"], "dirr": 1}],
    }
    assert atlantis_problems(bad) == [
        "project 'a': unknown key 'dirr'",
        "project 'a': unknown autoplan key 'when'",
        "project 'a': depends_on names unknown project 'b'",
    ]


def test_atlantis_command_writes_and_checks(tmp_path):
    from click.testing import CliRunner

    from mlgov.cli import cli

    out = tmp_path / "atlantis.yaml"
    runner = CliRunner()
    first = runner.invoke(cli, ["atlantis", str(ROOT / "org.yaml"), "--out", str(out)])
    assert first.exit_code == 0, first.output
    assert atlantis_problems(yaml.safe_load(out.read_text())) == []
    assert runner.invoke(cli, ["atlantis", str(ROOT / "org.yaml"), "--out", str(out), "--check"]).exit_code == 0
    out.write_text(out.read_text() + "# edited\n")
    assert runner.invoke(cli, ["atlantis", str(ROOT / "org.yaml"), "--out", str(out), "--check"]).exit_code == 1


def test_graph_shows_ous_stacks_event_flow_and_stages(default_spec):
    g = graph.build(default_spec)
    groups = {x["id"]: x for x in g.groups}
    # accounts sit in their OU
    assert groups["acct_ml_dev_fraud"]["parent"] == "ou_ml_workloads"
    assert groups["acct_management"]["parent"] == "root"
    # one stack node per stack, in its account
    stacks = [n for n in g.nodes if n["kind"] == "stack"]
    assert len(stacks) == len(default_spec.stack_refs())
    edges = {(e["from"], e["to"]): e for e in g.edges}
    # the approval flow of every team, through the hub, to its stages in order
    for team, spec_team in default_spec.teams.items():
        assert ("dev_" + team + "_registry", "hub_bus") in edges
        previous = f"pipeline_{team}"
        for stage in spec_team.stages:
            node = f"stage_{team}_{stage.name}"
            assert edges[(previous, node)]["label"] == ("manual approval" if stage.manual_approval else "deploy")
            assert next(n for n in g.nodes if n["id"] == node)["group"] == "acct_" + stage.account.replace("-", "_")
            previous = node
    assert ("hub_bus", "hub_promotion") in edges and ("hub_promotion", "hub_registry") in edges


def test_graph_formats_render_the_same_graph(default_spec):
    g = graph.build(default_spec)
    mm = graph.render(default_spec, "mermaid")
    dt = graph.render(default_spec, "dot")
    js = json.loads(graph.render(default_spec, "json"))
    assert mm.startswith("flowchart LR\n") and dt.startswith("digraph mlgov {")
    lines = mm.splitlines()
    arrows = [line for line in lines if re.match(r"^\s+\w+ (-->|==>|-\.->)", line)]
    assert len(js["edges"]) == len(g.edges) == len(arrows) == dt.count(" -> ")
    for node in g.nodes:
        assert node["id"] in mm and node["id"] in dt
    assert dt.count("{") == dt.count("}")
    assert (
        sum(1 for line in lines if line.strip().startswith("subgraph "))
        == sum(1 for line in lines if line.strip() == "end")
        == len(g.groups)
    )


def test_review_docs_embed_the_default_specs_mermaid(default_spec):
    page = (ROOT / "docs" / "review.md").read_text()
    assert "```mermaid\n" + graph.render(default_spec, "mermaid") + "```" in page
