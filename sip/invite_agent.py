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
from collections.abc import Callable, Iterable, Sequence

import structlog
from sipmessage import URI, Address, Request, Response

from sip.actions import CancelTimer, SendRequest, SendResponse, StartTimer, Timer
from sip.digest import Credentials
from sip.invite_session import (
    CallFailed,
    Ended,
    InviteSession,
    InviteSessions,
    Output,
    Report,
    ResendResponse,
    SendAck,
)
from sip.messages import to_tag
from sip.tasks import Background
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
        self._background = Background(self._fire, failure_event="sip.invite.task_failed")
        self._sources: dict[tuple[str, int], Source] = {}  # (Call-ID, CSeq) of INVITEs -> where from
        self._finals: dict[tuple[str, int], asyncio.Event] = {}  # INVITEs awaiting their final response

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
        for event in self._finals.values():
            event.set()
        await self._background.close()

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
        spawn = self._background.spawn
        if isinstance(output, SendRequest):
            spawn(self._transaction(output.request, output.next_hop))
        elif isinstance(output, SendResponse):
            spawn(self._respond(output.response))
        elif isinstance(output, SendAck):
            spawn(self.ua.send_ack(output.dialog, output.cseq, body=output.body))
        elif isinstance(output, ResendResponse):
            spawn(self._resend(output.response))
        elif isinstance(output, StartTimer):
            self._background.start_timer(output.timer, output.delay)
        elif isinstance(output, CancelTimer):
            self._background.cancel_timer(output.timer)
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

    def _fire(self, timer: Timer) -> None:
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
