"""sip.invite_session: the INVITE session machines, driven with messages written as they travel."""

from __future__ import annotations

from typing import Any

import pytest
from sipmessage import URI, Request, Response

from gateway.sdp import parse_sdp
from sip.actions import SendRequest, SendResponse
from sip.digest import Credentials
from sip.invite_session import (
    ArmTimer,
    CallFailed,
    CallState,
    DisarmTimer,
    Ended,
    Established,
    FocusChanged,
    IncomingCall,
    InviteError,
    InviteSession,
    InviteSessions,
    MediaUpdated,
    Output,
    ReinviteFailed,
    ResendResponse,
    Ringing,
    SendAck,
    TimerKind,
)
from sip.messages import create_response, from_tag, to_tag
from sip.offer_answer import AudioNegotiator
from sip.transactions import Timers
from tests.sip_wire import of, one, request

TIMERS = Timers(t1=0.5, t2=4.0)
GW = "127.0.0.1:5060"
PEER = "127.0.0.1:5070"

OFFER = """v=0
o=- 1 1 IN IP4 127.0.0.1
s=peer
c=IN IP4 127.0.0.1
t=0 0
m=audio 41000 RTP/AVP 0 8 101
a=rtpmap:101 telephone-event/8000
a=sendrecv
"""
VIDEO_ONLY = OFFER.replace("m=audio 41000 RTP/AVP 0 8 101", "m=video 41000 RTP/AVP 96").replace(
    "a=rtpmap:101 telephone-event/8000", "a=rtpmap:96 VP8/90000"
)


def sessions(**kwargs: Any) -> InviteSessions:
    tags = iter(f"gw{n}" for n in range(1, 100))
    kwargs.setdefault("contact", URI.parse(f"sip:{GW}"))
    return InviteSessions(
        negotiator=lambda: AudioNegotiator("127.0.0.1", 42000),
        timers=TIMERS,
        new_tag=lambda: next(tags),
        **kwargs,
    )


def invite(
    *,
    body: str = OFFER,
    contact: str = f"<sip:peer@{PEER}>;isfocus",
    cseq: int = 1,
    branch: str = "z9hG4bKinv1",
    content_type: str = "application/sdp",
    record_route: str | None = None,
) -> Request:
    lines = [
        f"INVITE sip:room@{GW} SIP/2.0",
        f"Via: SIP/2.0/UDP {PEER};branch={branch};rport",
        "Max-Forwards: 70",
        f"From: <sip:peer@{PEER}>;tag=peer1",
        f"To: <sip:room@{GW}>",
        "Call-ID: call-1",
        f"CSeq: {cseq} INVITE",
        f"Contact: {contact}",
    ]
    if record_route:
        lines.append(f"Record-Route: {record_route}")
    if body:
        lines.append(f"Content-Type: {content_type}")
    return request("\n".join(lines), body.replace("\n", "\r\n"))


def in_dialog(
    method: str, cseq: int, *, tag: str = "gw1", branch: str = "z9hG4bKx", body: str = ""
) -> Request:
    lines = [
        f"{method} sip:room@{GW} SIP/2.0",
        f"Via: SIP/2.0/UDP {PEER};branch={branch}",
        f"From: <sip:peer@{PEER}>;tag=peer1",
        f"To: <sip:room@{GW}>;tag={tag}",
        "Call-ID: call-1",
        f"CSeq: {cseq} {method}",
    ]
    if body:
        lines.append("Content-Type: application/sdp")
    return request("\n".join(lines), body.replace("\n", "\r\n"))


def cancel(branch: str = "z9hG4bKinv1") -> Request:
    return request(
        f"""
        CANCEL sip:room@{GW} SIP/2.0
        Via: SIP/2.0/UDP {PEER};branch={branch};rport
        From: <sip:peer@{PEER}>;tag=peer1
        To: <sip:room@{GW}>
        Call-ID: call-1
        CSeq: 1 CANCEL
        """
    )


