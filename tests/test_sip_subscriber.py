"""The sans-IO conference subscriber: every rule of its table, driven by messages written as they travel, and
a notifier and a subscriber talking to each other through the wire form."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sipmessage import URI, Address, CSeq, Request, Response

from gateway.conference_info import ConferenceInfo, Endpoint, EndpointStatus, State, User, Users
from gateway.document_parser import parse
from gateway.document_writer import serialize
from sip.actions import CancelTimer, SendRequest, SendResponse, StartTimer, Timer, TimerKind
from sip.dialogs import Route
from sip.event_headers import Reason, event_of, expires_of
from sip.messages import create_response
from sip.messages import from_tag as from_tag_of
from sip.messages import to_tag as to_tag_of
from sip.notifier import ConferenceNotifier
from sip.subscriber import (
    AFTER_TERMINATION,
    ConferenceSubscriber,
    ConferenceSubscribers,
    Interrupted,
    Output,
    StateChanged,
    Stopped,
    SubscriberConfig,
    SubscriberState,
)
from tests.sip_wire import Clock, of, one, reparse, request
from tests.strategies import conference, mutation
from tests.test_sip_notifier import GATEWAY, ROOM_URI, Rooms, SipRoom

CONFERENCE = "sip:conf@bridge.example.net"
FOCUS_CONTACT = "<sip:conf@192.0.2.50:5060;transport=udp>"


class Tokens:
    """Predictable Call-IDs and tags: t1, t2, ..."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self) -> str:
        self.n += 1
        return f"t{self.n}"


def subscriber(
    clock: Clock | None = None, conference: str = CONFERENCE, **config: Any
) -> ConferenceSubscriber:
    return ConferenceSubscriber(
        Address(URI.parse(conference)),
        local=Address(URI.parse("sip:weekly@gw.example.org"), "Weekly"),
        contact=Address(URI.parse("sip:weekly@192.0.2.1:5060;transport=udp")),
        clock=clock or Clock(5000.0),
        config=SubscriberConfig(**config),
        new_token=Tokens(),
    )


def sent(outputs: list[Output]) -> Request:
    """The SUBSCRIBE the notifier reads."""
    req = reparse(one(outputs, SendRequest).request)
    assert isinstance(req, Request)
    return req


def answer(
    subscribe: Request,
    code: int = 200,
    *,
    expires: int | None = 600,
    extra: list[tuple[str, str]] | None = None,
) -> Response:
    headers = list(extra or [])
    if code < 300:
        headers += [("Contact", FOCUS_CONTACT)]
        if expires is not None:
            headers.append(("Expires", str(expires)))
    response = reparse(create_response(subscribe, code, tag="n1", headers=headers))
    assert isinstance(response, Response)
    return response


def notify(
    subscribe: Request,
    state: str = "active;expires=600",
    body: bytes | str = b"",
    *,
    cseq: int = 1,
    from_tag: str = "n1",
    event: str = "conference",
    content_type: str = "application/conference-info+xml",
    extra: str = "",
) -> Request:
    lines = [
        f"NOTIFY {subscribe.headers['Contact'].strip('<>').split('>')[0]} SIP/2.0",
        f"Via: SIP/2.0/UDP 192.0.2.50:5060;branch=z9hG4bK-n{cseq}",
        "Max-Forwards: 70",
        f"From: {subscribe.headers['To'].split(';tag=')[0]};tag={from_tag}",
        f"To: {subscribe.headers['From']}",
        f"Call-ID: {subscribe.call_id}",
        f"CSeq: {cseq} NOTIFY",
        f"Contact: {FOCUS_CONTACT}",
        f"Event: {event}",
        f"Subscription-State: {state}",
    ]
    if body:
        lines.append(f"Content-Type: {content_type}")
    return request("\n".join(lines) + "\n" + extra, body)


def user(entity: str, name: str) -> User:
    return User(
        entity=entity, display_text=name, endpoints=[Endpoint(entity=entity, status=EndpointStatus.CONNECTED)]
    )


def document(version: int, *users: User, state: State = State.FULL, entity: str = CONFERENCE) -> bytes:
    return serialize(
        ConferenceInfo(
            entity=entity, state=state, version=version, users=Users(state=state, users=list(users))
        )
    )


