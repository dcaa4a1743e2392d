"""``named()``: stable addresses per stack, with no state outside the stack itself."""

from __future__ import annotations

import jsii
import pytest
from cdktf import App, TerraformStack
from cdktf_cdktf_provider_aws.s3_bucket import S3Bucket
from constructs import Construct

from mlgov.modules.app import build_app
from mlgov.modules.blocks import named, ref, stack_of


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


def test_stack_of_answers_what_node_answers_for_every_construct_of_every_stack(tmp_path, default_spec):
    # GIVEN every stack of the default spec built by build_app, and constructs built on their own
    # (a second App, a nested scope, a stack made by Node's own TerraformStack class)
    app = build_app(default_spec, str(tmp_path / "a"))
    other = App(outdir=str(tmp_path / "b"))
    lone = TerraformStack(other, "lone")
    extra = [S3Bucket(Construct(Construct(lone, "x"), "y"), "z", bucket="z"), lone]
    # WHEN the stack of each construct is found on the Python side
    constructs = [c for stack in app.node.children for c in stack.node.find_all()] + extra
    assert len(constructs) > 500
    # THEN it is the stack Node names, and it was found without asking Node
    for construct in constructs:
        assert stack_of(construct) is TerraformStack.of(construct)
    asked = []
    original = jsii.sinvoke
    try:
        jsii.sinvoke = lambda *args: asked.append(args[1]) or original(*args)
        found = [stack_of(construct) for construct in constructs]
    finally:
        jsii.sinvoke = original
    assert asked == [] and all(isinstance(s, TerraformStack) for s in found)
