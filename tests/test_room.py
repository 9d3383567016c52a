"""A room's state: upstream documents merged once and shown to each protocol in its own address forms."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.addresses import AddressMap
from gateway.conference_info import ConferenceInfo, State, Users
from gateway.diff import diff, full_document
from gateway.document_parser import parse
from gateway.merge import merge
from gateway.room import Room, RoomAddress
from gateway.translate import AddressForms, Protocol, translate
from tests.strategies import conference, mutation

MAP = AddressMap(component_domain="sip.example.org", sip_domain="gw.example.org")
ADDRESS = RoomAddress(xmpp="xmpp:weekly@sip.example.org", sip="sip:weekly@gw.example.org")
KAMAILIO_FULL = b"""<?xml version="1.0"?>
<conference-info xmlns="urn:ietf:params:xml:ns:conference-info" entity="weekly@bridge.example.com"
 state="full" version="1">
 <users xmlns="urn:ietf:params:xml:ns:conference-info">
  <user entity="sip:alice@example.net" state="full"><display-text>Alice</display-text>
   <endpoint entity="sip:alice@192.0.2.1" state="full"><status>connected</status></endpoint></user>
 </users>
</conference-info>"""
BOB_JOINS = b"""<conference-info xmlns="urn:ietf:params:xml:ns:conference-info" entity="weekly@bridge.example.com"
 state="partial" version="2"><users state="partial">
  <user entity="sip:bob@example.net" state="full"><endpoint entity="sip:bob@192.0.2.2"><status>connected</status>
  </endpoint></user></users></conference-info>"""


def room(upstream: Protocol = Protocol.SIP) -> Room:
    return Room("weekly", ADDRESS, upstream, AddressForms(MAP))


class Upstream:
    """What the upstream's receiver does (sip.subscriber, a Coin session): merge each document."""

    def __init__(self, room: Room) -> None:
        self.room = room
        self.state: ConferenceInfo | None = None

    def receive(self, data: bytes | ConferenceInfo) -> bool:
        document = parse(data) if isinstance(data, bytes) else data
        self.state = merge(self.state if document.state is not State.FULL else None, document)
        return self.room.upstream_state(self.state)


def users(state: ConferenceInfo) -> list[str]:
    return list(state.user_map())


def test_an_upstream_document_is_shown_to_each_protocol_in_its_forms() -> None:
    r = room()
    assert users(r.state(Protocol.XMPP)) == [] and not r.synchronised
    assert Upstream(r).receive(KAMAILIO_FULL)
    xmpp, sip = r.state(Protocol.XMPP), r.state(Protocol.SIP)
    assert xmpp.entity == "xmpp:weekly@sip.example.org" and sip.entity == "sip:weekly@gw.example.org"
    assert users(xmpp) == ["xmpp:alice\\40example.net@sip.example.org"]
    assert users(sip) == ["sip:alice@example.net"]
    # the SIP form is kept beside the XMPP one, so it can be called back
    alice = xmpp.user_map()["xmpp:alice\\40example.net@sip.example.org"]
    assert alice.associated_aors is not None and "sip:alice@example.net" in alice.associated_aors.entries
    assert r.synchronised


def test_a_partial_changes_every_view_and_a_recipient_gets_only_the_change() -> None:
    r = room()
    upstream = Upstream(r)
    upstream.receive(KAMAILIO_FULL)
    before = r.state(Protocol.XMPP)
    assert upstream.receive(BOB_JOINS)
    after = r.state(Protocol.XMPP)
    assert users(after) == [
        "xmpp:alice\\40example.net@sip.example.org",
        "xmpp:bob\\40example.net@sip.example.org",
    ]
    change = diff(before, after)
    assert change is not None and change.state is State.PARTIAL
    assert users(change) == ["xmpp:bob\\40example.net@sip.example.org"]


