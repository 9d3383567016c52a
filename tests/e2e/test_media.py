"""Real audio through the daemon (tests/e2e/media_scenario.py, in a network namespace of its own): Prosody, the
daemon with its media on 127.0.0.2, baresip as the SIP side (880 Hz) and an aiortc Jingle client (440 Hz,
ICE + DTLS-SRTP) logged in to Prosody with slixmpp. Each side's received audio must peak at the other's
frequency (FFT); the call ends cleanly on both sides, or by itself when the SIP side goes silent; no task,
socket or port of the daemon's is left, and no process of the scenario outlives it."""

from __future__ import annotations

import shutil
from typing import Any

import pytest

from tests.media.test_live_media import assert_tone
from tests.peers.namespace import run_scenario

pytestmark = [
    pytest.mark.live,
    pytest.mark.timeout(180),
    pytest.mark.skipif(shutil.which("baresip") is None, reason="baresip (apt) not installed"),
    pytest.mark.skipif(shutil.which("prosody") is None, reason="prosody (apt) not installed"),
    pytest.mark.skipif(shutil.which("unshare") is None, reason="unshare (util-linux) not installed"),
]


def scenario(*args: str, timeout: float = 120.0) -> dict[str, Any]:
    return run_scenario("tests.e2e.media_scenario", *args, timeout=timeout)


def assert_clean_end(result: dict[str, Any]) -> None:
    assert result["media_calls_left"] == 0
    assert result["tasks_left"] == []
    assert result["sockets_left"] == 0
    assert result["ports_free_again"] is True


def test_an_xmpp_client_calls_a_sip_bridge_and_audio_flows_both_ways() -> None:
    """The client trickles its candidates after a session-initiate without any; the daemon answers with
    its own Jingle leg (no candidate in the session-accept: they follow in transport-info) and calls
    baresip with its own RTP leg; opus both sides, forwarded."""
    result = scenario("--direction", "xmpp-to-sip", "--seconds", "3")
    assert result["isfocus"] is True and result["connected"] is True
    assert result["accept_candidates"] == 0 and result["trickled_to_client"] == 1
    assert result["codecs"] == [{"jingle": "opus", "sip": "opus"}] and result["transcoding"] == [False]
    assert_tone(result["jingle_received"], 880)  # baresip's tone, through the daemon
    assert_tone(result["sip_received"], 440)  # the client's tone, through the daemon
    assert result["dtmf"] == {"at_sip": "73", "at_jingle": "59"}  # RFC 4733 both ways
    assert result["peer_call_closed"] is True  # the client's session-terminate became a BYE
    assert_clean_end(result)


def test_transcoded_opus_to_pcmu_through_the_daemon_with_hold_and_resume() -> None:
    """Transcoded; then the Jingle client holds (session-info <hold/>): the daemon re-INVITEs baresip
    sendonly (it answers recvonly), then resumes (<active/>: sendrecv) and audio flows again."""
    result = scenario("--direction", "xmpp-to-sip", "--sip-codec", "pcmu", "--seconds", "3", "--hold")
    assert result["codecs"] == [{"jingle": "opus", "sip": "pcmu"}] and result["transcoding"] == [True]
    assert_tone(result["jingle_received"], 880)
    assert result["sip_leg_after_hold"] == [{"sending": True, "receiving": False, "peer_says": "recvonly"}]
    assert result["sip_leg_after_active"] == [{"sending": True, "receiving": True, "peer_says": "sendrecv"}]
    assert_tone(result["sip_received"], 440)  # the recording's end: after the resume
    assert_clean_end(result)


def test_a_sip_phone_calls_an_xmpp_room_and_audio_flows_both_ways() -> None:
    """baresip calls the room; the daemon offers the mixer (the aiortc client) its own Jingle leg: ICE
    controlling, DTLS actpass; baresip hangs up and the mixer gets session-terminate."""
    result = scenario("--direction", "sip-to-xmpp", "--seconds", "3")
    assert result["dtls_setup"] == "actpass" and result["connected"] is True
    assert_tone(result["jingle_received"], 880)
    assert_tone(result["sip_received"], 440)
    assert result["dtmf"] == {"at_sip": "73", "at_jingle": "59"}
    assert result["jingle_terminated"] is True and result["jingle_reason"] == "success"
    assert_clean_end(result)


def test_a_silent_sip_side_ends_the_call_on_both_sides() -> None:
    """baresip stops dead (SIGSTOP): after silence_timeout_s the daemon's media ends the call: the client
    gets session-terminate with media-error, baresip a BYE."""
    result = scenario("--direction", "xmpp-to-sip", "--mode", "silence", "--silence-timeout", "2")
    assert result["jingle_terminated"] is True and result["jingle_reason"] == "media-error"
    assert 2.0 <= result["ended_after"] < 4.0
    assert result["peer_call_closed"] is True
    assert_clean_end(result)


def test_a_failed_jingle_leg_ends_a_sip_phones_call_on_both_sides() -> None:
    """baresip calls an XMPP room; the mixer's peer connection closes (DTLS close_notify, no Jingle): the
    daemon ends the call, the mixer gets session-terminate with connectivity-error, baresip a BYE."""
    result = scenario("--direction", "sip-to-xmpp", "--mode", "jingle-closed", "--silence-timeout", "5")
    assert result["connected"] is True
    assert result["jingle_terminated"] is True and result["jingle_reason"] == "connectivity-error"
    assert result["ended_after"] < 2.0  # at once, not after the silence timeout
    assert result["peer_call_closed"] is True
    assert_clean_end(result)
