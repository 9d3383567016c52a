"""Sans-IO XMPP pieces: Coin stanzas, disco/caps, Jingle message initiation."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
from lxml import etree

from gateway.conference_info import NAMESPACE as CI
from gateway.document_parser import ConferenceInfoParser, parse
from gateway.errors import DocumentError
from xmpp import coin, disco
from xmpp.message_initiation import (
    PROPOSAL_LIFETIME,
    Kind,
    MessageInitiation,
    message_children,
    parse_message,
)

EXAMPLE = (Path(str(resources.files("gateway").joinpath("examples"))) / "xep0298-coin.xml").read_bytes()
PARSER = ConferenceInfoParser()


def xml(text: str) -> etree._Element:
    return etree.fromstring(text.encode())


# -- Coin ----------------------------------------------------------------------------------------------


def test_isfocus_element_is_the_spec_form() -> None:
    assert (
        etree.tostring(coin.isfocus_element()) == b'<conference-info xmlns="urn:xmpp:coin:1" isfocus="true"/>'
    )


@pytest.mark.parametrize(
    ("child", "expected"),
    [
        ('<conference-info xmlns="urn:xmpp:coin:1" isfocus="true"/>', True),
        ('<conference-info xmlns="urn:xmpp:coin:1" isfocus="false"/>', False),
        ('<conference-info xmlns="urn:xmpp:jingle:apps:coin:1" isfocus="true"/>', True),
        ('<conference-info xmlns="" isfocus="1"/>', True),
        ('<conference-info isfocus="true"/>', True),  # no xmlns: inherits the Jingle namespace
        ("<content/>", None),
    ],
)
def test_isfocus_is_found_in_every_deployed_form(child: str, expected: bool | None) -> None:
    jingle = xml(f'<jingle xmlns="urn:xmpp:jingle:1" action="session-accept" sid="s">{child}</jingle>')
    assert coin.find_isfocus(jingle) is expected


def test_coin_iq_we_send_has_the_jingle_sid_and_the_sid_attribute() -> None:
    children = coin.coin_iq_children(parse(EXAMPLE), "a73sjjvkla37jfea")
    assert etree.tostring(children[0]) == b'<jingle xmlns="urn:xmpp:jingle:1" sid="a73sjjvkla37jfea"/>'
    assert children[1].tag == "{" + CI + "}conference-info"
    assert children[1].get("sid") == "a73sjjvkla37jfea"
    payload = coin.parse_coin_iq(children, PARSER)
    assert payload.sid == "a73sjjvkla37jfea"
    assert payload.document.entity == "xmpp:romeo@monague.lit/orchard"


def test_coin_iq_spec_form_from_the_xep_example() -> None:
    iq = xml(
        '<iq xmlns="jabber:component:accept" type="set"><jingle xmlns="urn:xmpp:jingle:1" sid="a73sjjvkla37jfea"/>'
        + EXAMPLE.decode().split("?>", 1)[1]
        + "</iq>"
    )
    payload = coin.parse_coin_iq(list(iq), PARSER)
    assert payload.sid == "a73sjjvkla37jfea"
    assert len(payload.document.user_map()) == 3


def test_coin_iq_jitsi_form_with_only_the_sid_attribute() -> None:
    iq = xml(
        f'<iq><conference-info xmlns="{CI}" entity="xmpp:focus@meet" state="full" version="1" sid="jitsi-1"/></iq>'
    )
    assert coin.is_coin_iq(list(iq))
    assert coin.parse_coin_iq(list(iq), PARSER).sid == "jitsi-1"


@pytest.mark.parametrize("namespace", ["urn:xmpp:jingle:apps:coin:1", "urn:xmpp:coin:1", ""])
def test_coin_iq_legacy_namespaces(namespace: str) -> None:
    iq = xml(
        f'<iq><conference-info xmlns="{namespace}" entity="sip:conf@h" state="full" version="4">'
        '<users><user entity="sip:a@h"><display-text>A</display-text></user></users>'
        '<x:ext xmlns:x="urn:x"/></conference-info></iq>'
    )
    payload = coin.parse_coin_iq(list(iq), PARSER)
    assert payload.document.version == 4
    assert payload.document.user_map()["sip:a@h"].display_text == "A"
    assert [e.xml for e in payload.document.extensions] == ['<x:ext xmlns:x="urn:x"/>']


def test_isfocus_marker_alone_is_not_a_coin_iq() -> None:
    assert not coin.is_coin_iq(
        list(xml('<iq><conference-info xmlns="urn:xmpp:coin:1" isfocus="true"/></iq>'))
    )


def test_invalid_coin_document_raises_document_error() -> None:
    with pytest.raises(DocumentError):
        coin.parse_coin_iq(
            list(xml(f'<iq><conference-info xmlns="{CI}" entity="x" version="-3"/></iq>')), PARSER
        )


# -- disco and caps ------------------------------------------------------------------------------------


def test_verification_string_matches_xep0115_simple_example() -> None:
    identity = disco.Identity("client", "pc", "Exodus 0.9.1")
    features = (
        "http://jabber.org/protocol/caps",
        "http://jabber.org/protocol/disco#info",
        "http://jabber.org/protocol/disco#items",
        "http://jabber.org/protocol/muc",
    )
    assert disco.verification_string((identity,), features) == "QgayPKawpkPSDYmwT/WM94uAlu0="


def test_disco_info_lists_the_gateway_identity_and_every_feature() -> None:
    query = disco.info_query()
    identity = query.find("{http://jabber.org/protocol/disco#info}identity")
    assert identity is not None and (identity.get("category"), identity.get("type")) == ("gateway", "simple")
    features = {f.get("var") for f in query.findall("{http://jabber.org/protocol/disco#info}feature")}
    for needed in (
        "urn:xmpp:jingle:1", "urn:xmpp:jingle:apps:rtp:1", "urn:xmpp:jingle:apps:rtp:audio",
        "urn:xmpp:jingle:transports:ice-udp:1", "urn:xmpp:jingle:transports:raw-udp:1",
        "urn:xmpp:jingle:apps:dtls:0", "urn:xmpp:jingle-message:0", "urn:xmpp:coin:1", "urn:xmpp:coin",
        "jid\\20escaping",
    ):  # fmt: skip
        assert needed in features


def test_caps_node_and_ver_answer_disco() -> None:
    c = disco.caps_element()
    assert c.get("ver") == disco.VERIFICATION and c.get("hash") == "sha-1"
    assert disco.knows_node(f"{c.get('node')}#{c.get('ver')}")
    assert not disco.knows_node("http://other#x")


# -- XEP-0353 ------------------------------------------------------------------------------------------


def test_propose_is_parsed_with_its_media() -> None:
    message = xml(
        '<message><propose xmlns="urn:xmpp:jingle-message:0" id="ca3cf894">'
        '<description xmlns="urn:xmpp:jingle:apps:rtp:1" media="audio"/></propose>'
        '<store xmlns="urn:xmpp:hints"/></message>'
    )
    parsed = parse_message(list(message))
    assert (
        parsed is not None
        and parsed.kind is Kind.PROPOSE
        and parsed.id == "ca3cf894"
        and parsed.media == ("audio",)
    )


@pytest.mark.parametrize(
    "child",
    [
        '<propose xmlns="urn:xmpp:jingle-message:0"/>',
        '<bogus xmlns="urn:xmpp:jingle-message:0" id="x"/>',
        "<body>hi</body>",
    ],
)
def test_malformed_or_foreign_messages_are_ignored(child: str) -> None:
    assert parse_message(list(xml(f"<message>{child}</message>"))) is None


def test_proceed_and_reject_messages_we_send() -> None:
    proceed = message_children(Kind.PROCEED, "p1")
    assert etree.tostring(proceed[0]) == b'<proceed xmlns="urn:xmpp:jingle-message:0" id="p1"/>'
    assert proceed[1].tag == "{urn:xmpp:hints}store"
    reject = message_children(Kind.REJECT, "p1", reason="busy")
    assert reject[0].find("{urn:xmpp:jingle:1}reason/{urn:xmpp:jingle:1}busy") is not None


def test_proposals_are_taken_by_the_matching_session_initiate_retracted_or_expired() -> None:
    state = MessageInitiation()
    message = parse_message(list(xml('<m><propose xmlns="urn:xmpp:jingle-message:0" id="p1"/></m>')))
    assert message is not None
    state.proposed("a@h/r", "room@gw", message, now=0.0)
    assert state.take("b@h/r", "p1") is None
    assert state.take("a@h/r", "p1") is not None and len(state) == 0
    state.proposed("a@h/r", "room@gw", message, now=0.0)
    assert state.retracted("a@h/r", "p1") is not None
    state.proposed("a@h/r", "room@gw", message, now=0.0)
    assert state.expire(now=PROPOSAL_LIFETIME / 2) == []
    assert [p.id for p in state.expire(now=PROPOSAL_LIFETIME + 1)] == ["p1"]
