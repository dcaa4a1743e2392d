"""mlgov serving a platform team's own repository (not mlgov's checkout).

GIVEN a spec in a folder of its own (tmp_path), sometimes beside templates/ and released/
WHEN mlgov's commands run on it (in process, or as ``python main.py`` subprocesses)
THEN own templates are used before the shipped ones, released copies come only from the spec's
     own organization, the spec is found through --spec or cdktf.json, input that is not a plan
     and missing tools end in one line with the documented exit code, synth reports each stack
     as it goes, and every message names the ``mlgov`` command.

The wheel installed outside the checkout (``mlgov init``, an own product, the pipelines' shell
steps) is tests/test_packaging.py's.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import mlgov
from mlgov.cli import cli
from mlgov.cli import init as initcmd
from mlgov.errors import SpecError
from mlgov.platform import naming, templates, workflows
from mlgov.platform.catalog import released_changes, render_products
from mlgov.spec.located import load_yaml
from mlgov.validation import load_spec, parse_spec

ROOT = Path(__file__).resolve().parent.parent
ORG = (ROOT / "org.yaml").read_text(encoding="utf-8")
STUDIO_V1 = "products/ml-admin/studio-domain/v1.yaml"

OWN_PRODUCT = """\
        team-bucket:
          display_name: Team bucket
          description: An encrypted bucket of the platform team's own design.
          template: team-bucket
          owner: Acme ML Platform
          support_email: ml-platform@acme.example
          versions:
            - name: v1
              description: First release.
"""
OWN_TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Description: {{ description | quote }}
Resources:
  OwnTeamBucket:
    Type: AWS::S3::Bucket
    Properties:
      BucketEncryption:
        ServerSideEncryptionConfiguration:
          - ServerSideEncryptionByDefault:
              SSEAlgorithm: aws:kms
"""


def with_own_product(text: str) -> str:
    """``text`` (Northwind's spec) with a product of template ``team-bucket`` in ml-admin."""
    anchor = "      products:\n        studio-domain:\n"
    assert anchor in text
    return text.replace(anchor, "      products:\n" + OWN_PRODUCT + "        studio-domain:\n", 1)


def as_org(text: str, name: str, org_id: str) -> str:
    """Northwind's spec under another organization name and id (every key kept)."""
    head = "organization:\n  name: nwa\n  id: o-nw4a8k2j6q\n"
    assert head in text
    return text.replace(head, f"organization:\n  name: {name}\n  id: {org_id}\n", 1)