def active(clock: Clock | None = None, **config: Any) -> tuple[ConferenceSubscriber, Request]:
    """A subscriber with an accepted subscription and its first full document."""
    s = subscriber(clock, **config)
    first = sent(s.start())
    s.response_received(answer(first))
    s.notify_received(notify(first, body=document(1, user("sip:bob@example.com", "Bob"))))
    assert s.state is SubscriberState.ACTIVE
    return s, first


def armed(s: ConferenceSubscriber, kind: TimerKind) -> Timer:
    found = s.armed(kind)
    assert found is not None
    return found


def response_to(outputs: list[Output]) -> Response:
    return one(outputs, SendResponse).response


def timer(s: ConferenceSubscriber, outputs: list[Output], kind: TimerKind) -> StartTimer:
    return next(o for o in reversed(outputs) if isinstance(o, StartTimer) and o.timer.kind is kind)


# -- subscribing ------------------------------------------------------------------------------------------------


def test_the_subscribe_asks_for_conference_state() -> None:
    s = subscriber(expires=1800, event_id="x1")
    out = s.start()
    req = sent(out)
    assert req.method == "SUBSCRIBE"
    assert req.uri == URI.parse(CONFERENCE)
    assert one(out, SendRequest).next_hop == URI.parse(CONFERENCE)
    assert str(event_of(req)) == "conference;id=x1"
    assert req.headers["Accept"] == "application/conference-info+xml"
    assert expires_of(req) == 1800
    assert req.headers["Max-Forwards"] == "70"
    assert from_tag_of(req) and to_tag_of(req) is None
    assert req.contact[0].uri == URI.parse("sip:weekly@192.0.2.1:5060;transport=udp")
    assert req.cseq.sequence == 1
    assert s.state is SubscriberState.SUBSCRIBING


def test_a_preloaded_route_is_followed() -> None:
    s = subscriber(preloaded_route=(Route.parse("<sip:outbound.example.org;lr>"),))
    out = s.start()
    assert sent(out).headers.getlist("Route") == ["<sip:outbound.example.org;lr>"]
    assert one(out, SendRequest).next_hop == URI.parse("sip:outbound.example.org;lr")


@pytest.mark.parametrize("code", [200, 202])
def test_2xx_then_notify_gives_the_state(code: int) -> None:
    s = subscriber()
    first = sent(s.start())
    out = s.response_received(answer(first, code, expires=600))
    assert s.state is SubscriberState.ACTIVE
    kinds = {t.timer.kind: t.delay for t in of(out, StartTimer)}
    assert kinds == {TimerKind.REFRESH: 480.0, TimerKind.EXPIRY: 600.0, TimerKind.NOTIFY_WAIT: 32.0}
    out = s.notify_received(notify(first, body=document(1, user("sip:bob@example.com", "Bob"))))
    response = response_to(out)
    assert response.code == 200
    assert to_tag_of(response) == from_tag_of(first)
    state = one(out, StateChanged).state
    assert set(state.user_map()) == {"sip:bob@example.com"}
    assert s.conference_state == state
    assert one(out, CancelTimer).timer.kind is TimerKind.NOTIFY_WAIT
    assert not of(out, StartTimer)  # its expires=600 is what the 2xx said: nothing to re-arm


def test_a_2xx_without_a_contact_is_a_failure() -> None:
    s = subscriber()
    first = sent(s.start())
    response = answer(first)
    response.headers.remove("Contact")
    out = s.response_received(response)
    assert one(out, Interrupted).reason.startswith("unusable 2xx")
    assert s.state is SubscriberState.WAITING


def test_a_notify_before_the_2xx_makes_the_dialog() -> None:
    s = subscriber()
    first = sent(s.start())
    out = s.notify_received(notify(first, body=document(1, user("sip:bob@example.com", "Bob"))))
    assert response_to(out).code == 200
    assert of(out, StateChanged)
    assert s.state is SubscriberState.ACTIVE
    assert s.dialog is not None and s.dialog.remote_tag == "n1"
    out = s.response_received(answer(first))
    assert {t.timer.kind for t in of(out, StartTimer)} == {TimerKind.REFRESH, TimerKind.EXPIRY}


