"""The conference subscriber (sip.subscriber) driven over our user agent, with sipp as a notifier that
skips a version: the subscriber refreshes and ends up with the full state the notifier sent after it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from sip.subscriber import StateChanged, Stopped
from sip.user_agent import UserAgent
from tests.peers.sipp import SippProcess
from tests.sip_live.conftest import SubscriberRun

pytestmark = [pytest.mark.live, pytest.mark.timeout(120)]


async def test_version_gap_makes_the_subscriber_refresh(ua: UserAgent, tmp_path: Path) -> None:
    peer = await asyncio.to_thread(SippProcess, "conf_notify_gap_uas.xml", tmp_path)
    run = SubscriberRun(ua, f"sip:conf@127.0.0.1:{peer.port}")
    try:
        run.start()
        first = await run.next_report(StateChanged)
        assert isinstance(first, StateChanged)
        assert list(first.state.users.users) == ["sip:alice@127.0.0.1"]
        refreshed = await run.next_report(StateChanged)
        assert isinstance(refreshed, StateChanged)
        assert list(refreshed.state.users.users) == [
            "sip:alice@127.0.0.1",
            "sip:bob@127.0.0.1",
            "sip:carol@127.0.0.1",
        ]
        await run.stop()
        stopped = await run.next_report(Stopped)
        assert isinstance(stopped, Stopped)
        result = await asyncio.to_thread(peer.wait)
    finally:
        await run.driver.close()
        peer.stop()
    assert result.ok, str(result)
    assert "refresh after the version gap ok" in result.log
