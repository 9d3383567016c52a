"""Typed model of an RFC 4575 conference-info document.

Every complex type of the schema (RFC 4575 section 5, reused by XEP-0298) has a class here. The model is
immutable: `merge` and `diff` build new objects and share the unchanged ones, which is what makes a change
cost follow the size of the change rather than the size of the room.

Keyed children are held in dicts keyed by their RFC 4575 key, in document order:
users and endpoints by `entity`, media by `id`, available-media entries by `label`, URI entries by `uri`,
sidebars-by-val entries by `entity`. A child without its key attribute is keyed by the empty string.

Elements and attributes of other namespaces (extensions) are kept in order: `extensions` holds each foreign
element as a self-contained XML fragment (only on the types whose schema admits them, `Extensible`),
`other_attributes` the foreign attributes in Clark notation (`{namespace}name`).

Models built in code are validated by pydantic as usual. The parser, whose input the RFC 4575 schema has
already validated, builds them with `build_trusted` instead (validating twice would double the cost of every
document); a test checks that both ways give equal models for every class.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from functools import cache
from typing import Annotated, Any, TypeVar

from lxml import etree
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticUndefined

from gateway.errors import VersionOverflowError

NAMESPACE = "urn:ietf:params:xml:ns:conference-info"
MIME_TYPE = "application/conference-info+xml"
MAX_VERSION = 2**32 - 1


def check_version(version: int) -> int:
    """`version` if it is one RFC 4575 can carry (0..2^32-1, xs:unsignedInt): VersionOverflowError above,
    ValueError below. Every document made or written outside pydantic's validation goes through here."""
    if version > MAX_VERSION:
        raise VersionOverflowError(f"version {version} is beyond the last 32-bit version, {MAX_VERSION}")
    if version < 0:
        raise ValueError(f"version {version} is negative")
    return version


def next_version(version: int | None) -> int:
    """The version that follows `version` (1 when there is none yet). RFC 4575 versions are 32-bit unsigned
    and do not wrap: past 2^32-1 this raises VersionOverflowError (the subscription or session must start
    again, at 1)."""
    if version is None:
        return 1
    if version >= MAX_VERSION:
        raise VersionOverflowError(f"version {version} is the last 32-bit version: there is no next one")
    return version + 1


class State(StrEnum):
    """The `state` attribute: how a partial document applies to the receiver's copy."""

    FULL = "full"
    PARTIAL = "partial"
    DELETED = "deleted"


class EndpointStatus(StrEnum):
    PENDING = "pending"
    DIALING_OUT = "dialing-out"
    DIALING_IN = "dialing-in"
    ALERTING = "alerting"
    ON_HOLD = "on-hold"
    CONNECTED = "connected"
    MUTED_VIA_FOCUS = "muted-via-focus"
    DISCONNECTING = "disconnecting"
    DISCONNECTED = "disconnected"


class JoiningMethod(StrEnum):
    DIALED_IN = "dialed-in"
    DIALED_OUT = "dialed-out"
    FOCUS_OWNER = "focus-owner"


class DisconnectionMethod(StrEnum):
    DEPARTED = "departed"
    BOOTED = "booted"
    FAILED = "failed"
    BUSY = "busy"


class MediaStatus(StrEnum):
    RECVONLY = "recvonly"
    SENDONLY = "sendonly"
    SENDRECV = "sendrecv"
    INACTIVE = "inactive"


_XML_SPACE = re.compile(r"[ \t\n\r]+")
_LANGUAGE = re.compile(r"[a-zA-Z]{1,8}(-[a-zA-Z0-9]{1,8})*")  # xs:language


def split_list(text: str) -> tuple[str, ...]:
    """The items of an `xs:list` value: separated by XML whitespace (space, tab, CR, LF), not by the other
    characters Python's `str.split` takes for spaces."""
    return tuple(item for item in _XML_SPACE.split(text) if item)


def _split_list(value: Any) -> Any:
    """An `xs:list` arrives as whitespace-separated text."""
    return split_list(value) if isinstance(value, str) else value


def _list_items(value: tuple[str, ...] | None) -> tuple[str, ...] | None:
    """Items of an `xs:list`: none empty and none holding XML whitespace, which would split it in two."""
    for item in value or ():
        if not item or _XML_SPACE.search(item):
            raise ValueError(f"list item {item!r} is empty or holds whitespace")
    return value


def _language_tags(value: tuple[str, ...] | None) -> tuple[str, ...] | None:
    """`languages`: a list of `xs:language` tags (`en`, `pt-BR`)."""
    for item in value or ():
        if not _LANGUAGE.fullmatch(item):
            raise ValueError(f"{item!r} is not a language tag")
    return value


def _keyed(key: str) -> Any:
    """Turn a list of children (dicts from the parser, or models) into a dict by their key.

    Duplicate keys are a document error: dropping one silently would lose a participant.
    """

    def convert(value: Any) -> Any:
        if not isinstance(value, list | tuple):
            return value
        out: dict[str, Any] = {}
        for item in value:
            k = (item.get(key) if isinstance(item, dict) else getattr(item, key)) or ""
            if k in out:
                raise ValueError(f"duplicate {key} {k!r}")
            out[k] = item
        return out

    return BeforeValidator(convert)


