"""Files the governance flow ships beside the hub stack, and the data both sides agree on.

- ``assets/promotion.zip``: the promotion function (:mod:`mlgov.functions.promotion`);
- ``assets/endpoint-source.zip``: the source artifact of every deployment pipeline, holding
  ``endpoint.json``, the CloudFormation template that deploys a registered model package as a
  real-time endpoint in a stage account.

Both zips are deterministic (stored entries, fixed timestamps and permissions, sorted), so
their hashes are stable in ``generated/``. The hub construct computes the Lambda
``source_code_hash`` and the S3 object hash from the same bytes this renderer writes.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import shlex
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from mlgov.platform import images, naming, network
from mlgov.platform.iam import arns
from mlgov.platform.pipeline import VERSION_KEY
from mlgov.platform.seed import SEED_DIR
from mlgov.platform.templates import render_file
from mlgov.spec.governance import batch_stages, monitored_stages, resolve_endpoint
from mlgov.spec.model import Layer, OrgSpec, Stage

PROMOTION_ZIP = "assets/promotion.zip"
ENDPOINT_SOURCE_ZIP = "assets/endpoint-source.zip"
ENDPOINT_TEMPLATE = "endpoint.json"
SELECTED_FILE = "selected.json"
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry


def deterministic_zip(files: dict[str, bytes]) -> bytes:
    """A zip whose bytes depend only on ``files``: sorted, stored, fixed time and mode."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.create_system = 3  # unix, so external_attr carries the mode
            info.external_attr = 0o100644 << 16
            info.compress_type = zipfile.ZIP_STORED
            archive.writestr(info, files[name])
    return buffer.getvalue()


def base64_sha256(data: bytes) -> str:
    """The hash form Terraform's ``filebase64sha256`` gives (Lambda ``source_code_hash``)."""
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


# The promotion function's sources mapping (promotion_sources), shipped in its package: it grows
# with the teams, and Lambda allows 4 KB of environment variables in all (hard; Lambda quotas,
# "Environment variables"), which a dozen teams passed.
PROMOTION_SOURCES_FILE = "sources.json"


def promotion_zip(spec: OrgSpec) -> bytes:
    """The promotion function package: its one module, as shipped in the mlgov package, and the
    spec's sources mapping (:func:`promotion_sources`) as ``sources.json``."""
    sources = json.dumps(promotion_sources(spec), sort_keys=True, separators=(",", ":"))
    return _promotion_zip(sources)


@lru_cache(maxsize=4)
def _promotion_zip(sources: str) -> bytes:
    source = resources.files("mlgov.functions").joinpath("promotion.py").read_bytes()
    return deterministic_zip({"promotion.py": source, PROMOTION_SOURCES_FILE: sources.encode() + b"\n"})


PROMOTION_HANDLER = "promotion.handler"


ENDPOINT_TEMPLATE_SOURCE = "governance/endpoint.json.j2"


def endpoint_template(spec: OrgSpec) -> dict[str, Any]:
    """CloudFormation template of one model endpoint (model, config, endpoint, autoscaling),
    rendered from ``mlgov/templates/governance/endpoint.json.j2``.

    The model runs in the stage account's network: its subnets and security groups are
    parameters of type ``AWS::SSM::Parameter::Value<List<String>>`` whose defaults name the
    SSM parameters the account's stack writes (:func:`mlgov.platform.network.parameter_names`),
    so CloudFormation reads them in the account it deploys to and no id is ever typed.

    Model and endpoint-config names carry the package version and a settings hash, so a new
    package or new settings create new ones beside the old (CloudFormation replaces them
    without a name clash) while the endpoint itself keeps its name.
    """
    names = network.parameter_names(spec)
    return _template(names["vpc-id"], names["subnet-ids"], names["security-group-ids"])


def _template(vpc_id_parameter: str, subnet_ids_parameter: str, security_group_ids_parameter: str) -> dict[str, Any]:
    view = {
        "vpc_id_parameter": vpc_id_parameter,
        "subnet_ids_parameter": subnet_ids_parameter,
        "security_group_ids_parameter": security_group_ids_parameter,
        "endpoint_tests_buildspec": endpoint_tests_buildspec(),
        "build_image": BUILD_IMAGE,
        "tests_timeout": ENDPOINT_TESTS_TIMEOUT_MINUTES,
    }
    return json.loads(render_file(ENDPOINT_TEMPLATE_SOURCE, view))