def test_refresh_goes_in_dialog_to_the_contact_along_the_reversed_record_route() -> None:
    s = subscriber()
    first = sent(s.start())
    rr = [("Record-Route", "<sip:p1.example.net;lr>"), ("Record-Route", "<sip:p2.example.org;lr>")]
    out = s.response_received(answer(first, extra=rr))
    s.notify_received(notify(first, body=document(1)))
    out = s.timer_fired(timer(s, out, TimerKind.REFRESH).timer)
    refresh = sent(out)
    assert refresh.uri == URI.parse("sip:conf@192.0.2.50:5060;transport=udp")
    assert refresh.headers.getlist("Route") == ["<sip:p2.example.org;lr>", "<sip:p1.example.net;lr>"]
    assert one(out, SendRequest).next_hop == URI.parse("sip:p2.example.org;lr")
    assert to_tag_of(refresh) == "n1"
    assert refresh.call_id == first.call_id
    assert refresh.cseq.sequence == 2
    assert expires_of(refresh) == 3600
    out = s.response_received(answer(refresh, expires=300))
    assert {t.timer.kind: t.delay for t in of(out, StartTimer)} == {
        TimerKind.REFRESH: 240.0,
        TimerKind.EXPIRY: 300.0,
    }


def test_an_answer_to_our_subscribe_sent_again_with_credentials_is_ours() -> None:
    s = subscriber()
    first = sent(s.start())
    # the transport answered a 401 itself and sent the SUBSCRIBE again with CSeq 2
    retried = sent([SendRequest(first, URI.parse(CONFERENCE))])
    retried.cseq = CSeq(2, "SUBSCRIBE")
    s.response_received(answer(retried))
    assert s.state is SubscriberState.ACTIVE
    s.notify_received(notify(first, body=document(1)))
    assert sent(s.refresh()).cseq.sequence == 3


def test_423_retries_with_min_expires_in_the_same_call() -> None:
    s = subscriber(expires=60)
    first = sent(s.start())
    out = s.response_received(answer(first, 423, extra=[("Min-Expires", "900")]))
    again = sent(out)
    assert expires_of(again) == 900
    assert again.call_id == first.call_id
    assert again.cseq.sequence == 2
    assert s.state is SubscriberState.SUBSCRIBING


def test_423_without_a_larger_min_expires_stops() -> None:
    s = subscriber(expires=900)
    first = sent(s.start())
    out = s.response_received(answer(first, 423, extra=[("Min-Expires", "60")]))
    assert s.state is SubscriberState.STOPPED
    assert one(out, Stopped).reason == "423 Interval Too Brief"


def test_the_expires_in_a_notify_reschedules_the_refresh() -> None:
    s, first = active()
    out = s.notify_received(notify(first, "active;expires=100", cseq=2))
    assert {t.timer.kind: t.delay for t in of(out, StartTimer)} == {
        TimerKind.REFRESH: 80.0,
        TimerKind.EXPIRY: 100.0,
    }


# -- NOTIFY bodies ---------------------------------------------------------------------------------------------


def test_a_partial_is_merged() -> None:
    s, first = active()
    out = s.notify_received(
        notify(first, body=document(2, user("sip:carol@example.com", "Carol"), state=State.PARTIAL), cseq=2)
    )
    assert response_to(out).code == 200
    assert set(one(out, StateChanged).state.user_map()) == {"sip:bob@example.com", "sip:carol@example.com"}


def test_a_malformed_body_gets_400_and_the_subscription_survives() -> None:
    s, first = active()
    out = s.notify_received(
        notify(first, body="<conference-info xmlns='urn:ietf:params:xml:ns:conference-info'", cseq=2)
    )
    assert response_to(out).code == 400
    assert not of(out, StateChanged) and not of(out, SendRequest)
    assert s.state is SubscriberState.ACTIVE
    out = s.notify_received(
        notify(first, body=document(2, user("sip:dave@example.com", "Dave"), state=State.PARTIAL), cseq=3)
    )
    assert response_to(out).code == 200
    assert "sip:dave@example.com" in one(out, StateChanged).state.user_map()


def test_an_invalid_document_gets_400() -> None:
    s, first = active()
    body = document(2).replace(b'version="2"', b'version="two"')
    assert response_to(s.notify_received(notify(first, body=body, cseq=2))).code == 400


def test_another_content_type_gets_415() -> None:
    s, first = active()
    out = s.notify_received(notify(first, body="<presence/>", content_type="application/pidf+xml", cseq=2))
    assert response_to(out).code == 415
    assert s.state is SubscriberState.ACTIVE


