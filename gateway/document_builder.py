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
from functools import partial
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
    split_list,
)
from gateway.errors import ElementValueError

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


def _unfinished(el: etree._Element) -> Any:
    raise AssertionError("a Spec's builder is set by _finish")


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
    # What builds this type's elements: `build` with this spec, or a dedicated function (see below).
    builder: Callable[[etree._Element], Any] = _unfinished

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
    _text("keywords", split_list),
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
    _text("languages", split_list),
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
    spec.builder = partial(build, spec)
    for child in spec.children.values():
        if child.spec is not None:
            _finish(child.spec, done)


def _at(exc: Exception, child: Any) -> ElementValueError:
    """`exc` located at `child`, unless a builder of an element inside it located it already."""
    return exc if isinstance(exc, ElementValueError) else ElementValueError(str(exc), child)


def build(spec: Spec, el: etree._Element, extra: dict[str, Any] | None = None) -> Any:
    """Build the model for `el` according to `spec`. Raises ValueError for a duplicate key or a value
    Python cannot represent. Written for speed: it runs once per element of every document received."""
    values: dict[str, Any] = {} if extra is None else dict(extra)
    # An element, comment or processing instruction (not always a str tag): the child being read, or this
    # element while its attributes are; an error is located at it.
    child: Any = el
    try:
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
                item = child_spec.builder(child)
                item_key = item.__dict__[key] or ""
                keyed = values.get(name)
                if keyed is None:
                    keyed = values[name] = {}
                elif item_key in keyed:
                    raise ValueError(f"duplicate {tag.removeprefix(_Q)} {key} {item_key!r}")
                keyed[item_key] = item
            elif kind == _NODE:
                values[name] = child_spec.builder(child)
            else:
                values[name] = (*values.get(name, ()), child.text or "")  # roles: a few entries
    except (ValueError, OverflowError) as exc:
        raise _at(exc, child) from None
    if extensions:
        values["extensions"] = tuple(extensions)
    model = _new(spec.model)
    _set_dict(model, {**spec.defaults, **values})
    _set_fields_set(model, set(values))
    _set_extra(model, None)
    private = spec.private
    _set_private(model, None if private is None else dict(private))
    return model


# Dedicated builders for the types every participant repeats (a user, its endpoints, their media, and
# execution info): most of every document, so these skip the table walk of `build` for the children they
# know (tag by tag, most frequent first) and hand it the rest. They give the same models as `build` with
# the same spec (tested against it on generated documents). Like `build`, they are for schema-validated
# input only: they trust that every attribute and child is one the schema allows, where it allows it.
# Like `build`, each ends with the four assignments of `conference_info.construct` written out: calling it
# (interpreted) from these compiled functions, once per model, measured 1.8% more instructions for P1.
_T_DISPLAY_TEXT = _Q + "display-text"
_T_WHEN, _T_REASON, _T_BY = _Q + "when", _Q + "reason", _Q + "by"
_T_TYPE, _T_LABEL, _T_SRC_ID, _T_STATUS = _Q + "type", _Q + "label", _Q + "src-id", _Q + "status"
_T_MEDIA, _T_ENDPOINT = _Q + "media", _Q + "endpoint"
_T_JOINING_METHOD, _T_JOINING_INFO = _Q + "joining-method", _Q + "joining-info"
_media_status = _enum(MediaStatus)
_endpoint_status = _enum(EndpointStatus)
_joining_method = _enum(JoiningMethod)
_EXECUTION_DEFAULTS, _MEDIA_DEFAULTS = EXECUTION.defaults, MEDIA.defaults
_ENDPOINT_DEFAULTS, _USER_DEFAULTS = ENDPOINT.defaults, USER.defaults
# None of the four has private attributes: their `__pydantic_private__` is None.
assert not (EXECUTION.private or MEDIA.private or ENDPOINT.private or USER.private)