def endpoint_source_zip(spec: OrgSpec) -> bytes:
    """The pipelines' source artifact: the endpoint template (canonical JSON) and the endpoint
    tests of the model-build seed (:data:`ENDPOINT_TESTS`), byte for byte as the seed ships them."""
    names = network.parameter_names(spec)
    return _endpoint_source_zip(names["vpc-id"], names["subnet-ids"], names["security-group-ids"])


@lru_cache(maxsize=4)
def _endpoint_source_zip(vpc_id_parameter: str, subnet_ids_parameter: str, security_group_ids_parameter: str) -> bytes:
    # Cached by what the template depends on, not by the (unhashable) spec.
    template = _template(vpc_id_parameter, subnet_ids_parameter, security_group_ids_parameter)
    data = (json.dumps(template, sort_keys=True, indent=2) + "\n").encode()
    return deterministic_zip({ENDPOINT_TEMPLATE: data, **endpoint_tests_files()})


# --- the staging test: the seed's endpoint tests, run in a stage before a manual approval -------

BUILD_IMAGE = "aws/codebuild/amazonlinux2-x86_64-standard:5.0"
# The seed's endpoint tests (seed/model-build/endpoint_tests/), shipped in the pipelines' source
# under the same paths: the hub runs the platform's copy, which no team role can replace (the
# source is Terraform's object, read-only to the teams' roles).
ENDPOINT_TESTS = ("endpoint_tests/check_endpoint.py", "endpoint_tests/sample.csv")
# CodeBuild's default is 60 minutes; the tests send one small request.
ENDPOINT_TESTS_TIMEOUT_MINUTES = 10


def endpoint_tests_files() -> dict[str, bytes]:
    """The endpoint tests as the seed ships them, by path in the source artifact."""
    return {path: (SEED_DIR / path).read_bytes() for path in ENDPOINT_TESTS}


def endpoint_tests_buildspec() -> str:
    """Buildspec of a stage's endpoint-tests project: the seed's check against the stage's endpoint
    (``ENDPOINT_NAME``, set by the project). A non-zero exit fails the pipeline's test action."""
    spec = {
        "version": 0.2,
        "phases": {"build": {"commands": [f'python3 {ENDPOINT_TESTS[0]} --endpoint-name "$ENDPOINT_NAME"']}},
    }
    return json.dumps(spec, sort_keys=True)


def staging_stages(spec: OrgSpec, team: str) -> list[str]:
    """The team's stages that run the endpoint tests after they deploy: every stage some later
    stage waits for a manual approval after (test, before the prod approval). A stage that asks
    for an approval itself is never one: its approval is the last gate before it."""
    stages = spec.teams[team].stages
    return [
        s.name
        for i, s in enumerate(stages)
        if not s.manual_approval and any(later.manual_approval for later in stages[i + 1 :])
    ]


def tested_accounts(spec: OrgSpec, team: str) -> list[str]:
    """Keys of the accounts where a staging stage of the team deploys (its endpoint tests run there)."""
    staging = set(staging_stages(spec, team))
    return sorted({s.account for s in spec.teams[team].stages if s.name in staging})


def endpoint_tests_action_name(stage_name: str) -> str:
    """Name of the endpoint-tests action after a stage's deploy action."""
    return f"endpoint-tests-{stage_name}"


