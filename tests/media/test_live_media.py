"""Real audio through the gateway's media legs, on loopback inside a network namespace of the test's own:
an aiortc Jingle client (real ICE + DTLS-SRTP, opus) <-> JingleLeg / relay / RtpLeg <-> baresip (the
independent SIP peer, PCMU or opus). Each side sends a tone (client 440 Hz, baresip 880 Hz); each
side's received audio must peak at the other's frequency (FFT). DTMF goes both ways. A peer that stops
dead ends the call on both sides, leaving no socket and no task.

The scenario (tests/media/scenario.py) runs in a child `unshare -n`: nothing it does can reach beyond
the namespace's loopback.
"""

from __future__ import annotations

import shutil
from typing import Any

import pytest

from tests.peers.namespace import run_scenario

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(shutil.which("baresip") is None, reason="baresip (apt) not installed"),
    pytest.mark.skipif(shutil.which("unshare") is None, reason="unshare (util-linux) not installed"),
]


def scenario(*args: str, timeout: float = 90.0) -> dict[str, Any]:
    return run_scenario("tests.media.scenario", *args, timeout=timeout)


def assert_tone(received: dict[str, Any], frequency: float) -> None:
    assert received["frequency"] is not None, received
    bin_width = received["rate"] / 8192
    assert abs(received["frequency"] - frequency) <= 1.5 * bin_width, received
    assert received["share"] > 0.9, received  # a clean tone, not noise that happens to peak there
    assert received["rms"] > 500, received


def assert_clean_end(result: dict[str, Any]) -> None:
    assert result["tasks_left"] == []
    assert result["sockets_left"] == 0
    assert result["ports_free_again"] is True


@pytest.mark.parametrize("sip_codec", ["pcmu", "pcma"])
def test_tone_both_ways_g711_to_opus_transcoded(sip_codec: str) -> None:
    result = scenario("--mode", "tone", "--sip-codec", sip_codec)
    assert result["codecs"] == {"jingle": "opus", "sip": sip_codec}
    assert result["transcoding"] is True
    assert_tone(result["sip_received"], 440)  # the Jingle client's tone, reaching baresip as G.711
    assert_tone(result["jingle_received"], 880)  # baresip's tone, reaching the client as opus
    assert result["stats"]["sip"]["latched"] is True
    assert result["stats"]["jingle"]["rtcp_sent"] >= 2
    assert result["client_rtcp"] == ["remote-inbound-rtp", "remote-outbound-rtp"]  # aiortc read our SR/RR
    assert result["bye_status"] == 200
    assert_clean_end(result)


def test_tone_both_ways_opus_forwarded() -> None:
    result = scenario("--mode", "tone", "--sip-codec", "opus")
    assert result["codecs"] == {"jingle": "opus", "sip": "opus"}
    assert result["transcoding"] is False
    assert result["stats"]["jingle_to_sip"]["forwarded"] > 100
    assert result["stats"]["sip_to_jingle"]["forwarded"] > 100
    assert_tone(result["sip_received"], 440)
    assert_tone(result["jingle_received"], 880)
    assert_clean_end(result)


@pytest.mark.parametrize("sip_codec", ["pcmu", "opus"])
def test_dtmf_both_ways(sip_codec: str) -> None:
    result = scenario("--mode", "tone", "--sip-codec", sip_codec, "--seconds", "2")
    assert result["dtmf"] == {"at_sip": "73", "at_jingle": "59"}
    assert_clean_end(result)


def test_silent_leg_ends_the_call_on_both_sides() -> None:
    result = scenario("--mode", "silence", "--sip-codec", "pcmu", "--silence-timeout", "2")
    assert result["ended"] == [
        {
            "leg": "sip",
            "reason": "silence",
            "jingle": "media-error",
            "sip": 'SIP;cause=408;text="RTP timeout"',
        }
    ]
    assert 2.0 <= result["ended_after"] < 3.5
    assert result["client_connection"] == "closed"  # the Jingle side saw its DTLS session closed
    assert result["bye_status"] == 200 and result["peer_call_closed"] is True  # the SIP side got a BYE
    assert_clean_end(result)


def test_trickle_ice_both_ways() -> None:
    """No candidate in session-initiate or session-accept: each side's arrive later in transport-infos."""
    result = scenario("--mode", "tone", "--sip-codec", "pcmu", "--trickle", "--seconds", "2")
    assert result["trickled"] == {"to_client": 1, "to_gateway": 1}
    assert_tone(result["sip_received"], 440)
    assert_tone(result["jingle_received"], 880)
    assert_clean_end(result)


def test_sdes_srtp_on_the_sip_leg() -> None:
    """RTP/SAVP with a=crypto towards baresip (mediaenc=srtp-mand: it accepts nothing else)."""
    result = scenario("--mode", "tone", "--sip-codec", "pcmu", "--sdes", "--seconds", "2")
    assert result["stats"]["sip"]["srtp"] == "AES_CM_128_HMAC_SHA1_80"
    assert result["stats"]["sip"]["srtp_errors"] == 0
    assert_tone(result["sip_received"], 440)
    assert_tone(result["jingle_received"], 880)
    assert result["dtmf"] == {"at_sip": "73", "at_jingle": "59"}
    assert_clean_end(result)


def test_silent_jingle_leg_ends_the_call_on_both_sides() -> None:
    result = scenario("--mode", "jingle-silence", "--sip-codec", "pcmu", "--silence-timeout", "2")
    assert [(e["leg"], e["reason"], e["jingle"]) for e in result["ended"]] == [
        ("jingle", "silence", "media-error")
    ]
    assert 2.0 <= result["ended_after"] < 3.5
    assert result["bye_status"] == 200 and result["peer_call_closed"] is True
    assert_clean_end(result)


@pytest.mark.parametrize("sip_codec", ["pcmu", "opus"])
def test_gateway_initiates_the_jingle_session(sip_codec: str) -> None:
    """A SIP phone calling an XMPP room: the gateway offers (ICE controlling, DTLS actpass), aiortc answers."""
    result = scenario("--mode", "tone", "--sip-codec", sip_codec, "--gateway-initiates", "--seconds", "2")
    assert result["dtls_setup"] == {"ours": "actpass"}
    assert result["transcoding"] is (sip_codec != "opus")
    assert_tone(result["sip_received"], 440)
    assert_tone(result["jingle_received"], 880)
    assert result["dtmf"] == {"at_sip": "73", "at_jingle": "59"}
    assert_clean_end(result)
