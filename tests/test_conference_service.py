"""The XMPP adapter's behaviour, sans-IO: stanzas in, stanzas out, with an in-process room."""

from __future__ import annotations

from lxml import etree

from gateway.conference_info import NAMESPACE as CI
from gateway.conference_info import State
from gateway.document_parser import parse
from tests.rooms import InProcessRoom, Rooms, answer_contents
from xmpp.conference_service import XmppConferenceService
from xmpp.rooms import Call
from xmpp.stanzas import error_condition

DOMAIN = "sip.example.org"
ROOM = f"weekly@{DOMAIN}"
ALICE = "alice@example.com/phone"
OFFER = (
    '<content xmlns="urn:xmpp:jingle:1" creator="initiator" name="0">'
    '<description xmlns="urn:xmpp:jingle:apps:rtp:1" media="audio"><payload-type id="111" name="opus" clockrate="48000" channels="2"/></description>'
    '<transport xmlns="urn:xmpp:jingle:transports:ice-udp:1" ufrag="a" pwd="bbbbbbbbbbbbbbbbbbbbbb"/></content>'
)


class Harness:
    def __init__(self) -> None:
        self.now = 0.0
        self.rooms = Rooms()
        self.service = XmppConferenceService(DOMAIN, self.rooms, clock=lambda: self.now)
        self.out: list[etree._Element] = []
        self.room = InProcessRoom(ROOM, self.respond)
        self.rooms.rooms[ROOM] = self.room

    def respond(self, decision: str, call: Call) -> None:
        if decision == "accept":
            self.out += self.service.accept(call, answer_contents(call.offer))
        else:
            self.out += self.service.reject(call, "decline")

    def send(self, text: str) -> list[etree._Element]:
        self.out = []
        self.out = [*self.service.receive(etree.fromstring(text.encode())), *self.out]
        return self.out

    def initiate(self, sid: str = "s1", sender: str = ALICE, to: str = ROOM) -> list[etree._Element]:
        return self.send(
            f'<iq xmlns="jabber:component:accept" type="set" id="init-{sid}" from="{sender}" to="{to}">'
            f'<jingle xmlns="urn:xmpp:jingle:1" action="session-initiate" initiator="{sender}" sid="{sid}">{OFFER}</jingle></iq>'
        )

    def result(self, stanza: etree._Element, sender: str = ALICE) -> list[etree._Element]:
        return self.send(
            f'<iq xmlns="jabber:component:accept" type="result" id="{stanza.get("id")}" from="{sender}" to="{stanza.get("from")}"/>'
        )


def by_type(stanzas: list[etree._Element], type_: str) -> list[etree._Element]:
    return [s for s in stanzas if s.get("type") == type_]


def coin_document(iq: etree._Element) -> etree._Element:
    found = iq.find(f"{{{CI}}}conference-info")
    assert found is not None
    return found


def accepted_call(h: Harness, sid: str = "s1") -> etree._Element:
    """Initiate, check ack + session-accept, acknowledge it; returns the full Coin IQ that follows."""
    out = h.initiate(sid)
    assert [s.get("type") for s in out] == ["result", "set"]
    accept = out[1]
    jingle = accept.find("{urn:xmpp:jingle:1}jingle")
    assert jingle is not None and jingle.get("action") == "session-accept" and jingle.get("sid") == sid
    assert jingle.find("{urn:xmpp:coin:1}conference-info").get("isfocus") == "true"  # type: ignore[union-attr]
    assert jingle.find("{urn:xmpp:jingle:1}content") is not None
    [full] = h.result(accept)
    return full