def run_main(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


# --- summarize: input that is not a plan --------------------------------------------------


@pytest.mark.parametrize("content", ["{}", "cdk.tf.json", "[]", "not json"])
def test_summarize_refuses_what_is_not_a_plan_with_one_line_and_exit_2(tmp_path, content):
    # GIVEN a file that is not `terraform show -json` output: empty object, a stack's own JSON, ...
    path = tmp_path / "hub.json"
    if content == "cdk.tf.json":
        path.write_bytes((ROOT / "generated/stacks/ml-shared-services/cdk.tf.json").read_bytes())
    else:
        path.write_text(content)
    # WHEN summarized THEN exit 2 and one line naming the file, never "No changes"
    result = CliRunner().invoke(cli, ["summarize", str(path)])
    assert result.exit_code == 2, result.output
    (line,) = result.output.splitlines()
    assert line.startswith(f"error: {path}: not a terraform plan JSON document"), line


def test_summarize_still_reads_a_plan_without_changes(tmp_path):
    path = tmp_path / "quiet.json"
    path.write_text(json.dumps({"format_version": "1.2", "planned_values": {"root_module": {}}}))
    result = CliRunner().invoke(cli, ["summarize", str(path)])
    assert result.exit_code == 0, result.output


# --- missing tools: one line, exit 3 --------------------------------------------------------


@pytest.fixture
def no_tools_env(tmp_path):
    """An environment whose PATH holds no program at all (Python is run by its full path)."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in {"JSII_NODE", "MLGOV_TERRAFORM"}}
    env["PATH"] = str(empty)
    env["PYTHONPATH"] = str(ROOT)
    return env


@pytest.mark.slow  # starts a process
def test_synth_without_node_is_one_line_and_exit_3(tmp_path, no_tools_env):
    result = run_main("synth", str(ROOT / "org.yaml"), "--out", str(tmp_path / "out"), env=no_tools_env)
    assert result.returncode == 3, result.stderr
    assert result.stderr.splitlines() == [
        "error: Node.js not found ('node' is not on PATH); synth needs Node.js 20 or later (cdktf's constructs "
        "run in it), or set JSII_NODE to its path"
    ]
    assert not (tmp_path / "out").exists()


@pytest.mark.slow  # starts a process
def test_plan_without_terraform_is_one_line_and_exit_3(tmp_path, no_tools_env):
    result = run_main(
        "plan", "--offline", "--stacks-dir", str(ROOT / "generated/stacks"), "--out", str(tmp_path / "plans"),
        "--stack", "ml-test", env=no_tools_env,
    )  # fmt: skip
    assert result.returncode == 3, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: terraform not found on PATH"), result.stderr


# --- synth: progress as it goes -------------------------------------------------------------


@pytest.mark.slow
def test_synth_reports_each_stack_before_anything_is_written_and_quiet_says_nothing(tmp_path, default_spec):
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "main.py"), "synth", str(ROOT / "org.yaml"), "--out", str(out)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    first = proc.stderr.readline()
    # THEN the first stack is reported while synthesis runs: the output is written only at the end.
    written_when_first_reported = out.exists()
    rest, stdout = proc.stderr.read(), proc.stdout.read() if proc.stdout else ""
    assert proc.wait() == 0, rest
    assert first.startswith("stack ") and not written_when_first_reported
    lines = [first.rstrip("\n"), *rest.splitlines()]
    assert sorted(line.split()[1] for line in lines) == sorted(ref.name for ref in default_spec.stack_refs())
    assert stdout.startswith(f"{out}/: written ("), stdout
    # AND --quiet prints nothing per stack
    quiet = run_main("synth", str(ROOT / "org.yaml"), "--out", str(out), "--quiet", cwd=tmp_path)
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr


def test_each_stack_is_reported_before_the_next_one_is_synthesized(default_spec, monkeypatch):
    from mlgov.synth import pool
    from mlgov.synth.incremental import StackResult

    events: list[tuple[str, str]] = []

    def synth_one(spec, ref, outdir, loaded=()):
        events.append(("synth", ref.name))
        return StackResult({f"stacks/{ref.name}/cdk.tf.json": b"{}"}, {"name": ref.name}, "0.0.0", 1)

    monkeypatch.setattr(pool, "_synth_one", synth_one)
    refs = default_spec.stack_refs()[:3]
    pool.synth_serial(default_spec, refs, {}, lambda name, count: events.append(("progress", name)))
    assert events == [(kind, ref.name) for ref in refs for kind in ("synth", "progress")]


# --- every message names the mlgov command ----------------------------------------------------


@pytest.mark.slow  # starts a process
def test_messages_and_generated_files_name_the_mlgov_command(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(ORG.replace("  home_region: eu-west-1\n", "  home_region: eu-west-1\n  colour: blue\n", 1))
    result = run_main("validate", str(bad))
    assert result.returncode == 2
    assert "see `mlgov schema`" in result.stderr and "main.py" not in result.stderr, result.stderr
    # A message that tells the user what to run next, from `python main.py` too
    result = run_main("plan", "--stacks-dir", str(tmp_path / "none"))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [f"error: no stacks in {tmp_path / 'none'}/ (run `mlgov synth` first)"]
    assert (ROOT / "generated/atlantis.yaml").read_text().startswith("# Generated by `mlgov atlantis`")
    docs = (ROOT / "docs/review.md").read_text()
    commands = docs[docs.index("## Commands") : docs.index("## What the output looks like")]
    table = [line for line in commands.splitlines() if line.startswith("| `")]
    assert len(table) > 10 and all(line.startswith("| `mlgov ") for line in table), table
    for path in (ROOT / "generated").rglob("*"):
        if path.is_file() and path.suffix in {".yml", ".yaml", ".json", ".md", ".txt"}:
            assert "main.py" not in path.read_text(errors="replace"), path


# --- which spec: SPEC, --spec, cdktf.json -----------------------------------------------------


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """A folder holding Northwind's spec as acme.yaml, and the current directory."""
    (tmp_path / "acme.yaml").write_text(ORG)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    "cdktf",
    [
        {"context": {"mlgovSpec": "acme.yaml"}},
        {"app": "mlgov synth --quiet acme.yaml"},
    ],
)
def test_spec_comes_from_cdktf_json_context_or_app(repo, cdktf):
    (repo / "cdktf.json").write_text(json.dumps(cdktf))
    result = CliRunner().invoke(cli, ["validate"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("acme.yaml: valid")


def test_spec_option_equals_the_argument_and_two_different_ones_are_refused(repo):
    runner = CliRunner()
    assert runner.invoke(cli, ["validate", "--spec", "acme.yaml"]).output.startswith("acme.yaml: valid")
    assert runner.invoke(cli, ["validate", "acme.yaml", "--spec", "acme.yaml"]).exit_code == 0
    (repo / "other.yaml").write_text(ORG)
    result = runner.invoke(cli, ["validate", "acme.yaml", "--spec", "other.yaml"])
    assert result.exit_code == 2
    assert result.output.splitlines() == ["error: two specs given (got acme.yaml and --spec other.yaml, expected one)"]
    # Without SPEC and cdktf.json: org.yaml, as always.
    result = runner.invoke(cli, ["validate"])
    assert result.exit_code == 2 and result.output.startswith("org.yaml: file not found"), result.output


# --- own templates beside the spec ------------------------------------------------------------


def test_own_template_beside_the_spec_is_used_and_unknown_without_it(tmp_path):
    spec_file = tmp_path / "acme.yaml"
    spec_file.write_text(with_own_product(ORG))
    # GIVEN no templates/ beside the spec THEN the product's template is unknown
    with pytest.raises(SpecError, match=r"products\.team-bucket\.template: unknown template \(got 'team-bucket'"):
        load_spec(spec_file)
    # WHEN the template is added beside the spec
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates/team-bucket.yaml.j2").write_text(OWN_TEMPLATE)
    spec = load_spec(spec_file)
    # THEN it renders into the products, and the shipped ones are still there
    products = render_products(spec)
    text = products["products/ml-admin/team-bucket/v1.yaml"].decode()
    assert "OwnTeamBucket:" in text and "platform team's own design" in text
    assert STUDIO_V1 in products
    assert "team-bucket" in templates.known_templates(spec) and "studio-domain" in templates.known_templates(spec)


def test_own_template_of_a_shipped_name_wins(tmp_path):
    (tmp_path / "templates").mkdir()
    # (the spec gives the product an AuthMode parameter: every version's template must declare it)
    override = OWN_TEMPLATE.replace("Resources:", "Parameters:\n  AuthMode:\n    Type: String\nResources:")
    (tmp_path / "templates/studio-domain-v2.yaml.j2").write_text(override)
    (tmp_path / "acme.yaml").write_text(ORG)
    products = render_products(load_spec(tmp_path / "acme.yaml"))
    assert "OwnTeamBucket:" in products["products/ml-admin/studio-domain/v2.yaml"].decode()


# --- released copies: the spec's own organization only ----------------------------------------


def test_shipped_org_constant_is_org_yaml():
    org = yaml.safe_load(ORG)["organization"]
    assert (org["name"], org["id"]) == templates.SHIPPED_ORG


def test_another_org_reusing_northwinds_keys_never_gets_northwinds_released_bytes(tmp_path):
    # GIVEN Northwind's spec (frozen v1s) under another organization, in its own folder
    spec_file = tmp_path / "acme.yaml"
    spec_file.write_text(as_org(ORG, "acme", "o-acme123456"))
    # WHEN validated THEN every frozen version is refused, naming the file to create beside the spec
    with pytest.raises(SpecError) as info:
        load_spec(spec_file)
    lines = [str(p) for p in info.value.problems]
    assert lines and all("frozen: no released copy of this version" in line for line in lines), lines
    assert any(f"got none at released/acme/{STUDIO_V1.removeprefix('products/')} beside the spec" in x for x in lines)
    # WHEN the copies are created there (this org's own bytes, here: an edited text)
    nw = load_spec(ROOT / "org.yaml")
    northwind = render_products(nw)
    frozen = {
        naming.product_template_key(nw, p, k, v.name)
        for p, pf in nw.service_catalog.portfolios.items()
        for k, prod in pf.products.items()
        for v in prod.versions
        if v.frozen
    }
    for key, data in northwind.items():
        if key in frozen:
            target = tmp_path / "released/acme" / key.removeprefix("products/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(
                data.replace(b"Description:", b"Description: # acme\n ", 1) if key == STUDIO_V1 else data
            )
    spec = load_spec(spec_file)
    # THEN they are the ones served, byte for byte
    assert (
        render_products(spec)[STUDIO_V1]
        == (tmp_path / "released/acme" / STUDIO_V1.removeprefix("products/")).read_bytes()
    )
    assert render_products(spec)[STUDIO_V1] != northwind[STUDIO_V1]


def test_the_same_org_name_with_another_id_is_another_org(tmp_path):
    (tmp_path / "acme.yaml").write_text(as_org(ORG, "nwa", "o-other12345"))
    with pytest.raises(SpecError, match=r"got none at released/nwa/ml-admin/studio-domain/v1\.yaml beside the spec"):
        load_spec(tmp_path / "acme.yaml")


def test_northwind_in_its_own_repo_gets_the_shipped_copies_and_its_own_first(tmp_path):
    (tmp_path / "org.yaml").write_text(ORG)
    shipped = render_products(load_spec(ROOT / "org.yaml"))[STUDIO_V1]
    assert render_products(load_spec(tmp_path / "org.yaml"))[STUDIO_V1] == shipped
    own = tmp_path / "released/nwa" / STUDIO_V1.removeprefix("products/")
    own.parent.mkdir(parents=True)
    own.write_bytes(shipped + b"# kept by the user\n")
    assert render_products(load_spec(tmp_path / "org.yaml"))[STUDIO_V1] == own.read_bytes()


def test_released_change_remedy_names_the_users_path(tmp_path):
    text = with_own_product(as_org(ORG, "acme", "o-acme123456"))
    (tmp_path / "acme.yaml").write_text(re.sub(r"(?m)^ +frozen: true .*\n", "", text))
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates/team-bucket.yaml.j2").write_text(OWN_TEMPLATE)
    spec = load_spec(tmp_path / "acme.yaml")
    key = "products/ml-admin/team-bucket/v1.yaml"
    (message,) = released_changes(render_products(spec), {key: b"released\n"}, spec)
    assert message.endswith("copy this file to released/acme/ml-admin/team-bucket/v1.yaml and set `frozen: true` on it")


# --- init ---------------------------------------------------------------------------------


def test_init_writes_a_repo_that_validates_and_refuses_to_overwrite(tmp_path, monkeypatch):
    runner = CliRunner()
    target = tmp_path / "platform"
    result = runner.invoke(cli, ["init", str(target), "--example", "contoso-vision", "--spec-name", "acme.yaml"])
    assert result.exit_code == 0, result.output
    files = sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file())
    assert files == sorted(initcmd.init_tree("contoso-vision", "acme.yaml"))
    assert files == [
        ".github/workflows/mlgov-plan-apply.yml", ".gitignore", ".gitlab-ci.yml", "README.md", "acme.yaml", "cdktf.json"
    ]  # fmt: skip
    # The workflow: the installed mlgov pinned, the spec passed.
    workflow = yaml.safe_load((target / ".github/workflows/mlgov-plan-apply.yml").read_text())
    runs = [s.get("run", "") for s in workflow["jobs"]["affected"]["steps"]]
    assert f'python -m pip install --disable-pip-version-check "mlgov=={mlgov.__version__}"' in runs
    assert "mlgov synth --check --quiet --spec acme.yaml" in runs
    gitlab = yaml.safe_load((target / ".gitlab-ci.yml").read_text())
    assert gitlab == {"include": [{"local": f"generated/{workflows.GITLAB_PATH}"}]}
    # The spec is what cdktf.json names, and validates from there.
    monkeypatch.chdir(target)
    assert runner.invoke(cli, ["validate"]).output.startswith("acme.yaml: valid")
    monkeypatch.chdir(tmp_path)
    # Running it again changes nothing; a file the user changed is never overwritten.
    assert (
        runner.invoke(cli, ["init", str(target), "--example", "contoso-vision", "--spec-name", "acme.yaml"]).exit_code
        == 0
    )
    (target / "README.md").write_text("ours\n")
    result = runner.invoke(cli, ["init", str(target), "--example", "contoso-vision", "--spec-name", "acme.yaml"])
    assert result.exit_code == 2
    assert result.output.splitlines() == [f"error: refusing to overwrite {target}/README.md: mlgov did not write it"]
    assert (target / "README.md").read_text() == "ours\n"


def test_init_writes_nothing_when_one_target_is_foreign_or_a_symlink(tmp_path):
    target = tmp_path / "platform"
    target.mkdir()
    (target / ".gitignore").write_text("mine\n")
    result = CliRunner().invoke(cli, ["init", str(target)])
    assert result.exit_code == 2 and "refusing to overwrite" in result.output
    assert sorted(p.name for p in target.iterdir()) == [".gitignore"]
    (target / ".gitignore").unlink()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (target / ".github").symlink_to(elsewhere)
    result = CliRunner().invoke(cli, ["init", str(target)])
    assert result.exit_code == 2 and "is a symlink" in result.output, result.output
    assert list(elsewhere.iterdir()) == [] and sorted(p.name for p in target.iterdir()) == [".github"]


def test_init_refuses_an_unknown_example(tmp_path):
    result = CliRunner().invoke(cli, ["init", str(tmp_path / "x"), "--example", "nope"])
    assert result.exit_code == 2
    assert result.output.startswith("error: unknown example (got 'nope', expected one of ")
    assert not (tmp_path / "x").exists()


def test_every_example_initializes_and_validates(tmp_path):
    for name in initcmd.example_names():
        tree = initcmd.init_tree(name, "org.yaml")
        # a new platform has released nothing: no frozen version left
        assert b"frozen: true" not in tree["org.yaml"], name
        parse_spec(load_yaml(tree["org.yaml"].decode(), f"<{name}>"))
    assert "northwind" in initcmd.example_names() and "contoso-vision" in initcmd.example_names()


def test_version_pin_is_the_packages_version():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert mlgov.__version__ == project["version"]
    assert f'"mlgov=={project["version"]}"' in workflows.INSTALL


# --- stacks one App each == one App for all ---------------------------------------------------


@pytest.mark.slow
def test_stack_by_stack_synthesis_gives_the_bytes_of_one_app(tree, default_spec, tmp_path):
    from mlgov.modules.app import build_app
    from mlgov.synth.stacks import canonical_tree

    out = tmp_path / "one-app"
    build_app(default_spec, str(out)).synth()
    one_app, _ = canonical_tree(out)
    mine = {
        p: d
        for p, d in tree.items()
        if p == "manifest.json" or (p.startswith("stacks/") and p.endswith("/cdk.tf.json"))
    }
    assert sorted(one_app) == sorted(mine)
    assert [p for p in mine if mine[p] != one_app[p]] == []


# --- account customizations: Terraform JSON fragments beside the spec -------------------------

PARAMETER = {
    "resource": {
        "aws_ssm_parameter": {
            "acme_cost_centre": {"name": "/acme/cost-centre", "type": "String", "value": "ml-42"},
        }
    },
    "output": {"acme_cost_centre": {"value": "${aws_ssm_parameter.acme_cost_centre.name}"}},
}


def customized(tmp_path: Path, files: dict[str, object]):
    """Northwind's spec in tmp_path with ``files`` (path under customizations/: JSON or text)."""
    (tmp_path / "org.yaml").write_text(ORG)
    for rel, content in files.items():
        path = tmp_path / "customizations" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content if isinstance(content, str) else json.dumps(content))
    return load_spec(tmp_path / "org.yaml")


