"""The sans-IO XEP-0166 session layer: every rule in its table, without a socket."""

from __future__ import annotations

import pytest
from lxml import etree

from xmpp.jingle_session import (
    Ack,
    Action,
    Ended,
    Incoming,
    JingleRequest,
    JingleSessions,
    Outgoing,
    Received,
    Refuse,
    Role,
    SessionState,
    jingle_element,
    parse_reason,
    parse_request,
    reason_element,
)

PEER = "juliet@capulet.lit/balcony"
ROOM = "weekly@sip.example.org"
RTP_INFO = "urn:xmpp:jingle:apps:rtp:info:1"


def request(
    action: Action | str, sid: str = "s1", sender: str = PEER, children: str = "", iq_id: str = "i1"
) -> JingleRequest:
    el = etree.fromstring(
        f'<jingle xmlns="urn:xmpp:jingle:1" action="{action}" sid="{sid}">{children}</jingle>'.encode()
    )
    parsed = parse_request(sender, ROOM, iq_id, el)
    assert isinstance(parsed, JingleRequest)
    return parsed


def incoming(sessions: JingleSessions, sid: str = "s1") -> Incoming:
    outputs = sessions.receive(request(Action.SESSION_INITIATE, sid))
    assert isinstance(outputs[0], Ack)
    assert isinstance(outputs[-1], Incoming)
    return outputs[-1]


def refusal(outputs: list[object]) -> tuple[str, str | None]:
    [only] = outputs
    assert isinstance(only, Refuse)
    return only.condition, only.jingle_condition


def test_malformed_requests_get_bad_request() -> None:
    jingle = '<jingle xmlns="urn:xmpp:jingle:1" {}/>'
    for attrs in (
        'action="session-initiate"',
        'sid="s"',
        'sid="s" action="dance"',
        'sid="" action="session-info"',
    ):
        refused = parse_request(PEER, ROOM, "i", etree.fromstring(jingle.format(attrs).encode()))
        assert isinstance(refused, Refuse) and refused.condition == "bad-request"
    other = parse_request(
        PEER, ROOM, "i", etree.fromstring(b'<jingle xmlns="urn:other" sid="s" action="session-info"/>')
    )
    assert isinstance(other, Refuse)
    long_sid = parse_request(
        PEER,
        ROOM,
        "i",
        etree.fromstring(
            f'<jingle xmlns="urn:xmpp:jingle:1" sid="{"x" * 300}" action="session-info"/>'.encode()
        ),
    )
    assert isinstance(long_sid, Refuse)


def test_session_initiate_is_acknowledged_and_reported() -> None:
    sessions = JingleSessions()
    event = incoming(sessions)
    assert event.session.role is Role.RESPONDER and event.session.state is SessionState.PENDING
    assert event.session.local == ROOM and event.session.peer == PEER
    assert sessions.get(PEER, "s1") is event.session


def test_accept_activates_and_builds_session_accept() -> None:
    sessions = JingleSessions()
    session = incoming(sessions).session
    out = sessions.accept(session, [etree.Element("{urn:xmpp:coin:1}conference-info", isfocus="true")])
    assert isinstance(out, Outgoing) and out.action is Action.SESSION_ACCEPT
    assert out.jingle.get("responder") == ROOM and out.jingle.get("sid") == "s1"
    assert session.state is SessionState.ACTIVE
    with pytest.raises(ValueError):
        sessions.accept(session, [])


def test_unknown_session_gets_item_not_found_unknown_session() -> None:
    sessions = JingleSessions()
    assert refusal(sessions.receive(request(Action.TRANSPORT_INFO))) == ("item-not-found", "unknown-session")
    incoming(sessions)
    # same sid from another JID is another session, which does not exist
    assert refusal(sessions.receive(request(Action.SESSION_INFO, sender="mallory@evil/x"))) == (
        "item-not-found",
        "unknown-session",
    )


def test_out_of_order_actions() -> None:
    sessions = JingleSessions()
    incoming(sessions)
    # the initiator may not accept its own session; nor initiate it again
    assert refusal(sessions.receive(request(Action.SESSION_ACCEPT))) == ("unexpected-request", "out-of-order")
    assert refusal(sessions.receive(request(Action.SESSION_INITIATE))) == (
        "unexpected-request",
        "out-of-order",
    )


def test_negotiation_actions_are_allowed_while_pending_and_active() -> None:
    sessions = JingleSessions()
    session = incoming(sessions).session
    for action in (Action.TRANSPORT_INFO, Action.CONTENT_ADD, Action.DESCRIPTION_INFO):
        outputs = sessions.receive(request(action))
        assert isinstance(outputs[0], Ack) and isinstance(outputs[1], Received)
    sessions.accept(session, [])
    outputs = sessions.receive(request(Action.CONTENT_REMOVE))
    assert isinstance(outputs[1], Received) and outputs[1].request.action is Action.CONTENT_REMOVE


def test_session_terminate_ends_and_forgets_the_session() -> None:
    sessions = JingleSessions()
    session = incoming(sessions).session
    outputs = sessions.receive(
        request(Action.SESSION_TERMINATE, children="<reason><busy/><text>later</text></reason>")
    )
    assert isinstance(outputs[0], Ack)
    assert outputs[1] == Ended(session, "busy", "later")
    assert session.state is SessionState.ENDED and len(sessions) == 0
    assert refusal(sessions.receive(request(Action.SESSION_INFO))) == ("item-not-found", "unknown-session")