# What the select step hands the deploy actions besides the package ARN: the package's
# drift-check baselines (copied into the hub by the promotion function), by selected.json key.
BASELINES = {
    "BaselineStatisticsUri": "DriftCheckBaselines.ModelDataQuality.Statistics.S3Uri",
    "BaselineConstraintsUri": "DriftCheckBaselines.ModelDataQuality.Constraints.S3Uri",
    "ModelQualityConstraintsUri": "DriftCheckBaselines.ModelQuality.Constraints.S3Uri",
    "BiasConfigUri": "DriftCheckBaselines.Bias.ConfigFile.S3Uri",
    "BiasConstraintsUri": "DriftCheckBaselines.Bias.PostTrainingConstraints.S3Uri",
}
# Which baselines each monitor needs.
MONITOR_BASELINES = {
    "data-quality": ("BaselineStatisticsUri", "BaselineConstraintsUri"),
    "model-quality": ("ModelQualityConstraintsUri",),
    "bias": ("BiasConfigUri", "BiasConstraintsUri"),
}
NO_BASELINE = "none"


# The pin the select step writes and the prod approval names: the package and what it runs.
PIN_VARIABLES = ("ModelPackageArn", "PinDigest")
SELECT_NAMESPACE = "SelectModel"
# Set on the select project's second run, just before a stage that waits for an approval: the pin
# the earlier stages deployed. The run re-reads THAT package and fails if its pin changed.
PINNED = {"PINNED_ARN": "ModelPackageArn", "PINNED_DIGEST": "PinDigest"}
PACKAGE_FILE = "package.json"


# --- stages in another region than the hub's -------------------------------------------------

# What a region's copy of the pin adds for the endpoint template (its ModelDataUrl and ImageUri).
REGION_CONTAINER = {"ModelDataUrl": "ModelDataUrl", "ImageUri": "Image"}


@dataclass(frozen=True)
class RegionCopy:
    """What the select step writes for a stage region other than the hub's: ``file``, the pin with
    every hub location swapped for its copy in ``region`` (``prefixes``: the hub's artifact bucket
    for its replica, each image registry for that region's), after checking that S3 has
    replicated every artifact of ``source_bucket`` the pin names."""

    region: str
    file: str
    source_bucket: str
    prefixes: tuple[tuple[str, str], ...]


def selected_file(spec: OrgSpec, region: str) -> str:
    """The pin a stage in ``region`` deploys from: ``selected.json``, or its region's copy."""
    return SELECTED_FILE if region == naming.hub_region(spec) else f"selected-{region}.json"


def region_copies(spec: OrgSpec, team: str) -> tuple[RegionCopy, ...]:
    """The region copies of a team's pin, one per region of its stages other than the hub's."""
    source = naming.bucket_name(spec, spec.hub, naming.hub_region(spec), "model-artifacts")
    return tuple(
        RegionCopy(
            region,
            selected_file(spec, region),
            source,
            (
                (f"s3://{source}/", f"s3://{naming.bucket_name(spec, spec.hub, region, 'model-artifacts')}/"),
                *images.registry_prefixes(spec, region),
            ),
        )
        for region in naming.team_remote_regions(spec, team)
    )


def container_parameters(spec: OrgSpec, region: str) -> dict[str, Any]:
    """The endpoint template's ``ModelDataUrl`` and ``ImageUri`` for a stage in ``region``: none in
    the hub's (the model is created from the package), else from the region's copy of the pin."""
    if region == naming.hub_region(spec):
        return {}
    return {p: {"Fn::GetParam": ["selected", selected_file(spec, region), k]} for p, k in REGION_CONTAINER.items()}


def _region_commands(copy: RegionCopy) -> list[str]:
    """Shell commands of the select step for one :class:`RegionCopy`."""
    prefix = f"s3://{copy.source_bucket}/"
    pairs = json.dumps([list(p) for p in copy.prefixes], separators=(",", ":"))
    program = (
        'if (.Containers | length) != 1 then error("a package deployed to another region has one container") '
        "else . end | def swap: . as $s | reduce $map[] as $p ($s; if startswith($p[0]) then $p[1] + "
        'ltrimstr($p[0]) else . end); walk(if type == "string" then swap else . end) '
        "| . + {ModelDataUrl: .Containers[0].ModelDataUrl, Image: .Containers[0].Image}"
    )
    listing = f'[.. | strings | select(startswith("{prefix}")) | ltrimstr("{prefix}")] | unique[]'
    return [
        # S3 replicates asynchronously: deploy only once every artifact is in the region.
        f"jq -r '{listing}' {SELECTED_FILE} | while read -r key; do status=$(aws s3api head-object --bucket "
        f'{copy.source_bucket} --key "$key" --query ReplicationStatus --output text); if [ "$status" != '
        f'COMPLETED ]; then echo "$key is not replicated to {copy.region} yet ($status); run the pipeline again '
        f'later" >&2; exit 1; fi; done',
        f"jq -e -S --argjson map '{pairs}' '{program}' {SELECTED_FILE} > {copy.file}",
    ]


