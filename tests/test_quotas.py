"""AWS service quotas: the table, the counts validate computes, the size rules, and the refusals.

Every COUNT figure of mlgov.validation.quotas is compared with the same count read from the
synthesized Terraform JSON of org.yaml and of every example, so a construct that starts
creating one more role, rule or association than the count says fails here.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict

import pytest
import yaml

from mlgov.errors import SpecError
from mlgov.platform import bootstrap, naming
from mlgov.platform.quotas import QUOTAS, Measure, limit, measure
from mlgov.review.policies import parse_template
from mlgov.spec.located import load_yaml
from mlgov.spec.model import OrgSpec, parse_model
from mlgov.spec.quotas import HARD_QUOTAS, QuotaRaises
from mlgov.validation import load_spec, parse_spec
from mlgov.validation.quotas import check_policy_sizes, count_figures, size_figures
from tests.conftest import ROOT

EXAMPLES = sorted((ROOT / "mlgov" / "examples").glob("*.yaml"))


# -- the table ------------------------------------------------------------------------------------


def test_spec_fields_are_exactly_the_adjustable_quotas():
    assert set(QuotaRaises.model_fields) == {k for k, q in QUOTAS.items() if q.adjustable}
    assert {k for k, q in QUOTAS.items() if not q.adjustable} == HARD_QUOTAS


def test_every_quota_cites_an_aws_documentation_page():
    for quota in QUOTAS.values():
        assert quota.url.startswith("https://docs.aws.amazon.com/"), quota.key
        assert quota.source and quota.applies_to and quota.remedy, quota.key
        assert quota.maximum is None or (quota.adjustable and quota.maximum > quota.limit), quota.key


# -- counts equal the synthesized output ----------------------------------------------------------


def _stacks(tree: dict[str, bytes]) -> dict[str, dict]:
    return {
        path.split("/")[1]: json.loads(data)
        for path, data in tree.items()
        if path.startswith("stacks/") and path.endswith("/cdk.tf.json")
    }


def synthesized_counts(spec, stacks: dict[str, dict]) -> dict[str, Counter]:
    """The COUNT figures read back from the Terraform JSON: quota -> Counter(object -> count)."""
    where = {ref.name: (ref.account, ref.region) for ref in spec.stack_refs()}
    out: dict[str, Counter] = defaultdict(Counter)
    roles: dict[str, list[str]] = defaultdict(list)
    for name, stack in stacks.items():
        account, region = where[name]
        res = stack.get("resource", {})
        for r in res.get("aws_servicecatalog_principal_portfolio_association", {}).values():
            assert r["principal_type"] == "IAM_PATTERN"
            out["portfolio_iam_pattern_principals"][r["portfolio_id"].split(".")[1]] += 1
        for r in res.get("aws_iam_role", {}).values():
            roles[account].append(r["name"])
        buses = {
            f"${{aws_cloudwatch_event_bus.{k}.name}}": b["name"]
            for k, b in res.get("aws_cloudwatch_event_bus", {}).items()
        }
        for r in res.get("aws_cloudwatch_event_rule", {}).values():
            bus = buses.get(r.get("event_bus_name"), r.get("event_bus_name") or "default")
            out["event_rules_per_bus"][(account, region, bus)] += 1
        for r in res.get("aws_ecr_replication_configuration", {}).values():
            rules = r["replication_configuration"]["rule"]
            out["ecr_replication_rules"][(account, region)] = len(rules)
            for rule in rules:
                (destination,) = rule["destination"]
                out["ecr_replication_filters_per_rule"][destination["region"]] = len(rule["repository_filter"])
        if res.get("aws_codepipeline"):
            out["codepipeline_pipelines_per_region"][(account, region)] += len(res["aws_codepipeline"])
        interface = [e for e in res.get("aws_vpc_endpoint", {}).values() if e["vpc_endpoint_type"] == "Interface"]
        if "aws_vpc_endpoint" in res or "aws_security_group" in res or "aws_vpc" in res:
            out["vpc_interface_endpoints_per_vpc"][(account, region)] += len(interface)
        for kind, quota in (
            ("aws_vpc_security_group_ingress_rule", "security_group_inbound_rules"),
            ("aws_vpc_security_group_egress_rule", "security_group_outbound_rules"),
        ):
            for sg in res.get("aws_security_group", {}):
                out[quota][(account, region, sg)] += 0
            for r in res.get(kind, {}).values():
                out[quota][(account, region, r["security_group_id"].split(".")[1])] += 1
        for p in res.get("aws_ssm_parameter", {}).values():
            if p["name"].endswith("/network/security-group-ids"):
                out["security_groups_per_network_interface"][(account, region)] = len(p["value"].split(","))
        if res.get("aws_organizations_organizational_unit"):
            out["organization_ous"]["org"] = len(res["aws_organizations_organizational_unit"])
        for r in res.get("aws_organizations_policy_attachment", {}).values():
            out["scps_per_target"][r["target_id"]] += 1
        for r in res.get("aws_lakeformation_lf_tag", {}).values():
            out["lf_tags_per_account"]["lake"] += 1
            out["lf_tag_values"][r["key"]] = len(r["values"])
        if account == naming.data_account(spec) and "aws_lakeformation_data_lake_settings" in res:
            grants = res.get("aws_lakeformation_permissions", {}).values()
            out["lf_cross_account_grants"][account] += sum(
                1 for r in grants if r["principal"].isdigit() and "lf_tag_policy" not in r
            )
        for r in res.get("aws_lakeformation_resource_lf_tags", {}).values():
            out["lf_tags_per_resource"][json.dumps(r.get("table") or r.get("database"), sort_keys=True)] = len(
                r["lf_tag"]
            )
    for target in out["scps_per_target"]:
        out["scps_per_target"][target] += 1  # FullAWSAccess stays attached everywhere
    # every account also holds the roles the bootstrap gives it (the StackSet's member template,
    # which the management account's own bootstrap stack repeats)
    member = parse_template(bootstrap.member_template(spec))["Resources"].values()
    for account in spec.live_accounts():
        roles[account] += [r["Properties"]["RoleName"] for r in member if r["Type"] == "AWS::IAM::Role"]
    for account, names in roles.items():
        assert len(names) == len(set(names)), f"duplicate role names in {account}"
        out["iam_roles_per_account"][account] = len(names)
    return out


def computed_counts(spec) -> dict[str, list[int]]:
    got: dict[str, list[int]] = defaultdict(list)
    for f in count_figures(spec):
        got[f.quota].append(f.value)
    return got


def assert_counts_match(spec, stacks):
    synthesized = synthesized_counts(spec, stacks)
    computed = computed_counts(spec)
    # Objects whose count is zero in mlgov's model but that Terraform does not create: LF-tags
    # are only assigned where the spec names some (a table without tags gets no resource).
    computed["lf_tags_per_resource"] = [v for v in computed["lf_tags_per_resource"] if v]
    if not spec.management.own_ous:  # the OUs exist, mlgov does not create them
        computed.pop("organization_ous", None)
    computed.pop("ou_nesting_depth", None)  # a property of the OU tree: no Terraform counterpart
    computed.pop("organization_accounts", None)  # mlgov creates no accounts: the org must hold the spec's
    computed.pop("tags_per_resource", None)  # an upper bound per stack: assert_tags_within_the_count
    for quota in sorted(set(computed) | set(synthesized)):
        assert sorted(computed.get(quota, [])) == sorted(synthesized[quota].values()), quota
    # the event patterns validate measures are the synthesized rules' patterns, rule for rule
    from mlgov.review.sizes import stack_documents
    from mlgov.validation.quotas import event_pattern_rows

    patterns = sorted(d for d in stack_documents(spec, stacks) if d[0] == "event-pattern")
    assert patterns == sorted(event_pattern_rows(spec))
    # the pipeline action configuration values validate measures are the synthesized pipelines'
    # values, action for action, as AWS receives them (references resolved)
    assert_configurations_match(spec, stacks)


def assert_configurations_match(spec, stacks):
    from mlgov.review.sizes import stack_documents
    from mlgov.validation.quotas import pipeline_configuration_rows

    synthesized = sorted(d for d in stack_documents(spec, stacks) if d[0] == "action-configuration")
    computed = sorted(pipeline_configuration_rows(spec))
    assert computed == synthesized
    quota = QUOTAS["codepipeline_action_configuration_value_chars"]
    figures = [f.value for f in size_figures(computed)]
    assert max(figures, default=0) == max((measure(quota, d[5]) for d in synthesized), default=0)


def effective_tags(stack: dict) -> dict[str, int]:
    """Each taggable resource's tag count as AWS sees it: the provider's default tags and its own."""
    defaults = set(stack["provider"]["aws"][0]["default_tags"][0]["tags"])
    return {
        f"{kind}.{name}": len(defaults | set(r.get("tags") or {}))
        for kind, resources in stack.get("resource", {}).items()
        for name, r in resources.items()
    }


def assert_tags_within_the_count(spec, stacks):
    """Every resource of every stack carries at most the tags validate counted for its stack."""
    figures = {f.aws_object: f.value for f in count_figures(spec) if f.quota == "tags_per_resource"}
    for name, stack in stacks.items():
        counted = figures[f"resources of stack {name}"]
        worst = max(effective_tags(stack).items(), key=lambda kv: kv[1])
        assert worst[1] <= counted, (name, worst, counted)


def test_counts_equal_the_synthesized_default_org(default_spec, stacks):
    assert_counts_match(default_spec, stacks)
    assert_tags_within_the_count(default_spec, stacks)
    figures = {(f.quota, f.aws_object): f.value for f in count_figures(default_spec)}
    # the objects themselves, not only the multiset: roles by account, rules by bus
    synthesized = synthesized_counts(default_spec, stacks)
    for account, count in synthesized["iam_roles_per_account"].items():
        assert figures[("iam_roles_per_account", account)] == count
    for (account, region, bus), count in synthesized["event_rules_per_bus"].items():
        assert figures[("event_rules_per_bus", f"{bus} of {account} in {region}")] == count


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_counts_equal_the_synthesized_examples(example, render_spec):
    spec = load_spec(example)
    assert_counts_match(spec, _stacks(render_spec(example)))
    assert_tags_within_the_count(spec, _stacks(render_spec(example)))


def test_role_names_equal_the_synthesized_ones(default_spec, stacks):
    from mlgov.validation.quotas import account_roles

    where = {ref.name: ref.account for ref in default_spec.stack_refs()}
    synthesized: dict[str, list[str]] = defaultdict(list)
    for name, stack in stacks.items():
        synthesized[where[name]] += [r["name"] for r in stack.get("resource", {}).get("aws_iam_role", {}).values()]
    assert {k: sorted(v) for k, v in account_roles(default_spec).items()} == {
        k: sorted(v) for k, v in synthesized.items() if v
    }


def test_portfolio_principals_stay_within_the_quota_at_any_team_count():
    # GIVEN org.yaml grown to 6 and to 100 teams sharing ml-test/ml-prod (6 teams broke the
    # portfolios' 10 IAM_PATTERN principals while each team's persona role was associated)
    # WHEN the principal figures are counted THEN they are the default spec's, whatever the teams
    base = {
        f.aws_object: f.value
        for f in count_figures(OrgSpec.model_validate(_default_doc()))
        if f.quota == "portfolio_iam_pattern_principals"
    }
    for teams in (6, 100):
        doc = shared_stage_org(teams)
        spec = OrgSpec.model_validate(doc)
        grown = {f.aws_object: f.value for f in count_figures(spec) if f.quota == "portfolio_iam_pattern_principals"}
        assert grown == base and max(grown.values()) <= 10


# -- refusals -------------------------------------------------------------------------------------


def shared_stage_org(teams: int) -> dict:
    """org.yaml with ``teams`` teams, each with its own dev account, all deploying to ml-test and
    ml-prod (the default spec's topology): scripts/bench's quota figures use the same shape."""
    from mlgov.spec.large_org import shared_stage_org as build

    return build(teams)


def _refusal(doc: dict, name: str = "q.yaml") -> list[str]:
    with pytest.raises(SpecError) as info:
        parse_spec(load_yaml(yaml.safe_dump(doc, sort_keys=False), name))
    return [str(p) for p in info.value.problems]


def test_the_default_spec_is_within_every_quota(default_spec):
    for f in count_figures(default_spec):
        assert f.value <= limit(default_spec, f.quota), f


def test_a_raise_lifts_an_adjustable_quota():
    # GIVEN an org of 11 accounts (AWS's default is 10) WHEN the org has had the raise THEN it validates
    doc = shared_stage_org(6)
    assert len(doc["accounts"]) == 11 and doc.pop("quotas") == {"organization_accounts": 11}
    doc["service_catalog"]["portfolios"]["sagemaker-projects"]["personas"] = ["lead-data-scientist"]
    lines = _refusal(doc)
    assert len(lines) == 1 and "organization_accounts: 11 > 10 (AWS organization: o-nw4a8k2j6q)" in lines[0]
    doc["quotas"] = {"organization_accounts": 20}
    parse_spec(load_yaml(yaml.safe_dump(doc, sort_keys=False), "q.yaml"))


def test_a_hard_quota_cannot_be_raised():
    doc = yaml.safe_load((ROOT / "org.yaml").read_text())
    doc["quotas"] = {"portfolio_iam_pattern_principals": 50}
    lines = _refusal(doc)
    assert len(lines) == 1
    assert lines[0].endswith(
        "quotas: portfolio_iam_pattern_principals is a hard AWS quota, AWS does not raise it (remove it; only "
        "adjustable quotas can be raised: see docs/quotas.md)"
    )


def test_a_raise_beyond_what_aws_grants_is_refused():
    doc = yaml.safe_load((ROOT / "org.yaml").read_text())
    doc["quotas"] = {"iam_roles_per_account": 6000}
    lines = _refusal(doc)
    assert len(lines) == 1
    assert lines[0].endswith(
        "quotas.iam_roles_per_account: AWS raises iam_roles_per_account to at most 5,000 (got 6,000); see IAM and "
        "AWS STS quotas"
    )


# -- sizes ----------------------------------------------------------------------------------------


def _doc(statements: int, pad: str = "") -> str:
    stmts = [
        {"Sid": f"S{i}{pad}", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"} for i in range(statements)
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": stmts}, indent=4)


def test_iam_sizes_count_no_whitespace_and_other_sizes_count_bytes():
    text = _doc(3)
    compact = json.dumps(json.loads(text), separators=(",", ":"))
    assert measure(QUOTAS["iam_managed_policy_chars"], text) == len(compact) < len(text)
    assert measure(QUOTAS["s3_bucket_policy_bytes"], text) == len(text.encode())
    assert measure(QUOTAS["scp_chars"], text) == len(text)
    assert measure(QUOTAS["kms_key_policy_bytes"], '{"Sid":"é"}') == 12  # é is two bytes in UTF-8
    assert QUOTAS["iam_managed_policy_chars"].measure is Measure.IAM_CHARS


def test_inline_policies_are_summed_per_role(default_spec):
    # Two inline policies of 6,000 characters each: each alone fits, the role's total does not.
    half = _doc(1, pad="x" * (6000 - len(json.dumps(json.loads(_doc(1)), separators=(",", ":")))))
    assert measure(QUOTAS["iam_role_inline_policies_chars"], half) == 6000
    docs = [
        ("inline-policy", "ml-prod", "eu-west-1", "nwa-fraud-endpoint", "a", half),
        ("inline-policy", "ml-prod", "eu-west-1", "nwa-fraud-endpoint", "b", half),
        ("inline-policy", "ml-prod", "eu-west-1", "nwa-churn-endpoint", "a", half),
    ]
    assert check_policy_sizes(default_spec, docs) == [
        (
            ("accounts", "ml-prod"),
            "iam_role_inline_policies_chars: 12,000 > 10,240 (IAM role (its inline policies together): role "
            "nwa-fraud-endpoint in ml-prod); scope the statements by a pattern or condition instead of one per team "
            "or model",
        )
    ]
    assert check_policy_sizes(default_spec, docs[:1] + docs[2:]) == []


@pytest.mark.parametrize(
    ("kind", "quota"),
    [
        ("managed-policy", "iam_managed_policy_chars"),
        ("trust-policy", "iam_role_trust_policy_chars"),
        ("bucket-policy", "s3_bucket_policy_bytes"),
        ("key-policy", "kms_key_policy_bytes"),
        ("bus-policy", "event_bus_policy_chars"),
        ("event-pattern", "event_pattern_chars"),
        ("topic-policy", "sns_topic_policy_bytes"),
        ("queue-policy", "sqs_queue_policy_bytes"),
        ("lambda-policy", "lambda_resource_policy_bytes"),
        ("action-configuration", "codepipeline_action_configuration_value_chars"),
        ("scp", "scp_chars"),
    ],
)
def test_each_document_kind_is_held_to_its_limit(default_spec, kind, quota):
    q = QUOTAS[quota]
    pad = q.limit - measure(q, json.dumps({"Version": "2012-10-17", "Statement": [{"Sid": ""}]}, separators=(",", ":")))
    at_limit = json.dumps({"Version": "2012-10-17", "Statement": [{"Sid": "x" * pad}]}, separators=(",", ":"))
    assert measure(q, at_limit) == q.limit
    over = at_limit.replace('"Sid":"', '"Sid":"y', 1)
    fits = [(kind, "ml-prod", "eu-west-1", "object", "doc", at_limit)]
    assert check_policy_sizes(default_spec, fits) == []
    if kind == "scp":  # measured, but reported by the guardrails' own check (never twice)
        [figure] = size_figures([(kind, "ml-prod", "eu-west-1", "object", "doc", over)])
        assert figure.value == q.limit + 1
        assert check_policy_sizes(default_spec, [(kind, "ml-prod", "eu-west-1", "object", "doc", over)]) == []
        return
    [(path, message)] = check_policy_sizes(default_spec, [(kind, "ml-prod", "eu-west-1", "object", "doc", over)])
    assert path == ("accounts", "ml-prod")
    assert message.startswith(
        f"{quota}: {q.limit + 1:,} > {q.limit:,} ({q.applies_to}: object doc in ml-prod (eu-west-1)); "
    )


def test_a_raised_size_quota_applies(default_spec):
    q = QUOTAS["iam_role_trust_policy_chars"]
    text = json.dumps({"Sid": "x" * 3000})
    docs = [("trust-policy", "ml-prod", "eu-west-1", "role", "r", text)]
    assert len(check_policy_sizes(default_spec, docs)) == 1
    raised = default_spec.model_copy(update={"quotas": QuotaRaises(iam_role_trust_policy_chars=q.maximum)})
    assert check_policy_sizes(raised, docs) == []


def test_an_unknown_document_kind_is_a_programming_error(default_spec):
    with pytest.raises(ValueError, match="unknown document kind"):
        check_policy_sizes(default_spec, [("acl", "ml-prod", "eu-west-1", "o", "n", "{}")])


def test_worst_object_is_reported_once_with_how_many_more(default_spec):
    q = QUOTAS["sqs_queue_policy_bytes"]
    docs = [
        ("queue-policy", "ml-prod", "eu-west-1", "queue", f"q{n}", json.dumps({"Sid": "x" * (q.limit + n)}))
        for n in (1, 50, 7)
    ]
    [(_, message)] = check_policy_sizes(default_spec, docs)
    figure = q.limit + 50 + len('{"Sid": ""}')
    assert message == (
        f"sqs_queue_policy_bytes: {figure:,} > {q.limit:,} (SQS queue policy: queue q50 in ml-prod (eu-west-1), "
        f"and 2 more); {q.remedy}"
    )


def test_bench_fixture_is_the_default_topology():
    doc = shared_stage_org(3)
    teams = doc["teams"]
    assert len(teams) == 3
    assert {s["account"] for t in teams.values() for s in t["stages"]} == {"ml-test", "ml-prod"}
    assert len({t["dev_account"] for t in teams.values()}) == 3


# -- quotas too large to commit as a bad spec: generated here -------------------------------------


def _one_line(doc: dict, quota: str | None = None) -> str:
    """The one refusal line (of ``quota``, when given: a generated org may break size quotas too)."""
    lines = [line for line in _refusal(doc, "gen.yaml") if quota is None or f": {quota}: " in line]
    assert len(lines) == 1, lines
    return lines[0].split(": ", 1)[1]  # without the line number: the dump decides it


def _refused_quotas(doc: dict) -> set[str]:
    try:
        parse_spec(load_yaml(yaml.safe_dump(doc, sort_keys=False), "gen.yaml"))
    except SpecError as exc:
        return {p.message.split(":", 1)[0] for p in exc.problems}
    return set()


def _default_doc() -> dict:
    return yaml.safe_load((ROOT / "org.yaml").read_text())


def test_roles_per_account_generated():
    # GIVEN 334 teams sharing ml-test/ml-prod (portfolios without personas, raised account and
    # rule quotas) THEN ml-prod holds 334 x (deploy, endpoint-deployer, endpoint, monitoring)
    # roles plus fraud's batch role, plus the bootstrap's Terraform and plan roles: one line for
    # the quota, on the fullest account.
    doc = shared_stage_org(334)
    for portfolio in doc["service_catalog"]["portfolios"].values():
        portfolio["personas"] = []
    doc["quotas"] = {"organization_accounts": len(doc["accounts"]), "event_rules_per_bus": 1000}
    assert _one_line(doc, "iam_roles_per_account") == (
        "accounts.ml-prod: iam_roles_per_account: 1,339 > 1,000 (IAM roles of the account: ml-prod, and 2 more); "
        + QUOTAS["iam_roles_per_account"].remedy
    )
    doc["quotas"]["iam_roles_per_account"] = 2000
    assert "iam_roles_per_account" not in _refused_quotas(doc)


def test_pipelines_per_region_generated():
    doc = _default_doc()
    doc["teams"]["churn"]["governance"] = {"model_package_groups": [f"m{i:04d}" for i in range(999)]}
    doc["quotas"] = {"event_rules_per_bus": 1100}
    assert _one_line(doc, "codepipeline_pipelines_per_region") == (
        "accounts.ml-shared-services: codepipeline_pipelines_per_region: 1,001 > 1,000 (CodePipeline pipelines of "
        "the account and region: ml-shared-services in eu-west-1); "
        + QUOTAS["codepipeline_pipelines_per_region"].remedy
    )


def test_organization_ous_generated():
    doc = _default_doc()
    ous = doc["organization"]["organizational_units"]
    for i in range(1000 - len(ous) + 1):
        ous[f"extra-{i:04d}"] = {"id": f"ou-nw4a-x{i:07d}"}
    assert _one_line(doc) == (
        "organization.organizational_units: organization_ous: 1,001 > 1,000 (AWS organization: o-nw4a8k2j6q); "
        + QUOTAS["organization_ous"].remedy
    )


def test_lake_formation_quotas_generated():
    doc = _default_doc()
    doc["data"]["lf_tags"].update({f"extra{i:04d}": ["yes"] for i in range(1000 - 2 + 1)})
    assert _one_line(doc) == (
        "data.lf_tags: lf_tags_per_account: 1,001 > 1,000 (LF-tags of the data account: data-lake); "
        + QUOTAS["lf_tags_per_account"].remedy
    )
    doc = _default_doc()
    doc["data"]["lf_tags"]["domain"] += [f"domain{i:04d}" for i in range(1000 - 2 + 1)]
    assert _one_line(doc) == "data.lf_tags.domain: lf_tag_values: 1,001 > 1,000 (LF-tag: domain); " + (
        QUOTAS["lf_tag_values"].remedy
    )
    doc = _default_doc()
    extra = {f"extra{i:02d}": "yes" for i in range(50)}
    doc["data"]["lf_tags"].update({key: ["yes"] for key in extra})
    doc["data"]["databases"]["payments"]["tables"]["transactions"]["lf_tags"] = {"domain": "payments", **extra}
    assert _one_line(doc) == (
        "data.databases.payments.tables.transactions.lf_tags: lf_tags_per_resource: 51 > 50 (Glue database or "
        "table: table payments.transactions); " + QUOTAS["lf_tags_per_resource"].remedy
    )


def test_tags_per_resource_generated():
    # GIVEN a team with 40 tags of its own on top of the org's, the cost tags and mlgov's keys
    doc = _default_doc()
    doc["teams"]["fraud"]["tags"].update({f"extra-{i:02d}": "x" for i in range(40)})
    # THEN one line on the team's tags: its resources would carry more than AWS's 50
    line = _one_line(doc, "tags_per_resource")
    assert line.startswith("teams.fraud.tags: tags_per_resource: ")
    assert "> 50 (AWS resource of an account's stack (its default tags and its own): resources of stack " in line
    doc["teams"]["fraud"]["tags"] = {f"extra-{i:02d}": "x" for i in range(30)}
    assert "tags_per_resource" not in _refused_quotas(doc)


def test_the_default_orgs_synthesized_documents_fit_every_size_quota(default_spec, stacks):
    from mlgov.review.sizes import stack_documents
    from mlgov.validation.quotas import DOCUMENT_QUOTAS

    docs = list(stack_documents(default_spec, stacks))
    assert {kind for kind, *_ in docs} == set(DOCUMENT_QUOTAS)  # every kind is found and measured
    assert check_policy_sizes(default_spec, docs) == []
    # the biggest inline total is a real role's, summed over its policies
    inline = max((f for f in size_figures(docs) if f.quota == "iam_role_inline_policies_chars"), key=lambda f: f.value)
    role, account = inline.aws_object.removeprefix("role ").split(" in ")
    policies = [t for kind, acc, _, obj, _, t in docs if kind == "inline-policy" and (acc, obj) == (account, role)]
    assert inline.value == sum(measure(QUOTAS["iam_role_inline_policies_chars"], t) for t in policies)


def test_the_quota_page_lists_every_quota_with_its_limit():
    text = (ROOT / "docs" / "quotas.md").read_text()
    for key, quota in QUOTAS.items():
        row = next((line for line in text.splitlines() if line.startswith(f"| `{key}` |")), None)
        assert row is not None, key
        assert f"| {quota.limit:,}" in row and quota.url in row and ("hard" in row) != quota.adjustable, key


@pytest.mark.slow  # starts a process
def test_validate_refuses_a_broken_quota_in_one_line_with_exit_2():
    import subprocess
    import sys

    path = ROOT / "tests" / "cases" / "bad" / "quota-portfolio-principals.yaml"
    proc = subprocess.run([sys.executable, "main.py", "validate", str(path)], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    [line] = proc.stderr.splitlines()
    assert line.startswith(f"{path}:229: service_catalog.portfolios.ml-admin: ")
    assert "portfolio_iam_pattern_principals: 11 > 10 (" in line


def test_lake_formation_cross_account_grants_generated():
    # GIVEN the default org, whose data account grants its teams some tables, and a database of
    # 1,600 tables granted to fraud one by one (the named resource method)
    from mlgov.validation.quotas import cross_account_grants

    doc = _default_doc()
    before = len(cross_account_grants(load_spec(ROOT / "org.yaml")))
    column = [{"name": "id", "type": "string"}]
    doc["data"]["databases"]["bulk"] = {"tables": {f"t{i:04d}": {"columns": column} for i in range(1600)}}
    doc["data"]["grants"]["fraud"] += [{"database": "bulk", "table": f"t{i:04d}"} for i in range(1600)]
    # THEN one line: each table grant and the new database's DESCRIBE grant count, over AWS's 1,600
    figure = before + 1600 + 1
    assert _one_line(doc, "lf_cross_account_grants") == (
        f"data.grants: lf_cross_account_grants: {figure:,} > 1,600 (Lake Formation grants of the data account "
        "to other accounts: data-lake); " + QUOTAS["lf_cross_account_grants"].remedy
    )
    # AND one grant of the whole database (All tables counts as one grant) fits
    doc["data"]["grants"]["fraud"] = doc["data"]["grants"]["fraud"][:-1600] + [{"database": "bulk"}]
    assert "lf_cross_account_grants" not in _refused_quotas(doc)


def test_generated_large_org_names_exactly_the_raises_it_needs():
    # GIVEN a large org past AWS's defaults in the hub (roles and rules per team)
    from mlgov.spec.large_org import large_org
    from mlgov.validation.quotas import needed_raises

    doc = large_org(334)
    spec = parse_model(load_yaml(yaml.safe_dump(doc, sort_keys=False), "gen.yaml"))
    # THEN what the generator names is what validate's counts need, no more, no less
    assert doc["quotas"] == needed_raises(spec)
    assert set(doc["quotas"]) == {"organization_accounts", "iam_roles_per_account", "event_rules_per_bus"}


def test_shared_stage_org_with_its_raises_named_is_accepted():
    # GIVEN 334 teams sharing ml-test and ml-prod (ml-prod: 4 roles per team, the hub's default
    # bus: a rule per team and group), portfolios without personas
    from mlgov.validation.quotas import name_needed_raises

    doc = shared_stage_org(334)
    for portfolio in doc["service_catalog"]["portfolios"].values():
        portfolio["personas"] = []
    refused = _refused_quotas(doc)
    # WHEN the raises it needs are named THEN exactly the refused quotas are raised, and accepted
    named = name_needed_raises(doc)["quotas"]
    assert refused == {"iam_roles_per_account", "event_rules_per_bus"}
    assert set(named) == refused | {"organization_accounts"}
    assert _refused_quotas(doc) == set()
