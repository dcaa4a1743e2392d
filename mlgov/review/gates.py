"""The third-party gates mlgov's own output passes: cfn-lint over product templates and checkov
over stacks and templates, with mlgov's skip list (``mlgov/security/checkov-skips.yaml``).

One implementation for mlgov's tests (tests/test_checkov.py, tests/test_catalog.py) and for
``mlgov check`` on a platform repository's tree: how each tool is found, started and read, and
which of checkov's failures the skip list explains.

Finding a tool: an explicit path (``--checkov``/``--cfn-lint``), else ``$MLGOV_CHECKOV`` /
``$MLGOV_CFN_LINT``, else for cfn-lint the one of mlgov's own Python environment (it is a Python
dependency: the ``check`` and ``test`` extras), else the program on ``PATH``, else for checkov the
pinned one ``scripts/bootstrap`` installs in the checkout's ``.venv-checkov`` (checkov's many
pinned dependencies live in their own venv). ``None`` when none is there: the caller says so.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlgov.errors import MlgovError
from mlgov.platform import workflows
from mlgov.review import accepted
from mlgov.review.security import checkov_copy

# The versions mlgov's gates are pinned to; the generated pipelines install exactly these.
CFN_LINT_VERSION = workflows.CFN_LINT_VERSION
CHECKOV_VERSION = workflows.CHECKOV_VERSION
CHECKOUT = Path(__file__).resolve().parents[2]
CHECKOV_ENV = "MLGOV_CHECKOV"
CFN_LINT_ENV = "MLGOV_CFN_LINT"
TIMEOUT_S = 900
# cfn-lint's entry point, run by mlgov's own interpreter when cfn-lint is importable there.
_CFN_LINT_MAIN = "import sys; from cfnlint.runner import main; sys.exit(main())"


class GateError(MlgovError):
    """A gate's tool crashed or read nothing; the message says which and why."""


def checkov_command(explicit: str | None = None) -> list[str] | None:
    """How to start checkov (see the module docstring), or None when it is nowhere."""
    for given in (explicit, os.environ.get(CHECKOV_ENV)):
        if given:
            return [given] if Path(given).is_file() or shutil.which(given) else None
    on_path = shutil.which("checkov")
    if on_path:
        return [on_path]
    local = CHECKOUT / ".venv-checkov" / "bin" / "checkov"
    return [str(local)] if local.is_file() else None


def cfn_lint_command(explicit: str | None = None) -> list[str] | None:
    """How to start cfn-lint (see the module docstring), or None when it is nowhere."""
    for given in (explicit, os.environ.get(CFN_LINT_ENV)):
        if given:
            return [given] if Path(given).is_file() or shutil.which(given) else None
    beside_python = Path(sys.executable).parent / "cfn-lint"
    if beside_python.is_file():
        return [str(beside_python)]
    if importlib.util.find_spec("cfnlint") is not None:
        return [sys.executable, "-c", _CFN_LINT_MAIN]
    on_path = shutil.which("cfn-lint")
    return [on_path] if on_path else None


# --- cfn-lint ----------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class LintFinding:
    """One cfn-lint match: file (as given), line, rule id and message."""

    file: str
    line: int
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: cfn-lint {self.rule}: {self.message}"