def canonical_fragment(el: etree._Element) -> str:
    """An element as a self-contained fragment that declares only the namespaces it uses, those on its root
    in the order of their prefixes (the order in which lxml writes them depends on where they were declared:
    on the element, or on an ancestor, as the serialiser does)."""
    el = copy.deepcopy(el)
    el.tail = None
    etree.cleanup_namespaces(el)
    xml = etree.tostring(el, encoding="unicode")
    head = _ROOT_DECLARATIONS.match(xml)
    if head is None:
        return xml
    declarations = _DECLARATION.findall(head.group(2))
    ordered = sorted(declarations, key=lambda d: d.split("=", 1)[0])
    return xml if ordered == declarations else head.group(1) + "".join(ordered) + xml[head.end() :]


# The namespace declarations lxml writes on an element, first after its name.
_ROOT_DECLARATIONS = re.compile(r'(<[^\s/>]+)((?:\s+xmlns(?::[^\s="]+)?="[^"]*")+)')
_DECLARATION = re.compile(r'\s+xmlns(?::[^\s="]+)?="[^"]*"')


class Extension(BaseModel):
    """A foreign-namespace element, kept as a self-contained XML fragment in canonical form (so that
    equal elements compare equal however they were written)."""

    model_config = ConfigDict(frozen=True)
    xml: str

    @field_validator("xml")
    @classmethod
    def _canonical(cls, xml: str) -> str:
        try:
            if "<!DOCTYPE" in xml:
                raise ValueError("an extension cannot hold a DTD")
            parser = etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True, huge_tree=False)
            el = etree.fromstring(xml.encode("utf-8"), parser)
        except etree.XMLSyntaxError as exc:
            raise ValueError(f"extension is not a well-formed element: {exc.msg}") from None
        if etree.QName(el).namespace in (None, NAMESPACE):
            raise ValueError("an extension is one element of another namespace")
        return canonical_fragment(el)


_CLARK_NAME = re.compile(r"\{[^{}\s]+\}[A-Za-z_][A-Za-z0-9_.-]*")