def test_call_to_a_room_gets_accept_with_isfocus_then_full_then_partial_coin() -> None:
    h = Harness()
    h.room.join("xmpp:carol@example.com", "Carol")
    full = accepted_call(h)
    assert full.get("to") == ALICE and full.get("from") == ROOM and full.get("type") == "set"
    assert full.find("{urn:xmpp:jingle:1}jingle").get("sid") == "s1"  # type: ignore[union-attr]
    document = coin_document(full)
    assert (document.get("state"), document.get("version"), document.get("sid")) == ("full", "1", "s1")
    assert h.result(full) == []  # the participant answers; nothing follows
    h.room.join("xmpp:bob@example.com", "Bob")
    [partial] = h.service.room_changed(h.room)
    update = parse(etree.tostring(coin_document(partial)))
    assert update.state is State.PARTIAL and update.version == 2
    assert list(update.user_map()) == ["xmpp:bob@example.com"]
    assert h.service.room_changed(h.room) == []  # nothing new


def test_a_second_participant_gets_full_state_at_once() -> None:
    h = Harness()
    accepted_call(h, "s1")
    h.room.join("xmpp:bob@example.com", "Bob")
    h.service.room_changed(h.room)
    second = accepted_call(h, "s2")
    assert coin_document(second).get("state") == "full" and coin_document(second).get("version") == "1"
    assert "xmpp:bob@example.com" in parse(etree.tostring(coin_document(second))).user_map()


def test_reconnection_sends_full_state_with_the_next_version() -> None:
    h = Harness()
    h.result(accepted_call(h))
    [again] = h.service.online()
    assert (coin_document(again).get("state"), coin_document(again).get("version")) == ("full", "2")


def test_message_initiation_propose_ringing_proceed_then_initiate() -> None:
    h = Harness()
    out = h.send(
        f'<message xmlns="jabber:component:accept" type="chat" from="{ALICE}" to="{ROOM}">'
        '<propose xmlns="urn:xmpp:jingle-message:0" id="p1"><description xmlns="urn:xmpp:jingle:apps:rtp:1" media="audio"/></propose></message>'
    )
    assert [etree.QName(s[0]).localname for s in out] == ["ringing", "proceed"]
    assert all(s.get("from") == ROOM + "/gw" and s.get("to") == ALICE for s in out)
    assert len(h.service.proposals) == 1
    out = h.initiate("p1", to=ROOM + "/gw")
    assert [s.get("type") for s in out] == ["result", "set"]
    assert len(h.service.proposals) == 0


def test_propose_to_an_unknown_room_is_rejected() -> None:
    h = Harness()
    [reject] = h.send(
        f'<message xmlns="jabber:component:accept" type="chat" from="{ALICE}" to="nobody@{DOMAIN}">'
        '<propose xmlns="urn:xmpp:jingle-message:0" id="p1"/></message>'
    )
    assert etree.QName(reject[0]).localname == "reject"


def test_call_to_an_unknown_room_is_item_not_found() -> None:
    h = Harness()
    [error] = h.initiate(to=f"nobody@{DOMAIN}")
    assert error.get("type") == "error" and error_condition(error) == "item-not-found"


def test_a_room_that_refuses_terminates_the_session() -> None:
    h = Harness()
    h.room.accepting = False
    out = h.initiate()
    assert out[0].get("type") == "result"
    assert out[1].find("{urn:xmpp:jingle:1}jingle").get("action") == "session-terminate"  # type: ignore[union-attr]
    assert h.room.hung_up and len(h.service.participants) == 0


def test_participant_hangs_up() -> None:
    h = Harness()
    accepted_call(h)
    out = h.send(
        f'<iq xmlns="jabber:component:accept" type="set" id="t" from="{ALICE}" to="{ROOM}">'
        '<jingle xmlns="urn:xmpp:jingle:1" action="session-terminate" sid="s1"><reason><success/></reason></jingle></iq>'
    )
    assert [s.get("type") for s in out] == ["result"]
    assert h.room.hung_up[0][1] == "success"
    assert h.service.room_changed(h.room) == []


