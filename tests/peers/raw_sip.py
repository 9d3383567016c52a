"""A raw SIP peer for tests: a UDP socket (or TCP client) on 127.0.0.1 that records what it receives and
sends exactly the bytes a test writes, so tests can see what our stack puts on the wire."""

from __future__ import annotations

import asyncio
import contextlib

from sipmessage import Message, Request, Response

from sip.messages import parse_message


class RawUdpPeer(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[bytes, tuple[str, int]]] = asyncio.Queue()
        self.transport: asyncio.DatagramTransport | None = None
        self.port = 0

    @classmethod
    async def open(cls, port: int = 0) -> RawUdpPeer:
        loop = asyncio.get_running_loop()
        transport, peer = await loop.create_datagram_endpoint(cls, local_addr=("127.0.0.1", port))
        peer.port = transport.get_extra_info("sockname")[1]
        return peer

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.queue.put_nowait((data, addr))

    def send(self, data: bytes | str, port: int, host: str = "127.0.0.1") -> None:
        assert self.transport is not None
        raw = data.encode() if isinstance(data, str) else data
        self.transport.sendto(raw, (host, port))

    async def receive_raw(self, timeout: float = 5.0) -> tuple[bytes, tuple[str, int]]:
        return await asyncio.wait_for(self.queue.get(), timeout)

    async def receive(self, timeout: float = 5.0) -> Request | Response:
        data, _ = await self.receive_raw(timeout)
        return parse_message(data)

    async def receive_request(self, timeout: float = 5.0) -> Request:
        message = await self.receive(timeout)
        assert isinstance(message, Request), bytes(message)
        return message

    async def receive_response(self, timeout: float = 5.0) -> Response:
        message = await self.receive(timeout)
        assert isinstance(message, Response), bytes(message)
        return message

    async def nothing(self, wait: float = 0.3) -> bool:
        """True when nothing arrives within `wait` seconds."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.queue.get(), wait)
            return False
        return True

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def sip_message(text: str, body: str = "") -> bytes:
    """A message from a readable template: lines joined with CRLF, Content-Length computed."""
    lines = [line.strip() for line in text.strip().splitlines()]
    head = "\r\n".join(lines)
    return f"{head}\r\nContent-Length: {len(body.encode())}\r\n\r\n{body}".encode()


def answer(request: Message, code: int, phrase: str, *extra: str, to_tag: str | None = "peer1") -> bytes:
    """A response to a request we received, written by hand (the peer side of a test)."""
    to = request.headers["To"]
    if to_tag and ";tag=" not in to:
        to += f";tag={to_tag}"
    lines = [f"SIP/2.0 {code} {phrase}"]
    lines += [f"Via: {via}" for via in request.headers.getlist("Via")]
    lines += [f"From: {request.headers['From']}", f"To: {to}", f"Call-ID: {request.headers['Call-ID']}"]
    lines += [f"CSeq: {request.headers['CSeq']}", *extra]
    return sip_message("\n".join(lines))