class Node(BaseModel):
    """Base of every complex type: immutable, with the foreign attributes every type admits."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    other_attributes: Mapping[str, str] = Field(default_factory=dict)

    @field_validator("other_attributes")
    @classmethod
    def _clark_names(cls, attributes: Mapping[str, str]) -> Mapping[str, str]:
        for name in attributes:
            if not _CLARK_NAME.fullmatch(name):
                raise ValueError(f"foreign attribute {name!r} is not a {{namespace}}name")
        return attributes


class Extensible(Node):
    """A complex type whose schema ends with `xs:any namespace="##other"`: it keeps foreign elements."""

    extensions: tuple[Extension, ...] = ()


class Execution(Node):
    """execution-type: `referred`, `joining-info`, `disconnection-info`, `modified`."""

    when: datetime | None = None
    reason: str | None = None
    by: str | None = None


class UriEntry(Extensible):
    """uri-type: one entry of a URI list, keyed by `uri`."""

    uri: str
    display_text: str | None = None
    purpose: str | None = None
    modified: Execution | None = None


class Uris(Node):
    """uris-type: `conf-uris`, `service-uris`, `associated-aors`, host `uris`, `sidebars-by-ref`."""

    state: State = State.FULL
    entries: Annotated[dict[str, UriEntry], _keyed("uri")] = Field(min_length=1)


class AvailableMedium(Extensible):
    """conference-medium-type: an `available-media` entry, keyed by `label`."""

    label: str
    display_text: str | None = None
    type: str
    status: MediaStatus | None = None


class AvailableMedia(Node):
    """conference-media-type."""

    entries: Annotated[dict[str, AvailableMedium], _keyed("label")] = Field(min_length=1)


class ConferenceDescription(Extensible):
    display_text: str | None = None
    subject: str | None = None
    free_text: str | None = None
    keywords: Annotated[tuple[str, ...] | None, BeforeValidator(_split_list), AfterValidator(_list_items)] = (
        None
    )
    conf_uris: Uris | None = None
    service_uris: Uris | None = None
    maximum_user_count: int | None = Field(None, ge=0, le=MAX_VERSION)
    available_media: AvailableMedia | None = None


class HostInfo(Extensible):
    display_text: str | None = None
    web_page: str | None = None
    uris: Uris | None = None


class ConferenceState(Extensible):
    user_count: int | None = Field(None, ge=0, le=MAX_VERSION)
    active: bool | None = None
    locked: bool | None = None


class Roles(Node):
    """user-roles-type."""

    entries: tuple[str, ...] = Field(min_length=1)


class SipDialogId(Extensible):
    display_text: str | None = None
    call_id: str
    from_tag: str
    to_tag: str


class CallInfo(Extensible):
    """call-type: a SIP dialog id, or foreign elements (the schema's xs:choice: not both)."""

    sip: SipDialogId | None = None

    @model_validator(mode="after")
    def _sip_or_extensions(self) -> CallInfo:
        if self.sip is not None and self.extensions:
            raise ValueError("call-info holds either a sip dialog id or foreign elements, not both")
        return self


class Media(Extensible):
    """media-type: one media stream of an endpoint, keyed by `id`. It has no `state`."""

    id: str
    display_text: str | None = None
    type: str | None = None
    label: str | None = None
    src_id: str | None = None
    status: MediaStatus | None = None


class Endpoint(Extensible):
    """endpoint-type, keyed by `entity` within its user."""

    entity: str | None = None
    state: State = State.FULL
    display_text: str | None = None
    referred: Execution | None = None
    status: EndpointStatus | None = None
    joining_method: JoiningMethod | None = None
    joining_info: Execution | None = None
    disconnection_method: DisconnectionMethod | None = None
    disconnection_info: Execution | None = None
    media: Annotated[dict[str, Media], _keyed("id")] = Field(default_factory=dict)
    call_info: CallInfo | None = None


class User(Extensible):
    """user-type, keyed by `entity`."""

    entity: str | None = None
    state: State = State.FULL
    display_text: str | None = None
    associated_aors: Uris | None = None
    roles: Roles | None = None
    languages: Annotated[
        tuple[str, ...] | None, BeforeValidator(_split_list), AfterValidator(_language_tags)
    ] = None
    cascaded_focus: str | None = None
    endpoints: Annotated[dict[str, Endpoint], _keyed("entity")] = Field(default_factory=dict)


# The non-keyed children of a user and an endpoint: what a partial replaces when present (merge) and sends
# when changed (diff).
USER_LEAVES = ("display_text", "roles", "languages", "cascaded_focus")
ENDPOINT_LEAVES = (
    "display_text",
    "referred",
    "status",
    "joining_method",
    "joining_info",
    "disconnection_method",
    "disconnection_info",
    "call_info",
)


class Users(Extensible):
    state: State = State.FULL
    users: Annotated[dict[str, User], _keyed("entity")] = Field(default_factory=dict)


class SidebarsByVal(Node):
    state: State = State.FULL
    entries: Annotated[dict[str, ConferenceInfo], _keyed("entity")] = Field(default_factory=dict)


class ConferenceInfo(Extensible):
    """conference-type: the document root, and each `sidebars-by-val` entry.

    `sid` is Jitsi's session id attribute on the root (not in the schema; kept apart so it validates).
    """

    entity: str
    state: State = State.FULL
    version: int | None = Field(None, ge=0, le=MAX_VERSION)
    sid: str | None = None
    conference_description: ConferenceDescription | None = None
    host_info: HostInfo | None = None
    conference_state: ConferenceState | None = None
    users: Users | None = None
    sidebars_by_ref: Uris | None = None
    sidebars_by_val: SidebarsByVal | None = None
    # Where this state came from (see gateway.lineage); not part of the value, never compared.
    _lineage: Any = PrivateAttr(default=None)

    def user_map(self) -> Mapping[str, User]:
        """The users by entity (empty when the document has no `users`)."""
        return self.users.users if self.users is not None else {}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ConferenceInfo):
            return NotImplemented
        return self.__dict__ == other.__dict__

    __hash__ = None  # type: ignore[assignment]


SidebarsByVal.model_rebuild()


N = TypeVar("N", bound=BaseModel)


@cache
def field_defaults(cls: type[BaseModel]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    fields = {name: f.get_default(call_default_factory=True) for name, f in cls.model_fields.items()}
    private = dict.fromkeys(cls.__private_attributes__) or None
    return {k: v for k, v in fields.items() if v is not PydanticUndefined}, private


# Slot setters of pydantic's BaseModel: the four assignments `BaseModel.model_construct` makes, called
# directly (`object.__setattr__` looks each one up again on every call).
_new = object.__new__
_set_dict = BaseModel.__dict__["__dict__"].__set__
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


def construct(
    cls: type[N], fields: dict[str, Any], fields_set: set[str], private: dict[str, Any] | None
) -> N:
    """A model with exactly these field values (every field), fields-set and private attributes (copied),
    not validated: what `model_construct` does, without its generic work."""
    model = _new(cls)
    _set_dict(model, fields)
    _set_fields_set(model, fields_set)
    _set_extra(model, None)
    _set_private(model, None if private is None else dict(private))
    return model


def build_trusted(cls: type[N], values: dict[str, Any]) -> N:
    """Make a model from values that are already valid, without validating them again.

    Only for the parser, after schema validation, with values of the fields' own types. Shares the
    (immutable) default values between instances.
    """
    defaults, private = field_defaults(cls)
    return construct(cls, {**defaults, **values}, set(values), private)


def replace(model: N, updates: dict[str, Any]) -> N:
    """A copy of `model` with some fields replaced by values that are already valid (what
    `model_copy(update=...)` does, without its generic copying: it runs for every node translated)."""
    if not updates:
        return model
    return construct(
        type(model),
        {**model.__dict__, **updates},
        model.__pydantic_fields_set__ | updates.keys(),
        model.__pydantic_private__,
    )
