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
    Execution,
    Extensible,
    Media,
    Node,
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


def _when(value: datetime) -> str:
    if value.tzinfo is UTC:
        return value.isoformat()[:-6] + "Z"  # the parser's UTC, written as XML Schema's "Z"
    if value.tzinfo is not None and value.utcoffset() == timedelta(0):
        return value.replace(tzinfo=None).isoformat() + "Z"
    return value.isoformat()


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
        _open(w, "users", users, f' state="{users.state}"')
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
    _open(w, name, uris, f' state="{uris.state}"')
    for entry in uris.entries.values():
        _open(w, "entry", entry)
        w(f"<uri>{_text(entry.uri)}</uri>")
        _leaf(w, "display-text", entry.display_text)
        _leaf(w, "purpose", entry.purpose)
        if entry.modified is not None:
            _execution(w, "modified", entry.modified)
        _close(w, "entry", entry)
    w(f"</{name}>")


def _execution(w: Append, name: str, e: Execution) -> None:
    w(_execution_text(name, e))


def _user(w: Append, u: User) -> None:
    entity = f' entity="{_attr(u.entity)}"' if u.entity else ""
    _open(w, "user", u, f'{entity} state="{u.state}"')
    if u.display_text is not None:
        w(f"<display-text>{_text(u.display_text)}</display-text>")
    if u.associated_aors is not None:
        _uris(w, "associated-aors", u.associated_aors)
    if u.roles is not None:
        r = u.roles
        _open(w, "roles", r)
        for role in r.entries:
            w(f"<entry>{_text(role)}</entry>")
        w("</roles>")
    if u.languages is not None:
        _leaf(w, "languages", " ".join(u.languages))
    _leaf(w, "cascaded-focus", u.cascaded_focus)
    for endpoint in u.endpoints.values():
        w(_endpoint(endpoint))
    _close(w, "user", u)


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


class _Current(threading.local):
    namespaces: _Namespaces


_current = _Current()  # the document being written, per thread


def _execution_text(name: str, e: Execution) -> str:
    when = "" if e.when is None else f"<when>{_when(e.when)}</when>"
    return f"<{name}{_foreign(e)}>{when}{_opt('reason', e.reason)}{_opt('by', e.by)}</{name}>"


def _media(m: Media) -> str:
    status = "" if m.status is None else f"<status>{m.status}</status>"
    return (
        f'<media id="{_attr(m.id)}"{_foreign(m)}>{_opt("display-text", m.display_text)}{_opt("type", m.type)}'
        f"{_opt('label', m.label)}{_opt('src-id', m.src_id)}{status}{_extensions(m)}</media>"
    )


def _endpoint(e: Endpoint) -> str:
    entity = f' entity="{_attr(e.entity)}"' if e.entity else ""
    parts = [f'<endpoint{entity} state="{e.state}"{_foreign(e)}>']
    if e.display_text is not None:
        parts.append(f"<display-text>{_text(e.display_text)}</display-text>")
    if e.referred is not None:
        parts.append(_execution_text("referred", e.referred))
    if e.status is not None:
        parts.append(f"<status>{e.status}</status>")
    if e.joining_method is not None:
        parts.append(f"<joining-method>{e.joining_method}</joining-method>")
    if e.joining_info is not None:
        parts.append(_execution_text("joining-info", e.joining_info))
    if e.disconnection_method is not None:
        parts.append(f"<disconnection-method>{e.disconnection_method}</disconnection-method>")
    if e.disconnection_info is not None:
        parts.append(_execution_text("disconnection-info", e.disconnection_info))
    if e.media:
        parts.extend(map(_media, e.media.values()))
    if e.call_info is not None:
        c = e.call_info
        sip = ""
        if c.sip is not None:
            s = c.sip
            sip = (
                f"<sip{_foreign(s)}>{_opt('display-text', s.display_text)}<call-id>{_text(s.call_id)}</call-id>"
                f"<from-tag>{_text(s.from_tag)}</from-tag><to-tag>{_text(s.to_tag)}</to-tag>{_extensions(s)}</sip>"
            )
        parts.append(f"<call-info{_foreign(c)}>{sip}{_extensions(c)}</call-info>")
    parts.append(f"{_extensions(e)}</endpoint>")
    return "".join(parts)


def _foreign_attributes(attrs: Mapping[str, str]) -> str:
    """` ns0:name="value"` for foreign attributes, their namespaces declared on the root."""
    if not attrs:
        return ""
    prefix = _current.namespaces.prefix
    return "".join(
        f" {'xml' if namespace == _XML_NS else prefix(namespace)}:{text}"
        for namespace, text in _foreign_attribute_parts(tuple(attrs.items()))
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
