"""Run real Terraform against generated stacks, offline.

Where hashicorp/aws comes from (:func:`provider_source`): a local filesystem mirror when there
is one (``$MLGOV_PROVIDER_MIRROR``, else the usual plugin directories); without one, the public
registry, if the machine is online. Whether it is online is ``$MLGOV_PROVIDERS`` (``mirror``:
only a mirror; ``registry``: download; ``auto``, the default: a mirror if found, else the
registry when its host name resolves). Many enterprise CI runners cannot reach the registry:
they keep a mirror (``terraform providers mirror``), and ``init`` installs from it through a
generated CLI config.
The offline plan works on a COPY of a stack plus an override file that switches the backend
to local and gives the provider dummy credentials; the generated file is never modified.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from mlgov.errors import MlgovError

PROVIDER = "registry.terraform.io/hashicorp/aws"
PROVIDER_VERSION = "5.100.0"  # bound by cdktf-cdktf-provider-aws==20.1.0
MIRROR_ENV = "MLGOV_PROVIDER_MIRROR"
SOURCE_ENV = "MLGOV_PROVIDERS"
SOURCES = ("auto", "mirror", "registry")
REGISTRY_HOST = "registry.terraform.io"
OVERRIDE_NAME = "mlgov_offline_override.tf.json"

# Where provider mirrors usually live; searched only when MLGOV_PROVIDER_MIRROR is unset.
_MIRROR_SEARCH_ROOTS = (
    "~/.terraform.d/plugins",
    "~/.local/share/terraform/plugins",
    "/usr/local/share/terraform/plugins",
    "/usr/share/terraform/plugins",
    "/opt",
    "/usr/local/share",
    "/srv",
)


def terraform_binary() -> str:
    """Path of the terraform executable, or a clear error."""
    found = shutil.which(os.environ.get("MLGOV_TERRAFORM", "terraform"))
    if not found:
        raise MlgovError("terraform not found on PATH (install Terraform >= 1.10, or set MLGOV_TERRAFORM)")
    return found


def _is_mirror(root: Path) -> bool:
    return (root / PROVIDER / PROVIDER_VERSION).is_dir() or any(
        (root / PROVIDER).glob(f"terraform-provider-aws_{PROVIDER_VERSION}_*.zip")
    )


def _no_mirror() -> str:
    return (
        f"no local Terraform provider mirror with {PROVIDER} {PROVIDER_VERSION} found; "
        f"set {MIRROR_ENV} to a directory laid out as registry.terraform.io/hashicorp/aws/{PROVIDER_VERSION}/<os_arch>/"
    )


def _search_mirror() -> Path | None:
    """A mirror under the usual plugin directories (a few levels deep), or None."""
    for base in _MIRROR_SEARCH_ROOTS:
        base_path = Path(base).expanduser()
        if not base_path.is_dir():
            continue
        for walked, dirs, _files in os.walk(base_path):
            depth = Path(walked).relative_to(base_path).parts
            if len(depth) >= 4:
                dirs[:] = []
                continue
            if "registry.terraform.io" in dirs and _is_mirror(Path(walked)):
                return Path(walked)
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in {"node_modules", "site-packages"})
    return None


def registry_reachable(host: str = REGISTRY_HOST) -> bool:
    """Whether ``host`` resolves (the one network probe of ``auto``; nothing is downloaded)."""
    try:
        socket.getaddrinfo(host, 443, proto=socket.IPPROTO_TCP)
    except OSError:
        return False
    return True


def provider_source(
    choice: str | None = None,
    *,
    online: Callable[[], bool] | None = None,
    search: Callable[[], Path | None] | None = None,
) -> Path | None:
    """The mirror ``init`` installs hashicorp/aws from, or None for the public registry.

    ``choice`` (default ``$MLGOV_PROVIDERS``, else ``auto``): ``mirror`` needs a mirror;
    ``registry`` never uses one; ``auto`` takes a mirror when there is one, else the registry
    when ``online()`` (``search`` and ``online`` are the probes; tests pass their own). Raises
    :class:`MlgovError` with one line when there is no way to get the provider.
    """
    choice = (choice or os.environ.get(SOURCE_ENV) or "auto").lower()
    if choice not in SOURCES:
        raise MlgovError(
            f"{SOURCE_ENV}: unknown provider source (got {choice!r}, expected one of {', '.join(SOURCES)})"
        )
    if choice == "registry":
        return None
    explicit = os.environ.get(MIRROR_ENV)
    found = find_mirror() if explicit else (search or _search_mirror)()
    if found is not None:
        return found
    if choice == "mirror":
        raise MlgovError(_no_mirror())
    if (online or registry_reachable)():
        return None
    raise MlgovError(f"offline ({REGISTRY_HOST} does not resolve) and {_no_mirror()}")


@lru_cache(maxsize=1)
def find_mirror() -> Path:
    """The filesystem mirror holding hashicorp/aws at the pinned version.

    ``$MLGOV_PROVIDER_MIRROR`` wins; otherwise common plugin directories are searched a few
    levels deep for ``registry.terraform.io/hashicorp/aws/<version>``.
    """
    explicit = os.environ.get(MIRROR_ENV)
    if explicit:
        root = Path(explicit).expanduser()
        if not _is_mirror(root):
            raise MlgovError(f"{MIRROR_ENV}={explicit} holds no {PROVIDER} {PROVIDER_VERSION}")
        return root
    found = _search_mirror()
    if found is None:
        raise MlgovError(_no_mirror())
    return found


_FIND = object()


def write_cli_config(directory: Path, plugin_cache: Path | None = None, mirror: Path | object | None = _FIND) -> Path:
    """A Terraform CLI config: with a ``mirror`` (default: :func:`find_mirror`), hashicorp/aws
    is installed from it and nothing from the network; with ``mirror=None`` (no mirror, online:
    :func:`provider_source`), Terraform's own installation from the registry, into the cache."""
    source = find_mirror() if mirror is _FIND else mirror
    lines = []
    if isinstance(source, Path):
        lines = [
            "provider_installation {",
            "  filesystem_mirror {",
            f"    path    = {json.dumps(str(source))}",
            f"    include = [{json.dumps(PROVIDER)}]",
            "  }",
            "  direct {",
            f"    exclude = [{json.dumps(PROVIDER)}]",
            "  }",
            "}",
        ]
    if plugin_cache is not None:
        plugin_cache.mkdir(parents=True, exist_ok=True)
        lines.append(f"plugin_cache_dir = {json.dumps(str(plugin_cache))}")
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "terraformrc"
    path.write_text("\n".join(lines) + "\n")
    return path