def test_layer_and_account_fragments_land_in_their_stacks_only(tree, tmp_path):
    from mlgov.synth import customize

    spec = customized(
        tmp_path,
        {
            "layers/dev/cost.tf.json": PARAMETER,
            "accounts/ml-test/alarm.tf.json": {"data": {"aws_caller_identity": {"acme_me": {}}}},
        },
    )
    merged = customize.apply(tree, customize.load_all(spec))
    changed = sorted(rel for rel in tree if merged[rel] != tree[rel])
    dev = sorted(f"stacks/{r.name}/cdk.tf.json" for r in spec.stack_refs() if r.layer.value == "dev")
    assert changed == sorted([*dev, "stacks/ml-test/cdk.tf.json"])
    for rel in dev:
        doc = json.loads(merged[rel])
        assert doc["resource"]["aws_ssm_parameter"]["acme_cost_centre"]["value"] == "ml-42"
        assert doc["output"]["acme_cost_centre"]["value"] == "${aws_ssm_parameter.acme_cost_centre.name}"
        # mlgov's own blocks are all still there, untouched
        before = json.loads(tree[rel])
        for kind, named in before["resource"].items():
            assert {n: doc["resource"][kind][n] for n in named} == named
    assert "acme_me" in json.loads(merged["stacks/ml-test/cdk.tf.json"])["data"]["aws_caller_identity"]
    # Deterministic: the same files give the same bytes.
    assert customize.apply(tree, customize.load_all(spec)) == merged


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"layers/dev/x.tf.json": {"provider": {"aws": {}}}}, "'provider' blocks are mlgov's"),
        ({"layers/dev/x.tf.json": {"terraform": {"backend": {}}}}, "'terraform' blocks are mlgov's"),
        ({"layers/dev/x.tf.json": {"module": {"m": {"source": "x"}}}}, "'module' blocks are mlgov's"),
        ({"layers/dev/x.tf.json": {"resources": {}}}, "unknown block 'resources'"),
        ({"layers/dev/x.tf.json": "{"}, "not JSON"),
        ({"layers/dev/x.tf.json": {"resource": {"aws_s3_bucket": {"1bad": {}}}}}, "not a Terraform identifier"),
        ({"layers/devs/x.tf.json": PARAMETER}, "unknown layer (got 'devs'"),
        ({"accounts/nope/x.tf.json": PARAMETER}, "unknown account key (got 'nope'"),
        ({"stack/ml-test/x.tf.json": PARAMETER}, "unknown folder (expected layers/, accounts/ or stacks/)"),
        ({"stacks/ml-tests/x.tf.json": PARAMETER}, "unknown stack (got 'ml-tests'"),
    ],
)
def test_bad_fragments_are_one_line_before_synthesis(tmp_path, files, message):
    spec = customized(tmp_path, files)
    result = CliRunner().invoke(cli, ["synth", str(tmp_path / "org.yaml"), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    (line,) = result.output.splitlines()
    assert line.startswith(f"error: {tmp_path}/customizations/") and message in line, line
    assert spec.home == tmp_path and not (tmp_path / "out").exists()


def test_a_fragment_never_replaces_an_address_mlgov_made(tree, tmp_path):
    from mlgov.synth import customize

    stack = json.loads(tree["stacks/ml-test/cdk.tf.json"])
    kind, named = sorted(stack["resource"].items())[0]
    name = sorted(named)[0]
    spec = customized(tmp_path, {"accounts/ml-test/x.tf.json": {"resource": {kind: {name: {}}}}})
    with pytest.raises(customize.CustomizationError, match=rf"x\.tf\.json: {kind}\.{name} is already in the stack"):
        customize.apply(tree, customize.load_all(spec))


def test_fragments_go_through_mlgovs_security_scan(tree, tmp_path):
    from mlgov.review import security
    from mlgov.synth import customize

    wildcard = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    spec = customized(
        tmp_path,
        {
            "layers/prod/admin.tf.json": {
                "resource": {"aws_iam_policy": {"acme_admin": {"policy": json.dumps(wildcard)}}}
            }
        },
    )
    merged = customize.apply(tree, customize.load_all(spec))
    assert security.check_tree(tree) == []
    findings = [str(f) for f in security.check_tree(merged)]
    assert findings and all("acme_admin" in f for f in findings), findings
    assert any("wildcard-grant" in f for f in findings), findings


@pytest.mark.terraform
def test_a_customized_stack_passes_terraform_validate(tree, tmp_path, tf_cli_config):
    from mlgov.review import terraform
    from mlgov.synth import customize
    from mlgov.synth.tree import write_tree

    spec = (
        customized(tmp_path / "repo", {"accounts/ml-test/cost.tf.json": PARAMETER})
        if ((tmp_path / "repo").mkdir() or True)
        else None
    )
    merged = customize.apply(tree, customize.load_all(spec))
    src = tmp_path / "src"
    write_tree({k.split("/", 2)[2]: v for k, v in merged.items() if k.startswith("stacks/ml-test/")}, src)
    ws = terraform.Workspace(src, tmp_path / "ws", tf_cli_config)
    for step in (ws.init, ws.validate):
        result = step()
        assert result.ok, result.stdout + result.stderr


# --- own SCPs: scps/<target>/<name>.json beside the spec --------------------------------------

DENY_GPU = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "DenyLargeGpu",
            "Effect": "Deny",
            "Action": ["sagemaker:CreateTrainingJob"],
            "Resource": "*",
            "Condition": {"ForAnyValue:StringLike": {"sagemaker:InstanceTypes": ["ml.p5.*"]}},
        }
    ],
}


