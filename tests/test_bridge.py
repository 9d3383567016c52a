"""The bridge, sans-IO: which call leads to which, where each room's state goes, who may subscribe."""

from __future__ import annotations

import pytest

from gateway.addresses import AddressMap
from gateway.bridge import (
    AcceptXmppCall,
    AnswerSipCall,
    Bridge,
    BridgeError,
    EndSipCall,
    EndXmppCall,
    FocusKind,
    FocusXmppCall,
    HangUpSip,
    PlaceSipCall,
    PlaceXmppCall,
    RejectSipCall,
    RejectXmppCall,
    RoomChanged,
    RoomEnded,
    RoomSpec,
    Subscribe,
    SubscribePolicy,
    Unsubscribe,
    jingle_reason_for,
    sip_status_for,
)
from gateway.conference_info import ConferenceInfo
from gateway.document_parser import parse
from gateway.merge import merge
from gateway.sdp import parse_sdp
from gateway.translate import Protocol

MAP = AddressMap(component_domain="sip.example.org", sip_domain="gw.example.org")
ROOMS = [
    RoomSpec("weekly", FocusKind.SIP, "sip:weekly@bridge.example.com"),
    RoomSpec("standup", FocusKind.XMPP, "mixer@example.org/desk"),
]
OFFER = parse_sdp(
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)
BRIDGE_STATE = b"""<conference-info xmlns="urn:ietf:params:xml:ns:conference-info" entity="weekly@bridge.example.com"
 state="full" version="1"><users><user entity="sip:carol@example.net"><endpoint entity="sip:carol@192.0.2.3">
 <status>connected</status></endpoint></user></users></conference-info>"""


def bridge(**kwargs: object) -> Bridge:
    return Bridge(ROOMS, MAP, **kwargs)  # type: ignore[arg-type]


def test_an_xmpp_client_joins_a_sip_bridge_and_one_subscription_serves_the_room() -> None:
    b = bridge()
    [place] = b.xmpp_call("weekly", "l1", "romeo@montague.lit/phone", OFFER)
    assert place == PlaceSipCall(
        "l1",
        "weekly",
        "sip:weekly@bridge.example.com",
        "sip:romeo%40montague.lit@gw.example.org;gr=phone",
        OFFER,
    )
    assert b.sip_leg_answered("l1", OFFER, "sip:conf-42@bridge.example.com") == [
        AcceptXmppCall("l1", OFFER),
        Subscribe("weekly", "sip:conf-42@bridge.example.com"),  # the focus's isfocus Contact
    ]
    b.xmpp_call("weekly", "l2", "juliet@capulet.lit/balcony", OFFER)
    assert b.sip_leg_answered("l2", OFFER, "sip:conf-42@bridge.example.com") == [AcceptXmppCall("l2", OFFER)]
    assert b.upstream_state("weekly", merge(None, parse(BRIDGE_STATE))) == [RoomChanged("weekly")]
    room = b.room("weekly")
    assert room is not None
    assert list(room.state(Protocol.XMPP).user_map()) == ["xmpp:carol\\40example.net@sip.example.org"]
    assert b.xmpp_call_ended("l1") == [HangUpSip("l1")]
    assert b.sip_leg_ended("l2") == [EndXmppCall("l2"), Unsubscribe("weekly")]  # the last one out


def test_without_isfocus_the_configured_focus_is_subscribed() -> None:
    b = bridge()
    b.xmpp_call("weekly", "l1", "romeo@montague.lit/phone", OFFER)
    assert b.sip_leg_answered("l1", OFFER)[1] == Subscribe("weekly", "sip:weekly@bridge.example.com")


def test_a_refused_leg_is_a_jingle_reason_and_a_late_answer_is_hung_up() -> None:
    b = bridge()
    b.xmpp_call("weekly", "l1", "romeo@montague.lit/phone", OFFER)
    assert b.sip_leg_failed("l1", 486) == [RejectXmppCall("l1", "busy")]
    assert b.sip_leg_answered("l1", OFFER) == [HangUpSip("l1")]
    assert jingle_reason_for(404) == "gone" and jingle_reason_for(503) == "general-error"
    assert sip_status_for("decline") == (603, "Decline")


