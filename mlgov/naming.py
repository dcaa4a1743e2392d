"""The one place that turns spec names into Terraform addresses and AWS physical names.

Construct IDs become Terraform addresses, and physical names become real AWS resources;
both are contracts. Every name is derived here from spec keys (never from list positions),
and every physical name is checked against its AWS limit after prefixes and suffixes are
applied, at validate time, before anything is synthesized.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Iterator

if TYPE_CHECKING:  # pragma: no cover
    from mlgov.spec import OrgSpec


class Kind(Enum):
    """AWS name kinds with their documented limits: (max length, allowed pattern, wording)."""

    S3_BUCKET = (63, r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", "3-63 characters of a-z 0-9 . -")
    IAM_ROLE = (64, r"^[\w+=,.@-]{1,64}$", "1-64 characters of A-Z a-z 0-9 +=,.@_-")
    IAM_POLICY = (128, r"^[\w+=,.@-]{1,128}$", "1-128 characters of A-Z a-z 0-9 +=,.@_-")
    KMS_ALIAS = (256, r"^alias/[a-zA-Z0-9/_-]{1,250}$", "alias/ + 1-250 characters of A-Z a-z 0-9 /_-")
    SAGEMAKER = (63, r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$", "1-63 characters of A-Z a-z 0-9 and inner -")
    EVENT_BUS = (256, r"^[\w.-]{1,256}$", "1-256 characters of A-Z a-z 0-9 ._-")
    EVENT_RULE = (64, r"^[\w.-]{1,64}$", "1-64 characters of A-Z a-z 0-9 ._-")
    SQS_QUEUE = (80, r"^[\w-]{1,80}$", "1-80 characters of A-Z a-z 0-9 _-")
    LAMBDA = (64, r"^[\w-]{1,64}$", "1-64 characters of A-Z a-z 0-9 _-")
    CODEPIPELINE = (100, r"^[A-Za-z0-9.@_-]{1,100}$", "1-100 characters of A-Z a-z 0-9 .@_-")
    CODEBUILD = (150, r"^[A-Za-z0-9][A-Za-z0-9_-]{1,149}$", "2-150 characters of A-Z a-z 0-9 _-")
    LOG_GROUP = (512, r"^[\w#/.-]{1,512}$", "1-512 characters of A-Z a-z 0-9 _-/.#")
    SERVICE_CATALOG = (100, r"^.{1,100}$", "1-100 characters")
    SCP = (128, r"^[\w+=,.@-]{1,128}$", "1-128 characters of A-Z a-z 0-9 +=,.@_-")

    @property
    def limit(self) -> int:
        return self.value[0]

    @property
    def pattern(self) -> str:
        return self.value[1]

    @property
    def rule(self) -> str:
        return self.value[2]


@dataclass(frozen=True)
class PhysicalName:
    """A name mlgov will give a real AWS resource, and the spec field it derives from."""

    spec_path: tuple
    kind: Kind
    name: str

    def problem(self) -> str | None:
        """Why AWS would refuse this name, or None if it is acceptable."""
        if len(self.name) > self.kind.limit or not re.match(self.kind.pattern, self.name):
            return (
                f"derived {self.kind.name.lower().replace('_', ' ')} name {self.name!r} is invalid "
                f"({len(self.name)} characters; expected {self.kind.rule}); shorten the name"
            )
        if self.kind is Kind.S3_BUCKET and (".." in self.name or re.match(r"^\d+\.\d+\.\d+\.\d+$", self.name)):
            return f"derived s3 bucket name {self.name!r} is invalid (no '..' and no IP-address form)"
        return None


# --- Terraform addresses -------------------------------------------------------------

def construct_id(*parts: str) -> str:
    """A construct ID (and so a Terraform address fragment) from spec names.

    Spec names are already restricted to ``[a-z0-9-]``; hyphens become underscores so the
    address reads like hand-written Terraform (``aws_iam_role.team_fraud_data_scientist``).
    """
    return "_".join(p.replace("-", "_") for p in parts if p)


def stack_name(account_key: str, region: str, multi_region: bool) -> str:
    """Stack (and state) name: the account's spec key, plus the region when it has several."""
    return f"{account_key}-{region}" if multi_region else account_key