def with_scps(tmp_path: Path, files: dict[str, object]):
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "org.yaml").write_text(ORG)
    for rel, content in files.items():
        path = tmp_path / "scps" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content if isinstance(content, str) else json.dumps(content, indent=2))
    return tmp_path / "org.yaml"


def test_own_scp_joins_mlgovs_with_its_attachments_and_compact_content(tmp_path):
    from mlgov.platform.guardrails import service_control_policies

    spec = load_spec(with_scps(tmp_path, {"data/deny-gpu.json": DENY_GPU, "root/deny-gpu.json": DENY_GPU}))
    (own,) = [p for p in service_control_policies(spec) if p.key.startswith("own_")]
    assert (own.key, own.name, own.targets) == ("own_deny_gpu", "nwa-deny-gpu", ("data", "root"))
    assert json.loads(own.content) == DENY_GPU and " " not in own.content.replace("DenyLargeGpu", "")


@pytest.mark.slow
def test_own_scp_lands_in_the_management_stack(tmp_path):
    from mlgov.synth import pool

    spec = load_spec(with_scps(tmp_path, {"root/deny-gpu.json": DENY_GPU}))
    (ref,) = [r for r in spec.stack_refs() if r.layer.value == "management"]
    tree, _ = pool.synth_serial(spec, [ref], {})
    doc = json.loads(tree[f"stacks/{ref.name}/cdk.tf.json"])
    policy = doc["resource"]["aws_organizations_policy"]["own_deny_gpu"]
    assert policy["name"] == "nwa-deny-gpu" and json.loads(policy["content"]) == DENY_GPU
    assert "own_deny_gpu__root" in doc["resource"]["aws_organizations_policy_attachment"]


