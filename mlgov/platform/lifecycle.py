"""The account lifecycle as facts: which accounts mlgov creates, adopts and retires, and how
the management stack refers to an account whose id is not known yet (docs/day-zero.md).

An account with an ``email`` is mlgov's: the management stack holds it as
``aws_organizations_account.<key>`` (method ``organizations``) or as a provisioned Control Tower
Account Factory product ``aws_servicecatalog_provisioned_product.account_<key>`` (method
``control_tower``). Without an ``id`` it is *pending*: the management stack creates it and, inside
that stack only, names its id by a Terraform reference; no other stack is built for it, and no
other stack may need it (:mod:`mlgov.validation.lifecycle` says which step to run). With an id
that mlgov did not create, an ``import`` block adopts it on the first plan (a no-op once it is
in the state, so the block stays after ``discover --write`` filled in a vended account's id).
"""

from __future__ import annotations

from dataclasses import dataclass

from mlgov.platform import naming
from mlgov.spec.model import OrgSpec

ACCOUNT_TYPE = "aws_organizations_account"
FACTORY_TYPE = "aws_servicecatalog_provisioned_product"
# The Account Factory product's output that carries the new account's id.
FACTORY_ACCOUNT_ID_OUTPUT = "AccountId"
# The management stack's output with every owned account's id ({key: id}); `discover --from-state` reads it.
ACCOUNT_IDS_OUTPUT = "account_ids"


def owned_accounts(spec: OrgSpec) -> list[str]:
    """Keys of the accounts whose lifecycle mlgov owns (they carry an ``email``), sorted."""
    return sorted(k for k, a in spec.accounts.items() if a.email is not None)


def control_tower(spec: OrgSpec) -> bool:
    """Whether accounts are vended through Control Tower's Account Factory."""
    return spec.management.vending.method == "control_tower"


def account_address(spec: OrgSpec, key: str) -> str:
    """Terraform address of an owned account (the account itself, or its Account Factory product)."""
    if control_tower(spec):
        return f"{FACTORY_TYPE}.{naming.construct_id('account', key)}"
    return f"{ACCOUNT_TYPE}.{naming.construct_id(key)}"


def account_id_expression(spec: OrgSpec, key: str) -> str:
    """The Terraform expression (without ``${}``) of an owned account's id in the management stack."""
    address = account_address(spec, key)
    if control_tower(spec):
        return f'one([for o in {address}.outputs : o.value if o.key == "{FACTORY_ACCOUNT_ID_OUTPUT}"])'
    return f"{address}.id"


def account_id(spec: OrgSpec, key: str) -> str:
    """An account's id as the MANAGEMENT stack may print it: the spec's id, or for a pending
    account a Terraform reference to the account it creates. Never used by other stacks."""
    account = spec.accounts[key]
    if account.id:
        return account.id
    return "${" + account_id_expression(spec, key) + "}"


def retired_parent(spec: OrgSpec, key: str) -> str | None:
    """OU name a retired account moves to (on_retire: suspend), else None."""
    vending = spec.management.vending
    if spec.accounts[key].retired and vending.on_retire == "suspend":
        return vending.suspended_ou
    return None


def kept_accounts(spec: OrgSpec) -> list[str]:
    """Owned accounts the management stack keeps a resource for: all but those retired with on_retire close
    (their resource leaves the configuration, and the provider closes the account: close_on_deletion)."""
    closing = spec.management.vending.on_retire == "close"
    return [k for k in owned_accounts(spec) if not (closing and spec.accounts[k].retired)]


@dataclass(frozen=True)
class Vended:
    """One account the management stack holds: its key, name, email, OU (name or ``root``), and import id."""

    key: str
    name: str
    email: str
    ou: str
    import_id: str | None


def vended(spec: OrgSpec) -> list[Vended]:
    """The accounts of :func:`kept_accounts`, each where it belongs now."""
    out = []
    for key in kept_accounts(spec):
        account = spec.accounts[key]
        assert account.email is not None
        ou = retired_parent(spec, key) or account.ou
        out.append(Vended(key, key, account.email, ou, account.id or None))
    return out


def account_imports(spec: OrgSpec) -> list[dict[str, str]]:
    """Terraform ``import`` blocks adopting the owned accounts that have an id (method organizations:
    the import id is the account id; Account Factory products are not imported)."""
    if control_tower(spec):
        return []
    return [{"to": account_address(spec, v.key), "id": v.import_id} for v in vended(spec) if v.import_id]


def factory_parameters(spec: OrgSpec, v: Vended, ou_id: str) -> dict[str, str]:
    """The Account Factory product's provisioning parameters for one account (``ou_id``: the OU's
    id or a reference to it; Account Factory names the OU as ``Name (ou-id)``)."""
    factory = spec.management.vending.control_tower
    assert factory is not None
    return {
        "AccountEmail": v.email,
        "AccountName": v.name,
        "ManagedOrganizationalUnit": f"{v.ou} ({ou_id})" if v.ou != "root" else "Root",
        "SSOUserEmail": factory.sso_user_email,
        "SSOUserFirstName": factory.sso_user_first_name,
        "SSOUserLastName": factory.sso_user_last_name,
    }


def ids_from_state(state: dict) -> dict[str, str]:
    """{account key: id} from the management stack's state (``terraform state pull``) or its
    ``terraform show -json`` / ``terraform output -json``: the ``account_ids`` output when it is
    there, else every ``aws_organizations_account`` by name."""
    outputs = state.get("outputs") or state.get("values", {}).get("outputs") or {}
    if ACCOUNT_IDS_OUTPUT in state and isinstance(state[ACCOUNT_IDS_OUTPUT], dict):
        outputs = state  # `terraform output -json`
    found = outputs.get(ACCOUNT_IDS_OUTPUT, {})
    value = found.get("value") if isinstance(found, dict) and "value" in found else found
    ids: dict[str, str] = {}
    if isinstance(value, dict):
        ids.update({str(k): str(v) for k, v in value.items() if isinstance(v, str) and v.isdigit()})
    for resource in state.get("resources", []):  # raw state (v4)
        if resource.get("type") == ACCOUNT_TYPE and resource.get("mode") == "managed":
            for instance in resource.get("instances", []):
                attrs = instance.get("attributes", {})
                if attrs.get("name") and str(attrs.get("id", "")).isdigit():
                    ids.setdefault(attrs["name"], attrs["id"])
    return dict(sorted(ids.items()))