def test_session_info_payloads() -> None:
    sessions = JingleSessions(info_payloads=[RTP_INFO])
    incoming(sessions)
    ping = sessions.receive(request(Action.SESSION_INFO))
    assert isinstance(ping[0], Ack)
    ringing = sessions.receive(request(Action.SESSION_INFO, children=f'<ringing xmlns="{RTP_INFO}"/>'))
    assert isinstance(ringing[1], Received)
    assert refusal(sessions.receive(request(Action.SESSION_INFO, children='<x xmlns="urn:unknown"/>'))) == (
        "feature-not-implemented",
        "unsupported-info",
    )


def test_we_initiate_and_the_peer_accepts() -> None:
    sessions = JingleSessions()
    out = sessions.initiate(ROOM + "/gw", "mixer@example.org/desk", "o1", [])
    assert out.jingle.get("initiator") == ROOM + "/gw" and out.action is Action.SESSION_INITIATE
    sessions.request_done(out.session, Action.SESSION_INITIATE)
    outputs = sessions.receive(request(Action.SESSION_ACCEPT, sid="o1", sender="mixer@example.org/desk"))
    assert isinstance(outputs[1], Received) and out.session.state is SessionState.ACTIVE


def test_failed_initiate_ends_the_session() -> None:
    sessions = JingleSessions()
    out = sessions.initiate(ROOM, "mixer@example.org/desk", "o1", [])
    [ended] = sessions.request_failed(out.session, Action.SESSION_INITIATE, "service-unavailable")
    assert isinstance(ended, Ended) and len(sessions) == 0


def test_failed_transport_info_keeps_the_session_but_unknown_session_ends_it() -> None:
    sessions = JingleSessions()
    session = incoming(sessions).session
    sessions.accept(session, [])
    out = sessions.send(session, Action.TRANSPORT_INFO, [])
    assert sessions.request_failed(session, out.action, "bad-request") == []
    assert session.state is SessionState.ACTIVE
    assert isinstance(sessions.request_failed(session, Action.SESSION_INFO, "item-not-found")[0], Ended)


def test_simultaneous_initiate_same_sid_lower_jid_wins() -> None:
    # we are "a...", the peer is "b...": ours wins, theirs gets a tie-break
    sessions = JingleSessions()
    sessions.initiate("a@gw/x", "b@h/r", "same", [])
    assert refusal(sessions.receive(request(Action.SESSION_INITIATE, sid="same", sender="b@h/r"))) == (
        "conflict",
        "tie-break",
    )
    # we are "z...": theirs wins, ours ends
    sessions = JingleSessions()
    ours = sessions.initiate("z@gw/x", "b@h/r", "same", []).session
    outputs = sessions.receive(request(Action.SESSION_INITIATE, sid="same", sender="b@h/r"))
    assert Ended(ours, "alternative-session", "lost a tie-break") in outputs
    assert isinstance(outputs[-1], Incoming)


def test_simultaneous_initiate_different_sids_lower_sid_wins() -> None:
    sessions = JingleSessions()
    sessions.initiate(ROOM, PEER, "aaa", [])
    assert refusal(sessions.receive(request(Action.SESSION_INITIATE, sid="bbb"))) == ("conflict", "tie-break")
    sessions = JingleSessions()
    ours = sessions.initiate(ROOM, PEER, "ccc", []).session
    outputs = sessions.receive(request(Action.SESSION_INITIATE, sid="bbb"))
    assert isinstance(outputs[-1], Incoming) and ours.state is SessionState.ENDED


def test_duplicate_action_in_a_session_initiator_wins() -> None:
    sessions = JingleSessions()
    out = sessions.initiate(ROOM, PEER, "o1", [])
    sessions.request_done(out.session, Action.SESSION_INITIATE)
    sessions.receive(request(Action.SESSION_ACCEPT, sid="o1"))
    sessions.send(out.session, Action.CONTENT_ADD, [])
    assert refusal(sessions.receive(request(Action.CONTENT_ADD, sid="o1"))) == ("conflict", "tie-break")


def test_transport_info_both_ways_at_once_is_no_tie_break() -> None:
    """Trickle: both sides send transport-info whenever they learn candidates; neither is refused."""
    sessions = JingleSessions()
    out = sessions.initiate(ROOM, PEER, "o1", [])
    sessions.send(out.session, Action.TRANSPORT_INFO, [])
    [ack, received] = sessions.receive(request(Action.TRANSPORT_INFO, sid="o1"))
    assert isinstance(ack, Ack) and isinstance(received, Received)


def test_terminate_builds_a_reason_and_forgets() -> None:
    sessions = JingleSessions()
    session = incoming(sessions).session
    out = sessions.terminate(session, "decline", "no thanks")
    assert parse_reason(out.jingle) == ("decline", "no thanks")
    assert len(sessions) == 0
    with pytest.raises(ValueError):
        sessions.send(session, Action.SESSION_INFO, [])


def test_reasons() -> None:
    with pytest.raises(ValueError):
        reason_element("not-a-reason")
    assert parse_reason(jingle_element(Action.SESSION_TERMINATE, "s")) == ("success", None)