def sent_responses(outputs: list[Output]) -> list[Response]:
    return [o.response for o in outputs if isinstance(o, SendResponse)]


def incoming_call(
    calls: InviteSessions, message: Request | None = None
) -> tuple[InviteSession, list[Output]]:
    outputs = calls.request_received(message or invite())
    return one(outputs, IncomingCall).session, outputs


def answered_call(calls: InviteSessions) -> tuple[InviteSession, list[Output]]:
    session, _ = incoming_call(calls)
    outputs = session.accept()
    outputs += calls.request_received(in_dialog("ACK", 1))
    return session, outputs


# -- UAS -------------------------------------------------------------------------------------------------


def test_incoming_call_reports_the_offer_and_the_peer_focus() -> None:
    calls = sessions()
    session, outputs = incoming_call(calls)
    report = one(outputs, IncomingCall)
    assert report.remote_focus is True
    assert report.offer is not None and report.offer.media[0].formats == ("0", "8", "101")
    assert session.conference_uri == URI.parse(f"sip:peer@{PEER}")
    assert one(outputs, ArmTimer).timer.kind is TimerKind.NO_ANSWER
    assert sent_responses(outputs) == []  # 100 Trying is the transaction layer's


def test_ring_then_accept_marks_our_contact_isfocus_and_answers_the_offer() -> None:
    calls = sessions()
    session, _ = incoming_call(calls)
    ringing = sent_responses(session.ring())[0]
    assert ringing.code == 180
    assert ringing.headers["Contact"] == f"<sip:room@{GW}>;isfocus"
    assert to_tag(ringing) == "gw1"

    outputs = session.accept()
    ok = sent_responses(outputs)[0]
    assert ok.code == 200 and to_tag(ok) == "gw1"
    assert ok.headers["Contact"] == f"<sip:room@{GW}>;isfocus"
    assert ok.headers["Content-Type"] == "application/sdp"
    answer = parse_sdp(ok.body.decode())
    assert answer.media[0].port == 42000 and answer.media[0].formats == ("0", "8", "101")
    kinds = {o.timer.kind: o.delay for o in of(outputs, ArmTimer)}
    assert kinds == {TimerKind.RETRANSMIT_2XX: 0.5, TimerKind.ACK_WAIT: 32.0}
    assert one(outputs, DisarmTimer).timer.kind is TimerKind.NO_ANSWER
    assert session.state is CallState.ANSWERED


def test_accept_as_a_plain_participant_has_no_isfocus() -> None:
    calls = sessions()
    session, _ = incoming_call(calls)
    ok = sent_responses(session.accept(focus=False))[0]
    assert ok.headers["Contact"] == f"<sip:room@{GW}>"


def test_the_contact_follows_the_transport_of_the_call() -> None:
    calls = sessions(contact={"udp": URI.parse(f"sip:{GW}"), "tcp": URI.parse(f"sip:{GW};transport=tcp")})
    tcp_invite = invite()
    tcp_invite.headers.set("Via", f"SIP/2.0/TCP {PEER};branch=z9hG4bKtcp")
    session, _ = incoming_call(calls, tcp_invite)
    ok = sent_responses(session.accept())[0]
    assert ok.headers["Contact"] == f"<sip:room@{GW};transport=tcp>;isfocus"
    _, outputs = calls.call(f"sip:conf@{PEER};transport=tcp", local="<sip:gw@127.0.0.1>")
    assert one(outputs, SendRequest).request.headers["Contact"] == f"<sip:{GW};transport=tcp>"
    _, outputs = calls.call(f"sip:conf@{PEER}", local="<sip:gw@127.0.0.1>")
    assert one(outputs, SendRequest).request.headers["Contact"] == f"<sip:{GW}>"


def test_the_ack_establishes_the_call_and_stops_the_retransmissions() -> None:
    calls = sessions()
    session, outputs = answered_call(calls)
    established = one(outputs, Established)
    assert established.remote_focus is True
    assert established.remote_contact == URI.parse(f"sip:peer@{PEER}")
    assert established.local_sdp is not None and established.remote_sdp is not None
    disarmed = {o.timer.kind for o in of(outputs, DisarmTimer)}
    assert {TimerKind.RETRANSMIT_2XX, TimerKind.ACK_WAIT} <= disarmed
    assert session.state is CallState.CONFIRMED


