"""Named IAM action sets: the one table every policy document draws its actions from.

An action set used by more than one document lives here under one name; a set used by one
document only may live beside that document in its feature module. Statements sort and
de-duplicate actions (`policy.statement`), so combining sets never changes output order.
"""

from __future__ import annotations

# EC2 calls SageMaker and CodeBuild make to place a job, endpoint or build in the account's
# VPC. EC2 offers no resource scoping for the Describe calls.
NETWORK_DESCRIBE = (
    "ec2:DescribeDhcpOptions",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSubnets",
    "ec2:DescribeVpcs",
)
NETWORK_INTERFACES = (
    "ec2:CreateNetworkInterface",
    "ec2:DeleteNetworkInterface",
)
NETWORK_INTERFACE_PERMISSIONS = (
    "ec2:CreateNetworkInterfacePermission",
    "ec2:DeleteNetworkInterfacePermission",
)

# Writing to a log group that exists (LOG_DELIVERY) or that the writer creates on first use.
LOG_DELIVERY = ("logs:CreateLogStream", "logs:PutLogEvents")
LOG_GROUP_CREATE = ("logs:CreateLogGroup",)
