"""The data step of the story: a team reads exactly what the data account shares with it.

Two authorities decide whether a role reads a shared table, and each is asserted with what
decides it:

- IAM (iam-simulate, like every other step): the team's data scientist, lead and SageMaker
  execution role may call ``glue:GetDatabase``/``glue:GetTable`` on the resource link and on the
  target in the data account's catalog, ``lakeformation:GetDataAccess`` and
  ``athena:StartQueryExecution`` in the team's workgroup, and write the workgroup's results;
  another team's data scientist may not read the table's catalog entry. The data account's
  catalog is shared through RAM by Lake Formation (its grant, not a resource policy), so IAM
  decides on the caller's identity policy alone, as for the hub's shared portfolios.
- Lake Formation is not IAM and no simulator decides it: its decision is the grants. Read from
  the generated stacks, a role reads a table only when BOTH exist: a grant in the data stack to
  the team's dev ACCOUNT id on that table (with the grant option; for a column grant exactly
  those columns), and a grant in the dev stack to the ROLE on the same table of the data
  account's catalog (same columns). The tables an LF-tag grant reaches are found by matching its
  expression against the tags the data stack assigns (a database's tags, overridden by a
  table's). Every grant the data stack makes must be one the spec names, to a dev account of a
  team the spec names: nobody else reads anything.
"""

from __future__ import annotations

import re
from typing import Any

from mlgov.platform import data as facts
from mlgov.platform import naming

LF = "aws_lakeformation_permissions"
_REF = re.compile(r"^\$\{([a-z0-9_]+)\.([A-Za-z0-9_-]+)\.([a-z_]+)\}$")


def _value(stack, value: Any) -> Any:
    """A generated argument made concrete: references to literal attributes of the same stack
    (a table's ``name``, its ``database_name``) are followed, the rest goes to the collector."""
    if isinstance(value, str):
        match = _REF.match(value)
        if match:
            rtype, address, attr = match.groups()
            target = stack.resources(rtype).get(address, {})
            if attr in target:
                return _value(stack, target[attr])
        return stack.resolve(value)
    if isinstance(value, list):
        return [_value(stack, v) for v in value]
    if isinstance(value, dict):
        return {k: _value(stack, v) for k, v in value.items() if k != "//"}
    return value


def lf_grants(stack) -> list[dict[str, Any]]:
    """Every Lake Formation grant of a stack, concrete: principal, permissions, and the resource
    as (kind, catalog, database, table, columns) with kind database | table | columns | tags."""
    out = []
    for address, attrs in sorted(stack.resources(LF).items()):
        a = _value(stack, attrs)
        grant = {
            "address": address,
            "principal": a.get("principal"),
            "permissions": sorted(a.get("permissions") or []),
            "grantable": sorted(a.get("permissions_with_grant_option") or []),
        }
        if "table_with_columns" in a:
            t = a["table_with_columns"]
            grant.update(
                kind="columns",
                catalog=t.get("catalog_id", stack.account),
                database=t["database_name"],
                table=t["name"],
                columns=tuple(sorted(t.get("column_names") or ())),
            )
        elif "table" in a:
            t = a["table"]
            grant.update(
                kind="table",
                catalog=t.get("catalog_id", stack.account),
                database=t["database_name"],
                table="*" if t.get("wildcard") else t["name"],
                columns=None,
            )
        elif "database" in a:
            d = a["database"]
            grant.update(kind="database", catalog=d.get("catalog_id", stack.account), database=d["name"], table=None)
        elif "lf_tag_policy" in a:
            expression = tuple(
                (e["key"], tuple(sorted(e["values"]))) for e in sorted(a["lf_tag_policy"]["expression"], key=str)
            )
            grant.update(kind="tags", catalog=stack.account, expression=expression, table=None)
        out.append(grant)
    return out


def assigned_tags(stack) -> dict[tuple[str, str | None], dict[str, str]]:
    """(database, table or None) -> the LF-tags the data stack assigns to it."""
    out: dict[tuple[str, str | None], dict[str, str]] = {}
    for attrs in stack.resources("aws_lakeformation_resource_lf_tags").values():
        a = _value(stack, attrs)
        tags = {t["key"]: t["value"] for t in a.get("lf_tag", [])}
        if "table" in a:
            out[(a["table"]["database_name"], a["table"]["name"])] = tags
        elif "database" in a:
            out[(a["database"]["name"], None)] = tags
    return out