def test_2xx_is_retransmitted_doubling_up_to_t2_until_the_ack() -> None:
    calls = sessions()
    session, _ = incoming_call(calls)
    outputs = session.accept()
    timer = next(o.timer for o in of(outputs, ArmTimer) if o.timer.kind is TimerKind.RETRANSMIT_2XX)
    delays = []
    for _ in range(5):
        outputs = calls.timer_fired(timer)
        assert one(outputs, ResendResponse).response.code == 200
        armed = one(outputs, ArmTimer)
        delays.append(armed.delay)
        timer = armed.timer
    assert delays == [1.0, 2.0, 4.0, 4.0, 4.0]
    calls.request_received(in_dialog("ACK", 1))
    assert calls.timer_fired(timer) == []  # disarmed by the ACK


def test_a_2xx_never_acked_ends_the_call_with_bye() -> None:
    calls = sessions()
    session, _ = incoming_call(calls, invite(record_route="<sip:proxy.example;lr>"))
    outputs = session.accept()
    ack_wait = next(o.timer for o in of(outputs, ArmTimer) if o.timer.kind is TimerKind.ACK_WAIT)
    outputs = calls.timer_fired(ack_wait)
    bye = one(outputs, SendRequest)
    assert bye.request.method == "BYE"
    assert str(bye.request.uri) == f"sip:peer@{PEER}"  # the remote target
    assert bye.request.headers["Route"] == "<sip:proxy.example;lr>"
    assert str(bye.next_hop) == "sip:proxy.example;lr"
    done = calls.response_received(create_response(bye.request, 200))
    assert one(done, Ended).reason == "no-ack"
    assert len(calls) == 0


def test_a_retransmitted_invite_after_our_2xx_gets_the_same_2xx() -> None:
    calls = sessions()
    session, _ = incoming_call(calls)
    ok = sent_responses(session.accept())[0]
    outputs = calls.request_received(invite())  # the peer did not get our 2xx
    assert sent_responses(outputs) == [ok]
    assert of(outputs, IncomingCall) == []


def test_cancel_before_the_answer_gives_487_and_200() -> None:
    calls = sessions()
    session, _ = incoming_call(calls)
    session.ring()
    outputs = calls.request_received(cancel())
    to_cancel, to_invite = sent_responses(outputs)
    assert (to_cancel.code, to_cancel.cseq.method) == (200, "CANCEL")
    assert (to_invite.code, to_invite.cseq.method) == (487, "INVITE")
    assert to_tag(to_cancel) == to_tag(to_invite) == "gw1"
    assert one(outputs, CallFailed).code == 487
    assert session.ended and len(calls) == 0
    assert sent_responses(calls.request_received(in_dialog("BYE", 2)))[0].code == 481


def test_cancel_after_the_answer_changes_nothing() -> None:
    calls = sessions()
    session, _ = incoming_call(calls)
    session.accept()
    outputs = calls.request_received(cancel())
    assert [r.code for r in sent_responses(outputs)] == [200]
    assert session.state is CallState.ANSWERED


def test_cancel_for_no_invite_is_481() -> None:
    calls = sessions()
    incoming_call(calls)
    assert sent_responses(calls.request_received(cancel(branch="z9hG4bKother")))[0].code == 481


def test_bye_from_the_peer_ends_the_call() -> None:
    calls = sessions()
    answered_call(calls)
    outputs = calls.request_received(in_dialog("BYE", 2))
    assert sent_responses(outputs)[0].code == 200
    assert one(outputs, Ended).reason == "bye"
    assert len(calls) == 0


