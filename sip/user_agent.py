"""The SIP user agent the rest of the gateway uses: send a request and await its final response, receive
requests through a handler object, send in-dialog requests from a `Dialog` record.

No protocol decisions are made here (what to answer to a SUBSCRIBE is the notifier's business); this is the
thin asyncio layer that RFC 6665/3261 state machines drive:

    ua = UserAgent([TransportAddress("udp", "127.0.0.1", 5060), TransportAddress("tcp", "127.0.0.1", 5060)])
    await ua.start()
    request = ua.new_request(
        "SUBSCRIBE", "sip:conf@192.0.2.7", from_uri="<sip:gw@gw.example.org>", to_uri="<sip:conf@192.0.2.7>",
        headers=[("Event", "conference"), ("Expires", "600")],
    )
    response = await ua.send(request, credentials=[Credentials("gw", "secret")])
    dialog = Dialog.from_response(request, response)
    response = await ua.send_in_dialog(dialog, "SUBSCRIBE", headers=[("Event", "conference"), ("Expires", "0")])
    await ua.close()

Incoming requests go to `ua.handler.handle_request(incoming)` — or to the handler registered for their
Call-ID with `route_call_id` (so a subscriber sees the NOTIFY that arrives before its 2xx). The handler
answers with `await incoming.respond(code, ...)`: any status code, a To-tag always (see `sip.messages`).
The sans-IO machines (`sip.subscriber`, `sip.notifier`) run on it through `sip.driver`.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import replace
from typing import Protocol

import structlog
from sipmessage import URI, Address, CSeq, Request, Response

from sip.dialogs import DIALOG_CREATING_METHODS, Dialog
from sip.digest import Credentials, authorize
from sip.messages import (
    LocalResponse,
    create_response,
    cseq_of,
    from_tag,
    local_response,
    new_branch,
    new_call_id,
    new_tag,
    to_tag,
    top_via,
)
from sip.tasks import TaskSet
from sip.transactions import ServerTransaction, Timers, TransactionLayer
from sip.transport import (
    IDLE_TIMEOUT,
    MAX_CONNECTIONS,
    MAX_MESSAGE_BYTES,
    UDP_COMFORTABLE,
    Source,
    Transport,
    TransportAddress,
    TransportError,
    resolve,
)

log = structlog.get_logger(__name__)

Headers = Iterable[tuple[str, str]]
USER_AGENT = "coin-gateway"
MAX_AUTH_ATTEMPTS = 3
NO_TCP_MEMORY = 300.0  # seconds a peer that refused TCP gets large requests over UDP without a new try


class DialogState(Protocol):
    """What `send_in_dialog` needs of a dialog record (`sip.dialogs.Dialog` has it)."""

    local_cseq: int

    def new_request(self, method: str) -> Request: ...

    def next_hop(self) -> URI: ...


class RequestHandler(Protocol):
    """What receives requests from the user agent."""

    async def handle_request(self, request: IncomingRequest) -> None: ...


class IncomingRequest:
    """A received request and the means to answer it (the server transaction behind it).

    `tag` is the To-tag every response carries: the request's own when it had one (in-dialog), else one
    made for this request (the local tag of the dialog a 2xx creates). An ACK for a 2xx has no transaction
    and cannot be answered; nor can a CANCEL the user agent answered itself (200, and 487 to its INVITE)
    before passing it on so that the handler ends the session.
    """

    def __init__(
        self, ua: UserAgent, message: Request, source: Source, transaction: ServerTransaction | None
    ) -> None:
        self.ua = ua
        self.message = message
        self.source = source
        self.transaction = transaction
        self.tag = to_tag(message) or new_tag()

    @property
    def method(self) -> str:
        return self.message.method

    @property
    def answered(self) -> bool:
        return self.transaction is None or self.transaction.final_sent

    def create_response(
        self,
        code: int,
        phrase: str | None = None,
        *,
        headers: Headers = (),
        body: bytes = b"",
        content_type: str | None = None,
        contact: bool | None = None,
    ) -> Response:
        """The response `respond` would send, to adjust before `send_response`."""
        response = create_response(
            self.message,
            code,
            phrase,
            tag=self.tag,
            headers=list(headers),
            body=body,
            content_type=content_type,
        )
        creates_dialog = self.method in DIALOG_CREATING_METHODS and 100 < code < 300
        if creates_dialog:
            records = self.message.headers.getlist("Record-Route")
            if records:  # §12.1.1: the UAS copies Record-Route into a dialog-creating response
                response.headers.setlist("Record-Route", list(records))
        wants_contact = contact if contact is not None else (creates_dialog or self.method == "NOTIFY")
        if wants_contact and response.headers.get("Contact") is None and 100 < code < 300:
            response.headers.set("Contact", str(self.ua.contact(self.source.address.protocol)))
        if response.headers.get("Server") is None:
            response.headers.set("Server", self.ua.user_agent)
        return response

    async def respond(
        self,
        code: int,
        phrase: str | None = None,
        *,
        headers: Headers = (),
        body: bytes = b"",
        content_type: str | None = None,
        contact: bool | None = None,
    ) -> Response:
        """Answer with any status (`489 Bad Event`, `423` with `headers=[("Min-Expires", "60")]`, ...).

        A Contact (ours, for the transport the request came on) is added to 1xx/2xx of dialog-creating
        requests and of NOTIFY unless `contact=False`; Record-Route is copied where §12.1.1 says.
        """
        response = self.create_response(
            code, phrase, headers=headers, body=body, content_type=content_type, contact=contact
        )
        await self.send_response(response)
        return response

    async def send_response(self, response: Response) -> None:
        if self.transaction is None:
            raise RuntimeError(
                f"{self.method} has no transaction to answer on (an ACK, or a CANCEL already answered)"
            )
        await self.ua._answer(self.transaction, response)


class UserAgent:
    """One SIP user agent: its listeners (`listen`: one address per transport), transactions, handlers."""

    def __init__(
        self,
        listen: Sequence[TransportAddress],
        *,
        handler: RequestHandler | None = None,
        tls_server_context: ssl.SSLContext | None = None,
        tls_client_context: ssl.SSLContext | None = None,
        timers: Timers | None = None,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
        max_connections: int = MAX_CONNECTIONS,
        idle_timeout: float = IDLE_TIMEOUT,
        user_agent: str = USER_AGENT,
        contact_user: str | None = None,
        trace: bool = False,
        retransmit_2xx: bool = False,
    ) -> None:
        protocols = [address.protocol for address in listen]
        if len(set(protocols)) != len(protocols):
            raise ValueError("one listener per transport")
        self.listen_addresses = list(listen)
        self.handler = handler
        self.user_agent = user_agent
        self.contact_user = contact_user
        # §13.3.1.4 done here (off by default: sip.invite_session resends its 2xx itself, on its own timers)
        self.retransmit_2xx = retransmit_2xx
        self._tls_server_context = tls_server_context
        self.transport = Transport(
            self._on_message,
            max_message_bytes=max_message_bytes,
            max_connections=max_connections,
            idle_timeout=idle_timeout,
            tls_client_context=tls_client_context,
            trace=trace,
        )
        self.transactions = TransactionLayer(
            self.transport, self._on_request, on_stray=self._on_stray, timers=timers
        )
        self._call_handlers: dict[str, RequestHandler] = {}
        self._tasks = TaskSet()
        self._acks: dict[tuple[str, int], tuple[Request, TransportAddress]] = {}
        self._unacked: dict[tuple[str, int], asyncio.Task[None]] = {}  # 2xx to INVITE awaiting the ACK
        self._no_tcp: dict[tuple[str, int], float] = {}
        self._closing = False
        self._credentials: dict[
            tuple[str, int], list[tuple[str, list[str]]]
        ] = {}  # for the ACK of a 2xx  # peers that refused TCP, until when

    # -- life cycle ------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on every address; a port 0 after the first listener means the port that one got (UDP and
        TCP on one number, as SIP expects), or any free port when that one is taken for this transport."""
        chosen: int | None = None
        try:
            for address in self.listen_addresses:
                context = self._tls_server_context if address.protocol == "tls" else None
                if address.port == 0 and chosen is not None:
                    try:
                        await self.transport.listen(replace(address, port=chosen), context)
                        continue
                    except OSError:
                        pass
                await self.transport.listen(address, context)
                chosen = chosen or self.transport.local_address(address.protocol).port
        except BaseException:
            await self.transport.close()
            raise

    async def close(self) -> None:
        """Close sockets, end transactions, wait for handler tasks (cancelled if still running)."""
        self._closing = True  # what arrives from now on is dropped
        for task in list(self._unacked.values()):
            task.cancel()
        self._unacked.clear()
        await self._tasks.cancel()
        await self.transactions.close()
        await self.transport.close()

    async def __aenter__(self) -> UserAgent:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- addresses -------------------------------------------------------------------------------------

    def local_address(self, protocol: str = "udp") -> TransportAddress:
        return self.transport.local_address(protocol)

    def contact(self, protocol: str = "udp", *, user: str | None = None, params: str = "") -> Address:
        """Our Contact for `protocol`: `<sip:[user@]host:port[;transport=tcp|tls]>` plus `params` (e.g.
        `;isfocus` as a header parameter, RFC 4579)."""
        address = self.local_address(protocol)
        user = user if user is not None else self.contact_user
        userinfo = f"{user}@" if user else ""
        host = f"[{address.host}]" if ":" in address.host else address.host
        transport = "" if protocol == "udp" else f";transport={protocol}"
        return Address.parse(f"<sip:{userinfo}{host}:{address.port}{transport}>{params}")

    # -- sending ---------------------------------------------------------------------------------------

    def new_request(
        self,
        method: str,
        uri: URI | str,
        *,
        from_uri: Address | str,
        to_uri: Address | str,
        from_tag: str | None = None,
        call_id: str | None = None,
        cseq: int = 1,
        headers: Headers = (),
        body: bytes = b"",
        content_type: str | None = None,
    ) -> Request:
        """A request outside any dialog (§8.1.1): new Call-ID and From-tag unless given."""
        request_uri = URI.parse(uri) if isinstance(uri, str) else uri
        request = Request(method, request_uri, body)
        request.headers.set("Via", f"SIP/2.0/UDP placeholder;branch={new_branch()}")
        request.max_forwards = 70
        from_address = Address.parse(from_uri) if isinstance(from_uri, str) else from_uri
        to_address = Address.parse(to_uri) if isinstance(to_uri, str) else to_uri
        tag = from_tag or from_address.parameters.get("tag") or new_tag()
        request.from_address = from_address.__class__(
            uri=from_address.uri, name=from_address.name, parameters=from_address.parameters.replace(tag=tag)
        )
        request.to_address = to_address
        request.call_id = call_id or new_call_id()
        request.cseq = CSeq(cseq, method)
        for name, value in headers:
            request.headers.add(name, value)
        if content_type is not None:
            request.headers.set("Content-Type", content_type)
        return request

    async def send(
        self,
        request: Request,
        *,
        credentials: Sequence[Credentials] = (),
        contact: bool | None = None,
        on_provisional: Callable[[Response], None] | None = None,
        dialog: DialogState | None = None,
        next_hop: URI | None = None,
    ) -> Response:
        """Send `request` and return its final response; answer Digest challenges with `credentials`.

        The next hop is the first Route when it is a loose router, else the Request-URI (RFC 3261 §8.1.2);
        Via (new branch, `rport`), Contact (for dialog-creating methods and NOTIFY, unless `contact` says
        otherwise) and User-Agent are filled in. A `401`/`407` whose realm has credentials is answered once
        per realm (again if the server says `stale`): the request is sent anew with CSeq + 1 (the dialog's
        next CSeq when `dialog` is given). A timeout gives `408`, a transport error `503`: both are
        `sip.messages.LocalResponse` instances (with a `reason`), never sent by any peer.
        """
        answered: set[tuple[str, str]] = set()
        for _attempt in range(MAX_AUTH_ATTEMPTS + 1):
            response = await self._send_once(
                request, next_hop=next_hop, contact=contact, on_provisional=on_provisional
            )
            if request.method == "INVITE" and 200 <= response.code < 300:
                self._remember_credentials(request)
            if response.code not in (401, 407) or not credentials:
                return response
            retry = self._authorize(request, response, credentials, answered, dialog)
            if retry is None:
                return response
            request = retry
        return response

    async def send_in_dialog(
        self,
        dialog: DialogState,
        method: str,
        *,
        headers: Headers = (),
        body: bytes = b"",
        content_type: str | None = None,
        credentials: Sequence[Credentials] = (),
        on_provisional: Callable[[Response], None] | None = None,
    ) -> Response:
        """Build an in-dialog request from `dialog` (remote target, route set, next CSeq), send it to the
        dialog's next hop, and return its final response."""
        request = dialog.new_request(method)
        request.body = body
        for name, value in headers:
            request.headers.add(name, value)
        if content_type is not None:
            request.headers.set("Content-Type", content_type)
        response = await self.send(
            request,
            next_hop=dialog.next_hop(),
            credentials=credentials,
            on_provisional=on_provisional,
            dialog=dialog,
        )
        if isinstance(dialog, Dialog):
            dialog.accept_response(response)
        return response

    async def send_ack(self, dialog: Dialog, invite_cseq: int, *, body: bytes = b"") -> None:
        """ACK a 2xx to INVITE (§13.2.2.4): its own request, no transaction; a retransmitted 2xx is ACKed
        again from a cache."""
        saved = dialog.local_cseq
        dialog.local_cseq = invite_cseq
        request = dialog.new_request("ACK")
        dialog.local_cseq = saved
        request.body = body
        for name, values in self._credentials.pop((dialog.call_id, invite_cseq), []):
            request.headers.setlist(name, values)  # §22.1: the ACK carries the INVITE's credentials
        destination = await self.resolve(dialog.next_hop())
        self._complete(request, destination.protocol, contact=False)
        self._acks[(dialog.call_id, invite_cseq)] = (request, destination)
        asyncio.get_running_loop().call_later(
            self.transactions.timers.timeout, self._acks.pop, (dialog.call_id, invite_cseq), None
        )
        await self.transactions.send_ack(request, destination)

    async def cancel(self, invite: Request) -> Response:
        """CANCEL an INVITE we sent that has had a provisional response (§9.1): same Request-URI, Call-ID,
        From, To, Route, CSeq number and top Via (branch) as the INVITE as it was last sent (after a Digest
        challenge, that is the retried one), to the same destination. Returns the CANCEL's response; the
        INVITE's own transaction then ends with 487."""
        pending = self.transactions.pending_invite(invite.call_id, from_tag(invite))
        if pending is not None:
            invite = pending.request
        cancel = Request("CANCEL", invite.uri)
        cancel.headers.set("Via", invite.headers.getlist("Via")[0])
        for name in ("From", "To", "Call-ID"):
            cancel.headers.set(name, invite.headers[name])
        cancel.cseq = CSeq(cseq_of(invite).sequence, "CANCEL")
        cancel.max_forwards = 70
        routes = invite.headers.getlist("Route")
        if routes:
            cancel.headers.setlist("Route", list(routes))
        if pending is not None:
            destination = pending.destination
        else:
            try:
                destination = await self.resolve(self.next_hop(invite))
            except TransportError as exc:
                return local_response(cancel, 503, f"transport error: {exc}")
            destination = replace(destination, protocol=top_via(invite).transport.lower())
        return await self.transactions.send_request(cancel, destination)

    async def send_response(self, response: Response) -> None:
        """Send a response built elsewhere (e.g. by a sans-IO machine) on the server transaction of the
        request it answers (matched by the top Via's branch and sent-by, and the CSeq method)."""
        transaction = self.transactions.server_transaction_for(response)
        if transaction is None:
            raise LookupError(f"no server transaction for {response.code} to {response.cseq.method}")
        await self._answer(transaction, response)

    async def _answer(self, transaction: ServerTransaction, response: Response) -> None:
        await transaction.respond(response)
        unreliable = not transaction.source.address.reliable
        if self.retransmit_2xx and transaction.invite and 200 <= response.code < 300 and unreliable:
            key = (response.call_id, response.cseq.sequence)
            self._unacked[key] = asyncio.get_running_loop().create_task(
                self._retransmit_2xx(key, response, transaction.source)
            )

    async def _retransmit_2xx(self, key: tuple[str, int], response: Response, source: Source) -> None:
        """§13.3.1.4: the UAS core resends a 2xx to INVITE over UDP (T1 doubling up to T2) until the ACK
        comes, for at most 64*T1."""
        timers = self.transactions.timers
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timers.timeout
        interval = timers.t1
        try:
            while loop.time() + interval < deadline:
                await asyncio.sleep(interval)
                with contextlib.suppress(TransportError, OSError):
                    await self.transport.send_response(response, source)
                interval = min(2 * interval, timers.t2)
            log.warning("sip.invite.no_ack", call_id=key[0], cseq=key[1])
        finally:
            if self._unacked.get(key) is asyncio.current_task():
                del self._unacked[key]

    async def resolve(self, uri: URI) -> TransportAddress:
        """`sip.transport.resolve`, keeping the addresses of our listeners' family (IPv4 or IPv6)."""
        families = {socket.AF_INET6 if ":" in a.host else socket.AF_INET for a in self.listen_addresses}
        return await resolve(uri, families.pop() if len(families) == 1 else 0)

    def _remember_credentials(self, invite: Request) -> None:
        saved = [(n, list(invite.headers.getlist(n))) for n in ("Authorization", "Proxy-Authorization")]
        saved = [(name, values) for name, values in saved if values]
        if saved:
            key = (invite.call_id, cseq_of(invite).sequence)
            self._credentials[key] = saved
            asyncio.get_running_loop().call_later(
                self.transactions.timers.timeout, self._credentials.pop, key, None
            )

    @staticmethod
    def next_hop(request: Request) -> URI:
        routes = request.route
        if routes and "lr" in routes[0].uri.parameters:
            return routes[0].uri
        return request.uri

    async def _send_once(
        self,
        request: Request,
        *,
        next_hop: URI | None,
        contact: bool | None,
        on_provisional: Callable[[Response], None] | None,
    ) -> Response:
        hop = next_hop or self.next_hop(request)
        try:
            destination = await self.resolve(hop)
            self._complete(request, destination.protocol, contact=contact)
        except TransportError as exc:
            log.info("sip.request.unroutable", method=request.method, uri=str(request.uri), error=str(exc))
            return local_response(request, 503, f"transport error: {exc}")
        if self._wants_tcp(request, hop, destination):
            # RFC 3261 §18.1.1: a request over 1300 bytes goes over TCP; back to UDP if the peer has no
            # TCP (Kamailio with disable_tcp, sipp) and the request still fits in a datagram
            over_tcp = TransportAddress("tcp", destination.host, destination.port)
            self._complete(request, "tcp", contact=contact)
            response = await self.transactions.send_request(request, over_tcp, on_provisional)
            if not (isinstance(response, LocalResponse) and response.code == 503):
                return response
            log.info("sip.request.tcp_fallback", destination=str(destination), reason=response.reason)
            loop = asyncio.get_running_loop()
            self._no_tcp[(destination.host, destination.port)] = loop.time() + NO_TCP_MEMORY
            request.headers.remove("Via")
            self._complete(request, "udp", contact=contact)
        return await self.transactions.send_request(request, destination, on_provisional)

    def _wants_tcp(self, request: Request, hop: URI, destination: TransportAddress) -> bool:
        if (
            destination.protocol != "udp"
            or hop.parameters.get("transport")
            or "tcp" not in self.transport.protocols
        ):
            return False
        return len(request.body) + len(str(request.headers)) + 100 > UDP_COMFORTABLE

    def _complete(self, request: Request, protocol: str, *, contact: bool | None) -> None:
        local = self.local_address(protocol)
        host = f"[{local.host}]" if ":" in local.host else local.host
        branch = top_via(request).parameters.get("branch") if request.headers.get("Via") else None
        branch = branch if branch and branch.startswith("z9hG4bK") else new_branch()
        request.headers.set("Via", f"SIP/2.0/{protocol.upper()} {host}:{local.port};branch={branch};rport")
        if request.headers.get("Max-Forwards") is None:
            request.max_forwards = 70
        wants_contact = (
            contact if contact is not None else request.method in {*DIALOG_CREATING_METHODS, "NOTIFY"}
        )
        if wants_contact and request.headers.get("Contact") is None:
            request.headers.set("Contact", str(self.contact(protocol)))
        if request.headers.get("User-Agent") is None:
            request.headers.set("User-Agent", self.user_agent)

    def _authorize(
        self,
        request: Request,
        response: Response,
        credentials: Sequence[Credentials],
        answered: set[tuple[str, str]],
        dialog: DialogState | None,
    ) -> Request | None:
        """The request again with credentials for the challenge in `response`, or None if we have none."""
        retry = authorize(request, response, credentials, answered)
        if retry is None:
            return None
        sequence = request.cseq.sequence + 1
        if dialog is not None:
            sequence = dialog.local_cseq = max(dialog.local_cseq + 1, sequence)
        retry.cseq = CSeq(sequence, request.method)
        retry.headers.set("Via", f"SIP/2.0/UDP placeholder;branch={new_branch()}")
        return retry

    # -- receiving -------------------------------------------------------------------------------------

    def route_call_id(self, call_id: str, handler: RequestHandler) -> None:
        """Send every request with this Call-ID to `handler` (e.g. the subscriber that sent the SUBSCRIBE)."""
        self._call_handlers[call_id] = handler

    def unroute_call_id(self, call_id: str) -> None:
        self._call_handlers.pop(call_id, None)

    def _on_message(self, message: Request | Response, source: Source) -> None:
        if not self._closing:
            self.transactions.receive(message, source)

    def _on_request(self, request: Request, transaction: ServerTransaction) -> None:
        incoming = IncomingRequest(self, request, source=transaction.source, transaction=transaction)
        transaction.to_tag = incoming.tag
        if request.method == "CANCEL":
            self._spawn(self._cancel_received(incoming))
            return
        try:
            max_forwards = request.max_forwards
        except ValueError:
            max_forwards = None
        if max_forwards == 0 and request.method != "OPTIONS":  # §8.2.2 / §16.3
            self._spawn(self._respond(incoming, 483))
            return
        self._dispatch(incoming)

    async def _respond(self, incoming: IncomingRequest, code: int) -> None:
        await incoming.respond(code)

    async def _cancel_received(self, cancel: IncomingRequest) -> None:
        """CANCEL (§9.2): 481 without a matching INVITE transaction; else 200, and 487 to the INVITE if it
        was not answered yet. The handler then sees the CANCEL (already answered) to end its session."""
        invite = self.transactions.invite_transaction_for(cancel.message)
        if invite is None:
            await cancel.respond(481)
            return
        await cancel.respond(200)
        if not invite.final_sent:
            await invite.respond(create_response(invite.request, 487, tag=invite.to_tag))
            self._dispatch(IncomingRequest(self, cancel.message, source=cancel.source, transaction=None))

    def _on_stray(self, message: Request | Response, source: Source) -> None:
        if isinstance(message, Request):  # an ACK for a 2xx: stops its retransmission
            retransmission = self._unacked.pop((message.call_id, message.cseq.sequence), None)
            if retransmission is not None:
                retransmission.cancel()
            self._dispatch(IncomingRequest(self, message, source=source, transaction=None))
        elif message.cseq.method == "INVITE" and 200 <= message.code < 300:
            cached = self._acks.get((message.call_id, message.cseq.sequence))
            if cached is not None:
                self._spawn(self.transactions.send_ack(*cached))

    def _dispatch(self, incoming: IncomingRequest) -> None:
        handler = self._call_handlers.get(incoming.message.call_id, self.handler)
        self._spawn(self._handle(handler, incoming))

    async def _handle(self, handler: RequestHandler | None, incoming: IncomingRequest) -> None:
        if handler is None:
            if not incoming.answered:
                await incoming.respond(501, "Not Implemented (no handler)")
            return
        try:
            await handler.handle_request(incoming)
        except Exception:
            log.exception("sip.handler.failed", method=incoming.method, call_id=incoming.message.call_id)
            if not incoming.answered:
                await incoming.respond(500, "Server Internal Error")
            return
        if not incoming.answered:
            log.error("sip.handler.no_answer", method=incoming.method, call_id=incoming.message.call_id)
            await incoming.respond(500, "Server Internal Error (not answered)")

    def _spawn(self, coroutine: Coroutine[object, object, None]) -> None:
        self._tasks.spawn(coroutine)