def offline_override(region: str, aliases: dict[str, str] | None = None) -> dict:
    """Override that makes a stack plannable with no AWS access and no remote state.

    ``aliases``: {alias: region} of the stack's aliased AWS providers (a dev stack writing its
    parameters into the account's other regions); Terraform merges override provider blocks by
    name and alias, so each gets the same offline settings."""
    providers = [_offline_provider(region)]
    providers += [dict(_offline_provider(r), alias=a) for a, r in sorted((aliases or {}).items())]
    return {
        "terraform": {"backend": {"local": {"path": "terraform.tfstate"}}},
        "provider": {"aws": providers[0] if len(providers) == 1 else providers},
    }


PLAN_ROLE_OVERRIDE_NAME = "mlgov_plan_role_override.tf.json"


def plan_role_override(aliases: dict[str, str] | None = None) -> dict:
    """Override that makes a stack's AWS providers use the credentials the environment holds (the
    account's read-only plan role, docs/ci.md) instead of assuming the stack's Terraform role,
    which the plan role may not assume. ``aliases``: as for :func:`offline_override`."""
    skip = {"role_arn": ""}  # an empty role_arn makes the provider skip the STS AssumeRole call
    providers = [{"assume_role": skip}] + [{"alias": a, "assume_role": skip} for a in sorted(aliases or {})]
    return {"provider": {"aws": providers[0] if len(providers) == 1 else providers}}


def stack_offline_override(stack: dict) -> dict:
    """:func:`offline_override` for a synthesized stack: its first AWS provider's region, and
    each of its aliased providers."""
    return offline_override(stack["provider"]["aws"][0]["region"], stack_aliases(stack))


def stack_aliases(stack: dict) -> dict[str, str]:
    """{alias: region} of a synthesized stack's aliased AWS providers."""
    return {p["alias"]: p["region"] for p in stack.get("provider", {}).get("aws", []) if p.get("alias")}


