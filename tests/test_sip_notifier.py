"""The sans-IO conference notifier: every rule of its table, driven by SUBSCRIBEs written as they travel."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sipmessage import URI, Address, CSeq, Request, Response

from gateway.conference_info import ConferenceInfo, Endpoint, EndpointStatus, State, User, Users
from gateway.document_parser import parse
from gateway.merge import merge
from sip.actions import CancelTimer, SendRequest, SendResponse, StartTimer, TimerKind
from sip.event_headers import Reason, SubscriptionState, Substate, event_of, expires_of, subscription_state_of
from sip.messages import create_response
from sip.messages import from_tag as from_tag_of
from sip.messages import to_tag as to_tag_of
from sip.notifier import (
    ConferenceNotifier,
    NotifierConfig,
    Output,
    Subscription,
    SubscriptionEnded,
    SubscriptionStarted,
)
from tests.sip_wire import Clock, of, one, reparse, request
from tests.strategies import conference, mutation

ROOM_URI = "sip:weekly@gw.example.org"
GATEWAY = URI.parse("sip:192.0.2.1:5060;transport=udp")
ALICE_CONTACT = "<sip:alice@198.51.100.7:5062;transport=udp>"


class SipRoom:
    """A room in SIP address form whose state the test changes."""

    def __init__(self, uri: str = ROOM_URI) -> None:
        self.uri = uri
        self.current = ConferenceInfo(entity=uri, version=1, users=Users(users={}))
        self.refused: set[str] = set()

    def state(self) -> ConferenceInfo:
        return self.current

    def admits(self, subscriber: Address, request: Request) -> bool:
        return str(subscriber.uri) not in self.refused

    def join(self, entity: str, name: str) -> None:
        user = User(
            entity=entity,
            display_text=name,
            endpoints=[Endpoint(entity=entity + ";gr=phone", status=EndpointStatus.CONNECTED)],
        )
        self.current = merge(
            self.current,
            ConferenceInfo(
                entity=self.uri,
                state=State.PARTIAL,
                version=(self.current.version or 0) + 1,
                users=Users(state=State.PARTIAL, users=[user]),
            ),
        )


class Rooms:
    def __init__(self, *rooms: SipRoom) -> None:
        self.rooms = {room.uri: room for room in rooms}

    def find(self, uri: URI) -> SipRoom | None:
        return self.rooms.get(f"{uri.scheme}:{uri.user}@{uri.host.lower()}")


def subscribe(
    expires: int | None = 600,
    *,
    event: str | None = "conference;id=e1",
    to_tag: str | None = None,
    cseq: int = 1,
    contact: str | None = ALICE_CONTACT,
    extra: str = "",
    uri: str = ROOM_URI,
    call_id: str = "c1@198.51.100.7",
) -> Request:
    lines = [
        f"SUBSCRIBE {uri} SIP/2.0",
        f"Via: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bK-s{cseq};rport",
        "Max-Forwards: 70",
        'From: "Alice" <sip:alice@example.net>;tag=al1',
        f"To: <{ROOM_URI}>" + (f";tag={to_tag}" if to_tag else ""),
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} SUBSCRIBE",
    ]
    if contact is not None:
        lines.append(f"Contact: {contact}")
    if event is not None:
        lines.append(f"Event: {event}")
    if expires is not None:
        lines.append(f"Expires: {expires}")
    lines.append("Accept: application/conference-info+xml")
    text = "\n".join(lines) + "\n" + extra
    return request(text)


def notifier(*rooms: SipRoom, clock: Clock | None = None, **config: Any) -> ConferenceNotifier:
    return ConferenceNotifier(
        Rooms(*(rooms or (SipRoom(),))),
        contact=GATEWAY,
        clock=clock or Clock(),
        config=NotifierConfig(**config),
    )


def answered(outputs: list[Output]) -> Response:
    """The response the subscriber reads."""
    response = reparse(one(outputs, SendResponse).response)
    assert isinstance(response, Response)
    return response


def notify_of(outputs: list[Output]) -> Request:
    sent = one(outputs, SendRequest).request
    assert sent.method == "NOTIFY"
    parsed = reparse(sent)
    assert isinstance(parsed, Request)
    return parsed


def ok(notify: Request, code: int = 200) -> Response:
    """The subscriber's answer to a NOTIFY, as the notifier reads it."""
    response = reparse(create_response(notify, code))
    assert isinstance(response, Response)
    return response