def tables_of(stack) -> list[tuple[str, str]]:
    """(database, table) of every Glue table of a stack."""
    return sorted(
        (_value(stack, t["database_name"]), t["name"]) for t in stack.resources("aws_glue_catalog_table").values()
    )


def readable(stack, grants: list[dict], principal: str, catalog: str) -> dict[tuple[str, str], tuple | None]:
    """(database, table) -> columns (None: all) that ``principal`` holds SELECT on in ``catalog``,
    by named grants and by LF-tag expressions matched against the stack's tag assignments."""
    out: dict[tuple[str, str], tuple | None] = {}
    tags = assigned_tags(stack)

    def add(key, columns):
        if key in out and (out[key] is None or columns is None):
            out[key] = None
        else:
            out[key] = tuple(sorted({*(out.get(key) or ()), *(columns or ())})) if columns else columns

    for g in grants:
        if g["principal"] != principal or g["catalog"] != catalog or "SELECT" not in g["permissions"]:
            continue
        if g["kind"] in ("table", "columns"):
            if g["table"] == "*":
                for d, t in tables_of(stack):
                    if d == g["database"]:
                        add((d, t), None)
            else:
                add((g["database"], g["table"]), g["columns"])
        elif g["kind"] == "tags":
            for d, t in tables_of(stack):
                effective = {**tags.get((d, None), {}), **tags.get((d, t), {})}
                if all(effective.get(k) in values for k, values in g["expression"]):
                    add((d, t), None)
    return out