class _FieldSets(dict[int, set[str]]):
    """The sets of field names given, by a bit mask of `names`: one set shared by every model given the
    same fields (pydantic copies a model's set before it changes it)."""

    def __init__(self, *names: str) -> None:
        super().__init__()
        self.names = names

    def bit(self, name: str) -> int:
        return 1 << self.names.index(name)

    def __missing__(self, mask: int) -> set[str]:
        fields = self[mask] = {name for bit, name in enumerate(self.names) if mask >> bit & 1}
        return fields


# Bits of the mask for a media element's fields. Media models given the same fields share one set: sound
# because models are frozen and pydantic (model_copy) and `conference_info.replace` make a new set for a copy.
_MEDIA_FIELDS = _FieldSets(
    "id", "other_attributes", "extensions", "type", "label", "src_id", "status", "display_text"
)
_M_ID, _M_FOREIGN, _M_EXTENSIONS, _M_TYPE, _M_LABEL, _M_SRC_ID, _M_STATUS, _M_DISPLAY_TEXT = map(
    _MEDIA_FIELDS.bit, _MEDIA_FIELDS.names
)
_NO_FOREIGN: dict[str, str] = {}  # shared, as the models' own default is


def _foreign(attributes: list[tuple[str, str]]) -> dict[str, str]:
    """The attributes of other namespaces among `attributes` (`el.items()`)."""
    return {name: text for name, text in attributes if name[0] == "{"}


def _attributes(attributes: list[tuple[str, str]]) -> dict[str, Any]:
    """Attributes (`el.items()`) by name, those of other namespaces gathered in `other_attributes`."""
    values: dict[str, Any] = {}
    for name, text in attributes:
        if name[0] == "{":
            foreign = values.get("other_attributes")
            if foreign is None:
                foreign = values["other_attributes"] = {}
            foreign[name] = text
        else:
            values[name] = text
    return values


def _extension(extensions: list[Extension] | None, child: Any) -> list[Extension] | None:
    """`extensions` with the foreign element `child` added (made on the first one); comments skipped."""
    if not isinstance(child.tag, str):  # a comment or processing instruction (from another parser)
        return extensions
    if extensions is None:
        extensions = []
    extensions.append(build_trusted(Extension, {"xml": canonical_fragment(child)}))
    return extensions


def _fill_from_table(spec: Spec, values: dict[str, Any], child: Any) -> bool:
    """Fill the field of a child the dedicated builders leave to `spec`'s table; False if it has none."""
    tag = child.tag
    name = spec.strings.get(tag)  # a comment's tag is a function: no match
    if name is not None:
        values[name] = child.text or ""
        return True
    how = spec.others.get(tag)
    if how is None:
        return False
    if how.kind == _TEXT:
        values[how.name] = how.convert(child.text or "")
    elif how.kind == _NODE:
        values[how.name] = how.spec.builder(child)
    else:
        raise AssertionError(f"{tag} is left to {spec.model.__name__}'s dedicated builder")
    return True


def _execution(el: etree._Element) -> Execution:
    child: Any = el  # where an error is located (see `build`)
    try:
        attributes: list[tuple[str, str]] = el.items()  # type: ignore[assignment]  # str on Python 3
        values = _attributes(attributes) if attributes else {}  # usually none
        for child in el[:]:  # type: ignore[index]
            tag = child.tag
            if tag == _T_WHEN:
                values["when"] = _datetime(child.text or "")
            elif tag == _T_REASON:
                values["reason"] = child.text or ""
            elif tag == _T_BY:
                values["by"] = child.text or ""
    except (ValueError, OverflowError) as exc:
        raise _at(exc, child) from None
    model = _new(Execution)
    _set_dict(model, {**_EXECUTION_DEFAULTS, **values})
    _set_fields_set(model, set(values))
    _set_extra(model, None)
    _set_private(model, None)
    return model


