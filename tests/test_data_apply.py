"""terraform apply of the data account's stack against moto, then read back with boto3.

What moto 5.2.5 implements of the lake is applied (:data:`mlgov.review.localapply.DATA_SUPPORTED`):
the buckets and keys, the Lake Formation settings, registered locations, LF-tags and their
assignments, the Glue databases and tables, and the cross-account grants of whole tables and
databases. Not applied (moto lacks them, docs/data.md lists them): the feature group and its
offline store table, and column grants (``table_with_columns``).
"""

from __future__ import annotations

import json
import shutil

import pytest

from mlgov.review import localapply, terraform
from tests.conftest import ROOT, reset_moto
from tests.test_local_apply import REGION_KW, moto_endpoint  # noqa: F401 (the fixture)

STACK = ROOT / "generated" / "stacks" / "data-lake"


@pytest.mark.slow
@pytest.mark.terraform
def test_the_lake_applies_to_moto_and_reads_back(moto_endpoint, tf_cli_config, tmp_path, default_spec):  # noqa: F811
    import boto3

    # GIVEN the moto-appliable part of the data stack
    stack = json.loads((STACK / "cdk.tf.json").read_text())
    # The buckets' lifecycle rules are the platform baseline test_local_apply already applies, and
    # moto makes each wait ~55 s: left out here.
    supported = localapply.DATA_SUPPORTED - {"aws_s3_bucket_lifecycle_configuration"}
    filtered, dropped = localapply.filter_stack(stack, supported)
    assert "aws_lakeformation_permissions.fraud__payments__cardholders__columns" in dropped
    src = tmp_path / "src"
    shutil.copytree(STACK, src)
    (src / "cdk.tf.json").write_text(json.dumps(filtered, indent=2))
    region = stack["provider"]["aws"][0]["region"]
    ws = terraform.Workspace(src, tmp_path / "ws", tf_cli_config, offline=False)
    override = localapply.endpoint_override(moto_endpoint, region, localapply.DATA_SERVICES)
    (ws.workdir / "mlgov_local_override.tf.json").write_text(json.dumps(override, indent=2))
    # WHEN terraform applies it (into an emptied moto: another test may have applied the lake)
    reset_moto(moto_endpoint)
    assert ws.init().ok
    apply = localapply.apply(ws, timeout=600)
    assert apply.ok, apply.stderr[-5000:]

    # THEN Lake Formation holds what the stack says: the Terraform role administers it, new
    # databases and tables get no default permissions, the lake is registered with the named role
    def client(service):
        return boto3.client(service, endpoint_url=moto_endpoint, region_name=region, **REGION_KW)

    settings = client("lakeformation").get_data_lake_settings()["DataLakeSettings"]
    assert [a["DataLakePrincipalIdentifier"] for a in settings["DataLakeAdmins"]] == [
        default_spec.terraform_role_arn("data-lake")
    ]
    assert not settings.get("CreateDatabaseDefaultPermissions") and not settings.get("CreateTableDefaultPermissions")
    registered = {r["ResourceArn"]: r["RoleArn"] for r in client("lakeformation").list_resources()["ResourceInfoList"]}
    assert set(registered) == {
        "arn:aws:s3:::nwa-lake-660000000007-eu-west-1",
        "arn:aws:s3:::nwa-feature-store-660000000007-eu-west-1",
    }
    assert all(arn.endswith(":role/nwa-lake-data-access") for arn in registered.values())
    # the tables with their columns and storage in the lake bucket
    tables = {t["Name"]: t for t in client("glue").get_tables(DatabaseName="payments")["TableList"]}
    assert sorted(tables) == ["cardholders", "transactions"]
    described = tables["transactions"]["StorageDescriptor"]
    assert described["Location"] == "s3://nwa-lake-660000000007-eu-west-1/payments/transactions/"
    assert [c["Name"] for c in described["Columns"]][:2] == ["transaction_id", "card_id"]
    # the cross-account grants: to the dev account ids the spec names, nobody else
    grants = client("lakeformation").list_permissions()["PrincipalResourcePermissions"]
    principals = {g["Principal"]["DataLakePrincipalIdentifier"] for g in grants}
    assert principals == {default_spec.accounts["ml-dev-fraud"].id, default_spec.accounts["ml-dev-churn"].id}
    fraud = {
        json.dumps(g["Resource"], sort_keys=True): sorted(g["Permissions"])
        for g in grants
        if g["Principal"]["DataLakePrincipalIdentifier"] == default_spec.accounts["ml-dev-fraud"].id
    }
    assert fraud[json.dumps({"Table": {"DatabaseName": "payments", "Name": "transactions"}}, sort_keys=True)] == [
        "DESCRIBE",
        "SELECT",
    ]
    # the LF-tags and where they are attached
    tag = client("lakeformation").get_lf_tag(TagKey="sensitivity")
    assert sorted(tag["TagValues"]) == ["confidential", "internal"]
    on_table = client("lakeformation").get_resource_lf_tags(
        Resource={"Table": {"DatabaseName": "payments", "Name": "cardholders"}}
    )
    assert {"TagKey": "sensitivity", "TagValues": ["confidential"]} in [
        {"TagKey": t["TagKey"], "TagValues": t["TagValues"]} for t in on_table.get("LFTagsOnTable", [])
    ]