def started(n: ConferenceNotifier, req: Request | None = None) -> tuple[Subscription, Request, Response]:
    out = n.subscribe_received(req or subscribe())
    sub = one(out, SubscriptionStarted).subscription
    return sub, notify_of(out), answered(out)


# -- a new subscription --------------------------------------------------------------------------------------


def test_subscribe_is_accepted_and_full_state_follows_at_once() -> None:
    room = SipRoom()
    room.join("sip:bob@example.com", "Bob")
    n = notifier(room)
    out = n.subscribe_received(subscribe(600))
    response = answered(out)
    assert response.code == 200
    assert expires_of(response) == 600
    assert response.headers["Allow-Events"] == "conference"
    local_tag = to_tag_of(response)
    assert local_tag
    contact = response.contact[0]
    assert contact.uri == URI.parse("sip:weekly@192.0.2.1:5060;transport=udp")
    assert "isfocus" in contact.parameters  # RFC 4579
    timer = one(out, StartTimer)
    assert (timer.timer.kind, timer.delay) == (TimerKind.EXPIRY, 600.0)
    assert one(out, SubscriptionStarted).subscription.room is room

    notify = notify_of(out)
    assert notify.uri == URI.parse("sip:alice@198.51.100.7:5062;transport=udp")  # the remote target
    assert notify.headers.getlist("Route") == []
    assert one(out, SendRequest).next_hop == notify.uri
    assert from_tag_of(notify) == local_tag
    assert to_tag_of(notify) == "al1"
    assert notify.call_id == "c1@198.51.100.7"
    assert notify.cseq.method == "NOTIFY"
    assert str(event_of(notify)) == "conference;id=e1"  # the id echoed
    assert subscription_state_of(notify) == SubscriptionState(Substate.ACTIVE, expires=600)
    assert notify.headers["Content-Type"] == "application/conference-info+xml"
    assert int(notify.headers["Content-Length"]) == len(notify.body)
    document = parse(notify.body)
    assert (document.state, document.version) == (State.FULL, 1)
    assert set(document.user_map()) == {"sip:bob@example.com"}


def test_the_response_comes_before_the_notify() -> None:
    out = notifier().subscribe_received(subscribe())
    kinds = [type(o) for o in out if isinstance(o, SendResponse | SendRequest)]
    assert kinds == [SendResponse, SendRequest]


def test_expires_is_negotiated_down_to_the_maximum_and_defaults() -> None:
    n = notifier(max_expires=900, default_expires=300)
    assert expires_of(answered(n.subscribe_received(subscribe(100_000)))) == 900
    out = n.subscribe_received(subscribe(None, call_id="c2"))
    assert expires_of(answered(out)) == 300
    assert subscription_state_of(notify_of(out)) == SubscriptionState(Substate.ACTIVE, expires=300)


def test_too_brief_gets_423_with_min_expires_and_a_to_tag() -> None:
    n = notifier(min_expires=120)
    out = n.subscribe_received(subscribe(30))
    response = answered(out)
    assert response.code == 423
    assert response.headers["Min-Expires"] == "120"
    assert to_tag_of(response)
    assert response.headers["Allow-Events"] == "conference"
    assert len(out) == 1 and len(n) == 0


def test_expires_zero_is_a_fetch_state_once_then_terminated() -> None:
    room = SipRoom()
    room.join("sip:bob@example.com", "Bob")
    n = notifier(room)
    out = n.subscribe_received(subscribe(0))
    assert answered(out).code == 200
    assert expires_of(answered(out)) == 0
    notify = notify_of(out)
    assert subscription_state_of(notify) == SubscriptionState(Substate.TERMINATED, reason=Reason.TIMEOUT)
    assert parse(notify.body).user_map().keys() == {"sip:bob@example.com"}
    assert len(n) == 0
    assert not of(out, StartTimer)


# -- refusals ------------------------------------------------------------------------------------------------


def test_other_events_get_489_with_allow_events() -> None:
    for event in ("presence", "conference.winfo", None):
        response = answered(notifier().subscribe_received(subscribe(event=event)))
        assert response.code == 489
        assert response.phrase == "Bad Event"
        assert response.headers["Allow-Events"] == "conference"
        assert to_tag_of(response)


def test_unknown_room_gets_404() -> None:
    response = answered(notifier().subscribe_received(subscribe(uri="sip:nothere@gw.example.org")))
    assert response.code == 404
    assert to_tag_of(response)


def test_policy_refusal_gets_403() -> None:
    room = SipRoom()
    room.refused.add("sip:alice@example.net")
    n = notifier(room)
    response = answered(n.subscribe_received(subscribe()))
    assert response.code == 403
    assert to_tag_of(response)
    assert len(n) == 0


