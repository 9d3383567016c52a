"""The Jingle-side test client: a real aiortc RTCPeerConnection (its own ICE, DTLS-SRTP, opus/PCMU
stack), signalling with the gateway in Jingle contents converted from and to its SDP by
xmpp/jingle_sdp.py, as an XMPP client calling a room would.

It sends a sine tone, keeps every sample it receives, injects RFC 4733 events (aiortc has no DTMF
sender: packets go through its SRTP session on its own SSRC) and records the events it receives
(aiortc drops payload types it did not negotiate, so they are picked off before its RTP router).
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import time
from typing import Any

from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError
from aiortc.rtcrtpsender import RTCRtpSender
from aiortc.sdp import candidate_from_sdp
from av import AudioFrame

from gateway import sdp
from media.rtp import (
    RtpPacket,
    TelephoneEvent,
    build_rtp,
    build_telephone_event,
    parse_rtp,
    parse_telephone_event,
)
from tests.media.tone import sine
from xmpp.jingle_content import Content, IceCandidate
from xmpp.jingle_sdp import contents_to_sdp, sdp_to_contents

RATE = 48000
FRAME = 960


class ToneTrack(MediaStreamTrack):
    kind = "audio"

    def __init__(self, frequency: float) -> None:
        super().__init__()
        self.frequency = frequency
        self._index = 0
        self._start: float | None = None

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        else:
            await asyncio.sleep(max(0.0, self._start + self._index / RATE - time.monotonic()))
        frame = AudioFrame(format="s16", layout="mono", samples=FRAME)
        frame.planes[0].update(sine(self.frequency, RATE, self._index, FRAME))
        frame.pts = self._index
        frame.sample_rate = RATE
        frame.time_base = fractions.Fraction(1, RATE)
        self._index += FRAME
        return frame


class JingleClient:
    def __init__(self, frequency: float, codec: str = "opus") -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.frequency = frequency
        self.codec = codec
        self.samples: list[int] = []
        self.rate = 0
        self.events: list[tuple[int, TelephoneEvent]] = []
        self.event_pt = 126 if codec == "opus" else 101
        self._reader: asyncio.Task[None] | None = None
        self._dtmf_seq = 1000
        self._dtmf_ts = 123456
        self.pc.on("track", self._track)

    def _track(self, track: MediaStreamTrack) -> None:
        self._reader = asyncio.get_running_loop().create_task(self._read(track))

    async def _read(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame: Any = await track.recv()
                self.rate = frame.sample_rate
                channels = len(frame.layout.channels)
                data = memoryview(bytes(frame.planes[0])[: frame.samples * channels * 2]).cast("h").tolist()
                self.samples += data[::channels]

    async def offer(self) -> Content:
        """session-initiate: the content of aiortc's offer, plus telephone-event."""
        transceiver = self.pc.addTransceiver(ToneTrack(self.frequency), direction="sendrecv")
        codecs = [c for c in RTCRtpSender.getCapabilities("audio").codecs if c.name.lower() == self.codec]
        transceiver.setCodecPreferences(codecs)
        await self.pc.setLocalDescription(await self.pc.createOffer())
        offer = sdp.parse_sdp(self.pc.localDescription.sdp)
        m = offer.media[0]
        clock = 48000 if self.codec == "opus" else 8000
        m = m.model_copy(
            update={
                "formats": (*m.formats, str(self.event_pt)),
                "rtpmaps": (
                    *m.rtpmaps,
                    sdp.RtpMap(payload_type=self.event_pt, encoding="telephone-event", clock_rate=clock),
                ),
                "fmtps": (*m.fmtps, sdp.Fmtp(format=str(self.event_pt), parameters="0-16")),
            }
        )
        contents, _ = sdp_to_contents(offer.model_copy(update={"media": (m,)}))
        return contents[0]

    async def accept(self, content: Content) -> None:
        """session-accept from the gateway."""
        answer = contents_to_sdp([content], initiator_view=False)
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp.serialize_sdp(answer), "answer"))
        self._peek_events()

    async def answer(self, content: Content) -> Content:
        """The gateway calls the client (session-initiate): aiortc answers; its SDP becomes session-accept."""
        offer = contents_to_sdp([content], initiator_view=True)
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp.serialize_sdp(offer), "offer"))
        transceiver = self.pc.getTransceivers()[0]
        transceiver.direction = "sendrecv"
        transceiver.sender.replaceTrack(ToneTrack(self.frequency))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        answer = sdp.parse_sdp(self.pc.localDescription.sdp)
        m = answer.media[0]
        offered_events = [
            pt for pt in content.description.payload_types if pt.name == "telephone-event" and pt.clockrate == 48000
        ] if content.description else []  # fmt: skip
        if offered_events:  # aiortc has no DTMF codec; the client says it takes the events (it reads them)
            self.event_pt = offered_events[0].id
            m = m.model_copy(
                update={
                    "formats": (*m.formats, str(self.event_pt)),
                    "rtpmaps": (
                        *m.rtpmaps,
                        sdp.RtpMap(payload_type=self.event_pt, encoding="telephone-event", clock_rate=48000),
                    ),
                }
            )
        contents, _ = sdp_to_contents(answer.model_copy(update={"media": (m,)}), initiator_view=False)
        self._peek_events()
        return contents[0]

    def _peek_events(self) -> None:
        dtls = self.pc.getTransceivers()[0].receiver.transport
        original = dtls._handle_rtp_data

        async def peek(data: bytes, arrival_time_ms: int) -> None:
            with contextlib.suppress(ValueError):
                packet = parse_rtp(data)
                if packet.payload_type == self.event_pt:
                    self.events.append((packet.timestamp, parse_telephone_event(packet.payload)))
                    return
            await original(data, arrival_time_ms)

        dtls._handle_rtp_data = peek

    async def add_candidate(self, candidate: IceCandidate) -> None:
        """A candidate the gateway trickled in a `transport-info`."""
        c = candidate
        line = f"{c.foundation} {c.component} {c.protocol} {c.priority} {c.ip} {c.port} typ {c.type}"
        rtc = candidate_from_sdp(line)
        rtc.sdpMid = self.pc.getTransceivers()[0].mid
        await self.pc.addIceCandidate(rtc)

    async def send_dtmf(self, digit: str, duration_ms: int = 200) -> None:
        """RFC 4733 section 2.5: one event, updates every 20 ms, the end packet three times."""
        dtls = self.pc.getTransceivers()[0].sender.transport
        event = "0123456789*#ABCD".index(digit)
        clock = 48000 if self.codec == "opus" else 8000
        self._dtmf_ts += clock
        timestamp, ssrc = self._dtmf_ts, 0x5EED
        steps = duration_ms // 20
        for step in range(1, steps + 3 + 1):
            end = step >= steps
            duration = min(step, steps) * clock // 50
            payload = build_telephone_event(TelephoneEvent(event, end, 10, duration))
            self._dtmf_seq += 1
            await dtls._send_rtp(
                build_rtp(RtpPacket(self.event_pt, step == 1, self._dtmf_seq, timestamp, ssrc, payload))
            )
            if not end:
                await asyncio.sleep(0.02)

    def dtmf_received(self) -> str:
        """The digits received, one per event (events are told apart by their RTP timestamp)."""
        starts = dict.fromkeys((timestamp, e.digit) for timestamp, e in self.events)
        return "".join(digit for _, digit in starts)

    def go_silent(self) -> None:
        """Close the client's ICE sockets under aiortc: from now on nothing at all leaves the client."""
        connection = self.pc.getTransceivers()[0].sender.transport.transport._connection
        for protocol in connection._protocols:
            protocol.transport.close()

    async def close(self) -> None:
        await self.pc.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