def doc(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"nowhere/deny-x.json": DENY_GPU}, "scps/nowhere: not an attachment target folder"),
        ({"root/X.json": DENY_GPU}, "expected <name>.json"),
        ({"root/deny-x.json": "{"}, "not a JSON document"),
        ({"root/deny-x.json": dict(DENY_GPU, Version="2008-10-17")}, "Version must be"),
        (
            {
                "root/deny-x.json": {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "*"}],
                }
            },
            "an SCP statement has no Principal",
        ),
        (
            {"root/deny-x.json": {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "s3"}]}},
            "not an action",
        ),
        ({"root/deny-x.json": DENY_GPU, "ml-workloads/deny-x.json": dict(DENY_GPU, Id="other")}, "differ"),
    ],
)
def test_bad_own_scps_are_one_line_each(tmp_path, files, message):
    with pytest.raises(SpecError) as info:
        load_spec(with_scps(tmp_path, files))
    lines = [str(p) for p in info.value.problems]
    assert len(lines) == 1 and message in lines[0] and "management.guardrails: own SCP" in lines[0], lines


def test_own_scps_count_against_size_and_the_per_target_quota(tmp_path):
    big = dict(
        DENY_GPU, Statement=[dict(DENY_GPU["Statement"][0], Action=[f"s3:Get{'x' * 40}{i}" for i in range(120)])]
    )
    with pytest.raises(SpecError, match=r"SCP 'nwa-big' is too large \(got \d+ characters, expected at most 5120\)"):
        load_spec(with_scps(tmp_path / "a", {"root/big.json": big}))
    # mlgov attaches two SCPs to the root; three more would make six with FullAWSAccess
    files = {f"root/own-{i}.json": DENY_GPU for i in range(3)}
    with pytest.raises(SpecError, match=r"too many SCPs attached to 'root' \(got 5"):
        load_spec(with_scps(tmp_path / "b", files))
    load_spec(with_scps(tmp_path / "c", {f"root/own-{i}.json": DENY_GPU for i in range(2)}))