def test_in_dialog_requests_of_an_unknown_dialog_get_481() -> None:
    calls = sessions()
    answered_call(calls)
    for method in ("BYE", "INVITE", "INFO"):
        outputs = calls.request_received(in_dialog(method, 5, tag="unknown"))
        assert sent_responses(outputs)[0].code == 481, method
    assert calls.request_received(in_dialog("ACK", 5, tag="unknown")) == []


def test_an_offer_without_acceptable_media_gets_488() -> None:
    calls = sessions()
    outputs = calls.request_received(invite(body=VIDEO_ONLY))
    refused = sent_responses(outputs)[0]
    assert refused.code == 488 and "no acceptable media" in refused.headers["Warning"]
    assert of(outputs, IncomingCall) == [] and len(calls) == 0


def test_malformed_sdp_gets_488_and_a_body_of_another_type_415() -> None:
    calls = sessions()
    bad = sent_responses(calls.request_received(invite(body="v=0\nthis is not sdp\n")))[0]
    assert bad.code == 488 and "bad SDP" in bad.headers["Warning"]
    other = sent_responses(calls.request_received(invite(content_type="text/plain", branch="z9hG4bK2")))[0]
    assert other.code == 415 and other.headers["Accept"] == "application/sdp"


def test_a_required_extension_we_lack_gets_420() -> None:
    calls = sessions()
    message = invite()
    message.headers.set("Require", "100rel, timer")
    refused = sent_responses(calls.request_received(message))[0]
    assert refused.code == 420 and refused.headers["Unsupported"] == "100rel, timer"
    assert len(calls) == 0


def test_an_invite_without_offer_gets_our_offer_and_the_ack_brings_the_answer() -> None:
    calls = sessions()
    session, outputs = incoming_call(calls, invite(body=""))
    assert one(outputs, IncomingCall).offer is None
    ok = sent_responses(session.accept())[0]
    offer = parse_sdp(ok.body.decode())
    answer = OFFER.replace("m=audio 41000 RTP/AVP 0 8 101", "m=audio 41000 RTP/AVP 0")
    outputs = calls.request_received(in_dialog("ACK", 1, body=answer))
    established = one(outputs, Established)
    assert established.local_sdp == offer and established.remote_sdp is not None


def test_an_ack_without_the_answer_to_our_offer_ends_the_call() -> None:
    calls = sessions()
    session, _ = incoming_call(calls, invite(body=""))
    session.accept()
    outputs = calls.request_received(in_dialog("ACK", 1))
    assert one(outputs, SendRequest).request.method == "BYE"


def test_nobody_answers_480() -> None:
    calls = sessions()
    _, outputs = incoming_call(calls)
    outputs = calls.timer_fired(one(outputs, ArmTimer).timer)
    assert sent_responses(outputs)[0].code == 480
    assert one(outputs, CallFailed).code == 480


def test_reject_and_operations_out_of_state() -> None:
    calls = sessions()
    session, _ = incoming_call(calls)
    outputs = session.reject(603)
    assert sent_responses(outputs)[0].code == 603
    with pytest.raises(InviteError):
        session.accept()
    with pytest.raises(InviteError):
        session.reinvite()


def test_reinvite_from_the_peer_is_answered_and_focus_changes_are_reported() -> None:
    calls = sessions()
    session, _ = answered_call(calls)
    outputs = calls.request_received(in_dialog("INVITE", 2, branch="z9hG4bKre1", body=OFFER))
    assert sent_responses(outputs)[0].code == 200
    assert of(outputs, MediaUpdated) and of(outputs, FocusChanged) == []  # no Contact: nothing changed

    reinvite = in_dialog("INVITE", 3, branch="z9hG4bKre2", body=OFFER)
    reinvite.headers.set("Contact", f"<sip:peer@{PEER}>")  # isfocus gone: a plain call again
    outputs = calls.request_received(reinvite)
    ok = sent_responses(outputs)[0]
    assert ok.code == 200 and ok.headers["Contact"] == f"<sip:room@{GW}>;isfocus"
    change = one(outputs, FocusChanged)
    assert change.remote_focus is False and session.conference_uri is None
    calls.request_received(in_dialog("ACK", 3))

    reinvite = in_dialog("INVITE", 4, branch="z9hG4bKre3", body=OFFER)
    reinvite.headers.set("Contact", f"<sip:conf@{PEER}>;isfocus")  # a conference now, at another URI
    change = one(calls.request_received(reinvite), FocusChanged)
    assert change.remote_focus is True and change.conference_uri == URI.parse(f"sip:conf@{PEER}")


