"""Hold mapped between SDP directions and Jingle senders / rtp:info."""

from __future__ import annotations

import pytest

from gateway import sdp
from media.hold import (
    jingle_senders_for_sip,
    rtp_info_for_sip,
    sip_direction_for_jingle,
    sip_direction_for_rtp_info,
)
from xmpp.jingle_content import Senders

D = sdp.Direction


@pytest.mark.parametrize(
    ("direction", "responder_senders", "info"),
    [
        (D.SENDRECV, Senders.BOTH, "active"),
        (D.SENDONLY, Senders.RESPONDER, "hold"),  # SIP peer holds: only the gateway (responder) sends
        (D.RECVONLY, Senders.INITIATOR, "hold"),
        (D.INACTIVE, Senders.NONE, "hold"),
    ],
)
def test_sip_hold_reaches_the_jingle_peer(
    direction: sdp.Direction, responder_senders: Senders, info: str
) -> None:
    assert jingle_senders_for_sip(direction, gateway_is_initiator=False) == responder_senders
    assert rtp_info_for_sip(direction) == info


@pytest.mark.parametrize("gateway_is_initiator", [True, False])
@pytest.mark.parametrize("direction", list(D))
def test_round_trip(direction: sdp.Direction, gateway_is_initiator: bool) -> None:
    senders = jingle_senders_for_sip(direction, gateway_is_initiator=gateway_is_initiator)
    # what the gateway then says to the SIP peer mirrors the peer's own direction
    mirrored = sip_direction_for_jingle(senders, gateway_is_initiator=gateway_is_initiator)
    opposite = {D.SENDONLY: D.RECVONLY, D.RECVONLY: D.SENDONLY}.get(direction, direction)
    assert mirrored == opposite


def test_jingle_hold_reaches_the_sip_peer() -> None:
    assert sip_direction_for_rtp_info("hold") == D.SENDONLY
    assert sip_direction_for_rtp_info("active") == D.SENDRECV
    assert sip_direction_for_rtp_info("mute") is None