def deploy_config_file(stage_name: str) -> str:
    """The template configuration file of a stage's deploy action, in the ``selected`` artifact."""
    return f"deploy-{stage_name}.json"


def _config_command(file: str, parameters: dict[str, Any]) -> str:
    """The select step's command writing one stage's template configuration file ``file``:
    ``{"Parameters": ...}`` with the static values as given and every ``Fn::GetParam`` value
    read by ``jq`` from the pin file it names (``selected.json`` or a region copy), so what the
    stage deploys comes from the same files the pin covers. Fails unless every value is a string.

    The static values go in as one JSON argument: ``$`` and ``%`` escaped as JSON ``\\u`` codes
    (Terraform reads ``${`` and ``%{`` in the project's JSON as its own), single-quoted for the shell.
    """
    static = {k: v for k, v in parameters.items() if isinstance(v, str)}
    dynamic = {k: v["Fn::GetParam"] for k, v in parameters.items() if not isinstance(v, str)}
    files = sorted({f for _artifact, f, _key in dynamic.values()})
    slots = {f: f"$f{i}" for i, f in enumerate(files)}
    reads = ", ".join(f"{k}: {slots[f]}[0].{key}" for k, (_artifact, f, key) in sorted(dynamic.items()))
    text = json.dumps(static, sort_keys=True, separators=(",", ":")).replace("$", "\\u0024").replace("%", "\\u0025")
    program = (
        f'{{Parameters: ($p + {{{reads}}})}} | if ([.Parameters[] | select(type != "string")] | length) > 0 '
        f'then error("{file}: a parameter is not a string") else . end'
    )
    slurps = " ".join(f"--slurpfile {slots[f][1:]} {f}" for f in files)
    return f"jq -e -S -n --argjson p {shlex.quote(text)} {slurps} '{program}' > {file}"


