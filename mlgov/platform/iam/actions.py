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

# --- added with the governance, data, repositories, images and monitoring documents ---

# Roles: who may assume, which roles a caller may hand to a service.
ASSUME_ROLE = ("sts:AssumeRole",)
SET_SOURCE_IDENTITY = ("sts:SetSourceIdentity",)
PASS_ROLE = ("iam:PassRole",)

# Administrative actions on a KMS key, granted to the account root so IAM policies in the
# account decide who administers it. Listed explicitly: a key policy of kms:* hides intent.
KMS_ADMIN_ACTIONS = (
    "kms:CancelKeyDeletion",
    "kms:CreateAlias",
    "kms:CreateGrant",
    "kms:DeleteAlias",
    "kms:DescribeKey",
    "kms:DisableKey",
    "kms:DisableKeyRotation",
    "kms:EnableKey",
    "kms:EnableKeyRotation",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListAliases",
    "kms:ListGrants",
    "kms:ListKeyPolicies",
    "kms:ListResourceTags",
    "kms:PutKeyPolicy",
    "kms:RevokeGrant",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateAlias",
    "kms:UpdateKeyDescription",
)
KMS_USE_ACTIONS = ("kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*")

# A KMS key's use through S3 and the services that encrypt for a role: reading (decrypt, and
# describing the key, which S3 and SageMaker check first), and writing new data keys.
KMS_DECRYPT = ("kms:Decrypt",)
KMS_READ = ("kms:Decrypt", "kms:DescribeKey")
KMS_DATA_KEY = ("kms:GenerateDataKey",)
KMS_ENCRYPT = ("kms:Encrypt",)
KMS_GRANT = ("kms:CreateGrant",)

# Pulling an image from an ECR repository; the login token takes no resource.
ECR_LOGIN = ("ecr:GetAuthorizationToken",)
ECR_PULL = ("ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")

# Updating and starting a SageMaker pipeline and following its executions.
SAGEMAKER_PIPELINE_RUN = (
    "sagemaker:CreatePipeline",
    "sagemaker:DescribePipeline",
    "sagemaker:DescribePipelineExecution",
    "sagemaker:StartPipelineExecution",
    "sagemaker:UpdatePipeline",
)
SAGEMAKER_TAGS = ("sagemaker:AddTags",)
SAGEMAKER_TAGS_READ = ("sagemaker:ListTags",)
SAGEMAKER_REGISTER = ("sagemaker:CreateModelPackage",)
SAGEMAKER_APPROVE = ("sagemaker:UpdateModelPackage",)
SAGEMAKER_DESCRIBE_PACKAGE = ("sagemaker:DescribeModelPackage",)
SAGEMAKER_DESCRIBE_MODEL = ("sagemaker:DescribeModel",)
# Reading a model package group and its packages (the hub reads a dev registry with these).
SAGEMAKER_READ_PACKAGES = (
    "sagemaker:DescribeModelPackage",
    "sagemaker:DescribeModelPackageGroup",
    "sagemaker:ListModelPackages",
)

# S3 object and bucket calls, one set per use.
S3_GET = ("s3:GetObject",)
S3_PUT = ("s3:PutObject",)
S3_LIST = ("s3:ListBucket",)
S3_READ = ("s3:GetObject", "s3:ListBucket")
S3_VERSIONED_READ = ("s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket")

# CloudFormation resolves AWS::SSM::Parameter::Value parameters with the caller's credentials.
SSM_GET_PARAMETERS = ("ssm:GetParameters",)
METRICS_PUT = ("cloudwatch:PutMetricData",)
EVENTS_PUT = ("events:PutEvents",)
SQS_SEND = ("sqs:SendMessage",)
SNS_PUBLISH = ("sns:Publish",)

# Starting a CodeBuild build and following it (a pipeline's select step, a product's model build).
CODEBUILD_RUN = ("codebuild:BatchGetBuilds", "codebuild:StartBuild")
# What CloudFormation needs to create, update and delete a CodeBuild project (the launch roles of
# products with builds, the stage's endpoint deployer for the endpoint tests project).
CODEBUILD_PROJECT_MANAGE = (
    "codebuild:BatchGetProjects",
    "codebuild:CreateProject",
    "codebuild:DeleteProject",
    "codebuild:UpdateProject",
)
