"""The notifier of the conference event package (RFC 4575 over RFC 6665 section 4.2), sans-IO.

`ConferenceNotifier` holds every subscription to every room the gateway serves. Feed it SUBSCRIBE requests
(`subscribe_received`), the final responses to the NOTIFYs it sent (`response_received`, `request_failed`),
its timers (`timer_fired`) and the rooms' news (`room_changed`, `room_ended`); it returns what to send and
what to report (`SendRequest`, `SendResponse`, `StartTimer`, `CancelTimer`, `SubscriptionStarted`,
`SubscriptionEnded`). It never touches a socket or a clock of its own.

The rules:

    SUBSCRIBE without a To-tag (a new subscription), checked in this order:
      Event missing, or not `conference`         -> 489 Bad Event, Allow-Events: conference  (s. 4.2.1.1)
      Event, Expires or From malformed           -> 400
      Accept lists no conference-info+xml        -> 406                                      (s. 4.2.1.1)
      the Request-URI names no room              -> 404
      the room's policy refuses the From         -> 403                                      (s. 4.2.1.3)
      0 < Expires < min_expires                  -> 423, Min-Expires                         (s. 4.2.1.1)
      no single usable Contact, a bad CSeq
        or Record-Route                          -> 400
      otherwise                                  -> 200, Expires = min(requested or default, max); then at
                                                    once NOTIFY active;expires=N, full state, version 1
      Expires: 0 (a fetch, s. 4.4.3)             -> 200, NOTIFY terminated;reason=timeout with full state
    SUBSCRIBE with a To-tag (a refresh):
      no subscription with that dialog and id    -> 481                                  (RFC 3261 12.2.2)
      CSeq not above the last one                -> 500                                  (RFC 3261 12.2.2)
      489 / 400 / 423 as above                   -> the subscription stays as it was         (s. 4.1.2.2)
      Expires: 0 (unsubscribe, s. 4.1.2.3)       -> 200, NOTIFY terminated;reason=timeout, no body (the
                                                    interval ends now, as when it runs out)
      otherwise                                  -> 200, NOTIFY active with full state (RFC 4575 s. 4.5)
    the subscription's interval ends             -> NOTIFY terminated;reason=timeout         (s. 4.2.2)
    room_changed                                 -> NOTIFY active with a partial document (per-subscription
                                                    versions, `RecipientView`); nothing when unchanged
    room_ended                                   -> NOTIFY terminated;reason=noresource       (s. 4.2.2)
    a NOTIFY answered 2xx                        -> send what waited for it (see below)
    a NOTIFY answered 3xx-6xx (481 included),
      or failed (Timer F, transport error)       -> the subscription is removed, no NOTIFY    (s. 4.2.2)
    the 32-bit version exhausted                 -> NOTIFY terminated;reason=deactivated (the subscriber
                                                    re-subscribes and starts again at 1)

One NOTIFY with state is outstanding per subscription: a change or refresh that comes while one awaits its
response is sent when that response arrives, as one document covering everything since (so a burst of
changes cannot overtake itself on UDP and turn into a version gap). Final NOTIFYs (terminated) go at once.
Coalescing bursts in time stays the caller's: call `room_changed` once per window, as on the XMPP side.

Every response carries `Allow-Events: conference` and a To-tag. A subscription's dialog (`sip.dialogs.Dialog`)
sends its NOTIFYs to the subscriber's Contact along the Record-Route set.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sipmessage import URI, Address, Parameters, Request, Response

from gateway.conference_info import MIME_TYPE, ConferenceInfo
from gateway.document_writer import serialize
from gateway.errors import VersionOverflowError
from gateway.recipient_view import RecipientView, SharedDocuments
from sip.actions import CancelTimer, SendRequest, SendResponse, StartTimer, Timer, TimerKind
from sip.dialogs import Dialog, DialogError
from sip.event_headers import (
    Event,
    HeaderError,
    Reason,
    SubscriptionState,
    Substate,
    event_of,
    expires_of,
)
from sip.messages import create_response, from_tag, new_tag, to_tag
from sip.rooms import ConferenceRoom, RoomDirectory

PACKAGE = "conference"
ALLOW_EVENTS = ("Allow-Events", PACKAGE)
_ACCEPTABLE = frozenset((MIME_TYPE, "application/*", "*/*"))


@dataclass(frozen=True, slots=True)
class NotifierConfig:
    """Subscription intervals in seconds. RFC 4575 section 3.7: the package's default is 3600."""

    min_expires: int = 60
    max_expires: int = 3600
    default_expires: int = 3600

    def __post_init__(self) -> None:
        if not 0 < self.min_expires <= self.default_expires <= self.max_expires:
            raise ValueError("need 0 < min_expires <= default_expires <= max_expires")


