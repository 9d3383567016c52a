"""The Jingle side's media leg: ICE-UDP (XEP-0176), DTLS-SRTP (XEP-0320, RFC 5763/5764) with rtcp-mux,
on aiortc's ICE and DTLS transports.

Candidates are gathered on one port of the configured range on the configured address only (never every
interface of the machine, which aioice would do by default), with no STUN or TURN server. Credentials,
candidates and the fingerprint go out as a Jingle `<transport>` (`local_transport()`, and
`on_local_candidate` for trickle: `transport-info`); whatever the peer sends - in `session-initiate`,
`session-accept` or any number of `transport-info`s - goes to `add_remote()`. Connectivity checks start
once the peer's credentials and fingerprint are known; DTLS follows ICE.

DTLS role (RFC 5763 section 5, XEP-0320): an offer says `actpass`; an answer to `actpass` says `active`
(we are the DTLS client), to `active` says `passive` and to `passive` says `active`. Without any
`setup` from the peer (old clients), the ICE-controlling side is the DTLS server, as aiortc does.

RTP arrives decrypted through `on_rtp`; `send()` protects and sends synchronously on the nominated pair.
Once DTLS is up, SRTP goes from the socket's protocol straight to the leg (no queue, no task per packet).

This reaches into aiortc/aioice internals (the gatherer's connection, the DTLS transport's SRTP sessions and
role, aioice's protocols and nominated pair), which is why pyproject pins aiortc below 1.16; the tests in
tests/media exercise each of them against an unmodified aiortc peer.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import pylibsrtp
from aioice import Candidate as AioiceCandidate
from aioice.candidate import candidate_foundation, candidate_priority
from aioice.ice import Connection, StunProtocol
from aiortc import RTCCertificate, RTCDtlsFingerprint, RTCDtlsParameters, RTCDtlsTransport
from aiortc.rtcicetransport import RTCIceGatherer, RTCIceParameters, RTCIceTransport

from media.leg import MediaLeg
from media.ports import PortRange
from media.rtp import is_rtcp
from xmpp.jingle_content import CandidateType, DtlsSetup, Fingerprint, IceCandidate, IceUdpTransport

CandidateHandler = Callable[[IceCandidate], None]


class _Protocol(StunProtocol):
    """aioice's socket protocol with a fast path: once DTLS is up, SRTP/SRTCP datagrams are unprotected and
    handed to the leg right here, not queued for aiortc's DTLS task (a task switch per packet). STUN
    (consent freshness) and DTLS records (close_notify) still take aioice's and aiortc's paths."""

    receiver: _RangeConnection

    def datagram_received(self, data: bytes | str, addr: tuple[Any, ...]) -> None:
        leg = self.receiver.fast_leg
        if leg is not None and isinstance(data, bytes) and data and 127 < data[0] < 192:
            leg._srtp_received(data)
        else:
            super().datagram_received(data, addr)


class _RangeConnection(Connection):
    """An aioice connection whose only host candidate is a socket from our port range."""

    def __init__(self, ports: PortRange, *, ice_controlling: bool) -> None:
        super().__init__(ice_controlling=ice_controlling, components=1, use_ipv6=":" in ports.address)
        self._ports = ports
        self.fast_leg: JingleLeg | None = None

    async def gather_candidates(self) -> None:
        if self._local_candidates_start:
            return
        self._local_candidates_start = True
        sock = self._ports.bind()
        loop = asyncio.get_running_loop()
        try:
            _, protocol = await loop.create_datagram_endpoint(lambda: _Protocol(self), sock=sock)
        except BaseException:
            sock.close()
            raise
        host, port = sock.getsockname()[:2]
        protocol.local_candidate = AioiceCandidate(
            foundation=candidate_foundation("host", "udp", host),
            component=1,
            transport="udp",
            priority=candidate_priority(1, "host"),
            host=host,
            port=port,
            type="host",
        )
        self._protocols.append(protocol)
        self._local_candidates.append(protocol.local_candidate)
        self._local_candidates_end = True


class _DtlsTransport(RTCDtlsTransport):
    """aiortc's DTLS transport, handing decrypted RTP bytes to the leg instead of its RTP router."""

    def __init__(self, leg: JingleLeg, ice: RTCIceTransport, certificate: RTCCertificate) -> None:
        super().__init__(ice, [certificate])
        self._leg = leg

    async def _handle_rtp_data(self, data: bytes, arrival_time_ms: int) -> None:
        self._leg._received_rtp(data)

    async def _handle_rtcp_data(self, data: bytes) -> None:
        self._leg._received_rtcp(data)


