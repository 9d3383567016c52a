"""hypothesis strategies for conference states (every `state` full, as the local copy holds them)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st

from gateway.conference_info import (
    AvailableMedia,
    AvailableMedium,
    CallInfo,
    ConferenceDescription,
    ConferenceInfo,
    ConferenceState,
    DisconnectionMethod,
    Endpoint,
    EndpointStatus,
    Execution,
    Extension,
    HostInfo,
    JoiningMethod,
    Media,
    MediaStatus,
    Roles,
    SidebarsByVal,
    SipDialogId,
    State,
    UriEntry,
    Uris,
    User,
    Users,
)

# Text an XML document can carry, including the characters that need escaping.
text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"), exclude_characters="\ufffe\uffff")
    | st.sampled_from("&<>\"' \t\n\r"),
    max_size=12,
)
short = st.sampled_from(["a", "b", "c", "d"])
uri = st.builds(
    lambda s, n: f"{s}:u{n}@example.com", st.sampled_from(["sip", "xmpp", "tel"]), st.integers(0, 6)
)
when = st.one_of(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)),
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
)
language = st.from_regex(r"[a-z]{2}(-[A-Z]{2})?", fullmatch=True)
extension = st.builds(
    lambda n, t: Extension(xml=f'<x:ext{n} xmlns:x="urn:example:ext">{t}</x:ext{n}>'),
    st.integers(0, 3),
    st.sampled_from(["", "hi", "a&amp;b"]),
)
extensions = st.lists(extension, max_size=2).map(tuple)
foreign = st.dictionaries(st.sampled_from(["{urn:example:ext}a", "{urn:example:ext}b"]), text, max_size=2)


def optional(strategy: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    return st.none() | strategy


execution = st.builds(Execution, when=optional(when), reason=optional(text), by=optional(uri))
uri_entry = st.builds(
    UriEntry, uri=uri, display_text=optional(text), purpose=optional(text), modified=optional(execution)
)
uris = st.lists(uri_entry, min_size=1, max_size=3, unique_by=lambda e: e.uri).map(
    lambda entries: Uris(entries=entries)
)
media = st.builds(
    Media,
    id=st.sampled_from(["1", "2", "3"]),
    display_text=optional(text),
    type=optional(st.sampled_from(["audio", "video"])),
    label=optional(short),
    src_id=optional(st.integers(0, 99).map(str)),
    status=optional(st.sampled_from(MediaStatus)),
    other_attributes=foreign,
)
endpoint = st.builds(
    Endpoint,
    entity=st.sampled_from([None, "sip:e1@h", "sip:e2@h", "xmpp:u@h/r"]),  # None: an endpoint without a key
    display_text=optional(text),
    referred=optional(execution),
    status=optional(st.sampled_from(EndpointStatus)),
    joining_method=optional(st.sampled_from(JoiningMethod)),
    joining_info=optional(execution),
    disconnection_method=optional(st.sampled_from(DisconnectionMethod)),
    disconnection_info=optional(execution),
    media=st.lists(media, max_size=3, unique_by=lambda m: m.id),
    call_info=optional(
        st.builds(CallInfo, sip=st.builds(SipDialogId, call_id=short, from_tag=short, to_tag=short))
    ),
    extensions=extensions,
)
user = st.builds(
    User,
    # None: a user without a key (the schema allows it; it can be added and replaced, not named)
    entity=st.none() | st.builds(lambda n: f"sip:user{n}@example.com", st.integers(0, 9)),
    display_text=optional(text),
    associated_aors=optional(uris),
    roles=optional(st.lists(short, min_size=1, max_size=2).map(lambda r: Roles(entries=tuple(r)))),
    languages=optional(st.lists(language, max_size=2).map(tuple)),
    cascaded_focus=optional(uri),
    endpoints=st.lists(endpoint, max_size=2, unique_by=lambda e: e.entity),
    extensions=extensions,
    other_attributes=foreign,
)
description = st.builds(
    ConferenceDescription,
    display_text=optional(text),
    subject=optional(text),
    keywords=optional(st.lists(st.sampled_from(["x", "y", "z"]), max_size=2).map(tuple)),
    conf_uris=optional(uris),
    maximum_user_count=optional(st.integers(0, 2**32 - 1)),
    available_media=optional(
        st.lists(
            st.builds(AvailableMedium, label=short, type=st.sampled_from(["audio", "video"])),
            min_size=1,
            max_size=2,
            unique_by=lambda m: m.label,
        ).map(lambda entries: AvailableMedia(entries=entries))
    ),
)
conference_state = st.builds(
    ConferenceState,
    user_count=optional(st.integers(0, 2**32 - 1)),
    active=optional(st.booleans()),
    locked=optional(st.booleans()),
)


users = st.builds(
    Users,
    users=st.lists(user, max_size=5, unique_by=lambda u: u.entity),
    extensions=extensions,
    other_attributes=foreign,
)
sidebar = st.builds(
    ConferenceInfo,
    entity=st.sampled_from(["sip:side1@example.com", "sip:side2@example.com"]),
    conference_description=optional(description),
    users=optional(st.builds(Users, users=st.lists(user, max_size=2, unique_by=lambda u: u.entity))),
)
sidebars_by_val = st.lists(sidebar, max_size=2, unique_by=lambda c: c.entity).map(
    lambda entries: SidebarsByVal(entries=entries)
)


def conference(entity: str = "sip:conf@example.com") -> st.SearchStrategy[ConferenceInfo]:
    """A full conference state with the given entity."""
    return st.builds(
        ConferenceInfo,
        entity=st.just(entity),
        version=st.integers(0, 1000),
        conference_description=optional(description),
        host_info=optional(st.builds(HostInfo, display_text=optional(text), uris=optional(uris))),
        conference_state=optional(conference_state),
        users=optional(users),
        sidebars_by_ref=optional(uris),
        sidebars_by_val=optional(sidebars_by_val),
        extensions=extensions,
    )


@st.composite
def mutation(draw: st.DrawFn, state: ConferenceInfo) -> ConferenceInfo:
    """`state` with some users dropped, replaced, tweaked down to endpoint and media level, or added."""
    users = dict(state.user_map())
    for key, old in list(users.items()):
        action = draw(st.sampled_from(["keep", "keep", "drop", "replace", "tweak"]))
        if action == "drop":
            del users[key]
        elif action == "replace":
            users[key] = draw(user).model_copy(update={"entity": old.entity})
        elif action == "tweak":
            endpoints = dict(old.endpoints)
            for ekey, current in list(endpoints.items()):
                media_map = dict(current.media)
                if media_map and draw(st.booleans()):
                    media_map.pop(draw(st.sampled_from(sorted(media_map))))
                if draw(st.booleans()):
                    extra = draw(media)
                    media_map[extra.id] = extra
                endpoints[ekey] = current.model_copy(
                    update={"status": draw(optional(st.sampled_from(EndpointStatus))), "media": media_map}
                )
            if draw(st.booleans()):
                extra_endpoint = draw(endpoint)
                endpoints[extra_endpoint.entity or ""] = extra_endpoint
            users[key] = old.model_copy(
                update={
                    "display_text": draw(optional(text)),
                    "endpoints": endpoints,
                    "associated_aors": draw(optional(uris)),
                }
            )
    for added in draw(st.lists(user, max_size=3)):
        users.setdefault(added.entity or "", added)
    updates: dict[str, object] = {}
    if state.users is not None or users:
        base = state.users or Users()
        updates["users"] = Users(
            users=users, extensions=base.extensions, other_attributes=base.other_attributes
        )
    if draw(st.booleans()):
        updates["conference_state"] = draw(optional(conference_state))
    if draw(st.integers(0, 3)) == 0:  # available-media entries added, changed or removed, among others
        updates["conference_description"] = draw(optional(description))
    if draw(st.integers(0, 3)) == 0:
        updates["sidebars_by_val"] = draw(optional(sidebars_by_val))
    return state.model_copy(update=updates)


@st.composite
def peer_document(draw: st.DrawFn) -> ConferenceInfo:
    """A full document as a peer may send it: some users, endpoints and URI lists inside it marked partial
    (the schema allows it; as a state they are full)."""
    doc = draw(conference())

    def marked(node: Any) -> Any:
        return node.model_copy(update={"state": State.PARTIAL}) if draw(st.booleans()) else node

    def user_marked(u: User) -> User:
        endpoints = {k: marked(e) for k, e in u.endpoints.items()}
        aors = marked(u.associated_aors) if u.associated_aors is not None else None
        return marked(u.model_copy(update={"endpoints": endpoints, "associated_aors": aors}))

    updates: dict[str, Any] = {}
    if doc.users is not None:
        updates["users"] = marked(
            doc.users.model_copy(update={"users": {k: user_marked(u) for k, u in doc.users.users.items()}})
        )
    description = doc.conference_description
    if description is not None and description.conf_uris is not None:
        updates["conference_description"] = description.model_copy(
            update={"conf_uris": marked(description.conf_uris)}
        )
    if doc.host_info is not None and doc.host_info.uris is not None:
        updates["host_info"] = doc.host_info.model_copy(update={"uris": marked(doc.host_info.uris)})
    if doc.sidebars_by_ref is not None:
        updates["sidebars_by_ref"] = marked(doc.sidebars_by_ref)
    return doc.model_copy(update=updates)
