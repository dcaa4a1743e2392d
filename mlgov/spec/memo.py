"""Facts derived from one spec object, computed once per object instead of once per call.

Synthesis and validation ask the same questions of a spec again and again: which account is
the hub, which teams deploy to a stage account, which accounts are monitored. Each answer is
a scan over every team or account, and each is asked once per team or per stack, so a
500-team org paid for them quadratically (validation of a 500-team org spent most of its time
in a few such scans). A spec is frozen, so an answer cannot go stale: :func:`memo` keeps them
per spec object.

The memo is keyed by the object's id and dropped with it (``weakref.finalize`` removes the
entry before the id can be reused), not stored on the object: a spec's copies
(``model_copy``, a team's view in :mod:`mlgov.synth.incremental`, a pickled spec in a synth
worker) must never share the answers of the spec they were copied from, and a frozen pydantic
model's hash and equality would otherwise see the memo. What is memoized must be a pure
function of the spec; callers get values they must not mutate (tuples, frozensets, mappings
nobody writes to) or a copy.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Hashable, Iterable, Mapping
from types import MappingProxyType
from typing import Any, TypeVar

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)

_MEMO: dict[int, dict[Any, Any]] = {}


def memo(spec: object) -> dict[Any, Any]:
    """The memo of ``spec`` (a dict, empty at first), dropped when ``spec`` is."""
    key = id(spec)
    found = _MEMO.get(key)
    if found is None:
        found = _MEMO[key] = {}
        weakref.finalize(spec, _MEMO.pop, key, None)
    return found


def cached(spec: object, key: Any, compute: Callable[[], T]) -> T:
    """``compute()``, computed once per spec object and ``key``."""
    table = memo(spec)
    if key not in table:
        table[key] = compute()
    value: T = table[key]
    return value


def grouped(pairs: Iterable[tuple[K, T]]) -> Mapping[K, tuple[T, ...]]:
    """``(key, value)`` pairs as a read-only mapping of key -> values, both in the order they
    came: the shape of the answers memoized here (nobody may write to them)."""
    groups: dict[K, list[T]] = {}
    for key, value in pairs:
        groups.setdefault(key, []).append(value)
    return MappingProxyType({key: tuple(values) for key, values in groups.items()})