def test_reinvite_with_an_unacceptable_offer_gets_488_and_the_call_goes_on() -> None:
    calls = sessions()
    session, _ = answered_call(calls)
    before = session.local_sdp
    outputs = calls.request_received(in_dialog("INVITE", 2, body=VIDEO_ONLY))
    assert sent_responses(outputs)[0].code == 488
    assert session.state is CallState.CONFIRMED and session.local_sdp == before


def test_reinvite_with_a_lower_cseq_gets_500() -> None:
    calls = sessions()
    answered_call(calls)
    assert (
        sent_responses(calls.request_received(in_dialog("INVITE", 5, branch="z9hG4bKr5", body=OFFER)))[0].code
        == 200
    )
    calls.request_received(in_dialog("ACK", 5))
    outputs = calls.request_received(in_dialog("INVITE", 4, branch="z9hG4bKlow", body=OFFER))
    assert sent_responses(outputs)[0].code == 500


def test_glare_a_reinvite_while_ours_is_pending_gets_491() -> None:
    calls = sessions()
    session, _ = answered_call(calls)
    ours = one(session.reinvite(), SendRequest)
    assert ours.request.method == "INVITE"
    outputs = calls.request_received(in_dialog("INVITE", 2, branch="z9hG4bKglare", body=OFFER))
    assert sent_responses(outputs)[0].code == 491


# -- UAC -------------------------------------------------------------------------------------------------


def place(calls: InviteSessions, **kwargs: Any) -> tuple[InviteSession, Request]:
    session, outputs = calls.call(f"sip:conf@{PEER}", local=f"<sip:gateway@{GW}>", **kwargs)
    sent = one(outputs, SendRequest)
    sent.request.headers.set("Via", f"SIP/2.0/UDP {GW};branch=z9hG4bKours1;rport")  # as the driver does
    return session, sent.request


def peer_answer(
    invite_request: Request,
    code: int,
    *,
    contact: str = f"<sip:conf@{PEER}>;isfocus",
    body: str = "",
    headers: tuple[tuple[str, str], ...] = (),
) -> Response:
    extra = [("Contact", contact), *headers] if code < 300 and code > 100 else list(headers)
    answer = create_response(invite_request, code, tag="peer9", headers=extra, body=body.encode())
    if body:
        answer.headers.set("Content-Type", "application/sdp")
    return answer


def answer_to(offer_request: Request) -> str:
    offer = parse_sdp(offer_request.body.decode())
    return OFFER.replace(
        "m=audio 41000 RTP/AVP 0 8 101", f"m=audio 41000 RTP/AVP {offer.media[0].formats[0]}"
    )


def test_call_sends_an_invite_with_our_offer_and_contact() -> None:
    calls = sessions()
    session, sent = place(calls)
    assert str(sent.uri) == f"sip:conf@{PEER}"
    assert from_tag(sent) == session.local_tag and to_tag(sent) is None
    assert sent.headers["Contact"] == f"<sip:{GW}>"
    assert sent.headers["Content-Type"] == "application/sdp"
    assert parse_sdp(sent.body.decode()).media[0].port == 42000
    _, focused = place(sessions(), focus=True)
    assert focused.headers["Contact"] == f"<sip:{GW}>;isfocus"