# --- plan: the provider mirror is optional when the machine is online -------------------------


def test_provider_source_decision_without_network(tmp_path, monkeypatch):
    from mlgov.errors import MlgovError
    from mlgov.review import terraform

    monkeypatch.delenv(terraform.MIRROR_ENV, raising=False)
    monkeypatch.delenv(terraform.SOURCE_ENV, raising=False)
    mirror = tmp_path / "mirror"

    def never() -> bool:
        raise AssertionError("probed the network although the answer was known")

    # A mirror wins in auto and is required in mirror mode; registry never uses one.
    assert terraform.provider_source("auto", online=never, search=lambda: mirror) == mirror
    assert terraform.provider_source("mirror", online=never, search=lambda: mirror) == mirror
    assert terraform.provider_source("registry", online=never, search=lambda: mirror) is None
    # No mirror, online: the registry (None); offline: one line.
    assert terraform.provider_source("auto", online=lambda: True, search=lambda: None) is None
    with pytest.raises(MlgovError) as info:
        terraform.provider_source("auto", online=lambda: False, search=lambda: None)
    assert len(str(info.value).splitlines()) == 1
    assert str(info.value).startswith("offline (registry.terraform.io does not resolve) and no local Terraform")
    with pytest.raises(MlgovError, match="no local Terraform provider mirror"):
        terraform.provider_source("mirror", online=lambda: True, search=lambda: None)
    # The environment decides when no choice is passed.
    monkeypatch.setenv(terraform.SOURCE_ENV, "registry")
    assert terraform.provider_source(search=lambda: mirror) is None
    monkeypatch.setenv(terraform.SOURCE_ENV, "sometimes")
    with pytest.raises(MlgovError, match=r"MLGOV_PROVIDERS: unknown provider source \(got 'sometimes'"):
        terraform.provider_source()


def test_online_plan_without_a_mirror_writes_no_filesystem_mirror_config(tmp_path, monkeypatch):
    from mlgov.review import plan as planning
    from mlgov.review import terraform

    # GIVEN no mirror anywhere and a machine said to be online (nothing reaches the network here)
    monkeypatch.delenv(terraform.MIRROR_ENV, raising=False)
    monkeypatch.setenv(terraform.SOURCE_ENV, "auto")
    monkeypatch.setattr(terraform, "_search_mirror", lambda: None)
    monkeypatch.setattr(terraform, "registry_reachable", lambda host=terraform.REGISTRY_HOST: True)
    monkeypatch.setattr(planning, "warm_plugin_cache", lambda out, config: None)
    stacks = {"ml-test": ROOT / "generated/stacks/ml-test"}
    seen: list[Path] = []
    # WHEN plan runs (each stack's terraform stubbed)
    planning.run_plans(
        stacks, tmp_path / "plans", offline=True, jobs=1, plan_one=lambda run, s, o, cfg, off: seen.append(cfg)
    )
    # THEN its CLI config installs providers the ordinary way (into the shared cache), from no mirror
    (config,) = seen
    text = config.read_text()
    assert "filesystem_mirror" not in text and "provider_installation" not in text, text
    assert "plugin_cache_dir" in text
    # AND with a mirror the config installs from it only
    mirror = tmp_path / "mirror"
    with_mirror = terraform.write_cli_config(tmp_path / "cfg", None, mirror).read_text()
    assert "filesystem_mirror" in with_mirror and json.dumps(str(mirror)) in with_mirror


def test_offline_plan_without_a_mirror_is_one_line_and_exit_3(tmp_path, monkeypatch):
    from mlgov.review import terraform

    monkeypatch.delenv(terraform.MIRROR_ENV, raising=False)
    monkeypatch.delenv(terraform.SOURCE_ENV, raising=False)
    monkeypatch.setattr(terraform, "_search_mirror", lambda: None)
    monkeypatch.setattr(terraform, "registry_reachable", lambda host=terraform.REGISTRY_HOST: False)
    out = tmp_path / "plans"
    result = CliRunner().invoke(
        cli, ["plan", "--stacks-dir", str(ROOT / "generated/stacks"), "--stack", "ml-test", "--out", str(out)]
    )
    assert result.exit_code == 3, result.output
    (line,) = result.output.splitlines()
    assert line.startswith("error: offline (registry.terraform.io does not resolve) and no local Terraform"), line
    assert not out.exists()


# --- own SCPs against AWS's service definitions, and its quotas --------------------------------


