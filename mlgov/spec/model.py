"""The org spec: the ONLY input of synthesis and rendering.

A pydantic v2 model (``extra="forbid"``, frozen) with a description on every field, so
``mlgov schema`` gives editors completion. :func:`load_spec` reads YAML, validates
types; :func:`mlgov.validation.load_spec` adds the semantic checks; every problem comes back as a
``FILE:LINE: dotted.path: message`` line.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import Field, PrivateAttr, StrictBool, StringConstraints, ValidationError

from mlgov.errors import Problem, SpecError
from mlgov.spec.base import AccountId, Name, OrgId, OuId, Region, RootId, SpecModel, TagKey, TagValue, Text
from mlgov.spec.catalog import ServiceCatalog
from mlgov.spec.cost import TeamBudget, TeamInstanceTypes
from mlgov.spec.data import DataSettings
from mlgov.spec.governance import GovernanceSettings, TeamGovernance
from mlgov.spec.located import Located, dotted, load_yaml
from mlgov.spec.management import ManagementSettings
from mlgov.spec.memo import cached, grouped
from mlgov.spec.network import LayerNetworkDefaults, Network
from mlgov.spec.quotas import QuotaRaises
from mlgov.spec.repositories import SourceConnection


class Layer(str, Enum):
    """What an account is for; decides which stack class builds it."""

    management = "management"
    hub = "hub"
    dev = "dev"
    test = "test"
    prod = "prod"
    data = "data"

    @classmethod
    def _missing_(cls, value: object) -> Layer | None:
        """`shared-services`, the hub layer's earlier name, is still read as `hub` (specs written before the rename)."""
        return cls.hub if value == "shared-services" else None


class OrganizationalUnit(SpecModel):
    """An OU of the organization, referenced by name everywhere else in the spec."""

    id: OuId = Field(description="OU id as AWS shows it, e.g. ou-ab12-3c4d5e6f.")
    parent: Name | None = Field(
        default=None, description="Name of the parent OU in this spec; omit for an OU directly under the root."
    )
    description: Text = Field(default="", description="What the OU holds; used in docs and tags.")


class Organization(SpecModel):
    """The AWS organization the platform lives in."""

    name: Annotated[str, StringConstraints(strict=True, pattern=r"^[a-z][a-z0-9-]{0,14}[a-z0-9]$")] = Field(
        description="Short org slug (2-16 characters of a-z 0-9 -), the prefix of every physical name."
    )
    id: OrgId = Field(description="Organization id, o-....")
    root_id: RootId = Field(description="Organization root id, r-....")
    management_account: Name = Field(description="Key (in `accounts`) of the management account.")
    home_region: Region = Field(description="Region where the platform runs unless an account says otherwise.")
    allowed_regions: list[Region] = Field(
        min_length=1, description="Regions workloads may use; the home region must be one of them."
    )
    tags: dict[TagKey, TagValue] = Field(
        default_factory=dict, description="Tags put on every resource of every stack (provider default_tags)."
    )
    organizational_units: dict[Name, OrganizationalUnit] = Field(
        default_factory=dict, description="OUs by name. Accounts reference them by name; `root` means the root."
    )