def _media(el: etree._Element) -> Media:
    attributes: list[tuple[str, str]] = el.items()  # type: ignore[assignment]
    if len(attributes) == 1:  # the usual case: only its (required) id
        id_, foreign, given = attributes[0][1], _NO_FOREIGN, _M_ID
    else:
        id_, foreign, given = dict(attributes)["id"], _foreign(attributes), _M_ID | _M_FOREIGN
    display_text = type_ = label = src_id = status = None
    extensions = None
    child: Any  # an element, comment or processing instruction: not always a str tag
    for child in el[:]:  # type: ignore[index]
        tag = child.tag
        if tag == _T_TYPE:
            type_ = child.text or ""
            given |= _M_TYPE
        elif tag == _T_LABEL:
            label = child.text or ""
            given |= _M_LABEL
        elif tag == _T_SRC_ID:
            src_id = child.text or ""
            given |= _M_SRC_ID
        elif tag == _T_STATUS:
            status = _media_status(child.text or "")
            given |= _M_STATUS
        elif tag == _T_DISPLAY_TEXT:
            display_text = child.text or ""
            given |= _M_DISPLAY_TEXT
        else:
            extensions = _extension(extensions, child)
    if extensions:
        given |= _M_EXTENSIONS
    model = _new(Media)
    _set_dict(
        model,
        {
            "other_attributes": foreign,
            "extensions": tuple(extensions) if extensions else (),
            "display_text": display_text,
            "type": type_,
            "label": label,
            "src_id": src_id,
            "status": status,
            "id": id_,
        },
    )
    _set_fields_set(model, _MEDIA_FIELDS[given])
    _set_extra(model, None)
    _set_private(model, None)
    return model


def _endpoint(el: etree._Element) -> Endpoint:
    child: Any = el  # where an error is located (see `build`)
    try:
        values = _attributes(el.items())  # type: ignore[arg-type]
        state = values.get("state")
        if state is not None:
            values["state"] = _state(state)
        extensions = None
        media: dict[str, Media] | None = None
        for child in el[:]:  # type: ignore[index]
            tag = child.tag
            if tag == _T_MEDIA:
                item = _media(child)
                key = item.__dict__["id"]
                if media is None:
                    media = values["media"] = {}
                elif key in media:
                    raise ValueError(f"duplicate media id {key!r}")
                media[key] = item
            elif tag == _T_STATUS:
                values["status"] = _endpoint_status(child.text or "")
            elif tag == _T_JOINING_METHOD:
                values["joining_method"] = _joining_method(child.text or "")
            elif tag == _T_JOINING_INFO:
                values["joining_info"] = _execution(child)
            elif not _fill_from_table(ENDPOINT, values, child):
                extensions = _extension(extensions, child)
    except (ValueError, OverflowError) as exc:
        raise _at(exc, child) from None
    if extensions:
        values["extensions"] = tuple(extensions)
    model = _new(Endpoint)
    _set_dict(model, {**_ENDPOINT_DEFAULTS, **values})
    _set_fields_set(model, set(values))
    _set_extra(model, None)
    _set_private(model, None)
    return model


def _user(el: etree._Element) -> User:
    child: Any = el  # where an error is located (see `build`)
    try:
        values = _attributes(el.items())  # type: ignore[arg-type]
        state = values.get("state")
        if state is not None:
            values["state"] = _state(state)
        extensions = None
        endpoints: dict[str, Endpoint] | None = None
        for child in el[:]:  # type: ignore[index]
            tag = child.tag
            if tag == _T_ENDPOINT:
                item = _endpoint(child)
                key = item.__dict__["entity"] or ""
                if endpoints is None:
                    endpoints = values["endpoints"] = {}
                elif key in endpoints:
                    raise ValueError(f"duplicate endpoint entity {key!r}")
                endpoints[key] = item
            elif tag == _T_DISPLAY_TEXT:
                values["display_text"] = child.text or ""
            elif not _fill_from_table(USER, values, child):
                extensions = _extension(extensions, child)
    except (ValueError, OverflowError) as exc:
        raise _at(exc, child) from None
    if extensions:
        values["extensions"] = tuple(extensions)
    model = _new(User)
    _set_dict(model, {**_USER_DEFAULTS, **values})
    _set_fields_set(model, set(values))
    _set_extra(model, None)
    _set_private(model, None)
    return model


_finish(CONFERENCE, set())
EXECUTION.builder, MEDIA.builder, ENDPOINT.builder, USER.builder = _execution, _media, _endpoint, _user
