"""The smallest document that takes a receiver from one conference state to another.

`diff(old, new)` returns a `partial` document such that `merge(old, diff(old, new))` equals `new` (apart from
the version, which is `old.version + 1` unless given), a `full` document where that is no larger or where
a partial cannot express the change, or None when the states are equal. Where at least half as many users
changed as `new` holds (say every user left), both are serialised and the smaller is sent: that costs in
proportion to the change. Below that the partial is sent: it names fewer than half as many users as the full
document holds, and none of them at more length.

A partial goes down to endpoint and media level: a user whose endpoint changed status is sent as a partial
user holding a partial endpoint holding only what changed. What RFC 4575 partials cannot say is sent whole
one level up: a removed leaf (a partial cannot remove an element), a removed medium (media have no state),
removed URI entries, removed available-media entries (merged by label, they have no state), changed
extensions.

`old` and `new` are states as `merge` makes them: every `state` inside them `full`.

When `new` was made from `old` by `merge` (the gateway's case), only the users `merge` touched are
compared (see `gateway.lineage`), so the cost follows the change, not the room.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from gateway.conference_info import (
    ENDPOINT_LEAVES,
    USER_LEAVES,
    ConferenceDescription,
    ConferenceInfo,
    Endpoint,
    Node,
    State,
    Uris,
    User,
    Users,
    check_version,
    next_version,
)
from gateway.document_writer import serialize
from gateway.lineage import changed_users


class _NeedsWhole(Exception):
    """A change that a partial cannot express at this level."""


def diff(
    old: ConferenceInfo | None, new: ConferenceInfo, *, version: int | None = None
) -> ConferenceInfo | None:
    """The document that turns `old` into `new`, or None if they are equal. Its version is `version`, by
    default the one after `old`'s: VersionOverflowError when `old` is at the last one, 2^32-1."""
    if version is None:
        version = next_version(old.version if old is not None else None)
    else:
        check_version(version)
    if old is None:
        return full_document(new, version)
    try:
        partial = _partial(old, new, version)
    except _NeedsWhole:
        return full_document(new, version)
    if partial is None:
        return None
    if partial.users is not None and 2 * len(partial.users.users) >= len(new.user_map()):
        full = full_document(new, version)
        if len(serialize(full)) <= len(serialize(partial)):
            return full
    return partial


def full_document(state: ConferenceInfo, version: int) -> ConferenceInfo:
    """`state` as a full document with the given version (VersionOverflowError beyond 2^32-1)."""
    return state.model_copy(update={"version": check_version(version), "state": State.FULL})


def _partial(old: ConferenceInfo, new: ConferenceInfo, version: int) -> ConferenceInfo | None:
    if (
        old.entity != new.entity
        or old.sid != new.sid
        or old.extensions != new.extensions
        or old.other_attributes != new.other_attributes
    ):
        raise _NeedsWhole
    values: dict[str, Any] = {}
    for name in ("conference_description", "host_info", "conference_state", "sidebars_by_val"):
        before, after = getattr(old, name), getattr(new, name)
        if before is not after and before != after:
            if after is None:
                raise _NeedsWhole
            values[name] = after
    _check_available_media(old.conference_description, new.conference_description)
    refs = _diff_uris(old.sidebars_by_ref, new.sidebars_by_ref)
    if refs is not None:
        values["sidebars_by_ref"] = refs
    users = _diff_users(old, new)
    if users is not None:
        values["users"] = users
    if not values:
        return None
    return ConferenceInfo(entity=new.entity, state=State.PARTIAL, version=version, **values)


def _check_available_media(old: ConferenceDescription | None, new: ConferenceDescription | None) -> None:
    """`merge` keeps the available-media entries a description does not name: removing one needs a full
    document."""
    before = old.available_media if old is not None else None
    after = new.available_media if new is not None else None
    if before is not None and after is not None and not before.entries.keys() <= after.entries.keys():
        raise _NeedsWhole