def run_cfn_lint(command: Sequence[str], files: Sequence[Path], relative_to: Path | None = None) -> list[LintFinding]:
    """cfn-lint's errors and warnings on ``files`` (no rule disabled), sorted; paths shown
    relative to ``relative_to`` when given."""
    if not files:
        return []
    proc = subprocess.run(
        [*command, "--format", "parseable", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    findings = []
    for line in proc.stdout.splitlines():
        # parseable: file:line:column:end line:end column:rule:message
        parts = line.split(":", 6)
        if len(parts) != 7 or not parts[1].isdigit():
            raise GateError(f"cfn-lint printed what is not a finding: {line!r}")
        path = Path(parts[0])
        shown = (
            path.relative_to(relative_to).as_posix() if relative_to and path.is_relative_to(relative_to) else parts[0]
        )
        findings.append(LintFinding(shown, int(parts[1]), parts[5], " ".join(parts[6].split())))
    if proc.returncode != 0 and not findings:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["(no output)"]
        raise GateError(f"cfn-lint failed (exit {proc.returncode}): {tail[0]}")
    return sorted(findings)


# --- checkov -----------------------------------------------------------------------------


# checkov's log line for a check that raised on a resource ("[ERROR]  Failed to run check
# CKV_AWS_70 on /ml-prod/cdk.tf.json:aws_s3_bucket_policy.monitoring"); it then reports neither a
# pass nor a failure for it.
CHECK_NOT_RUN = re.compile(r"Failed to run check (\S+) on (\S+)")


def run_checkov(command: Sequence[str], directory: Path, framework: str) -> list[dict[str, Any]]:
    """Failed checks of one offline checkov run over ``directory`` (each with ``framework``
    added); :class:`GateError` when checkov crashes, cannot parse a file or scans nothing."""
    env = dict(os.environ, BC_SKIP_MAPPING="TRUE", CHECKOV_CREATE_GRAPH="True", LOG_LEVEL="WARNING")
    args = ["-d", str(directory), "--framework", framework, "--skip-download", "--quiet", "--compact", "-o", "json"]
    proc = subprocess.run([*command, *args], capture_output=True, text=True, env=env, timeout=TIMEOUT_S, check=False)
    if proc.returncode not in (0, 1):
        tail = " ".join(proc.stderr.strip().splitlines()[-1:]) or "(no output)"
        raise GateError(f"checkov crashed (exit {proc.returncode}) on {framework}: {tail}")
    unrun = sorted(set(CHECK_NOT_RUN.findall(proc.stderr)))
    if unrun:  # checkov logs a check that raised and goes on: that resource was never checked
        listed = ", ".join(f"{check} on {where}" for check, where in unrun)
        raise GateError(f"checkov could not run {listed} (see checkov's log for the exception)")
    try:
        reports = json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        raise GateError(f"checkov printed no JSON report on {framework} ({exc})") from exc
    reports = reports if isinstance(reports, list) else [reports]
    failed: list[dict[str, Any]] = []
    parsed = 0
    for report in reports:
        if "results" not in report:  # checkov's empty report: {"passed": 0, "failed": 0, ...}
            continue
        summary = report["summary"]
        if summary.get("parsing_errors", 0):
            raise GateError(f"checkov could not parse: {sorted(report['results'].get('parsing_errors', []))}")
        parsed += summary["passed"] + summary["failed"]
        failed.extend(dict(c, framework=framework) for c in report["results"]["failed_checks"])
    if not parsed:
        raise GateError(f"checkov ran no {framework} checks in {directory} (nothing scanned?)")
    return failed


def skip_for(check: dict[str, Any], skips: Iterable[dict[str, Any]] | None = None) -> dict[str, Any] | None:
    """The entry of the skip list that explains a failed check, if any."""
    for skip in accepted.checkov_skips() if skips is None else skips:
        if (
            skip["id"] == check["check_id"]
            and check["framework"] in skip["frameworks"]
            and any(fnmatch.fnmatchcase(check["resource"], pattern) for pattern in skip["resources"])
        ):
            return skip
    return None


def describe(check: dict[str, Any]) -> str:
    """``CHECK_ID resource file: check name``, the way mlgov reports a checkov failure."""
    return f"{check['check_id']} {check['resource']} {check['file_path']}: {check['check_name']}"


def unexplained(failed: Iterable[dict[str, Any]], skips: Iterable[dict[str, Any]] | None = None) -> list[str]:
    """The failed checks no skip explains, described and sorted."""
    entries = list(accepted.checkov_skips() if skips is None else skips)
    return sorted(describe(c) for c in failed if skip_for(c, entries) is None)


def checkov_trees(generated: Path, work: Path) -> dict[str, Path]:
    """Copies of a generated tree's stacks and bootstrap (as checkov can parse them:
    :func:`checkov_copy`) and product and bootstrap templates under ``work``, by framework, at
    their paths relative to ``generated`` (so checkov's ``file_path`` is
    ``/stacks/<stack>/cdk.tf.json``, ``/bootstrap/...`` or ``/products/...``). A framework with
    nothing to scan is left out."""
    out: dict[str, Path] = {}
    for src in [*sorted((generated / "stacks").glob("*/cdk.tf.json")), *bootstrap_files(generated, "terraform")]:
        target = work / "terraform_json" / src.relative_to(generated)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(checkov_copy(json.loads(src.read_text(encoding="utf-8"))), indent=2))
        out["terraform_json"] = work / "terraform_json"
    for src in [*product_templates(generated), *bootstrap_files(generated, "cloudformation")]:
        target = work / "cloudformation" / src.relative_to(generated)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(src.read_bytes())
        out["cloudformation"] = work / "cloudformation"
    return out


def bootstrap_files(generated: Path, delivery: str) -> list[Path]:
    """The bootstrap's files of one delivery (``terraform``: its stack; ``cloudformation``: its
    templates) in a generated tree (``bootstrap/<delivery>/...``)."""
    pattern = "cdk.tf.json" if delivery == "terraform" else "*.yaml"
    return sorted((generated / "bootstrap" / delivery).glob(pattern))


def product_templates(generated: Path) -> list[Path]:
    """Every product template of a generated tree (``products/<portfolio>/<product>/<version>.yaml``)."""
    return sorted((generated / "products").glob("*/*/*.yaml"))
