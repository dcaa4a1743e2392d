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