def test_calls_to_unknown_rooms_or_the_wrong_side_are_refused() -> None:
    b = bridge()
    with pytest.raises(BridgeError):
        b.xmpp_call("nope", "l1", "romeo@montague.lit/phone", OFFER)
    with pytest.raises(BridgeError):
        b.xmpp_call("standup", "l1", "romeo@montague.lit/phone", OFFER)
    with pytest.raises(BridgeError):
        b.sip_call("weekly", "l1", "sip:alice@example.net", OFFER)
    with pytest.raises(BridgeError):
        b.sip_call("standup", "l1", "sip:al\x00ice@example.net", OFFER)


def coin(version: int, state: str, users: str) -> ConferenceInfo:
    return parse(
        f'<conference-info xmlns="urn:ietf:params:xml:ns:conference-info" entity="xmpp:mixer@example.org" '
        f'state="{state}" version="{version}"><users state="{state}">{users}</users></conference-info>'.encode()
    )


def test_a_sip_phone_joins_an_xmpp_mixer_and_sees_its_state_in_sip_form() -> None:
    b = bridge()
    [place] = b.sip_call("standup", "l1", "sip:alice@example.net", OFFER)
    assert place == PlaceXmppCall(
        "l1", "standup", "mixer@example.org/desk", "alice\\40example.net@sip.example.org", OFFER
    )
    assert b.xmpp_leg_accepted("l1", OFFER) == [AnswerSipCall("l1", OFFER, "sip:standup@gw.example.org")]
    assert b.mixer_coin("l1", coin(1, "full", '<user entity="xmpp:romeo@montague.lit"/>')) == [
        RoomChanged("standup")
    ]
    assert b.mixer_coin("l1", coin(1, "full", "")) == []  # stale
    room = b.room("standup")
    assert room is not None
    assert list(room.state(Protocol.SIP).user_map()) == ["sip:romeo%40montague.lit@gw.example.org"]
    assert room.state(Protocol.SIP).entity == "sip:standup@gw.example.org"


def test_a_second_mixer_session_takes_over_when_the_source_ends() -> None:
    b = bridge()
    for leg in ("l1", "l2"):
        b.sip_call("standup", leg, f"sip:{leg}@example.net", OFFER)
        b.xmpp_leg_accepted(leg, OFFER)
    b.mixer_coin("l1", coin(1, "full", '<user entity="xmpp:a@example.org"/>'))
    assert b.mixer_coin("l2", coin(1, "full", '<user entity="xmpp:b@example.org"/>')) == []  # not the source
    assert b.sip_leg_ended("l1") == [EndXmppCall("l1"), RoomChanged("standup")]
    room = b.room("standup")
    assert room is not None
    assert list(room.state(Protocol.SIP).user_map()) == ["sip:b%40example.org@gw.example.org"]
    assert b.xmpp_call_ended("l2") == [EndSipCall("l2"), RoomChanged("standup")]
    shown = room.state(Protocol.SIP)
    assert shown.conference_state is not None and shown.conference_state.active is False


def test_a_refused_mixer_session_is_an_rfc7247_status() -> None:
    b = bridge()
    b.sip_call("standup", "l1", "sip:alice@example.net", OFFER)
    assert b.xmpp_leg_failed("l1", "busy") == [RejectSipCall("l1", 486, "Busy Here")]


def test_subscribe_policy() -> None:
    b = bridge()
    b.sip_call("standup", "l1", "sip:alice@example.net", OFFER)
    assert b.admits("standup", "sip:alice@example.net")
    assert b.admits("standup", "sips:Alice@EXAMPLE.net")  # same identity
    assert not b.admits("standup", "sip:mallory@example.net")
    assert not b.admits("nope", "sip:alice@example.net")
    domains = bridge(policy=SubscribePolicy.DOMAINS, allowed_domains=["partner.example"])
    assert domains.admits("standup", "sip:anyone@partner.example")
    assert not domains.admits("standup", "sip:anyone@example.net")
    assert bridge(policy=SubscribePolicy.ANYONE).admits("weekly", "sip:anyone@example.net")