def select_buildspec(
    central_group: str,
    monitors: tuple[str, ...] = (),
    copies: tuple[RegionCopy, ...] = (),
    configs: tuple[tuple[str, dict[str, Any]], ...] = (),
) -> str:
    """CodeBuild buildspec that writes the NEWEST approved package of a central group.

    Sorted by creation time, descending: the newest package, not the oldest the API returns
    first by default. Fails the pipeline when the group has no approved package, or when a
    stage monitors the endpoint (``monitors``) and the package lacks that monitor's baselines:
    a monitored endpoint is never deployed without what its monitors compare against.

    Writes ``selected.json``, the pin every stage deploys from: the ARN, every baseline URI
    (``none`` when absent), and what the package runs (each container's image, image digest and
    model data URL, and the S3 versions of the artifacts, ``mlgov:version:*``, promotion
    recorded). It is built by ``jq`` from the package's JSON, never by pasting CLI text into a
    format string: a value holding quotes (an artifact key such as ``x","ModelPackageArn":"...``)
    stays one string value. The pin's
    SHA-256 and the ARN are exported as pipeline variables so the prod approval names them.

    With ``copies`` (a team with stages in other regions than the hub's), it also writes each
    region's copy of the pin (:class:`RegionCopy`), once S3 has replicated the artifacts there.

    With ``configs`` (``(file, parameters)`` per stage, :func:`mlgov.platform.deploy.deploy_configs`),
    it then writes each stage's template configuration file (:func:`_config_command`): CodePipeline
    holds an action configuration value to 1,000 characters, which the parameters pass.

    Run again with ``PINNED_ARN`` and ``PINNED_DIGEST`` set (:func:`verify_pin_variables`), it
    re-reads that package instead of the newest and fails unless its pin is byte for byte the
    same: what is deployed after an approval is what the earlier stages deployed and tested.
    """
    query = (
        f"aws sagemaker list-model-packages --model-package-group-name {central_group} "
        "--model-approval-status Approved --sort-by CreationTime --sort-order Descending --max-items 1 "
        "--query 'ModelPackageSummaryList[0].ModelPackageArn' --output text"
    )
    baselines = ", ".join(f'{k}: (.{path} // "{NO_BASELINE}")' for k, path in BASELINES.items())
    containers = (
        "[.InferenceSpecification.Containers[] | {Image: .Image, "
        f'ImageDigest: (.ImageDigest // "{NO_BASELINE}"), ModelDataUrl: (.ModelDataUrl // "{NO_BASELINE}")}}]'
    )
    program = (
        'if .ModelPackageArn != $arn then error("described package is not " + $arn) '
        'elif .ModelApprovalStatus != "Approved" then error($arn + " is no longer approved") else . end '
        f"| {{ModelPackageArn: $arn, {baselines}, Containers: {containers}, "
        "ArtifactVersions: ((.CustomerMetadataProperties // {}) | with_entries(select(.key | "
        f'startswith("{VERSION_KEY}"))))}}'
    )
    commands = [
        f"arn=$({query})",
        # No "${" anywhere: Terraform would read it as its own interpolation in the project's JSON.
        'if [ -n "$PINNED_ARN" ]; then arn=$PINNED_ARN; fi',
        # Only a versioned package of this group: anything else is not what was approved.
        f"printf '%s' \"$arn\" | grep -Eqx 'arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:[0-9]{{12}}:model-package/"
        f'{central_group}/[0-9]+\' || {{ echo "no approved model package in {central_group}" >&2; exit 1; }}',
        f'aws sagemaker describe-model-package --model-package-name "$arn" --output json > {PACKAGE_FILE}',
        f"jq -e -S --arg arn \"$arn\" '{program}' {PACKAGE_FILE} > {SELECTED_FILE}",
    ]
    required = sorted({k for m in monitors for k in MONITOR_BASELINES[m]})
    for key in required:
        commands.append(
            f'if [ "$(jq -r \'.{key}\' {SELECTED_FILE})" = {NO_BASELINE} ]; then echo "$arn has no '
            f'{BASELINES[key]}, which the monitored stages need" >&2; exit 1; fi'
        )
    commands += [
        f"ModelPackageArn=$(jq -r .ModelPackageArn {SELECTED_FILE})",
        f"PinDigest=$(sha256sum {SELECTED_FILE} | cut -c1-64)",
        'if [ -n "$PINNED_DIGEST" ] && [ "$PinDigest" != "$PINNED_DIGEST" ]; then echo "$arn changed since '
        'the earlier stages deployed it (pin $PINNED_DIGEST, now $PinDigest)" >&2; exit 1; fi',
        f"cat {SELECTED_FILE}",
    ]
    for copy in copies:
        commands += _region_commands(copy)
    commands += [_config_command(file, parameters) for file, parameters in configs]
    spec = {
        "version": 0.2,
        "env": {"exported-variables": list(PIN_VARIABLES)},
        "phases": {"build": {"commands": commands}},
        "artifacts": {"files": [SELECTED_FILE, *(c.file for c in copies), *(file for file, _ in configs)]},
    }
    return json.dumps(spec, sort_keys=True, indent=2) + "\n"


def verify_pin_variables() -> str:
    """The CodeBuild action's ``EnvironmentVariables`` that turn a select run into a pin check."""
    variables = [
        {"name": name, "type": "PLAINTEXT", "value": f"#{{{SELECT_NAMESPACE}.{exported}}}"}
        for name, exported in PINNED.items()
    ]
    return json.dumps(variables, sort_keys=True, separators=(",", ":"))


