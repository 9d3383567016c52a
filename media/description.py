"""What each leg says about its media in signalling, and what it learns from the peer's: codecs and
payload types, addresses, ICE/DTLS transport, direction (hold). Two forms: SDP media descriptions for
the SIP leg (gateway/sdp.py), Jingle contents for the Jingle leg (xmpp/jingle_content.py).

Offer/answer (RFC 3264): the answerer picks one audio codec among the offered ones (the codec the other
leg already uses first, so that the relay can forward without transcoding; otherwise the offerer's
order), keeps the offerer's payload type for it, and adds telephone-event when offered (at the same clock
rate if there is one; the relay scales event durations between clocks). Our offers list opus, PCMU,
PCMA, telephone-event/48000 beside opus and telephone-event/8000.

Hold (RFC 3264 section 8.4; XEP-0167 section 6 via content `senders`): a side that says it only sends
gets nothing from us (`leg.sending = False`); one that says it only receives is expected to send nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from gateway import sdp
from media import sdes
from media.codecs import (
    AUDIO_CODECS,
    DTMF_8K,
    DTMF_48K,
    TELEPHONE_EVENT,
    Codec,
    NegotiationError,
    codec,
)
from media.jingle_leg import JingleLeg
from media.leg import MediaLeg
from media.rtp_leg import RtpLeg
from xmpp.jingle_content import (
    Content,
    Creator,
    IceUdpTransport,
    Parameter,
    PayloadType,
    RawUdpCandidate,
    RawUdpTransport,
    RtpDescription,
    Senders,
)
from xmpp.jingle_sdp import STATIC_PAYLOAD_TYPES

# -- codec choice --------------------------------------------------------------------------------------------


def choose(
    offered: Sequence[Codec], supported: Iterable[Codec] = AUDIO_CODECS, prefer: Codec | None = None
) -> tuple[Codec, Codec | None]:
    """Our answer's audio codec and telephone-event among `offered` (see the module docstring)."""
    keys = {c.key for c in supported}
    candidates = [c for c in offered if c.key in keys]
    if not candidates:
        names = ", ".join(f"{c.name}/{c.clock_rate}" for c in offered) or "nothing"
        raise NegotiationError(f"no common audio codec (offered {names})")
    audio = next((c for c in candidates if prefer is not None and c.key == prefer.key), candidates[0])
    events = [c for c in offered if c.name == TELEPHONE_EVENT]
    event = next((c for c in events if c.clock_rate == audio.clock_rate), events[0] if events else None)
    return audio, event


def _offer_codecs(codecs: Sequence[Codec]) -> list[Codec]:
    """The codecs and a telephone-event at 48 kHz when opus is offered, and at 8 kHz always (what most
    SIP peers, baresip included, send even beside opus)."""
    events = [DTMF_48K] if any(c.clock_rate == 48000 for c in codecs) else []
    return [*codecs, *events, DTMF_8K]


# -- SDP (the SIP leg) ---------------------------------------------------------------------------------------


def codecs_from_sdp(m: sdp.MediaDescription) -> list[Codec]:
    out = []
    for fmt in m.formats:
        if not fmt.isdigit():
            continue
        pt = int(fmt)
        rtpmap = m.rtpmap(pt)
        fmtp = m.fmtp(fmt)
        if rtpmap is not None:
            out.append(
                codec(
                    rtpmap.encoding, rtpmap.clock_rate, pt, rtpmap.channels, fmtp.parameters if fmtp else ""
                )
            )
        elif pt in STATIC_PAYLOAD_TYPES:
            name, rate, channels = STATIC_PAYLOAD_TYPES[pt]
            out.append(codec(name, rate, pt, channels))
    return out


def _sdp_direction_to_leg(leg: MediaLeg, direction: sdp.Direction | None) -> None:
    """The peer's direction (its view): what we may send to it and expect from it."""
    direction = direction or sdp.Direction.SENDRECV
    leg.sending = direction in (sdp.Direction.SENDRECV, sdp.Direction.RECVONLY)
    leg.receiving = direction in (sdp.Direction.SENDRECV, sdp.Direction.SENDONLY)