def test_a_version_gap_gets_200_and_a_refresh_for_full_state() -> None:
    s, first = active()
    out = s.notify_received(
        notify(first, body=document(3, user("sip:carol@example.com", "Carol"), state=State.PARTIAL), cseq=2)
    )
    assert response_to(out).code == 200
    assert not of(out, StateChanged)
    refresh = sent(out)
    assert refresh.method == "SUBSCRIBE" and to_tag_of(refresh) == "n1"
    # while that refresh is out, another gap asks for nothing more
    gap = s.notify_received(
        notify(first, body=document(5, user("sip:x@example.com", "X"), state=State.PARTIAL), cseq=3)
    )
    assert not of(gap, SendRequest)
    s.response_received(answer(refresh))
    out = s.notify_received(notify(first, body=document(4, user("sip:carol@example.com", "Carol")), cseq=4))
    assert set(one(out, StateChanged).state.user_map()) == {"sip:carol@example.com"}


def test_a_partial_naming_an_unknown_user_asks_for_full_state() -> None:
    s, first = active()
    stranger = User(entity="sip:nobody@example.com", state=State.PARTIAL, display_text="?")
    out = s.notify_received(notify(first, body=document(2, stranger, state=State.PARTIAL), cseq=2))
    assert response_to(out).code == 200
    assert sent(out).method == "SUBSCRIBE"


def test_a_stale_document_is_ignored() -> None:
    s, first = active()
    out = s.notify_received(notify(first, body=document(1, user("sip:old@example.com", "Old")), cseq=2))
    assert response_to(out).code == 200
    assert not of(out, StateChanged) and not of(out, SendRequest)


def test_kamailio_writes_the_entity_without_a_scheme_and_repeats_xmlns() -> None:
    body = """<?xml version="1.0" encoding="UTF-8"?>
<conference-info xmlns="urn:ietf:params:xml:ns:conference-info" entity="conf@127.0.0.1:5060" state="full" version="1">
  <users xmlns="urn:ietf:params:xml:ns:conference-info">
    <user xmlns="urn:ietf:params:xml:ns:conference-info" entity="sip:bob@example.com" state="full">
      <display-text>Bob</display-text>
      <endpoint entity="sip:bob@example.com" state="full"><status>connected</status></endpoint>
    </user>
  </users>
</conference-info>
"""
    s = subscriber()
    first = sent(s.start())
    s.response_received(answer(first))
    out = s.notify_received(notify(first, body=body))
    assert response_to(out).code == 200
    state = one(out, StateChanged).state
    assert state.entity == "conf@127.0.0.1:5060"
    assert state.user_map()["sip:bob@example.com"].display_text == "Bob"


# -- NOTIFYs that are not ours ---------------------------------------------------------------------------------


def test_a_notify_for_no_subscription_gets_481() -> None:
    subscribers = ConferenceSubscribers()
    s = subscriber()
    first = sent(subscribers.add(s))
    stray = notify(first, body=document(1))
    stray.headers.set("Call-ID", "unknown")
    response = response_to(subscribers.notify_received(stray))
    assert response.code == 481
    assert to_tag_of(response)
    assert response_to(subscribers.notify_received(notify(first, body=document(1)))).code == 200
    cancelled = subscribers.forget(s)
    assert {c.timer.kind for c in of(cancelled, CancelTimer)} == {TimerKind.REFRESH, TimerKind.EXPIRY}
    assert response_to(subscribers.notify_received(notify(first, body=document(2), cseq=2))).code == 481
    assert len(subscribers) == 0


def test_a_second_notifier_after_a_fork_gets_481() -> None:
    s, first = active()
    out = s.notify_received(notify(first, body=document(1), from_tag="other", cseq=7))
    assert response_to(out).code == 481
    assert s.state is SubscriberState.ACTIVE


def test_wrong_event_id_or_headers() -> None:
    s, first = active()
    assert response_to(s.notify_received(notify(first, event="presence", cseq=2))).code == 489
    assert response_to(s.notify_received(notify(first, event="conference;id=zz", cseq=3))).code == 481
    no_state = notify(first, cseq=4)
    no_state.headers.remove("Subscription-State")
    assert response_to(s.notify_received(no_state)).code == 400
    assert response_to(s.notify_received(notify(first, "active;expires=never", cseq=5))).code == 400
    assert response_to(s.notify_received(notify(first, cseq=1))).code == 500  # CSeq not above the last
    assert s.state is SubscriberState.ACTIVE


