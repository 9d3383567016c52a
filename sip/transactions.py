"""SIP transactions (RFC 3261 §17): matching, retransmission and timeouts, on top of `sip.transport`.

Why not sipua's `TransactionLayer`: its non-INVITE server transaction ignores a retransmitted request, so
over UDP a lost `200` is never sent again (the peer times out although we answered); its timers cannot be
cancelled (they fire after the layer is closed); its INVITE client transaction ACKs a `2xx` itself, inside
the transaction (with the INVITE's branch), and keeps Timer B running after a provisional response; and an
ACK for a `2xx` we sent (a transaction of its own, §13.2.2.4) is dropped before the user agent sees it.

The client side hands back the final response (or a made-up `408` on timeout, `503` on a transport error,
as §8.1.3.1 says: `sip.messages.LocalResponse`); provisional responses go to an optional callback. The server side calls
`on_request(request, transaction)` once per new transaction and answers retransmissions itself.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable, Coroutine
from dataclasses import dataclass

import structlog
from sipmessage import CSeq, Request, Response

from sip.messages import create_response, cseq_of, from_tag, local_response, top_via
from sip.tasks import TaskSet
from sip.transport import Source, Transport, TransportAddress, TransportError

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Timers:
    """RFC 3261 §17 timer values in seconds (tests may shorten them)."""

    t1: float = 0.5
    t2: float = 4.0
    t4: float = 5.0
    timer_d: float = 32.0

    @property
    def timeout(self) -> float:
        """Timers B, F, H and J: 64*T1."""
        return 64 * self.t1


class State(enum.Enum):
    CALLING = "calling"
    TRYING = "trying"
    PROCEEDING = "proceeding"
    COMPLETED = "completed"
    CONFIRMED = "confirmed"
    TERMINATED = "terminated"


ClientKey = tuple[str, str]  # branch, method
ServerKey = tuple[str, str, str]  # branch, sent-by, method (ACK counted as INVITE)
ProvisionalCallback = Callable[[Response], None]
RequestCallback = Callable[[Request, "ServerTransaction"], None]
StrayCallback = Callable[[Request | Response, Source], None]


def client_key(message: Request | Response) -> ClientKey:
    branch = top_via(message).parameters.get("branch") or ""
    method = message.method if isinstance(message, Request) else cseq_of(message).method
    return (branch, method)


def server_key(request: Request) -> ServerKey:
    via = top_via(request)
    sent_by = f"{via.host}:{via.port or ''}"
    method = "INVITE" if request.method == "ACK" else request.method
    return (via.parameters.get("branch") or "", sent_by, method)


class _Transaction:
    def __init__(self, layer: TransactionLayer, request: Request, state: State) -> None:
        self.layer = layer
        self.request = request
        self.state = state
        self._timers: dict[str, asyncio.TimerHandle] = {}

    def _start_timer(self, name: str, delay: float, callback: Callable[[], None]) -> None:
        self._cancel_timer(name)
        self._timers[name] = asyncio.get_running_loop().call_later(delay, callback)

    def _cancel_timer(self, name: str) -> None:
        handle = self._timers.pop(name, None)
        if handle is not None:
            handle.cancel()

    def _terminate(self) -> None:
        self.state = State.TERMINATED
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        self.layer._forget(self)


class ClientTransaction(_Transaction):
    """INVITE (§17.1.1) or non-INVITE (§17.1.2) client transaction."""

    def __init__(
        self,
        layer: TransactionLayer,
        request: Request,
        destination: TransportAddress,
        on_provisional: ProvisionalCallback | None,
    ) -> None:
        self.invite = request.method == "INVITE"
        super().__init__(layer, request, State.CALLING if self.invite else State.TRYING)
        self.destination = destination
        self.key = client_key(request)
        self.on_provisional = on_provisional
        self.final: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        self._interval = layer.timers.t1
        self._ack: Request | None = None

    async def start(self) -> None:
        await self.layer.transport.send(self.request, self.destination)
        timers = self.layer.timers
        if not self.destination.reliable:
            self._start_timer("retransmit", self._interval, self._retransmit)
        self._start_timer("timeout", timers.timeout, self._timeout)

    def _retransmit(self) -> None:
        if self.state not in (State.CALLING, State.TRYING, State.PROCEEDING):
            return
        if self.invite and self.state is State.PROCEEDING:
            return  # timer A stops on a provisional response
        self._interval = self._interval * 2 if self.invite else min(self._interval * 2, self.layer.timers.t2)
        if self.state is State.PROCEEDING:
            self._interval = self.layer.timers.t2  # timer E in Proceeding fires at T2
        self.layer._spawn(self._send(self.request))
        self._start_timer("retransmit", self._interval, self._retransmit)

    def _timeout(self) -> None:
        if self.state in (State.CALLING, State.TRYING, State.PROCEEDING):
            self._settle(local_response(self.request, 408, "no response (timer B/F)"))
            self._terminate()

    async def _send(self, message: Request) -> None:
        try:
            await self.layer.transport.send(message, self.destination)
        except (TransportError, OSError) as exc:
            self.fail(exc)

    def fail(self, exc: BaseException) -> None:
        """A transport error: the TU sees a `503` (RFC 3261 §8.1.3.1)."""
        if self.state is State.COMPLETED:  # answered already: only the linger timer was left
            self._terminate()
        elif self.state is not State.TERMINATED:
            log.info("sip.transaction.transport_error", method=self.request.method, error=str(exc))
            self._settle(local_response(self.request, 503, f"transport error: {exc}"))
            self._terminate()

    def _settle(self, response: Response) -> None:
        if not self.final.done():
            self.final.set_result(response)

    def receive(self, response: Response) -> None:
        code = response.code
        if code < 200:
            if self.state in (State.CALLING, State.TRYING, State.PROCEEDING):
                self.state = State.PROCEEDING
                if self.invite:
                    # §17.1.1.2: Timer B runs in Calling only; a call may ring for as long as the TU lets it
                    # (it ends it with CANCEL). Timer A stops too.
                    self._cancel_timer("timeout")
                    self._cancel_timer("retransmit")
                if self.on_provisional is not None:
                    self.on_provisional(response)
            return
        if self.state in (State.CALLING, State.TRYING, State.PROCEEDING):
            self._cancel_timer("retransmit")
            self._cancel_timer("timeout")
            self._settle(response)
            if self.invite and code < 300:
                self._terminate()  # the ACK for a 2xx is the UA core's (§13.2.2.4)
                return
            self.state = State.COMPLETED
            if self.invite:
                self._ack = self._make_ack(response)
                self.layer._spawn(self._send(self._ack))
                delay = 0.0 if self.destination.reliable else self.layer.timers.timer_d
            else:
                delay = 0.0 if self.destination.reliable else self.layer.timers.t4
            self._start_timer("linger", delay, self._terminate)
        elif self.state is State.COMPLETED and self.invite and self._ack is not None:
            self.layer._spawn(self._send(self._ack))  # retransmitted final response: ACK again

    def _make_ack(self, response: Response) -> Request:
        """The ACK for a non-2xx final response (§17.1.1.3), part of this transaction."""
        ack = Request("ACK", self.request.uri)
        ack.headers.set("Via", self.request.headers.getlist("Via")[0])
        ack.headers.set("Max-Forwards", "70")
        for name in ("From", "Call-ID"):
            ack.headers.set(name, self.request.headers[name])
        ack.headers.set("To", response.headers["To"])
        ack.cseq = CSeq(self.request.cseq.sequence, "ACK")
        routes = self.request.headers.getlist("Route")
        if routes:
            ack.headers.setlist("Route", list(routes))
        return ack


class ServerTransaction(_Transaction):
    """INVITE (§17.2.1) or non-INVITE (§17.2.2) server transaction."""

    def __init__(self, layer: TransactionLayer, request: Request, source: Source) -> None:
        self.invite = request.method == "INVITE"
        super().__init__(layer, request, State.PROCEEDING if self.invite else State.TRYING)
        self.source = source
        self.key = server_key(request)
        self.last_response: Response | None = None
        self.to_tag: str | None = None  # the To-tag the UA core answers with (a CANCEL's 487 needs it)
        self._interval = layer.timers.t1

    @property
    def final_sent(self) -> bool:
        return self.last_response is not None and self.last_response.code >= 200

    async def respond(self, response: Response) -> None:
        """Send `response`; a second final response, or one after termination, is refused."""
        if self.final_sent or self.state is State.TERMINATED:
            raise RuntimeError(f"{self.request.method} transaction already answered")
        self.last_response = response
        reliable = self.source.address.reliable
        if response.code < 200:
            self.state = State.PROCEEDING
        elif self.invite and response.code < 300:
            self._terminate()  # 2xx retransmission is the UA core's (§13.3.1.4)
        else:
            self.state = State.COMPLETED
            timers = self.layer.timers
            if self.invite:
                if not reliable:
                    self._start_timer("retransmit", self._interval, self._retransmit)
                self._start_timer("timeout", timers.timeout, self._terminate)  # timer H
            else:
                self._start_timer("linger", 0.0 if reliable else timers.timeout, self._terminate)  # J
        await self._send(response)

    async def _send(self, response: Response) -> None:
        try:
            await self.layer.transport.send_response(response, self.source)
        except (TransportError, OSError) as exc:
            log.info("sip.transaction.response_not_sent", code=response.code, error=str(exc))
            self._terminate()

    def _retransmit(self) -> None:  # timer G
        if self.state is State.COMPLETED and self.last_response is not None:
            self.layer._spawn(self._send(self.last_response))
            self._interval = min(self._interval * 2, self.layer.timers.t2)
            self._start_timer("retransmit", self._interval, self._retransmit)

    def receive_retransmission(self, request: Request) -> None:
        if request.method == "ACK":
            if self.invite and self.state is State.COMPLETED:
                self.state = State.CONFIRMED
                self._cancel_timer("retransmit")
                self._cancel_timer("timeout")
                reliable = self.source.address.reliable
                self._start_timer("linger", 0.0 if reliable else self.layer.timers.t4, self._terminate)  # I
            return
        if self.last_response is not None and self.state in (State.PROCEEDING, State.COMPLETED):
            self.layer._spawn(self._send(self.last_response))


class TransactionLayer:
    """Matches messages to transactions. Feed it with `receive` (the transport's callback)."""

    def __init__(
        self,
        transport: Transport,
        on_request: RequestCallback,
        *,
        on_stray: StrayCallback | None = None,
        timers: Timers | None = None,
    ) -> None:
        self.transport = transport
        self.on_request = on_request
        self.on_stray = on_stray
        self.timers = timers or Timers()
        self._clients: dict[ClientKey, ClientTransaction] = {}
        self._servers: dict[ServerKey, ServerTransaction] = {}
        self._tasks = TaskSet()

    async def send_request(
        self,
        request: Request,
        destination: TransportAddress,
        on_provisional: ProvisionalCallback | None = None,
    ) -> Response:
        """Send `request` in a new client transaction and return its final response (408/503 made up)."""
        transaction = ClientTransaction(self, request, destination, on_provisional)
        if transaction.key in self._clients:
            raise ValueError(f"a client transaction with branch {transaction.key[0]} exists")
        self._clients[transaction.key] = transaction
        try:
            await transaction.start()
        except (TransportError, OSError) as exc:
            transaction.fail(exc)
        return await transaction.final

    async def send_ack(self, ack: Request, destination: TransportAddress) -> None:
        """Send an ACK for a 2xx: no transaction (§17.1.1.1), just the transport."""
        await self.transport.send(ack, destination)

    def receive(self, message: Request | Response, source: Source) -> None:
        if isinstance(message, Response):
            client = self._clients.get(client_key(message))
            if client is not None:
                client.receive(message)
            elif self.on_stray is not None:
                self.on_stray(message, source)  # e.g. a retransmitted 2xx to INVITE
            return
        server = self._servers.get(server_key(message))
        if server is not None:
            server.receive_retransmission(message)
            return
        if message.method == "ACK":
            if self.on_stray is not None:
                self.on_stray(message, source)  # ACK for a 2xx
            return
        server = ServerTransaction(self, message, source)
        self._servers[server.key] = server
        if server.invite:
            self._spawn(server.respond(create_response(message, 100)))
        self.on_request(message, server)

    def server_transaction_for(self, response: Response) -> ServerTransaction | None:
        """The server transaction a response we built answers."""
        via = top_via(response)
        key = (via.parameters.get("branch") or "", f"{via.host}:{via.port or ''}", cseq_of(response).method)
        return self._servers.get(key)

    def pending_invite(self, call_id: str, local_tag: str | None) -> ClientTransaction | None:
        """Our INVITE of that call still waiting for its final response (the latest, if a challenge made
        us send it again): what a CANCEL must match."""
        pending = [
            t
            for t in self._clients.values()
            if t.invite
            and t.state in (State.CALLING, State.PROCEEDING)
            and t.request.call_id == call_id
            and from_tag(t.request) == local_tag
        ]
        return max(pending, key=lambda t: cseq_of(t.request).sequence, default=None)

    def invite_transaction_for(self, cancel: Request) -> ServerTransaction | None:
        """The INVITE server transaction a CANCEL refers to (§9.2)."""
        key = server_key(cancel)
        return self._servers.get((key[0], key[1], "INVITE"))

    def _forget(self, transaction: _Transaction) -> None:
        if isinstance(transaction, ClientTransaction):
            if self._clients.get(transaction.key) is transaction:
                del self._clients[transaction.key]
        elif isinstance(transaction, ServerTransaction) and self._servers.get(transaction.key) is transaction:
            del self._servers[transaction.key]

    def _spawn(self, coroutine: Coroutine[object, object, None]) -> None:
        self._tasks.spawn(coroutine)

    async def close(self) -> None:
        """Terminate every transaction (pending requests get a 503) and cancel every timer."""
        for client in list(self._clients.values()):
            client.fail(TransportError("user agent closed"))
        for server in list(self._servers.values()):
            server._terminate()
        await self._tasks.cancel()

    @property
    def pending(self) -> int:
        return len(self._clients) + len(self._servers)
