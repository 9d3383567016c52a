"""The media of every call through the daemon: a Jingle leg toward the XMPP side, an RTP leg toward the SIP
side, and the `media.MediaCall` relaying between them. The gateway terminates both legs; no description
crosses from one side to the other (the SIP side sees our RTP leg's SDP, the Jingle side our Jingle leg's
contents).

    XMPP client -> SIP-focus room                          SIP phone -> XMPP-focus room
    xmpp_offered(session-initiate contents)                sip_offered(the INVITE's SDP)
      -> our SDP offer (RtpLeg), for the INVITE              -> our session-initiate contents (JingleLeg,
         (`negotiator(leg)` gives it to the session)            ICE controlling, DTLS actpass)
    the bridge's 2xx: the negotiator applies the answer   mixer_answered(session-accept contents)
    xmpp_answer() -> our session-accept contents           sip_answer() -> our SDP answer (to accept with)
      (JingleLeg: ICE + DTLS; RtpLeg for raw-UDP              (the codec the Jingle leg took first, so that
      clients), the SIP leg's codec first                     packets are forwarded when both match)
    started(): the MediaCall runs                          started(): the MediaCall runs

`transport_info()` takes the Jingle peer's trickled candidates (held until the leg can use them);
with `trickle`, our own candidates leave the session-accept/initiate and follow in `transport-info`
(`send_transport_info`). When media ends by itself (a silent leg, ICE or DTLS failure) `on_end(leg,
CallEnded)` says why, once; the daemon ends both signalling sides with `CallEnded.jingle_reason` and
`sip_reason`. `close(leg)` releases every socket and task of a call, whatever stage it reached.

Hold (media/hold.py): a SIP re-INVITE is negotiated on the RTP leg and rebuilds the relay; `renegotiated()`
says whether to tell the Jingle peer `<hold/>` or `<active/>` (session-info). The Jingle peer's `<hold/>`
or `<active/>` goes the other way through `jingle_hold()`: the RTP leg's direction for the re-INVITE the
daemon sends (sendonly, then sendrecv), and the SIP answer to it is not echoed back.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from dataclasses import dataclass, field

import structlog
from aiortc import RTCCertificate
from lxml import etree

from gateway import sdp
from media.call import CallEnded, MediaCall
from media.codecs import AUDIO_CODECS, Codec, NegotiationError
from media.description import (
    choose,
    codecs_from_jingle,
    codecs_from_sdp,
    jingle_answer,
    jingle_apply_answer,
    jingle_offer,
    raw_udp_answer,
    sdp_answer,
    sdp_apply_answer,
    sdp_offer,
    sdp_session,
)
from media.hold import rtp_info_for_sip, sip_direction_for_rtp_info
from media.jingle_leg import JingleLeg
from media.leg import MediaLeg
from media.ports import NoPortAvailable, PortRange
from media.rtp_leg import RtpLeg
from sip.offer_answer import OriginStamp
from xmpp.jingle_content import (
    Content,
    Creator,
    IceCandidate,
    IceUdpTransport,
    JingleContentError,
    RawUdpTransport,
    content_element,
    parse_content,
)
from xmpp.namespaces import JINGLE

log = structlog.get_logger(__name__)

EndHandler = Callable[[str, CallEnded], None]
TransportInfoSender = Callable[[str, list[etree._Element]], None]


class MediaRefused(Exception):
    """A description we cannot take (or no port for it): `reason` is the Jingle reason, `status` and
    `phrase` the SIP response, for whichever side must be told."""

    def __init__(self, reason: str, status: int, text: str) -> None:
        super().__init__(text)
        self.reason, self.status, self.text = reason, status, text


class MediaGone(Exception):
    """The call's media was closed while it was being set up (a hang-up meanwhile)."""


@dataclass(frozen=True)
class MediaSettings:
    """What `[media]` configures (gateway.config.MediaSection)."""

    address: str = "127.0.0.1"
    port_min: int = 40000
    port_max: int = 40999
    silence_timeout: float = 30.0


