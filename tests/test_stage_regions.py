"""Stages in another region than the hub's (issue 29): what the synthesized stacks must hold.

The kitchen sink serves one prod account from a second region; org.yaml keeps every stage in
the hub's. The journey walks the deployment itself (tests/journey/second_region.py); these
check the wiring every walk relies on, computed from the spec, on the session's trees.
"""

from __future__ import annotations

import json

from mlgov.platform import naming
from tests.conftest import DEFAULT_SPEC, ROOT, spec_case

KITCHEN_SINK = ROOT / "mlgov" / "examples" / "kitchen-sink.yaml"


def _stack(case, name: str) -> dict:
    return json.loads(case.tree[f"stacks/{name}/cdk.tf.json"])


def _aliases(doc: dict) -> dict[str, str]:
    return {p["alias"]: p["region"] for p in doc["provider"]["aws"] if p.get("alias")}


def test_every_team_pipeline_has_a_store_and_a_provider_in_each_stage_region():
    # GIVEN the kitchen sink, one of whose stage accounts runs outside the hub's region
    case = spec_case(KITCHEN_SINK)
    spec, hub = case.spec, naming.hub_region(case.spec)
    remote_teams = [t for t in spec.teams if naming.team_remote_regions(spec, t)]
    assert remote_teams, "the kitchen sink should have a stage in a second region"
    for team in spec.teams:
        remote = naming.team_remote_regions(spec, team)
        doc = _stack(case, f"{spec.hub}-team-{team}")
        # WHEN its hub slice is read THEN each stage region has an aliased provider there
        assert _aliases(doc) == {naming.region_alias(r): r for r in remote}
        for pipeline in doc["resource"]["aws_codepipeline"].values():
            stores = {s.get("region"): s["location"] for s in pipeline["artifact_store"]}
            # THEN a store per region (each naming its region) when some stage is elsewhere, one
            # store without a region otherwise (CodePipeline refuses a region on a lone store)
            expected = {r: naming.team_pipeline_bucket(spec, team, r) for r in [hub, *remote]} if remote else None
            assert stores == (expected or {None: naming.team_pipeline_bucket(spec, team)})
            # AND every deploy action runs in its stage account's region
            by_name = {a["name"]: a for st in pipeline["stage"] for a in st["action"]}
            for stage in spec.teams[team].stages:
                assert by_name[f"deploy-{stage.name}"]["region"] == naming.stage_region(spec, stage.account)


def test_the_hub_replicates_artifacts_and_images_to_each_stage_region():
    # GIVEN the kitchen sink WHEN the hub's core stack is read
    case = spec_case(KITCHEN_SINK)
    spec = case.spec
    regions = naming.remote_regions(spec)
    doc = _stack(case, spec.hub)
    resources = doc["resource"]
    # THEN one aliased provider per stage region, holding the replica bucket and its key there
    assert _aliases(doc) == {naming.region_alias(r): r for r in regions}
    for region in regions:
        address = f"model_artifacts_{naming.region_alias(region)}"
        bucket = resources["aws_s3_bucket"][address]
        assert bucket["bucket"] == naming.bucket_name(spec, spec.hub, region, "model-artifacts")
        assert (
            bucket["provider"] == resources["aws_kms_key"][address]["provider"] == f"aws.{naming.region_alias(region)}"
        )
    # AND S3 replicates the hub region's artifacts to each replica, ECR the images to each region
    (replication,) = resources["aws_s3_bucket_replication_configuration"].values()
    destinations = sorted(r["destination"]["bucket"].rsplit(":", 1)[-1] for r in replication["rule"])
    assert destinations == sorted(naming.bucket_name(spec, spec.hub, r, "model-artifacts") for r in regions)
    (images,) = resources["aws_ecr_replication_configuration"].values()
    rules = images["replication_configuration"]["rule"]
    assert sorted(d["region"] for r in rules for d in r["destination"]) == regions


def test_a_single_region_org_gets_no_cross_region_resources():
    # GIVEN org.yaml, every stage in the hub's region WHEN its hub stacks are read
    case = spec_case(DEFAULT_SPEC)
    assert naming.remote_regions(case.spec) == []
    for path, data in case.tree.items():
        if path.startswith(f"stacks/{case.spec.hub}") and path.endswith("cdk.tf.json"):
            doc = json.loads(data)
            # THEN no aliased provider and no replication: nothing changes for them
            assert _aliases(doc) == {}, path
            assert "aws_s3_bucket_replication_configuration" not in doc.get("resource", {}), path
