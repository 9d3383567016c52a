"""RTCP reports (RFC 3550 section 6.4): what a leg sends its peer every few seconds - a sender report for
the stream we send it (our SSRC, NTP/RTP time, packet and octet counts) with a report block on the stream
we receive from it (loss, extended highest sequence, interarrival jitter, LSR/DLSR), or a receiver report
when we have sent nothing yet - and an SDES CNAME chunk, which every compound packet carries. Sans-IO.
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass, field

NTP_EPOCH_OFFSET = 2208988800  # seconds from 1900-01-01 to 1970-01-01
SR, RR, SDES = 200, 201, 202
_RTP_HEAD = struct.Struct("!HI I")  # sequence, timestamp, ssrc (bytes 2..12)


def ntp_time(unix: float) -> int:
    """64-bit NTP timestamp (RFC 3550 section 4)."""
    seconds = int(unix) + NTP_EPOCH_OFFSET
    return (seconds << 32) | int((unix % 1.0) * (1 << 32))


@dataclass
class ReceiveStats:
    """RFC 3550 appendix A.1/A.3/A.8 for the stream a leg receives (one source at a time)."""

    clock_rate: int
    ssrc: int | None = None
    base_seq: int = 0
    max_seq: int = 0
    cycles: int = 0
    received: int = 0
    expected_prior: int = 0
    received_prior: int = 0
    transit: float | None = None
    jitter: float = 0.0
    last_sr: int = 0  # middle 32 bits of the NTP time of the peer's last SR
    last_sr_at: float = 0.0  # when it arrived (monotonic seconds)

    def update(self, data: bytes, now: float) -> None:
        sequence, timestamp, ssrc = _RTP_HEAD.unpack_from(data, 2)
        if ssrc != self.ssrc:  # a new source: its own numbering
            self.ssrc, self.base_seq, self.max_seq, self.cycles = ssrc, sequence, sequence, 0
            self.received = self.expected_prior = self.received_prior = 0
            self.transit, self.jitter = None, 0.0
        elif (sequence - self.max_seq) & 0xFFFF < 0x8000:
            if sequence < self.max_seq:
                self.cycles += 0x10000
            self.max_seq = sequence
        self.received += 1
        transit = now * self.clock_rate - timestamp
        if self.transit is not None:
            d = abs(transit - self.transit)
            if d < self.clock_rate:  # a timestamp jump (a new talkspurt source) is not jitter
                self.jitter += (d - self.jitter) / 16
        self.transit = transit

    def sender_report_received(self, data: bytes, now: float) -> None:
        """The peer's SR: remember its NTP time for LSR/DLSR."""
        if len(data) >= 16 and data[1] == SR:
            ntp_high, ntp_low = struct.unpack_from("!II", data, 8)
            self.last_sr = ((ntp_high & 0xFFFF) << 16) | (ntp_low >> 16)
            self.last_sr_at = now

    def report_block(self, now: float) -> bytes:
        assert self.ssrc is not None
        extended = self.cycles + self.max_seq
        expected = extended - self.base_seq + 1
        lost = max(-(1 << 23), min((1 << 23) - 1, expected - self.received))
        expected_interval = expected - self.expected_prior
        lost_interval = expected_interval - (self.received - self.received_prior)
        self.expected_prior, self.received_prior = expected, self.received
        fraction = (
            (lost_interval << 8) // expected_interval if expected_interval > 0 and lost_interval > 0 else 0
        )
        dlsr = int((now - self.last_sr_at) * 65536) if self.last_sr else 0
        return struct.pack(
            "!IIIIII",
            self.ssrc,
            (min(fraction, 255) << 24) | (lost & 0xFFFFFF),
            extended & 0xFFFFFFFF,
            int(self.jitter),
            self.last_sr,
            dlsr & 0xFFFFFFFF,
        )


@dataclass
class SendStats:
    """What we sent a peer: for the sender info of our SR."""

    ssrc: int | None = None
    packets: int = 0
    octets: int = 0
    timestamp: int = 0
    sent_at: float = 0.0
    cname: bytes = field(default_factory=lambda: b"coin-gateway")

    def update(self, data: bytes, now: float) -> None:
        _, timestamp, ssrc = _RTP_HEAD.unpack_from(data, 2)
        self.ssrc, self.timestamp, self.sent_at = ssrc, timestamp, now
        self.packets += 1
        self.octets += len(data) - 12


def _sdes(ssrc: int, cname: bytes) -> bytes:
    chunk = struct.pack("!IBB", ssrc, 1, len(cname)) + cname + b"\0"
    chunk += b"\0" * (-len(chunk) % 4)
    return struct.pack("!BBH", 0x81, SDES, (4 + len(chunk)) // 4 - 1) + chunk


def compound_report(
    send: SendStats, receive: ReceiveStats | None, clock_rate: int, now: float, unix: float | None = None
) -> bytes | None:
    """SR (or RR) + SDES CNAME, or None before there is anything to report on. `now` is monotonic
    seconds (as the stats were fed); `unix` the wall clock for the NTP field."""
    blocks = receive.report_block(now) if receive is not None and receive.ssrc is not None else b""
    count = 1 if blocks else 0
    if send.ssrc is not None:
        unix = time.time() if unix is None else unix
        rtp = (send.timestamp + int((now - send.sent_at) * clock_rate)) & 0xFFFFFFFF
        body = struct.pack(
            "!IQIII", send.ssrc, ntp_time(unix), rtp, send.packets & 0xFFFFFFFF, send.octets & 0xFFFFFFFF
        )
        report = struct.pack("!BBH", 0x80 | count, SR, (4 + len(body) + len(blocks)) // 4 - 1) + body + blocks
        return report + _sdes(send.ssrc, send.cname)
    if not blocks:
        return None
    ssrc = 0x636F696E  # "coin": a receiver that never sent has an SSRC of its own too
    report = struct.pack("!BBHI", 0x80 | count, RR, (8 + len(blocks)) // 4 - 1, ssrc) + blocks
    return report + _sdes(ssrc, send.cname)
