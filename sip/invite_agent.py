"""The asyncio driver of `sip.invite_session`: runs the INVITE sessions over `sip.user_agent`.

    ua = UserAgent([TransportAddress("udp", "127.0.0.1", 5060)])
    await ua.start()
    sessions = InviteSessions(contact=ua.contact().uri, negotiator=lambda: AudioNegotiator("127.0.0.1", 4000))
    agent = InviteAgent(ua, sessions)
    ua.handler = agent                      # or a dispatcher that hands it INVITE, ACK, CANCEL, BYE
    session = agent.call("sip:conf@bridge", local="<sip:gw@127.0.0.1>")
    report = await agent.reports.get()      # Ringing, Established(remote_focus=...), CallFailed, ...
    agent.run(session.hangup())

Every output of the machines is carried out here and nowhere else: requests go out in client transactions
(their provisional and final responses fed back), responses on their server transactions, ACKs for 2xx
without one (`UserAgent.send_ack`, which also answers a retransmitted 2xx from its cache), a 2xx to resend
goes to where its request came from, timers run on the loop. Reports go to `reports` (a queue) and to
`on_report` when given; the owner answers them with the session's methods and hands the outputs to `run`.

The user agent wants each request answered before its handler returns, so the handler of an INVITE waits
until the session has sent a final response (the owner rings, then accepts or rejects; the session's own
no-answer timer ends the wait at the latest).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine, Iterable, Sequence

import structlog
from sipmessage import URI, Address, Request, Response

from sip.actions import SendRequest, SendResponse
from sip.digest import Credentials
from sip.invite_session import (
    ArmTimer,
    CallFailed,
    DisarmTimer,
    Ended,
    InviteSession,
    InviteSessions,
    Output,
    Report,
    ResendResponse,
    SendAck,
    SessionTimer,
)
from sip.messages import to_tag
from sip.transport import Source, TransportError
from sip.user_agent import IncomingRequest, UserAgent

log = structlog.get_logger(__name__)

METHODS = frozenset({"INVITE", "ACK", "CANCEL", "BYE"})


class InviteAgent:
    """A `RequestHandler` for the INVITE usage; `handles(request)` says which requests are its."""

    def __init__(
        self,
        ua: UserAgent,
        sessions: InviteSessions,
        *,
        on_report: Callable[[Report], None] | None = None,
    ) -> None:
        self.ua = ua
        self.sessions = sessions
        self.on_report = on_report
        self.reports: asyncio.Queue[Report] = asyncio.Queue()
        self._timers: dict[SessionTimer, asyncio.TimerHandle] = {}
        self._sources: dict[tuple[str, int], Source] = {}  # (Call-ID, CSeq) of INVITEs -> where from
        self._finals: dict[tuple[str, int], asyncio.Event] = {}  # INVITEs awaiting their final response
        self._tasks: set[asyncio.Task[None]] = set()

    def handles(self, request: Request) -> bool:
        """INVITE, ACK, CANCEL, BYE; and anything else inside one of our dialogs."""
        if request.method in METHODS:
            return True
        tag = to_tag(request)
        return tag is not None and any(
            s.call_id == request.call_id and s.local_tag == tag for s in self.sessions.sessions()
        )

    # -- the owner's side ---------------------------------------------------------------------------------

    def call(
        self,
        target: URI | str,
        *,
        local: Address | str,
        focus: bool = False,
        credentials: Sequence[Credentials] = (),
        route: Sequence[str] = (),
    ) -> InviteSession:
        """Place a call (see `InviteSessions.call`); what happens to it arrives in `reports`."""
        session, outputs = self.sessions.call(
            target, local=local, focus=focus, credentials=credentials, route=route
        )
        self.run(outputs)
        return session

    def run(self, outputs: Iterable[Output]) -> None:
        """Carry out what a machine asked for, in order."""
        for output in outputs:
            self._execute(output)

    async def close(self) -> None:
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        for event in self._finals.values():
            event.set()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    # -- the user agent's side ------------------------------------------------------------------------------

    async def handle_request(self, incoming: IncomingRequest) -> None:
        request = incoming.message
        waits: asyncio.Event | None = None
        if request.method == "INVITE" and incoming.transaction is not None:
            key = (request.call_id, request.cseq.sequence)
            self._sources[key] = incoming.source
            waits = self._finals[key] = asyncio.Event()
        try:
            for output in self.sessions.request_received(request):
                if isinstance(output, SendResponse):  # answered before the handler returns
                    await self._respond(output.response)
                else:
                    self._execute(output)
            if waits is not None and not incoming.answered:
                await waits.wait()
        finally:
            if waits is not None:
                self._finals.pop((request.call_id, request.cseq.sequence), None)

    # -- carrying out ---------------------------------------------------------------------------------------

    def _execute(self, output: Output) -> None:
        if isinstance(output, SendRequest):
            self._spawn(self._transaction(output.request, output.next_hop))
        elif isinstance(output, SendResponse):
            self._spawn(self._respond(output.response))
        elif isinstance(output, SendAck):
            self._spawn(self.ua.send_ack(output.dialog, output.cseq, body=output.body))
        elif isinstance(output, ResendResponse):
            self._spawn(self._resend(output.response))
        elif isinstance(output, ArmTimer):
            old = self._timers.pop(output.timer, None)
            if old is not None:
                old.cancel()
            loop = asyncio.get_running_loop()
            self._timers[output.timer] = loop.call_later(output.delay, self._fire, output.timer)
        elif isinstance(output, DisarmTimer):
            handle = self._timers.pop(output.timer, None)
            if handle is not None:
                handle.cancel()
        else:
            self._report(output)

    def _report(self, report: Report) -> None:
        if isinstance(report, Ended | CallFailed):
            call_id = report.session.call_id
            for key in [k for k in self._sources if k[0] == call_id]:
                del self._sources[key]
        self.reports.put_nowait(report)
        if self.on_report is not None:
            self.on_report(report)

    def _fire(self, timer: SessionTimer) -> None:
        self._timers.pop(timer, None)
        self.run(self.sessions.timer_fired(timer))

    async def _transaction(self, request: Request, next_hop: URI) -> None:
        def provisional(response: Response) -> None:
            self.run(self.sessions.response_received(response))

        response = await self.ua.send(request, next_hop=next_hop, contact=False, on_provisional=provisional)
        self.run(self.sessions.response_received(response))

    async def _respond(self, response: Response) -> None:
        try:
            await self.ua.send_response(response)
        except (LookupError, RuntimeError) as exc:  # the transaction is gone (e.g. the peer gave up)
            log.info("sip.invite.response_not_sent", code=response.code, error=str(exc))
        finally:
            if response.code >= 200 and response.cseq.method == "INVITE":
                event = self._finals.get((response.call_id, response.cseq.sequence))
                if event is not None:
                    event.set()

    async def _resend(self, response: Response) -> None:
        source = self._sources.get((response.call_id, response.cseq.sequence))
        if source is None:
            return
        with contextlib.suppress(TransportError, OSError):
            await self.ua.transport.send_response(response, source)

    def _spawn(self, coroutine: Coroutine[object, object, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("sip.invite.task_failed", error=repr(task.exception()))
