"""gatewayd/media_calls.py: each call's legs, their descriptions on both sides, and their end (sockets on
127.0.0.1, no peer)."""

from __future__ import annotations

import asyncio
import socket

import pytest
from lxml import etree

from gateway import sdp
from gatewayd.media_calls import (
    MediaCalls,
    MediaGone,
    MediaNegotiator,
    MediaRefused,
    MediaSettings,
    acceptable,
)
from media.call import CallEnded
from xmpp.jingle_content import IceUdpTransport, RawUdpTransport, parse_content

JINGLE = "urn:xmpp:jingle:1"
RAW_OFFER = (
    f'<content xmlns="{JINGLE}" creator="initiator" name="voice">'
    '<description xmlns="urn:xmpp:jingle:apps:rtp:1" media="audio">'
    '<payload-type id="0" name="PCMU" clockrate="8000"/>'
    '<payload-type id="111" name="opus" clockrate="48000" channels="2"/></description>'
    '<transport xmlns="urn:xmpp:jingle:transports:raw-udp:1">'
    '<candidate component="1" generation="0" id="c1" ip="127.0.0.1" port="5000"/></transport></content>'
)
ICE_OFFER = (
    f'<content xmlns="{JINGLE}" creator="initiator" name="a0">'
    '<description xmlns="urn:xmpp:jingle:apps:rtp:1" media="audio">'
    '<payload-type id="111" name="opus" clockrate="48000" channels="2"/></description>'
    '<transport xmlns="urn:xmpp:jingle:transports:ice-udp:1" ufrag="cli1" pwd="clientpassword0123456789">'
    "{fingerprint}</transport></content>"
)
FINGERPRINT = (
    '<fingerprint xmlns="urn:xmpp:jingle:apps:dtls:0" hash="sha-256" setup="actpass">'
    + ":".join(["AB"] * 32)
    + "</fingerprint>"
)
TRICKLE = (
    f'<content xmlns="{JINGLE}" creator="initiator" name="a0">'
    '<transport xmlns="urn:xmpp:jingle:transports:ice-udp:1" ufrag="cli1" pwd="clientpassword0123456789">'
    '<candidate component="1" foundation="1" generation="0" id="k1" ip="127.0.0.1" network="0" port="9"'
    ' priority="2130706431" protocol="udp" type="host"/></transport></content>'
)
PHONE_OFFER = (
    "v=0\r\no=phone 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 6000 RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
)
BRIDGE_ANSWER = (
    "v=0\r\no=bridge 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 7000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)
LOW, HIGH = 47100, 47120


def elements(xml: str) -> list[etree._Element]:
    return list(etree.fromstring(f"<x>{xml}</x>"))


class Harness:
    def __init__(
        self, *, silence: float = 30.0, trickle: bool = False, low: int = LOW, high: int = HIGH
    ) -> None:
        self.ended: list[tuple[str, CallEnded]] = []
        self.sent: list[tuple[str, list[etree._Element]]] = []
        self.media = MediaCalls(
            MediaSettings("127.0.0.1", low, high, silence),
            on_end=lambda leg, ended: self.ended.append((leg, ended)),
            send_transport_info=lambda leg, contents: self.sent.append((leg, contents)),
            trickle=trickle,
        )


def ports_free(low: int = LOW, high: int = HIGH) -> bool:
    for port in range(low, high + 1):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def test_acceptable_sip_offers() -> None:
    assert acceptable(sdp.parse_sdp(PHONE_OFFER))
    assert not acceptable(sdp.parse_sdp(PHONE_OFFER.replace("8 0 101", "101")))  # DTMF alone
    assert not acceptable(sdp.parse_sdp(PHONE_OFFER.replace("RTP/AVP", "UDP/TLS/RTP/SAVPF")))
    assert not acceptable(sdp.parse_sdp(PHONE_OFFER.replace("m=audio 6000", "m=audio 0")))


async def test_an_xmpp_client_raw_udp_call_to_a_sip_bridge() -> None:
    h = Harness()
    offer = await h.media.xmpp_offered("leg1", elements(RAW_OFFER))
    [m] = offer.media
    assert LOW <= m.port <= HIGH and m.proto == "RTP/AVP" and offer.connection.address == "127.0.0.1"  # type: ignore[union-attr]
    assert [r.encoding for r in m.rtpmaps][:3] == ["PCMU", "opus", "PCMA"]  # the client's order first
    negotiator = h.media.negotiator("leg1")
    assert negotiator.offer().media == offer.media
    assert negotiator.answer_acceptable(negotiator.offer(), sdp.parse_sdp(BRIDGE_ANSWER))
    [accept] = await h.media.xmpp_answer("leg1")
    content = parse_content(accept)
    assert content.name == "voice" and isinstance(content.transport, RawUdpTransport)
    assert content.description is not None and [p.name for p in content.description.payload_types] == ["PCMU"]
    [candidate] = content.transport.candidates
    assert LOW <= candidate.port <= HIGH and candidate.port != m.port
    h.media.started("leg1")
    assert len(h.media) == 1
    h.media.close("leg1")
    h.media.close("leg1")  # twice: nothing more
    await h.media.close_all()
    assert len(h.media) == 0 and ports_free() and h.ended == []


async def test_an_ice_offer_without_a_fingerprint_or_codec_is_refused() -> None:
    h = Harness()
    with pytest.raises(MediaRefused) as refused:
        await h.media.xmpp_offered("leg1", elements(ICE_OFFER.format(fingerprint="")))
    assert refused.value.reason == "security-error"
    no_codec = RAW_OFFER.replace('name="PCMU"', 'name="G729"').replace('name="opus"', 'name="speex"')
    with pytest.raises(MediaRefused) as refused:
        await h.media.xmpp_offered("leg2", elements(no_codec))
    assert refused.value.reason == "failed-application"
    assert len(h.media) == 0 and ports_free()


async def test_ice_answer_with_trickle_and_early_transport_info() -> None:
    h = Harness(trickle=True)
    await h.media.xmpp_offered("leg1", elements(ICE_OFFER.format(fingerprint=FINGERPRINT)))
    h.media.transport_info("leg1", elements(TRICKLE))  # before our answer: held
    h.media.negotiator("leg1").answer_acceptable(
        h.media.negotiator("leg1").offer(), sdp.parse_sdp(BRIDGE_ANSWER)
    )
    [accept] = await h.media.xmpp_answer("leg1")
    content = parse_content(accept)
    assert isinstance(content.transport, IceUdpTransport)
    assert content.transport.candidates == () and content.transport.fingerprints[0].setup == "active"
    h.media.started("leg1")  # the relay runs; our candidate follows in transport-info
    [(leg, [info])] = h.sent
    trickled = parse_content(info)
    assert leg == "leg1" and trickled.name == "a0" and isinstance(trickled.transport, IceUdpTransport)
    assert len(trickled.transport.candidates) == 1 and trickled.transport.ufrag == content.transport.ufrag
    await h.media.close_all()
    assert ports_free()


async def test_a_sip_phone_call_to_an_xmpp_mixer_offers_ice_and_answers_with_the_jingle_codec() -> None:
    h = Harness()
    [initiate] = await h.media.sip_offered("leg1", sdp.parse_sdp(PHONE_OFFER))
    content = parse_content(initiate)
    assert isinstance(content.transport, IceUdpTransport) and content.transport.candidates
    assert content.transport.fingerprints[0].setup == "actpass"
    assert content.description is not None
    assert [p.name for p in content.description.payload_types][:3] == ["PCMA", "PCMU", "opus"]
    mixer = ICE_OFFER.format(fingerprint=FINGERPRINT.replace("actpass", "active")).replace(
        'id="111" name="opus" clockrate="48000" channels="2"', 'id="0" name="PCMU" clockrate="8000"'
    )
    await h.media.mixer_answered("leg1", elements(mixer))
    negotiator = MediaNegotiator("127.0.0.1")
    phone_offer = sdp.parse_sdp(PHONE_OFFER)
    assert negotiator.answer(phone_offer) is phone_offer  # only checked until the media is ready
    answer = h.media.sip_answer("leg1", negotiator)
    assert next(r.encoding for r in answer.media[0].rtpmaps) == "PCMU"  # the mixer's codec: forwarded
    assert negotiator.answer(phone_offer) == answer  # what accept() sends
    # a re-INVITE putting the call on hold is negotiated on the leg again
    hold = sdp.parse_sdp(PHONE_OFFER + "a=sendonly\r\n")
    reanswer = negotiator.answer(hold)
    assert reanswer is not None and reanswer.media[0].direction == sdp.Direction.RECVONLY
    assert negotiator.renegotiated and reanswer.origin.session_version == answer.origin.session_version + 1
    assert h.media.renegotiated("leg1") == "hold"  # for the Jingle peer: XEP-0167 <hold/>
    assert h.media.renegotiated("leg1") is None  # nothing new
    assert negotiator.answer(phone_offer) is not None and h.media.renegotiated("leg1") == "active"
    # a re-INVITE without an offer: ours, from the leg (its codec first); the answer in the ACK applies
    reoffer = negotiator.offer()
    assert next(r.encoding for r in reoffer.media[0].rtpmaps) == "PCMU"
    assert negotiator.answer_acceptable(reoffer, sdp.parse_sdp(BRIDGE_ANSWER + "a=inactive\r\n"))
    assert h.media.renegotiated("leg1") == "hold"
    await h.media.close_all()
    assert ports_free()


async def test_closing_while_the_legs_are_prepared_and_running_out_of_ports() -> None:
    h = Harness()
    task = asyncio.get_running_loop().create_task(h.media.xmpp_offered("leg1", elements(RAW_OFFER)))
    await asyncio.sleep(0)
    h.media.close("leg1")  # the caller hung up meanwhile
    with pytest.raises(MediaGone):
        await task
    with pytest.raises(MediaGone):
        await h.media.xmpp_answer("leg1")
    await h.media.close_all()
    assert ports_free()
    small = Harness(low=LOW, high=LOW)  # one port: the SIP leg takes it, the raw-UDP leg finds none
    with pytest.raises(MediaRefused) as refused:
        await small.media.xmpp_offered("leg2", elements(RAW_OFFER))
    assert refused.value.status == 503
    await small.media.close_all()
    assert len(small.media) == 0 and ports_free()


async def test_a_silent_call_ends_once_with_both_reasons() -> None:
    h = Harness(silence=0.3)
    await h.media.xmpp_offered("leg1", elements(RAW_OFFER))
    h.media.negotiator("leg1").answer_acceptable(
        h.media.negotiator("leg1").offer(), sdp.parse_sdp(BRIDGE_ANSWER)
    )
    await h.media.xmpp_answer("leg1")
    h.media.started("leg1")
    for _ in range(40):
        if h.ended:
            break
        await asyncio.sleep(0.05)
    [(leg, ended)] = h.ended
    assert leg == "leg1" and ended.reason == "silence" and ended.jingle_reason == "media-error"
    assert ended.sip_reason == 'SIP;cause=408;text="RTP timeout"'
    assert len(h.media) == 0
    h.media.close("leg1")  # the daemon's hang-ups that follow find nothing more to do
    await h.media.close_all()
    assert ports_free()


async def test_the_jingle_peers_hold_becomes_a_sendonly_offer_toward_sip() -> None:
    h = Harness()
    await h.media.xmpp_offered("leg1", elements(RAW_OFFER))
    negotiator = h.media.negotiator("leg1")
    first = negotiator.offer()  # the INVITE's
    assert first.media[0].direction == sdp.Direction.SENDRECV
    assert negotiator.answer_acceptable(first, sdp.parse_sdp(BRIDGE_ANSWER))
    await h.media.xmpp_answer("leg1")
    h.media.started("leg1")
    assert h.media.jingle_hold("leg1", "hold") and not h.media.jingle_hold("leg1", "hold")
    assert not h.media.jingle_hold("leg1", "mute")  # nothing for SIP
    reoffer = negotiator.offer()  # the re-INVITE's: from the leg, on hold
    assert reoffer.media[0].direction == sdp.Direction.SENDONLY
    assert reoffer.origin.session_version == first.origin.session_version + 1
    assert next(r.encoding for r in reoffer.media[0].rtpmaps) == "PCMU"  # the codec in use first
    assert negotiator.answer_acceptable(reoffer, sdp.parse_sdp(BRIDGE_ANSWER + "a=recvonly\r\n"))
    assert h.media.renegotiated("leg1") is None  # the bridge's recvonly is our own hold: not echoed
    assert h.media.jingle_hold("leg1", "active")
    assert negotiator.offer().media[0].direction == sdp.Direction.SENDRECV
    await h.media.close_all()
    assert ports_free()