def _diff_users(old: ConferenceInfo, new: ConferenceInfo) -> Users | None:
    if old.users is new.users:
        return None
    if new.users is None:
        raise _NeedsWhole  # the whole <users> element went away
    if old.users is None:
        return new.users  # a <users> element appears: send it whole
    if old.users is not None and (
        old.users.extensions != new.users.extensions
        or old.users.other_attributes != new.users.other_attributes
    ):
        raise _NeedsWhole
    old_users, new_users = old.user_map(), new.user_map()
    keys = changed_users(old, new)
    candidates = dict.fromkeys([*new_users, *old_users]) if keys is None else keys
    changes = _diff_keyed(old_users, new_users, candidates, _diff_user)
    if changes is None:
        return None
    return Users(state=State.PARTIAL, users=changes)


def _diff_keyed(
    old: Mapping[str, Any], new: Mapping[str, Any], keys: Iterable[str], diff_child: Any
) -> dict[str, Any] | None:
    """Keyed children with a `state` (users, endpoints): deleted, added, or changed."""
    changes: dict[str, Any] = {}
    for key in keys:
        before, after = old.get(key), new.get(key)
        if before is after:
            continue
        if after is None:
            assert before is not None
            if not key:
                raise _NeedsWhole  # a child without a key cannot be deleted by name
            changes[key] = before.model_copy(update=_deleted_values(before))
        elif before is None:
            changes[key] = after
        elif before != after:
            changes[key] = diff_child(before, after)
    return changes or None


def _deleted_values(child: Node) -> dict[str, Any]:
    """A deleted child keeps only its key and state."""
    blank = type(child).model_fields
    return {
        name: (State.DELETED if name == "state" else field.get_default(call_default_factory=True))
        for name, field in blank.items()
        if name not in ("entity",)
    }


def _leaf_changes(before: Node, after: Node, names: Iterable[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in names:
        b, a = getattr(before, name), getattr(after, name)
        if b != a:
            if a is None:
                raise _NeedsWhole
            values[name] = a
    return values


def _diff_user(before: User, after: User) -> User:
    try:
        if before.extensions != after.extensions or before.other_attributes != after.other_attributes:
            raise _NeedsWhole
        values = _leaf_changes(before, after, USER_LEAVES)
        aors = _diff_uris(before.associated_aors, after.associated_aors)
        if aors is not None:
            values["associated_aors"] = aors
        endpoints = _diff_keyed(
            before.endpoints,
            after.endpoints,
            dict.fromkeys([*after.endpoints, *before.endpoints]),
            _diff_endpoint,
        )
        if endpoints is not None:
            values["endpoints"] = endpoints
    except _NeedsWhole:
        return after
    return User(entity=after.entity, state=State.PARTIAL, **values)


def _diff_endpoint(before: Endpoint, after: Endpoint) -> Endpoint:
    try:
        if (
            before.extensions != after.extensions
            or before.other_attributes != after.other_attributes
            or not before.media.keys() <= after.media.keys()
        ):
            raise _NeedsWhole
        values = _leaf_changes(before, after, ENDPOINT_LEAVES)
        media = {k: m for k, m in after.media.items() if before.media.get(k) != m}
        if media:
            values["media"] = media
    except _NeedsWhole:
        return after
    return Endpoint(entity=after.entity, state=State.PARTIAL, **values)


def _diff_uris(before: Uris | None, after: Uris | None) -> Uris | None:
    """A URI list's change: None if equal, a partial list of new or changed entries, or the full list."""
    if before is after or before == after:
        return None
    if after is None:
        raise _NeedsWhole  # an empty list is not valid (uris-type needs an entry): send the parent whole
    if (
        before is None
        or not before.entries.keys() <= after.entries.keys()
        or before.other_attributes != after.other_attributes
    ):
        return after
    entries = {k: e for k, e in after.entries.items() if before.entries.get(k) != e}
    return Uris(state=State.PARTIAL, entries=entries)