def test_error_on_our_session_accept_ends_the_call() -> None:
    h = Harness()
    accept = h.initiate()[1]
    h.send(
        f'<iq xmlns="jabber:component:accept" type="error" id="{accept.get("id")}" from="{ALICE}" to="{ROOM}">'
        '<error type="cancel"><item-not-found xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></iq>'
    )
    assert h.room.hung_up and not h.service.participants


def test_answers_from_someone_else_are_ignored() -> None:
    h = Harness()
    accept = h.initiate()[1]
    assert h.result(accept, sender="mallory@evil.example/x") == []
    assert not next(iter(h.service.participants.values())).accepted


def coin_iq(sender: str, sid: str | None, version: int = 1, iq_id: str = "c1") -> str:
    jingle = f'<jingle xmlns="urn:xmpp:jingle:1" sid="{sid}"/>' if sid else ""
    return (
        f'<iq xmlns="jabber:component:accept" type="set" id="{iq_id}" from="{sender}" to="{ROOM}">{jingle}'
        f'<conference-info xmlns="{CI}" entity="xmpp:mixer@example.org" state="full" version="{version}"/></iq>'
    )


def test_coin_from_a_stranger_is_forbidden_and_a_wrong_sid_is_item_not_found() -> None:
    h = Harness()
    accepted_call(h)
    [forbidden] = h.send(coin_iq("mallory@evil.example/x", "s1"))
    assert error_condition(forbidden) == "forbidden"
    [unknown] = h.send(coin_iq(ALICE, "other"))
    assert error_condition(unknown) == "item-not-found"
    [ok] = h.send(coin_iq(ALICE, "s1"))
    assert ok.get("type") == "result"
    [ok_without_sid] = h.send(coin_iq(ALICE, None, version=2, iq_id="c2"))
    assert ok_without_sid.get("type") == "result"
    assert [d.version for d in h.room.received] == [1, 2]


def test_bad_coin_document_is_bad_request() -> None:
    h = Harness()
    accepted_call(h)
    [bad] = h.send(
        f'<iq xmlns="jabber:component:accept" type="set" id="c" from="{ALICE}" to="{ROOM}">'
        f'<conference-info xmlns="{CI}" entity="x" version="-1"/></iq>'
    )
    assert error_condition(bad) == "bad-request"


def test_disco_info_on_room_and_escaped_user_jids() -> None:
    h = Harness()
    for jid in (ROOM, f"alice\\40example.net@{DOMAIN}", DOMAIN):
        [answer] = h.send(
            f'<iq xmlns="jabber:component:accept" type="get" id="d" from="{ALICE}" to="{jid}">'
            '<query xmlns="http://jabber.org/protocol/disco#info"/></iq>'
        )
        assert answer.get("type") == "result" and answer.get("from") == jid
        features = {f.get("var") for f in answer.iter("{http://jabber.org/protocol/disco#info}feature")}
        assert {"urn:xmpp:coin:1", "urn:xmpp:jingle:1", "jid\\20escaping"} <= features


def test_presence_probe_gets_caps() -> None:
    h = Harness()
    [presence] = h.send(
        f'<presence xmlns="jabber:component:accept" type="probe" from="{ALICE}" to="{ROOM}"/>'
    )
    assert presence.find("{http://jabber.org/protocol/caps}c") is not None