# -- terminated ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["deactivated", "timeout", None, "moved"])
def test_terminated_deactivated_or_timeout_resubscribes_at_once(reason: str | None) -> None:
    clock = Clock(5000.0)
    s, first = active(clock)
    clock.now += 1000
    state = "terminated" + (f";reason={reason}" if reason else "")
    out = s.notify_received(notify(first, state, cseq=2))
    assert response_to(out).code == 200
    assert one(out, Interrupted).retry_in == 0.0
    again = sent(out)
    assert again.call_id != first.call_id and to_tag_of(again) is None
    assert again.cseq.sequence == 1
    assert s.state is SubscriberState.SUBSCRIBING


def test_terminated_right_after_being_made_backs_off() -> None:
    s, first = active()
    out = s.notify_received(notify(first, "terminated;reason=timeout", cseq=2))
    assert one(out, Interrupted).retry_in == 2.0
    assert not of(out, SendRequest)
    assert s.state is SubscriberState.WAITING


def test_probation_waits_for_retry_after() -> None:
    clock = Clock(5000.0)
    s, first = active(clock)
    clock.now += 1000
    out = s.notify_received(notify(first, "terminated;reason=probation;retry-after=90", cseq=2))
    assert one(out, Interrupted).retry_in == 90.0
    retry = timer(s, out, TimerKind.RETRY)
    assert retry.delay == 90.0
    assert s.state is SubscriberState.WAITING
    again = sent(s.timer_fired(retry.timer))
    assert again.call_id != first.call_id


def test_every_reason_has_a_rule() -> None:
    assert set(AFTER_TERMINATION) == set(Reason)


@pytest.mark.parametrize("reason", ["rejected", "noresource", "giveup", "invariant"])
def test_final_reasons_stop_and_report(reason: str) -> None:
    s, first = active()
    out = s.notify_received(notify(first, f"terminated;reason={reason}", cseq=2))
    assert response_to(out).code == 200
    assert one(out, Stopped).reason == reason
    assert not of(out, SendRequest) and not of(out, StartTimer)
    assert {c.timer.kind for c in of(out, CancelTimer)} == {TimerKind.REFRESH, TimerKind.EXPIRY}
    assert s.state is SubscriberState.STOPPED


def test_a_terminated_notify_with_a_final_document_applies_it_first() -> None:
    s, first = active()
    out = s.notify_received(notify(first, "terminated;reason=noresource", body=document(2), cseq=2))
    assert [type(o) for o in out if not isinstance(o, CancelTimer)] == [SendResponse, StateChanged, Stopped]


# -- failures and backoff -------------------------------------------------------------------------------------


def test_failures_back_off_exponentially_up_to_the_cap() -> None:
    s = subscriber(backoff_base=2.0, backoff_cap=10.0)
    out = s.start()
    delays = []
    for _ in range(5):
        out = s.response_received(answer(sent(out), 503))
        delays.append(one(out, Interrupted).retry_in)
        out = s.timer_fired(timer(s, out, TimerKind.RETRY).timer)
    assert delays == [2.0, 4.0, 8.0, 10.0, 10.0]


def test_retry_after_of_a_503_is_respected() -> None:
    s = subscriber()
    out = s.response_received(answer(sent(s.start()), 503, extra=[("Retry-After", "120")]))
    assert one(out, Interrupted).retry_in == 120.0


def test_a_transaction_timeout_is_a_failure_to_retry() -> None:
    s = subscriber()
    out = s.start()
    out = s.request_failed(one(out, SendRequest).request, "timer F")
    assert one(out, Interrupted).reason == "408 timer F"
    assert s.state is SubscriberState.WAITING


def test_max_failures_stops() -> None:
    s = subscriber(max_failures=2)
    out = s.start()
    for _ in range(2):
        out = s.response_received(answer(sent(out), 500))
        out = s.timer_fired(timer(s, out, TimerKind.RETRY).timer)
    out = s.response_received(answer(sent(out), 500))
    assert one(out, Stopped).reason.startswith("gave up after 2 failures")


@pytest.mark.parametrize(
    ("code", "phrase"), [(403, "Forbidden"), (404, "Not Found"), (489, "Bad Event"), (603, "Decline")]
)
def test_permanent_refusals_stop(code: int, phrase: str) -> None:
    s = subscriber()
    out = s.response_received(answer(sent(s.start()), code))
    assert one(out, Stopped).reason == f"{code} {phrase}"
    assert s.state is SubscriberState.STOPPED


