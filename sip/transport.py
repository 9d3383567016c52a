"""SIP transport (RFC 3261 §18): UDP, TCP and TLS sockets of one user agent, framing, size limits.

One listener per transport on the configured address and port (UDP and TCP share the number, as SIP
expects); nothing is bound anywhere else. Outgoing TCP/TLS connections are opened from the listening
address and kept for the responses and later requests to the same peer; responses to a request received on
a connection go back on that connection (§18.2.2).

Why not sipua's `TransportLayer`: it parses each TCP read as one message (no Content-Length framing, so a
segmented or coalesced message kills the connection), has no TLS, puts the ephemeral port of an outgoing TCP
connection into Contact, looks the connection for a response up by the Via's sent-by (so without `rport`
the response to a stream peer goes over a new connection), and lets a non-UTF-8 datagram raise inside the
protocol callback. Here a datagram that cannot be parsed is logged and dropped, or answered `400` when it
looks like a request with the headers a response needs.

Not done: SRV/NAPTR (RFC 3263; host names resolve through A/AAAA, default ports), `maddr`, connection reuse
for requests towards a peer that connected to us (RFC 5923), RFC 5626 outbound keep-alives.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import re
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

import structlog
from sipmessage import URI, Request, Response, Via

from sip.messages import MessageError, parse_message, raw_bad_request, top_via, via_count

log = structlog.get_logger(__name__)

PROTOCOLS = ("udp", "tcp", "tls")
DEFAULT_PORTS = {"udp": 5060, "tcp": 5060, "tls": 5061}
MAX_MESSAGE_BYTES = 65_535  # default limit on one message, any transport
MAX_HEADER_BYTES = 16_384  # on streams: the header block must end within this many bytes
MAX_CONNECTIONS = 4_096  # TCP/TLS connections, accepted and opened; more are refused (closed at once)
IDLE_TIMEOUT = 900.0  # seconds without traffic after which a TCP/TLS connection is closed
UDP_MAX_PAYLOAD = 65_507
UDP_RECEIVE_BUFFER = 4 * 1024 * 1024
# RFC 3261 §18.1.1: a request over 1300 bytes (path MTU unknown) goes over a congestion-controlled transport
UDP_COMFORTABLE = 1_300


class TransportError(ConnectionError):
    """A message could not be sent (no listener for the transport, connection refused, too large...)."""


@dataclass(frozen=True)
class TransportAddress:
    """A transport endpoint: `protocol` is `udp`, `tcp` or `tls`; `host` an IP address literal."""

    protocol: str
    host: str
    port: int
    # the host name the address was resolved from: what a TLS certificate is checked against (not compared)
    name: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"unknown transport {self.protocol!r} (one of {', '.join(PROTOCOLS)})")

    @property
    def reliable(self) -> bool:
        return self.protocol != "udp"

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.protocol}:{host}:{self.port}"

    @classmethod
    def parse(cls, text: str) -> TransportAddress:
        """`udp:127.0.0.1:5060` (the configuration's `sip.listen` form)."""
        protocol, _, rest = text.partition(":")
        host, _, port = rest.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"not PROTOCOL:HOST:PORT: {text!r}")
        return cls(protocol.lower(), host.strip("[]"), int(port))


@dataclass(frozen=True, eq=False)
class Source:
    """Where a received message came from: the peer's socket address and, on TCP/TLS, the connection."""

    address: TransportAddress
    connection: StreamConnection | None = field(default=None, repr=False)


MessageCallback = Callable[[Request | Response, Source], None]


class FramingError(ValueError):
    """A stream that cannot be framed any more (oversized message, missing or bad Content-Length)."""


class StreamFramer:
    """Cuts a TCP/TLS byte stream into messages by Content-Length (RFC 3261 §18.3).

    CRLF keep-alives between messages (RFC 5626 §3.5.1) are skipped. An oversized header block or message,
    or a missing Content-Length, raises `FramingError`: the stream cannot be resynchronised, so the
    connection must be closed.
    """

    def __init__(self, max_message_bytes: int = MAX_MESSAGE_BYTES) -> None:
        self.max_message_bytes = max_message_bytes
        self._buffer = bytearray()
        self.keepalives = 0

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        messages: list[bytes] = []
        while True:
            while self._buffer[:2] == b"\r\n":
                del self._buffer[:2]
                self.keepalives += 1
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > min(MAX_HEADER_BYTES, self.max_message_bytes):
                    raise FramingError("header block too large")
                return messages
            if end > min(MAX_HEADER_BYTES, self.max_message_bytes):
                raise FramingError("header block too large")
            length = self._content_length(bytes(self._buffer[:end]))
            total = end + 4 + length
            if total > self.max_message_bytes:
                raise FramingError(f"message of {total} bytes exceeds {self.max_message_bytes}")
            if len(self._buffer) < total:
                return messages
            messages.append(bytes(self._buffer[:total]))
            del self._buffer[:total]

    @staticmethod
    def _content_length(head: bytes) -> int:
        for line in head.split(b"\r\n")[1:]:
            name, colon, value = line.partition(b":")
            if colon and name.strip().lower() in (b"content-length", b"l"):
                text = value.strip()
                if not text.isdigit():
                    raise FramingError(f"bad Content-Length {text!r}")
                return int(text)
        raise FramingError("no Content-Length on a stream transport")