def _our_sdp_direction(leg: MediaLeg) -> sdp.Direction:
    return {
        (True, True): sdp.Direction.SENDRECV,
        (True, False): sdp.Direction.SENDONLY,
        (False, True): sdp.Direction.RECVONLY,
        (False, False): sdp.Direction.INACTIVE,
    }[(leg.sending, leg.receiving)]


def _sdp_media(
    leg: RtpLeg, codecs: Sequence[Codec], cryptos: Sequence[sdp.Crypto] = ()
) -> sdp.MediaDescription:
    return sdp.MediaDescription(
        media="audio",
        port=leg.local_port,
        proto="RTP/SAVP" if cryptos else "RTP/AVP",
        crypto=tuple(cryptos),
        formats=tuple(str(c.payload_type) for c in codecs),
        connection=sdp.Connection(
            addrtype="IP6" if ":" in leg.local_address else "IP4", address=leg.local_address
        ),
        direction=_our_sdp_direction(leg),
        rtpmaps=tuple(
            sdp.RtpMap(
                payload_type=c.payload_type,
                encoding=c.name.upper() if c.name in ("pcmu", "pcma") else c.name,
                clock_rate=c.clock_rate,
                channels=c.channels if c.channels > 1 else None,
            )
            for c in codecs
        ),
        fmtps=tuple(
            sdp.Fmtp(format=str(c.payload_type), parameters="0-16" if c.name == TELEPHONE_EVENT else c.fmtp)
            for c in codecs
            if c.fmtp or c.name == TELEPHONE_EVENT
        ),
        ptime="20",
    )


def _remote_address(session: sdp.SessionDescription, m: sdp.MediaDescription) -> str:
    connection = m.connection or session.connection
    if connection is None:
        raise NegotiationError("the SDP has no c= line for the audio")
    return connection.address.split("/")[0]


def _audio(session: sdp.SessionDescription) -> sdp.MediaDescription:
    m = next((m for m in session.media if m.media == "audio" and m.port != 0), None)
    if m is None:
        raise NegotiationError("no audio m= line")
    if m.proto not in ("RTP/AVP", "RTP/AVPF", "RTP/SAVP", "RTP/SAVPF"):
        raise NegotiationError(f"unsupported SIP media profile {m.proto} (RTP/AVP or SDES RTP/SAVP only)")
    return m


def _secure(m: sdp.MediaDescription) -> bool:
    return m.proto in ("RTP/SAVP", "RTP/SAVPF")


def sdp_answer(
    leg: RtpLeg, offer: sdp.SessionDescription, prefer: Codec | None = None
) -> sdp.MediaDescription:
    """Negotiate `leg` from a SIP peer's offer; return the audio media description of our answer (the
    caller wraps it in a session description). Raises NegotiationError (answer 488)."""
    m = _audio(offer)
    audio, event = choose(codecs_from_sdp(m), prefer=prefer)
    cryptos: tuple[sdp.Crypto, ...] = ()
    if _secure(m):
        try:
            crypto, leg.srtp = sdes.answer_cryptos(m.crypto)
        except sdes.SdesError as exc:
            raise NegotiationError(str(exc)) from None
        cryptos = (crypto,)
    leg.set_codecs(audio, event)
    leg.set_remote(_remote_address(offer, m), m.port)
    _sdp_direction_to_leg(leg, m.direction or offer.direction)
    return _sdp_media(leg, [audio, *([event] if event else [])], cryptos)