def test_shutdown_ends_every_room_and_call() -> None:
    b = bridge()
    b.xmpp_call("weekly", "l1", "romeo@montague.lit/phone", OFFER)
    b.sip_leg_answered("l1", OFFER)
    actions = b.shutdown()
    assert RoomEnded("weekly") in actions and RoomEnded("standup") in actions
    assert EndXmppCall("l1", "gone") in actions and EndSipCall("l1") in actions
    assert Unsubscribe("weekly") in actions
    assert b.calls("weekly") == []


def test_lost_and_stopped_upstream() -> None:
    b = bridge()
    b.xmpp_call("weekly", "l1", "romeo@montague.lit/phone", OFFER)
    b.sip_leg_answered("l1", OFFER)
    b.upstream_state("weekly", merge(None, parse(BRIDGE_STATE)))
    assert b.upstream_lost("weekly") == [RoomChanged("weekly")]
    assert b.upstream_lost("weekly") == []
    assert b.upstream_state("weekly", merge(None, parse(BRIDGE_STATE))) == [RoomChanged("weekly")]
    assert b.upstream_stopped("weekly") == [RoomChanged("weekly")]
    b.xmpp_call("weekly", "l2", "juliet@capulet.lit/balcony", OFFER)
    assert Subscribe("weekly", "sip:weekly@bridge.example.com") in b.sip_leg_answered("l2", OFFER)


# -- ad-hoc rooms ------------------------------------------------------------------------------------------------


def test_a_call_to_a_mapped_sip_user_forms_an_adhoc_room_that_subscribes_only_to_a_focus() -> None:
    b = bridge()
    room = b.xmpp_room_for("alice\\40example.net@sip.example.org")
    assert room == "~sip:alice@example.net"
    assert b.xmpp_room_for("weekly@sip.example.org") == "weekly"  # a configured room stays itself
    assert b.room(room) is None  # named, not created
    [place] = b.xmpp_call(room, "l1", "romeo@montague.lit/phone", OFFER)
    assert place == PlaceSipCall(
        "l1", room, "sip:alice@example.net", "sip:romeo%40montague.lit@gw.example.org;gr=phone", OFFER
    )
    adhoc = b.room(room)
    assert adhoc is not None and adhoc.address.xmpp == "xmpp:alice\\40example.net@sip.example.org"
    # a 1:1 call: no subscription, and the session-accept does not say isfocus
    assert b.sip_leg_answered("l1", OFFER) == [AcceptXmppCall("l1", OFFER, focus=False)]
    # a second caller of the same callee shares the room
    assert b.xmpp_room_for("alice\\40example.net@sip.example.org") == room
    b.xmpp_call(room, "l2", "juliet@capulet.lit/balcony", OFFER)
    assert b.calls(room) == ["l1", "l2"]
    # a re-INVITE makes the call a conference: subscribe then; its end: unsubscribe, shown lost
    assert b.sip_focus_changed("l1", "sip:conf@example.net") == [
        FocusXmppCall("l1", True),
        Subscribe(room, "sip:conf@example.net"),
    ]
    assert b.sip_focus_changed("l1", "sip:conf@example.net") == []
    assert b.sip_focus_changed("l1", None) == [
        FocusXmppCall("l1", False),
        Unsubscribe(room),
        RoomChanged(room),
    ]
    b.sip_leg_failed("l2", 486)
    # the last call ends: the room is gone
    assert b.xmpp_call_ended("l1") == [HangUpSip("l1"), RoomEnded(room)]
    assert b.room(room) is None and room not in b.room_names()