def test_hostile_jingle_iqs_get_stanza_errors() -> None:
    h = Harness()
    cases = {
        '<jingle xmlns="urn:xmpp:jingle:1" action="session-initiate"/>': "bad-request",
        '<jingle xmlns="urn:xmpp:jingle:1" action="jump" sid="x"/>': "bad-request",
        '<jingle xmlns="urn:xmpp:jingle:1" action="session-info" sid="nope"/>': "item-not-found",
        '<unknown xmlns="urn:x"/>': "service-unavailable",
    }
    for payload, condition in cases.items():
        [error] = h.send(
            f'<iq xmlns="jabber:component:accept" type="set" id="h" from="{ALICE}" to="{ROOM}">{payload}</iq>'
        )
        assert error_condition(error) == condition, payload
    huge = "".join(f'<payload-type id="{i}" name="x"/>' for i in range(5000))
    [error] = h.send(
        f'<iq xmlns="jabber:component:accept" type="set" id="h" from="{ALICE}" to="{ROOM}">'
        f'<jingle xmlns="urn:xmpp:jingle:1" action="session-initiate" sid="big"><content name="a"><description xmlns="urn:xmpp:jingle:apps:rtp:1">{huge}</description></content></jingle></iq>'
    )
    assert error_condition(error) == "policy-violation"
    # a JID ending in a backslash is just an unknown room: no exception, a clean error
    [error] = h.initiate(to=f"ab\\@{DOMAIN}")
    assert error_condition(error) == "item-not-found"


def test_a_flood_from_one_jid_is_rate_limited_and_others_are_served() -> None:
    h = Harness()
    conditions = []
    for i in range(1000):
        [answer] = h.send(
            f'<iq xmlns="jabber:component:accept" type="get" id="f{i}" from="flood@evil.example/x" to="{ROOM}">'
            '<query xmlns="http://jabber.org/protocol/disco#info"/></iq>'
        )
        conditions.append(answer.get("type") if answer.get("type") == "result" else error_condition(answer))
    assert conditions.count("result") == 200 and conditions.count("resource-constraint") == 800
    assert h.initiate()[0].get("type") == "result"  # someone else is still served
    h.now += 10  # the bucket refills
    [answer] = h.send(
        f'<iq xmlns="jabber:component:accept" type="get" id="later" from="flood@evil.example/x" to="{ROOM}">'
        '<query xmlns="http://jabber.org/protocol/disco#info"/></iq>'
    )
    assert answer.get("type") == "result"


MIXER = "mixer@example.org/desk"
CALLER = f"alice\\40example.net@{DOMAIN}/sip"


def placed_call(h: Harness) -> tuple[Call, etree._Element]:
    call, [initiate] = h.service.place_call(
        h.room, CALLER, MIXER, "p1", list(etree.fromstring(f"<x>{OFFER}</x>"))
    )
    jingle = initiate.find("{urn:xmpp:jingle:1}jingle")
    assert initiate.get("to") == MIXER and initiate.get("from") == CALLER
    assert (
        jingle is not None
        and jingle.get("action") == "session-initiate"
        and jingle.get("initiator") == CALLER
    )
    assert call.placed and call.participant == MIXER
    assert h.result(initiate, sender=MIXER) == []
    return call, initiate


def test_a_placed_call_to_a_mixer_is_answered_with_isfocus_and_its_coin_goes_to_the_room() -> None:
    h = Harness()
    call, _ = placed_call(h)
    out = h.send(
        f'<iq xmlns="jabber:component:accept" type="set" id="acc" from="{MIXER}" to="{CALLER}">'
        f'<jingle xmlns="urn:xmpp:jingle:1" action="session-accept" sid="p1" responder="{MIXER}">{OFFER}'
        '<conference-info xmlns="urn:xmpp:coin:1" isfocus="true"/></jingle></iq>'
    )
    assert [s.get("type") for s in out] == ["result"]
    [(answered, contents, isfocus)] = h.room.answers
    assert answered == call and isfocus is True
    assert [etree.QName(c).localname for c in contents] == ["content", "conference-info"]
    # the mixer is the focus: it sends Coin, we never send it Coin
    h.room.join("xmpp:carol@example.com", "Carol")
    assert h.service.room_changed(h.room) == []
    out = h.send(
        f'<iq xmlns="jabber:component:accept" type="set" id="c1" from="{MIXER}" to="{CALLER}">'
        f'<conference-info xmlns="{CI}" entity="xmpp:mixer@example.org" state="full" version="1" sid="p1">'
        '<users><user entity="xmpp:romeo@montague.lit" state="full"/></users></conference-info></iq>'
    )
    assert [s.get("type") for s in out] == ["result"]
    assert len(h.room.received) == 1
    # a 1:1 call no more
    h.send(
        f'<iq xmlns="jabber:component:accept" type="set" id="i1" from="{MIXER}" to="{CALLER}">'
        '<jingle xmlns="urn:xmpp:jingle:1" action="session-info" sid="p1">'
        '<conference-info xmlns="urn:xmpp:coin:1" isfocus="false"/></jingle></iq>'
    )
    assert h.room.focus_changes == [(call, False)]
    # the mixer ends it
    h.send(
        f'<iq xmlns="jabber:component:accept" type="set" id="t1" from="{MIXER}" to="{CALLER}">'
        '<jingle xmlns="urn:xmpp:jingle:1" action="session-terminate" sid="p1"><reason><success/></reason>'
        "</jingle></iq>"
    )
    assert h.room.hung_up == [(call, "success")]


