"""iam-simulate's decisions for the journey and the gates, each distinct request decided once
per session.

A decision is a function of its request alone (the request carries every policy that takes
part), so a request already decided is answered from memory. The story, its broken copies and
the gates ask the same requests over and over (a broken copy changes one seam; ~95% of its
requests are the default tree's): only the new ones go to the simulator, still in ONE batch
per call.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import fields

from mlgov.review import iam

_DECIDED: dict[str, iam.Decision] = {}
_FIELDS = tuple(f.name for f in fields(iam.Request))


def _key(request: iam.Request) -> str:
    """The request as the simulator receives it (the same JSON means the same request)."""
    return json.dumps([getattr(request, name) for name in _FIELDS], default=iam.json_default)


def simulate(requests: Sequence[iam.Request]) -> list[iam.Decision]:
    """:func:`mlgov.review.iam.simulate`, asking only what this session has not asked yet."""
    keys = [_key(r) for r in requests]
    new: dict[str, iam.Request] = {}
    for key, request in zip(keys, requests, strict=True):
        if key not in _DECIDED:
            new.setdefault(key, request)
    for key, decision in zip(new, iam.simulate(list(new.values())), strict=True):
        _DECIDED[key] = decision
    return [_DECIDED[key] for key in keys]


ADMIN = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def account_admin_request(
    scps: Sequence[Mapping[str, iam.Policy]],
    account_id: str,
    principal: str,
    action: str,
    resource: str,
    context: Mapping[str, str] | None = None,
) -> iam.Request:
    """``principal``, an administrator of ``account_id`` (AdministratorAccess), asks for
    ``action`` on a resource of its own account; only the account's ``scps`` can refuse."""
    return iam.Request(
        principal=principal,
        action=action,
        resource=resource,
        resource_account=account_id,
        identity_policies={"AdministratorAccess": ADMIN},
        scps=scps,
        context={
            "aws:PrincipalArn": principal,
            "aws:PrincipalAccount": account_id,
            "aws:ResourceAccount": account_id,
            **(context or {}),
        },
    )