def test_no_notify_after_the_2xx_is_a_failure() -> None:
    s = subscriber()
    out = s.response_received(answer(sent(s.start())))
    out = s.timer_fired(timer(s, out, TimerKind.NOTIFY_WAIT).timer)
    assert one(out, Interrupted).reason == "no NOTIFY after the 2xx"
    assert s.state is SubscriberState.WAITING


def test_refresh_481_starts_a_new_subscription_at_once() -> None:
    s, first = active()
    refresh = sent(s.refresh())
    out = s.response_received(answer(refresh, 481))
    assert one(out, Interrupted).retry_in == 0.0
    assert sent(out).call_id != first.call_id


def test_a_failed_refresh_is_retried_and_expiry_bounds_it() -> None:
    s, first = active()
    refresh = sent(s.refresh())
    out = s.response_received(answer(refresh, 503))
    retry = timer(s, out, TimerKind.RETRY)
    assert retry.delay == 2.0
    assert s.state is SubscriberState.ACTIVE
    again = sent(s.timer_fired(retry.timer))
    assert again.call_id == first.call_id and again.cseq.sequence == refresh.cseq.sequence + 1
    expiry = armed(s, TimerKind.EXPIRY)
    out = s.timer_fired(expiry)
    assert s.state in (SubscriberState.SUBSCRIBING, SubscriberState.WAITING)
    assert of(out, Interrupted)


def test_stale_timers_are_ignored() -> None:
    s, _ = active()
    assert s.timer_fired(Timer(TimerKind.REFRESH, s.key, 999)) == []


# -- unsubscribing ------------------------------------------------------------------------------------------------


def test_stop_unsubscribes_and_waits_for_the_terminated_notify() -> None:
    s, first = active()
    out = s.stop()
    unsubscribe = sent(out)
    assert expires_of(unsubscribe) == 0
    assert to_tag_of(unsubscribe) == "n1"
    assert s.state is SubscriberState.UNSUBSCRIBING
    assert s.response_received(answer(unsubscribe, expires=0)) == []
    out = s.notify_received(notify(first, "terminated;reason=timeout", cseq=2))
    assert response_to(out).code == 200
    assert one(out, Stopped).reason == "unsubscribed"
    assert s.state.value == "stopped"


def test_stop_before_the_2xx_unsubscribes_when_it_comes() -> None:
    s = subscriber()
    first = sent(s.start())
    assert not of(s.stop(), SendRequest)
    unsubscribe = sent(s.response_received(answer(first)))
    assert expires_of(unsubscribe) == 0
    out = s.timer_fired(armed(s, TimerKind.NOTIFY_WAIT))
    assert one(out, Stopped).reason == "unsubscribed"


def test_stop_while_waiting_stops_at_once() -> None:
    s = subscriber()
    s.response_received(answer(sent(s.start()), 503))
    out = s.stop()
    assert one(out, Stopped).reason == "unsubscribed"
    assert one(out, CancelTimer).timer.kind is TimerKind.RETRY


# -- a notifier and a subscriber, through the wire ----------------------------------------------------------------


class Loop:
    """Carries messages between a notifier and a subscriber as bytes, as a network would."""

    def __init__(self, room: SipRoom) -> None:
        self.clock = Clock(5000.0)
        self.notifier = ConferenceNotifier(Rooms(room), contact=GATEWAY, clock=self.clock)
        self.subscriber = subscriber(self.clock, conference=ROOM_URI)
        self.reports: list[Output] = []
        self.versions: list[int] = []

    def run(self, outputs: list[Any]) -> None:
        queue = list(outputs)
        while queue:
            item = queue.pop(0)
            if isinstance(item, SendRequest):
                message = reparse(item.request)
                assert isinstance(message, Request)
                if message.method == "SUBSCRIBE":
                    queue.extend(self.notifier.subscribe_received(message))
                else:
                    if message.body:
                        self.versions.append(parse(message.body).version or 0)
                    queue.extend(self.subscriber.notify_received(message))
            elif isinstance(item, SendResponse):
                response = reparse(item.response)
                assert isinstance(response, Response)
                if response.cseq.method == "SUBSCRIBE":
                    queue.extend(self.subscriber.response_received(response))
                else:
                    queue.extend(self.notifier.response_received(response))
            elif isinstance(item, StateChanged | Interrupted | Stopped):
                self.reports.append(item)


