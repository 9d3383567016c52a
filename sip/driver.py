"""Runs the sans-IO machines of the subscription usage (`sip.subscriber`, `sip.notifier`) on a `UserAgent`.

A machine returns outputs; the `Driver` does what they ask (`sip.actions`): `SendRequest` is sent in a
client transaction to its `next_hop` (a Digest challenge answered with `credentials`: the request then goes
again with CSeq + 1, which the machines accept), and the final response goes back to
`machine.response_received` — or, when no peer answered (`sip.messages.LocalResponse`: timeout, transport
error), to `machine.request_failed`; `SendResponse` goes out on the server transaction of the request it answers; `StartTimer`/`CancelTimer`
become `loop.call_later` handles, and a timer that fires goes to `machine.timer_fired`. Every other output
(a report: `StateChanged`, `Stopped`, ...) is handed to `on_report`.

`EventHandler` is the request handler that feeds received NOTIFYs to the subscribers and SUBSCRIBEs to the
notifier (`405` for other methods).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Generic, Protocol, TypeVar

import structlog
from sipmessage import Request, Response

from sip.actions import CancelTimer, SendRequest, SendResponse, StartTimer, Timer
from sip.digest import Credentials
from sip.messages import LocalResponse
from sip.tasks import Background
from sip.user_agent import IncomingRequest, UserAgent

log = structlog.get_logger(__name__)


class Machine(Protocol):
    def response_received(self, response: Response) -> Sequence[object]: ...

    def request_failed(self, request: Request, reason: str) -> Sequence[object]: ...

    def timer_fired(self, timer: Timer) -> Sequence[object]: ...


M = TypeVar("M", bound=Machine)


class Driver(Generic[M]):
    """Executes one machine's outputs on `ua`; reports go to `on_report`."""

    def __init__(
        self,
        ua: UserAgent,
        machine: M,
        *,
        on_report: Callable[[object], None] | None = None,
        credentials: Sequence[Credentials] | Callable[[Request], Sequence[Credentials]] = (),
    ) -> None:
        self.ua = ua
        self.machine = machine
        self.on_report = on_report
        self.credentials = credentials
        self._background = Background(self._fire, failure_event="sip.driver.failed")
        self._closed = False

    async def run(self, outputs: Iterable[object]) -> None:
        """Do what `outputs` ask: responses are sent before this returns (a handler awaits it), requests
        run in the background and feed their outcome back into the machine."""
        for output in outputs:
            if self._closed:
                return
            if isinstance(output, SendResponse):
                try:
                    await self.ua.send_response(output.response)
                except LookupError as exc:
                    log.warning("sip.driver.response_unmatched", error=str(exc))
            elif isinstance(output, SendRequest):
                self._background.spawn(self._request(output))
            elif isinstance(output, StartTimer):
                self._background.start_timer(output.timer, output.delay)
            elif isinstance(output, CancelTimer):
                self._background.cancel_timer(output.timer)
            elif self.on_report is not None:
                self.on_report(output)

    def start(self, outputs: Iterable[object]) -> None:
        """`run` in the background (for outputs that come from outside a handler, e.g. `start()`)."""
        self._background.spawn(self.run(list(outputs)))

    async def idle(self, timeout: float = 10.0) -> None:
        """Wait until no request of this driver is in flight (tests)."""
        await self._background.idle(timeout)

    async def close(self) -> None:
        self._closed = True
        await self._background.close()

    async def _request(self, action: SendRequest) -> None:
        credentials = self.credentials(action.request) if callable(self.credentials) else self.credentials
        response = await self.ua.send(action.request, next_hop=action.next_hop, credentials=credentials)
        if isinstance(response, LocalResponse):
            outputs = self.machine.request_failed(action.request, response.reason)
        else:
            outputs = self.machine.response_received(response)
        await self.run(outputs)

    def _fire(self, timer: Timer) -> None:
        self._background.spawn(self.run(self.machine.timer_fired(timer)))


class NotifyMachine(Machine, Protocol):
    def notify_received(self, request: Request) -> Sequence[object]: ...


class SubscribeMachine(Machine, Protocol):
    def subscribe_received(self, request: Request) -> Sequence[object]: ...


class EventHandler:
    """The user agent's request handler for the event package: NOTIFY to the subscribers, SUBSCRIBE to the
    notifier; any other method `405` with `Allow`."""

    def __init__(
        self,
        *,
        subscribers: Driver[NotifyMachine] | None = None,
        notifier: Driver[SubscribeMachine] | None = None,
    ) -> None:
        self.subscribers = subscribers
        self.notifier = notifier

    async def handle_request(self, request: IncomingRequest) -> None:
        if request.transaction is None:
            return  # an ACK: nothing to do for the event package
        if request.method == "NOTIFY" and self.subscribers is not None:
            await self.subscribers.run(self.subscribers.machine.notify_received(request.message))
        elif request.method == "SUBSCRIBE" and self.notifier is not None:
            await self.notifier.run(self.notifier.machine.subscribe_received(request.message))
        else:
            allow = [m for m, d in (("NOTIFY", self.subscribers), ("SUBSCRIBE", self.notifier)) if d]
            await request.respond(405, headers=[("Allow", ", ".join(allow or ["OPTIONS"]))])
