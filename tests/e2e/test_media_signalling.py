"""The daemon's media as the signalling sees it, against real peers on loopback (Prosody, sipp): a call whose
media goes silent is ended by the daemon on both sides, each told why (Jingle `media-error`; a BYE with
`Reason: SIP;cause=408;text="RTP timeout"`, RFC 3326). Audio itself: tests/e2e/test_media.py."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from lxml import etree

from gateway.config import load_config
from tests.e2e import test_daemon
from tests.e2e.test_daemon import JINGLE, join, login, write_config
from tests.peers.process import free_port_both
from tests.peers.prosody import Prosody
from tests.peers.sipp import SippProcess

pytestmark = [pytest.mark.live, pytest.mark.timeout(120)]
prosody = test_daemon.prosody  # the fixtures
start_daemon = test_daemon.start_daemon


async def test_silent_media_ends_the_call_on_both_sides_with_reasons(
    tmp_path: Path, prosody: Prosody, start_daemon: object
) -> None:
    focus = await asyncio.to_thread(
        SippProcess, "silent_bridge_uas.xml", tmp_path / "focus", calls=1, timeout=60,
        keys={"focus": "sip:weekly@127.0.0.1:9"},  # no conference state to subscribe to: nobody there
    )  # fmt: skip
    try:
        port = free_port_both()
        rooms = (
            "[media]\nsilence_timeout_s = 1\n"
            f'[[rooms]]\nname = "weekly"\nsip_focus = "sip:weekly@127.0.0.1:{focus.port}"\n'
        )
        config = load_config(write_config(tmp_path / "gw.toml", prosody, port, rooms), environ={})
        daemon = await start_daemon(config)  # type: ignore[operator]
        room = f"weekly@{prosody.component_domain}"
        alice = await login(prosody, "alice")
        await join(alice, room, "a1")  # raw UDP toward a port where nobody sends: silence on both legs
        terminate = await alice.next(
            lambda s: (
                (j := s.find(f"{{{JINGLE}}}jingle")) is not None and j.get("action") == "session-terminate"
            ),
            timeout=10,
        )
        reason = terminate.find(f"{{{JINGLE}}}jingle/{{{JINGLE}}}reason")
        assert reason is not None and reason.find(f"{{{JINGLE}}}media-error") is not None, etree.tostring(
            terminate
        )
        result = await asyncio.to_thread(focus.wait, 30)  # the BYE came, with its Reason (checked by sipp)
        assert result.ok, str(result)
        for _ in range(100):
            if len(daemon.media) == 0 and not daemon.bridge.calls("weekly"):
                break
            await asyncio.sleep(0.05)
        assert len(daemon.media) == 0 and daemon.bridge.calls("weekly") == []
        await alice.logout()
    finally:
        focus.stop()
