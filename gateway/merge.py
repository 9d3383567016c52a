"""Apply an incoming conference-info document to the local copy (RFC 4575 section 4.6; DESIGN.md section 3).

Rules:
- Versions: the first document must be `full`; a document whose version is not newer than the local one is
  stale (`StaleDocumentError`); a `full` document is otherwise always accepted and replaces the local copy;
  a `partial` whose version skips one or more numbers means updates were lost (`NeedsFullStateError`).
- Keyed children (users and endpoints by entity, media by id, available-media entries by label, URI list
  entries by uri, sidebars-by-val entries by entity): `state="full"` (or no state) replaces or adds the
  child, `partial` merges into it (an unknown key is an inconsistency: `NeedsFullStateError`), `deleted`
  removes it (deleting an unknown key changes nothing). `<media>` and available-media entries have no
  state: each replaces the one with its key or is added; the others stay (only a full document removes
  one).
- Non-keyed elements (`conference-description`, `host-info`, `conference-state`, `display-text`,
  `status`, ...) replace the local ones when present; absent ones stay. Inside a replaced
  `conference-description` or `host-info`, the keyed children still merge with the local ones: a URI list
  with `state="partial"` and the available-media entries.
- Foreign elements of a node replace the local ones when the incoming node has any; foreign attributes are
  updated one by one.
- A root with `state="deleted"` empties the conference (only `entity` and `version` remain). Like a full
  document it is accepted after a version gap (it leaves nothing to have missed), but it must name the
  local conference (`NeedsFullStateError` otherwise, as for a partial).

The result is normalised: every `state` in it is `full`, and it carries no `sid` (Jitsi's session id
names the sender's Jingle session, not the conference; each recipient's own is added when sending). Unchanged children are shared with `local`, and
the result records which users changed (see `gateway.lineage`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from gateway.conference_info import (
    ENDPOINT_LEAVES,
    USER_LEAVES,
    AvailableMedia,
    ConferenceDescription,
    ConferenceInfo,
    Endpoint,
    Extensible,
    HostInfo,
    Node,
    SidebarsByVal,
    State,
    Uris,
    User,
    Users,
)
from gateway.errors import NeedsFullStateError, StaleDocumentError
from gateway.lineage import record

N = TypeVar("N", bound=Node)


class _Inconsistent(Exception):
    """A partial names a child the local copy does not have (raised as NeedsFullStateError)."""


def merge(local: ConferenceInfo | None, incoming: ConferenceInfo) -> ConferenceInfo:
    """The local copy after applying `incoming`. `local` is None before the first document."""
    local_version = local.version if local is not None else None
    if local is not None and _is_stale(local.version, incoming.version):
        raise StaleDocumentError(local_version, incoming.version)
    if incoming.state is State.FULL:
        return _normalised(incoming)
    if local is None:
        raise NeedsFullStateError(
            f"the first document must be full, not {incoming.state}",
            local_version=None,
            incoming_version=incoming.version,
        )
    if incoming.entity != local.entity:
        raise NeedsFullStateError(
            f"{incoming.state} document for {incoming.entity!r}, local state is {local.entity!r}",
            local_version=local_version,
            incoming_version=incoming.version,
        )
    if incoming.state is State.DELETED:
        return ConferenceInfo(entity=local.entity, version=incoming.version)
    if incoming.version is None or local.version is None or incoming.version != local.version + 1:
        raise NeedsFullStateError(
            "version gap: updates were lost", local_version=local_version, incoming_version=incoming.version
        )
    try:
        result, touched = _merge_conference(local, incoming)
    except _Inconsistent as exc:
        raise NeedsFullStateError(
            str(exc), local_version=local_version, incoming_version=incoming.version
        ) from None
    return record(result, local, touched)


def _is_stale(local: int | None, incoming: int | None) -> bool:
    return local is not None and incoming is not None and incoming <= local


def _merge_conference(local: ConferenceInfo, inc: ConferenceInfo) -> tuple[ConferenceInfo, list[str] | None]:
    """Merge a partial conference (the root or a sidebar entry). Returns the touched user keys."""
    values: dict[str, Any] = {"version": inc.version, "state": State.FULL}
    if inc.conference_description is not None:
        values["conference_description"] = _merge_description(
            local.conference_description, inc.conference_description
        )
    if inc.host_info is not None:
        values["host_info"] = _merge_host_info(local.host_info, inc.host_info)
    if inc.conference_state is not None:
        values["conference_state"] = inc.conference_state
    touched: list[str] | None = []
    if inc.users is not None:
        values["users"], touched = _merge_users(local.users, inc.users)
    if inc.sidebars_by_ref is not None:
        values["sidebars_by_ref"] = _merge_uris(local.sidebars_by_ref, inc.sidebars_by_ref)
    if inc.sidebars_by_val is not None:
        values["sidebars_by_val"] = _merge_sidebars(local.sidebars_by_val, inc.sidebars_by_val)
    _merge_extensions(values, local, inc)
    return local.model_copy(update=values), touched


def _merge_extensions(values: dict[str, Any], local: Node, inc: Node) -> None:
    if isinstance(inc, Extensible) and inc.extensions:
        values["extensions"] = inc.extensions
    if inc.other_attributes:
        values["other_attributes"] = {**local.other_attributes, **inc.other_attributes}


def _merge_description(
    local: ConferenceDescription | None, inc: ConferenceDescription
) -> ConferenceDescription:
    if local is None:
        return _normalised_description(inc)
    updates: dict[str, Any] = {}
    if inc.conf_uris is not None and inc.conf_uris.state is not State.FULL:
        updates["conf_uris"] = _merge_uris(local.conf_uris, inc.conf_uris)
    if inc.service_uris is not None and inc.service_uris.state is not State.FULL:
        updates["service_uris"] = _merge_uris(local.service_uris, inc.service_uris)
    media = _merge_available_media(local.available_media, inc.available_media)
    if media is not inc.available_media:
        updates["available_media"] = media
    if not updates:
        return _normalised_description(inc)
    return _normalised_description(inc.model_copy(update=updates))


def _merge_available_media(local: AvailableMedia | None, inc: AvailableMedia | None) -> AvailableMedia | None:
    """Entries keyed by label, without state: each incoming one replaces or adds; the others stay."""
    if local is None or inc is None or local.entries.keys() <= inc.entries.keys():
        return inc
    return inc.model_copy(update={"entries": {**local.entries, **inc.entries}})


def _merge_host_info(local: HostInfo | None, inc: HostInfo) -> HostInfo:
    if inc.uris is None or inc.uris.state is State.FULL:
        return inc
    return inc.model_copy(update={"uris": _merge_uris(local.uris if local else None, inc.uris)})


def _merge_uris(local: Uris | None, inc: Uris | None) -> Uris | None:
    """A URI list: entries keyed by uri; the list's state says how they apply."""
    if inc is None:
        return local
    if inc.state is State.FULL:
        return inc
    if inc.state is State.DELETED:
        return None
    if local is None:
        return inc.model_copy(update={"state": State.FULL})
    entries = {**local.entries, **inc.entries}
    updated = {"entries": entries}
    _merge_extensions(updated, local, inc)
    return local.model_copy(update=updated)


