"""Apply generated stacks to a local AWS emulator (moto's server) and nothing else.

A real ``terraform apply`` of a stack's resources against moto catches what ``plan`` cannot:
arguments AWS (as moto models it) refuses, and policies that do not read back as written.
moto does not emulate everything the platform uses, so a stack is FILTERED first:

1. resources whose type is not in :data:`MOTO_SUPPORTED` are dropped;
2. then, repeatedly, every resource, data source or output that refers to a dropped one
   (``${type.name...}`` anywhere in its arguments, or ``depends_on``) is dropped too,
   until nothing changes.

The filtered copy is planned and applied with :func:`endpoint_override`: the provider talks
to ``endpoint`` only, with dummy credentials, path-style S3 and no account/role lookups.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from mlgov.review import terraform

# Types whose create/read/delete moto 5.2 implements well enough for provider 5.100.0.
MOTO_SUPPORTED = frozenset(
    {
        "aws_kms_key",
        "aws_kms_alias",
        "aws_kms_key_policy",
        "aws_s3_bucket",
        "aws_s3_bucket_policy",
        "aws_s3_bucket_public_access_block",
        "aws_s3_bucket_versioning",
        "aws_s3_bucket_server_side_encryption_configuration",
        "aws_s3_bucket_ownership_controls",
        # Not aws_s3_object: the endpoint is plain http, so the buckets' TLS-only policy (which
        # moto enforces) rightly refuses every object upload.
        "aws_s3_bucket_lifecycle_configuration",
        "aws_iam_role",
        "aws_iam_policy",
        "aws_iam_role_policy",
        "aws_iam_role_policy_attachment",
        "aws_cloudwatch_event_bus",
        "aws_cloudwatch_event_bus_policy",
        "aws_cloudwatch_event_rule",
        "aws_cloudwatch_event_target",
        "aws_sqs_queue",
        "aws_sqs_queue_policy",
        "aws_sqs_queue_redrive_policy",
        # Not aws_sagemaker_model_package_group_policy: moto 5.2.5 does not implement
        # PutModelPackageGroupPolicy (the provider would retry its 500 answers for many minutes).
        "aws_sagemaker_model_package_group",
    }
)
# Provider endpoint keys for the services above (plus STS, which the provider always calls).
SERVICES = ("events", "iam", "kms", "s3", "sagemaker", "sqs", "sts")

# The data account's lake (tests/test_data_apply.py applies it on its own, so the
# representative applies of the other stacks stay as they are). Not here, because moto 5.2.5
# lacks them: aws_sagemaker_feature_group (no ListTags for feature groups: the provider's read
# fails) and hence the offline store's Glue table that reads its resolved S3 URI.
DATA_SUPPORTED = MOTO_SUPPORTED | {
    "aws_glue_catalog_database",
    "aws_glue_catalog_table",
    "aws_lakeformation_data_lake_settings",
    "aws_lakeformation_lf_tag",
    "aws_lakeformation_permissions",
    "aws_lakeformation_resource",
    "aws_lakeformation_resource_lf_tags",
}
DATA_SERVICES = (*SERVICES, "glue", "lakeformation")
# Arguments moto answers wrongly, by resource type: a resource using one is dropped. moto 5.2.5's
# ListPermissions never returns a TableWithColumns grant the way the provider looks it up, so
# the provider waits for a column grant until it times out.
UNSUPPORTED_ARGUMENTS: dict[str, tuple[str, ...]] = {"aws_lakeformation_permissions": ("table_with_columns",)}

_REF = re.compile(r"\$\{(?:data\.)?([a-z0-9_]+)\.([A-Za-z0-9_-]+)")


def _refs(value: Any) -> set[str]:
    """Addresses (``type.name``/``data.type.name``) a block refers to."""
    text = json.dumps(value)
    found = set()
    for match in re.finditer(r"\$\{([^}]*)\}", text):
        for ref in re.finditer(r"(data\.)?\b(aws_[a-z0-9_]+)\.([A-Za-z0-9_-]+)", match.group(1)):
            found.add(f"{ref.group(1) or ''}{ref.group(2)}.{ref.group(3)}")
    for dep in value.get("depends_on", []) if isinstance(value, dict) else []:
        found.add(dep)
    return found


def filter_stack(stack: dict, supported: frozenset[str] = MOTO_SUPPORTED) -> tuple[dict, list[str]]:
    """A copy of ``stack`` with only what moto can apply (resource types in ``supported``, none
    using an argument of :data:`UNSUPPORTED_ARGUMENTS`), and the sorted dropped addresses."""
    out = copy.deepcopy(stack)
    dropped: set[str] = set()
    for rtype in list(out.get("resource", {})):
        if rtype not in supported:
            dropped.update(f"{rtype}.{name}" for name in out["resource"].pop(rtype))
            continue
        for name in list(out["resource"][rtype]):
            if any(arg in out["resource"][rtype][name] for arg in UNSUPPORTED_ARGUMENTS.get(rtype, ())):
                del out["resource"][rtype][name]
                dropped.add(f"{rtype}.{name}")
        if not out["resource"][rtype]:
            del out["resource"][rtype]
    changed = True
    while changed:
        changed = False
        for section, prefix in (("resource", ""), ("data", "data.")):
            for rtype in list(out.get(section, {})):
                for name in list(out[section][rtype]):
                    if _refs(out[section][rtype][name]) & dropped:
                        del out[section][rtype][name]
                        dropped.add(f"{prefix}{rtype}.{name}")
                        changed = True
                if not out[section][rtype]:
                    del out[section][rtype]
        for name in list(out.get("output", {})):
            if _refs(out["output"][name]) & dropped:
                del out["output"][name]
                changed = True
    return out, sorted(dropped)


# The provider's waits for eventual consistency (a KMS key policy "propagating", a bucket's
# settings) poll with the client's retry budget, which the override sets to 1 so that an API moto
# lacks fails fast; on a loaded machine one poll can miss and the wait gives up. Terraform apply is
# idempotent from its state, so such a failure gets exactly one more apply.
TRANSIENT_WAIT = "exceeded maximum number of attempts"


def apply(ws: terraform.Workspace, *, timeout: int = 900) -> terraform.Result:
    """``terraform apply`` in ``ws`` against moto, run once more only when the first failed on a
    provider's consistency wait (:data:`TRANSIENT_WAIT`); any other failure is returned as is."""
    args = ("apply", "-auto-approve", "-input=false", "-no-color", "-lock=false")
    done = ws.run(*args, timeout=timeout)
    if not done.ok and TRANSIENT_WAIT in done.stderr:
        done = ws.run(*args, timeout=timeout)
    return done


def endpoint_override(endpoint: str, region: str, services: tuple[str, ...] = SERVICES) -> dict:
    """Override file content: the offline override (local backend, dummy credentials, no STS),
    plus every service at ``endpoint``."""
    override = terraform.offline_override(region)
    override["provider"]["aws"].update(
        {
            "access_key": "mlgov-local",
            "secret_key": "mlgov-local",
            "s3_use_path_style": True,
            # An API moto lacks answers 500; fail fast instead of retrying with backoff.
            "max_retries": 1,
            "endpoints": [dict.fromkeys(services, endpoint)],
        }
    )
    return override