@dataclass(eq=False)
class Subscription:
    """One subscription of one subscriber to one room."""

    id: str
    room: ConferenceRoom
    dialog: Dialog
    event: Event
    subscriber: Address
    expires_at: float
    view: RecipientView = field(default_factory=RecipientView)
    expiry: Timer | None = None
    in_flight: int | None = None  # CSeq of the NOTIFY with state that awaits its response
    waiting: bool = False  # a document waits for that response
    waiting_full: bool = False  # ... and it must be full (a refresh came)
    ended: bool = False
    event_text: str = ""  # the Event header as every NOTIFY of this subscription writes it

    def __post_init__(self) -> None:
        self.event_text = str(self.event)


# -- what the notifier reports -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SubscriptionStarted:
    subscription: Subscription


@dataclass(frozen=True, slots=True)
class SubscriptionEnded:
    """`reason`: the Subscription-State reason we sent (timeout, noresource, deactivated), or
    `notify-failed` when the subscriber's side ended it (`detail` says how)."""

    subscription: Subscription
    reason: str
    detail: str | None = None


Output = SendRequest | SendResponse | StartTimer | CancelTimer | SubscriptionStarted | SubscriptionEnded


class ConferenceNotifier:
    """Every conference subscription the gateway serves.

    `contact` is the gateway's own SIP URI (host, port, transport); the Contact of our 2xx and NOTIFYs is the
    room's user part at that address, marked `isfocus` (RFC 4579 section 5).
    """

    def __init__(
        self,
        rooms: RoomDirectory,
        *,
        contact: URI,
        clock: Callable[[], float],
        config: NotifierConfig | None = None,
        new_tag: Callable[[], str] = new_tag,
    ) -> None:
        self.rooms = rooms
        self.contact = contact
        self.clock = clock
        self.config = config or NotifierConfig()
        self.new_tag = new_tag
        self._by_key: dict[tuple[str, str, str, str | None], Subscription] = {}
        self._by_id: dict[str, Subscription] = {}
        self._notifies: dict[tuple[str, str], Subscription] = {}  # (Call-ID, our tag) -> a NOTIFY in flight
        self._serials = itertools.count(1)

    def __len__(self) -> int:
        return len(self._by_id)

    def subscriptions(self, room: ConferenceRoom | None = None) -> list[Subscription]:
        return [s for s in self._by_id.values() if room is None or s.room is room]

    # -- SUBSCRIBE -------------------------------------------------------------------------------------------

    def subscribe_received(self, request: Request) -> list[Output]:
        """What to do about a SUBSCRIBE (any: new, refresh, unsubscribe)."""
        if request.method != "SUBSCRIBE":
            raise ValueError(f"the notifier takes SUBSCRIBE requests, not {request.method}")
        try:
            event = event_of(request)
        except HeaderError as exc:
            return [self._reply(request, 400, phrase=_phrase(exc))]
        if event is None or event.package != PACKAGE:
            return [self._reply(request, 489)]
        if to_tag(request) is not None:
            return self._in_dialog(request, event)
        try:
            requested = expires_of(request)
            subscriber = request.from_address
        except (HeaderError, ValueError, KeyError) as exc:
            return [self._reply(request, 400, phrase=_phrase(exc))]
        if not _accepts_conference_info(request):
            return [self._reply(request, 406, headers=[("Accept", MIME_TYPE)])]
        room = self.rooms.find(request.uri)
        if room is None:
            return [self._reply(request, 404)]
        subscriber = _without_tag(subscriber)
        if not room.admits(subscriber, request):
            return [self._reply(request, 403)]
        granted = self._granted(requested)
        if granted is None:
            return [self._reply(request, 423, headers=[("Min-Expires", str(self.config.min_expires))])]
        local_tag = self.new_tag()
        try:
            dialog = Dialog.from_request(request, local_tag, local_contact=self._contact_for(room))
        except DialogError as exc:
            return [self._reply(request, 400, phrase=_phrase(exc))]
        sub_id = f"{dialog.call_id};{local_tag};{event.id or ''}"
        sub = Subscription(sub_id, room, dialog, Event(PACKAGE, event.id), subscriber, self.clock() + granted)
        ok = self._reply(request, 200, to_tag=local_tag, granted=granted, contact=dialog.local_contact)
        for route in request.headers.getlist("Record-Route"):
            ok.response.headers.add("Record-Route", route)
        if granted == 0:  # a fetch: the state once, and done
            return [ok, *self._final(sub, Reason.TIMEOUT, with_state=True)]
        self._by_key[_key(sub)] = sub
        self._by_id[sub.id] = sub
        return [ok, SubscriptionStarted(sub), *self._arm_expiry(sub, granted), *self._notify(sub, full=True)]

    def _in_dialog(self, request: Request, event: Event) -> list[Output]:
        key = (request.call_id, to_tag(request) or "", from_tag(request) or "", event.id)
        sub = self._by_key.get(key)
        if sub is None:
            return [self._reply(request, 481)]
        tag = sub.dialog.local_tag
        try:
            requested = expires_of(request)
            in_order = sub.dialog.accept_cseq(request)
        except (HeaderError, ValueError, KeyError) as exc:
            return [self._reply(request, 400, to_tag=tag, phrase=_phrase(exc))]
        if not in_order:
            return [self._reply(request, 500, to_tag=tag, phrase="CSeq Out Of Order")]
        granted = self._granted(requested)
        if granted is None:
            return [
                self._reply(request, 423, to_tag=tag, headers=[("Min-Expires", str(self.config.min_expires))])
            ]
        try:
            sub.dialog.refresh_target(request)
        except DialogError as exc:
            return [self._reply(request, 400, to_tag=tag, phrase=_phrase(exc))]
        ok = self._reply(request, 200, to_tag=tag, granted=granted, contact=sub.dialog.local_contact)
        if granted == 0:
            return [ok, *self._final(sub, Reason.TIMEOUT)]
        sub.expires_at = self.clock() + granted
        return [ok, *self._arm_expiry(sub, granted), *self._notify(sub, full=True)]

    def _granted(self, requested: int | None) -> int | None:
        """The interval granted, or None when it is too brief (423)."""
        if requested is None:
            return self.config.default_expires
        if requested == 0:
            return 0
        if requested < self.config.min_expires:
            return None
        return min(requested, self.config.max_expires)

    def _contact_for(self, room: ConferenceRoom) -> Address:
        try:
            user = URI.parse(room.uri).user
        except ValueError:
            user = None
        uri = URI(
            self.contact.scheme, self.contact.host, user, None, self.contact.port, self.contact.parameters
        )
        return Address(uri, parameters=Parameters(isfocus=None))

    def _reply(
        self,
        request: Request,
        code: int,
        *,
        to_tag: str | None = None,
        phrase: str | None = None,
        headers: Iterable[tuple[str, str]] = (),
        granted: int | None = None,
        contact: Address | None = None,
    ) -> SendResponse:
        extra = list(headers)
        if granted is not None:
            extra.append(("Expires", str(granted)))
        if contact is not None:
            extra.append(("Contact", str(contact)))
        extra.append(ALLOW_EVENTS)
        tag = to_tag if to_tag is not None else self.new_tag()
        return SendResponse(create_response(request, code, phrase, tag=tag, headers=extra))

    # -- NOTIFY ----------------------------------------------------------------------------------------------

    def _notify(
        self, sub: Subscription, *, full: bool = False, fanout: _Fanout | None = None
    ) -> list[Output]:
        """A NOTIFY active with the next document, or a note that one waits for the outstanding one."""
        if sub.in_flight is not None:
            sub.waiting = True
            sub.waiting_full = sub.waiting_full or full
            return []
        try:
            document = sub.view.next_document(
                sub.room.state(), full=full, shared=fanout.documents if fanout is not None else None
            )
        except VersionOverflowError:
            return self._final(sub, Reason.DEACTIVATED)
        if document is None:
            return []
        remaining = max(0, math.ceil(sub.expires_at - self.clock()))
        send = self._request(sub, SubscriptionState(Substate.ACTIVE, expires=remaining), document, fanout)
        sub.in_flight = sub.dialog.local_cseq
        self._notifies[(sub.dialog.call_id, sub.dialog.local_tag)] = sub
        return [send]

    def _request(
        self,
        sub: Subscription,
        state: SubscriptionState,
        document: ConferenceInfo | None,
        fanout: _Fanout | None = None,
    ) -> SendRequest:
        request = sub.dialog.new_request("NOTIFY")
        headers = request.headers  # none of these is in a new request: `add` appends (no search)
        headers.add("Event", sub.event_text)
        headers.add("Subscription-State", str(state))
        headers.add(*ALLOW_EVENTS)
        if document is not None:
            body = fanout.body(document) if fanout is not None else serialize(document)
            request.body = body
            headers.add("Content-Type", MIME_TYPE)
            headers.add("Content-Length", str(len(body)))
        return SendRequest(request, sub.dialog.next_hop())

    def _final(self, sub: Subscription, reason: Reason, *, with_state: bool = False) -> list[Output]:
        """The last NOTIFY (terminated) and the subscription forgotten."""
        document = None
        if with_state:
            document = sub.view.next_document(sub.room.state(), full=True)
        send = self._request(sub, SubscriptionState(Substate.TERMINATED, reason=reason), document)
        out: list[Output] = [send]
        registered = sub.id in self._by_id
        out.extend(self._forget(sub))
        if registered:
            out.append(SubscriptionEnded(sub, reason.value))
        return out

    def _forget(self, sub: Subscription) -> list[Output]:
        sub.ended = True
        self._by_id.pop(sub.id, None)
        self._by_key.pop(_key(sub), None)
        if sub.in_flight is not None:
            self._notifies.pop((sub.dialog.call_id, sub.dialog.local_tag), None)
            sub.in_flight = None
        out: list[Output] = []
        if sub.expiry is not None:
            out.append(CancelTimer(sub.expiry))
            sub.expiry = None
        return out

    def _arm_expiry(self, sub: Subscription, seconds: int) -> list[Output]:
        out: list[Output] = []
        if sub.expiry is not None:
            out.append(CancelTimer(sub.expiry))
        sub.expiry = Timer(TimerKind.EXPIRY, sub.id, next(self._serials))
        out.append(StartTimer(sub.expiry, float(seconds)))
        return out

    # -- answers to our NOTIFYs ---------------------------------------------------------------------------------

    def response_received(self, response: Response) -> list[Output]:
        """The final response to a NOTIFY we sent (provisional ones change nothing)."""
        if response.code < 200:
            return []
        sub = self._answered(response)
        if sub is None:
            return []  # a final NOTIFY's answer, or one for a subscription already gone
        if response.code >= 300:
            return self._failed(sub, f"{response.code} {response.phrase}")
        if sub.waiting:
            full, sub.waiting, sub.waiting_full = sub.waiting_full, False, False
            return self._notify(sub, full=full)
        return []

    def request_failed(self, request: Request, reason: str) -> list[Output]:
        """A NOTIFY we sent got no final response (Timer F) or could not be sent."""
        sub = self._answered(request)
        return [] if sub is None else self._failed(sub, reason)

    def _answered(self, message: Request | Response) -> Subscription | None:
        """The subscription whose outstanding NOTIFY `message` answers (or is). A CSeq above the one we
        sent is the same NOTIFY sent again by the transport with credentials after a 401/407 (RFC 3261
        section 22.2); the dialog's CSeq then moves past it."""
        try:
            key = (message.call_id, from_tag(message) or "")
            sequence = message.cseq.sequence
        except (KeyError, ValueError):
            return None
        sub = self._notifies.get(key)
        if sub is None or sub.in_flight is None or sequence < sub.in_flight:
            return None
        del self._notifies[key]
        sub.in_flight = None
        sub.dialog.local_cseq = max(sub.dialog.local_cseq, sequence)
        return sub

    def _failed(self, sub: Subscription, detail: str) -> list[Output]:
        return [*self._forget(sub), SubscriptionEnded(sub, "notify-failed", detail)]

    # -- timers and rooms --------------------------------------------------------------------------------------

    def timer_fired(self, timer: Timer) -> list[Output]:
        sub = self._by_id.get(timer.key)
        if sub is None or sub.expiry != timer:
            return []
        sub.expiry = None
        return self._final(sub, Reason.TIMEOUT)

    def room_changed(self, room: ConferenceRoom) -> list[Output]:
        """A NOTIFY for every subscription of `room` whose subscriber does not hold its current state.
        Subscribers that hold the same state at the same version get the same document, made and serialised
        once."""
        fanout = _Fanout()
        out: list[Output] = []
        for sub in self.subscriptions(room):
            out.extend(self._notify(sub, fanout=fanout))
        return out

    def room_ended(self, room: ConferenceRoom) -> list[Output]:
        """Every subscription of `room` ends with reason noresource."""
        out: list[Output] = []
        for sub in self.subscriptions(room):
            out.extend(self._final(sub, Reason.NORESOURCE))
        return out

    def end(self, sub: Subscription, reason: Reason = Reason.DEACTIVATED) -> list[Output]:
        """End one subscription ourselves: deactivated (shutting down; the subscriber may come back at once)
        or rejected (the room's policy changed)."""
        if sub.ended:
            return []
        return self._final(sub, reason)


