"""What the sans-IO machines (`sip.notifier`, `sip.subscriber`, `sip.invite_session`) ask the transport
layer to do. They never send, sleep or read a clock themselves.

- `SendRequest`: send `request` in a new client transaction (the transaction layer adds the top Via with a
  fresh branch) towards `next_hop` (RFC 3261 section 8.1.2: the first loose route, else the Request-URI);
  hand its final response back to the machine that asked (`response_received`), or tell it the transaction
  failed (`request_failed`: Timer F, a transport error).
- `SendResponse`: send `response` on the server transaction of the request it answers.
- `StartTimer` / `CancelTimer`: arm (re-arm) or cancel a timer; when one fires, call the machine's
  `timer_fired(timer)`. Timers compare by value within one machine; a machine ignores a timer it no longer
  has armed, so a cancel that races with the firing is harmless. A timer's `kind` is open: each machine has
  its own kinds (`TimerKind` here for the subscription usage, `sip.invite_session.TimerKind`), and
  `ArmedTimers` keeps the ones a machine has armed.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

from sipmessage import URI, Request, Response


@dataclass(frozen=True, slots=True)
class SendRequest:
    request: Request
    next_hop: URI


@dataclass(frozen=True, slots=True)
class SendResponse:
    response: Response


class TimerKind(StrEnum):
    """The timers of the subscription usage."""

    EXPIRY = "expiry"  # a subscription's interval ends
    REFRESH = "refresh"  # time to refresh our subscription
    RETRY = "retry"  # backoff or retry-after elapsed: subscribe again
    NOTIFY_WAIT = "notify-wait"  # 64*T1 after a 2xx, or after an unsubscribe, without the NOTIFY


@dataclass(frozen=True, slots=True)
class Timer:
    """A timer of one machine: `kind` says what it is for (a member of the machine's own StrEnum), `key`
    names what it belongs to, `serial` tells a re-armed timer apart."""

    kind: str
    key: str
    serial: int


@dataclass(frozen=True, slots=True)
class StartTimer:
    timer: Timer
    delay: float  # seconds


@dataclass(frozen=True, slots=True)
class CancelTimer:
    timer: Timer


Transmission = SendRequest | SendResponse | StartTimer | CancelTimer


class ArmedTimers:
    """The timers one machine (or one part of it: a session, a subscription) has armed, at most one of each
    kind; `serials` may be shared by several so that their timers never compare equal."""

    def __init__(self, serials: Iterator[int] | None = None) -> None:
        self._armed: dict[str, Timer] = {}
        self._serials = serials if serials is not None else itertools.count(1)

    def __contains__(self, kind: str) -> bool:
        return kind in self._armed

    def get(self, kind: str) -> Timer | None:
        """The timer of that kind that is armed, if any."""
        return self._armed.get(kind)

    def arm(self, kind: str, key: str, delay: float) -> list[StartTimer | CancelTimer]:
        """Arm a timer of `kind` in `delay` seconds, cancelling the one of that kind armed before."""
        out: list[StartTimer | CancelTimer] = list(self.disarm(kind))
        timer = self._armed[kind] = Timer(kind, key, next(self._serials))
        out.append(StartTimer(timer, delay))
        return out

    def disarm(self, *kinds: str) -> list[CancelTimer]:
        out = []
        for kind in kinds:
            timer = self._armed.pop(kind, None)
            if timer is not None:
                out.append(CancelTimer(timer))
        return out

    def disarm_all(self) -> list[CancelTimer]:
        return self.disarm(*list(self._armed))

    def take(self, timer: Timer) -> bool:
        """Whether a timer that fired is the one armed of its kind (it is then armed no more); False for one
        cancelled or re-armed since."""
        if self._armed.get(timer.kind) != timer:
            return False
        del self._armed[timer.kind]
        return True