def sdp_offer(
    leg: RtpLeg, codecs: Sequence[Codec] = AUDIO_CODECS, *, srtp: bool = False
) -> sdp.MediaDescription:
    """Our offer's audio media description; `srtp`: RTP/SAVP with SDES keys (RFC 4568)."""
    cryptos: tuple[sdp.Crypto, ...] = ()
    if srtp:
        leg.sdes_key = sdes.new_key()
        cryptos = sdes.offer_cryptos(leg.sdes_key)
    return _sdp_media(leg, _offer_codecs(codecs), cryptos)


def sdp_apply_answer(leg: RtpLeg, answer: sdp.SessionDescription) -> None:
    """Negotiate `leg` from the SIP peer's answer to `sdp_offer`: its first audio codec, its payload types,
    its SDES key when we offered RTP/SAVP (an RTP/AVP answer to it is refused: no silent downgrade)."""
    m = _audio(answer)
    audio, event = choose(codecs_from_sdp(m))
    if leg.sdes_key is not None:
        if not _secure(m):
            raise NegotiationError("RTP/SAVP was offered, the answer is not")
        try:
            leg.srtp = sdes.apply_answer(sdes.offer_cryptos(leg.sdes_key), m.crypto, leg.sdes_key)
        except sdes.SdesError as exc:
            raise NegotiationError(str(exc)) from None
    leg.set_codecs(audio, event)
    leg.set_remote(_remote_address(answer, m), m.port)
    _sdp_direction_to_leg(leg, m.direction or answer.direction)


def sdp_session(
    media: sdp.MediaDescription, address: str, session_id: int = 1, version: int = 1
) -> sdp.SessionDescription:
    """A whole SDP body around one media description (o= and c= on `address`)."""
    addrtype = "IP6" if ":" in address else "IP4"
    return sdp.SessionDescription(
        origin=sdp.Origin(session_id=session_id, session_version=version, addrtype=addrtype, address=address),
        name="coin-gateway",
        connection=sdp.Connection(addrtype=addrtype, address=address),
        media=(media,),
    )


# -- Jingle (the Jingle leg) ---------------------------------------------------------------------------------


def codecs_from_jingle(description: RtpDescription) -> list[Codec]:
    out = []
    for pt in description.payload_types:
        name, rate, channels = pt.name, pt.clockrate, pt.channels
        if name is None and pt.id in STATIC_PAYLOAD_TYPES:
            name, rate, channels = STATIC_PAYLOAD_TYPES[pt.id]
        if name is None or rate is None:
            continue
        fmtp = ";".join(p.name if p.value is None else f"{p.name}={p.value}" for p in pt.parameters)
        out.append(codec(name, rate, pt.id, channels, fmtp))
    return out


def _payload_type(c: Codec) -> PayloadType:
    if c.name == TELEPHONE_EVENT:
        parameters: tuple[Parameter, ...] = (Parameter(name="events", value="0-16"),)
    else:
        parameters = tuple(
            Parameter(name=name, value=value)
            for name, _, value in (item.partition("=") for item in c.fmtp.split(";") if item)
        )
    name = c.name.upper() if c.name in ("pcmu", "pcma") else c.name
    return PayloadType(
        id=c.payload_type,
        name=name,
        clockrate=c.clock_rate,
        channels=c.channels if c.channels > 1 else None,
        parameters=parameters,
    )


def _senders_to_leg(leg: MediaLeg, senders: Senders | None, *, we_initiated: bool) -> None:
    senders = senders or Senders.BOTH
    peer = Senders.RESPONDER if we_initiated else Senders.INITIATOR
    us = Senders.INITIATOR if we_initiated else Senders.RESPONDER
    leg.receiving = senders in (Senders.BOTH, peer)
    leg.sending = senders in (Senders.BOTH, us)


def _content(
    leg: JingleLeg,
    name: str,
    creator: Creator,
    codecs: Sequence[Codec],
    senders: Senders | None,
    *,
    trickle: bool = False,
) -> Content:
    return Content(
        creator=creator,
        name=name,
        senders=senders,
        description=RtpDescription(
            media="audio", payload_types=tuple(_payload_type(c) for c in codecs), rtcp_mux=True
        ),
        transport=leg.local_transport(with_candidates=not trickle),
    )