def _merge_users(local: Users | None, inc: Users) -> tuple[Users | None, list[str] | None]:
    if inc.state is State.FULL:
        return _normalised_users(inc), None
    if inc.state is State.DELETED:
        return None, None
    users = dict(local.users) if local is not None else {}
    touched = _merge_keyed(users, inc.users, _merge_user, "user")
    updated: dict[str, Any] = {"users": users, "state": State.FULL}
    if local is None:
        return Users(**updated), touched
    _merge_extensions(updated, local, inc)
    return local.model_copy(update=updated), touched


def _merge_keyed(
    target: dict[str, Any], incoming: Mapping[str, Any], merge_child: Any, what: str
) -> list[str]:
    """Apply keyed children with a `state` to `target` in place; returns the keys touched."""
    for key, child in incoming.items():
        state = child.state
        if state is State.DELETED:
            target.pop(key, None)
        elif state is State.PARTIAL:
            existing = target.get(key)
            if existing is None:
                raise _Inconsistent(f"partial {what} {key!r} is not in the local state")
            target[key] = merge_child(existing, child)
        else:
            target[key] = _normalised_child(child)
    return list(incoming)


def _merge_user(local: User, inc: User) -> User:
    values: dict[str, Any] = {"state": State.FULL}
    for name in USER_LEAVES:
        value = getattr(inc, name)
        if value is not None:
            values[name] = value
    if inc.associated_aors is not None:
        values["associated_aors"] = _merge_uris(local.associated_aors, inc.associated_aors)
    if inc.endpoints:
        endpoints = dict(local.endpoints)
        _merge_keyed(endpoints, inc.endpoints, _merge_endpoint, "endpoint")
        values["endpoints"] = endpoints
    _merge_extensions(values, local, inc)
    return local.model_copy(update=values)


