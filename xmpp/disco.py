"""Service discovery (XEP-0030) and entity capabilities (XEP-0115) for every JID of the component.

The component, each room JID and each escaped user JID (`alice\\40example.net@sip.example.org`) answer
disco#info with the same identity and features: a gateway (category `gateway`, type `simple`: the XMPP
registry's type for SIP gateways) that speaks Jingle RTP audio over ICE-UDP or raw UDP with DTLS, Jingle
Message Initiation, and Coin in both the spec's and Jitsi's feature names.

The XEP-0115 verification string is computed once, here, from that same list, and advertised in the
component's presence with our own node (slixmpp's per-JID caps store is not used).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from lxml import etree

from xmpp.namespaces import CAPS, DISCO_INFO
from xmpp.xml import element

CAPS_NODE = "https://coin-gateway.org"


@dataclass(frozen=True, slots=True)
class Identity:
    category: str
    type: str
    name: str = ""
    lang: str = ""


IDENTITY = Identity("gateway", "simple", "coin-gateway (SIP conferences)")
FEATURES = (
    DISCO_INFO,
    CAPS,
    "urn:xmpp:jingle:1",
    "urn:xmpp:jingle:apps:rtp:1",
    "urn:xmpp:jingle:apps:rtp:audio",
    "urn:xmpp:jingle:transports:ice-udp:1",
    "urn:xmpp:jingle:transports:raw-udp:1",
    "urn:xmpp:jingle:apps:dtls:0",
    "urn:xmpp:jingle-message:0",
    "urn:xmpp:coin:1",
    "urn:xmpp:coin",
    "jid\\20escaping",
)


def verification_string(identities: tuple[Identity, ...], features: tuple[str, ...]) -> str:
    """XEP-0115 section 5.1: SHA-1 over the sorted identities and features, base64-encoded."""
    text = "".join(
        f"{i.category}/{i.type}/{i.lang}/{i.name}<"
        for i in sorted(identities, key=lambda i: (i.category, i.type, i.lang, i.name))
    )
    text += "".join(f"{feature}<" for feature in sorted(features))
    return base64.b64encode(hashlib.sha1(text.encode("utf-8")).digest()).decode("ascii")


VERIFICATION = verification_string((IDENTITY,), FEATURES)


def info_query(node: str | None = None) -> etree._Element:
    """The `<query xmlns='disco#info'>` answer for any JID of the component (and for our caps node)."""
    query = element(DISCO_INFO, "query")
    if node is not None:
        query.set("node", node)
    identity = etree.SubElement(query, "{" + DISCO_INFO + "}identity")
    identity.set("category", IDENTITY.category)
    identity.set("type", IDENTITY.type)
    identity.set("name", IDENTITY.name)
    for feature in FEATURES:
        etree.SubElement(query, "{" + DISCO_INFO + "}feature").set("var", feature)
    return query


def knows_node(node: str | None) -> bool:
    """Whether a disco#info `node` is one we answer: none, or our caps node with our verification."""
    return node is None or node == f"{CAPS_NODE}#{VERIFICATION}"


def caps_element() -> etree._Element:
    """`<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node=... ver=.../>` for presence."""
    c = element(CAPS, "c")
    c.set("hash", "sha-1")
    c.set("node", CAPS_NODE)
    c.set("ver", VERIFICATION)
    return c
