"""The one ARN builder: every ARN a policy document names is made here from spec values.

Partition `aws` throughout (mlgov targets the commercial partition; the spec's regions are
validated against it).
"""

from __future__ import annotations


def arn(service: str, region: str, account_id: str, resource: str) -> str:
    """`arn:aws:<service>:<region>:<account>:<resource>`; region and account may be empty."""
    return f"arn:aws:{service}:{region}:{account_id}:{resource}"


def account_root(account_id: str) -> str:
    """The principal that delegates trust to an account's own IAM policies."""
    return arn("iam", "", account_id, "root")


def role(account_id: str, name: str) -> str:
    return arn("iam", "", account_id, f"role/{name}")


def bucket(name: str) -> str:
    return arn("s3", "", "", name)


def objects(name: str, prefix: str = "") -> str:
    """Every object in a bucket, or under one key prefix (`prefix` without the trailing `/*`)."""
    return arn("s3", "", "", f"{name}/{prefix + '/' if prefix else ''}*")


def log_group(region: str, account_id: str, name: str) -> str:
    return arn("logs", region, account_id, f"log-group:{name}")


def event_bus(region: str, account_id: str, name: str) -> str:
    return arn("events", region, account_id, f"event-bus/{name}")


def managed_policy(account_id: str, name: str) -> str:
    """A customer managed policy (also how a permissions boundary is named)."""
    return arn("iam", "", account_id, f"policy/{name}")


def lambda_function(region: str, account_id: str, name: str) -> str:
    return arn("lambda", region, account_id, f"function:{name}")


def queue(region: str, account_id: str, name: str) -> str:
    return arn("sqs", region, account_id, name)


def event_rule(region: str, account_id: str, name: str, bus: str = "") -> str:
    """A rule on the default bus, or (``bus``) on a custom bus."""
    return arn("events", region, account_id, f"rule/{bus + '/' if bus else ''}{name}")


def pipeline(region: str, account_id: str, name: str) -> str:
    return arn("codepipeline", region, account_id, name)


def pipeline_action(region: str, account_id: str, name: str, stage: str, action: str) -> str:
    """One action of one stage of a pipeline (what codepipeline:PutApprovalResult names)."""
    return f"{pipeline(region, account_id, name)}/{stage}/{action}"


def codebuild_project(region: str, account_id: str, name: str) -> str:
    return arn("codebuild", region, account_id, f"project/{name}")


def sagemaker(region: str, account_id: str, resource: str) -> str:
    """A SageMaker resource: ``model-package-group/<g>``, ``model-package/<g>/*``, ``model-card/<c>``."""
    return arn("sagemaker", region, account_id, resource)


def kms_keys(region: str, account_id: str) -> str:
    """Every key of an account in a region (narrowed by an alias condition)."""
    return arn("kms", region, account_id, "key/*")


def kms_alias(region: str, account_id: str, alias: str) -> str:
    """A key by its alias (``alias/...``): what a CloudFormation KmsKeyId may name."""
    return arn("kms", region, account_id, alias)


def ecr_repository(region: str, account_id: str, name: str) -> str:
    return arn("ecr", region, account_id, f"repository/{name}")


def sns_topic(region: str, account_id: str, name: str) -> str:
    return arn("sns", region, account_id, name)


def alarm(region: str, account_id: str, name: str) -> str:
    """A CloudWatch alarm (``name`` may end in a wildcard)."""
    return arn("cloudwatch", region, account_id, f"alarm:{name}")


def cloudformation_stack(region: str, account_id: str, name: str) -> str:
    """Every stack of that name (the ARN ends in the stack's random id)."""
    return arn("cloudformation", region, account_id, f"stack/{name}/*")


def catalog_product(region: str, account_id: str, product: str) -> str:
    return arn("catalog", region, account_id, f"product/{product}")


def network_interfaces(region: str, account_id: str) -> str:
    return arn("ec2", region, account_id, "network-interface/*")


def service_linked_role(account_id: str, service: str, name: str) -> str:
    return arn("iam", "", account_id, f"role/aws-service-role/{service}/{name}")