def approval_summary(central_group: str, stage: str, account: str, tested: Sequence[str] = ()) -> str:
    """What a manual approval shows: the pinned package and the pin's digest, as resolved by
    CodePipeline from the select build's exported variables in this execution, and the stages
    whose endpoint tests that pin passed (``tested``: the approval is reachable only after them).
    An action configuration value holds at most 1,000 characters (CodePipeline API Reference,
    ``ActionConfigurationValue``); tests/test_selected_pin.py keeps this one under 500."""
    arn, digest = (f"#{{{SELECT_NAMESPACE}.{v}}}" for v in PIN_VARIABLES)
    text = f"Approve deploying {central_group} to {stage} ({account}): {arn}, pin sha256 {digest} (selected.json)"
    if tested:
        text += f"; this pin passed the endpoint tests in stage {', '.join(tested)}"
    return text


def hub_stack_names(spec: OrgSpec) -> list[str]:
    """Stacks that hold the governance hub (the hub account in :func:`naming.hub_region`)."""
    region = naming.hub_region(spec)
    return [
        ref.name for ref in spec.stack_refs() if ref.layer == Layer.hub and ref.region == region and not ref.is_slice
    ]


def render_assets(spec: OrgSpec) -> dict[str, bytes]:
    """Renderer for :func:`mlgov.synth.extra_renderers`: the zips beside the hub stack."""
    tree = {}
    for name in hub_stack_names(spec):
        tree[f"stacks/{name}/{PROMOTION_ZIP}"] = promotion_zip(spec)
        tree[f"stacks/{name}/{ENDPOINT_SOURCE_ZIP}"] = endpoint_source_zip(spec)
    return tree


# --- the hub's governance facts: who deploys where, which gates exist, what is promoted ------

SOURCE_KEY = "sources/endpoint-source.zip"  # the pipelines' source object in the pipeline bucket
STAGE_ROLE_PURPOSES = ("deploy", "endpoint-deployer", "endpoint", "monitoring", "batch", "endpoint-tester")


def stage_roles(spec: OrgSpec, team: str, region: str | None = None) -> dict[str, dict[str, str]]:
    """Per stage account id of a team: its deploy, CloudFormation and endpoint role ARNs (only
    the stages whose endpoints run in ``region``, when given)."""
    out: dict[str, dict[str, str]] = {}
    for stage in spec.teams[team].stages:
        if region is not None and naming.stage_region(spec, stage.account) != region:
            continue
        account_id = spec.accounts[stage.account].id
        out[account_id] = {
            purpose: arns.role(account_id, naming.team_role(spec, team, purpose)) for purpose in STAGE_ROLE_PURPOSES
        }
    return dict(sorted(out.items()))


def approval_action_name(stage_name: str) -> str:
    """Name of the manual approval action before a stage's deploy action."""
    return f"approve-{stage_name}"


def verify_action_name(stage_name: str) -> str:
    """Name of the pin check between a stage's approval and its deploy action."""
    return f"verify-pin-{stage_name}"


def approval_actions(spec: OrgSpec, region: str) -> list[str]:
    """ARNs of every manual approval action of every pipeline (the governance officer's gate)."""
    hub_id = spec.accounts[spec.hub].id
    return sorted(
        arns.pipeline_action(region, hub_id, naming.deploy_pipeline(spec, t, g), s.name, approval_action_name(s.name))
        for t, team in spec.teams.items()
        for g in team.governance.model_package_groups
        for s in team.stages
        if s.manual_approval
    )


def settings_hash(spec: OrgSpec, team: str, stage: Stage) -> str:
    """Short hash of what the endpoint template builds for a stage (new settings, new names)."""
    governance = spec.teams[team].governance
    data = json.dumps(
        [
            resolve_endpoint(spec, team, stage).__dict__,
            base64_sha256(endpoint_source_zip(spec)),
            # Monitor job definitions are named like the model: new monitoring settings, new names.
            governance.monitoring.model_dump(mode="json"),
            {g: b.model_dump(mode="json") for g, b in sorted(governance.batch.items())},
        ],
        sort_keys=True,
        default=list,
    )
    return hashlib.sha256(data.encode()).hexdigest()[:8]


def promotion_log_group(spec: OrgSpec) -> str:
    """The promotion function's log group (created by the hub stack, with retention)."""
    return f"/aws/lambda/{naming.promotion_function(spec)}"