class StreamConnection(asyncio.Protocol):
    """One TCP or TLS connection, accepted or opened by us."""

    def __init__(self, owner: Transport, protocol: str) -> None:
        self._owner = owner
        self.protocol = protocol
        self.peer: TransportAddress | None = None
        self._transport: asyncio.Transport | None = None
        self._framer = StreamFramer(owner.max_message_bytes)
        self.closed = asyncio.get_running_loop().create_future()
        self.last_activity = asyncio.get_running_loop().time()

    @property
    def is_open(self) -> bool:
        return self._transport is not None and not self._transport.is_closing()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        host, port = transport.get_extra_info("peername")[:2]
        self.peer = TransportAddress(self.protocol, host, port)
        self._owner._connection_made(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._owner._connection_lost(self)
        if not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        assert self.peer is not None
        self.last_activity = asyncio.get_running_loop().time()
        try:
            frames = self._framer.feed(data)
        except FramingError as exc:
            log.warning("sip.stream.framing_error", peer=str(self.peer), error=str(exc))
            self.close()
            return
        for frame in frames:
            self._owner._received(frame, Source(self.peer, self), stream=True)

    def write(self, data: bytes) -> None:
        if self._transport is None or self._transport.is_closing():
            raise TransportError(f"connection to {self.peer} is closed")
        self.last_activity = asyncio.get_running_loop().time()
        self._transport.write(data)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


class _DatagramEndpoint(asyncio.DatagramProtocol):
    def __init__(self, owner: Transport) -> None:
        self._owner = owner
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        host, port = str(addr[0]), int(str(addr[1]))
        if len(data) > self._owner.max_message_bytes:
            log.warning("sip.udp.oversized", peer=f"{host}:{port}", size=len(data))
            return
        if not data.strip(b"\r\n\x00 "):
            return  # keep-alive
        self._owner._received(data, Source(TransportAddress("udp", host, port)), stream=False)

    def error_received(self, exc: Exception) -> None:
        log.info("sip.udp.error", error=str(exc))


class Transport:
    """The sockets of one user agent. `on_message(message, source)` receives every parsed message."""

    def __init__(
        self,
        on_message: MessageCallback,
        *,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
        max_connections: int = MAX_CONNECTIONS,
        tls_client_context: ssl.SSLContext | None = None,
        connect_timeout: float = 5.0,
        idle_timeout: float = IDLE_TIMEOUT,
        trace: bool = False,
    ) -> None:
        self.on_message = on_message
        self.trace = trace  # log the first line of every message sent and received (costly under load)
        self.max_message_bytes = max_message_bytes
        self.max_connections = max_connections
        self.tls_client_context = tls_client_context
        self.connect_timeout = connect_timeout
        self.idle_timeout = idle_timeout
        self._reaper: asyncio.TimerHandle | None = None
        self._listen: dict[str, TransportAddress] = {}
        self._udp: _DatagramEndpoint | None = None
        self._servers: list[asyncio.Server] = []
        self._connections: dict[TransportAddress, StreamConnection] = {}
        self._connecting: dict[TransportAddress, asyncio.Future[StreamConnection]] = {}
        self.dropped = 0  # messages dropped or answered 400 because they could not be parsed

    # -- listening -------------------------------------------------------------------------------------

    async def listen(self, address: TransportAddress, ssl_context: ssl.SSLContext | None = None) -> None:
        """Listen on exactly `address` (port 0 picks one; `local_address()` then tells it)."""
        if address.protocol in self._listen:
            raise ValueError(f"already listening on {address.protocol}")
        loop = asyncio.get_running_loop()
        if address.protocol == "udp":
            transport, endpoint = await loop.create_datagram_endpoint(
                lambda: _DatagramEndpoint(self), local_addr=(address.host, address.port)
            )
            self._udp = endpoint
            port = transport.get_extra_info("sockname")[1]
            sock = transport.get_extra_info("socket")
            with contextlib.suppress(OSError):  # absorb bursts (capped by net.core.rmem_max)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_RECEIVE_BUFFER)
        else:
            if address.protocol == "tls" and ssl_context is None:
                raise ValueError("a TLS listener needs an ssl context (certificate and key)")
            server = await loop.create_server(
                lambda: StreamConnection(self, address.protocol),
                host=address.host,
                port=address.port,
                ssl=ssl_context if address.protocol == "tls" else None,
                reuse_address=True,
            )
            self._servers.append(server)
            port = server.sockets[0].getsockname()[1]
        self._listen[address.protocol] = TransportAddress(address.protocol, address.host, port)
        log.info("sip.listen", address=str(self._listen[address.protocol]))

    def local_address(self, protocol: str) -> TransportAddress:
        """Our listening address for `protocol` (what Via sent-by and Contact carry)."""
        try:
            return self._listen[protocol]
        except KeyError:
            raise TransportError(f"no {protocol} listener") from None

    @property
    def protocols(self) -> tuple[str, ...]:
        return tuple(self._listen)

    async def close(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
            self._reaper = None
        for server in self._servers:
            server.close()
        for connection in list(self._connections.values()):
            connection.close()
        waits = [c.closed for c in self._connections.values()]
        if waits:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*waits), 2.0)
        for server in self._servers:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(server.wait_closed(), 2.0)
        self._servers.clear()
        if self._udp is not None and self._udp.transport is not None:
            self._udp.transport.close()
        self._udp = None
        self._listen.clear()

    # -- receiving ---------------------------------------------------------------------------------------

    def _received(self, data: bytes, source: Source, *, stream: bool) -> None:
        try:
            message = parse_message(data, stream=stream)
        except MessageError as exc:
            self.dropped += 1
            answer = raw_bad_request(data, str(exc))
            log.warning("sip.bad_message", peer=str(source.address), error=str(exc), answered=bool(answer))
            if answer is not None:
                self._send_raw_back(answer, source)
            return
        if self.trace:
            log.info("sip.received", peer=str(source.address), first_line=_first_line(data), size=len(data))
        if isinstance(message, Request):
            annotate_via(message, source.address)
        elif (count := via_count(message)) != 1:
            log.warning("sip.response.bad_via_count", peer=str(source.address), count=count)
            return
        self.on_message(message, source)

    def _send_raw_back(self, data: bytes, source: Source) -> None:
        with contextlib.suppress(TransportError, OSError):
            if source.connection is not None:
                source.connection.write(data)
            elif self._udp is not None and self._udp.transport is not None:
                self._udp.transport.sendto(data, (source.address.host, source.address.port))

    def _connection_made(self, connection: StreamConnection) -> None:
        assert connection.peer is not None
        if len(self._connections) >= self.max_connections:
            log.warning("sip.stream.refused", peer=str(connection.peer), connections=len(self._connections))
            connection.close()
            return
        self._connections[connection.peer] = connection
        if self._reaper is None:
            self._schedule_reaper()

    def _schedule_reaper(self) -> None:
        interval = min(60.0, self.idle_timeout / 2)
        self._reaper = asyncio.get_running_loop().call_later(interval, self._reap)

    def _reap(self) -> None:
        """Close connections idle for longer than `idle_timeout` (both ways: a peer that keeps its connection
        alive sends CRLF keep-alives, RFC 5626)."""
        self._reaper = None
        deadline = asyncio.get_running_loop().time() - self.idle_timeout
        for connection in list(self._connections.values()):
            if connection.last_activity < deadline:
                log.info("sip.stream.idle", peer=str(connection.peer))
                connection.close()
        if self._connections:
            self._schedule_reaper()

    def _connection_lost(self, connection: StreamConnection) -> None:
        if connection.peer is not None and self._connections.get(connection.peer) is connection:
            del self._connections[connection.peer]

    # -- sending -----------------------------------------------------------------------------------------

    async def send(self, message: Request | Response, destination: TransportAddress) -> None:
        """Send to `destination`: UDP from the listening socket, TCP/TLS on an open or new connection."""
        message.content_length = len(message.body)
        data = bytes(message)
        if len(data) > self.max_message_bytes:
            raise TransportError(f"message of {len(data)} bytes exceeds {self.max_message_bytes}")
        if self.trace:
            log.info("sip.sent", peer=str(destination), first_line=_first_line(data), size=len(data))
        if destination.protocol == "udp":
            if self._udp is None or self._udp.transport is None:
                raise TransportError("no udp listener")
            if len(data) > UDP_MAX_PAYLOAD:
                raise TransportError(f"{len(data)} bytes do not fit in a datagram")
            self._udp.transport.sendto(data, (destination.host, destination.port))
            return
        connection = await self._connection_to(destination)
        connection.write(data)

    async def send_response(self, response: Response, source: Source) -> None:
        """Send a response where RFC 3261 §18.2.2 / RFC 3581 say: the request's connection, else its Via."""
        if source.connection is not None and source.connection.is_open:
            response.content_length = len(response.body)
            data = bytes(response)
            if self.trace:
                log.info("sip.sent", peer=str(source.address), first_line=_first_line(data), size=len(data))
            source.connection.write(data)
            return
        await self.send(response, response_destination(top_via(response), source))

    async def _connection_to(self, destination: TransportAddress) -> StreamConnection:
        existing = self._connections.get(destination)
        if existing is not None and existing.is_open:
            return existing
        pending = self._connecting.get(destination)
        if pending is not None:
            return await asyncio.shield(pending)
        local = self.local_address(destination.protocol)  # we only speak transports we listen on
        future: asyncio.Future[StreamConnection] = asyncio.get_running_loop().create_future()
        self._connecting[destination] = future
        try:
            context = None
            if destination.protocol == "tls":
                context = self.tls_client_context or ssl.create_default_context()
            loop = asyncio.get_running_loop()
            _, connection = await asyncio.wait_for(
                loop.create_connection(
                    lambda: StreamConnection(self, destination.protocol),
                    host=destination.host,
                    port=destination.port,
                    ssl=context,
                    server_hostname=(destination.name or destination.host) if context else None,
                    local_addr=(local.host, 0),
                ),
                self.connect_timeout,
            )
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            future.set_exception(TransportError(f"cannot connect to {destination}: {exc}"))
            future.exception()  # mark retrieved
            raise TransportError(f"cannot connect to {destination}: {exc}") from exc
        finally:
            del self._connecting[destination]
        future.set_result(connection)
        return connection


