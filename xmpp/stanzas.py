"""Building and reading XMPP stanzas as lxml elements (RFC 6120), for the sans-IO service.

The component stream's default namespace is `jabber:component:accept` (XEP-0114). Stanza errors follow RFC
6120 section 8.3: `<error type='...'><condition xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>[app condition]
[<text/>]</error>`.
"""

from __future__ import annotations

from collections.abc import Iterable

from lxml import etree

from xmpp.namespaces import COMPONENT as STREAM
from xmpp.namespaces import STANZAS as STANZA_ERRORS
from xmpp.xml import element


def make(
    kind: str,
    *,
    to: str,
    sender: str,
    type: str | None = None,
    id: str | None = None,
    children: Iterable[etree._Element] = (),
) -> etree._Element:
    """`<kind to from [type] [id]>children</kind>` in the component namespace."""
    stanza = element(STREAM, kind)
    stanza.set("to", to)
    stanza.set("from", sender)
    if type is not None:
        stanza.set("type", type)
    if id is not None:
        stanza.set("id", id)
    for child in children:
        stanza.append(child)
    return stanza


def error_element(
    condition: str, error_type: str = "cancel", app: etree._Element | None = None, text: str | None = None
) -> etree._Element:
    error = etree.Element("{" + STREAM + "}error")
    error.set("type", error_type)
    etree.SubElement(error, "{" + STANZA_ERRORS + "}" + condition)
    if app is not None:
        error.append(app)
    if text:
        etree.SubElement(error, "{" + STANZA_ERRORS + "}text").text = text
    return error


def iq_result(request: etree._Element, children: Iterable[etree._Element] = ()) -> etree._Element:
    return make(
        "iq", to=attr(request, "from"), sender=attr(request, "to"), type="result", id=request.get("id"),
        children=children,
    )  # fmt: skip


def iq_error(
    request: etree._Element,
    condition: str,
    error_type: str = "cancel",
    app: etree._Element | None = None,
    text: str | None = None,
) -> etree._Element:
    return make(
        "iq",
        to=attr(request, "from"),
        sender=attr(request, "to"),
        type="error",
        id=request.get("id"),
        children=[error_element(condition, error_type, app, text)],
    )


def attr(stanza: etree._Element, name: str) -> str:
    return stanza.get(name) or ""


def kind(stanza: etree._Element) -> str:
    return etree.QName(stanza).localname


def bare(jid: str) -> str:
    """The bare JID of a full JID (the resource may contain '/')."""
    return jid.split("/", 1)[0]


def error_condition(stanza: etree._Element) -> str:
    """The defined condition of an error stanza ('undefined-condition' if it has none)."""
    for error in stanza:
        if isinstance(error.tag, str) and etree.QName(error).localname == "error":
            for child in error:
                if isinstance(child.tag, str) and etree.QName(child).namespace == STANZA_ERRORS:
                    local = etree.QName(child).localname
                    if local != "text":
                        return local
    return "undefined-condition"