def test_a_focus_answers_we_ack_and_report_its_conference_uri() -> None:
    calls = sessions()
    session, sent = place(calls)
    assert one(calls.response_received(peer_answer(sent, 180)), Ringing).code == 180
    ok = peer_answer(
        sent,
        200,
        body=answer_to(sent),
        headers=(("Record-Route", "<sip:p1.example;lr>, <sip:p2.example;lr>"),),
    )
    outputs = calls.response_received(ok)
    ack = one(outputs, SendAck)
    assert ack.cseq == 1 and ack.dialog.remote_tag == "peer9"
    assert [r.text for r in ack.dialog.route_set] == [
        "<sip:p2.example;lr>",
        "<sip:p1.example;lr>",
    ]  # reversed (UAC)
    established = one(outputs, Established)
    assert established.remote_focus is True
    assert session.conference_uri == URI.parse(f"sip:conf@{PEER}")


def test_a_peer_without_isfocus_is_a_plain_call() -> None:
    calls = sessions()
    session, sent = place(calls)
    outputs = calls.response_received(
        peer_answer(sent, 200, contact=f"<sip:bob@{PEER}>", body=answer_to(sent))
    )
    assert one(outputs, Established).remote_focus is False and session.conference_uri is None


def test_a_final_error_is_reported() -> None:
    calls = sessions()
    _, sent = place(calls)
    failed = one(calls.response_received(peer_answer(sent, 486)), CallFailed)
    assert (failed.code, failed.phrase) == (486, "Busy Here")
    assert len(calls) == 0


def test_a_challenge_is_answered_with_digest_credentials() -> None:
    calls = sessions()
    _, sent = place(calls, credentials=[Credentials("gw", "secret")])
    challenge = ("WWW-Authenticate", 'Digest realm="bridge", nonce="abc", qop="auth"')
    outputs = calls.response_received(peer_answer(sent, 401, headers=(challenge,)))
    retry = one(outputs, SendRequest).request
    assert retry.cseq.sequence == 2 and retry.call_id == sent.call_id and from_tag(retry) == from_tag(sent)
    assert retry.headers["Authorization"].startswith('Digest username="gw", realm="bridge"')
    assert retry.via[0].parameters["branch"] != "z9hG4bKours1"
    retry.headers.set("Via", f"SIP/2.0/UDP {GW};branch=z9hG4bKours2")
    again = calls.response_received(peer_answer(retry, 401, headers=(challenge,)))  # refused: give up
    assert one(again, CallFailed).code == 401


def test_a_challenge_without_credentials_fails() -> None:
    calls = sessions()
    _, sent = place(calls)
    challenge = ("Proxy-Authenticate", 'Digest realm="p", nonce="n"')
    assert one(calls.response_received(peer_answer(sent, 407, headers=(challenge,))), CallFailed).code == 407


def test_cancel_waits_for_a_provisional_then_copies_the_invite() -> None:
    calls = sessions()
    session, sent = place(calls)
    assert session.cancel() == []  # RFC 3261 9.1: not before a provisional response
    outputs = calls.response_received(peer_answer(sent, 180))
    cancel_request = one(outputs, SendRequest).request
    assert cancel_request.method == "CANCEL" and of(outputs, Ringing) == []
    assert cancel_request.headers["Via"] == sent.headers["Via"]
    assert cancel_request.cseq.sequence == 1 and cancel_request.cseq.method == "CANCEL"
    assert cancel_request.headers["To"] == sent.headers["To"] and str(cancel_request.uri) == str(sent.uri)
    failed = one(calls.response_received(peer_answer(sent, 487)), CallFailed)
    assert failed.code == 487


def test_a_2xx_after_our_cancel_is_acked_and_ended_with_bye() -> None:
    calls = sessions()
    session, sent = place(calls)
    calls.response_received(peer_answer(sent, 180))
    session.cancel()
    outputs = calls.response_received(peer_answer(sent, 200, body=answer_to(sent)))
    assert of(outputs, SendAck) and one(outputs, SendRequest).request.method == "BYE"
    bye = one(outputs, SendRequest).request
    assert one(calls.response_received(create_response(bye, 200)), Ended).reason == "cancelled"