def _first_line(data: bytes) -> str:
    return data[: data.find(b"\r\n") if b"\r\n" in data[:200] else 200].decode("utf-8", errors="replace")


def annotate_via(request: Request, peer: TransportAddress) -> None:
    """Add `received` (RFC 3261 §18.2.1) and fill an empty `rport` (RFC 3581 §4) on the top Via.

    The top Via text is edited in place (sipmessage would re-encode every parameter, e.g. an IPv6
    `received` as `%3A%3A1`); the other Vias stay exactly as received.
    """
    top = top_via(request)
    values = request.headers.getlist("Via")
    text, comma, rest = values[0].partition(",")
    text = text.rstrip()
    if top.host.strip("[]") != peer.host:
        text += f";received={peer.host}"
    if "rport" in top.parameters and top.parameters["rport"] is None:
        text = _EMPTY_RPORT.sub(f";rport={peer.port}", text, count=1)
    first = [text, rest.strip()] if comma and rest.strip() else [text]
    request.headers.setlist("Via", [*first, *values[1:]])


_EMPTY_RPORT = re.compile(r";\s*rport(?=\s*(;|$))", re.IGNORECASE)


def response_destination(via: Via, source: Source) -> TransportAddress:
    """Where a response goes when the request's connection is gone, or over UDP (RFC 3261 §18.2.2)."""
    protocol = via.transport.lower()
    if protocol not in PROTOCOLS:
        protocol = source.address.protocol
    host = via.parameters.get("received") or via.host
    rport = via.parameters.get("rport")
    port = int(rport) if rport else (via.port or DEFAULT_PORTS[protocol])
    return TransportAddress(protocol, host, port)