# -- the SIP side's offer/answer ---------------------------------------------------------------------------------


def acceptable(offer: sdp.SessionDescription) -> bool:
    """Whether a SIP offer has an audio stream we can relay (RTP/AVP or SDES RTP/SAVP, a codec we speak)."""
    for m in offer.media:
        if m.media != "audio" or m.port == 0:
            continue
        if m.proto not in ("RTP/AVP", "RTP/AVPF", "RTP/SAVP", "RTP/SAVPF"):
            return False
        try:
            choose(codecs_from_sdp(m))
        except NegotiationError:
            return False
        return True
    return False


class MediaNegotiator:
    """The `sip.offer_answer.Negotiator` of one INVITE session, over the call's RTP leg.

    A call we place: `offer()` is the RTP leg's offer; an answer is acceptable when the leg can be
    negotiated from it (it is applied there and then). A call we answer: until the media is ready
    (`prepare`), `answer()` only says whether the offer is acceptable (the session answers 488
    otherwise); `prepare` computes the real answer, which `accept()` then sends. A later offer (a
    re-INVITE) is negotiated on the leg again and `renegotiated` is set for the owner to rebuild the relay.
    """

    def __init__(self, address: str, offer: sdp.SessionDescription | None = None) -> None:
        self.origin = OriginStamp(address=address)
        self._offer = offer
        self.leg: RtpLeg | None = None
        self.prefer: Codec | None = None
        self._answered: tuple[sdp.SessionDescription, sdp.SessionDescription] | None = None
        self.renegotiated = False
        self._offered = False
        self.remote: sdp.SessionDescription | None = None  # the peer's last description (offer or answer)

    def offer(self) -> sdp.SessionDescription:
        """Our offer: the one prepared for a call we place (the INVITE); any later one (our re-INVITE, an
        INVITE without an offer) is made from the leg as it is now, its codec first, its direction
        (hold) from the leg."""
        if self._offer is not None and not self._offered:
            self._offered = True
            return self.origin.stamp(self._offer)
        if self.leg is None:
            raise ValueError("no offer prepared for this session")
        codecs = list(AUDIO_CODECS)
        current = self.leg.codec
        if current is not None:
            codecs = [current, *(c for c in codecs if c.key != current.key)]
        return self.origin.stamp(sdp_session(sdp_offer(self.leg, codecs), self.leg.local_address))

    def prepare(
        self, leg: RtpLeg, offer: sdp.SessionDescription, prefer: Codec | None
    ) -> sdp.SessionDescription:
        """Negotiate `leg` from the peer's offer; the answer (raises NegotiationError)."""
        self.leg, self.prefer = leg, prefer
        answer = self.origin.stamp(sdp_session(sdp_answer(leg, offer, prefer), leg.local_address))
        self._answered = (offer, answer)
        self.remote = offer
        return answer

    def answer(self, offer: sdp.SessionDescription) -> sdp.SessionDescription | None:
        if self._answered is not None and self._answered[0] == offer:
            return self._answered[1]
        if self.leg is None:
            return offer if acceptable(offer) else None  # checked now, answered once prepared
        try:
            answer = self.prepare(self.leg, offer, self.leg.codec or self.prefer)
        except NegotiationError:
            return None
        self.renegotiated = True
        return answer

    def answer_acceptable(self, offer: sdp.SessionDescription, answer: sdp.SessionDescription) -> bool:
        if self.leg is None:
            return False
        again = self.leg.codec is not None  # an answer after the first one (a re-INVITE's)
        try:
            sdp_apply_answer(self.leg, answer)
        except NegotiationError as exc:
            log.info("sip answer refused", error=str(exc))
            return False
        self.renegotiated = self.renegotiated or again
        self.remote = answer
        return True


# -- one call's media ------------------------------------------------------------------------------------------


