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


# --- added with the governance, data, repositories, images and monitoring documents ---


def sagemaker(region: str, account_id: str, resource: str) -> str:
    """A SageMaker resource: ``<type>/<name>`` (model-package-group/..., pipeline/..., ...)."""
    return arn("sagemaker", region, account_id, resource)


def kms_keys(region: str, account_id: str) -> str:
    """Every key of an account in a region (a key's id is random; conditions narrow it)."""
    return arn("kms", region, account_id, "key/*")


def ecr_repository(region: str, account_id: str, name: str) -> str:
    return arn("ecr", region, account_id, f"repository/{name}")


def sqs_queue(region: str, account_id: str, name: str) -> str:
    return arn("sqs", region, account_id, name)


def sns_topic(region: str, account_id: str, name: str) -> str:
    return arn("sns", region, account_id, name)


def alarm(region: str, account_id: str, name: str) -> str:
    """A CloudWatch alarm (``name`` may end in a wildcard)."""
    return arn("cloudwatch", region, account_id, f"alarm:{name}")


def event_rule(region: str, account_id: str, name: str) -> str:
    return arn("events", region, account_id, f"rule/{name}")


def cloudformation_stack(region: str, account_id: str, name: str) -> str:
    """Every stack of that name (the ARN ends in the stack's random id)."""
    return arn("cloudformation", region, account_id, f"stack/{name}/*")


def codebuild_project(region: str, account_id: str, name: str) -> str:
    return arn("codebuild", region, account_id, f"project/{name}")


def catalog_product(region: str, account_id: str, product: str) -> str:
    return arn("catalog", region, account_id, f"product/{product}")


def network_interfaces(region: str, account_id: str) -> str:
    return arn("ec2", region, account_id, "network-interface/*")


def service_linked_role(account_id: str, service: str, name: str) -> str:
    return arn("iam", "", account_id, f"role/aws-service-role/{service}/{name}")
