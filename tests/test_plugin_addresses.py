"""A customization plugin's construct at a Terraform address the stack already has.

cdktf writes every construct under ``resource.<type>.<logical id>``: a plugin construct whose
logical id is one mlgov gives a resource of the same type (``aws_s3_bucket.platform``) would
replace mlgov's resource in the JSON without a word. Synth refuses it instead, with one line
naming the plugin, the stack and the address.
"""

from __future__ import annotations

import importlib

import pytest
from click.testing import CliRunner

from mlgov.cli import cli
from tests.test_user_repo import ROOT, install_plugin

COLLIDING = """\
from cdktf_cdktf_provider_aws.s3_bucket import S3Bucket
from cdktf_cdktf_provider_aws.ssm_parameter import SsmParameter


def platform_bucket(target):
    if target.layer.value == "test":
        SsmParameter(target.stack, "acme_note", name="/acme/note", type="String", value="fine")
        S3Bucket(target.stack, "platform", bucket="acme-" + target.account_id)
"""


@pytest.mark.slow  # synthesizes a stack (jsii)
@pytest.mark.parametrize("jobs", ["1"])
def test_a_plugin_construct_at_an_address_mlgov_writes_is_one_line_naming_the_plugin(tmp_path, monkeypatch, jobs):
    install_plugin(tmp_path / "site", "acme-clash", "acme_clash", COLLIDING, "acme-clash = acme_clash:platform_bucket")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    importlib.invalidate_caches()
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["synth", str(ROOT / "org.yaml"), "--out", str(out), "--jobs", jobs, "--quiet"])
    assert result.exit_code == 2, result.output
    assert result.output.splitlines() == [
        "error: plugin 'acme-clash' (acme_clash:platform_bucket, acme-clash 0.1) on stack ml-test: adds "
        "aws_s3_bucket.platform, an address the stack already has (mlgov's or an earlier plugin's; give the "
        "construct another id)"
    ]
    assert not out.exists()