def _merge_endpoint(local: Endpoint, inc: Endpoint) -> Endpoint:
    values: dict[str, Any] = {"state": State.FULL}
    for name in ENDPOINT_LEAVES:
        value = getattr(inc, name)
        if value is not None:
            values[name] = value
    if inc.media:
        values["media"] = {**local.media, **inc.media}
    _merge_extensions(values, local, inc)
    return local.model_copy(update=values)


def _merge_sidebars(local: SidebarsByVal | None, inc: SidebarsByVal) -> SidebarsByVal | None:
    if inc.state is State.FULL:
        return inc.model_copy(update={"entries": {k: _normalised(v) for k, v in inc.entries.items()}})
    if inc.state is State.DELETED:
        return None
    entries = dict(local.entries) if local is not None else {}
    _merge_keyed(entries, inc.entries, lambda old, new: _merge_conference(old, new)[0], "sidebar")
    return SidebarsByVal(
        entries=entries,
        other_attributes={**(local.other_attributes if local else {}), **inc.other_attributes},
    )


# -- normalisation: every state in the local copy is `full` --------------------------------------------


def _normalised_child(child: N) -> N:
    if isinstance(child, User):
        return _normalised_user(child)  # type: ignore[return-value]
    if isinstance(child, ConferenceInfo):
        return _normalised(child)  # type: ignore[return-value]
    if isinstance(child, Endpoint) and child.state is not State.FULL:
        return child.model_copy(update={"state": State.FULL})
    return child


def _normalised_user(user: User) -> User:
    aors = _normalised_uris(user.associated_aors)
    if (
        user.state is State.FULL
        and aors is user.associated_aors
        and all(e.state is State.FULL for e in user.endpoints.values())
    ):
        return user
    endpoints = {k: e if e.state is State.FULL else e.model_copy(update={"state": State.FULL})
                 for k, e in user.endpoints.items()}  # fmt: skip
    updates: dict[str, Any] = {"state": State.FULL, "endpoints": endpoints}
    if aors is not user.associated_aors:
        updates["associated_aors"] = aors
    return user.model_copy(update=updates)


def _normalised_users(users: Users) -> Users:
    normal = {k: _normalised_user(u) for k, u in users.users.items()}
    if users.state is State.FULL and all(normal[k] is u for k, u in users.users.items()):
        return users
    return users.model_copy(update={"state": State.FULL, "users": normal})


def _normalised_uris(uris: Uris | None) -> Uris | None:
    if uris is None or uris.state is State.FULL:
        return uris
    return uris.model_copy(update={"state": State.FULL})


def _normalised_description(d: ConferenceDescription) -> ConferenceDescription:
    conf, service = _normalised_uris(d.conf_uris), _normalised_uris(d.service_uris)
    if conf is d.conf_uris and service is d.service_uris:
        return d
    return d.model_copy(update={"conf_uris": conf, "service_uris": service})


def _normalised(doc: ConferenceInfo) -> ConferenceInfo:
    """A full document as the local copy holds it: every state `full`."""
    updates: dict[str, Any] = {}
    if doc.state is not State.FULL:
        updates["state"] = State.FULL
    if doc.sid is not None:
        updates["sid"] = None  # a sender's Jingle session id says nothing about the conference
    if doc.users is not None:
        users = _normalised_users(doc.users)
        if users is not doc.users:
            updates["users"] = users
    if doc.conference_description is not None:
        description = _normalised_description(doc.conference_description)
        if description is not doc.conference_description:
            updates["conference_description"] = description
    if doc.host_info is not None and doc.host_info.uris is not None:
        uris = _normalised_uris(doc.host_info.uris)
        if uris is not doc.host_info.uris:
            updates["host_info"] = doc.host_info.model_copy(update={"uris": uris})
    for name in ("sidebars_by_ref",):
        uris = _normalised_uris(getattr(doc, name))
        if uris is not getattr(doc, name):
            updates[name] = uris
    if doc.sidebars_by_val is not None:
        sidebars = doc.sidebars_by_val
        entries = {k: _normalised(v) for k, v in sidebars.entries.items()}
        if sidebars.state is not State.FULL or any(entries[k] is not v for k, v in sidebars.entries.items()):
            updates["sidebars_by_val"] = sidebars.model_copy(update={"state": State.FULL, "entries": entries})
    if not updates:
        return doc
    result = doc.model_copy(update=updates)
    result._lineage = None
    return result