def test_a_placed_call_the_mixer_refuses_is_hung_up() -> None:
    h = Harness()
    call, [initiate] = h.service.place_call(h.room, CALLER, MIXER, "p2", [])
    h.send(
        f'<iq xmlns="jabber:component:accept" type="error" id="{initiate.get("id")}" from="{MIXER}" to="{CALLER}">'
        '<error type="cancel"><service-unavailable xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></iq>'
    )
    assert [c for c, _ in h.room.hung_up] == [call]


def test_the_room_hangs_up_a_placed_call() -> None:
    h = Harness()
    call, _ = placed_call(h)
    [terminate] = h.service.hang_up(call)
    jingle = terminate.find("{urn:xmpp:jingle:1}jingle")
    assert jingle is not None and jingle.get("action") == "session-terminate"
    assert terminate.get("to") == MIXER


TRICKLE = (
    '<content xmlns="urn:xmpp:jingle:1" creator="initiator" name="0">'
    '<transport xmlns="urn:xmpp:jingle:transports:ice-udp:1" ufrag="a" pwd="bbbbbbbbbbbbbbbbbbbbbb">'
    '<candidate component="1" foundation="1" generation="0" id="c1" ip="192.0.2.1" network="0" port="4000"'
    ' priority="2130706431" protocol="udp" type="host"/></transport></content>'
)


def transport_info(sender: str, to: str, sid: str, iq_id: str = "t1") -> str:
    return (
        f'<iq xmlns="jabber:component:accept" type="set" id="{iq_id}" from="{sender}" to="{to}">'
        f'<jingle xmlns="urn:xmpp:jingle:1" action="transport-info" sid="{sid}">{TRICKLE}</jingle></iq>'
    )


def test_transport_info_of_a_caller_reaches_the_room_and_ours_reaches_the_caller() -> None:
    h = Harness()
    out = h.initiate()
    [call] = h.room.calls
    # trickled candidates, before and after our session-accept is acknowledged
    assert [s.get("type") for s in h.send(transport_info(ALICE, ROOM, "s1"))] == ["result"]
    h.result(out[1])
    h.send(transport_info(ALICE, ROOM, "s1", "t2"))
    assert [c for c, _ in h.room.transports] == [call, call]
    [(_, contents)] = h.room.transports[:1]
    assert [etree.QName(c).localname for c in contents] == ["content"]
    assert contents[0].find(".//{urn:xmpp:jingle:transports:ice-udp:1}candidate") is not None
    # ours: transport-info to the caller, from the room
    [iq] = h.service.transport_info(call, list(etree.fromstring(f"<x>{TRICKLE}</x>")))
    jingle = iq.find("{urn:xmpp:jingle:1}jingle")
    assert iq.get("to") == ALICE and iq.get("from") == ROOM
    assert jingle is not None and jingle.get("action") == "transport-info" and jingle.get("sid") == "s1"
    # a transport-info for no session is unknown-session, and the room hears nothing of it
    [error] = h.send(transport_info(ALICE, ROOM, "nope", "t3"))
    assert error_condition(error) == "item-not-found"
    assert len(h.room.transports) == 2