def test_malformed_requests_get_400() -> None:
    for req in (
        subscribe(event="conference;id=a b"),
        subscribe(contact=None),
        subscribe(extra="Expires: soon\n", expires=None),
    ):
        response = answered(notifier().subscribe_received(req))
        assert response.code == 400, req
        assert response.phrase.startswith("Bad Request")
        assert to_tag_of(response)


def test_what_a_dialog_needs_is_checked() -> None:
    no_from_tag = subscribe()
    no_from_tag.headers.set("From", "<sip:alice@example.net>")
    two_contacts = subscribe(contact="<sip:a@198.51.100.7>, <sip:b@198.51.100.8>")
    bad_route = subscribe(extra="Record-Route: <not a uri>\n")
    for req in (no_from_tag, two_contacts, bad_route):
        n = notifier()
        response = answered(n.subscribe_received(req))
        assert response.code == 400, req
        assert len(n) == 0


def test_accept_without_conference_info_gets_406() -> None:
    req = subscribe()
    req.headers.set("Accept", "application/pidf+xml")
    response = answered(notifier().subscribe_received(req))
    assert response.code == 406
    assert response.headers["Accept"] == "application/conference-info+xml"
    req.headers.set("Accept", "application/*")
    assert answered(notifier().subscribe_received(req)).code == 200


def test_error_responses_copy_via_from_call_id_cseq_as_received() -> None:
    req = subscribe(event="presence")
    response = answered(notifier().subscribe_received(req))
    for name in ("Via", "From", "Call-ID", "CSeq"):
        assert response.headers[name] == req.headers[name]
    assert response.headers["To"].startswith(req.headers["To"] + ";tag=")


# -- refresh and unsubscribe ---------------------------------------------------------------------------------


def test_refresh_gets_full_state_again_with_the_next_version() -> None:
    room = SipRoom()
    clock = Clock()
    n = notifier(room, clock=clock)
    sub, first, response = started(n)
    n.response_received(ok(first))
    clock.now += 300
    old_expiry = sub.expiry
    out = n.subscribe_received(subscribe(600, to_tag=to_tag_of(response), cseq=2))
    assert answered(out).code == 200
    assert expires_of(answered(out)) == 600
    notify = notify_of(out)
    assert (parse(notify.body).state, parse(notify.body).version) == (State.FULL, 2)
    assert subscription_state_of(notify) == SubscriptionState(Substate.ACTIVE, expires=600)
    assert notify.cseq.sequence == first.cseq.sequence + 1
    cancel, start = one(out, CancelTimer), one(out, StartTimer)
    assert cancel.timer == old_expiry
    assert (start.timer, start.delay) == (sub.expiry, 600.0)


def test_refresh_may_move_the_remote_target() -> None:
    n = notifier()
    _, first, response = started(n)
    n.response_received(ok(first))
    out = n.subscribe_received(
        subscribe(600, to_tag=to_tag_of(response), cseq=2, contact="<sip:alice@203.0.113.5:5070>")
    )
    assert notify_of(out).uri == URI.parse("sip:alice@203.0.113.5:5070")


def test_refresh_too_brief_gets_423_and_the_subscription_stays() -> None:
    n = notifier(min_expires=120)
    sub, _, response = started(n)
    out = n.subscribe_received(subscribe(10, to_tag=to_tag_of(response), cseq=2))
    assert answered(out).code == 423
    assert to_tag_of(answered(out)) == to_tag_of(response)
    assert n.subscriptions() == [sub]


def test_unsubscribe_gets_a_terminated_notify_and_ends_it() -> None:
    n = notifier()
    sub, first, response = started(n)
    n.response_received(ok(first))
    out = n.subscribe_received(subscribe(0, to_tag=to_tag_of(response), cseq=2))
    assert answered(out).code == 200
    assert expires_of(answered(out)) == 0
    notify = notify_of(out)
    assert subscription_state_of(notify) == SubscriptionState(Substate.TERMINATED, reason=Reason.TIMEOUT)
    assert notify.body == b""
    assert str(event_of(notify)) == "conference;id=e1"
    assert one(out, SubscriptionEnded) == SubscriptionEnded(sub, "timeout")
    assert one(out, CancelTimer).timer.kind is TimerKind.EXPIRY
    assert len(n) == 0
    again = n.subscribe_received(subscribe(600, to_tag=to_tag_of(response), cseq=3))
    assert answered(again).code == 481