def promotion_sources(spec: OrgSpec) -> dict[str, dict[str, Any]]:
    """What the promotion function promotes, by dev account id: the team, its dev -> central
    group names, the stage accounts that deploy its packages, its image rules and its own dev
    models buckets (the only buckets its artifacts may come from)."""
    sources: dict[str, dict[str, Any]] = {}
    for team in naming.by_label(spec, spec.teams):
        t = spec.teams[team]
        groups = {
            naming.model_package_group(spec, team, g): naming.central_model_package_group(spec, team, g)
            for g in t.governance.model_package_groups
        }
        sources[spec.accounts[t.dev_account].id] = {
            "team": naming.team_label(spec, team),
            "groups": dict(sorted(groups.items())),
            "deploy_accounts": list(stage_roles(spec, team)),
            "images": images.promotion_rules(spec, team),
            "buckets": sorted(
                naming.bucket_name(spec, t.dev_account, r, "models") for r in spec.account_regions(t.dev_account)
            ),
        }
    return dict(sorted(sources.items()))


def central_groups(spec: OrgSpec) -> list[str]:
    """Every central model package group of the hub registry, sorted."""
    return sorted(g for s in promotion_sources(spec).values() for g in s["groups"].values())


def dev_team(spec: OrgSpec, account_key: str) -> str | None:
    """The team whose dev account ``account_key`` is (validation guarantees at most one)."""
    owners = spec.dev_owners.get(account_key, ())
    return owners[0] if owners else None


def stage_teams(spec: OrgSpec, account_key: str) -> list[str]:
    """Teams with a stage in ``account_key``, in the order of their AWS names."""
    return naming.by_label(spec, spec.staged_teams.get(account_key, ()))


def stage_team_scope(spec: OrgSpec, team: str, account_key: str, monitored: bool) -> tuple[bool, list[str], bool]:
    """What a team's stage roles in ``account_key`` cover: (watched: its stage here is monitored
    and the account has the monitoring bucket (``monitored``), the groups with batch inference
    here, whether it has a stage here at all)."""
    t = spec.teams[team]
    here = {s.name for s in t.stages if s.account == account_key}
    watched = monitored and bool(here & set(monitored_stages(spec, team)))
    batch_groups = [g for g in t.governance.model_package_groups if here & set(batch_stages(spec, team, g))]
    return watched, batch_groups, bool(here)


# -- event patterns of the governance rules (EventBridge limits their size: mlgov.platform.quotas) --

MODEL_PACKAGE_STATE_CHANGE = "SageMaker Model Package State Change"


def approval_pattern(
    groups: Sequence[str], accounts: Sequence[str] = (), *, prefix: str | None = None
) -> dict[str, Any]:
    """Event pattern: a package of one of ``groups`` (or, with ``prefix``, of any group whose
    name starts with it: a pattern that does not grow with the groups) became Approved
    (nothing else matches)."""
    names: list[Any] = [{"prefix": prefix}] if prefix is not None else sorted(groups)
    pattern: dict[str, Any] = {
        "source": ["aws.sagemaker"],
        "detail-type": [MODEL_PACKAGE_STATE_CHANGE],
        "detail": {"ModelApprovalStatus": ["Approved"], "ModelPackageGroupName": names},
    }
    if accounts:
        pattern["account"] = sorted(accounts)
    return pattern


def forward_pattern(spec: OrgSpec, team: str) -> str:
    """The dev account's forwarding rule: an approval in one of the team's groups (it lists them,
    so it grows with the team's groups; validate measures it)."""
    groups = spec.teams[team].governance.model_package_groups
    return json.dumps(approval_pattern([naming.model_package_group(spec, team, g) for g in groups]), sort_keys=True)


def central_approval_pattern(spec: OrgSpec, team: str, group: str) -> str:
    """The hub's rule that starts one group's deployment pipeline: its central group approved."""
    return json.dumps(approval_pattern([naming.central_model_package_group(spec, team, group)]), sort_keys=True)


def promotion_pattern(spec: OrgSpec) -> str:
    """The central bus's promote rule: every approval of an org-named group (one prefix, not a
    list that grows with the teams)."""
    return json.dumps(approval_pattern((), prefix=f"{spec.organization.name}-"), sort_keys=True)