def test_an_adhoc_sip_callee_answering_as_a_focus_is_subscribed_and_unsubscribed_with_the_last_call() -> None:
    b = bridge()
    room = b.xmpp_room_for("alice\\40example.net@sip.example.org")
    b.xmpp_call(room, "l1", "romeo@montague.lit/phone", OFFER)
    assert b.sip_leg_answered("l1", OFFER, "sip:conf-1@example.net") == [
        AcceptXmppCall("l1", OFFER),
        Subscribe(room, "sip:conf-1@example.net"),
    ]
    assert b.upstream_state(room, merge(None, parse(BRIDGE_STATE))) == [RoomChanged(room)]
    adhoc = b.room(room)
    assert adhoc is not None
    assert adhoc.state(Protocol.XMPP).entity == "xmpp:alice\\40example.net@sip.example.org"
    assert b.sip_leg_ended("l1") == [EndXmppCall("l1"), Unsubscribe(room), RoomEnded(room)]


def test_adhoc_callees_that_are_no_user_of_the_other_side_are_refused() -> None:
    b = bridge()
    for jid in (
        "+15551234@sip.example.org",  # its SIP form lives on our own SIP domain: nowhere to call
        "conf@sip.example.org",  # the gateway's own user
        "sip.example.org",
        "a\\5cb@sip.example.org",  # cannot be mapped
    ):
        with pytest.raises(BridgeError):
            b.xmpp_room_for(jid)
    for user in ("conf", "alice\\40example.net", "+15551234"):  # gateway users, SIP users, numbers
        with pytest.raises(BridgeError):
            b.sip_room_for(user)
    with pytest.raises(BridgeError):  # an ad-hoc SIP-focus room is not joined from SIP
        b.sip_call("~sip:alice@example.net", "l1", "sip:bob@example.net", OFFER)


def test_a_sip_call_to_a_mapped_xmpp_user_forms_an_adhoc_room_with_isfocus_only_from_a_focus() -> None:
    b = bridge()
    room = b.sip_room_for("romeo@montague.lit")
    assert room == "~xmpp:romeo@montague.lit"
    assert b.sip_room_for("standup") == "standup"
    [place] = b.sip_call(room, "l1", "sip:alice@example.net", OFFER)
    assert place == PlaceXmppCall(
        "l1", room, "romeo@montague.lit", "alice\\40example.net@sip.example.org", OFFER
    )
    address = b.address(room)
    assert address is not None and address.sip == "sip:romeo%40montague.lit@gw.example.org"
    assert b.xmpp_leg_accepted("l1", OFFER, None) == [AnswerSipCall("l1", OFFER, None)]  # a plain call
    b.sip_call(room, "l2", "sip:bob@example.net", OFFER)
    assert b.xmpp_leg_accepted("l2", OFFER, True) == [
        AnswerSipCall("l2", OFFER, "sip:romeo%40montague.lit@gw.example.org")
    ]
    assert b.mixer_coin("l2", coin(1, "full", '<user entity="xmpp:nurse@capulet.lit"/>')) == []  # l1 leads
    assert b.mixer_coin("l1", coin(1, "full", '<user entity="xmpp:juliet@capulet.lit"/>')) == [
        RoomChanged(room)
    ]
    assert b.admits(room, "sip:bob@example.net")
    assert b.sip_leg_ended("l1") == [EndXmppCall("l1"), RoomChanged(room)]  # l2 takes over
    assert b.xmpp_call_ended("l2") == [EndSipCall("l2"), RoomChanged(room), RoomEnded(room)]
    assert b.room(room) is None
    # a callee that refuses: the room goes with the call
    b.sip_call(room, "l3", "sip:alice@example.net", OFFER)
    assert b.xmpp_leg_failed("l3", "decline") == [RejectSipCall("l3", 603, "Decline"), RoomEnded(room)]
    assert b.room(room) is None


def test_shutdown_ends_adhoc_rooms_too() -> None:
    b = bridge()
    room = b.xmpp_room_for("alice\\40example.net@sip.example.org")
    b.xmpp_call(room, "l1", "romeo@montague.lit/phone", OFFER)
    b.sip_leg_answered("l1", OFFER, "sip:conf@example.net")
    actions = b.shutdown()
    assert RoomEnded(room) in actions and Unsubscribe(room) in actions
    assert room not in b.room_names()
