"""The subscriber of the conference event package (RFC 4575 over RFC 6665 section 4.1), sans-IO.

A `ConferenceSubscriber` keeps one subscription to one conference URI alive and merges what it is told into
one conference state. `ConferenceSubscribers` holds all of them and routes NOTIFYs, responses and timers to
the right one. Feed them the NOTIFYs received, the final responses to (or failures of) the SUBSCRIBEs they
sent, and their timers; they return what to send and what to report (`StateChanged`, `Interrupted`,
`Stopped`).

States and transitions:

    IDLE          --start-->                          SUBSCRIBING (SUBSCRIBE, Expires: config.expires)
    SUBSCRIBING   --2xx/202 (RFC 6665 s. 8.3.1)-->    ACTIVE; arm REFRESH, EXPIRY, and NOTIFY_WAIT until the
                                                      first NOTIFY (s. 4.1.2.4)
                  --NOTIFY (it overtook the 2xx)-->   ACTIVE; the NOTIFY makes the dialog (s. 4.1.2.4)
                  --423 with a larger Min-Expires-->  SUBSCRIBING (again, Expires = Min-Expires)
                  --retryable failure-->              WAITING (backoff)
                  --other failure-->                  STOPPED
    ACTIVE        --REFRESH timer / a gap-->          ACTIVE (in-dialog SUBSCRIBE; a gap or an unknown key in
                                                      a partial needs full state: the refresh brings it)
                  --refresh 2xx-->                    ACTIVE (REFRESH and EXPIRY re-armed)
                  --refresh 423-->                    ACTIVE (refresh again with Min-Expires)
                  --refresh 481-->                    SUBSCRIBING (a new subscription at once, s. 4.1.2.2)
                  --refresh failed otherwise-->       ACTIVE (retry the refresh after backoff: the
                                                      subscription lives until EXPIRY, s. 4.1.2.2)
                  --EXPIRY, NOTIFY_WAIT-->            as terminated;reason=timeout
                  --NOTIFY terminated-->              by reason (s. 4.1.3; `AFTER_TERMINATION`):
                      deactivated, timeout, none,
                      or unknown                      SUBSCRIBING at once (after retry-after if given)
                      probation                       WAITING for retry-after (backoff if absent)
                      rejected, noresource,
                      giveup, invariant               STOPPED
    WAITING       --RETRY timer-->                    SUBSCRIBING (a new dialog)
    any           --stop-->                           UNSUBSCRIBING (SUBSCRIBE Expires: 0; sent when the
                                                      dialog exists) or STOPPED (nothing to unsubscribe)
    UNSUBSCRIBING --NOTIFY terminated, a failure,
                    NOTIFY_WAIT-->                    STOPPED

A subscription that is terminated less than `backoff_base` seconds after it was established counts as a
failure (so a notifier that accepts and drops us at once is not hammered). Failures back off exponentially
(`backoff_base` * 2**n, capped at `backoff_cap`, at least a Retry-After); `max_failures` in a row stop it.
Retryable: a timeout or transport error, 408, 480, 486, 491, 500, 502, 503, 504. Everything else (403,
404, 489, 3xx, 401/407: digest is not done here, ...) stops.

Refresh timing: at 80% of the granted interval. That leaves a fifth of the interval (12 minutes for the
package default of 3600 s, 12 s for a 60 s interval) for the refresh transaction (at most 32 s, Timer F) and
backoff retries before EXPIRY.

Each NOTIFY (RFC 6665 s. 4.1.3): Event and Subscription-State checked (489, 400), the body parsed
(`gateway.document_parser`) and merged (`gateway.merge`): malformed -> 400, the subscription survives; stale
-> 200 and ignored; needs full state (a version gap, a partial naming something unknown) -> 200 and a
refresh. Versions are per subscription (RFC 4575 s. 4.2), so a new subscription starts the merge afresh.
A NOTIFY of a dialog that is not ours (an old one, a fork's second notifier) gets 481, which ends it there.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import IntEnum, StrEnum

from sipmessage import Address, Request, Response

from gateway.conference_info import MIME_TYPE, ConferenceInfo
from gateway.document_parser import ConferenceInfoParser, default_parser
from gateway.errors import DocumentError, NeedsFullStateError, StaleDocumentError
from gateway.merge import merge
from sip.actions import ArmedTimers, CancelTimer, SendRequest, SendResponse, StartTimer, Timer, TimerKind
from sip.dialogs import Dialog, DialogError, Route
from sip.event_headers import (
    HeaderError,
    Reason,
    Substate,
    event_of,
    expires_of,
    min_expires_of,
    retry_after_of,
    subscription_state_of,
)
from sip.messages import create_response, from_tag, new_tag, to_tag

PACKAGE = "conference"
REFRESH_AT = 0.8  # of the granted interval
NOTIFY_WAIT = 32.0  # 64*T1 (RFC 6665 s. 4.1.2.4)
RETRYABLE = frozenset((408, 480, 486, 491, 500, 502, 503, 504))


class AfterTermination(StrEnum):
    """What a terminated subscription leads to (RFC 6665 section 4.1.3)."""

    RESUBSCRIBE = "resubscribe"  # at once, or after retry-after when given
    WAIT = "wait"  # for retry-after, or back off when there is none
    STOP = "stop"  # and report Stopped


# The reason of a terminated Subscription-State -> what follows. No reason, or one not listed (an extension),
# is RESUBSCRIBE: RFC 6665 section 4.1.3 lets the subscriber retry at any time.
AFTER_TERMINATION: dict[str, AfterTermination] = {
    Reason.DEACTIVATED: AfterTermination.RESUBSCRIBE,
    Reason.TIMEOUT: AfterTermination.RESUBSCRIBE,
    Reason.PROBATION: AfterTermination.WAIT,
    Reason.REJECTED: AfterTermination.STOP,
    Reason.NORESOURCE: AfterTermination.STOP,
    Reason.GIVEUP: AfterTermination.STOP,
    Reason.INVARIANT: AfterTermination.STOP,
}


class SubscriberState(StrEnum):
    IDLE = "idle"
    SUBSCRIBING = "subscribing"
    ACTIVE = "active"
    WAITING = "waiting"
    UNSUBSCRIBING = "unsubscribing"
    STOPPED = "stopped"


class _Purpose(IntEnum):
    INITIAL = 1
    REFRESH = 2
    UNSUBSCRIBE = 3


@dataclass(frozen=True, slots=True)
class SubscriberConfig:
    expires: int = 3600  # asked for; the notifier may grant less
    event_id: str | None = None  # the Event id parameter to use, if any
    backoff_base: float = 2.0
    backoff_cap: float = 300.0
    max_failures: int | None = None  # None: retry for ever
    notify_wait: float = NOTIFY_WAIT
    preloaded_route: tuple[Route, ...] = ()  # an outbound proxy, e.g. (Route.parse("<sip:proxy;lr>"),)


# -- what a subscriber reports ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StateChanged:
    """A NOTIFY brought news: `state` is the merged conference state (every `state` in it full)."""

    subscriber: ConferenceSubscriber
    state: ConferenceInfo


@dataclass(frozen=True, slots=True)
class Interrupted:
    """The subscription ended or could not be made; another is tried in `retry_in` seconds (0: at once).
    The state last reported may be out of date until the next StateChanged."""

    subscriber: ConferenceSubscriber
    reason: str
    retry_in: float


@dataclass(frozen=True, slots=True)
class Stopped:
    """The subscription is over for good: `reason` is the terminated reason (rejected, noresource, giveup,
    invariant), the failure (`403 Forbidden`, ...), or `unsubscribed`."""

    subscriber: ConferenceSubscriber
    reason: str


Report = StateChanged | Interrupted | Stopped
Output = SendRequest | SendResponse | StartTimer | CancelTimer | StateChanged | Interrupted | Stopped


class ConferenceSubscriber:
    """One subscription to the conference at `conference` (its URI as an Address, e.g. a focus's Contact).

    `local` is our identity (From), `contact` our Contact. `state` says where the subscription is and
    `conference_state` what it holds (None before the first document).
    """

    def __init__(
        self,
        conference: Address,
        *,
        local: Address,
        contact: Address,
        clock: Callable[[], float],
        config: SubscriberConfig | None = None,
        parser: ConferenceInfoParser | None = None,
        new_token: Callable[[], str] = new_tag,
        key: str | None = None,
    ) -> None:
        self.conference = conference
        self.local = local
        self.contact = contact
        self.clock = clock
        self.config = config or SubscriberConfig()
        self.parser = parser or default_parser()  # one event loop: one parser serves every subscriber
        self.new_token = new_token
        self.key = key or str(conference.uri)
        self.state = SubscriberState.IDLE
        self.conference_state: ConferenceInfo | None = None  # what the owner was last told
        self.dialog: Dialog | None = None
        self.failures = 0
        self._held: ConferenceInfo | None = None  # the merge base of this subscription (versions)
        self._expires = self.config.expires
        self._min_expires = 0
        self._pending: dict[int, _Purpose] = {}  # CSeq of our SUBSCRIBEs awaiting an answer
        self._established_at: float | None = None
        self._expires_at: float | None = None  # when the subscription ends unless refreshed
        self._notified = False  # a NOTIFY came in this subscription
        self._unsubscribe_when_established = False
        self._timers = ArmedTimers()

    # -- the owner's requests ------------------------------------------------------------------------------

    def start(self) -> list[Output]:
        if self.state not in (SubscriberState.IDLE, SubscriberState.STOPPED):
            raise ValueError(f"cannot start a subscriber that is {self.state}")
        self.failures = 0
        return self._new_subscription()

    def stop(self) -> list[Output]:
        """Unsubscribe (Expires: 0) and report Stopped when the notifier confirms or fails."""
        if self.state in (SubscriberState.IDLE, SubscriberState.STOPPED, SubscriberState.UNSUBSCRIBING):
            return []
        if self.state is SubscriberState.WAITING or self.dialog is None:
            return self._stopped("unsubscribed")
        self.state = SubscriberState.UNSUBSCRIBING
        out = self._disarm_all()
        if not self.dialog.established:
            self._unsubscribe_when_established = True
            return out
        return [*out, *self._unsubscribe()]

    def disarm(self) -> list[Output]:
        """Cancel every timer (for an owner that drops this subscriber without stopping it)."""
        return self._disarm_all()

    def armed(self, kind: TimerKind) -> Timer | None:
        """The timer of that kind this subscriber has armed, if any."""
        return self._timers.get(kind)

    # -- input: NOTIFY -----------------------------------------------------------------------------------------

    def owns(self, message: Request | Response) -> bool:
        """Whether a NOTIFY (received) or a response to our SUBSCRIBE is of this subscription's dialog."""
        if self.dialog is None:
            return False
        if isinstance(message, Request):
            try:
                return message.call_id == self.dialog.call_id and to_tag(message) == self.dialog.local_tag
            except KeyError:
                return False
        try:
            return message.call_id == self.dialog.call_id and from_tag(message) == self.dialog.local_tag
        except KeyError:
            return False

    def sent(self, request: Request) -> bool:
        """Whether `request` is one this subscriber sent in its current dialog."""
        if self.dialog is None:
            return False
        try:
            return request.call_id == self.dialog.call_id and from_tag(request) == self.dialog.local_tag
        except KeyError:
            return False

    def notify_received(self, request: Request) -> list[Output]:
        if request.method != "NOTIFY":
            raise ValueError(f"a subscriber takes NOTIFY requests, not {request.method}")
        dialog = self.dialog
        if dialog is None or not self.owns(request):
            return [_reply(request, 481, None)]
        tag = dialog.local_tag
        if dialog.established and from_tag(request) != dialog.remote_tag:
            return [_reply(request, 481, tag)]  # a second notifier (a forked SUBSCRIBE): ends it there
        try:
            event = event_of(request)
            sub_state = subscription_state_of(request)
            in_order = not dialog.established or dialog.accept_cseq(request)
        except (HeaderError, ValueError, KeyError) as exc:
            return [_reply(request, 400, tag, _phrase(exc))]
        if event is None or event.package != PACKAGE:
            return [_reply(request, 489, tag)]
        if event.id != self.config.event_id:
            return [_reply(request, 481, tag)]
        if sub_state is None:
            return [_reply(request, 400, tag, "Bad Request: no Subscription-State")]
        if not in_order:
            return [_reply(request, 500, tag, "CSeq Out Of Order")]
        try:
            if dialog.established:
                dialog.refresh_target(request)
            else:
                dialog.establish_from_request(request)
                self._established_at = self.clock()
                if self.state is SubscriberState.SUBSCRIBING:
                    self.state = SubscriberState.ACTIVE
        except DialogError as exc:
            return [_reply(request, 400, tag, _phrase(exc))]
        self._notified = True
        code, phrase, reports, needs_full = self._apply_body(request)
        out: list[Output] = [_reply(request, code, tag, phrase), *reports]
        if sub_state.state == Substate.TERMINATED:
            return [*out, *self._terminated(sub_state.reason, sub_state.retry_after)]
        if self.state is SubscriberState.UNSUBSCRIBING:
            if self._unsubscribe_when_established:
                out.extend(self._unsubscribe())
            return out
        out.extend(self._disarm(TimerKind.NOTIFY_WAIT))
        if sub_state.expires is not None:
            out.extend(self._shorten_interval(sub_state.expires))
        if needs_full:
            out.extend(self.refresh())
        return out

    def _apply_body(self, request: Request) -> tuple[int, str | None, list[Output], bool]:
        """(status, phrase, reports, needs full state) for a NOTIFY's body."""
        if not request.body:
            return 200, None, [], False
        content_type = (request.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
        if content_type != MIME_TYPE:
            return 415, None, [], False
        try:
            document = self.parser.parse(request.body)
        except DocumentError as exc:
            return 400, _phrase(exc), [], False
        try:
            merged = merge(self._held, document)
        except StaleDocumentError:
            return 200, None, [], False
        except NeedsFullStateError:
            return 200, None, [], True
        self._held = self.conference_state = merged
        return 200, None, [StateChanged(self, merged)], False

    # -- input: responses to our SUBSCRIBEs -------------------------------------------------------------------

    def response_received(self, response: Response) -> list[Output]:
        """The final response to a SUBSCRIBE we sent (provisional ones change nothing)."""
        if response.code < 200 or not self.owns(response):
            return []
        try:
            cseq = response.cseq
        except ValueError:
            return []
        if cseq.method != "SUBSCRIBE":
            return []
        purpose = self._take_pending(cseq.sequence)
        if purpose is None:
            return []
        if response.code < 300:
            return self._accepted(response, purpose)
        return self._refused(purpose, response.code, response)

    def request_failed(self, request: Request, reason: str) -> list[Output]:
        """A SUBSCRIBE we sent got no final response (Timer F) or could not be sent: like a 408."""
        if not self.sent(request):
            return []
        try:
            purpose = self._take_pending(request.cseq.sequence)
        except ValueError:
            return []
        if purpose is None:
            return []
        return self._refused(purpose, 408, None, reason)

    def _take_pending(self, sequence: int) -> _Purpose | None:
        """The purpose of our SUBSCRIBE that `sequence` answers. The transport may have sent it again with
        credentials after a 401/407 (RFC 3261 section 22.2: same request, CSeq + 1): a higher CSeq then
        answers our latest request below it, and our dialog's CSeq moves past it."""
        purpose = self._pending.pop(sequence, None)
        if purpose is None:
            earlier = [s for s in self._pending if s < sequence]
            if not earlier:
                return None
            purpose = self._pending.pop(max(earlier))
        if self.dialog is not None and self.dialog.local_cseq < sequence:
            self.dialog.local_cseq = sequence
        return purpose

    def _accepted(self, response: Response, purpose: _Purpose) -> list[Output]:
        assert self.dialog is not None
        try:
            granted = expires_of(response)
        except HeaderError:
            granted = None
        if purpose is _Purpose.UNSUBSCRIBE:
            return []  # the terminated NOTIFY (or NOTIFY_WAIT) ends it
        if purpose is _Purpose.INITIAL:
            if not self.dialog.established:
                try:
                    self.dialog.establish_from_response(response)
                except DialogError as exc:
                    return self._retry_later(f"unusable 2xx: {exc}")
                self._established_at = self.clock()
            if self.state is SubscriberState.UNSUBSCRIBING:
                return self._unsubscribe() if self._unsubscribe_when_established else []
            self.state = SubscriberState.ACTIVE
        else:
            with contextlib.suppress(DialogError):  # a 2xx with a bad Contact: keep the target we have
                self.dialog.accept_response(response)
            self.failures = 0  # a refreshed subscription is a working one
        if self.state is not SubscriberState.ACTIVE:
            return []
        out = self._arm_interval(granted if granted is not None else self._expires)
        if purpose is _Purpose.INITIAL and not self._notified:
            out.extend(self._arm(TimerKind.NOTIFY_WAIT, self.config.notify_wait))
        return out

    def _refused(
        self, purpose: _Purpose, code: int, response: Response | None, detail: str = ""
    ) -> list[Output]:
        reason = f"{code} {response.phrase}" if response is not None else f"{code} {detail}".strip()
        if self.state is SubscriberState.UNSUBSCRIBING or purpose is _Purpose.UNSUBSCRIBE:
            return self._stopped("unsubscribed")
        if code == 423 and response is not None:
            try:
                minimum = min_expires_of(response)
            except HeaderError:
                minimum = None
            if minimum is not None and minimum > self._expires:
                self._expires = self._min_expires = minimum
                return [
                    self._send_subscribe(
                        _Purpose.INITIAL if purpose is _Purpose.INITIAL else _Purpose.REFRESH
                    )
                ]
        if purpose is _Purpose.REFRESH and self.state is SubscriberState.ACTIVE:
            if code == 481:
                return [Interrupted(self, reason, 0.0), *self._new_subscription()]
            if code in RETRYABLE:
                self.failures += 1
                return self._arm(TimerKind.RETRY, self._backoff())  # retry the refresh; EXPIRY bounds it
            return self._terminated(None, None, detail=reason)
        if code in RETRYABLE:
            at_least = 0.0
            if response is not None:
                try:
                    at_least = float(retry_after_of(response) or 0)
                except HeaderError:
                    at_least = 0.0
            return self._retry_later(reason, at_least=at_least)
        return self._stopped(reason)

    # -- timers ---------------------------------------------------------------------------------------------

    def timer_fired(self, timer: Timer) -> list[Output]:
        if not self._timers.take(timer):
            return []  # cancelled or re-armed since
        if timer.kind is TimerKind.RETRY:
            if self.state is SubscriberState.WAITING:
                return self._new_subscription()
            if self.state is SubscriberState.ACTIVE:
                return self.refresh()
            return []
        if timer.kind is TimerKind.REFRESH:
            return self.refresh()
        if timer.kind is TimerKind.EXPIRY:
            return self._terminated(Reason.TIMEOUT, None, detail="expired without a refresh")
        if timer.kind is TimerKind.NOTIFY_WAIT:
            if self.state is SubscriberState.UNSUBSCRIBING:
                return self._stopped("unsubscribed")
            return self._retry_later("no NOTIFY after the 2xx")  # RFC 6665 s. 4.1.2.4: it failed
        return []

    # -- transitions ----------------------------------------------------------------------------------------

    def _new_subscription(self) -> list[Output]:
        """A new dialog: new Call-ID and tag; versions start again, so does the merge."""
        self.dialog = Dialog.as_uac(
            local_address=self.local,
            remote_address=self.conference,
            local_contact=self.contact,
            preloaded_route=self.config.preloaded_route,
            call_id=self.new_token(),
            local_tag=self.new_token(),
        )
        self.state = SubscriberState.SUBSCRIBING
        self._held = None
        self._pending.clear()
        self._established_at = None
        self._expires_at = None
        self._notified = False
        self._unsubscribe_when_established = False
        self._expires = max(self.config.expires, self._min_expires)  # a 423 taught us the notifier's minimum
        return [*self._disarm_all(), self._send_subscribe(_Purpose.INITIAL)]

    def _send_subscribe(self, purpose: _Purpose) -> SendRequest:
        assert self.dialog is not None
        request = self.dialog.new_request("SUBSCRIBE")
        event = PACKAGE if self.config.event_id is None else f"{PACKAGE};id={self.config.event_id}"
        request.headers.set("Event", event)
        request.headers.set("Accept", MIME_TYPE)
        request.headers.set("Expires", "0" if purpose is _Purpose.UNSUBSCRIBE else str(self._expires))
        request.headers.set("Allow-Events", PACKAGE)
        self._pending[self.dialog.local_cseq] = purpose
        return SendRequest(request, self.dialog.next_hop())

    def refresh(self) -> list[Output]:
        """Refresh now: an in-dialog SUBSCRIBE, which also brings full state (RFC 4575 section 4.5); one at a
        time, and only for an active subscription."""
        if self.state is not SubscriberState.ACTIVE or self.dialog is None or not self.dialog.established:
            return []
        if any(p is _Purpose.REFRESH for p in self._pending.values()):
            return []
        return [*self._disarm(TimerKind.RETRY), self._send_subscribe(_Purpose.REFRESH)]

    def _unsubscribe(self) -> list[Output]:
        self._unsubscribe_when_established = False
        return [
            self._send_subscribe(_Purpose.UNSUBSCRIBE),
            *self._arm(TimerKind.NOTIFY_WAIT, self.config.notify_wait),
        ]

    def _terminated(
        self, reason: str | None, retry_after: int | None, *, detail: str | None = None
    ) -> list[Output]:
        """The subscription is over (a terminated NOTIFY, EXPIRY, a refused refresh): act on the reason."""
        if self.state is SubscriberState.UNSUBSCRIBING:
            return self._stopped("unsubscribed")
        text = detail or (f"terminated;reason={reason}" if reason else "terminated")
        after = AFTER_TERMINATION.get(reason or "", AfterTermination.RESUBSCRIBE)
        if after is AfterTermination.STOP:
            return self._stopped(reason or text)
        lived = None if self._established_at is None else self.clock() - self._established_at
        if lived is not None and lived >= self.config.backoff_base:
            self.failures = 0  # it had been working
        if after is AfterTermination.WAIT and retry_after is None:
            return self._retry_later(text)
        if retry_after is not None:
            return self._retry_later(text, at_least=float(retry_after), counted=False)
        if lived is None or lived < self.config.backoff_base:
            return self._retry_later(text)  # dropped as soon as made: back off
        return [Interrupted(self, text, 0.0), *self._new_subscription()]

    def _retry_later(self, reason: str, *, at_least: float = 0.0, counted: bool = True) -> list[Output]:
        """WAITING for a new subscription, after backoff (a failure) or `at_least` (retry-after)."""
        if counted:
            if self.config.max_failures is not None and self.failures >= self.config.max_failures:
                return self._stopped(f"gave up after {self.failures} failures: {reason}")
            self.failures += 1
        delay = max(at_least, self._backoff() if counted else 0.0)
        self.state = SubscriberState.WAITING
        self.dialog = None
        self._pending.clear()
        return [*self._disarm_all(), *self._arm(TimerKind.RETRY, delay), Interrupted(self, reason, delay)]

    def _backoff(self) -> float:
        exponent = max(0, self.failures - 1)
        return float(min(self.config.backoff_cap, self.config.backoff_base * 2**exponent))

    def _stopped(self, reason: str) -> list[Output]:
        self.state = SubscriberState.STOPPED
        self.dialog = None
        self._pending.clear()
        return [*self._disarm_all(), Stopped(self, reason)]

    # -- timers ---------------------------------------------------------------------------------------------

    def _shorten_interval(self, seconds: int) -> list[Output]:
        """RFC 6665 section 4.1.3: a NOTIFY's `expires` is authoritative; re-arm only when it ends the
        subscription sooner than we thought (every NOTIFY carries one: re-arming on each would churn)."""
        if self._expires_at is not None and self.clock() + seconds >= self._expires_at - 1:
            return []
        return self._arm_interval(seconds)

    def _arm_interval(self, seconds: int) -> list[Output]:
        self._expires_at = self.clock() + seconds
        return [
            *self._arm(TimerKind.REFRESH, seconds * REFRESH_AT),
            *self._arm(TimerKind.EXPIRY, float(seconds)),
        ]

    def _arm(self, kind: TimerKind, delay: float) -> list[Output]:
        return [*self._timers.arm(kind, self.key, delay)]

    def _disarm(self, kind: TimerKind) -> list[Output]:
        return [*self._timers.disarm(kind)]

    def _disarm_all(self) -> list[Output]:
        return [*self._timers.disarm_all()]


class ConferenceSubscribers:
    """Every subscriber of the gateway, so that the transport layer has one object to feed: NOTIFYs are
    routed by dialog (481 when no subscriber has it), responses by dialog, timers by key."""

    def __init__(self) -> None:
        self._by_key: dict[str, ConferenceSubscriber] = {}

    def __len__(self) -> int:
        return len(self._by_key)

    def add(self, subscriber: ConferenceSubscriber) -> list[Output]:
        """Register and start a subscriber."""
        if subscriber.key in self._by_key:
            raise ValueError(f"a subscriber {subscriber.key!r} exists")
        self._by_key[subscriber.key] = subscriber
        return subscriber.start()

    def remove(self, subscriber: ConferenceSubscriber) -> list[Output]:
        """Unsubscribe; the subscriber is forgotten once Stopped is reported (`forget`)."""
        return subscriber.stop()

    def forget(self, subscriber: ConferenceSubscriber) -> list[Output]:
        """Drop a subscriber (normally once it reported Stopped): its timers are cancelled, and NOTIFYs of
        its dialog get 481 from now on."""
        self._by_key.pop(subscriber.key, None)
        return subscriber.disarm()

    def get(self, key: str) -> ConferenceSubscriber | None:
        return self._by_key.get(key)

    def notify_received(self, request: Request) -> list[Output]:
        for subscriber in self._by_key.values():
            if subscriber.owns(request):
                return subscriber.notify_received(request)
        return [_reply(request, 481, None)]

    def response_received(self, response: Response) -> list[Output]:
        for subscriber in self._by_key.values():
            if subscriber.owns(response):
                return subscriber.response_received(response)
        return []

    def request_failed(self, request: Request, reason: str) -> list[Output]:
        for subscriber in self._by_key.values():
            if subscriber.sent(request):
                return subscriber.request_failed(request, reason)
        return []

    def timer_fired(self, timer: Timer) -> list[Output]:
        subscriber = self._by_key.get(timer.key)
        return subscriber.timer_fired(timer) if subscriber is not None else []


def _reply(request: Request, code: int, tag: str | None, phrase: str | None = None) -> SendResponse:
    headers: Iterable[tuple[str, str]] = [("Allow-Events", PACKAGE)] if code == 489 else []
    if code == 415:
        headers = [("Accept", MIME_TYPE)]
    return SendResponse(create_response(request, code, phrase, tag=tag, headers=headers))


def _phrase(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return "Bad Request: " + text[:120] if text else "Bad Request"