def test_transport_info_on_a_placed_call_goes_both_ways_and_ends_with_the_call() -> None:
    h = Harness()
    call, _ = placed_call(h)
    [ours] = h.service.transport_info(call, list(etree.fromstring(f"<x>{TRICKLE}</x>")))
    assert ours.get("to") == MIXER
    # the mixer trickles too, while our transport-info awaits its answer: no tie-break
    assert [s.get("type") for s in h.send(transport_info(MIXER, CALLER, "p1"))] == ["result"]
    assert [c for c, _ in h.room.transports] == [call]
    h.service.hang_up(call)
    assert h.service.transport_info(call, []) == []


def test_session_info_goes_to_a_live_call_only() -> None:
    h = Harness()
    h.initiate()
    [call] = h.room.calls
    hold = etree.Element("{urn:xmpp:jingle:apps:rtp:info:1}hold")
    [iq] = h.service.session_info(call, hold)
    jingle = iq.find("{urn:xmpp:jingle:1}jingle")
    assert iq.get("to") == ALICE and jingle is not None and jingle.get("action") == "session-info"
    assert jingle.find("{urn:xmpp:jingle:apps:rtp:info:1}hold") is not None
    h.service.hang_up(call)
    assert h.service.session_info(call, hold) == []


def test_rtp_info_from_the_peer_reaches_the_room() -> None:
    h = Harness()
    h.initiate()
    [call] = h.room.calls
    out = h.send(
        f'<iq xmlns="jabber:component:accept" type="set" id="h1" from="{ALICE}" to="{ROOM}">'
        '<jingle xmlns="urn:xmpp:jingle:1" action="session-info" sid="s1">'
        '<hold xmlns="urn:xmpp:jingle:apps:rtp:info:1"/></jingle></iq>'
    )
    assert [s.get("type") for s in out] == ["result"]
    assert h.room.rtp_infos == [(call, "hold")]


def test_a_call_accepted_without_isfocus_gets_no_coin_until_it_becomes_a_conference() -> None:
    h = Harness()
    h.room.respond = lambda decision, call: None  # the test answers
    h.initiate("s1")
    [call] = h.room.calls
    [accept] = h.service.accept(call, answer_contents(call.offer), isfocus=False)
    jingle = accept.find("{urn:xmpp:jingle:1}jingle")
    assert jingle is not None and jingle.find("{urn:xmpp:coin:1}conference-info") is None
    assert h.result(accept) == []  # no Coin: a 1:1 call
    h.room.join("xmpp:bob@example.com", "Bob")
    assert h.service.room_changed(h.room) == []
    # the call becomes a conference: session-info isfocus, then full state
    info, full = h.service.focus_changed(call, True)
    payload = info.find("{urn:xmpp:jingle:1}jingle/{urn:xmpp:coin:1}conference-info")
    assert payload is not None and payload.get("isfocus") == "true"
    assert coin_document(full).get("state") == "full"
    assert h.service.focus_changed(call, True) == []
    [info] = h.service.focus_changed(call, False)
    h.room.join("xmpp:carol@example.com", "Carol")
    assert h.service.room_changed(h.room) == []


# -- calling a bare JID: XEP-0353 first ----------------------------------------------------------------------

CALLEE = "romeo@montague.lit"
JMI = "urn:xmpp:jingle-message:0"


def jmi(what: str, sender: str, pid: str = "leg1", inner: str = "") -> str:
    return (
        f'<message xmlns="jabber:component:accept" type="chat" from="{sender}" to="{CALLER}">'
        f'<{what} xmlns="{JMI}" id="{pid}">{inner}</{what}></message>'
    )