async def resolve(uri: URI, family: int = 0) -> TransportAddress:
    """The transport address a request to `uri` goes to (RFC 3263 reduced: no NAPTR/SRV).

    The transport is the `transport` parameter, else TLS for `sips:`, else UDP; the host must be an IP
    literal or resolve through the system resolver (A/AAAA only; `family` AF_INET or AF_INET6 keeps the
    answers our sockets can reach); the port defaults per transport.
    """
    transport = uri.parameters.get("transport")
    if transport:
        protocol = transport.lower()
    elif uri.scheme == "sips":
        protocol = "tls"
    else:
        protocol = "udp"
    if protocol not in PROTOCOLS:
        raise TransportError(f"unsupported transport {protocol!r} in {uri}")
    port = uri.port or DEFAULT_PORTS[protocol]
    host = uri.host.strip("[]")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        loop = asyncio.get_running_loop()
        kind = socket.SOCK_DGRAM if protocol == "udp" else socket.SOCK_STREAM
        try:
            infos = await loop.getaddrinfo(host, port, family=family, type=kind)
        except OSError as exc:
            raise TransportError(f"cannot resolve {host}: {exc}") from exc
        return TransportAddress(protocol, str(infos[0][4][0]), port, name=host)
    return TransportAddress(protocol, host, port)
