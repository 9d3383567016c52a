"""The offer/answer model (RFC 3264) over the typed SDP of `gateway.sdp`, for INVITE sessions.

`Negotiator` is what an INVITE session asks for SDP: an offer to send, an answer to an offer received
(None when nothing in it is acceptable: the session answers `488`), and whether an answer received is
acceptable. `AudioNegotiator` is the negotiator the gateway uses until the media relay exists: one audio
stream at a fixed address and port, with a fixed list of codecs.

Answer rules (RFC 3264 section 6):

    one m= line in the answer per m= line of the offer, in the same order, same media type
    an offered stream we take          our port, the offered payload type numbers of the codecs we share
                                       (in the offer's order), the direction mirrored (sendonly <->
                                       recvonly, sendrecv and inactive kept)
    a stream we refuse                 port 0, the offered formats, nothing else (section 6)
    a stream offered with port 0       refused likewise (section 8.2: it was removed)
    nothing taken                      no answer (the session says 488 Not Acceptable Here)

Only the first acceptable audio stream is taken (we have one port); codecs match by encoding name
(case-insensitive), clock rate and channels, or by static payload type when the offer has no rtpmap.

`OriginStamp` keeps the `o=` line of one session (RFC 3264 section 8): the same session id throughout,
the version incremented whenever a description we send differs from the previous one, kept when it is the
same.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Protocol

from gateway.sdp import (
    Connection,
    Direction,
    Fmtp,
    MediaDescription,
    Origin,
    RtpMap,
    SessionDescription,
)

SDP_TYPE = "application/sdp"
_MIRRORED = {
    Direction.SENDONLY: Direction.RECVONLY,
    Direction.RECVONLY: Direction.SENDONLY,
    Direction.SENDRECV: Direction.SENDRECV,
    Direction.INACTIVE: Direction.INACTIVE,
}


class Negotiator(Protocol):
    """What an INVITE session asks of its media side."""

    def offer(self) -> SessionDescription:
        """A new offer (initial, or for a re-INVITE)."""
        ...

    def answer(self, offer: SessionDescription) -> SessionDescription | None:
        """The answer to `offer`, or None when nothing in it is acceptable."""
        ...

    def answer_acceptable(self, offer: SessionDescription, answer: SessionDescription) -> bool:
        """Whether `answer` (received) is a valid answer to `offer` (ours)."""
        ...


@dataclass(frozen=True, slots=True)
class Codec:
    """An RTP payload format we can take: `payload_type` is ours when we offer (static or dynamic)."""

    payload_type: int
    encoding: str
    clock_rate: int
    channels: int | None = None
    fmtp: str | None = None

    def matches(self, rtpmap: RtpMap | None, payload_type: int) -> bool:
        if rtpmap is None:  # a static payload type without rtpmap (RFC 3551)
            return payload_type < 96 and payload_type == self.payload_type
        return (
            rtpmap.encoding.lower() == self.encoding.lower()
            and rtpmap.clock_rate == self.clock_rate
            and (rtpmap.channels or 1) == (self.channels or 1)
        )


PCMU = Codec(0, "PCMU", 8000)
PCMA = Codec(8, "PCMA", 8000)
TELEPHONE_EVENT = Codec(101, "telephone-event", 8000, fmtp="0-16")
DEFAULT_CODECS = (PCMU, PCMA, TELEPHONE_EVENT)


@dataclass
class AudioNegotiator:
    """One audio stream (RTP/AVP) at `address`:`port` with `codecs`, for one session."""

    address: str
    port: int
    codecs: tuple[Codec, ...] = DEFAULT_CODECS
    proto: str = "RTP/AVP"
    ptime: str | None = "20"
    origin: OriginStamp = field(init=False)  # the o= line of this session's descriptions

    def __post_init__(self) -> None:
        self.origin = OriginStamp(address=self.address)

    def _addrtype(self) -> str:
        return "IP6" if ":" in self.address else "IP4"

    def _session(self, media: tuple[MediaDescription, ...]) -> SessionDescription:
        body = SessionDescription(
            origin=Origin(session_id=0, session_version=0),
            name="coin-gateway",
            connection=Connection(addrtype=self._addrtype(), address=self.address),
            media=media,
        )
        return self.origin.stamp(body)

    def offer(self) -> SessionDescription:
        stream = MediaDescription(
            media="audio",
            port=self.port,
            proto=self.proto,
            formats=tuple(str(c.payload_type) for c in self.codecs),
            rtpmaps=tuple(
                RtpMap(
                    payload_type=c.payload_type,
                    encoding=c.encoding,
                    clock_rate=c.clock_rate,
                    channels=c.channels,
                )
                for c in self.codecs
            ),
            fmtps=tuple(_fmtp(str(c.payload_type), c.fmtp) for c in self.codecs if c.fmtp),
            ptime=self.ptime,
            direction=Direction.SENDRECV,
        )
        return self._session((stream,))

    def answer(self, offer: SessionDescription) -> SessionDescription | None:
        taken = False
        streams: list[MediaDescription] = []
        for offered in offer.media:
            answered = None if taken else self._answer_stream(offer, offered)
            if answered is None:
                streams.append(_refused(offered))
            else:
                streams.append(answered)
                taken = True
        if not taken:
            return None
        return self._session(tuple(streams))

    def _answer_stream(self, offer: SessionDescription, offered: MediaDescription) -> MediaDescription | None:
        if offered.media != "audio" or offered.proto != self.proto or offered.port == 0:
            return None
        shared: list[tuple[str, RtpMap | None, Codec]] = []
        for fmt in offered.formats:
            if not fmt.isdigit():
                continue
            rtpmap = offered.rtpmap(int(fmt))
            codec = next((c for c in self.codecs if c.matches(rtpmap, int(fmt))), None)
            if codec is not None:
                shared.append((fmt, rtpmap, codec))
        if all(codec.encoding.lower() == "telephone-event" for _, _, codec in shared):
            return None  # nothing shared, or DTMF alone, which is no audio
        direction = offered.direction or offer.direction or Direction.SENDRECV
        return MediaDescription(
            media="audio",
            port=self.port,
            proto=self.proto,
            formats=tuple(fmt for fmt, _, _ in shared),
            rtpmaps=tuple(
                RtpMap(
                    payload_type=int(fmt),
                    encoding=codec.encoding,
                    clock_rate=codec.clock_rate,
                    channels=codec.channels,
                )
                for fmt, _, codec in shared
            ),
            fmtps=tuple(fmtp for fmt, _, codec in shared if (fmtp := _answer_fmtp(offered, fmt, codec))),
            ptime=self.ptime,
            mid=offered.mid,
            direction=_MIRRORED[direction],
        )

    def answer_acceptable(self, offer: SessionDescription, answer: SessionDescription) -> bool:
        """RFC 3264 section 6: as many m= lines as offered, the same media types, and every stream that is
        not refused uses formats we offered in it."""
        if len(answer.media) != len(offer.media):
            return False
        for offered, answered in zip(offer.media, answer.media, strict=True):
            if answered.media != offered.media:
                return False
            if answered.port != 0 and not set(answered.formats) <= set(offered.formats):
                return False
        return True


def _fmtp(fmt: str, parameters: str | None) -> Fmtp:
    return Fmtp(format=fmt, parameters=parameters or "")


def _answer_fmtp(offered: MediaDescription, fmt: str, codec: Codec) -> Fmtp | None:
    """The offer's fmtp for a format we take (its parameters are the offerer's to set), else ours."""
    theirs = offered.fmtp(fmt)
    if theirs is not None:
        return theirs
    return _fmtp(fmt, codec.fmtp) if codec.fmtp else None


def _refused(offered: MediaDescription) -> MediaDescription:
    return MediaDescription(
        media=offered.media, port=0, proto=offered.proto, formats=offered.formats, mid=offered.mid
    )


@dataclass
class OriginStamp:
    """The `o=` line of one session's descriptions (RFC 3264 section 8)."""

    address: str
    username: str = "-"
    session_id: int = field(default_factory=lambda: secrets.randbelow(2**62))
    version: int | None = None
    _last: SessionDescription | None = None

    def stamp(self, body: SessionDescription) -> SessionDescription:
        """`body` with our origin: the version bumped when it differs from what we last sent."""
        if self._last is not None and body.model_copy(update={"origin": self._last.origin}) == self._last:
            return self._last
        self.version = 1 if self.version is None else self.version + 1
        origin = Origin(
            username=self.username,
            session_id=self.session_id,
            session_version=self.version,
            addrtype="IP6" if ":" in self.address else "IP4",
            address=self.address,
        )
        self._last = body.model_copy(update={"origin": origin})
        return self._last
