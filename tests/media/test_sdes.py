"""SDES-SRTP keying (RFC 4568) and the SIP leg's offer/answer with it (sockets bound, nothing sent)."""

from __future__ import annotations

import pytest

from gateway import sdp
from media import sdes
from media.codecs import PCMU, NegotiationError
from media.description import sdp_answer, sdp_apply_answer, sdp_offer
from media.ports import PortRange
from media.rtp import RtpPacket, build_rtp
from media.rtp_leg import RtpLeg

KEY = "inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz"
OFFER = f"""v=0\r
o=- 1 1 IN IP4 192.0.2.7\r
s=-\r
c=IN IP4 192.0.2.7\r
t=0 0\r
m=audio 4000 RTP/SAVP 0\r
a=crypto:1 AES_CM_128_HMAC_SHA1_80 {KEY}|2^20|1:4\r
a=crypto:2 AES_CM_128_HMAC_SHA1_32 {KEY}\r
"""


def test_answer_picks_the_first_usable_line_and_both_ends_agree() -> None:
    offered = sdp.parse_sdp(OFFER).media[0].crypto
    line, ours = sdes.answer_cryptos(offered)
    assert (line.tag, line.suite) == (2, "AES_CM_128_HMAC_SHA1_32")  # tag 1 has a lifetime and an MKI
    theirs = sdes.SrtpContext(line.suite, ours.remote_key, ours.local_key)
    packet = build_rtp(RtpPacket(0, False, 1, 160, 42, b"\xff" * 160))
    assert theirs.unprotect(ours.protect(packet)) == packet
    assert ours.unprotect(theirs.protect(packet)) == packet


def test_no_usable_line() -> None:
    with pytest.raises(sdes.SdesError):
        sdes.answer_cryptos([sdp.Crypto(tag=1, suite="F8_128_HMAC_SHA1_80", key_params=KEY)])


@pytest.fixture
async def leg() -> RtpLeg:
    leg = RtpLeg(PortRange("127.0.0.1", 41200, 41300))
    await leg.open()
    try:
        yield leg  # type: ignore[misc]
    finally:
        await leg.close()


async def test_savp_offer_is_answered_savp(leg: RtpLeg) -> None:
    answer = sdp_answer(leg, sdp.parse_sdp(OFFER))
    assert answer.proto == "RTP/SAVP" and len(answer.crypto) == 1 and leg.srtp is not None


async def test_our_savp_offer_refuses_a_plain_answer(leg: RtpLeg) -> None:
    offer = sdp_offer(leg, [PCMU], srtp=True)
    assert offer.proto == "RTP/SAVP" and [c.tag for c in offer.crypto] == [1, 2]
    plain = sdp.parse_sdp(OFFER.replace("RTP/SAVP", "RTP/AVP"))
    with pytest.raises(NegotiationError, match="not"):
        sdp_apply_answer(leg, plain)