@dataclass(eq=False)
class _Media:
    leg: str
    sip: RtpLeg
    jingle: JingleLeg | RtpLeg | None = None
    negotiator: MediaNegotiator | None = None
    offer: Content | None = None  # the Jingle offer we answer (XMPP client -> SIP room)
    sip_offer: sdp.SessionDescription | None = None  # the SIP offer we answer (phone -> XMPP room)
    ready: bool = False  # the Jingle leg takes transport-info now
    pending: list[IceUdpTransport] = field(default_factory=list)
    trickled: list[IceCandidate] = field(default_factory=list)  # ours, to send once described
    content_name: str = "audio"
    content_creator: Creator = Creator.INITIATOR
    call: MediaCall | None = None
    closed: bool = False  # the call ended: nothing more is done with its legs
    busy: int = 0  # steps awaiting on the legs (opening, gathering, ICE set-up): they release them
    released: bool = False
    sip_hold: str = "active"  # what the Jingle peer was last told of the SIP peer's hold (XEP-0167)

    def legs(self) -> list[MediaLeg]:
        return [leg for leg in (self.jingle, self.sip) if leg is not None]


class MediaCalls:
    """Every call's media. `settings` from `[media]`; `trickle`: send our candidates in transport-info
    after the description instead of inside it (gathering is local and instant, so off by default)."""

    def __init__(
        self,
        settings: MediaSettings,
        *,
        on_end: EndHandler,
        send_transport_info: TransportInfoSender,
        trickle: bool = False,
    ) -> None:
        self.settings = settings
        self.ports = PortRange(settings.address, settings.port_min, settings.port_max)
        self.on_end = on_end
        self.send_transport_info = send_transport_info
        self.trickle = trickle
        self._certificate: RTCCertificate | None = None
        self._calls: dict[str, _Media] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._calls)

    def __contains__(self, leg: object) -> bool:
        return leg in self._calls

    @property
    def certificate(self) -> RTCCertificate:
        """One DTLS certificate for every Jingle leg of the process (as browsers do)."""
        if self._certificate is None:
            self._certificate = RTCCertificate.generateCertificate()
        return self._certificate

    # -- XMPP client -> SIP-focus room --------------------------------------------------------------------

    async def xmpp_offered(self, leg: str, elements: Iterable[etree._Element]) -> sdp.SessionDescription:
        """A Jingle client's session-initiate: our legs for it, and our SDP offer toward the SIP focus
        (the client's codecs first). Raises MediaRefused, MediaGone."""
        offer = _audio_content(elements)
        transport = offer.transport
        if isinstance(transport, IceUdpTransport):
            if not transport.fingerprints:
                raise MediaRefused("security-error", 488, "ICE-UDP without a DTLS fingerprint (XEP-0320)")
        elif not isinstance(transport, RawUdpTransport):
            raise MediaRefused("unsupported-transports", 488, "neither ICE-UDP nor raw UDP")
        assert offer.description is not None
        offered = codecs_from_jingle(offer.description)
        try:
            choose(offered)
        except NegotiationError as exc:
            raise MediaRefused("failed-application", 488, str(exc)) from None
        media = self._new(leg, RtpLeg(self.ports))
        media.offer, media.content_name, media.content_creator = offer, offer.name, offer.creator
        if isinstance(transport, IceUdpTransport):
            media.jingle = JingleLeg(self.ports, controlling=False, certificate=self.certificate)
        else:
            media.jingle = RtpLeg(self.ports)
        media.jingle.on_failure = self._failure_handler(media)
        await self._open(media, media.sip, *([media.jingle] if isinstance(media.jingle, RtpLeg) else []))
        self._live(leg)
        keys = [c.key for c in offered]
        ours = sorted(AUDIO_CODECS, key=lambda c: keys.index(c.key) if c.key in keys else len(keys))
        description = sdp_session(sdp_offer(media.sip, ours), self.settings.address)
        media.negotiator = MediaNegotiator(self.settings.address, description)
        media.negotiator.leg = media.sip
        return description

    def negotiator(self, leg: str) -> MediaNegotiator:
        """The negotiator of the INVITE placed for `leg` (after `xmpp_offered`)."""
        media = self._calls.get(leg)
        if media is None or media.negotiator is None:
            raise MediaGone(leg)
        return media.negotiator

    async def xmpp_answer(self, leg: str) -> list[etree._Element]:
        """The SIP focus answered (its answer already applied to our RTP leg): our session-accept contents,
        taking the SIP leg's codec when the client offered it. Raises MediaRefused, MediaGone."""
        media = self._live(leg)
        assert media.offer is not None and media.jingle is not None
        try:
            if isinstance(media.jingle, JingleLeg):
                if self.trickle:
                    media.jingle.on_local_candidate = media.trickled.append
                async with self._busy(media):
                    content = await jingle_answer(
                        media.jingle, media.offer, media.sip.codec, trickle=self.trickle
                    )
                media.jingle.on_local_candidate = None
            else:
                content = raw_udp_answer(media.jingle, media.offer, media.sip.codec)
        except NoPortAvailable as exc:
            raise MediaRefused("general-error", 503, str(exc)) from None
        except (NegotiationError, ValueError) as exc:
            raise MediaRefused("failed-application", 488, str(exc)) from None
        media = self._live(leg)
        await self._ready(media)
        return [content_element(content)]

    # -- SIP phone -> XMPP-focus room ---------------------------------------------------------------------

    async def sip_offered(self, leg: str, offer: sdp.SessionDescription) -> list[etree._Element]:
        """A SIP phone's INVITE: our legs for it, and our session-initiate contents toward the mixer (the
        phone's codecs first). Raises MediaRefused, MediaGone."""
        media = self._new(leg, RtpLeg(self.ports))
        media.sip_offer = offer
        jingle = media.jingle = JingleLeg(self.ports, controlling=True, certificate=self.certificate)
        jingle.on_failure = self._failure_handler(media)
        await self._open(media, media.sip)
        self._live(leg)
        keys = [c.key for m in offer.media if m.media == "audio" for c in codecs_from_sdp(m)]
        ours = sorted(AUDIO_CODECS, key=lambda c: keys.index(c.key) if c.key in keys else len(keys))
        try:
            async with self._busy(media):
                content = await jingle_offer(jingle, codecs=ours)
        except NoPortAvailable as exc:
            raise MediaRefused("general-error", 503, str(exc)) from None
        media = self._live(leg)
        media.content_name, media.content_creator = content.name, content.creator
        if self.trickle and isinstance(content.transport, IceUdpTransport):
            media.trickled = list(content.transport.candidates)
            content = content.model_copy(
                update={"transport": content.transport.model_copy(update={"candidates": ()})}
            )
        await self._ready(media)
        return [content_element(content)]

    async def mixer_answered(self, leg: str, elements: Iterable[etree._Element]) -> None:
        """The mixer's session-accept: negotiate our Jingle leg and start ICE. Raises MediaRefused,
        MediaGone."""
        media = self._live(leg)
        answer = _audio_content(elements)
        if not isinstance(answer.transport, IceUdpTransport) or not answer.transport.fingerprints:
            raise MediaRefused("unsupported-transports", 488, "the answer is not ICE-UDP with DTLS")
        assert isinstance(media.jingle, JingleLeg)
        try:
            async with self._busy(media):
                await jingle_apply_answer(media.jingle, answer)
        except NegotiationError as exc:
            raise MediaRefused("failed-application", 488, str(exc)) from None
        self._live(leg)

    def sip_answer(self, leg: str, negotiator: object) -> sdp.SessionDescription:
        """Our answer to the phone's offer, the Jingle leg's codec first; held by the session's negotiator
        for `accept()`. Raises MediaRefused, MediaGone."""
        media = self._live(leg)
        if not isinstance(negotiator, MediaNegotiator) or media.sip_offer is None:
            raise MediaGone(leg)
        media.negotiator = negotiator
        prefer = media.jingle.codec if media.jingle is not None else None
        try:
            return negotiator.prepare(media.sip, media.sip_offer, prefer)
        except NegotiationError as exc:
            raise MediaRefused("failed-application", 488, str(exc)) from None

    # -- both ---------------------------------------------------------------------------------------------

    def started(self, leg: str) -> None:
        """Both descriptions are out: relay (the silence watchdog runs from now), and trickle ours."""
        media = self._calls.get(leg)
        if media is None or media.closed or media.call is not None or media.jingle is None:
            return
        media.call = MediaCall(
            media.jingle, media.sip, silence_timeout=self.settings.silence_timeout,
            on_end=lambda ended: self._ended(media, ended),
        )  # fmt: skip
        media.call.start()
        log.info("media relayed", leg=leg, jingle=_codec(media.jingle), sip=_codec(media.sip),
                 transcoding=media.call.relay.transcoding)  # fmt: skip
        self.described(leg)

    def described(self, leg: str) -> None:
        """Our session-accept or session-initiate went out: with `trickle`, our candidates follow."""
        media = self._calls.get(leg)
        if media is None or media.closed or not media.trickled or not isinstance(media.jingle, JingleLeg):
            return
        transport = media.jingle.local_transport(with_candidates=False).model_copy(
            update={"candidates": tuple(media.trickled), "fingerprints": ()}
        )
        media.trickled = []
        content = Content(creator=media.content_creator, name=media.content_name, transport=transport)
        self.send_transport_info(leg, [content_element(content)])

    def renegotiated(self, leg: str) -> str | None:
        """A re-INVITE changed the SIP leg's codec or direction: rebuild the relay. Returns the XEP-0167
        informational message for the Jingle peer when the SIP peer put the call on hold or took it off
        (`hold`, `active`), else None."""
        media = self._calls.get(leg)
        if media is None or media.negotiator is None or not media.negotiator.renegotiated:
            return None
        media.negotiator.renegotiated = False
        if media.call is not None:
            media.call.renegotiated()
        remote = media.negotiator.remote
        direction = None
        if remote is not None:
            audio = next((m for m in remote.media if m.media == "audio" and m.port != 0), None)
            direction = (audio.direction if audio is not None else None) or remote.direction
        info = rtp_info_for_sip(direction)
        if info == media.sip_hold:
            return None
        media.sip_hold = info
        return info

    def jingle_hold(self, leg: str, info: str) -> bool:
        """The Jingle peer holds (`hold`) or resumes (`active`): the SIP leg's direction for our next
        offer (sendonly: we stop listening to the SIP side, RFC 6337 section 5.3; sendrecv). False when
        nothing changes (other messages, the same state again, no call)."""
        media = self._calls.get(leg)
        direction = sip_direction_for_rtp_info(info)
        if media is None or media.closed or direction is None or media.sip_hold == info:
            return False
        media.sip_hold = info  # what the SIP side's answer will say: not to be echoed to the Jingle peer
        media.sip.receiving = direction is sdp.Direction.SENDRECV
        return True

    def transport_info(self, leg: str, elements: Iterable[etree._Element]) -> None:
        """The Jingle peer's transport-info: its candidates (and credentials) for our ICE leg."""
        media = self._calls.get(leg)
        if media is None or media.closed or not isinstance(media.jingle, JingleLeg):
            return
        for el in elements:
            try:
                content = parse_content(el)
            except JingleContentError as exc:
                log.info("transport-info ignored", leg=leg, error=str(exc))
                continue
            if isinstance(content.transport, IceUdpTransport):
                if media.ready:
                    self._spawn(self._add_remote(media, content.transport))
                else:
                    media.pending.append(content.transport)

    def close(self, leg: str) -> None:
        """The call ended (either side): release its media, whatever stage it reached."""
        media = self._calls.pop(leg, None)
        if media is None or media.closed:
            return
        media.closed = True
        self._release(media)

    async def close_all(self) -> None:
        """Close every call's media; when it returns, every socket is closed."""
        for leg in list(self._calls):
            self.close(leg)
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        for _ in range(3):  # asyncio transports close their sockets on a later turn of the loop
            await asyncio.sleep(0)

    # -- helpers ------------------------------------------------------------------------------------------

    def _new(self, leg: str, sip: RtpLeg) -> _Media:
        if leg in self._calls:
            raise ValueError(f"media for {leg} exists")
        media = self._calls[leg] = _Media(leg, sip)
        sip.on_failure = self._failure_handler(media)
        return media

    def _live(self, leg: str) -> _Media:
        media = self._calls.get(leg)
        if media is None or media.closed:
            raise MediaGone(leg)
        return media

    async def _open(self, media: _Media, *legs: RtpLeg) -> None:
        try:
            async with self._busy(media):
                for leg in legs:
                    await leg.open()
        except NoPortAvailable as exc:
            self.close(media.leg)
            raise MediaRefused("general-error", 503, str(exc)) from None

    async def _ready(self, media: _Media) -> None:
        media.ready = True
        pending, media.pending = media.pending, []
        for transport in pending:
            await self._add_remote(media, transport)
        self._live(media.leg)

    async def _add_remote(self, media: _Media, transport: IceUdpTransport) -> None:
        if media.closed or not isinstance(media.jingle, JingleLeg):
            return
        async with self._busy(media):
            await media.jingle.add_remote(transport)

    @contextlib.asynccontextmanager
    async def _busy(self, media: _Media) -> AsyncIterator[None]:
        """A step awaiting on the legs: a close meanwhile waits for it (a socket bound after the legs were
        closed would never be closed), then releases them."""
        media.busy += 1
        try:
            yield
        finally:
            media.busy -= 1
            if media.closed:
                self._release(media)

    def _release(self, media: _Media) -> None:
        """Close the legs of a call that ended, once no step awaits on them."""
        if media.released or media.busy:
            return
        media.released = True
        self._spawn(media.call.close() if media.call is not None else _close_legs(media.legs()))

    def _failure_handler(self, media: _Media) -> Callable[[MediaLeg, str], None]:
        """ICE or DTLS failing before the relay runs (MediaCall takes over the legs' failures once it
        starts)."""

        def failed(leg: MediaLeg, reason: str) -> None:
            if media.call is None and not media.closed:
                self._ended(media, CallEnded(leg.name, reason))

        return failed

    def _ended(self, media: _Media, ended: CallEnded) -> None:
        if self._calls.get(media.leg) is not media:
            return
        log.warning("media ended", leg=media.leg, side=ended.leg, reason=ended.reason)
        self._calls.pop(media.leg, None)
        media.closed = True
        if media.call is None:
            self._release(media)
        else:
            media.released = True  # the MediaCall closes its legs itself
            self._spawn(media.call.wait_closed())
        self.on_end(media.leg, ended)

    def _spawn(self, coroutine: Coroutine[object, object, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("media task failed", error=repr(task.exception()))


async def _close_legs(legs: list[MediaLeg]) -> None:
    for leg in legs:
        with contextlib.suppress(Exception):
            await leg.close()


def _audio_content(elements: Iterable[etree._Element]) -> Content:
    """The first audio content of a session-initiate or session-accept."""
    for el in elements:
        if el.tag != f"{{{JINGLE}}}content":
            continue
        try:
            content = parse_content(el)
        except JingleContentError as exc:
            raise MediaRefused("failed-application", 488, str(exc)[:200]) from None
        if content.description is not None and content.description.media == "audio":
            return content
    raise MediaRefused("unsupported-applications", 488, "no audio content")


def _codec(leg: MediaLeg) -> str | None:
    return leg.codec.name if leg.codec is not None else None