def test_an_unchanged_state_changes_nothing() -> None:
    r = room()
    upstream = Upstream(r)
    upstream.receive(KAMAILIO_FULL)
    shown = r.state(Protocol.SIP)
    assert not r.upstream_state(merge(None, parse(KAMAILIO_FULL.replace(b'version="1"', b'version="9"'))))
    assert r.state(Protocol.SIP) is shown


def test_a_lost_upstream_shows_inactive_until_its_state_comes_back() -> None:
    r = room()
    Upstream(r).receive(KAMAILIO_FULL)
    before = r.state(Protocol.XMPP)
    assert r.upstream_lost()
    assert not r.upstream_lost()  # once
    lost = r.state(Protocol.XMPP)
    assert lost.conference_state is not None and lost.conference_state.active is False
    assert users(lost) == users(before)  # who was there stays shown
    change = diff(before, lost)
    assert change is not None and change.users is None  # recipients get only conference-state
    assert not r.synchronised
    # a new subscription: its versions start again at 1, and its full document replaces everything
    again = Upstream(r)
    assert again.receive(KAMAILIO_FULL.replace(b"Alice", b"Alice A."))
    back = r.state(Protocol.XMPP)
    assert back.conference_state is None and r.synchronised
    assert back.version is not None and lost.version is not None and back.version > lost.version
    [alice] = back.user_map().values()
    assert alice.display_text == "Alice A."


def test_a_room_backed_by_an_xmpp_mixer_shows_sip_forms() -> None:
    r = room(Protocol.XMPP)
    upstream = Upstream(r)
    coin = ConferenceInfo(entity="mixer@example.org", version=1, users=Users(users={}))  # Jitsi: bare JID
    upstream.receive(coin)
    joined = ConferenceInfo.model_validate(
        {"entity": "mixer@example.org", "state": "partial", "version": 2,
         "users": {"state": "partial", "users": [{"entity": "romeo@montague.lit"}]}}
    )  # fmt: skip
    upstream.receive(joined)
    assert users(r.state(Protocol.SIP)) == ["sip:romeo%40montague.lit@gw.example.org"]
    assert users(r.state(Protocol.XMPP)) == ["xmpp:romeo@montague.lit"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_views_built_from_changes_equal_the_translation_of_the_whole(data: st.DataObject) -> None:
    """After any sequence of changes (and losses), each view is what translating the upstream's state
    gives, and its version has only grown."""
    state = data.draw(conference("sip:weekly@bridge.example.com"))
    r = room()
    upstream = Upstream(r)
    upstream.receive(full_document(state, 1))
    versions = [r.state(Protocol.XMPP).version or 0]
    for _ in range(data.draw(st.integers(1, 3))):
        if data.draw(st.booleans()):
            r.upstream_lost()
        assert upstream.state is not None
        state = data.draw(mutation(upstream.state))
        change = diff(upstream.state, state)
        if change is not None:
            upstream.receive(change)
        elif not r.synchronised:  # a lost room comes back only with a new state
            upstream.receive(full_document(state, (upstream.state.version or 0) + 1))
        versions.append(r.state(Protocol.XMPP).version or 0)
        canonical = r.canonical()
        assert canonical is not None
        for protocol in Protocol:
            whole = translate(
                canonical, AddressForms(MAP), protocol, source=Protocol.SIP, on_error=lambda *_: None
            )
            expected = whole.model_copy(update={"entity": ADDRESS.of(protocol), "version": None})
            assert r.state(protocol).model_copy(update={"version": None}) == expected
    assert versions == sorted(versions)


def test_an_upstream_past_the_last_32_bit_version_is_still_followed() -> None:
    # The bridge's counter reached 2^32-1; its next subscription starts again at 1. The room's views have
    # versions of their own, so the upstream's cannot overflow them.
    r = room()
    assert Upstream(r).receive(KAMAILIO_FULL.replace(b'version="1"', b'version="4294967295"'))
    restarted = merge(parse(KAMAILIO_FULL), parse(BOB_JOINS))
    assert Upstream(r).receive(restarted)
    assert users(r.state(Protocol.SIP)) == ["sip:alice@example.net", "sip:bob@example.net"]