async def jingle_answer(
    leg: JingleLeg, offer: Content, prefer: Codec | None = None, *, trickle: bool = False
) -> Content:
    """Negotiate `leg` from a Jingle `session-initiate` content; return our `session-accept` content.
    Gathers, and starts ICE with what the offer's transport carries (later `transport-info`s go to
    `leg.add_remote`). `trickle`: our candidates are left out of the accept; they reach
    `leg.on_local_candidate` while gathering, for `transport-info`s sent after the accept. Raises
    NegotiationError (Jingle: failed-application) or ValueError for a transport that is not ICE-UDP with
    a DTLS fingerprint (unsupported-transports)."""
    if offer.description is None or offer.description.media != "audio":
        raise NegotiationError(f"content {offer.name!r} is not audio")
    if not isinstance(offer.transport, IceUdpTransport) or not offer.transport.fingerprints:
        raise ValueError(f"content {offer.name!r}: ICE-UDP with a DTLS fingerprint is needed")
    audio, event = choose(codecs_from_jingle(offer.description), prefer=prefer)
    leg.set_codecs(audio, event)
    _senders_to_leg(leg, offer.senders, we_initiated=False)
    await leg.gather()
    await leg.add_remote(offer.transport)
    codecs = [audio, *([event] if event else [])]
    return _content(leg, offer.name, offer.creator, codecs, offer.senders, trickle=trickle)


def raw_udp_answer(leg: RtpLeg, offer: Content, prefer: Codec | None = None) -> Content:
    """XEP-0177 raw UDP, for Jingle clients without ICE: plain RTP (no DTLS) on an `RtpLeg`, latching as
    on the SIP side. Negotiates `leg` from the `session-initiate` content and returns our accept content
    with our address as the one candidate (component 1; rtcp-mux offered)."""
    if offer.description is None or offer.description.media != "audio":
        raise NegotiationError(f"content {offer.name!r} is not audio")
    if not isinstance(offer.transport, RawUdpTransport):
        raise ValueError(f"content {offer.name!r}: not a raw-UDP transport")
    audio, event = choose(codecs_from_jingle(offer.description), prefer=prefer)
    leg.set_codecs(audio, event)
    _senders_to_leg(leg, offer.senders, we_initiated=False)
    rtp = next((c for c in offer.transport.candidates if c.component == 1), None)
    if rtp is not None:
        leg.set_remote(rtp.ip, rtp.port)
    codecs = [audio, *([event] if event else [])]
    return Content(
        creator=offer.creator,
        name=offer.name,
        senders=offer.senders,
        description=RtpDescription(
            media="audio", payload_types=tuple(_payload_type(c) for c in codecs), rtcp_mux=True
        ),
        transport=RawUdpTransport(
            candidates=(
                RawUdpCandidate(
                    component=1,
                    generation=0,
                    id=f"gw{leg.local_port}",
                    ip=leg.local_address,
                    port=leg.local_port,
                ),
            )
        ),
    )


async def jingle_offer(
    leg: JingleLeg, name: str = "audio", codecs: Sequence[Codec] = AUDIO_CODECS
) -> Content:
    """Our `session-initiate` content (we are the initiator, so `leg` should be controlling)."""
    await leg.gather()
    return _content(leg, name, Creator.INITIATOR, _offer_codecs(codecs), Senders.BOTH)


async def jingle_apply_answer(leg: JingleLeg, answer: Content) -> None:
    """Negotiate `leg` from the peer's `session-accept` content and start ICE."""
    if answer.description is None:
        raise NegotiationError(f"content {answer.name!r} has no description")
    audio, event = choose(codecs_from_jingle(answer.description))
    leg.set_codecs(audio, event)
    _senders_to_leg(leg, answer.senders, we_initiated=True)
    if isinstance(answer.transport, IceUdpTransport):
        await leg.add_remote(answer.transport)