def proposed_call(h: Harness) -> Call:
    call, [propose] = h.service.place_call(
        h.room, CALLER, CALLEE, "leg1", list(etree.fromstring(f"<x>{OFFER}</x>"))
    )
    assert propose.tag == "{jabber:component:accept}message" and propose.get("type") == "chat"
    assert propose.get("to") == CALLEE and propose.get("from") == CALLER
    element = propose.find(f"{{{JMI}}}propose")
    assert element is not None and element.get("id") == "leg1"
    assert [d.get("media") for d in element] == ["audio"]
    assert call.placed and call.participant == CALLEE
    return call


def test_a_call_to_a_bare_jid_is_proposed_and_initiated_to_the_resource_that_proceeds() -> None:
    h = Harness()
    call = proposed_call(h)
    assert h.send(jmi("ringing", f"{CALLEE}/orchard")) == []
    assert h.send(jmi("proceed", "mallory@evil.example/x")) == []  # not the callee: not ours (no room there)
    [initiate] = h.send(jmi("proceed", f"{CALLEE}/orchard"))
    jingle = initiate.find("{urn:xmpp:jingle:1}jingle")
    assert initiate.get("to") == f"{CALLEE}/orchard" and initiate.get("from") == CALLER
    assert jingle is not None and jingle.get("action") == "session-initiate" and jingle.get("sid") == "leg1"
    assert h.send(jmi("proceed", f"{CALLEE}/balcony")) == []  # a second resource is too late
    assert h.result(initiate, sender=f"{CALLEE}/orchard") == []
    h.send(
        f'<iq xmlns="jabber:component:accept" type="set" id="acc" from="{CALLEE}/orchard" to="{CALLER}">'
        f'<jingle xmlns="urn:xmpp:jingle:1" action="session-accept" sid="leg1" responder="{CALLEE}/orchard">'
        f'{OFFER}<conference-info xmlns="urn:xmpp:coin:1" isfocus="true"/></jingle></iq>'
    )
    [(answered, _contents, isfocus)] = h.room.answers
    assert answered == call and isfocus is True  # the room sees the Call it was given (the bare JID)
    # the call (bare JID) still names the session: our hang-up reaches the resource
    [terminate] = h.service.hang_up(call)
    assert terminate.get("to") == f"{CALLEE}/orchard"
    assert h.room.hung_up == [(call, "terminated by the gateway")]


def test_a_rejected_proposal_fails_the_call_with_decline_or_the_reason_given() -> None:
    h = Harness()
    call = proposed_call(h)
    assert h.send(jmi("reject", f"{CALLEE}/orchard")) == []
    assert h.room.hung_up == [(call, "decline")]
    assert len(h.service.outgoing) == 0
    call = proposed_call(h)
    h.send(jmi("reject", f"{CALLEE}/orchard", inner='<reason xmlns="urn:xmpp:jingle:1"><busy/></reason>'))
    assert h.room.hung_up[-1] == (call, "busy")


def test_an_unanswered_proposal_times_out_and_is_retracted() -> None:
    h = Harness()
    call = proposed_call(h)
    h.now = 29.0
    assert h.service.tick() == []
    h.now = 30.0
    [retract] = h.service.tick()
    assert retract.get("to") == CALLEE and retract.find(f"{{{JMI}}}retract") is not None
    assert h.room.hung_up == [(call, "timeout")]
    assert h.send(jmi("proceed", f"{CALLEE}/orchard")) == []  # too late


def test_a_caller_who_gives_up_retracts_the_proposal() -> None:
    h = Harness()
    call = proposed_call(h)
    [retract] = h.service.hang_up(call)
    element = retract.find(f"{{{JMI}}}retract")
    assert element is not None and element.get("id") == "leg1" and retract.get("from") == CALLER
    assert h.room.hung_up == [(call, "cancel")]
    assert h.service.tick() == [] and h.service.hang_up(call) == []