def _offline_provider(region: str) -> dict:
    return {
        "region": region,
        "access_key": "mlgov-offline",
        "secret_key": "mlgov-offline",
        "skip_credentials_validation": True,
        "skip_requesting_account_id": True,
        "skip_metadata_api_check": True,
        "skip_region_validation": True,
        # With no account id looked up, allowed_account_ids would reject every plan.
        "allowed_account_ids": None,
        # An empty role_arn makes provider 5.100.0 skip the STS AssumeRole call.
        "assume_role": {"role_arn": ""},
    }


@dataclass
class Result:
    """Outcome of one terraform command."""

    command: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


class Workspace:
    """A copy of one generated stack that terraform may scribble in.

    Args:
        stack_dir: ``generated/stacks/<name>`` (read only).
        workdir: empty directory to copy it into.
        cli_config: from :func:`write_cli_config`.
        offline: add the offline override (local backend, dummy credentials).
        plan_role: add the plan role override (:func:`plan_role_override`; a real plan only).
    """

    def __init__(
        self, stack_dir: Path, workdir: Path, cli_config: Path, *, offline: bool = True, plan_role: bool = False
    ) -> None:
        self.stack_dir = stack_dir
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        for item in stack_dir.iterdir():
            if item.is_dir():
                shutil.copytree(item, workdir / item.name, dirs_exist_ok=True)
            else:
                shutil.copy2(item, workdir / item.name)
        if offline:
            override = stack_offline_override(json.loads((stack_dir / "cdk.tf.json").read_text()))
            (workdir / OVERRIDE_NAME).write_text(json.dumps(override, indent=2, sort_keys=True) + "\n")
        elif plan_role:
            stack = json.loads((stack_dir / "cdk.tf.json").read_text())
            override = plan_role_override(stack_aliases(stack))
            (workdir / PLAN_ROLE_OVERRIDE_NAME).write_text(json.dumps(override, indent=2, sort_keys=True) + "\n")
        self.env = dict(os.environ)
        self.env.update(
            TF_CLI_CONFIG_FILE=str(cli_config),
            TF_IN_AUTOMATION="1",
            TF_INPUT="0",
            CHECKPOINT_DISABLE="1",
            AWS_EC2_METADATA_DISABLED="true",
        )
        # Terraform and the AWS provider are Go programs; the provider's garbage collector runs
        # again and again while it builds its schema (every validate, plan and show). A lazier
        # collector costs about 50 MB more and about a sixth less CPU per command (measured:
        # 10.2 s -> 8.4 s for validate + plan + show of one stack). The user's own GOGC wins.
        self.env.setdefault("GOGC", "400")
        for var in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            if offline:
                self.env.pop(var, None)

    def run(self, *args: str, timeout: int = 900) -> Result:
        cmd = [terraform_binary(), *args]
        proc = subprocess.run(cmd, cwd=self.workdir, env=self.env, capture_output=True, text=True, timeout=timeout)
        return Result(cmd, proc.returncode, proc.stdout, proc.stderr)

    def init(self) -> Result:
        return self.run(
            "init",
            "-input=false",
            "-no-color",
            "-lockfile=readonly" if (self.workdir / ".terraform.lock.hcl").exists() else "-upgrade=false",
        )

    def validate(self) -> Result:
        return self.run("validate", "-no-color", "-json")

    def plan(
        self, plan_file: str = "plan.tfplan", *, destroy: bool = False, refresh: bool = False, detailed: bool = False
    ) -> Result:
        """``destroy``: plan the removal of everything in the state (a stack that left the spec).

        ``refresh``: read every resource in the state from AWS first, so changes made outside
        Terraform show as changes (drift detection); without it the configuration is compared with
        the state as recorded. ``detailed``: terraform's ``-detailed-exitcode`` (0 no changes, 1
        error, 2 changes present)."""
        extra: tuple[str, ...] = ("-destroy",) if destroy else ()
        extra += () if refresh else ("-refresh=false",)
        extra += ("-detailed-exitcode",) if detailed else ()
        return self.run("plan", "-input=false", "-no-color", "-lock=false", *extra, f"-out={plan_file}")

    def show_json(self, plan_file: str = "plan.tfplan") -> Result:
        return self.run("show", "-json", plan_file)
