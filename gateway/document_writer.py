"""Serialise the model to conference-info XML: UTF-8, default namespace, schema order, stable output.

Equal models give equal bytes. `state` is always written on the root, `users`, each `user` and `endpoint`
and each URI list (Dino ignores a full document unless every user says `state="full"`). Extensions are
written back where they were, after the schema's own children; foreign attributes get `ns0`, `ns1`, ...
prefixes. Every namespace other than the document's is declared once, on the root (an extension's own
declaration stays on it only where its prefix is bound otherwise), so the output stays the size of what was
parsed however many elements use a namespace. A version outside 0..2^32-1 is refused (ValueError), not
written.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from gateway.conference_info import (
    NAMESPACE,
    ConferenceDescription,
    ConferenceInfo,
    Endpoint,
    EndpointStatus,
    Execution,
    Extensible,
    JoiningMethod,
    Media,
    MediaStatus,
    Node,
    State,
    UriEntry,
    Uris,
    User,
    check_version,
)

_XML_NS = "http://www.w3.org/XML/1998/namespace"
_NOT_XML = "\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff"  # characters XML 1.0 cannot carry at all
_NOT_XML_CHAR = re.compile(f"[{_NOT_XML}]")
Append = Callable[[str], None]
_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\t": "&#9;", "\n": "&#10;", "\r": "&#13;"}
# One search per value finds both what needs escaping and what cannot be written.
_TEXT_SPECIAL = re.compile(f"[&<>\r{_NOT_XML}]").search
_ATTR_SPECIAL = re.compile(f'[&<>"\t\n\r{_NOT_XML}]')


def _escape(s: str, special: re.Pattern[str]) -> str:
    bad = _NOT_XML_CHAR.search(s)
    if bad is not None:
        raise ValueError(f"the document holds a character XML cannot carry: {bad.group()!r}")
    return special.sub(lambda m: _ESCAPES[m.group()], s)


def _text(s: str) -> str:
    """Character data, escaped (every string the writer emits goes through here or `_attr`)."""
    return s if _TEXT_SPECIAL(s) is None else _escape(s, _TEXT_ESCAPED)


def _attr(s: str) -> str:
    """An attribute value (in double quotes), escaped."""
    return s if _ATTR_SPECIAL.search(s) is None else _escape(s, _ATTR_SPECIAL)


_TEXT_ESCAPED = re.compile("[&<>\r]")


_TWO_DIGITS = tuple(f"{n:02d}" for n in range(100))


def _when(value: datetime) -> str:
    if value.tzinfo is UTC:  # the parser's UTC, written as XML Schema's "Z"
        # What isoformat() writes, without its offset, from ready-made digits: 2.5 times as fast as
        # isoformat() or %-formatting (formatting a number is what costs).
        d, year, microsecond = _TWO_DIGITS, value.year, value.microsecond
        text = (
            f"{year if year >= 1000 else f'{year:04d}'}-{d[value.month]}-{d[value.day]}"
            f"T{d[value.hour]}:{d[value.minute]}:{d[value.second]}"
        )
        return f"{text}Z" if not microsecond else f"{text}.{microsecond:06d}Z"
    if value.tzinfo is not None and value.utcoffset() == timedelta(0):
        return value.replace(tzinfo=None).isoformat() + "Z"
    return value.isoformat()


# Enumerated values and `state` attributes, written once here (formatting an enum member is slow).
_STATE = {state: f' state="{state.value}"' for state in State}
_MEDIA_STATUS = {status: f"<status>{status.value}</status>" for status in MediaStatus}
_ENDPOINT_STATUS = {status: f"<status>{status.value}</status>" for status in EndpointStatus}
_JOINING_METHOD = {method: f"<joining-method>{method.value}</joining-method>" for method in JoiningMethod}
# What any value, text or attribute, may need escaped or refused: the hot writers check the values of an
# element together with one search, and escape them one by one only when it finds something.
_SPECIAL = _ATTR_SPECIAL.search


def _plain(s: str) -> bool:
    """Whether `s` can be written as it is, in text or an attribute. A quick test for the usual case: a
    printable string (which has no control characters, tab and newlines included, and neither of the two
    non-characters) without the four characters to escape; anything else is left to `_SPECIAL`, which also
    says yes to some strings this says no to (e.g. with a no-break space)."""
    return s.isprintable() and "&" not in s and "<" not in s and ">" not in s and '"' not in s


def _opt_text(s: str | None) -> str | None:
    return None if s is None else _text(s)


# Each writer below appends one element to `out` (through its bound `append`, `w`), children in schema
# order. They are plain functions with the leaves written inline: this runs for every element sent.


def _open(w: Append, name: str, node: Node, attrs: str = "") -> None:
    if node.other_attributes:
        attrs += _foreign_attributes(node.other_attributes)
    w(f"<{name}{attrs}>")


def _close(w: Append, name: str, node: Extensible) -> None:
    if node.extensions:
        w(_extensions(node))
    w(f"</{name}>")


def _leaf(w: Append, name: str, value: str | None) -> None:
    if value is not None:
        w(f"<{name}>{_text(value)}</{name}>")


def _conference(w: Append, name: str, doc: ConferenceInfo, xmlns: str) -> None:
    attrs = f'{xmlns} entity="{_attr(doc.entity)}" state="{doc.state}"'
    if doc.version is not None:
        # Checked: a model made without validation (model_copy, replace) can hold any int.
        attrs += f' version="{check_version(doc.version)}"'
    if doc.sid is not None:
        attrs += f' sid="{_attr(doc.sid)}"'
    _open(w, name, doc, attrs)
    if doc.conference_description is not None:
        _description(w, doc.conference_description)
    if doc.host_info is not None:
        h = doc.host_info
        _open(w, "host-info", h)
        _leaf(w, "display-text", h.display_text)
        _leaf(w, "web-page", h.web_page)
        if h.uris is not None:
            _uris(w, "uris", h.uris)
        _close(w, "host-info", h)
    if doc.conference_state is not None:
        cs = doc.conference_state
        _open(w, "conference-state", cs)
        if cs.user_count is not None:
            w(f"<user-count>{cs.user_count}</user-count>")
        if cs.active is not None:
            w("<active>true</active>" if cs.active else "<active>false</active>")
        if cs.locked is not None:
            w("<locked>true</locked>" if cs.locked else "<locked>false</locked>")
        _close(w, "conference-state", cs)
    if doc.users is not None:
        users = doc.users
        _open(w, "users", users, _STATE[users.state])
        for user in users.users.values():
            _user(w, user)
        _close(w, "users", users)
    if doc.sidebars_by_ref is not None:
        _uris(w, "sidebars-by-ref", doc.sidebars_by_ref)
    if doc.sidebars_by_val is not None:
        sv = doc.sidebars_by_val
        _open(w, "sidebars-by-val", sv, f' state="{sv.state}"')
        for entry in sv.entries.values():
            _conference(w, "entry", entry, "")
        w("</sidebars-by-val>")
    _close(w, name, doc)


def _description(w: Append, d: ConferenceDescription) -> None:
    _open(w, "conference-description", d)
    _leaf(w, "display-text", d.display_text)
    _leaf(w, "subject", d.subject)
    _leaf(w, "free-text", d.free_text)
    if d.keywords is not None:
        _leaf(w, "keywords", " ".join(d.keywords))
    if d.conf_uris is not None:
        _uris(w, "conf-uris", d.conf_uris)
    if d.service_uris is not None:
        _uris(w, "service-uris", d.service_uris)
    if d.maximum_user_count is not None:
        w(f"<maximum-user-count>{d.maximum_user_count}</maximum-user-count>")
    if d.available_media is not None:
        am = d.available_media
        _open(w, "available-media", am)
        for entry in am.entries.values():
            _open(w, "entry", entry, f' label="{_attr(entry.label)}"')
            _leaf(w, "display-text", entry.display_text)
            _leaf(w, "type", entry.type)
            if entry.status is not None:
                w(f"<status>{entry.status}</status>")
            _close(w, "entry", entry)
        w("</available-media>")
    _close(w, "conference-description", d)


def _uris(w: Append, name: str, uris: Uris) -> None:
    f = uris.__dict__
    foreign, entries = f["other_attributes"], "".join(map(_uri_entry, f["entries"].values()))
    w(f"<{name}{_STATE[f['state']]}{_foreign_attributes(foreign) if foreign else ''}>{entries}</{name}>")


def _uri_entry(entry: UriEntry) -> str:
    f = entry.__dict__
    uri, display, purpose = f["uri"], f["display_text"], f["purpose"]
    values = f"{uri}{display}{purpose}"
    if not _plain(values) and _SPECIAL(values) is not None:  # rare: escape them one by one
        uri, display, purpose = _text(uri), _opt_text(display), _opt_text(purpose)
    foreign, modified, extensions = f["other_attributes"], f["modified"], f["extensions"]
    return (
        f"<entry{_foreign_attributes(foreign) if foreign else ''}><uri>{uri}</uri>"
        f"{'' if display is None else f'<display-text>{display}</display-text>'}"
        f"{'' if purpose is None else f'<purpose>{purpose}</purpose>'}"
        f"{'' if modified is None else _execution_text('modified', modified)}"
        f"{_extensions(entry) if extensions else ''}</entry>"
    )


# The text of associated-aors lists, by identity: models are immutable, and the translation gives users of
# the same address one shared list (the original address it keeps) in every document. Kept with the
# namespaces its foreign attributes use and the prefixes they had, in the order they were asked for: the
# text is reused only when this document gives them the same prefixes (asking registers them on the root,
# as writing it would). A list is kept from its second writing on (the first only notes it: most lists
# are never written twice); lists with extensions (whose declarations depend on the document) never are.
_AORS_TEXT: dict[int, tuple[Uris, tuple[tuple[str, str], ...] | None, str]] = {}
_AORS_KEPT = 4096


def _shared_aors(uris: Uris) -> str:
    known = _AORS_TEXT.get(id(uris))
    seen = known is not None and known[0] is uris
    if known is not None and seen and known[1] is not None:
        prefix = _current.namespaces.prefix
        if all(prefix(namespace) == used for namespace, used in known[1]):
            return known[2]
    out: list[str] = []
    _uris(out.append, "associated-aors", uris)
    text = "".join(out)
    bindings = _prefixes_of(uris) if seen else None
    if len(_AORS_TEXT) >= _AORS_KEPT:
        _AORS_TEXT.clear()
    _AORS_TEXT[id(uris)] = (uris, bindings, text if bindings is not None else "")
    return text


def _prefixes_of(uris: Uris) -> tuple[tuple[str, str], ...] | None:
    """(namespace, prefix) of each foreign attribute of `uris`, in the order the writer asks for them, or
    None when it holds extensions."""
    nodes: list[Node] = []
    for entry in uris.entries.values():
        if entry.extensions:
            return None
        nodes.append(entry)
        if entry.modified is not None:
            nodes.append(entry.modified)
    nodes.append(uris)  # `_uris` writes its entries first
    prefix = _current.namespaces.prefix
    return tuple(
        (namespace, prefix(namespace))
        for node in nodes
        for namespace, _ in _foreign_attribute_parts(tuple(node.other_attributes.items()))
        if namespace != _XML_NS
    )


def _execution(w: Append, name: str, e: Execution) -> None:
    w(_execution_text(name, e))


def _user(w: Append, u: User) -> None:
    f = u.__dict__
    entity, display = f["entity"], f["display_text"]
    values = f"{entity}{display}"
    if not _plain(values) and _SPECIAL(values) is not None:  # rare: escape them one by one
        entity, display = entity and _attr(entity), _opt_text(display)
    foreign = f["other_attributes"]
    attributes = f' entity="{entity}"{_STATE[f["state"]]}' if entity else _STATE[f["state"]]
    w(f"<user{attributes}{_foreign_attributes(foreign) if foreign else ''}>")
    if display is not None:
        w(f"<display-text>{display}</display-text>")
    if f["associated_aors"] is not None:
        w(_shared_aors(f["associated_aors"]))
    if f["roles"] is not None:
        r = f["roles"]
        _open(w, "roles", r)
        for role in r.entries:
            w(f"<entry>{_text(role)}</entry>")
        w("</roles>")
    if f["languages"] is not None:
        _leaf(w, "languages", " ".join(f["languages"]))
    if f["cascaded_focus"] is not None:
        _leaf(w, "cascaded-focus", f["cascaded_focus"])
    if f["endpoints"]:
        for endpoint in f["endpoints"].values():
            _endpoint(w, endpoint)
    if f["extensions"]:
        w(_extensions(u))
    w("</user>")


# Endpoints, media and execution info are most of every document: they are written as one string each,
# with as few calls as possible.


def _opt(name: str, value: str | None) -> str:
    return "" if value is None else f"<{name}>{_text(value)}</{name}>"


def _foreign(node: Node) -> str:
    return _foreign_attributes(node.other_attributes) if node.other_attributes else ""


def _extensions(node: Extensible) -> str:
    if not node.extensions:
        return ""
    bind = _current.namespaces.bind
    out = []
    for ext in node.extensions:
        xml = ext.xml
        name_end, declarations, head_end = (
            _fragment_head(xml) if len(xml) <= _CACHED_FRAGMENT else _fragment_head.__wrapped__(xml)
        )
        kept = [text for prefix, uri, text in declarations if not prefix or not bind(prefix, uri)]
        out.append(xml if len(kept) == len(declarations) else xml[:name_end] + "".join(kept) + xml[head_end:])
    return "".join(out)


# The namespace declarations lxml writes on an extension's root element, first after its name.
_FRAGMENT_HEAD = re.compile(r'(<[^\s/>]+)(?:\s+xmlns(?::[^\s="]+)?="[^"&]*")+')
_DECLARATION = re.compile(r'\s+xmlns(?::([^\s="]+))?="([^"&]*)"')
_CACHED_FRAGMENT = 512  # longer extensions are not kept in the cache (nor alive by it)


@lru_cache(maxsize=4096)
def _fragment_head(xml: str) -> tuple[int, tuple[tuple[str, str, str], ...], int]:
    """Where an extension's root name ends, the namespace declarations on its root as (prefix, URI, text),
    and where they end. The default namespace has the prefix "" (never moved); a declaration whose URI holds
    a character reference is not matched (it stays where it is). Memoised for short extensions: the same
    few recur in every document."""
    match = _FRAGMENT_HEAD.match(xml)
    if match is None:
        return 0, (), 0
    name_end = match.end(1)
    declarations = tuple(
        (m.group(1) or "", m.group(2), m.group()) for m in _DECLARATION.finditer(xml, name_end, match.end())
    )
    return name_end, declarations, match.end()


class _Namespaces:
    """The foreign namespaces of the document being written, all declared on its root."""

    __slots__ = ("by_prefix", "by_uri")

    def __init__(self) -> None:
        self.by_prefix: dict[str, str] = {}
        self.by_uri: dict[str, str] = {}

    def bind(self, prefix: str, uri: str) -> bool:
        """Declare `prefix` for `uri` on the root; False when the root binds `prefix` to another URI."""
        known = self.by_prefix.get(prefix)
        if known is None:
            self.by_prefix[prefix] = uri
            self.by_uri.setdefault(uri, prefix)
            return True
        return known == uri

    def prefix(self, uri: str) -> str:
        """The prefix of `uri` for foreign attributes (`ns0`, `ns1`, ... unless one is bound already)."""
        known = self.by_uri.get(uri)
        if known is None:
            n = len(self.by_prefix)
            while f"ns{n}" in self.by_prefix:
                n += 1
            known = f"ns{n}"
            self.by_prefix[known] = uri
            self.by_uri[uri] = known
        return known

    def declarations(self) -> str:
        return "".join(f' xmlns:{prefix}="{_attr(uri)}"' for prefix, uri in self.by_prefix.items())


# The document being written (`namespaces`: its _Namespaces), per thread. A plain threading.local: compiled
# code would keep a subclass's declared attribute in the object itself, shared by every thread.
_current = threading.local()


def _execution_text(name: str, e: Execution) -> str:
    f = e.__dict__
    when, reason, by = f["when"], f["reason"], f["by"]
    if reason is not None or by is not None:
        reason, by = _opt_text(reason), _opt_text(by)
    foreign = f["other_attributes"]
    return (
        f"<{name}{_foreign_attributes(foreign) if foreign else ''}>"
        f"{'' if when is None else f'<when>{_when(when)}</when>'}"
        f"{'' if reason is None else f'<reason>{reason}</reason>'}"
        f"{'' if by is None else f'<by>{by}</by>'}</{name}>"
    )


def _media(m: Media) -> str:
    f = m.__dict__
    id_, display, type_, label, src_id = f["id"], f["display_text"], f["type"], f["label"], f["src_id"]
    values = f"{id_}{display}{type_}{label}{src_id}"
    if not _plain(values) and _SPECIAL(values) is not None:  # rare: escape them one by one
        id_, display, type_ = _attr(id_), _opt_text(display), _opt_text(type_)
        label, src_id = _opt_text(label), _opt_text(src_id)
    foreign, status, extensions = f["other_attributes"], f["status"], f["extensions"]
    return (
        f'<media id="{id_}"{_foreign_attributes(foreign) if foreign else ""}>'
        f"{'' if display is None else f'<display-text>{display}</display-text>'}"
        f"{'' if type_ is None else f'<type>{type_}</type>'}"
        f"{'' if label is None else f'<label>{label}</label>'}"
        f"{'' if src_id is None else f'<src-id>{src_id}</src-id>'}"
        f"{'' if status is None else _MEDIA_STATUS.get(status) or f'<status>{status}</status>'}"
        f"{_extensions(m) if extensions else ''}</media>"
    )


def _endpoint(w: Append, e: Endpoint) -> None:
    f = e.__dict__
    entity, display = f["entity"], f["display_text"]
    values = f"{entity}{display}"
    if not _plain(values) and _SPECIAL(values) is not None:  # rare: escape them one by one
        entity, display = entity and _attr(entity), _opt_text(display)
    foreign = f["other_attributes"]
    attributes = f' entity="{entity}"{_STATE[f["state"]]}' if entity else _STATE[f["state"]]
    w(f"<endpoint{attributes}{_foreign_attributes(foreign) if foreign else ''}>")
    if display is not None:
        w(f"<display-text>{display}</display-text>")
    if f["referred"] is not None:
        w(_execution_text("referred", f["referred"]))
    status = f["status"]
    if status is not None:
        w(_ENDPOINT_STATUS.get(status) or f"<status>{status}</status>")
    method = f["joining_method"]
    if method is not None:
        w(_JOINING_METHOD.get(method) or f"<joining-method>{method}</joining-method>")
    if f["joining_info"] is not None:
        w(_execution_text("joining-info", f["joining_info"]))
    method = f["disconnection_method"]
    if method is not None:
        w(f"<disconnection-method>{method}</disconnection-method>")
    if f["disconnection_info"] is not None:
        w(_execution_text("disconnection-info", f["disconnection_info"]))
    if f["media"]:
        for media in f["media"].values():
            w(_media(media))
    if f["call_info"] is not None:
        c = f["call_info"]
        sip = ""
        if c.sip is not None:
            s = c.sip
            sip = (
                f"<sip{_foreign(s)}>{_opt('display-text', s.display_text)}<call-id>{_text(s.call_id)}</call-id>"
                f"<from-tag>{_text(s.from_tag)}</from-tag><to-tag>{_text(s.to_tag)}</to-tag>{_extensions(s)}</sip>"
            )
        w(f"<call-info{_foreign(c)}>{sip}{_extensions(c)}</call-info>")
    if f["extensions"]:
        w(_extensions(e))
    w("</endpoint>")


def _foreign_attributes(attrs: Mapping[str, str]) -> str:
    """` ns0:name="value"` for foreign attributes, their namespaces declared on the root."""
    if not attrs:
        return ""
    prefix = _current.namespaces.prefix
    parts = _foreign_attribute_parts(tuple(attrs.items()))
    if len(parts) == 1:  # the usual case (the translation's marker)
        namespace, text = parts[0]
        return f" {'xml' if namespace == _XML_NS else prefix(namespace)}:{text}"
    return "".join(
        f" {'xml' if namespace == _XML_NS else prefix(namespace)}:{text}" for namespace, text in parts
    )


@lru_cache(maxsize=4096)
def _foreign_attribute_parts(items: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    """(namespace, `name="value"`) of each foreign attribute. Memoised: the same few sets (the gateway's
    own `original` marker on every translated user) recur in every document."""
    parts = []
    for clark, value in items:
        namespace, _, local = clark[1:].partition("}")
        parts.append((namespace, f'{local}="{_attr(value)}"'))
    return tuple(parts)


def serialize_text(doc: ConferenceInfo) -> str:
    """The document as a string, without the XML declaration."""
    out: list[str] = []
    namespaces = _Namespaces()
    _current.namespaces = namespaces
    _conference(out.append, "conference-info", doc, f' xmlns="{NAMESPACE}"')
    declarations = namespaces.declarations()
    if declarations:
        out[0] = out[0][:-1] + declarations + ">"  # the root's start tag
    return "".join(out)


def serialize(doc: ConferenceInfo) -> bytes:
    """The document as UTF-8 bytes with an XML declaration."""
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + serialize_text(doc).encode("utf-8")