# --- Physical names ------------------------------------------------------------------

def bucket_name(spec: "OrgSpec", account_key: str, region: str, purpose: str) -> str:
    """Globally unique bucket name: org prefix, purpose, account id and region."""
    return f"{spec.organization.name}-{purpose}-{spec.accounts[account_key].id}-{region}"


def role_name(spec: "OrgSpec", purpose: str) -> str:
    """IAM role name within one account: org prefix + purpose."""
    return f"{spec.organization.name}-{purpose}"


def kms_alias(spec: "OrgSpec", purpose: str) -> str:
    """KMS alias: ``alias/<org>/<purpose>``."""
    return f"alias/{spec.organization.name}/{purpose}"


def resource_name(spec: "OrgSpec", *parts: str) -> str:
    """Generic hyphenated physical name with the org prefix (queues, buses, rules, functions)."""
    return "-".join((spec.organization.name,) + tuple(p for p in parts if p))


def catalog_launch_role(spec: "OrgSpec") -> str:
    """Local role name of every Service Catalog launch constraint (exists in each dev account)."""
    return role_name(spec, "catalog-launch")


def product_role_prefix(spec: "OrgSpec") -> str:
    """Prefix of every IAM role a product template creates; the launch role may manage only these."""
    return role_name(spec, "sc-")


def catalog_template_key(portfolio: str, product: str, version: str) -> str:
    """Relative path (under generated/ and in the template bucket) of one rendered product version."""
    return f"products/{portfolio}/{product}/{version}.yaml"


def catalog_names(spec: "OrgSpec") -> Iterator[PhysicalName]:
    """Physical names of the Service Catalog feature (hub bucket and key, launch role, products)."""
    catalog = spec.service_catalog
    if catalog is None or not catalog.portfolios:
        return
    hub = spec.hub
    for region in spec.account_regions(hub):
        yield PhysicalName(("service_catalog",), Kind.S3_BUCKET, bucket_name(spec, hub, region, "catalog"))
    yield PhysicalName(("service_catalog",), Kind.KMS_ALIAS, kms_alias(spec, "catalog"))
    yield PhysicalName(("service_catalog",), Kind.IAM_ROLE, catalog_launch_role(spec))
    # The longest role a product creates: the domain product's "projects-<domain>" (domain: 20 characters).
    yield PhysicalName(("service_catalog",), Kind.IAM_ROLE, product_role_prefix(spec) + "projects-" + "d" * 20)
    for pkey, portfolio in sorted(catalog.portfolios.items()):
        ppath = ("service_catalog", "portfolios", pkey)
        yield PhysicalName(ppath + ("display_name",), Kind.SERVICE_CATALOG, portfolio.display_name)
        for key, product in sorted(portfolio.products.items()):
            yield PhysicalName(ppath + ("products", key, "display_name"), Kind.SERVICE_CATALOG, product.display_name)


def planned_names(spec: "OrgSpec") -> Iterator[PhysicalName]:
    """Every physical name the stacks will create, for the length/charset check at validate time.

    Each layer that creates a named resource lists its name here, built with the same helper
    the construct uses, so the check cannot drift from the output.
    """
    for ref in spec.stack_refs():
        path = ("accounts", ref.account)
        yield PhysicalName(path, Kind.S3_BUCKET, bucket_name(spec, ref.account, ref.region, "platform"))
        yield PhysicalName(path, Kind.KMS_ALIAS, kms_alias(spec, "platform"))
    yield PhysicalName(("terraform", "role_name"), Kind.IAM_ROLE, spec.terraform.role_name)
    from mlgov import scp

    yield from (PhysicalName(path, Kind.SCP, name) for path, name in scp.planned_names(spec))
    yield from catalog_names(spec)
