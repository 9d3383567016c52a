"""A minimal SIP UAC over UDP for the media scenarios: INVITE with an SDP offer, ACK the 2xx, BYE. Only
what a call to an auto-answering peer on loopback needs (no authentication, no retransmission beyond
a few INVITE resends, no forking); the gateway's own SIP stack is another package's business."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field


def _header(message: str, name: str) -> str:
    for line in message.split("\r\n")[1:]:
        if not line:
            break
        key, _, value = line.partition(":")
        if key.strip().lower() == name.lower():
            return value.strip()
    return ""


@dataclass
class Dialog:
    call_id: str
    local_tag: str
    remote_uri: str
    remote_target: str = ""
    to_header: str = ""
    cseq: int = 1
    answer: str = ""
    status: int = 0
    byes_received: int = 0
    messages: list[str] = field(default_factory=list)


class SipUac(asyncio.DatagramProtocol):
    def __init__(self, address: str, port: int) -> None:
        self.address, self.port = address, port
        self.transport: asyncio.DatagramTransport | None = None
        self.responses: asyncio.Queue[str] = asyncio.Queue()
        self.dialog: Dialog | None = None

    @classmethod
    async def open(cls, address: str, port: int) -> SipUac:
        loop = asyncio.get_running_loop()
        _, uac = await loop.create_datagram_endpoint(lambda: cls(address, port), local_addr=(address, port))
        return uac

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        text = data.decode(errors="replace")
        if self.dialog is not None:
            self.dialog.messages.append(text.split("\r\n", 1)[0])
        if text.startswith("SIP/2.0"):
            self.responses.put_nowait(text)
        elif text.startswith("BYE"):
            if self.dialog is not None:
                self.dialog.byes_received += 1
            self._respond(text, addr, "200 OK")
        elif not text.startswith("ACK"):
            self._respond(text, addr, "200 OK")

    def _respond(self, request: str, addr: tuple[str, int], status: str) -> None:
        assert self.transport is not None
        lines = [f"SIP/2.0 {status}"]
        for name in ("Via", "From", "To", "Call-ID", "CSeq"):
            value = _header(request, name)
            lines.append(f"{name}: {value}")
        lines += ["Content-Length: 0", "", ""]
        self.transport.sendto("\r\n".join(lines).encode(), addr)

    def _request(self, method: str, uri: str, dest: tuple[str, int], cseq: int, body: str = "") -> None:
        assert self.transport is not None and self.dialog is not None
        d = self.dialog
        lines = [
            f"{method} {uri} SIP/2.0",
            f"Via: SIP/2.0/UDP {self.address}:{self.port};rport;branch=z9hG4bK{secrets.token_hex(8)}",
            "Max-Forwards: 70",
            f"From: <sip:gw@{self.address}:{self.port}>;tag={d.local_tag}",
            f"To: {d.to_header or '<' + d.remote_uri + '>'}",
            f"Call-ID: {d.call_id}",
            f"CSeq: {cseq} {method}",
            f"Contact: <sip:gw@{self.address}:{self.port}>",
            "User-Agent: coin-gateway-media-test",
        ]
        if body:
            lines.append("Content-Type: application/sdp")
        lines += [f"Content-Length: {len(body.encode())}", "", body]
        self.transport.sendto("\r\n".join(lines).encode(), dest)

    async def invite(self, uri: str, dest: tuple[str, int], sdp_offer: str, timeout: float = 10.0) -> str:
        """INVITE, wait for the final response; on 2xx ACK it and return the answer's SDP."""
        self.dialog = Dialog(call_id=secrets.token_hex(8), local_tag=secrets.token_hex(4), remote_uri=uri)
        self._request("INVITE", uri, dest, 1, sdp_offer)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            response = await asyncio.wait_for(self.responses.get(), max(0.1, deadline - loop.time()))
            status = int(response.split(" ", 2)[1])
            if status >= 200 and "INVITE" in _header(response, "CSeq"):
                break
        self.dialog.status = status
        if status >= 300:
            raise RuntimeError(f"INVITE answered {status}")
        self.dialog.to_header = _header(response, "To")
        contact = _header(response, "Contact") or f"<{uri}>"
        self.dialog.remote_target = (
            contact[contact.find("<") + 1 : contact.find(">")] if "<" in contact else contact
        )
        self._request("ACK", self.dialog.remote_target, dest, 1)
        self.dialog.answer = response.split("\r\n\r\n", 1)[1]
        return self.dialog.answer

    async def bye(self, dest: tuple[str, int], timeout: float = 5.0) -> int:
        assert self.dialog is not None
        self.dialog.cseq += 1
        self._request("BYE", self.dialog.remote_target, dest, self.dialog.cseq)
        while True:
            response = await asyncio.wait_for(self.responses.get(), timeout)
            if "BYE" in _header(response, "CSeq"):
                return int(response.split(" ", 2)[1])

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
