"""What every media leg offers the relay and the call: packets in through a callback, packets out through
`send`, the codecs its side negotiated, when it last heard anything, and how it failed.

A leg carries one audio stream (one m= line, one Jingle content) with RTP and RTCP multiplexed or not;
it hands the relay decrypted RTP and takes plain RTP (a Jingle leg encrypts with SRTP itself).
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable

from media.codecs import Codec
from media.rtcp import ReceiveStats, SendStats, compound_report

PacketHandler = Callable[[bytes, float], None]
FailureHandler = Callable[["MediaLeg", str], None]


class MediaLeg(ABC):
    """Base of `RtpLeg` (SIP, plain RTP/AVP) and `JingleLeg` (ICE + DTLS-SRTP).

    `codec`/`telephone_event` are set once the offer/answer settled (before the relay starts);
    `sending`/`receiving` carry hold: a leg that must not send (its peer put the call on hold, SDP
    sendonly/inactive, Jingle senders) gets nothing from the relay.
    """

    name = "leg"

    def __init__(self) -> None:
        self.codec: Codec | None = None
        self.telephone_event: Codec | None = None
        self.on_rtp: PacketHandler | None = None
        self.on_failure: FailureHandler | None = None
        self.sending = True
        self.receiving = True
        self.last_received = time.monotonic()
        self.packets_received = 0
        self.packets_sent = 0
        self.closed = False
        # RTCP reports (RFC 3550 section 6.4), where the leg can carry them (rtcp-mux)
        self.rtcp_enabled = False
        self.rtcp_sent = 0
        self._rtcp_last = 0.0
        self._send_stats = SendStats()
        self._receive_stats: ReceiveStats | None = None

    def set_codecs(self, codec: Codec, telephone_event: Codec | None = None) -> None:
        self.codec = codec
        self.telephone_event = telephone_event
        self._receive_stats = ReceiveStats(codec.clock_rate)

    def _received_rtp(self, data: bytes) -> None:
        now = time.monotonic()
        self.last_received = now
        self.packets_received += 1
        stats, codec = self._receive_stats, self.codec
        if (
            self.rtcp_enabled
            and stats is not None
            and codec is not None
            and data[1] & 0x7F == codec.payload_type
        ):
            stats.update(data, now)
        if self.on_rtp is not None and self.receiving:
            self.on_rtp(data, now)

    def _received_other(self) -> None:
        """RTCP, STUN consent, DTLS: the peer is alive even when it sends no RTP (e.g. on hold)."""
        self.last_received = time.monotonic()

    def _received_rtcp(self, data: bytes) -> None:
        """A plain (decrypted) RTCP compound packet from the peer."""
        now = time.monotonic()
        self.last_received = now
        if self._receive_stats is not None:
            self._receive_stats.sender_report_received(data, now)

    def _sent_rtp(self, data: bytes) -> None:
        if self.rtcp_enabled:
            self._send_stats.update(data, time.monotonic())

    def rtcp_due(self, now: float, interval: float) -> None:
        """Send an RTCP report if `interval` seconds passed since the last one (MediaCall's watchdog calls
        this on each tick)."""
        if not self.rtcp_enabled or self.codec is None or now - self._rtcp_last < interval:
            return
        self._rtcp_last = now
        report = compound_report(self._send_stats, self._receive_stats, self.codec.clock_rate, now)
        if report is not None:
            self.send(report)
            self.rtcp_sent += 1

    def _fail(self, reason: str) -> None:
        if not self.closed and self.on_failure is not None:
            self.on_failure(self, reason)

    @abstractmethod
    def send(self, data: bytes) -> None:
        """Send one plain RTP packet (dropped while the leg cannot send yet or must not)."""

    @abstractmethod
    async def close(self) -> None:
        """Close every socket and end every task of the leg; safe to call twice."""
