"""Turn a schema-validated conference-info element tree into the typed model.

This is the hot path of every document the gateway receives, so it is table-driven: each complex type has
a `Spec` that says, for each child element (by Clark name), which field it fills and how. Values are
converted to the fields' types here and the models are made with `build_trusted`, since the schema has
already validated the input.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any, NamedTuple

from lxml import etree

from gateway.conference_info import (
    NAMESPACE,
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
    Node,
    Roles,
    SidebarsByVal,
    SipDialogId,
    State,
    UriEntry,
    Uris,
    User,
    Users,
    _new,
    _set_dict,
    _set_extra,
    _set_fields_set,
    _set_private,
    build_trusted,
    canonical_fragment,
    field_defaults,
)

_Q = "{" + NAMESPACE + "}"


# How a child element is read (plain ints: compared once per element on the hot path).
_STRING = -1  # a string-typed child: its text as it is
_TEXT = 0  # a simple-typed child: convert its text
_NODE = 1  # a complex child: build it with its spec
_KEYED = 2  # a repeated complex child: build it and file it under its key
_TEXT_LIST = 3  # a repeated simple child (roles/entry), collected into a tuple


class Child(NamedTuple):
    name: str
    kind: int
    convert: Callable[[str], Any] = str
    spec: Any = None  # the child's Spec, for _NODE and _KEYED
    key: str = ""


@dataclass(slots=True)
class Spec:
    """How to build one complex type from its element."""

    model: type[Node]
    children: dict[str, Child] = field(default_factory=dict)
    attributes: dict[str, Callable[[str], Any]] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)
    private: dict[str, Any] | None = None
    # Derived from `children` by `_finish` (once every spec is complete): string-typed children by tag, the
    # most common kind, looked up first; then the others.
    strings: dict[str, str] = field(default_factory=dict)
    others: dict[str, Child] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.defaults, self.private = field_defaults(self.model)


def _enum(cls: type[Enum]) -> Callable[[str], Any]:
    return {member.value: member for member in cls}.__getitem__


def _boolean(text: str) -> bool:
    return text.strip() in ("true", "1")


def _datetime(text: str) -> datetime:
    return datetime.fromisoformat(text.strip())


def _integer(text: str) -> int:
    return int(text)


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_state = _enum(State)


def _spec(model: type[Node], *children: tuple[str, Child], **attributes: Callable[[str], Any]) -> Spec:
    return Spec(model, {_Q + tag: child for tag, child in children}, attributes)


def _text(tag: str, convert: Callable[[str], Any] | None = None) -> tuple[str, Child]:
    if convert is None:
        return tag, Child(tag.replace("-", "_"), _STRING)
    return tag, Child(tag.replace("-", "_"), _TEXT, convert)


def _node(tag: str, spec: Spec, name: str | None = None) -> tuple[str, Child]:
    return tag, Child(name or tag.replace("-", "_"), _NODE, spec=spec)


def _keyed(tag: str, name: str, spec: Spec, key: str) -> tuple[str, Child]:
    return tag, Child(name, _KEYED, spec=spec, key=key)


EXECUTION = _spec(Execution, _text("when", _datetime), _text("reason"), _text("by"))
URIS = _spec(
    Uris,
    _keyed(
        "entry",
        "entries",
        _spec(UriEntry, _text("uri"), _text("display-text"), _text("purpose"), _node("modified", EXECUTION)),
        "uri",
    ),
    state=_state,
)
AVAILABLE_MEDIA = _spec(
    AvailableMedia,
    _keyed(
        "entry",
        "entries",
        _spec(
            AvailableMedium,
            _text("display-text"),
            _text("type"),
            _text("status", _enum(MediaStatus)),
            label=str,
        ),
        "label",
    ),
)
DESCRIPTION = _spec(
    ConferenceDescription,
    _text("display-text"),
    _text("subject"),
    _text("free-text"),
    _text("keywords", _words),
    _node("conf-uris", URIS),
    _node("service-uris", URIS),
    _text("maximum-user-count", _integer),
    _node("available-media", AVAILABLE_MEDIA),
)
HOST_INFO = _spec(HostInfo, _text("display-text"), _text("web-page"), _node("uris", URIS))
CONFERENCE_STATE = _spec(
    ConferenceState, _text("user-count", _integer), _text("active", _boolean), _text("locked", _boolean)
)
MEDIA = _spec(
    Media,
    _text("display-text"),
    _text("type"),
    _text("label"),
    _text("src-id"),
    _text("status", _enum(MediaStatus)),
    id=str,
)
CALL_INFO = _spec(
    CallInfo,
    _node(
        "sip",
        _spec(SipDialogId, _text("display-text"), _text("call-id"), _text("from-tag"), _text("to-tag")),
    ),
)
ENDPOINT = _spec(
    Endpoint,
    _text("display-text"),
    _node("referred", EXECUTION),
    _text("status", _enum(EndpointStatus)),
    _text("joining-method", _enum(JoiningMethod)),
    _node("joining-info", EXECUTION),
    _text("disconnection-method", _enum(DisconnectionMethod)),
    _node("disconnection-info", EXECUTION),
    _keyed("media", "media", MEDIA, "id"),
    _node("call-info", CALL_INFO),
    entity=str,
    state=_state,
)
USER = _spec(
    User,
    _text("display-text"),
    _node("associated-aors", URIS),
    ("roles", Child("roles", _NODE, spec=_spec(Roles, ("entry", Child("entries", _TEXT_LIST))))),
    _text("languages", _words),
    _text("cascaded-focus"),
    _keyed("endpoint", "endpoints", ENDPOINT, "entity"),
    entity=str,
    state=_state,
)
USERS = _spec(Users, _keyed("user", "users", USER, "entity"), state=_state)
SIDEBARS_BY_VAL = _spec(SidebarsByVal, state=_state)
CONFERENCE = _spec(
    ConferenceInfo,
    _node("conference-description", DESCRIPTION),
    _node("host-info", HOST_INFO),
    _node("conference-state", CONFERENCE_STATE),
    _node("users", USERS),
    _node("sidebars-by-ref", URIS),
    _node("sidebars-by-val", SIDEBARS_BY_VAL),
    entity=str,
    state=_state,
    version=_integer,
)
SIDEBARS_BY_VAL.children[_Q + "entry"] = Child("entries", _KEYED, spec=CONFERENCE, key="entity")


def _finish(spec: Spec, done: set[int]) -> None:
    """Fill the derived tables of `spec` and of every spec it reaches."""
    if id(spec) in done:
        return
    done.add(id(spec))
    spec.strings = {tag: child.name for tag, child in spec.children.items() if child.kind == _STRING}
    spec.others = {tag: child for tag, child in spec.children.items() if child.kind != _STRING}
    for child in spec.children.values():
        if child.spec is not None:
            _finish(child.spec, done)


_finish(CONFERENCE, set())


def build(spec: Spec, el: etree._Element, extra: dict[str, Any] | None = None) -> Any:
    """Build the model for `el` according to `spec`. Raises ValueError for a duplicate key or a value
    Python cannot represent. Written for speed: it runs once per element of every document received."""
    values: dict[str, Any] = {} if extra is None else dict(extra)
    attributes: list[tuple[str, str]] = el.items()  # type: ignore[assignment]  # str on Python 3
    if attributes:
        converters = spec.attributes
        for name, text in attributes:
            if name[0] == "{":
                foreign = values.get("other_attributes")
                if foreign is None:
                    foreign = values["other_attributes"] = {}
                foreign[name] = text
            else:
                convert = converters[name]
                values[name] = text if convert is str else convert(text)
    strings = spec.strings
    others = spec.others
    extensions: list[Extension] | None = None
    for child in el[:]:  # type: ignore[index]  # (lxml-stubs lack slices) a list: cheaper than an iterator
        tag = child.tag
        field_name = strings.get(tag)  # a comment's tag is a function: no match
        if field_name is not None:
            values[field_name] = child.text or ""
            continue
        how = others.get(tag)
        if how is None:
            if not isinstance(tag, str):
                continue  # a comment or processing instruction (in elements that did not come from our parser)
            if extensions is None:
                extensions = []
            extensions.append(build_trusted(Extension, {"xml": canonical_fragment(child)}))
            continue
        name, kind, convert, child_spec, key = how
        if kind == _TEXT:
            values[name] = convert(child.text or "")
        elif kind == _KEYED:
            item = build(child_spec, child)
            item_key = item.__dict__[key] or ""
            keyed = values.get(name)
            if keyed is None:
                keyed = values[name] = {}
            elif item_key in keyed:
                raise ValueError(f"duplicate {tag.removeprefix(_Q)} {key} {item_key!r}")
            keyed[item_key] = item
        elif kind == _NODE:
            values[name] = build(child_spec, child)
        else:
            values[name] = (*values.get(name, ()), child.text or "")  # roles: a few entries
    if extensions:
        values["extensions"] = tuple(extensions)
    model = _new(spec.model)
    _set_dict(model, {**spec.defaults, **values})
    _set_fields_set(model, set(values))
    _set_extra(model, None)
    private = spec.private
    _set_private(model, None if private is None else dict(private))
    return model