def test_an_unacceptable_answer_is_acked_then_ended() -> None:
    calls = sessions()
    _, sent = place(calls)
    bad = OFFER.replace("m=audio 41000 RTP/AVP 0 8 101", "m=audio 41000 RTP/AVP 99")
    outputs = calls.response_received(peer_answer(sent, 200, body=bad))
    assert of(outputs, SendAck) and one(outputs, SendRequest).request.method == "BYE"
    assert of(outputs, Established) == []


def up(calls: InviteSessions) -> tuple[InviteSession, Request]:
    session, sent = place(calls)
    calls.response_received(peer_answer(sent, 200, body=answer_to(sent)))
    return session, sent


def test_our_reinvite_adds_isfocus_and_glare_retries_later() -> None:
    calls = sessions(uniform=lambda: 0.5)
    session, _ = up(calls)
    reinvite = one(session.reinvite(focus=True), SendRequest).request
    assert reinvite.method == "INVITE" and reinvite.cseq.sequence == 2
    assert reinvite.headers["Contact"] == f"<sip:{GW}>;isfocus"
    assert to_tag(reinvite) == "peer9" and str(reinvite.uri) == f"sip:conf@{PEER}"
    reinvite.headers.set("Via", f"SIP/2.0/UDP {GW};branch=z9hG4bKre")
    glare = one(calls.response_received(peer_answer(reinvite, 491)), ArmTimer)
    assert glare.timer.kind is TimerKind.GLARE and glare.delay == pytest.approx(3.05)  # we own the Call-ID
    again = one(calls.timer_fired(glare.timer), SendRequest).request
    assert again.cseq.sequence == 3 and again.headers["Contact"] == f"<sip:{GW}>;isfocus"
    again.headers.set("Via", f"SIP/2.0/UDP {GW};branch=z9hG4bKre2")
    outputs = calls.response_received(peer_answer(again, 200, body=answer_to(again)))
    assert one(outputs, SendAck).cseq == 3
    assert of(outputs, MediaUpdated) and session.local_focus is True


def test_the_peer_drops_isfocus_in_its_2xx_to_our_reinvite() -> None:
    calls = sessions()
    session, _ = up(calls)
    reinvite = one(session.reinvite(), SendRequest).request
    reinvite.headers.set("Via", f"SIP/2.0/UDP {GW};branch=z9hG4bKre")
    outputs = calls.response_received(
        peer_answer(reinvite, 200, contact=f"<sip:conf@{PEER}>", body=answer_to(reinvite))
    )
    assert one(outputs, FocusChanged).remote_focus is False


def test_a_reinvite_refused_leaves_the_call_or_ends_a_gone_dialog() -> None:
    calls = sessions()
    session, _ = up(calls)
    reinvite = one(session.reinvite(), SendRequest).request
    reinvite.headers.set("Via", f"SIP/2.0/UDP {GW};branch=z9hG4bKre")
    assert one(calls.response_received(peer_answer(reinvite, 488)), ReinviteFailed).code == 488
    assert session.state is CallState.CONFIRMED
    reinvite = one(session.reinvite(), SendRequest).request
    reinvite.headers.set("Via", f"SIP/2.0/UDP {GW};branch=z9hG4bKre2")
    assert one(calls.response_received(peer_answer(reinvite, 481)), SendRequest).request.method == "BYE"


def test_hangup_sends_bye_and_its_answer_ends_the_call() -> None:
    calls = sessions()
    session, _ = up(calls)
    bye = one(session.hangup(), SendRequest).request
    assert bye.method == "BYE" and bye.cseq.sequence == 2 and session.state is CallState.ENDING
    assert one(calls.response_received(create_response(bye, 200)), Ended).reason == "hangup"
    assert len(calls) == 0


def test_hangup_before_the_ack_waits_for_it_then_sends_bye() -> None:
    calls = sessions()
    session, _ = incoming_call(calls)
    session.accept()
    assert session.hangup() == []  # RFC 3261 section 15: not before the ACK of our 2xx
    outputs = calls.request_received(in_dialog("ACK", 1))
    assert of(outputs, Established) and one(outputs, SendRequest).request.method == "BYE"


