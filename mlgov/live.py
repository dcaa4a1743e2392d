"""Read the live AWS organization (boto3) and compare it with the spec.

Only the ``discover`` and ``doctor`` commands call this module; constructs never talk to
AWS. Every Organizations list call goes through a paginator (AWS returns at most 20
accounts per page). Errors a user can cause - no or expired credentials, an unknown
profile, access denied, throttling that outlasts the retries - become :class:`LiveError`
with one line of text.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.config
import botocore.exceptions

from mlgov.errors import MlgovError
from mlgov.platform import naming
from mlgov.platform.guardrails import service_control_policies
from mlgov.spec.located import dotted
from mlgov.spec.model import OrgSpec

MAX_ATTEMPTS = 8  # standard retry mode backs off on throttling before we give up
RETRY_CONFIG = botocore.config.Config(
    retries={"mode": "standard", "max_attempts": MAX_ATTEMPTS}, user_agent_extra="mlgov"
)
THROTTLING_CODES = {"Throttling", "ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded", "SlowDown"}
DENIED_CODES = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError"}
BAD_CREDENTIAL_CODES = {
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "RequestExpired",
}


class LiveError(MlgovError):
    """A failure talking to AWS that the user can fix; its text is one line."""


def describe_error(exc: Exception) -> str:
    """One line that says what went wrong and what to do."""
    if isinstance(exc, botocore.exceptions.ProfileNotFound):
        return f"AWS profile {exc.kwargs.get('profile')!r} not found (check ~/.aws/config or --profile)"
    if isinstance(exc, (botocore.exceptions.NoCredentialsError, botocore.exceptions.PartialCredentialsError)):
        return "no usable AWS credentials (set AWS_PROFILE or pass --profile; for SSO run `aws sso login`)"
    if isinstance(
        exc,
        (
            botocore.exceptions.SSOTokenLoadError,
            botocore.exceptions.TokenRetrievalError,
            botocore.exceptions.UnauthorizedSSOTokenError,
        ),
    ):
        return "AWS SSO session expired or missing (run `aws sso login`)"
    if isinstance(exc, botocore.exceptions.EndpointConnectionError):
        return f"cannot reach AWS ({exc.kwargs.get('endpoint_url')}); check the network or proxy"
    if isinstance(exc, botocore.exceptions.ClientError):
        err = exc.response.get("Error", {})
        code, message = err.get("Code", "?"), (err.get("Message") or "").strip()
        if message.startswith("<"):  # an unparsed XML body: say nothing rather than dump it
            message = ""
        op = exc.operation_name
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if is_denied(exc):
            return (
                f"access denied calling {op} ({message or code or status}); use credentials of the management "
                "account (or a delegated administrator) allowed to call it"
            )
        if code in THROTTLING_CODES:
            return f"AWS kept throttling {op} after {MAX_ATTEMPTS} attempts; wait a minute and run again"
        if code in BAD_CREDENTIAL_CODES:
            return f"AWS rejected the credentials calling {op} ({code}: {message}); refresh them (e.g. `aws sso login`)"
        if code == "AWSOrganizationsNotInUseException":
            return "these credentials' account is not part of an AWS organization"
        return f"AWS error calling {op} ({code}: {message or status})"
    return f"{type(exc).__name__}: {exc}"


def is_denied(exc: botocore.exceptions.ClientError) -> bool:
    """Access denied, by error code or (for bodies botocore could not parse) by HTTP 403."""
    code = exc.response.get("Error", {}).get("Code")
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return code in DENIED_CODES or (status == 403 and code not in BAD_CREDENTIAL_CODES)


@contextlib.contextmanager
def aws_errors() -> Iterator[None]:
    """Turn botocore failures into :class:`LiveError` (one line)."""
    try:
        yield
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
        raise LiveError(describe_error(exc)) from None


def session(profile: str | None) -> boto3.Session:
    """A boto3 session for ``profile`` (None: the default credential chain)."""
    with aws_errors():
        return boto3.Session(profile_name=profile)


def make_client(sess: boto3.Session, service: str, region: str | None = None):
    """Every client goes through here (tests may wrap it), with standard retries."""
    return sess.client(service, region_name=region, config=RETRY_CONFIG)


def pages(client, operation: str, key: str, **kwargs) -> Iterator[dict]:
    """Every item of a paginated list call."""
    for page in client.get_paginator(operation).paginate(**kwargs):
        yield from page.get(key, [])


# --- the organization as AWS sees it ----------------------------------------------------


@dataclass(frozen=True)
class LiveOu:
    id: str
    name: str
    parent_id: str
    path: tuple[str, ...]  # names from the root down, this OU included


@dataclass(frozen=True)
class LiveAccount:
    id: str
    name: str
    status: str
    parent_id: str


@dataclass
class LiveOrg:
    """Organization id, root, every OU (with its path) and every account (with its parent)."""

    id: str
    root_id: str
    management_account_id: str
    ous: dict[str, LiveOu] = field(default_factory=dict)
    accounts: dict[str, LiveAccount] = field(default_factory=dict)
    root_policy_types: dict[str, str] = field(default_factory=dict)

    def ou_by_path(self, path: tuple[str, ...]) -> LiveOu | None:
        return next((ou for ou in self.ous.values() if ou.path == path), None)

    def where(self, parent_id: str) -> str:
        """``root`` or the OU path of a parent id, for messages."""
        if parent_id == self.root_id:
            return "root"
        ou = self.ous.get(parent_id)
        return "/".join(ou.path) if ou else parent_id


def read_organization(sess: boto3.Session) -> LiveOrg:
    """Walk the organization from its root: OUs breadth-first, accounts per parent, all paged."""
    with aws_errors():
        org_client = make_client(sess, "organizations")
        org = org_client.describe_organization()["Organization"]
        roots = list(pages(org_client, "list_roots", "Roots"))
        root = roots[0]
        live = LiveOrg(
            id=org["Id"],
            root_id=root["Id"],
            management_account_id=org["MasterAccountId"],
            root_policy_types={p["Type"]: p["Status"] for p in root.get("PolicyTypes", [])},
        )
        queue: list[tuple[str, tuple[str, ...]]] = [(root["Id"], ())]
        while queue:
            parent_id, parent_path = queue.pop(0)
            for acct in pages(org_client, "list_accounts_for_parent", "Accounts", ParentId=parent_id):
                live.accounts[acct["Id"]] = LiveAccount(
                    acct["Id"], acct.get("Name", ""), acct.get("Status", "ACTIVE"), parent_id
                )
            for ou in pages(
                org_client, "list_organizational_units_for_parent", "OrganizationalUnits", ParentId=parent_id
            ):
                path = parent_path + (ou["Name"],)
                live.ous[ou["Id"]] = LiveOu(ou["Id"], ou["Name"], parent_id, path)
                queue.append((ou["Id"], path))
    return live


# --- spec vs organization ------------------------------------------------------------------


@dataclass(frozen=True)
class Difference:
    """One way the spec disagrees with the organization.

    ``value`` is the replacement for the scalar at ``path`` when ``discover --write`` can fix
    it, else None (the spec or the org needs a human decision).
    """

    kind: str  # wrong | moved | missing | extra | status
    path: tuple
    message: str
    value: str | None = None

    @property
    def fixable(self) -> bool:
        return self.value is not None

    def line(self) -> str:
        where = f"{dotted(self.path)}: " if self.path else ""
        fix = "  [--write fixes]" if self.fixable else ""
        return f"{self.kind:<8} {where}{self.message}{fix}"


def spec_ou_paths(spec: OrgSpec) -> dict[str, tuple[str, ...]]:
    """OU name -> path of names from the root (the OU's AWS name is its spec key)."""
    ous = spec.organization.organizational_units
    out = {}
    for name in ous:
        path: list[str] = []
        cursor: str | None = name
        seen: set[str] = set()
        while cursor is not None and cursor not in seen:
            seen.add(cursor)
            path.insert(0, cursor)
            cursor = ous[cursor].parent if cursor in ous else None
        out[name] = tuple(path)
    return out


def compare(spec: OrgSpec, live: LiveOrg) -> list[Difference]:
    """Every difference between the spec and the organization, in spec order, extras last."""
    org = spec.organization
    diffs: list[Difference] = []
    if org.id != live.id:
        diffs.append(
            Difference("wrong", ("organization", "id"), f"spec says {org.id}, the organization is {live.id}", live.id)
        )
    if org.root_id != live.root_id:
        diffs.append(
            Difference(
                "wrong",
                ("organization", "root_id"),
                f"spec says {org.root_id}, the root is {live.root_id}",
                live.root_id,
            )
        )

    ou_ids: dict[str, str] = {}  # spec OU name -> live id, once matched
    matched_ous: set[str] = set()
    for name, path in sorted(spec_ou_paths(spec).items()):
        ou = org.organizational_units[name]
        live_ou = live.ou_by_path(path)
        where = ("organization", "organizational_units", name, "id")
        if live_ou:
            ou_ids[name] = live_ou.id
            matched_ous.add(live_ou.id)
            if live_ou.id != ou.id:
                diffs.append(
                    Difference(
                        "wrong", where, f"OU {'/'.join(path)} has id {live_ou.id} (spec says {ou.id})", live_ou.id
                    )
                )
        elif ou.id in live.ous:
            ou_ids[name] = ou.id
            matched_ous.add(ou.id)
            diffs.append(
                Difference(
                    "moved",
                    where[:-1],
                    f"OU {ou.id} is at {'/'.join(live.ous[ou.id].path)} in the organization (spec: {'/'.join(path)})",
                )
            )
        else:
            diffs.append(
                Difference(
                    "missing", where[:-1], f"no OU at {'/'.join(path)} and no OU with id {ou.id} in the organization"
                )
            )
    name_of_ou = {oid: name for name, oid in ou_ids.items()}

    matched_accounts: set[str] = set()
    by_name: dict[str, list[LiveAccount]] = {}
    for a in live.accounts.values():
        by_name.setdefault(a.name, []).append(a)
    for key, account in sorted(spec.accounts.items()):
        found = live.accounts.get(account.id)
        if found is None and len(by_name.get(key, [])) == 1:
            found = by_name[key][0]
            diffs.append(
                Difference(
                    "wrong",
                    ("accounts", key, "id"),
                    f"account named {key!r} has id {found.id} (spec says {account.id or 'none yet'})",
                    found.id,
                )
            )
        if found is None:
            what = f"account {account.id} is not in the organization" if account.id else "account not created yet"
            diffs.append(Difference("missing", ("accounts", key), what))
            continue
        matched_accounts.add(found.id)
        if found.status != "ACTIVE":
            diffs.append(
                Difference("status", ("accounts", key), f"account {found.id} is {found.status} (expected ACTIVE)")
            )
        actual = "root" if found.parent_id == live.root_id else name_of_ou.get(found.parent_id)
        if actual is None:
            diffs.append(
                Difference(
                    "moved",
                    ("accounts", key, "ou"),
                    f"account {found.id} sits in {live.where(found.parent_id)}, an OU the spec does not declare "
                    f"(spec: {account.ou})",
                )
            )
        elif actual != account.ou:
            diffs.append(
                Difference(
                    "moved",
                    ("accounts", key, "ou"),
                    f"account {found.id} sits in {actual} (spec: {account.ou})",
                    actual,
                )
            )

    mgmt = spec.accounts.get(org.management_account)
    if (
        mgmt is not None
        and mgmt.id != live.management_account_id
        and live.management_account_id not in matched_accounts
    ):
        diffs.append(
            Difference(
                "wrong",
                ("accounts", org.management_account, "id"),
                f"the management account is {live.management_account_id} (spec says {mgmt.id})",
                live.management_account_id,
            )
        )
    for live_ou in sorted(live.ous.values(), key=lambda o: o.path):
        if live_ou.id not in matched_ous:
            diffs.append(Difference("extra", (), f"OU {'/'.join(live_ou.path)} ({live_ou.id}) is not in the spec"))
    for acct in sorted(live.accounts.values(), key=lambda a: a.id):
        if acct.id not in matched_accounts and acct.status == "ACTIVE":
            diffs.append(
                Difference(
                    "extra", (), f"account {acct.id} {acct.name!r} in {live.where(acct.parent_id)} is not in the spec"
                )
            )
    return diffs


# --- doctor ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """One line of the doctor's checklist."""

    name: str
    ok: bool
    detail: str
    fix: str = ""


class Doctor:
    """Checks the live prerequisites of the spec; each check reports, none aborts on AccessDenied.

    Credentials problems abort the whole run (no check could pass), as :class:`LiveError`.
    """

    def __init__(self, spec: OrgSpec, sess: boto3.Session, client: Callable[..., Any] | None = None) -> None:
        self.spec = spec
        self.sess = sess
        self.client = client or (lambda service, region=None, s=None: make_client(s or sess, service, region))

    def run(self) -> list[Check]:
        with aws_errors():
            live = read_organization(self.sess)
            checks = [self._org_id(live)]
            checks += self._accounts(live)
            checks += self._org_access()
            checks += self._scp_type(live)
            checks += self._state_bucket()
            role_sessions = {}
            for key in sorted(self.spec.accounts):
                if not self.spec.accounts[key].id:
                    checks.append(
                        Check(
                            f"account {key} exists",
                            False,
                            "not created yet (no id in the spec)",
                            "apply the management stack (it creates the account), then `mlgov discover --write`",
                        )
                    )
                    continue
                if self.spec.accounts[key].retired:
                    continue
                check, role_session = self._terraform_role(key)
                checks.append(check)
                checks.append(self._plan_role(key, role_session))
                role_sessions[key] = role_session
            checks += self._connections(role_sessions.get(self.spec.hub))
            for key in sorted(k for k, a in self.spec.accounts.items() if a.source is not None):
                checks.append(self._source_connection(key, role_sessions.get(key)))
        return checks

    def _guard(self, name: str, fn: Callable[[], Check]) -> Check:
        try:
            return fn()
        except botocore.exceptions.ClientError as exc:
            if is_denied(exc):
                return Check(name, False, describe_error(exc), "grant the caller the permission named above")
            raise

    def _org_id(self, live: LiveOrg) -> Check:
        ok = live.id == self.spec.organization.id and live.root_id == self.spec.organization.root_id
        detail = f"{live.id} root {live.root_id}"
        return Check(
            "organization id and root match the spec", ok, detail, "" if ok else "run `mlgov discover --write`"
        )

    def _accounts(self, live: LiveOrg) -> list[Check]:
        ous = self.spec.organization.organizational_units
        out = []
        for key, account in sorted(self.spec.accounts.items()):
            if not account.id or account.retired:  # reported by run() / nothing to check
                continue
            name = f"account {key} ({account.id}) exists and sits in {account.ou}"
            found = live.accounts.get(account.id)
            if found is None:
                out.append(
                    Check(
                        name,
                        False,
                        "not in the organization",
                        f"invite or create the account, or fix accounts.{key}.id",
                    )
                )
                continue
            expected = live.root_id if account.ou == "root" else ous[account.ou].id
            if found.status != "ACTIVE":
                out.append(
                    Check(name, False, f"status {found.status}", "reopen the account or remove it from the spec")
                )
            elif found.parent_id != expected:
                out.append(
                    Check(
                        name,
                        False,
                        f"sits in {live.where(found.parent_id)}",
                        f"move it (aws organizations move-account --account-id {account.id} --source-parent-id "
                        f"{found.parent_id} "
                        f"--destination-parent-id {expected}) or run `discover --write`",
                    )
                )
            else:
                out.append(Check(name, True, "ok"))
        return out

    def _org_access(self) -> list[Check]:
        m = self.spec.management
        hub = self.spec.hub
        hub_id = self.spec.accounts[hub].id
        org_client = self.client("organizations")
        out: list[Check] = []
        wanted = []
        if m.service_catalog_access:
            wanted.append(
                (
                    "servicecatalog.amazonaws.com",
                    "Service Catalog",
                    "apply the management stack (aws_servicecatalog_organizations_access) or run `aws servicecatalog "
                    "enable-aws-organizations-access`",
                )
            )
        if m.stacksets_delegated_admin:
            wanted.append(
                (
                    "member.org.stacksets.cloudformation.amazonaws.com",
                    "CloudFormation StackSets",
                    "run `aws cloudformation activate-organizations-access` in the management account",
                )
            )
        if not wanted:
            return out

        def enabled() -> set[str]:
            return {
                s["ServicePrincipal"]
                for s in pages(org_client, "list_aws_service_access_for_organization", "EnabledServicePrincipals")
            }

        try:
            principals = enabled()
            denied = None
        except botocore.exceptions.ClientError as exc:
            if not is_denied(exc):
                raise
            principals, denied = set(), describe_error(exc)
        for principal, label, fix in wanted:
            name = f"trusted access for {label} is enabled"
            if denied:
                out.append(Check(name, False, denied, "grant organizations:ListAWSServiceAccessForOrganization"))
            else:
                out.append(Check(name, principal in principals, principal, "" if principal in principals else fix))

        try:
            delegated = {
                s["ServicePrincipal"]
                for s in pages(org_client, "list_delegated_services_for_account", "DelegatedServices", AccountId=hub_id)
            }
            denied = None
        except botocore.exceptions.ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code == "AccountNotRegisteredException":
                delegated, denied = set(), None
            elif is_denied(exc):
                delegated, denied = set(), describe_error(exc)
            else:
                raise
        for principal, label, _fix in wanted:
            name = f"hub {hub} ({hub_id}) is delegated administrator for {label}"
            if denied:
                out.append(Check(name, False, denied, "grant organizations:ListDelegatedServicesForAccount"))
            else:
                ok = principal in delegated
                fix = (
                    ""
                    if ok
                    else (
                        "apply the management stack, or run `aws organizations register-delegated-administrator "
                        f"--account-id {hub_id} --service-principal {principal}`"
                    )
                )
                out.append(Check(name, ok, principal, fix))
        return out

    def _scp_type(self, live: LiveOrg) -> list[Check]:
        if not service_control_policies(self.spec):
            return []
        status = live.root_policy_types.get("SERVICE_CONTROL_POLICY")
        ok = status == "ENABLED"
        return [
            Check(
                "service control policies are enabled on the root",
                ok,
                status or "not enabled",
                ""
                if ok
                else f"run `aws organizations enable-policy-type --root-id {live.root_id} --policy-type "
                "SERVICE_CONTROL_POLICY`",
            )
        ]

    def _state_bucket(self) -> list[Check]:
        state = self.spec.terraform.state
        s3 = self.client("s3", state.region)
        name = f"state bucket {state.bucket} exists"

        def exists() -> Check:
            try:
                s3.head_bucket(Bucket=state.bucket)
            except botocore.exceptions.ClientError as exc:
                code = exc.response.get("Error", {}).get("Code")
                if code in ("404", "NoSuchBucket", "NotFound"):
                    return Check(
                        name,
                        False,
                        "not found",
                        f"create it in {state.region} in the management account: deploy the bootstrap "
                        "(generated/bootstrap/, docs/day-zero.md)",
                    )
                if is_denied(exc):
                    return Check(
                        name,
                        False,
                        "exists but these credentials cannot reach it (403)",
                        "use credentials that can read the state bucket",
                    )
                raise
            return Check(name, True, state.region)

        first = self._guard(name, exists)
        if not first.ok:
            return [first]
        versioned = self._guard("state bucket is versioned", lambda: self._versioning(s3, state.bucket))
        encrypted = self._guard("state bucket is encrypted by default", lambda: self._encryption(s3, state.bucket))
        logged = self._guard("state bucket is access logged", lambda: self._logging(s3, state.bucket))
        tls = self._guard("state bucket allows TLS only", lambda: self._tls_only(s3, state.bucket))
        return [first, versioned, encrypted, logged, tls]

    @staticmethod
    def _logging(s3, bucket: str) -> Check:
        target = s3.get_bucket_logging(Bucket=bucket).get("LoggingEnabled", {}).get("TargetBucket")
        fix = "" if target else "deploy the bootstrap (generated/bootstrap/, docs/day-zero.md), which logs the bucket"
        return Check("state bucket is access logged", bool(target), f"to {target}" if target else "not logged", fix)

    @staticmethod
    def _tls_only(s3, bucket: str) -> Check:
        name = "state bucket allows TLS only"
        try:
            document = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
        except botocore.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "NoSuchBucketPolicy":
                raise
            document = {"Statement": []}
        statements = document.get("Statement", [])
        ok = any(
            s.get("Effect") == "Deny" and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
            for s in (statements if isinstance(statements, list) else [statements])
        )
        fix = (
            "" if ok else "deploy the bootstrap (generated/bootstrap/, docs/day-zero.md): its policy denies plain HTTP"
        )
        return Check(name, ok, "denies aws:SecureTransport false" if ok else "no TLS-only statement", fix)

    @staticmethod
    def _versioning(s3, bucket: str) -> Check:
        status = s3.get_bucket_versioning(Bucket=bucket).get("Status", "never enabled")
        ok = status == "Enabled"
        return Check(
            "state bucket is versioned",
            ok,
            status,
            ""
            if ok
            else f"aws s3api put-bucket-versioning --bucket {bucket} --versioning-configuration Status=Enabled",
        )

    @staticmethod
    def _encryption(s3, bucket: str) -> Check:
        name = "state bucket is encrypted by default"
        try:
            rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
        except botocore.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ServerSideEncryptionConfigurationNotFoundError":
                return Check(name, False, "no default encryption", f"set SSE-KMS default encryption on {bucket}")
            raise
        algos = sorted({r.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm", "?") for r in rules})
        return Check(name, bool(rules), ", ".join(algos))

    def _terraform_role(self, key: str) -> tuple[Check, boto3.Session | None]:
        arn = self.spec.terraform_role_arn(key)
        account_id = self.spec.accounts[key].id
        name = f"terraform role can be assumed in {key} ({account_id})"
        fix = (
            f"create role {self.spec.terraform.role_name} in {account_id}: deploy the bootstrap (its StackSet puts the "
            "role in every member account; generated/bootstrap/, docs/day-zero.md)"
        )
        sts = self.client("sts", self.spec.organization.home_region)
        try:
            creds = sts.assume_role(RoleArn=arn, RoleSessionName="mlgov-doctor")["Credentials"]
        except botocore.exceptions.ClientError as exc:
            if is_denied(exc):
                return Check(
                    name, False, "AssumeRole denied (role missing or its trust policy does not trust you)", fix
                ), None
            raise
        assumed = boto3.Session(
            aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
            region_name=self.spec.organization.home_region,
        )
        identity = self.client("sts", self.spec.organization.home_region, assumed).get_caller_identity()
        if identity["Account"] != account_id:
            return Check(name, False, f"the role's session is in account {identity['Account']}", fix), None
        try:
            self.client("iam", None, assumed).get_role(RoleName=self.spec.terraform.role_name)
        except botocore.exceptions.ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code == "NoSuchEntity":
                return Check(name, False, "role does not exist", fix), None
            if not is_denied(exc):  # a role without iam:GetRole on itself is still a role
                raise
        return Check(name, True, arn), assumed

    def _plan_role(self, key: str, session: boto3.Session | None) -> Check:
        """The account's read-only plan role exists (the CI's plan and drift jobs assume it; the
        bootstrap creates it beside the Terraform role), looked up as that account's Terraform role."""
        account_id = self.spec.accounts[key].id
        role = naming.terraform_plan_role(self.spec)
        name = f"plan role {role} exists in {key} ({account_id})"
        fix = f"create role {role} in {account_id}: deploy the bootstrap (generated/bootstrap/, docs/day-zero.md)"
        if session is None:
            return Check(name, False, f"skipped: cannot assume the terraform role in {key}", "fix that role first")
        try:
            self.client("iam", None, session).get_role(RoleName=role)
        except botocore.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "NoSuchEntity":
                return Check(name, False, "role does not exist", fix)
            raise
        return Check(name, True, f"arn:aws:iam::{account_id}:role/{role}")

    def _list_connections(self, client: Any) -> list[dict[str, Any]]:
        """Every connection of one account and region (botocore has no paginator for them)."""
        found, token = [], None
        while True:
            kwargs: dict[str, str] = {"NextToken": token} if token else {}
            page = client.list_connections(**kwargs)
            found += page.get("Connections", [])
            token = page.get("NextToken")
            if not token:
                return found

    def _source_connection(self, key: str, session: boto3.Session | None) -> Check:
        """The dev account's connection to its Git provider (accounts.<key>.source) is AVAILABLE:
        AWS creates it PENDING and only a person can complete the provider's handshake."""
        account = self.spec.accounts[key]
        source = account.source
        assert source is not None
        wanted = naming.source_connection(self.spec, key)
        name = f"connection {wanted} of {key} ({account.id}) completed its handshake"
        if session is None:
            return Check(name, False, f"skipped: cannot assume the terraform role in {key}", "fix that role first")
        region = naming.primary_region(self.spec, key)
        client = self.client("codeconnections", region, session)

        def run() -> Check:
            status = {c["ConnectionName"]: c.get("ConnectionStatus") for c in self._list_connections(client)}.get(
                wanted
            )
            if status is None:
                return Check(
                    name, False, "not found", f"apply the {key} stack (aws_codestarconnections_connection.source)"
                )
            if status != "AVAILABLE":
                return Check(
                    name,
                    False,
                    status,
                    f"in account {account.id} ({region}) open Developer Tools > Settings > Connections, choose "
                    f"{wanted}, Update pending connection, and authorize the {source.provider.value} "
                    f"organization {source.owner}",
                )
            return Check(name, True, status)

        return self._guard(name, run)

    def _connections(self, hub_session: boto3.Session | None) -> list[Check]:
        name = "no CodeConnections in the hub wait for the console handshake"
        if hub_session is None:
            return [
                Check(
                    name,
                    False,
                    "skipped: cannot assume the terraform role in the hub",
                    "fix the hub's terraform role first",
                )
            ]
        client = self.client("codeconnections", self.spec.organization.home_region, hub_session)

        def run() -> Check:
            pending, token = [], None
            while True:  # botocore has no paginator for codeconnections
                kwargs: dict[str, str] = {"NextToken": token} if token else {}
                page = client.list_connections(**kwargs)
                pending += [
                    c["ConnectionName"] for c in page.get("Connections", []) if c.get("ConnectionStatus") == "PENDING"
                ]
                token = page.get("NextToken")
                if not token:
                    break
            if pending:
                return Check(
                    name,
                    False,
                    f"pending: {', '.join(sorted(pending))}",
                    "open Developer Tools > Settings > Connections in the hub account and complete each handshake",
                )
            return Check(name, True, "none pending")

        return [self._guard(name, run)]


# --- state objects of the stacks a closed team or a retired account leaves behind ------------

STATE_SUFFIX = ".tfstate"
LOCK_SUFFIX = ".tflock"  # the S3 backend's lock file beside the state (use_lockfile)
# Keys per DeleteObjects request (Amazon S3 API Reference, DeleteObjects: "up to 1,000 keys").
DELETE_OBJECTS_MAX = 1000


@dataclass(frozen=True)
class LeftState:
    """The state object of a stack the spec no longer has, with every version of it and of its lock.

    ``held`` counts the managed resources its current version still holds: the stack's destroy
    has not been applied when it is not 0 (or the object cannot be read as a state)."""

    key: str
    stack: str
    held: int
    versions: tuple[tuple[str, str], ...]


def is_left_behind(spec: OrgSpec, stack: str) -> bool:
    """Whether ``stack`` is a stack a closed team or a retired account left behind: a team's
    slice ``<account>-team-<team>`` of a team the spec no longer has, or the stack of an account
    the spec retires. Any other name (the bootstrap's state, another tool's, a stack of the
    spec) is never one."""
    if stack in spec.accounts:
        return spec.accounts[stack].retired
    account, sep, team = stack.rpartition("-team-")
    return bool(sep) and account in spec.accounts and team not in spec.teams


def _held(s3, bucket: str, key: str) -> int:
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        resources = json.loads(body).get("resources", [])
    except (ValueError, AttributeError):
        return -1
    except botocore.exceptions.ClientError as exc:  # a delete marker on top: nothing current
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "MethodNotAllowed"):
            return 0
        raise
    return sum(1 for r in resources if r.get("mode") == "managed" and r.get("instances"))


def left_states(spec: OrgSpec, sess: boto3.Session) -> list[LeftState]:
    """The state objects under ``terraform.state.key_prefix`` of the stacks :func:`is_left_behind` names."""
    state = spec.terraform.state
    kept = {ref.state for ref in spec.stack_refs()}
    prefix = f"{state.key_prefix}/"
    with aws_errors():
        s3 = make_client(sess, "s3", state.region)
        versions: dict[str, list[tuple[str, str]]] = {}
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=state.bucket, Prefix=prefix):
            for v in page.get("Versions", []) + page.get("DeleteMarkers", []):
                key = v["Key"]
                name = key.removeprefix(prefix).removesuffix(LOCK_SUFFIX)
                if "/" in name or not name.endswith(STATE_SUFFIX):
                    continue
                versions.setdefault(key.removesuffix(LOCK_SUFFIX), []).append((key, v["VersionId"]))
        out = []
        for key, found in sorted(versions.items()):
            stack = key.removeprefix(prefix).removesuffix(STATE_SUFFIX)
            if stack in kept or not is_left_behind(spec, stack):
                continue
            out.append(LeftState(key, stack, _held(s3, state.bucket, key), tuple(sorted(found))))
    return out


def delete_state(spec: OrgSpec, sess: boto3.Session, left: LeftState) -> None:
    """Delete every version of the state object and its lock (the bucket is versioned: a plain
    delete would only add a delete marker)."""
    with aws_errors():
        s3 = make_client(sess, "s3", spec.terraform.state.region)
        for at in range(0, len(left.versions), DELETE_OBJECTS_MAX):
            chunk = left.versions[at : at + DELETE_OBJECTS_MAX]
            done = s3.delete_objects(
                Bucket=spec.terraform.state.bucket,
                Delete={"Objects": [{"Key": k, "VersionId": v} for k, v in chunk], "Quiet": True},
            )
            if done.get("Errors"):
                first = done["Errors"][0]
                raise LiveError(
                    f"cannot delete {first.get('Key')}: {first.get('Code')} {first.get('Message', '')}".strip()
                )
