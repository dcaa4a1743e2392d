"""One short, trustworthy PR report for the plans of all stacks.

Input: ``terraform show -json`` documents (one per stack). Output: Markdown for a PR comment
or JSON for a pipeline. Destroys and replacements come first behind a loud warning; changes
to access-control documents (IAM policies, trust relationships, KMS key policies, bucket
policies, event bus policies, SCPs, Service Catalog shares) are called out; stacks without
changes collapse into one line. The report is kept under a character budget by folding
detail, level by level; the destroy/replace warnings are never dropped.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ACTIONS = ("create", "update", "replace", "delete")

# Resource types whose whole purpose is access control: any change to them is relevant.
SECURITY_TYPES: dict[str, str] = {
    "aws_iam_policy": "IAM policy",
    "aws_iam_role_policy": "IAM policy",
    "aws_iam_user_policy": "IAM policy",
    "aws_iam_group_policy": "IAM policy",
    "aws_iam_policy_attachment": "IAM policy",
    "aws_iam_role_policy_attachment": "IAM policy",
    "aws_iam_role_policies_exclusive": "IAM policy",
    "aws_iam_role_policy_attachments_exclusive": "IAM policy",
    "aws_iam_user_policy_attachment": "IAM policy",
    "aws_iam_group_policy_attachment": "IAM policy",
    "aws_iam_permissions_boundary_attachment": "IAM policy",
    "aws_kms_key_policy": "KMS key policy",
    "aws_kms_grant": "KMS key policy",
    "aws_s3_bucket_policy": "bucket policy",
    "aws_s3_bucket_public_access_block": "bucket public access",
    "aws_cloudwatch_event_bus_policy": "event bus policy",
    "aws_cloudwatch_event_permission": "event bus policy",
    "aws_organizations_policy": "SCP",
    "aws_organizations_policy_attachment": "SCP",
    "aws_organizations_delegated_administrator": "SCP",
    "aws_servicecatalog_portfolio_share": "Service Catalog share",
    "aws_servicecatalog_principal_portfolio_association": "Service Catalog share",
    "aws_servicecatalog_organizations_access": "Service Catalog share",
    "aws_sagemaker_model_package_group_policy": "resource policy",
    "aws_lambda_permission": "resource policy",
    "aws_sns_topic_policy": "resource policy",
    "aws_sqs_queue_policy": "resource policy",
    "aws_ecr_repository_policy": "resource policy",
}

# Resource types that carry an access-control document among other settings: relevant when
# created, destroyed or replaced, or when an update touches one of these attributes.
SECURITY_ATTRIBUTES: dict[str, dict[str, str]] = {
    "aws_iam_role": {
        "assume_role_policy": "trust relationship",
        "inline_policy": "IAM policy",
        "managed_policy_arns": "IAM policy",
        "permissions_boundary": "IAM policy",
    },
    "aws_kms_key": {"policy": "KMS key policy"},
    "aws_s3_bucket": {"policy": "bucket policy"},
    "aws_sqs_queue": {"policy": "resource policy"},
    "aws_sns_topic": {"policy": "resource policy"},
    "aws_cloudwatch_event_bus": {"policy": "event bus policy"},
}

# Types that always come with such a document (a role has a trust policy; a key without an
# explicit policy gets AWS's default one), so creating or destroying one is always relevant.
ALWAYS_CARRIES: dict[str, str] = {"aws_iam_role": "trust relationship", "aws_kms_key": "KMS key policy"}


@dataclass(frozen=True)
class Change:
    """One resource change of one stack."""

    stack: str
    address: str
    type: str
    action: str  # create | update | replace | delete
    attributes: tuple[str, ...] = ()  # updated attributes, or those forcing a replacement
    security: str = ""  # category when security-relevant, else ""

    @property
    def destructive(self) -> bool:
        return self.action in {"delete", "replace"}


@dataclass
class StackReport:
    """All changes of one stack (one account and region)."""

    name: str
    account: str = ""
    changes: list[Change] = field(default_factory=list)
    removed: bool = False  # the plan deletes the whole stack and leaves nothing (it left the spec)
    moved: list[tuple[str, str]] = field(default_factory=list)  # (from, to): `moved` blocks of a rename

    def count(self, action: str) -> int:
        return sum(1 for c in self.changes if c.action == action)

    @property
    def counts(self) -> dict[str, int]:
        return {a: self.count(a) for a in ACTIONS}


def _action(actions: list[str]) -> str | None:
    if "delete" in actions and "create" in actions:
        return "replace"
    if actions in (["create"], ["update"], ["delete"]):
        return actions[0]
    return None  # no-op, read (data sources), forget


def _changed_attributes(change: dict) -> tuple[str, ...]:
    before = change.get("before") or {}
    after = change.get("after") or {}
    unknown = change.get("after_unknown") or {}
    keys = set(before) | set(after) | {k for k, v in unknown.items() if v}
    return tuple(sorted(k for k in keys if before.get(k) != after.get(k) or unknown.get(k) is True))


def _security(rtype: str, action: str, change: dict) -> str:
    if rtype in SECURITY_TYPES:
        return SECURITY_TYPES[rtype]
    watched = SECURITY_ATTRIBUTES.get(rtype)
    if not watched:
        return ""
    if action == "update":
        touched = _changed_attributes(change)
    elif rtype in ALWAYS_CARRIES:
        return ALWAYS_CARRIES[rtype]
    else:
        # Created or destroyed: relevant when it carries one of the documents at all.
        sides = [change.get("before") or {}, change.get("after") or {}]
        touched = tuple(a for a in watched if any(side.get(a) not in (None, [], {}, "") for side in sides))
    return ", ".join(sorted({watched[a] for a in touched if a in watched}))


def stack_report(name: str, plan: dict, account: str = "") -> StackReport:
    """The changes of one ``terraform show -json`` document."""
    report = StackReport(name, account)
    for rc in plan.get("resource_changes", []):
        if rc.get("mode", "managed") != "managed":
            continue
        change = rc["change"]
        if rc.get("previous_address"):
            report.moved.append((rc["previous_address"], rc["address"]))
        action = _action(change["actions"])
        if action is None:
            continue
        if action == "replace":
            paths = change.get("replace_paths") or rc.get("replace_paths") or []
            attrs = tuple(sorted({str(path[0]) for path in paths if path}))
        elif action == "update":
            attrs = _changed_attributes(change)
        else:
            attrs = ()
        report.changes.append(
            Change(name, rc["address"], rc["type"], action, attrs, _security(rc["type"], action, change))
        )
    report.changes.sort(key=lambda c: (ACTIONS.index(c.action), c.address))
    left = (plan.get("planned_values") or {}).get("root_module") or {}
    report.removed = (
        bool(report.changes) and all(c.action == "delete" for c in report.changes) and not left.get("resources")
    )
    return report


def destroyed_stacks(reports: list[StackReport], removed: Sequence[str] = ()) -> list[StackReport]:
    """Stacks whose plan deletes everything: destroy plans, or stacks named as left the spec."""
    return [r for r in reports if r.removed or (r.name in removed and r.changes)]


def stack_name_of(path: Path) -> str:
    """``plans/<stack>/plan.json`` -> ``<stack>``; ``<stack>.json`` -> ``<stack>``."""
    return path.parent.name if path.stem in {"plan", "tfplan"} else path.stem


class NotAPlan(ValueError):
    """A file given as plan JSON is not the JSON of a Terraform plan (one line: file and why)."""


# Keys only the JSON of a plan (`terraform show -json <planfile>`) has at its top level: a stack's
# cdk.tf.json has resource/provider/terraform, a state's JSON has values, `{}` has nothing.
PLAN_KEYS = ("resource_changes", "planned_values", "output_changes", "resource_drift")


def read_plan(path: Path) -> dict[str, Any]:
    """The plan document in ``path``; raises :class:`NotAPlan` for anything else. An input
    that is not a plan must never read as "no changes": it would hide a whole stack."""
    try:
        doc = json.loads(path.read_bytes())
    except (OSError, UnicodeDecodeError) as exc:
        raise NotAPlan(f"{path}: cannot read it ({exc})") from None
    except ValueError as exc:
        raise NotAPlan(f"{path}: not a terraform plan JSON document (not JSON: {exc})") from None
    if not isinstance(doc, dict) or not any(key in doc for key in PLAN_KEYS):
        got = f"keys {', '.join(sorted(doc)[:6]) or 'none'}" if isinstance(doc, dict) else type(doc).__name__
        raise NotAPlan(
            f"{path}: not a terraform plan JSON document (got {got}, expected the output of "
            f"`terraform show -json <planfile>`, with {' or '.join(PLAN_KEYS[:2])})"
        )
    return doc


def load_reports(paths: Iterable[Path], manifest: dict | None = None) -> list[StackReport]:
    """Parse plan JSON files into stack reports (sorted by stack name); :class:`NotAPlan` for
    a file that is not a plan or is malformed inside."""
    accounts = {s["name"]: f"{s['account']} ({s['account_id']})" for s in (manifest or {}).get("stacks", [])}
    reports = []
    for path in paths:
        name = stack_name_of(path)
        doc = read_plan(path)
        try:
            reports.append(stack_report(name, doc, accounts.get(name, "")))
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise NotAPlan(f"{path}: not a terraform plan JSON document ({type(exc).__name__}: {exc})") from None
    return sorted(reports, key=lambda r: r.name)


# --- rendering ------------------------------------------------------------------------


def totals(reports: list[StackReport]) -> dict[str, int]:
    return {a: sum(r.count(a) for r in reports) for a in ACTIONS}


def _attrs(change: Change) -> str:
    if not change.attributes:
        return ""
    shown = ", ".join(f"`{a}`" for a in change.attributes[:6])
    more = f" +{len(change.attributes) - 6}" if len(change.attributes) > 6 else ""
    verb = "forced by" if change.action == "replace" else "changes"
    return f" ({verb} {shown}{more})"


def _warning_lines(reports: list[StackReport], compact: bool) -> list[str]:
    lines = []
    for report in reports:
        destructive = [c for c in report.changes if c.destructive]
        if not destructive:
            continue
        if compact:
            # One line per stack and action; every address is kept.
            for action in ("delete", "replace"):
                hits = [c.address for c in destructive if c.action == action]
                if hits:
                    lines.append(f"> - **{action.upper()}** in `{report.name}` ({len(hits)}): " + ", ".join(hits))
        else:
            for c in destructive:
                sec = f" — security-relevant: {c.security}" if c.security else ""
                lines.append(f"> - **{c.action.upper()}** `{c.address}` in `{report.name}`{_attrs(c)}{sec}")
    return lines


def render_markdown(
    reports: list[StackReport], level: int = 0, unplanned: Sequence[str] = (), removed: Sequence[str] = ()
) -> str:
    """The report at one fold level (0 = everything, 3 = warnings and counts only).

    ``unplanned``: stacks left out of the plan because their generated files did not change
    (``plan --changed-since``); ``removed``: stacks planned as destroys because they left the spec.
    """
    total = totals(reports)
    changed = [r for r in reports if r.changes]
    unchanged = [r.name for r in reports if not r.changes]
    out = ["## mlgov plan summary", ""]
    gone = destroyed_stacks(reports, removed)
    if gone:
        # Whole stacks first: one merge removes a team's or an account's entire footprint.
        plural = "s" if len(gone) != 1 else ""
        out.append("> [!CAUTION]")
        out.append(
            f"> **{len(gone)} whole stack{plural} will be DESTROYED: "
            f"every resource in {'them' if plural else 'it'} is deleted.**"
        )
        for r in gone:
            account = f" ({r.account})" if r.account else ""
            out.append(f"> - **DESTROY STACK** `{r.name}`{account}: {r.count('delete')} resources")
        out.append("")
    out.append(
        f"**{len(reports)} stack{'s' if len(reports) != 1 else ''}: {total['create']} to create, {total['update']} to "
        "update, "
        f"{total['replace']} to replace, {total['delete']} to delete.**"
    )
    out.append("")
    if total["delete"] or total["replace"]:
        out.append("> [!CAUTION]")
        loud = []
        if total["delete"]:
            loud.append(f"{total['delete']} resource{'s' if total['delete'] != 1 else ''} will be DESTROYED")
        if total["replace"]:
            loud.append(
                f"{total['replace']} resource{'s' if total['replace'] != 1 else ''} will be REPLACED (destroyed, then "
                "created anew)"
            )
        out.append(f"> **{' and '.join(loud)}; data in them is lost.** Review before applying:")
        out.extend(_warning_lines(reports, compact=level >= 3))
        out.append("")
    security = [c for r in reports for c in r.changes if c.security]
    if security:
        out.append(f"### Security-relevant changes ({len(security)})")
        out.append("")
        if level <= 1:
            out.append("| stack | action | resource | what |")
            out.append("| --- | --- | --- | --- |")
            for c in security:
                out.append(f"| `{c.stack}` | {c.action} | `{c.address}` | {c.security}{_attrs(c)} |")
        else:
            for r in reports:
                cats: dict[str, int] = {}
                for c in r.changes:
                    if c.security:
                        key = f"{c.security} ({c.action})"
                        cats[key] = cats.get(key, 0) + 1
                if cats:
                    out.append(f"- `{r.name}`: " + "; ".join(f"{k} ×{v}" for k, v in sorted(cats.items())))
        out.append("")
    if changed:
        out.append("### Changes per stack")
        out.append("")
        out.append("| stack | account | create | update | replace | delete |")
        out.append("| --- | --- | ---: | ---: | ---: | ---: |")
        for r in changed:
            n = r.counts
            out.append(
                f"| `{r.name}` | {r.account or '-'} | {n['create']} | {n['update']} | {n['replace']} | {n['delete']} |"
            )
        out.append("")
    if unchanged:
        out.append(f"No changes: {', '.join(f'`{n}`' for n in unchanged)}.")
        out.append("")
    moved = [r for r in reports if r.moved]
    if moved:
        # A rename: state follows the new address; in AWS these move nothing.
        counts = ", ".join(f"`{r.name}` {len(r.moved)}" for r in moved)
        out.append(f"**Moved to new addresses (renames; nothing changes in AWS):** {counts}.")
        out.append("")
    if removed:
        out.append(f"**Left the spec, planned as destroys:** {', '.join(f'`{n}`' for n in removed)}.")
        out.append("")
    if unplanned:
        names = f": {', '.join(f'`{n}`' for n in unplanned)}" if level == 0 else ""
        out.append(f"No configuration change, not planned ({len(unplanned)} stacks){names}.")
        out.append("")
    if level == 0:
        for r in changed:
            out.append(
                f"<details><summary><code>{r.name}</code>: {len(r.changes)} "
                f"change{'s' if len(r.changes) != 1 else ''}</summary>"
            )
            out.append("")
            for c in r.changes:
                out.append(f"- {c.action} `{c.address}`{_attrs(c)}")
            out.append("")
            out.append("</details>")
            out.append("")
    if level > 0:
        out.append(
            f"_Detail folded to stay under the comment size limit (level {level}); run `summarize --format json` for "
            "everything._"
        )
        out.append("")
    return "\n".join(out).rstrip() + "\n"


FOLD_LEVELS = 4


def markdown(
    reports: list[StackReport], max_chars: int = 65000, unplanned: Sequence[str] = (), removed: Sequence[str] = ()
) -> str:
    """The most detailed rendering that fits ``max_chars`` (the warnings always stay)."""
    text = ""
    for level in range(FOLD_LEVELS):
        text = render_markdown(reports, level, unplanned, removed)
        if len(text) <= max_chars:
            return text
    return text  # even the tersest form is over budget: never drop a warning to fit


def as_json(
    reports: list[StackReport], max_chars: int | None = None, unplanned: Sequence[str] = (), removed: Sequence[str] = ()
) -> dict[str, Any]:
    """Pipeline form: totals, destroys/replacements, security changes and per-stack detail."""

    def change(c: Change) -> dict[str, Any]:
        return {
            "address": c.address,
            "type": c.type,
            "action": c.action,
            "attributes": list(c.attributes),
            "security": c.security or None,
        }

    doc: dict[str, Any] = {
        "totals": totals(reports),
        "destructive": [dict(change(c), stack=c.stack) for r in reports for c in r.changes if c.destructive],
        "security": [dict(change(c), stack=c.stack) for r in reports for c in r.changes if c.security],
        "stacks": [
            {
                "name": r.name,
                "account": r.account or None,
                "counts": r.counts,
                "changes": [change(c) for c in r.changes],
            }
            for r in reports
        ],
    }
    doc["destroyed_stacks"] = [
        {"name": r.name, "account": r.account or None, "delete": r.count("delete")}
        for r in destroyed_stacks(reports, removed)
    ]
    if any(r.moved for r in reports):
        doc["moved"] = [{"stack": r.name, "from": f, "to": t} for r in reports for f, t in r.moved]
    if unplanned or removed:
        doc["unplanned"] = list(unplanned)  # no configuration change since the base ref
        doc["removed"] = list(removed)  # left the spec: planned as destroys
    if max_chars is not None and len(json.dumps(doc, indent=2)) > max_chars:
        for s in doc["stacks"]:
            s["changes"] = None  # folded; destructive and security lists stay complete
        doc["folded"] = True
    return doc