@pytest.mark.slow  # node (iam-data)
def test_own_scp_actions_keys_and_arns_are_checked_against_aws_definitions(tmp_path, monkeypatch):
    from mlgov.review import iam

    if reason := iam.unavailable():
        pytest.skip(reason)
    bad = {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "Fine", "Effect": "Deny", "Action": "sagemaker:CreateHub", "Resource": "*"},
            {"Sid": "Typo", "Effect": "Deny", "Action": ["sagemaker:CreateTrainingJobz"], "Resource": "*"},
            {
                "Sid": "NoSuchKey",
                "Effect": "Deny",
                "Action": "sagemaker:CreateTrainingJob",
                "Resource": "*",
                "Condition": {"StringEquals": {"sagemaker:InstanceTypez": "ml.p5.48xlarge"}},
            },
            {"Sid": "WrongArn", "Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:sqs:*:*:queue"},
        ],
    }
    spec_file = with_scps(tmp_path, {"root/deny-gpu.json": DENY_GPU, "data/guard.json": bad})
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["validate", str(spec_file)])
    assert result.exit_code == 2, result.output
    lines = result.output.splitlines()
    path = tmp_path / "scps/data/guard.json"
    assert lines, result.output
    assert all(line.startswith(f"{path}: Statement[") for line in lines), lines
    by_statement = {line.split(": ")[1] for line in lines}
    assert "Statement[1].Action" in by_statement, lines
    assert "Statement[2].Condition" in by_statement, lines
    assert "Statement[3].Resource" in by_statement, lines
    assert any(line.startswith(f"{path}: Statement[1].Action: unknown-action: ") for line in lines), lines
    assert not any("Statement[0]" in line for line in lines), lines
    # The good one alone validates.
    (tmp_path / "scps/data/guard.json").unlink()
    result = CliRunner().invoke(cli, ["validate", str(spec_file)])
    assert result.exit_code == 0 and result.output.startswith(f"{spec_file}: valid"), result.output


def test_own_scp_size_and_attachment_quotas_name_the_file(tmp_path):
    big = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Action": [f"sagemaker:CreateTrainingJob{'x' * 40}{i}" for i in range(120)],
                "Resource": "*",
            }
        ],
    }
    spec_file = with_scps(tmp_path, {"root/too-big.json": big})
    with pytest.raises(SpecError) as info:
        load_spec(spec_file)
    (line,) = [str(p) for p in info.value.problems]
    assert f"own SCP {tmp_path}/scps/root/too-big.json: SCP 'nwa-too-big' is too large (got " in line, line
    # Five targets' worth: mlgov's own on root plus four more is over AWS's 5 (FullAWSAccess counted).
    files = {f"root/extra-{i}.json": DENY_GPU for i in range(5)}
    with pytest.raises(SpecError) as info:
        load_spec(with_scps(tmp_path / "many", files))
    lines = [str(p) for p in info.value.problems]
    assert any("too many SCPs attached to 'root'" in x and "scps/root/extra-0.json" in x for x in lines), lines


# --- account customizations in Python: entry points of an installed package -------------------

PLUGIN = """\
from cdktf_cdktf_provider_aws.ssm_parameter import SsmParameter

CALLS = []


def cost_centre(target):
    CALLS.append((target.name, target.layer.value, target.region, target.teams))
    if target.layer.value == "dev" and target.primary_region:
        SsmParameter(
            target.stack,
            "acme_cost_centre",
            name=f"/acme/{target.account}/cost-centre",
            type="String",
            value=",".join(target.teams) or "none",
        )
"""
BROKEN = """\
def explode(target):
    if target.layer.value == "dev":
        raise ValueError("no cost centre for\\n" + target.account)
"""


def install_plugin(site: Path, dist: str, module: str, source: str, entry: str) -> None:
    """A distribution installed into ``site`` as pip would leave it: the module and a
    dist-info with METADATA and entry_points.txt (group mlgov.customizations)."""
    site.mkdir(parents=True, exist_ok=True)
    (site / f"{module}.py").write_text(source)
    info = site / f"{dist}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[mlgov.customizations]\n{entry}\n")


@pytest.mark.slow  # synthesizes stacks (jsii)
def test_an_installed_plugin_adds_resources_to_the_stacks_it_chooses(tmp_path, monkeypatch, default_spec):
    import importlib

    from mlgov.synth import plugins, pool

    install_plugin(
        tmp_path / "site", "acme-platform", "acme_customize", PLUGIN, "acme-cost = acme_customize:cost_centre"
    )
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    importlib.invalidate_caches()
    (found,) = [p for p in plugins.discover() if p.name == "acme-cost"]
    assert found.value == "acme_customize:cost_centre" and found.dist == "acme-platform 0.1"
    dev = next(r for r in default_spec.stack_refs() if r.layer.value == "dev" and r.name == r.account)
    test = next(r for r in default_spec.stack_refs() if r.layer.value == "test")
    tree, _ = pool.synth_serial(default_spec, [dev, test], {})
    # THEN the dev stack has the parameter at the plugin's own address, the test stack nothing new
    doc = json.loads(tree[f"stacks/{dev.name}/cdk.tf.json"])
    param = doc["resource"]["aws_ssm_parameter"]["acme_cost_centre"]
    teams = sorted(t for t, team in default_spec.teams.items() if team.dev_account == dev.account)
    assert param["name"] == f"/acme/{dev.account}/cost-centre" and param["value"] == ",".join(teams)
    assert "acme_cost_centre" not in json.loads(tree[f"stacks/{test.name}/cdk.tf.json"]).get("resource", {}).get(
        "aws_ssm_parameter", {}
    )
    import acme_customize

    assert [c[0] for c in acme_customize.CALLS] == [dev.name, test.name]
    # Deterministic: the same plugin gives the same bytes.
    again, _ = pool.synth_serial(default_spec, [dev], {})
    assert again[f"stacks/{dev.name}/cdk.tf.json"] == tree[f"stacks/{dev.name}/cdk.tf.json"]


