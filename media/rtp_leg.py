"""The SIP side's media leg: RTP/AVP over UDP (RFC 3550/3551) on one port of the configured range, with
symmetric RTP (RFC 4961) and latching (RFC 7362): until the first packet arrives we send to the address
the SDP gave; the first RTP packet's source then becomes where we send, so a phone behind NAT that
announced a private address is still reached. RTCP arriving on the same port (rtcp-mux, RFC 5761) counts
as activity; we send none.
"""

from __future__ import annotations

import asyncio

import pylibsrtp

from media.leg import MediaLeg
from media.ports import PortRange
from media.rtp import is_rtcp
from media.sdes import SrtpContext

Address = tuple[str, int]


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, leg: RtpLeg) -> None:
        self.leg = leg

    def datagram_received(self, data: bytes, addr: Address) -> None:
        self.leg._datagram(data, (addr[0], addr[1]))

    def error_received(self, exc: Exception) -> None:  # ICMP port unreachable while the peer is not up
        pass


class RtpLeg(MediaLeg):
    """RTP on one UDP socket. `await open()` binds it; `set_remote()` from the peer's SDP. With `srtp` set
    (SDES, RTP/SAVP) packets are protected and unprotected here; the relay sees plain RTP either way."""

    name = "sip"

    def __init__(self, ports: PortRange, *, latch: bool = True) -> None:
        super().__init__()
        self._ports = ports
        self.latch = latch
        self._transport: asyncio.DatagramTransport | None = None
        self.local_address = ports.address
        self.local_port = 0
        self.remote: Address | None = None
        self.latched = False
        self.dropped_foreign = 0
        self.srtp: SrtpContext | None = None
        self.sdes_key: bytes | None = None  # the key of our RTP/SAVP offer, until the answer comes
        self.srtp_errors = 0

    async def open(self) -> None:
        sock = self._ports.bind()
        loop = asyncio.get_running_loop()
        try:
            transport, _ = await loop.create_datagram_endpoint(lambda: _Protocol(self), sock=sock)
        except BaseException:
            sock.close()
            raise
        self._transport = transport
        self.local_port = int(sock.getsockname()[1])

    def set_remote(self, address: str, port: int) -> None:
        """Where the peer's SDP says to send (c= and the m= port); a later latch overrides it. Port 0 or
        address 0.0.0.0 (RFC 3264 hold of old) means: send nothing until latched."""
        if port == 0 or address in ("0.0.0.0", "::"):
            self.remote = None
        elif not self.latched:
            self.remote = (address, port)

    def _datagram(self, data: bytes, addr: Address) -> None:
        if self.closed or len(data) < 12 or data[0] >> 6 != 2:
            return
        if self.latched and addr != self.remote:
            self.dropped_foreign += 1  # someone else's packets on our port: not our peer's
            return
        if is_rtcp(data):
            self._received_other()
            return
        if self.srtp is not None:  # authenticated before it may move where we send
            try:
                data = self.srtp.unprotect(data)
            except pylibsrtp.Error:
                self.srtp_errors += 1
                return
        if self.latch and not self.latched:
            self.remote, self.latched = addr, True
        self._received_rtp(data)

    def send(self, data: bytes) -> None:
        if self._transport is not None and self.remote is not None and self.sending and not self.closed:
            self._transport.sendto(data if self.srtp is None else self.srtp.protect(data), self.remote)
            self.packets_sent += 1

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._transport is not None:
            self._transport.close()
            self._transport = None