def test_unknown_dialog_or_event_id_gets_481() -> None:
    n = notifier()
    _, _, response = started(n)
    assert answered(n.subscribe_received(subscribe(600, to_tag="nope", cseq=2))).code == 481
    other_id = subscribe(600, to_tag=to_tag_of(response), cseq=2, event="conference;id=e2")
    assert answered(n.subscribe_received(other_id)).code == 481
    assert (
        answered(
            n.subscribe_received(subscribe(600, to_tag=to_tag_of(response), cseq=2, event="presence"))
        ).code
        == 489
    )


def test_refresh_with_an_old_cseq_gets_500() -> None:
    n = notifier()
    _, _, response = started(n, subscribe(cseq=5))
    out = n.subscribe_received(subscribe(600, to_tag=to_tag_of(response), cseq=5))
    assert answered(out).code == 500
    assert not of(out, SendRequest)


# -- changes, expiry, the room's end ---------------------------------------------------------------------------


def test_a_change_is_sent_as_a_partial_with_the_next_version() -> None:
    room = SipRoom()
    room.join("sip:bob@example.com", "Bob")
    n = notifier(room)
    _, first, _ = started(n)
    assert n.response_received(ok(first)) == []
    room.join("sip:carol@example.com", "Carol")
    notify = notify_of(n.room_changed(room))
    document = parse(notify.body)
    assert (document.state, document.version) == (State.PARTIAL, 2)
    assert set(document.user_map()) == {"sip:carol@example.com"}
    assert n.response_received(ok(notify)) == []
    assert n.room_changed(room) == []  # nothing new


def test_a_notify_says_how_long_the_subscription_has_left() -> None:
    room, clock = SipRoom(), Clock()
    n = notifier(room, clock=clock)
    _, first, _ = started(n)
    n.response_received(ok(first))
    clock.now += 100.5
    room.join("sip:carol@example.com", "Carol")
    notify = notify_of(n.room_changed(room))
    assert subscription_state_of(notify) == SubscriptionState(Substate.ACTIVE, expires=500)


def test_versions_are_counted_per_subscription() -> None:
    room = SipRoom()
    room.join("sip:bob@example.com", "Bob")
    n = notifier(room)
    _, first_a, response_a = started(n)
    n.response_received(ok(first_a))
    refresh = n.subscribe_received(subscribe(600, to_tag=to_tag_of(response_a), cseq=2))
    n.response_received(ok(notify_of(refresh)))  # A holds version 2
    _, first_b, _ = started(n, subscribe(call_id="c2"))
    n.response_received(ok(first_b))  # B holds version 1
    room.join("sip:carol@example.com", "Carol")
    out = n.room_changed(room)
    documents = {reparse(o.request).call_id: parse(reparse(o.request).body) for o in of(out, SendRequest)}
    assert documents["c1@198.51.100.7"].version == 3
    assert documents["c2"].version == 2
    assert {d.state for d in documents.values()} == {State.PARTIAL}


def test_changes_wait_for_the_outstanding_notify_and_go_as_one() -> None:
    room = SipRoom()
    room.join("sip:bob@example.com", "Bob")
    n = notifier(room)
    _, first, _ = started(n)
    room.join("sip:carol@example.com", "Carol")
    assert n.room_changed(room) == []
    room.join("sip:dave@example.com", "Dave")
    assert n.room_changed(room) == []
    notify = notify_of(n.response_received(ok(first)))
    document = parse(notify.body)
    assert (document.state, document.version) == (State.PARTIAL, 2)
    assert set(document.user_map()) == {"sip:carol@example.com", "sip:dave@example.com"}


def test_a_refresh_while_a_notify_is_outstanding_gets_full_state_after_it() -> None:
    room = SipRoom()
    n = notifier(room)
    _, first, response = started(n)
    out = n.subscribe_received(subscribe(600, to_tag=to_tag_of(response), cseq=2))
    assert answered(out).code == 200
    assert not of(out, SendRequest)
    document = parse(notify_of(n.response_received(ok(first))).body)
    assert (document.state, document.version) == (State.FULL, 2)


def test_expiry_sends_terminated_timeout() -> None:
    n = notifier()
    sub, first, _ = started(n)
    n.response_received(ok(first))
    timer = sub.expiry
    assert timer is not None
    out = n.timer_fired(timer)
    notify = notify_of(out)
    assert subscription_state_of(notify) == SubscriptionState(Substate.TERMINATED, reason=Reason.TIMEOUT)
    assert one(out, SubscriptionEnded).reason == "timeout"
    assert len(n) == 0
    assert n.timer_fired(timer) == []


