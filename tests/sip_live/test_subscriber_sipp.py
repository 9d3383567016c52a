"""The conference subscriber (sip.subscriber) driven over our user agent, with sipp as a notifier that
skips a version: the subscriber refreshes and ends up with the full state the notifier sent after it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sipmessage import Address

from sip.driver import Driver, EventHandler
from sip.subscriber import ConferenceSubscriber, ConferenceSubscribers, StateChanged, Stopped
from sip.user_agent import UserAgent
from tests.peers.sipp import SippProcess
from tests.sip_live.test_kamailio_subscriber import next_report

pytestmark = [pytest.mark.live, pytest.mark.timeout(120)]


async def test_version_gap_makes_the_subscriber_refresh(ua: UserAgent, tmp_path: Path) -> None:
    peer = await asyncio.to_thread(SippProcess, "conf_notify_gap_uas.xml", tmp_path)
    reports: asyncio.Queue[object] = asyncio.Queue()
    subscribers = ConferenceSubscribers()
    driver = Driver(ua, subscribers, on_report=reports.put_nowait)
    ua.handler = EventHandler(subscribers=driver)
    subscriber = ConferenceSubscriber(
        Address.parse(f"<sip:conf@127.0.0.1:{peer.port}>"),
        local=Address.parse("<sip:gateway@127.0.0.1>"),
        contact=ua.contact("udp"),
        clock=asyncio.get_running_loop().time,
    )
    try:
        driver.start(subscribers.add(subscriber))
        first = await next_report(reports, StateChanged)
        assert isinstance(first, StateChanged)
        assert list(first.state.users.users) == ["sip:alice@127.0.0.1"]
        refreshed = await next_report(reports, StateChanged)
        assert isinstance(refreshed, StateChanged)
        assert list(refreshed.state.users.users) == [
            "sip:alice@127.0.0.1",
            "sip:bob@127.0.0.1",
            "sip:carol@127.0.0.1",
        ]
        await driver.run(subscribers.remove(subscriber))
        stopped = await next_report(reports, Stopped)
        assert isinstance(stopped, Stopped)
        result = await asyncio.to_thread(peer.wait)
    finally:
        await driver.close()
        peer.stop()
    assert result.ok, str(result)
    assert "refresh after the version gap ok" in result.log
