"""INVITE sessions against an independent SIP peer, pjsua2 (pjsua2-python, a test-only dependency).

pjsua2 probes the network when it starts, so the peer and our user agent run together in a network
namespace of their own (`unshare -n`, loopback up): `tests.sip_live.invite_scenario` runs the steps there
and prints what both sides saw as one JSON object, which these tests check. Nothing leaves the namespace's
loopback; the scenario's process group is gone when the test ends.

isfocus both ways (RFC 4579): the peer's Contact carries `;isfocus`, so we must detect it as UAS and as
UAC; we answer a room call with `;isfocus` in our Contact and add it to our Contact with a re-INVITE, and the
peer's own message log must show it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.peers.process import PeerProcess

pytestmark = [pytest.mark.live, pytest.mark.timeout(120)]
ROOT = Path(__file__).resolve().parents[2]


def _namespaces_usable() -> bool:
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-n", "ip", "link", "set", "lo", "up"], capture_output=True, timeout=10, check=False
    )
    return probe.returncode == 0


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    pytest.importorskip("pjsua2", reason="pjsua2-python (the test extra) is not installed")
    if not _namespaces_usable():
        pytest.skip("cannot make a network namespace here (unshare -n needs root or user namespaces)")
    log_dir = tmp_path_factory.mktemp("invite_peer")
    command = f"ip link set lo up && exec {sys.executable} -m tests.sip_live.invite_scenario {log_dir}"
    scenario_process = PeerProcess(
        "scenario", ["unshare", "-n", "sh", "-c", command], cwd=log_dir, env={"PYTHONPATH": str(ROOT)}
    )
    try:
        scenario_process.process.wait(timeout=90)
    finally:
        scenario_process.stop()  # its whole process group, by PID
    output = scenario_process.log_path.read_text(errors="replace")
    lines = [line for line in output.splitlines() if line.startswith("RESULT ")]
    assert lines, f"no result:\n{output[-4000:]}"
    result: dict[str, Any] = json.loads(lines[-1].removeprefix("RESULT "))
    assert "error" not in result, (result, output[-4000:])
    return result


def test_peer_calls_us_and_sees_our_isfocus(scenario: dict[str, Any]) -> None:
    step = scenario["peer_calls_us"]
    assert step["incoming"] == {"report": "IncomingCall", "remote_focus": True, "offer": True}
    # the peer's own log of our 2xx: the Contact is the room's URI, marked as a focus
    assert step["peer_saw_contact"] == "<sip:room@127.0.0.1:5060>;isfocus"
    established = step["established"]
    assert established["remote_focus"] is True and established["has_sdp"] is True
    assert established["remote_contact"].startswith("sip:peer@127.0.0.1:5070")


def test_peer_reinvite_is_answered_and_keeps_our_isfocus(scenario: dict[str, Any]) -> None:
    step = scenario["peer_calls_us"]
    assert step["reinvite_answered"] is True
    assert step["peer_saw_contact_after_reinvite"] == "<sip:room@127.0.0.1:5060>;isfocus"


def test_peer_hangs_up_with_bye(scenario: dict[str, Any]) -> None:
    step = scenario["peer_calls_us"]
    assert step["ended"] == {"report": "Ended", "reason": "bye"}
    assert step["peer_end_status"] == 200


def test_we_call_the_peer_and_detect_its_isfocus(scenario: dict[str, Any]) -> None:
    step = scenario["we_call_peer"]
    assert step["peer_saw_invite_contact"] == "<sip:127.0.0.1:5060>"  # we called as a plain participant
    assert step["ringing"] == {"report": "Ringing", "code": 180}
    assert step["established"]["remote_focus"] is True
    assert step["established"]["has_sdp"] is True
    assert step["conference_uri"] == "sip:peer@127.0.0.1:5070"  # what the owner subscribes to


def test_our_reinvite_adds_isfocus_and_the_peer_sees_it(scenario: dict[str, Any]) -> None:
    step = scenario["we_call_peer"]
    assert step["peer_saw_reinvite_contact"] == "<sip:127.0.0.1:5060>;isfocus"
    assert step["local_focus_after_reinvite"] is True


def test_our_second_reinvite_removes_isfocus(scenario: dict[str, Any]) -> None:
    assert scenario["we_call_peer"]["peer_saw_second_reinvite_contact"] == "<sip:127.0.0.1:5060>"


def test_we_hang_up_with_bye(scenario: dict[str, Any]) -> None:
    step = scenario["we_call_peer"]
    assert step["ended"] == {"report": "Ended", "reason": "hangup"}
    assert step["peer_end_status"] == 200


def test_we_cancel_a_ringing_call(scenario: dict[str, Any]) -> None:
    step = scenario["we_cancel"]
    assert step["ringing"]["code"] == 180
    assert step["failed"] == {"report": "CallFailed", "code": 487}
    assert step["peer_end_status"] == 487


def test_the_peer_cancels_before_we_answer(scenario: dict[str, Any]) -> None:
    step = scenario["peer_cancels"]
    assert step["failed"] == {"report": "CallFailed", "code": 487}
    assert step["peer_end_status"] == 487


def test_we_refuse_a_call(scenario: dict[str, Any]) -> None:
    step = scenario["we_reject"]
    assert step["failed"] == {"report": "CallFailed", "code": 486}
    assert step["peer_end_status"] == 486


def test_a_call_over_tcp_has_a_tcp_contact_and_ends_over_the_peers_connection(
    scenario: dict[str, Any],
) -> None:
    step = scenario["tcp"]
    assert step["peer_saw_contact"] == "<sip:room@127.0.0.1:5060;transport=tcp>;isfocus"
    assert step["established"]["remote_focus"] is True
    assert ";transport=TCP" in step["established"]["remote_contact"]
    assert step["ended"] == {"report": "Ended", "reason": "hangup"}
    assert step["peer_end_status"] == 200
    assert step["sessions_left"] == 0  # every call of the scenario is forgotten
