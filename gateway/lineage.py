"""Where a conference state came from: the record that lets `diff` follow the change, not the room.

`merge` returns a new state that shares every unchanged user with its parent, and notes in a `Derivation`
which user keys it touched. `diff(old, new)` walks `new`'s derivations back to `old`; when it finds `old`
there, only the touched users need comparing, so one join in a room of 1,000 costs the same as in a room
of 10. When `old` is not an ancestor (or the chain was cut), `diff` compares everything.

The parent is held by a weak reference: a state never keeps its ancestors alive.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gateway.conference_info import ConferenceInfo

MAX_DEPTH = 256


@dataclass(frozen=True, slots=True)
class Derivation:
    """`state` was made from `parent()` by changing at most the users in `users`, in the order they were
    changed (None: any user)."""

    parent: weakref.ref[ConferenceInfo]
    users: tuple[str, ...] | None
    previous: Derivation | None
    depth: int


def record(state: ConferenceInfo, parent: ConferenceInfo, users: Iterable[str] | None) -> ConferenceInfo:
    """Note on `state` that it derives from `parent` with changes to `users` only; returns `state`."""
    previous: Derivation | None = parent._lineage
    depth = previous.depth + 1 if previous is not None else 1
    if depth > MAX_DEPTH:
        previous, depth = None, 1
    state._lineage = Derivation(weakref.ref(parent), None if users is None else tuple(users), previous, depth)
    return state


def changed_users(old: ConferenceInfo, new: ConferenceInfo) -> dict[str, None] | None:
    """The user keys that may differ between `old` and its descendant `new`, oldest change first (as an
    ordered set); None when unknown."""
    steps: list[tuple[str, ...]] = []
    derivation: Derivation | None = new._lineage
    while derivation is not None:
        if derivation.users is None:
            return None
        steps.append(derivation.users)
        if derivation.parent() is old:
            return dict.fromkeys(key for step in reversed(steps) for key in step)
        derivation = derivation.previous
    return None