def add(j, team: str) -> None:
    """The data step of one team (``j`` is a :class:`tests.journey.journey.Journey`)."""
    w, spec = j.w, j.spec
    data_key = naming.data_account(spec)
    dev = spec.teams[team].dev_account
    dev_id = w.account_id(dev)
    dev_stack = w.stack_of(dev)
    region = dev_stack.region
    tag = f"[{team}] data"

    # The parameters the model build reads, written whatever is shared.
    params = w.ssm(dev_stack)
    workgroup_name = naming.athena_workgroup(spec, team)
    workgroups = {a.get("name") for a in dev_stack.resources("aws_athena_workgroup").values()}
    source = params.get(naming.ssm_parameter(spec, "data", "training-source"))
    j.fact(f"{tag}: parameters", workgroup_name in workgroups, f"workgroup {workgroup_name} does not exist in {dev}")
    j.fact(
        f"{tag}: parameters",
        naming.ssm_parameter(spec, "data", "athena-workgroup") in params and source is not None,
        f"{dev} does not write the data parameters",
    )
    for config in (a.get("configuration") or {} for a in dev_stack.resources("aws_athena_workgroup").values()):
        result = config.get("result_configuration") or {}
        j.fact(
            f"{tag}: workgroup",
            config.get("enforce_workgroup_configuration") is True
            and (result.get("encryption_configuration") or {}).get("encryption_option") == "SSE_KMS",
            f"workgroup {workgroup_name} does not enforce SSE-KMS results",
        )
    if data_key is None:
        return
    data_stack = w.stack_of(data_key)
    data_id = w.account_id(data_key)
    lake = lf_grants(data_stack)
    local = lf_grants(dev_stack)
    # Columns as a sorted tuple, as readable() reports them: a grant's column order means nothing.
    expected = {
        (t.database, t.table): tuple(sorted(t.columns)) if t.columns is not None else None
        for t in facts.shared_tables(spec, team)
        if not t.wildcard
    }

    # Nobody outside the named teams: every grant of the lake goes to a granted team's dev account.
    allowed_principals = {w.account_id(spec.teams[t].dev_account) for t in facts.granted_teams(spec)}
    for g in lake:
        j.fact(
            f"{tag}: the lake grants only to named teams",
            g["principal"] in allowed_principals,
            f"grant {g['address']} of the data stack goes to {g['principal']}, not a dev account the spec names",
        )
    account_reads = readable(data_stack, lake, dev_id, data_id)
    j.fact(
        f"{tag}: the lake grants exactly what the spec names",
        account_reads == expected,
        f"the data stack lets account {dev_id} read {account_reads} (expected {expected})",
    )
    for g in lake:
        if g["principal"] == dev_id and g["grantable"] != g["permissions"]:
            j.fact(
                f"{tag}: the lake grants with the grant option",
                False,
                f"grant {g['address']} is not grantable (the dev account cannot pass it to its roles)",
            )

    wg_arn = f"arn:aws:athena:{region}:{dev_id}:workgroup/{workgroup_name}"
    prefix = naming.athena_results_prefix(naming.team_label(spec, team))  # a renamed team keeps its prefix
    results = f"arn:aws:s3:::{naming.bucket_name(spec, dev, region, 'platform')}/{prefix}q1.csv"
    for purpose in facts.READER_ROLES.values():
        role = w.role(dev, naming.team_role(spec, team, purpose))
        who = purpose.replace("-", " ")
        if role is None:
            j.fact(f"{tag}: {who} reads", False, f"role {naming.team_role(spec, team, purpose)} does not exist")
            continue
        role_reads = readable(dev_stack, local, role.arn, data_id)
        both = {k: v for k, v in role_reads.items() if k in account_reads}
        j.fact(
            f"{tag}: {who} reads exactly what was shared (Lake Formation)",
            both == expected and role_reads == both,
            f"{role.arn} may read {role_reads} of the lake's catalog by its account's grants, of which the lake "
            "grants its account "
            f"{both} (expected {expected} from both)",
        )
        step = f"{tag}: {who} queries"
        j.call(step, role, who, "athena:StartQueryExecution", wg_arn, dev_id, scps_of=dev)
        j.call(step, role, who, "s3:PutObject", results, dev_id, scps_of=dev)
        if expected:
            j.call(step, role, who, "lakeformation:GetDataAccess", "*", dev_id, scps_of=dev)
        for (database, table), _columns in sorted(expected.items()):
            link = naming.resource_link(database)
            step = f"{tag}: {who} reads {database}.{table}"
            for arn in (
                f"arn:aws:glue:{region}:{dev_id}:database/{link}",
                f"arn:aws:glue:{region}:{data_id}:database/{database}",
            ):
                j.call(step, role, who, "glue:GetDatabase", arn, dev_id, scps_of=dev)
            for arn in (
                f"arn:aws:glue:{region}:{dev_id}:table/{link}/{table}",
                f"arn:aws:glue:{region}:{data_id}:table/{database}/{table}",
            ):
                # The lake's catalog reaches the dev account as a RAM share (Lake Formation's
                # grant): IAM decides on the identity policy, as for a same-account call.
                j.call(step, role, who, "glue:GetTable", arn, dev_id, scps_of=dev)
            # ... and nothing of the lake that was not shared: a table next to it.
            for other_db, other_table in sorted(set(tables_of(data_stack)) - set(expected)):
                if other_db == database:
                    j.call(
                        f"{tag}: {who} cannot read {other_db}.{other_table}",
                        role,
                        who,
                        "glue:GetTable",
                        f"arn:aws:glue:{region}:{data_id}:table/{other_db}/{other_table}",
                        dev_id,
                        scps_of=dev,
                        allowed=False,
                    )

    # Another team reads none of it: neither IAM nor a Lake Formation grant lets it.
    for other, other_team in sorted(spec.teams.items()):
        if other == team or other_team.dev_account not in spec.accounts:
            continue
        other_dev = other_team.dev_account
        other_id = w.account_id(other_dev)
        theirs = {(t.database, t.table) for t in facts.shared_tables(spec, other)}
        other_ds = w.role(other_dev, naming.team_role(spec, other, "data-scientist"))
        other_stack = w.stack_of(other_dev)
        for database, table in sorted(set(expected) - theirs):
            step = f"{tag}: team {other} cannot read {database}.{table}"
            j.fact(
                step,
                (database, table) not in readable(data_stack, lake, other_id, data_id),
                f"the data stack grants account {other_id} (team {other}) {database}.{table}",
            )
            if other_ds is not None:
                j.fact(
                    step,
                    (database, table) not in readable(other_stack, lf_grants(other_stack), other_ds.arn, data_id),
                    f"{other_dev} grants {other_ds.arn} {database}.{table}",
                )
                j.call(
                    step,
                    other_ds,
                    "their data scientist",
                    "glue:GetTable",
                    f"arn:aws:glue:{region}:{data_id}:table/{database}/{table}",
                    other_id,
                    scps_of=other_dev,
                    allowed=False,
                )

    # Reading data gives no say over models: the data scientist still cannot approve.
    ds = w.role(dev, naming.team_role(spec, team, "data-scientist"))
    for group in spec.teams[team].governance.model_package_groups:
        name = naming.model_package_group(spec, team, group)
        j.call(
            f"{tag}: data scientist still cannot approve",
            ds,
            "data scientist",
            "sagemaker:UpdateModelPackage",
            f"arn:aws:sagemaker:{region}:{dev_id}:model-package/{name}/1",
            dev_id,
            scps_of=dev,
            context={"sagemaker:ModelApprovalStatus": "Approved"},
            allowed=False,
        )
