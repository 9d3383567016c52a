"""XEP-0298 (Coin) stanzas: the `isfocus` marker inside `<jingle>` and the Coin IQ carrying conference state.

What we send is the spec form: `<conference-info xmlns='urn:xmpp:coin:1' isfocus='true'/>` in `<jingle>`,
and an IQ-set whose children are `<jingle xmlns='urn:xmpp:jingle:1' sid='...'/>` and the RFC 4575 document,
which also carries the session id as a `sid` attribute (Jitsi matches calls by it; it costs nothing).

What we accept is every form deployed peers send:
- isfocus in `urn:xmpp:coin:1`, in SylkServer's `urn:xmpp:jingle:apps:coin:1`, with no namespace, or in the
  enclosing Jingle namespace (a SylkServer element written without `xmlns`);
- the conference document in the RFC 4575 namespace (spec), in `urn:xmpp:coin:1` or
  `urn:xmpp:jingle:apps:coin:1` (legacy: the RFC 4575 elements written in the Coin namespace), or with no
  namespace; the session id from the `<jingle sid>` sibling or from the document's `sid` attribute.

Elements are lxml elements; the adapter converts from slixmpp's ElementTree by serialising and re-parsing
with the hardened parser, so nothing untrusted skips our limits.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from lxml import etree

from gateway.conference_info import NAMESPACE as CONFERENCE_INFO
from gateway.conference_info import ConferenceInfo
from gateway.document_parser import ConferenceInfoParser
from gateway.document_writer import serialize_text
from gateway.errors import DocumentError
from xmpp.namespaces import COIN, COIN_JITSI, COIN_LEGACY, JINGLE
from xmpp.xml import element

_ISFOCUS_TAGS = frozenset(
    ("{" + COIN + "}conference-info", "{" + COIN_LEGACY + "}conference-info", "conference-info",
     "{" + JINGLE + "}conference-info")
)  # fmt: skip
_DOCUMENT_NAMESPACES = (CONFERENCE_INFO, COIN, COIN_LEGACY, COIN_JITSI, "")


def isfocus_element(isfocus: bool = True) -> etree._Element:
    """`<conference-info xmlns='urn:xmpp:coin:1' isfocus='true'/>`, for session-initiate/accept/info."""
    el = element(COIN, "conference-info")
    el.set("isfocus", "true" if isfocus else "false")
    return el


def find_isfocus(jingle: etree._Element) -> bool | None:
    """The `isfocus` value a `<jingle>` element carries, in any deployed form; None if it has none."""
    for child in jingle:
        if child.tag in _ISFOCUS_TAGS and child.get("isfocus") is not None:
            return child.get("isfocus", "").strip().lower() in ("true", "1")
    return None


@dataclass(frozen=True, slots=True)
class CoinPayload:
    """A received Coin IQ: the document and the session id it names (None if it names none)."""

    document: ConferenceInfo
    sid: str | None


def is_coin_iq(children: list[etree._Element]) -> bool:
    """Whether the children of an IQ-set make a Coin IQ (a conference-info document, in any form)."""
    return _document_element(children) is not None


def parse_coin_iq(children: list[etree._Element], parser: ConferenceInfoParser) -> CoinPayload:
    """The document and session id of a Coin IQ. Raises DocumentError when the document is invalid."""
    element = _document_element(children)
    if element is None:
        raise DocumentError("the IQ carries no conference-info document")
    sid: str | None = None
    for child in children:
        if child.tag == "{" + JINGLE + "}jingle" and child.get("sid"):
            sid = child.get("sid")
    if etree.QName(element).namespace != CONFERENCE_INFO:
        element = _in_rfc4575_namespace(element)
    document = parser.from_element(element)
    return CoinPayload(document, sid or document.sid)


def coin_iq_children(document: ConferenceInfo, sid: str) -> list[etree._Element]:
    """The children of the Coin IQ we send: `<jingle sid/>` and the document (with a `sid` attribute)."""
    jingle = element(JINGLE, "jingle")
    jingle.set("sid", sid)
    text = serialize_text(document.model_copy(update={"sid": sid}))
    return [jingle, etree.fromstring(text)]


def _document_element(children: list[etree._Element]) -> etree._Element | None:
    for child in children:
        if not isinstance(child.tag, str):
            continue
        qname = etree.QName(child)
        is_document = child.get("isfocus") is None or len(child) or child.get("entity") is not None
        if (
            qname.localname == "conference-info"
            and (qname.namespace or "") in _DOCUMENT_NAMESPACES
            and is_document
        ):
            return child
    return None


def _in_rfc4575_namespace(element: etree._Element) -> etree._Element:
    """A copy of a legacy-namespace document with its Coin or unqualified elements moved into the RFC 4575
    namespace (elements of other namespaces, extensions, are left alone)."""
    moved = copy.deepcopy(element)
    for el in moved.iter():
        if not isinstance(el.tag, str):
            continue
        namespace = etree.QName(el).namespace or ""
        if namespace in (COIN, COIN_LEGACY, COIN_JITSI, ""):
            el.tag = "{" + CONFERENCE_INFO + "}" + etree.QName(el).localname
    etree.cleanup_namespaces(moved)
    return moved