class _Fanout:
    """What one `room_changed` makes once for all its subscriptions: documents and their bytes."""

    def __init__(self) -> None:
        self.documents = SharedDocuments()
        self._bodies: dict[int, bytes] = {}  # by id of a document `documents` keeps alive

    def body(self, document: ConferenceInfo) -> bytes:
        body = self._bodies.get(id(document))
        if body is None:
            body = self._bodies[id(document)] = serialize(document)
        return body


def _key(sub: Subscription) -> tuple[str, str, str, str | None]:
    return (sub.dialog.call_id, sub.dialog.local_tag, sub.dialog.remote_tag or "", sub.event.id)


def _without_tag(address: Address) -> Address:
    params = {k: v for k, v in address.parameters.items() if k != "tag"}
    return Address(address.uri, address.name, Parameters(**params))


def _accepts_conference_info(request: Request) -> bool:
    """RFC 6665 section 4.2.1.1: without Accept, the package's default format (ours) is acceptable."""
    values = request.headers.getlist("Accept")
    if not values:
        return True
    types = {item.split(";", 1)[0].strip().lower() for value in values for item in value.split(",")}
    return bool(types & _ACCEPTABLE)


def _phrase(exc: Exception) -> str:
    """A reason phrase that says what was wrong (one line, printable)."""
    text = " ".join(str(exc).split())
    return "Bad Request: " + text[:120] if text else "Bad Request"
