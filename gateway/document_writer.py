"""Serialise the model to conference-info XML: UTF-8, default namespace, schema order, stable output.

Equal models give equal bytes. `state` is always written on the root, `users`, each `user` and `endpoint`
and each URI list (Dino ignores a full document unless every user says `state="full"`). Extensions are
written back where they were, after the schema's own children; foreign attributes get `ns0`, `ns1`, ...
prefixes declared on their element.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from gateway.conference_info import (
    NAMESPACE,
    ConferenceDescription,
    ConferenceInfo,
    Endpoint,
    Execution,
    Extensible,
    Node,
    Uris,
    User,
)

_XML_NS = "http://www.w3.org/XML/1998/namespace"
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
Append = Callable[[str], None]
_ATTR_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\t": "&#9;", "\n": "&#10;",
                 "\r": "&#13;"}  # fmt: skip


_attr_special = re.compile('[&<>"\t\n\r]')


def _text(s: str) -> str:
    if "&" not in s and "<" not in s and ">" not in s and "\r" not in s:
        return s
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")


def _attr(s: str) -> str:
    if _attr_special.search(s) is None:
        return s
    return _attr_special.sub(lambda m: _ATTR_ESCAPES[m.group()], s)


def _when(value: datetime) -> str:
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
    for ext in node.extensions:
        w(ext.xml)
    w(f"</{name}>")


def _leaf(w: Append, name: str, value: str | None) -> None:
    if value is not None:
        w(f"<{name}>{_text(value)}</{name}>")


def _conference(w: Append, name: str, doc: ConferenceInfo, xmlns: str) -> None:
    attrs = f'{xmlns} entity="{_attr(doc.entity)}" state="{doc.state}"'
    if doc.version is not None:
        attrs += f' version="{doc.version}"'
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
    _open(w, name, e)
    if e.when is not None:
        w(f"<when>{_when(e.when)}</when>")
    _leaf(w, "reason", e.reason)
    _leaf(w, "by", e.by)
    w(f"</{name}>")


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
        _endpoint(w, endpoint)
    _close(w, "user", u)


def _endpoint(w: Append, e: Endpoint) -> None:
    entity = f' entity="{_attr(e.entity)}"' if e.entity else ""
    _open(w, "endpoint", e, f'{entity} state="{e.state}"')
    if e.display_text is not None:
        w(f"<display-text>{_text(e.display_text)}</display-text>")
    if e.referred is not None:
        _execution(w, "referred", e.referred)
    if e.status is not None:
        w(f"<status>{e.status}</status>")
    if e.joining_method is not None:
        w(f"<joining-method>{e.joining_method}</joining-method>")
    if e.joining_info is not None:
        _execution(w, "joining-info", e.joining_info)
    if e.disconnection_method is not None:
        w(f"<disconnection-method>{e.disconnection_method}</disconnection-method>")
    if e.disconnection_info is not None:
        _execution(w, "disconnection-info", e.disconnection_info)
    for m in e.media.values():
        _open(w, "media", m, f' id="{_attr(m.id)}"')
        _leaf(w, "display-text", m.display_text)
        _leaf(w, "type", m.type)
        _leaf(w, "label", m.label)
        _leaf(w, "src-id", m.src_id)
        if m.status is not None:
            w(f"<status>{m.status}</status>")
        _close(w, "media", m)
    if e.call_info is not None:
        c = e.call_info
        _open(w, "call-info", c)
        if c.sip is not None:
            sip = c.sip
            _open(w, "sip", sip)
            _leaf(w, "display-text", sip.display_text)
            w(f"<call-id>{_text(sip.call_id)}</call-id><from-tag>{_text(sip.from_tag)}</from-tag>"
              f"<to-tag>{_text(sip.to_tag)}</to-tag>")  # fmt: skip
            _close(w, "sip", sip)
        _close(w, "call-info", c)
    _close(w, "endpoint", e)


def _foreign_attributes(attrs: Mapping[str, str]) -> str:
    if not attrs:
        return ""
    declared: dict[str, str] = {}
    parts: list[str] = []
    for clark, value in attrs.items():
        namespace, _, local = clark[1:].partition("}")
        if namespace == _XML_NS:
            prefix = "xml"
        else:
            prefix = declared.get(namespace) or declared.setdefault(namespace, f"ns{len(declared)}")
        parts.append(f' {prefix}:{local}="{_attr(value)}"')
    decls = "".join(f' xmlns:{prefix}="{_attr(ns)}"' for ns, prefix in declared.items())
    return decls + "".join(parts)


def serialize_text(doc: ConferenceInfo) -> str:
    """The document as a string, without the XML declaration."""
    out: list[str] = []
    _conference(out.append, "conference-info", doc, f' xmlns="{NAMESPACE}"')
    text = "".join(out)
    bad = _NOT_XML.search(text)
    if bad is not None:
        raise ValueError(f"the document holds a character XML cannot carry: {bad.group()!r}")
    return text


def serialize(doc: ConferenceInfo) -> bytes:
    """The document as UTF-8 bytes with an XML declaration."""
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + serialize_text(doc).encode("utf-8")