def test_a_stale_expiry_timer_is_ignored() -> None:
    n = notifier()
    sub, _, response = started(n)
    old = sub.expiry
    assert old is not None
    n.subscribe_received(subscribe(600, to_tag=to_tag_of(response), cseq=2))
    assert n.timer_fired(old) == []
    assert len(n) == 1


def test_the_room_ending_sends_noresource_to_each_subscription() -> None:
    room, other = SipRoom(), SipRoom("sip:other@gw.example.org")
    n = notifier(room, other)
    started(n)
    started(n, subscribe(call_id="c2"))
    started(n, subscribe(call_id="c3", uri="sip:other@gw.example.org"))
    out = n.room_ended(room)
    notifies = [reparse(o.request) for o in of(out, SendRequest)]
    assert len(notifies) == 2
    for notify in notifies:
        assert subscription_state_of(notify) == SubscriptionState(
            Substate.TERMINATED, reason=Reason.NORESOURCE
        )
    assert [e.reason for e in of(out, SubscriptionEnded)] == ["noresource", "noresource"]
    assert len(n) == 1


def test_ending_a_subscription_ourselves() -> None:
    n = notifier()
    sub, _, _ = started(n)
    notify = notify_of(n.end(sub))
    assert subscription_state_of(notify) == SubscriptionState(Substate.TERMINATED, reason=Reason.DEACTIVATED)
    assert n.end(sub) == []


# -- answers to our NOTIFYs ------------------------------------------------------------------------------------


def test_a_notify_answered_481_ends_the_subscription_without_another_notify() -> None:
    n = notifier()
    sub, first, _ = started(n)
    out = n.response_received(ok(first, 481))
    assert one(out, SubscriptionEnded) == SubscriptionEnded(
        sub, "notify-failed", "481 Call/Transaction Does Not Exist"
    )
    assert not of(out, SendRequest)
    assert one(out, CancelTimer).timer.kind is TimerKind.EXPIRY
    assert len(n) == 0


def test_a_notify_error_or_timeout_ends_the_subscription() -> None:
    n = notifier()
    _, first, _ = started(n)
    assert one(n.response_received(ok(first, 408)), SubscriptionEnded).detail == "408 Request Timeout"
    n2 = notifier()
    _, first2, _ = started(n2)
    assert one(n2.request_failed(first2, "timer F"), SubscriptionEnded).detail == "timer F"
    assert len(n2) == 0


def test_provisional_and_unknown_answers_change_nothing() -> None:
    n = notifier()
    _, first, _ = started(n)
    trying = ok(first, 100)
    assert n.response_received(trying) == []
    stranger = ok(first)
    stranger.headers.set("Call-ID", "someone-else")
    assert n.response_received(stranger) == []
    assert len(n) == 1


def test_an_answer_to_our_notify_sent_again_with_credentials_is_ours() -> None:
    room = SipRoom()
    n = notifier(room)
    _, first, _ = started(n)
    room.join("sip:carol@example.com", "Carol")
    n.room_changed(room)  # waits for the first NOTIFY's answer
    answer = ok(first)
    answer.cseq = CSeq(first.cseq.sequence + 1, "NOTIFY")  # the transport answered a 401 with credentials
    notify = notify_of(n.response_received(answer))
    assert notify.cseq.sequence == first.cseq.sequence + 2
    assert n.response_received(ok(first)) == []  # an answer to the challenged one, late: nothing


def test_version_overflow_deactivates() -> None:
    room = SipRoom()
    n = notifier(room)
    sub, first, _ = started(n)
    n.response_received(ok(first))
    sub.view.version = 2**32 - 1
    room.join("sip:carol@example.com", "Carol")
    out = n.room_changed(room)
    assert subscription_state_of(notify_of(out)) == SubscriptionState(
        Substate.TERMINATED, reason=Reason.DEACTIVATED
    )
    assert len(n) == 0


# -- routing of in-dialog requests (RFC 3261 section 12.2.1.1) ---------------------------------------------------


def test_notify_follows_the_record_route_set_in_order() -> None:
    req = subscribe(
        extra="Record-Route: <sip:p2.example.net;lr;ftag=al1>\nRecord-Route: <sip:p1.example.org;lr>\n"
    )
    out = notifier().subscribe_received(req)
    assert answered(out).headers.getlist("Record-Route") == req.headers.getlist("Record-Route")
    notify = notify_of(out)
    assert notify.uri == URI.parse("sip:alice@198.51.100.7:5062;transport=udp")
    assert notify.headers.getlist("Route") == ["<sip:p2.example.net;lr;ftag=al1>", "<sip:p1.example.org;lr>"]
    assert one(out, SendRequest).next_hop == URI.parse("sip:p2.example.net;lr;ftag=al1")