def test_bye_in_the_early_dialog_ends_the_invite_with_487() -> None:
    calls = sessions()
    session, _ = incoming_call(calls)
    session.ring()
    outputs = calls.request_received(in_dialog("BYE", 2))
    assert [(r.code, r.cseq.method) for r in sent_responses(outputs)] == [(200, "BYE"), (487, "INVITE")]
    assert one(outputs, CallFailed).code == 487


def test_a_reinvite_without_offer_gets_our_offer_and_its_ack_the_answer() -> None:
    calls = sessions()
    session, _ = answered_call(calls)
    ok = sent_responses(calls.request_received(in_dialog("INVITE", 2, branch="z9hG4bKno")))[0]
    assert ok.code == 200 and parse_sdp(ok.body.decode()).media[0].port == 42000
    # a second re-INVITE before the ACK brings the answer: glare on the offer/answer exchange
    assert (
        sent_responses(calls.request_received(in_dialog("INVITE", 3, branch="z9hG4bKno2", body=OFFER)))[
            0
        ].code
        == 491
    )
    answer = OFFER.replace("m=audio 41000 RTP/AVP 0 8 101", "m=audio 41000 RTP/AVP 8")
    updated = one(calls.request_received(in_dialog("ACK", 2, body=answer)), MediaUpdated)
    assert updated.remote_sdp.media[0].formats == ("8",)
    assert session.state is CallState.CONFIRMED


def test_options_in_a_dialog_is_answered_and_other_methods_are_501() -> None:
    calls = sessions()
    answered_call(calls)
    ok = sent_responses(calls.request_received(in_dialog("OPTIONS", 2)))[0]
    assert ok.code == 200 and ok.headers["Allow"] == "INVITE, ACK, CANCEL, BYE, OPTIONS"
    assert sent_responses(calls.request_received(in_dialog("INFO", 3)))[0].code == 501


def test_a_challenged_bye_is_sent_again_with_credentials() -> None:
    calls = sessions()
    session, _ = place(calls, credentials=[Credentials("gw", "secret")])
    # the call is up (no challenge on the INVITE), then the BYE is challenged
    sent = session._invite_out
    assert sent is not None
    calls.response_received(peer_answer(sent, 200, body=answer_to(sent)))
    bye = one(session.hangup(), SendRequest).request
    challenge = ("Proxy-Authenticate", 'Digest realm="proxy", nonce="n1"')
    retry = one(calls.response_received(create_response(bye, 407, headers=[challenge])), SendRequest).request
    assert retry.method == "BYE" and retry.cseq.sequence == bye.cseq.sequence + 1
    assert retry.headers["Proxy-Authorization"].startswith('Digest username="gw", realm="proxy"')
    assert one(calls.response_received(create_response(retry, 200)), Ended).reason == "hangup"


def test_a_reinvite_asked_during_glare_waits_for_the_retry() -> None:
    calls = sessions(uniform=lambda: 0.0)
    session, _ = up(calls)
    reinvite = one(session.reinvite(focus=True), SendRequest).request
    reinvite.headers.set("Via", f"SIP/2.0/UDP {GW};branch=z9hG4bKre")
    glare = one(calls.response_received(peer_answer(reinvite, 491)), ArmTimer)
    assert glare.delay == pytest.approx(2.1)
    assert session.reinvite(focus=False) == []  # waits: one re-INVITE at a time
    retried = one(calls.timer_fired(glare.timer), SendRequest).request
    assert retried.headers["Contact"] == f"<sip:{GW}>;isfocus"
    retried.headers.set("Via", f"SIP/2.0/UDP {GW};branch=z9hG4bKre2")
    outputs = calls.response_received(peer_answer(retried, 200, body=answer_to(retried)))
    follow_up = one(outputs, SendRequest).request  # the one asked during the glare
    assert follow_up.method == "INVITE" and follow_up.headers["Contact"] == f"<sip:{GW}>"
