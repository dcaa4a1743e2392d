"""``named()``: stable addresses per stack, with no state outside the stack itself."""

from __future__ import annotations

import pytest
from cdktf import App, TerraformStack
from cdktf_cdktf_provider_aws.s3_bucket import S3Bucket
from constructs import Construct

from mlgov.modules.blocks import named, ref


def test_duplicate_address_in_one_stack_is_refused_wherever_the_stack_is_built(tmp_path):
    # GIVEN two stacks built directly (not through build_app), resources nested in a construct
    app = App(outdir=str(tmp_path))
    first, second = TerraformStack(app, "first"), TerraformStack(app, "second")
    inner = Construct(first, "inner")
    bucket = named(S3Bucket(inner, "a", bucket="a"), "data")
    # WHEN the same type and name is given again in the same stack, and once in the other
    named(S3Bucket(second, "a", bucket="b"), "data")
    with pytest.raises(ValueError, match=r"duplicate Terraform address aws_s3_bucket\.data in stack first"):
        named(S3Bucket(first, "b", bucket="c"), "data")
    # THEN the first stack refused it, the second did not, and refs use the address
    assert ref(bucket, "arn") == "${aws_s3_bucket.data.arn}"