def test_record_route_in_one_header_with_commas() -> None:
    req = subscribe(extra='Record-Route: <sip:p2.example.net;lr>, "odd, name" <sip:p1.example.org;lr>\n')
    notify = notify_of(notifier().subscribe_received(req))
    assert notify.headers.getlist("Route") == [
        "<sip:p2.example.net;lr>",
        '"odd, name" <sip:p1.example.org;lr>',
    ]


def test_strict_router_first_puts_it_in_the_request_uri() -> None:
    req = subscribe(extra="Record-Route: <sip:strict.example.net;method=INVITE>, <sip:p1.example.org;lr>\n")
    out = notifier().subscribe_received(req)
    notify = notify_of(out)
    assert notify.uri == URI.parse("sip:strict.example.net")
    assert notify.headers.getlist("Route") == [
        "<sip:p1.example.org;lr>",
        "<sip:alice@198.51.100.7:5062;transport=udp>",
    ]
    assert one(out, SendRequest).next_hop == URI.parse("sip:strict.example.net")


# -- a property: what a subscriber merges is what the room holds ------------------------------------------------


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_merging_every_notify_gives_the_room_state_with_versions_one_by_one(data: st.DataObject) -> None:
    room = SipRoom()
    room.current = data.draw(conference(ROOM_URI))
    n = notifier(room)
    _, notify, response = started(n)
    held = None
    versions = []
    pending: Request | None = notify
    for step in range(data.draw(st.integers(1, 6))):
        if pending is not None:
            document = parse(pending.body)
            versions.append(document.version)
            held = merge(held, document)
            out = n.response_received(ok(pending))
            pending = notify_of(out) if of(out, SendRequest) else None
        if pending is not None:
            continue
        if data.draw(st.booleans()):
            room.current = data.draw(mutation(room.current))
            out = n.room_changed(room)
        else:
            out = n.subscribe_received(subscribe(600, to_tag=to_tag_of(response), cseq=2 + step))
        pending = notify_of(out) if of(out, SendRequest) else None
    while pending is not None:
        document = parse(pending.body)
        versions.append(document.version)
        held = merge(held, document)
        out = n.response_received(ok(pending))
        pending = notify_of(out) if of(out, SendRequest) else None
    assert held is not None
    assert held.model_copy(update={"version": None}) == room.current.model_copy(update={"version": None})
    assert versions == list(range(1, len(versions) + 1))


# -- whatever a peer sends, one response and no exception --------------------------------------------------------

odd = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=30
) | st.sampled_from(
    [
        "conference",
        "conference;id=",
        "0",
        "-1",
        "99999999999",
        "<sip:x@y;lr>",
        "<>",
        "sip:",
        ";tag=",
        "<sip:a@b>;tag=",
    ]
)
HEADERS = ["Event", "Expires", "Contact", "Accept", "Record-Route", "From", "To", "CSeq"]


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(HEADERS), odd, max_size=4))
def test_any_subscribe_gets_one_response(values: dict[str, str]) -> None:
    n = notifier()
    _, _, response = started(n)
    for to_tag in (None, to_tag_of(response)):
        req = subscribe(to_tag=to_tag, cseq=9)
        for name, value in values.items():
            req.headers.set(name, value)
        out = n.subscribe_received(req)
        responses = of(out, SendResponse)
        assert len(responses) == 1
        assert responses[0].response.code >= 200
        if responses[0].response.code >= 300:
            assert not of(out, SendRequest)


def test_subscribers_at_one_version_get_one_document_made_once() -> None:
    room = SipRoom()
    n = notifier(room)
    for i in range(3):
        _, notify, _ = started(n, subscribe(call_id=f"c{i}@198.51.100.7"))
        n.response_received(ok(notify))
    room.join("sip:bob@example.com", "Bob")
    sent = [o.request for o in of(n.room_changed(room), SendRequest)]
    assert len({notify.call_id for notify in sent}) == 3
    assert len({id(notify.body) for notify in sent}) == 1  # made and serialised once
    document = parse(sent[0].body)
    assert document.version == 2  # (full or partial, whichever is smaller)
    assert list(document.user_map()) == ["sip:bob@example.com"]