@pytest.mark.slow  # synthesizes stacks (jsii)
def test_a_failing_plugin_is_one_line_naming_it(tmp_path, monkeypatch):
    import importlib

    install_plugin(tmp_path / "site", "acme-broken", "acme_broken", BROKEN, "acme-boom = acme_broken:explode")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    importlib.invalidate_caches()
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["synth", str(ROOT / "org.yaml"), "--out", str(out), "--jobs", "1", "--quiet"])
    assert result.exit_code == 2, result.output
    (line,) = result.output.splitlines()
    assert line.startswith("error: plugin 'acme-boom' (acme_broken:explode, acme-broken 0.1) failed on stack "), line
    assert "ValueError: no cost centre for " in line and "(acme_broken.py:3)" in line, line
    assert not out.exists()
    # A plugin that cannot be imported: one line too
    (tmp_path / "site" / "acme_broken.py").write_text("import acme_nonexistent_module\n")
    importlib.invalidate_caches()
    sys.modules.pop("acme_broken", None)
    result = CliRunner().invoke(cli, ["synth", str(ROOT / "org.yaml"), "--out", str(out), "--jobs", "1", "--quiet"])
    assert result.exit_code == 2, result.output
    (line,) = result.output.splitlines()
    assert line.startswith("error: plugin 'acme-boom' (acme_broken:explode, acme-broken 0.1) cannot be loaded: "), line
    assert "ModuleNotFoundError" in line, line


# --- accepted review findings hold for any organization's names ------------------------------


def renamed_org_spec(tmp_path: Path) -> Path:
    """Northwind's spec as another organization: org name and id, the ml-admin portfolio and
    its studio-domain product renamed, nothing frozen (a new org has released nothing)."""
    text = as_org(ORG, "acme", "o-acme123456")
    text = re.sub(r"(?m)^ +frozen: true .*\n", "", text)
    text = text.replace("    ml-admin:\n", "    platform-admin:\n", 1).replace(
        "mlgov:portfolio: ml-admin", "mlgov:portfolio: platform-admin"
    )
    text = text.replace("        studio-domain:\n", "        workspace:\n", 1)
    (tmp_path / "acme.yaml").write_text(text)
    return tmp_path / "acme.yaml"


@pytest.mark.slow  # node (iam-data)
def test_accepted_iam_findings_hold_for_a_renamed_org(tmp_path):
    from mlgov.review import accepted, iam
    from mlgov.review.policies import collect
    from mlgov.synth.tree import write_tree

    if reason := iam.unavailable():
        pytest.skip(reason)
    spec = load_spec(renamed_org_spec(tmp_path))
    products = render_products(spec)
    assert any(k.startswith("products/platform-admin/workspace/") for k in products), sorted(products)
    write_tree(products, tmp_path / "generated")
    policies = collect(tmp_path / "generated")
    findings = iam.validate([(p.id, p.kind, p.document) for p in policies])
    # The studio-domain key's accepted case, under the renamed portfolio and product
    assert any(f.policy.startswith("products/platform-admin/workspace/") for f in findings), findings
    entries = accepted.iam_entries()
    unexplained = [
        str(f)
        for f in findings
        if not any(e["code"] == f.code and accepted.explains(e, f.policy, spec) for e in entries)
    ]
    assert unexplained == []


def test_accepted_scopes_are_mlgovs_names_not_a_specs():
    from mlgov.review import accepted

    spec = load_spec(ROOT / "org.yaml")
    keys = {*spec.accounts, *spec.teams, spec.organization.name}
    keys |= {k for p in (spec.service_catalog.portfolios if spec.service_catalog else {}) for k in [p]}
    scopes = [g for e in accepted.iam_entries() + accepted.iam_entries("cloudsplaining") for g in e.get("policies", [])]
    scopes += [g for s in accepted.checkov_skips() for g in s["resources"]]
    words = {w for g in scopes for w in re.split(r"[^A-Za-z0-9-]+", g) if w}
    assert not words & keys, sorted(words & keys)


# --- mlgov check: the IAM review on a user's tree --------------------------------------------


@pytest.mark.slow  # node (iam-data)
def test_check_reviews_own_templates_and_customizations_with_mlgovs_accepted_findings(tmp_path):
    from mlgov.review import iam
    from mlgov.synth import customize
    from mlgov.synth.tree import write_tree

    if reason := iam.unavailable():
        pytest.skip(reason)
    spec_file = renamed_org_spec(tmp_path)
    spec = load_spec(spec_file)
    # GIVEN a generated tree: Northwind's stacks (as they are, org names aside) and this spec's products
    tree = {
        p.relative_to(ROOT / "generated").as_posix(): p.read_bytes()
        for p in (ROOT / "generated/stacks").rglob("cdk.tf.json")
    }
    tree.update(render_products(spec))
    write_tree(tree, tmp_path / "generated")
    result = CliRunner().invoke(cli, ["check", str(spec_file)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1].endswith(" unexplained") and " 0 unexplained" in result.output
    # WHEN a customization grants an action that does not exist THEN it is one unexplained finding, exit 1
    bad = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObjectz", "Resource": "*"}]}
    fragment = {"resource": {"aws_iam_policy": {"acme_reader": {"policy": json.dumps(bad)}}}}
    (tmp_path / "customizations/layers/prod").mkdir(parents=True)
    (tmp_path / "customizations/layers/prod/reader.tf.json").write_text(json.dumps(fragment))
    merged = customize.apply(tree, customize.load_all(load_spec(spec_file)))
    write_tree(merged, tmp_path / "generated")
    result = CliRunner().invoke(cli, ["check", str(spec_file)])
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if "unknown-action" in line]
    assert lines and all("aws_iam_policy.acme_reader" in line for line in lines), result.output
