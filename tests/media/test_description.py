"""Offer/answer for the legs: codecs, payload types, addresses, telephone-event, hold (no packets sent)."""

from __future__ import annotations

import pytest

from gateway import sdp
from media.codecs import OPUS, PCMU, NegotiationError
from media.description import (
    choose,
    codecs_from_jingle,
    codecs_from_sdp,
    sdp_answer,
    sdp_apply_answer,
    sdp_offer,
)
from media.ports import PortRange
from media.rtp_leg import RtpLeg
from xmpp.jingle_content import PayloadType, RtpDescription

PHONE_OFFER = """v=0\r
o=- 1 1 IN IP4 192.0.2.7\r
s=-\r
c=IN IP4 192.0.2.7\r
t=0 0\r
m=audio 4000 RTP/AVP 8 0 18 101\r
a=rtpmap:101 telephone-event/8000\r
a=fmtp:101 0-15\r
a=sendrecv\r
"""


@pytest.fixture
async def leg() -> RtpLeg:
    leg = RtpLeg(PortRange("127.0.0.1", 41000, 41100))
    await leg.open()
    try:
        yield leg  # type: ignore[misc]
    finally:
        await leg.close()


async def test_answer_to_a_phone_keeps_its_order_and_payload_types(leg: RtpLeg) -> None:
    answer = sdp_answer(leg, sdp.parse_sdp(PHONE_OFFER))
    assert answer.formats == ("8", "101")
    assert leg.codec is not None and leg.codec.name == "pcma"
    assert leg.telephone_event is not None and leg.telephone_event.payload_type == 101
    assert leg.remote == ("192.0.2.7", 4000)
    assert answer.port == leg.local_port and answer.connection is not None
    assert answer.connection.address == "127.0.0.1"


async def test_answer_prefers_the_other_legs_codec_to_avoid_transcoding(leg: RtpLeg) -> None:
    sdp_answer(leg, sdp.parse_sdp(PHONE_OFFER), prefer=PCMU)
    assert leg.codec is not None and leg.codec.name == "pcmu"


async def test_hold_from_the_peer(leg: RtpLeg) -> None:
    answer = sdp_answer(leg, sdp.parse_sdp(PHONE_OFFER.replace("a=sendrecv", "a=sendonly")))
    assert answer.direction == sdp.Direction.RECVONLY
    assert leg.sending is False and leg.receiving is True


async def test_no_common_codec_is_refused(leg: RtpLeg) -> None:
    with pytest.raises(NegotiationError, match="no common audio codec"):
        sdp_answer(leg, sdp.parse_sdp(PHONE_OFFER.replace("RTP/AVP 8 0 18 101", "RTP/AVP 18")))


async def test_offer_and_answer(leg: RtpLeg) -> None:
    offer = sdp_offer(leg, [OPUS, PCMU])
    assert offer.formats == ("111", "0", "126", "101")
    rtpmaps = {r.payload_type: (r.encoding, r.clock_rate, r.channels) for r in offer.rtpmaps}
    assert rtpmaps[111] == ("opus", 48000, 2) and rtpmaps[126] == ("telephone-event", 48000, None)
    answer = sdp.parse_sdp(PHONE_OFFER.replace("8 0 18 101", "0 101"))
    sdp_apply_answer(leg, answer)
    assert leg.codec is not None and leg.codec.name == "pcmu"


def test_codecs_from_jingle_with_static_payload_types() -> None:
    description = RtpDescription(
        media="audio",
        payload_types=(
            PayloadType(id=111, name="opus", clockrate=48000, channels=2),
            PayloadType(id=0),
            PayloadType(id=126, name="telephone-event", clockrate=48000),
        ),
    )
    codecs = codecs_from_jingle(description)
    assert [(c.name, c.clock_rate, c.payload_type) for c in codecs] == [
        ("opus", 48000, 111), ("pcmu", 8000, 0), ("telephone-event", 48000, 126),
    ]  # fmt: skip
    audio, event = choose(codecs)
    assert audio.name == "opus" and event is not None and event.clock_rate == 48000


def test_codecs_from_sdp() -> None:
    m = sdp.parse_sdp(PHONE_OFFER).media[0]
    assert [c.name for c in codecs_from_sdp(m)] == ["pcma", "pcmu", "g729", "telephone-event"]
