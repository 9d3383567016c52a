"""What the sans-IO machines of the subscription usage (`sip.notifier`, `sip.subscriber`) ask the
transport layer to do. They never send, sleep or read a clock themselves.

- `SendRequest`: send `request` in a new client transaction (the transaction layer adds the top Via with a
  fresh branch) towards `next_hop` (RFC 3261 section 8.1.2: the first loose route, else the Request-URI);
  hand its final response back to the machine that asked (`response_received`), or tell it the transaction
  failed (`request_failed`: Timer F, a transport error).
- `SendResponse`: send `response` on the server transaction of the request it answers.
- `StartTimer` / `CancelTimer`: arm (re-arm) or cancel a timer; when one fires, call the machine's
  `timer_fired(timer)`. Timers compare by value within one machine; a machine ignores a timer it no longer
  has armed, so a cancel that races with the firing is harmless.
"""

from __future__ import annotations

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
    EXPIRY = "expiry"  # a subscription's interval ends
    REFRESH = "refresh"  # time to refresh our subscription
    RETRY = "retry"  # backoff or retry-after elapsed: subscribe again
    NOTIFY_WAIT = "notify-wait"  # 64*T1 after a 2xx, or after an unsubscribe, without the NOTIFY


@dataclass(frozen=True, slots=True)
class Timer:
    """A timer of one machine: `key` names what it belongs to, `serial` tells a re-armed timer apart."""

    kind: TimerKind
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