def test_subscriber_and_notifier_agree_through_subscribe_change_refresh_unsubscribe() -> None:
    room = SipRoom()
    room.join("sip:bob@example.com", "Bob")
    loop = Loop(room)
    loop.run(loop.subscriber.start())
    assert loop.subscriber.conference_state is not None
    room.join("sip:carol@example.com", "Carol")
    loop.run(loop.notifier.room_changed(room))
    loop.run(loop.subscriber.refresh())
    loop.run(loop.subscriber.stop())
    assert loop.versions == [1, 2, 3]
    assert isinstance(loop.reports[-1], Stopped)
    assert len(loop.notifier) == 0
    held = loop.subscriber.conference_state
    assert held is not None and set(held.user_map()) == {"sip:bob@example.com", "sip:carol@example.com"}


def test_the_notifier_expiring_the_subscription_makes_the_subscriber_come_back() -> None:
    room = SipRoom()
    room.join("sip:bob@example.com", "Bob")
    loop = Loop(room)
    loop.run(loop.subscriber.start())
    (sub,) = loop.notifier.subscriptions()
    assert sub.expiry is not None
    loop.clock.now += 3600
    loop.run(loop.notifier.timer_fired(sub.expiry))
    assert isinstance(loop.reports[-2], Interrupted)
    assert loop.reports[-2].reason == "terminated;reason=timeout"
    assert isinstance(loop.reports[-1], StateChanged)
    assert loop.versions == [1, 1]  # a new subscription counts from 1 again
    assert len(loop.notifier) == 1
    assert loop.subscriber.state is SubscriberState.ACTIVE


def test_the_room_ending_stops_the_subscriber() -> None:
    room = SipRoom()
    loop = Loop(room)
    loop.run(loop.subscriber.start())
    loop.run(loop.notifier.room_ended(room))
    assert isinstance(loop.reports[-1], Stopped)
    assert loop.reports[-1].reason == "noresource"
    assert loop.subscriber.state is SubscriberState.STOPPED


def test_a_learned_min_expires_is_used_for_the_next_subscription() -> None:
    clock = Clock(5000.0)
    s = subscriber(clock, expires=60)
    first = sent(s.start())
    again = sent(s.response_received(answer(first, 423, extra=[("Min-Expires", "900")])))
    s.response_received(answer(again, expires=900))
    s.notify_received(notify(first, body=document(1)))
    clock.now += 1000
    out = s.notify_received(notify(first, "terminated;reason=deactivated", cseq=2))
    assert expires_of(sent(out)) == 900


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_for_any_room_history_the_subscriber_ends_with_the_room_state(data: st.DataObject) -> None:
    room = SipRoom()
    room.current = data.draw(conference(ROOM_URI))
    loop = Loop(room)
    loop.run(loop.subscriber.start())
    for _ in range(data.draw(st.integers(0, 5))):
        if data.draw(st.integers(0, 3)):
            room.current = data.draw(mutation(room.current))
            loop.run(loop.notifier.room_changed(room))
        else:
            loop.run(loop.subscriber.refresh())
    held = loop.subscriber.conference_state
    assert held is not None
    assert held.model_copy(update={"version": None}) == room.current.model_copy(update={"version": None})
    assert loop.versions == list(range(1, len(loop.versions) + 1))


# -- whatever a notifier sends, one response and no exception ---------------------------------------------------

odd = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=30) | st.sampled_from(
    ["conference", "terminated", "active;expires=", "terminated;reason=probation;retry-after=x", "<sip:x@y;lr>",
     "<>", "1 NOTIFY", "x NOTIFY", "application/conference-info+xml"]
)  # fmt: skip
NOTIFY_HEADERS = ["Event", "Subscription-State", "Contact", "Record-Route", "From", "CSeq", "Content-Type"]


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(st.sampled_from(NOTIFY_HEADERS), odd, max_size=4),
    st.sampled_from([b"", b"<conference-info/>", document(1), b"\xff\xfe<"]),
    st.booleans(),
)
def test_any_notify_gets_one_response(values: dict[str, str], body: bytes, established: bool) -> None:
    s = subscriber()
    first = sent(s.start())
    if established:
        s.response_received(answer(first))
    req = notify(first, body=body or b"", cseq=3)
    for name, value in values.items():
        req.headers.set(name, value)
    out = s.notify_received(req)
    assert len(of(out, SendResponse)) == 1
    assert response_to(out).code >= 200