class Account(SpecModel):
    """One AWS account and the platform layer it serves."""

    id: AccountId = Field(
        default="",
        description="12-digit account id, QUOTED so YAML keeps leading zeros. Omit it (with `email`) to have mlgov "
        "create the account (management.vending): its stacks wait until `mlgov discover --write` fills it in.",
    )
    email: (
        Annotated[str, StringConstraints(strict=True, pattern=r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")]
        | None
    ) = Field(
        default=None,
        description="Root email of an account mlgov owns the lifecycle of (management.vending): created when "
        "`id` is omitted, adopted (a Terraform import) when `id` is given; closed or suspended when `retired`.",
    )
    retired: StrictBool = Field(
        default=False,
        description="The account is done with: no stacks, nothing may refer to it, and the management stack closes "
        "it or moves it to management.vending.suspended_ou (management.vending.on_retire); see docs/day-zero.md.",
    )
    layer: Layer = Field(
        description=(
            "management | hub (the ML shared services account; `shared-services` is read as `hub`) "
            "| dev | test | prod | data."
        )
    )
    ou: Name = Field(
        description="Name of the OU the account sits in (a key of organization.organizational_units, or `root`)."
    )
    regions: list[Region] | None = Field(
        default=None,
        description="Regions to build this account's layer in; default: the home region. More than one gives one "
        "stack per region. A test or prod account's first region is where its endpoints run, the hub's or another "
        "allowed region (the hub's pipelines deploy there cross-region).",
    )
    description: Text = Field(default="", description="Free text for humans.")
    renamed_from: Name | None = Field(
        default=None,
        description="The account's previous key, when it was renamed: its stacks keep the state of the old key's "
        "stacks (nothing is destroyed); see docs/changing-the-platform.md.",
    )
    network: Network | None = Field(
        default=None,
        description=(
            "The account's VPC (dev, test and prod accounts need one): `cidr` to create it, or "
            "`vpc_id` + `subnet_ids` to adopt an existing one; see docs/network.md."
        ),
    )
    source: SourceConnection | None = Field(
        default=None,
        description=(
            "Dev accounts: the Git provider (CodeConnections connection) the model-build projects' repositories "
            "live in, e.g. {provider: GitHub, owner: northwind}; see docs/day-one.md. Required on every team's dev "
            "account as soon as a live product version uses template model-build-v3 (it builds from a repository)."
        ),
    )


class Stage(SpecModel):
    """One step of a team's deployment path, in order."""

    name: Name = Field(description="Stage name, e.g. test or prod; unique within the team.")
    account: Name = Field(description="Key of the test or prod account the stage deploys to.")
    manual_approval: StrictBool = Field(
        default=False, description="Pause for a manual approval before deploying this stage (required for prod)."
    )


class Team(SpecModel):
    """A data science team (line of business) with its own dev account."""

    dev_account: Name = Field(description="Key of the team's dev account (layer dev, used by no other team).")
    stages: list[Stage] = Field(
        min_length=1, description="Ordered deployment stages, e.g. test then prod with manual approval."
    )
    description: Text = Field(default="", description="What the team does.")
    renamed_from: Name | None = Field(
        default=None,
        description="The team's previous name, when it was renamed: Terraform addresses move to the new name "
        "(`moved` blocks), AWS names keep the old one; see docs/changing-the-platform.md.",
    )
    tags: dict[TagKey, TagValue] = Field(
        default_factory=dict,
        description="Extra tags on every resource mlgov creates for the team (its dev account, its resources in the "
        "hub and stage accounts); a key of the cost tags (environment, finance-owner, business-unit, cost-center) "
        "also sets the value its products launch with. See docs/cost.md.",
    )
    instance_types: TeamInstanceTypes = Field(
        default_factory=TeamInstanceTypes,
        description="SageMaker instance types the team may use beyond its layers' lists "
        "(management.guardrails.sagemaker_instance_types), e.g. {dev: [ml.g5.*]}.",
    )
    budget: TeamBudget | None = Field(
        default=None, description="Monthly budget of the team's dev account, alerts and an optional budget action."
    )
    governance: TeamGovernance = Field(
        default_factory=TeamGovernance, description="Model package groups and per-stage endpoint settings."
    )


class StateBackend(SpecModel):
    """Where Terraform keeps state: one S3 object per stack, locked natively by S3."""

    bucket: Annotated[str, StringConstraints(strict=True, pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")] = Field(
        description="Existing S3 bucket holding every stack's state."
    )
    region: Region = Field(description="Region of the state bucket.")
    key_prefix: Annotated[str, StringConstraints(strict=True, pattern=r"^[a-zA-Z0-9_.-]+(/[a-zA-Z0-9_.-]+)*$")] = Field(
        default="mlgov",
        description="State keys are <key_prefix>/<stack>.tfstate (a renamed account's stacks keep their old names').",
    )


# The drift job's default schedule: daily at 05:23 UTC. Off the top of the hour, where GitHub
# delays or drops scheduled runs under load ("High load times include the start of every hour",
# https://docs.github.com/en/actions/reference/workflows-and-actions/events-that-trigger-workflows#schedule).
DEFAULT_DRIFT_SCHEDULE = "23 5 * * *"


class DriftSettings(SpecModel):
    """The generated pipelines' scheduled drift detection: every stack planned against the live accounts
    (docs/ci.md); changes open or update one issue."""

    enabled: StrictBool = Field(default=True, description="Generate the scheduled drift jobs.")
    schedule: Annotated[str, StringConstraints(strict=True, max_length=100)] = Field(
        default=DEFAULT_DRIFT_SCHEDULE,
        description="When to look, as a cron of five fields in UTC (minute hour day-of-month month day-of-week; "
        "each *, a number, a range a-b, a list a,b or a step */n). GitHub reads it from the workflow; on GitLab "
        "create a pipeline schedule with it (docs/ci.md).",
    )
    environment: Annotated[str, StringConstraints(strict=True, pattern=r"^[A-Za-z0-9_.-]{1,64}$")] = Field(
        default="mlgov-drift",
        description="GitHub: the deployment environment the drift plans run in; the read-only plan role trusts its "
        "tokens (give it no reviewers, and the default branch as its only deployment branch). Unused on GitLab.",
    )


class CiSettings(SpecModel):
    """The CI system whose OIDC tokens may assume the Terraform role and the plan role (the bootstrap's trusts)."""

    provider: Literal["github", "gitlab"] = Field(description="github (GitHub Actions) or gitlab (GitLab CI).")
    repository: Annotated[str, StringConstraints(strict=True, pattern=r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+$")] = Field(
        description="The repository holding this spec and generated/: owner/name on GitHub, the project path on "
        "GitLab (group/subgroup/project). Only its pipelines' tokens are trusted."
    )
    apply_environment: Annotated[str, StringConstraints(strict=True, pattern=r"^[A-Za-z0-9_.-]{1,64}$")] = Field(
        default="mlgov-apply",
        description="GitHub: the deployment environment the apply jobs run in (the generated workflow's); the "
        "Terraform role trusts tokens of that environment only (pull requests plan with the read-only plan role). "
        "GitLab's token cannot name an environment: the Terraform role trusts the project's pipelines of main only "
        "(protect it), the plan role every branch's.",
    )
    issuer: (
        Annotated[str, StringConstraints(strict=True, pattern=r"^[a-z0-9.-]+(:[0-9]+)?(/[A-Za-z0-9._-]+)*$")] | None
    ) = Field(
        default=None,
        description="OIDC issuer host (and path) without https://; default token.actions.githubusercontent.com "
        "(github) or gitlab.com (gitlab); a self-managed GitLab's host name.",
    )
    drift: DriftSettings = Field(
        default_factory=DriftSettings,
        description="Scheduled drift detection in the generated pipelines (on by default; without `terraform.ci` the "
        "defaults apply).",
    )


class TerraformSettings(SpecModel):
    """How Terraform reaches the accounts."""

    state: StateBackend = Field(description="S3 state backend shared by all stacks.")
    role_name: Annotated[str, StringConstraints(strict=True, pattern=r"^[\w+=,.@-]{1,64}$")] = Field(
        default="mlgov-terraform",
        description="Role Terraform assumes in every account (arn:aws:iam::<id>:role/<name>); the bootstrap "
        "(docs/day-zero.md) creates it.",
    )
    ci: CiSettings | None = Field(
        default=None,
        description="The CI system that plans and applies (docs/ci.md); the bootstrap lets its apply tokens assume the "
        "Terraform role and its plan tokens the read-only plan role. Without it only the management account's "
        "Terraform role may.",
    )


def stack_name(account_key: str, region: str, primary_region: str) -> str:
    """Stack (and state) name: the account's spec key in its primary region, ``<key>-<region>``
    in every other region, so adding a region never renames the stack that exists."""
    return account_key if region == primary_region else f"{account_key}-{region}"


TEAM_STACK_INFIX = "-team-"


def team_stack_name(core: str, team: str) -> str:
    """Name (and state name) of team ``team``'s slice of the account stack ``core``:
    ``<core>-team-<team>``. Its own state, so a team's resources never sit in a state that
    grows with the number of teams (docs/architecture.md, "Stacks")."""
    return f"{core}{TEAM_STACK_INFIX}{team}"


class StackRef(NamedTuple):
    """One synthesized stack: a layer of one account in one region, or one team's slice of it.

    ``state`` names the stack's state (``<key_prefix>/<state>.tfstate``): the stack's own name,
    or for a renamed account (or team) the name the stack had under its previous key. ``team``
    is set on a team slice (:func:`team_stack_name`), whose ``core`` is the account stack it
    belongs to (same account and region); a core stack's ``core`` is its own name."""

    name: str
    account: str
    region: str
    layer: Layer
    state: str
    team: str | None = None
    core: str = ""

    @property
    def is_slice(self) -> bool:
        """True for a team's slice of an account stack."""
        return self.team is not None


class OrgSpec(SpecModel):
    """The whole org spec. Everything mlgov generates is a pure function of this."""

    organization: Organization = Field(description="The AWS organization.")
    accounts: dict[Name, Account] = Field(min_length=1, description="Every account the platform touches, by key.")
    teams: dict[Name, Team] = Field(default_factory=dict, description="Data science teams, by name.")
    terraform: TerraformSettings = Field(description="State backend and the role Terraform assumes.")
    management: ManagementSettings = Field(
        default_factory=ManagementSettings,
        description="Management layer: OU ownership, org service access, SCP guardrails.",
    )
    service_catalog: ServiceCatalog | None = Field(
        default=None, description="Portfolios and products the hub shares to the workload OUs."
    )
    governance: GovernanceSettings = Field(
        default_factory=GovernanceSettings, description="Sizing of the hub's model promotion function."
    )
    network_defaults: LayerNetworkDefaults = Field(
        default_factory=LayerNetworkDefaults,
        description="Per layer (dev, test, prod): what an account's `network` takes for the fields it leaves unset.",
    )
    data: DataSettings | None = Field(
        default=None,
        description="The data account's lake (Glue databases, LF-tags, feature store) and what each team may read.",
    )
    quotas: QuotaRaises = Field(
        default_factory=QuotaRaises,
        description="Adjustable AWS quotas the organization has had raised, e.g. {iam_roles_per_account: 5000}; "
        "validate checks every quota against these or AWS's defaults (docs/quotas.md).",
    )

    # The folder of the file the spec was read from (absolute; None for a spec from elsewhere).
    # Not part of the spec's schema: the user's own templates and released copies are looked up
    # relative to it (mlgov.platform.templates); nothing generated ever contains it.
    _home: Path | None = PrivateAttr(default=None)
    _file_name: str | None = PrivateAttr(default=None)

    @property
    def home(self) -> Path | None:
        """The folder of the spec file, which the user's templates and released copies are relative to."""
        return self._home

    @property
    def file_name(self) -> str | None:
        """The spec file's name (generated pipelines pass it to mlgov); None for a spec from elsewhere."""
        return self._file_name

    # -- derived views (pure, cheap) -------------------------------------------------

    def account_regions(self, key: str) -> list[str]:
        """Regions the account's layer is built in, sorted for determinism."""
        regions = self.accounts[key].regions or [self.organization.home_region]
        return sorted(set(regions))

    def primary_region(self, key: str) -> str:
        """The account's home region if it is built there, else the first region it lists: the
        region of its unsuffixed stack and of its governance resources (IAM roles are global)."""
        listed = self.accounts[key].regions or [self.organization.home_region]
        return self.organization.home_region if self.organization.home_region in listed else listed[0]

    def keys_in_layer(self, layer: Layer) -> list[str]:
        """Account keys of one layer, sorted."""
        return list(self._layers().get(layer, ()))

    def _layers(self) -> Mapping[Layer, tuple[str, ...]]:
        """Account keys by layer, sorted (once per spec object: asked for every stack and policy)."""
        return cached(self, "layers", lambda: grouped((self.accounts[k].layer, k) for k in sorted(self.accounts)))

    @property
    def hub(self) -> str:
        """Key of the ML shared services (hub) account."""
        return self._layers().get(Layer.hub, ())[0]

    @property
    def staged_teams(self) -> Mapping[str, tuple[str, ...]]:
        """Account key -> the teams with a stage in it, sorted by key (accounts no stage names
        are absent). Once per spec object: asked per stage account and per team, a scan of every
        team each time made a large org's validation and synthesis quadratic in its teams."""

        return cached(
            self,
            "staged_teams",
            lambda: grouped(
                (account, name)
                for name in sorted(self.teams)
                for account in dict.fromkeys(s.account for s in self.teams[name].stages)
            ),
        )

    @property
    def dev_owners(self) -> Mapping[str, tuple[str, ...]]:
        """Account key -> the teams whose dev account it is, sorted by key (validation allows one;
        accounts no team names are absent). Once per spec object, like :attr:`staged_teams`."""

        return cached(self, "dev_owners", lambda: grouped((self.teams[n].dev_account, n) for n in sorted(self.teams)))

    def terraform_role_arn(self, key: str) -> str:
        """ARN of the role Terraform assumes in an account."""
        return f"arn:aws:iam::{self.accounts[key].id}:role/{self.terraform.role_name}"

    def pending_accounts(self) -> list[str]:
        """Keys of the accounts mlgov is to create that have no id yet (sorted)."""
        return sorted(k for k, a in self.accounts.items() if not a.id)

    def live_accounts(self) -> list[str]:
        """Keys of the accounts that have stacks: an id, and not retired (sorted)."""
        return sorted(k for k, a in self.accounts.items() if a.id and not a.retired)

    def stack_refs(self) -> list[StackRef]:
        """Every stack, ordered by name (the order of the spec never matters).

        Besides one core stack per account and region, every team has its own slice of each
        shared account it uses, in that account's primary region: of the hub (its pipelines,
        roles and image repository) and of each test or prod account it deploys to (its roles,
        topic and alarms). No stack grows with the number of teams. An account without an id yet (being
        created) or retired has none."""
        refs = []
        for key, account in self.accounts.items():
            if not account.id or account.retired:
                continue
            primary = self.primary_region(key)
            state_key = account.renamed_from or key
            for region in self.account_regions(key):
                name, state = stack_name(key, region, primary), stack_name(state_key, region, primary)
                refs.append(StackRef(name, key, region, account.layer, state, None, name))
                if region != primary:
                    continue
                for team in self.slice_teams(key):
                    former = self.teams[team].renamed_from or team
                    refs.append(
                        StackRef(
                            team_stack_name(name, team),
                            key,
                            region,
                            account.layer,
                            team_stack_name(state, former),
                            team,
                            name,
                        )
                    )
        return sorted(refs)

    def slice_teams(self, key: str) -> list[str]:
        """Teams with a slice of account ``key``'s primary-region stack, sorted: every team in
        the hub, the teams with a stage there in a test or prod account, none elsewhere."""
        layer = self.accounts[key].layer
        if layer == Layer.hub:
            return sorted(self.teams) if key == self.hub else []
        if layer in (Layer.test, Layer.prod):
            return list(self.staged_teams.get(key, ()))
        return []


def _pydantic_problems(exc: ValidationError, located: Located) -> list[Problem]:
    problems = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        # pydantic appends the failing key for dict keys as "[key]"; keep the dotted form.
        loc = tuple(p for p in loc if p != "[key]")
        msg = err["msg"]
        kind = err["type"]
        if kind == "extra_forbidden":
            msg = f"unknown field {loc[-1]!r} (not part of the spec schema; see `mlgov schema`)"
        elif kind == "missing":
            msg = "required field is missing"
        elif kind == "string_pattern_mismatch":
            msg = f"invalid value (got {err['input']!r}, expected to match {err['ctx']['pattern']})"
        elif kind == "string_type" and isinstance(err["input"], (int, float)):
            written = located.source.get(loc, str(err["input"]))
            msg = (
                f"expected a quoted string (got {written}, which YAML reads as the number {err['input']!r}; "
                f"write it in quotes: '{written}')"
            )
        elif kind == "string_type":
            msg = f"expected a string (got {_yaml_kind(err['input'])})"
        elif kind == "too_short":
            msg = f"expected at least {err['ctx']['min_length']} item(s) (got {err['ctx']['actual_length']})"
        elif kind == "bool_type":
            msg = f"expected true or false, unquoted (got {err['input']!r})"
        elif kind in ("dict_type", "list_type", "model_type"):
            want = "a list" if kind == "list_type" else "a mapping"
            msg = f"expected {want} (got {_yaml_kind(err['input'])})"
        elif "input" in err and not isinstance(err["input"], (dict, list)):
            msg = f"{msg} (got {err['input']!r})"
        problems.append(Problem(located.file, located.line_of(loc), dotted(loc), msg))
    return problems


def _yaml_kind(value: Any) -> str:
    """How a YAML value reads to a person: "a list", "a mapping" or the scalar itself."""
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "nothing" if value is None else repr(value)


def parse_model(located: Located) -> OrgSpec:
    """Validate parsed YAML into an :class:`OrgSpec` (types and shapes only).

    The semantic checks (references, names, limits) run on top of this in
    :func:`mlgov.validation.parse_spec`.

    Raises:
        SpecError: with one problem per type error.
    """
    if not isinstance(located.data, dict):
        raise SpecError(
            [
                Problem(
                    located.file,
                    located.line_of(()),
                    "",
                    f"expected a mapping at the top level (got {_yaml_kind(located.data)})",
                )
            ]
        )
    try:
        spec = OrgSpec.model_validate(located.data)
    except ValidationError as exc:
        raise SpecError(_pydantic_problems(exc, located)) from None
    source = Path(located.file)
    if source.is_file():
        spec._home = source.resolve().parent
        spec._file_name = source.name
    return spec


def read_spec_file(path: str | Path) -> Located:
    """Read and parse a spec file's YAML (with line numbers). Raises SpecError if it cannot."""
    shown = str(path)
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise SpecError([Problem(shown, None, "", "file not found")]) from None
    except IsADirectoryError:
        raise SpecError([Problem(shown, None, "", "is a directory, expected a YAML file")]) from None
    except OSError as exc:
        raise SpecError([Problem(shown, None, "", f"cannot read file ({exc.strerror})")]) from None
    return load_yaml(raw, shown)


def json_schema() -> dict[str, Any]:
    """JSON Schema of the spec, for editor completion."""
    return OrgSpec.model_json_schema()