class JingleLeg(MediaLeg):
    """One ICE + DTLS-SRTP audio stream. `controlling`: RFC 8445 section 6.1.1, the Jingle initiator is
    the controlling agent (both sides are full agents). `certificate` may be shared by every leg of the
    process (as browsers do); by default each leg makes its own."""

    name = "jingle"

    def __init__(
        self, ports: PortRange, *, controlling: bool, certificate: RTCCertificate | None = None
    ) -> None:
        super().__init__()
        self.controlling = controlling
        self._certificate = certificate or RTCCertificate.generateCertificate()
        self._gatherer = RTCIceGatherer(iceServers=[])
        self._connection = _RangeConnection(ports, ice_controlling=controlling)
        self._gatherer._connection = self._connection
        self._ice = RTCIceTransport(self._gatherer)
        self._dtls = _DtlsTransport(self, self._ice, self._certificate)
        self.rtcp_enabled = True  # rtcp-mux: reports go on the one ICE component
        self._remote_ufrag: str | None = None
        self._remote_pwd: str | None = None
        self._remote_fingerprints: list[RTCDtlsFingerprint] = []
        self._remote_setup: DtlsSetup | None = None
        self._candidate_ids: dict[tuple[str, int, int], str] = {}
        self._start_task: asyncio.Task[None] | None = None
        self.on_local_candidate: CandidateHandler | None = None
        self.connected = asyncio.Event()
        self._send_pair: Any = None
        self._tx_srtp: Any = None
        self._rx_srtp: Any = None
        self.srtp_errors = 0

    # -- local description ---------------------------------------------------------------------------

    async def gather(self) -> None:
        """Bind the port and learn our candidates (each also goes to `on_local_candidate`)."""
        await self._gatherer.gather()
        if self.on_local_candidate is not None:
            for candidate in self.local_candidates():
                self.on_local_candidate(candidate)
        self._maybe_start()

    def local_candidates(self) -> list[IceCandidate]:
        """Our candidates as Jingle `<candidate>`s (their ids stay the same on every call)."""
        out = []
        for c in self._connection.local_candidates:
            key = (c.host, c.port, c.component)
            if key not in self._candidate_ids:
                self._candidate_ids[key] = f"{self._connection.local_username}{len(self._candidate_ids) + 1}"
            out.append(
                IceCandidate(
                    component=c.component,
                    foundation=c.foundation,
                    generation=0,
                    id=self._candidate_ids[key],
                    ip=c.host,
                    network=0,
                    port=c.port,
                    priority=c.priority,
                    protocol=c.transport,
                    type=CandidateType(c.type),
                )
            )
        return out

    @property
    def local_setup(self) -> DtlsSetup:
        """XEP-0320 `setup` for what we send: `actpass` in an offer, the complement in an answer."""
        if self._remote_setup is None or self._remote_setup == DtlsSetup.ACTPASS:
            return DtlsSetup.ACTPASS if self._remote_setup is None else DtlsSetup.ACTIVE
        return DtlsSetup.PASSIVE if self._remote_setup == DtlsSetup.ACTIVE else DtlsSetup.ACTIVE

    def local_transport(self, *, with_candidates: bool = True) -> IceUdpTransport:
        """Our `<transport xmlns='urn:xmpp:jingle:transports:ice-udp:1'>` with the XEP-0320 fingerprint."""
        fingerprints = tuple(
            Fingerprint(hash=f.algorithm, setup=self.local_setup, value=f.value)
            for f in self._certificate.getFingerprints()
            if f.algorithm == "sha-256"
        )
        return IceUdpTransport(
            ufrag=self._connection.local_username,
            pwd=self._connection.local_password,
            fingerprints=fingerprints,
            candidates=tuple(self.local_candidates()) if with_candidates else (),
            rtcp_mux=True,
        )

    # -- remote description --------------------------------------------------------------------------

    async def add_remote(self, transport: IceUdpTransport) -> None:
        """Credentials, fingerprint and candidates from the peer (any Jingle action that carries a
        transport); starts checks once credentials and a fingerprint are known. A changed ufrag (an ICE
        restart) is not supported and fails the leg."""
        if transport.ufrag is not None and transport.pwd is not None:
            if self._remote_ufrag is not None and transport.ufrag != self._remote_ufrag:
                self._fail("ice-restart-unsupported")
                return
            self._remote_ufrag, self._remote_pwd = transport.ufrag, transport.pwd
        for f in transport.fingerprints:
            self._remote_fingerprints.append(
                RTCDtlsFingerprint(algorithm=f.hash.lower(), value=f.value.upper())
            )
            if f.setup is not None:
                self._remote_setup = f.setup
        for c in transport.candidates:
            if c.component != 1 or c.protocol.lower() != "udp":
                continue  # rtcp-mux only: component 2 is never used; no ICE-TCP
            await self._connection.add_remote_candidate(
                AioiceCandidate(
                    foundation=c.foundation,
                    component=c.component,
                    transport=c.protocol.lower(),
                    priority=c.priority,
                    host=c.ip,
                    port=c.port,
                    type=str(c.type),
                    related_address=c.rel_addr,
                    related_port=c.rel_port,
                )
            )
        self._maybe_start()

    def _maybe_start(self) -> None:
        """Checks start once we have our candidates and the peer's credentials and fingerprint, in
        whichever order they came."""
        if (
            self._start_task is None
            and not self.closed
            and self._remote_ufrag is not None
            and self._remote_fingerprints
            and self._gatherer.state == "completed"
        ):
            self._start_task = asyncio.get_running_loop().create_task(self._start())

    async def _start(self) -> None:
        if self._remote_setup in (DtlsSetup.ACTPASS, DtlsSetup.PASSIVE):
            self._dtls._set_role("client")
        elif self._remote_setup == DtlsSetup.ACTIVE:
            self._dtls._set_role("server")
        await self._ice.start(
            RTCIceParameters(usernameFragment=self._remote_ufrag, password=self._remote_pwd)
        )
        if self._ice.state != "completed":
            self._fail("ice-failed")
            return
        self._ice.on("statechange", self._ice_state)
        await self._dtls.start(RTCDtlsParameters(fingerprints=self._remote_fingerprints))
        if self._dtls.state != "connected":
            self._fail("dtls-failed")
            return
        self._dtls.on("statechange", self._dtls_state)
        self._send_pair = self._connection._nominated.get(1)
        self._tx_srtp = self._dtls._tx_srtp
        self._rx_srtp = self._dtls._rx_srtp
        self._connection.fast_leg = self
        self.connected.set()

    def _ice_state(self) -> None:
        if self._ice.state == "failed":  # consent lost (RFC 7675) after it was connected
            self._fail("ice-failed")

    def _dtls_state(self) -> None:
        if self._dtls.state in ("closed", "failed"):
            self._fail("dtls-closed")

    # -- media ---------------------------------------------------------------------------------------

    def _srtp_received(self, data: bytes) -> None:
        try:
            if is_rtcp(data):
                self._received_rtcp(self._rx_srtp.unprotect_rtcp(data))
            else:
                self._received_rtp(self._rx_srtp.unprotect(data))
        except pylibsrtp.Error:
            self.srtp_errors += 1  # forged, replayed or from before a key change: dropped

    def send(self, data: bytes) -> None:
        pair = self._send_pair
        if pair is None or not self.sending or self.closed:
            return
        if is_rtcp(data):
            protected = self._tx_srtp.protect_rtcp(data)
        else:
            protected = self._tx_srtp.protect(data)
            self.packets_sent += 1
            self._sent_rtp(data)
        pair.protocol.transport.sendto(protected, pair.remote_addr)

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._send_pair = None
        self._connection.fast_leg = None
        if self._start_task is not None and not self._start_task.done():
            self._start_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await self._start_task
        dtls_task = self._dtls._task
        with contextlib.suppress(ConnectionError):
            await self._dtls.stop()
        if dtls_task is not None:  # stop() cancels its receive loop without waiting for it
            await asyncio.gather(dtls_task, return_exceptions=True)
        await self._ice.stop()
        await self._connection.close()  # also when checks never started: closes the gathered socket
