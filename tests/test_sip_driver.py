"""sip.driver: a machine's outputs done on a real user agent (loopback), with a scripted machine."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import pytest
from sipmessage import URI, Request, Response

from sip.actions import CancelTimer, SendRequest, StartTimer, Timer, TimerKind
from sip.driver import Driver
from sip.transactions import Timers
from sip.transport import TransportAddress
from sip.user_agent import UserAgent
from tests.peers.process import free_port_both
from tests.peers.raw_sip import RawUdpPeer, answer

pytestmark = pytest.mark.timeout(30)


class Scripted:
    def __init__(self) -> None:
        self.events: asyncio.Queue[tuple[str, object]] = asyncio.Queue()

    def response_received(self, response: Response) -> Sequence[object]:
        self.events.put_nowait(("response", response.code))
        return ["a report"]

    def request_failed(self, request: Request, reason: str) -> Sequence[object]:
        self.events.put_nowait(("failed", reason))
        return []

    def timer_fired(self, timer: Timer) -> Sequence[object]:
        self.events.put_nowait(("timer", timer))
        return []


@pytest.fixture
async def ua() -> AsyncIterator[UserAgent]:
    port = free_port_both()
    async with UserAgent(
        [TransportAddress("udp", "127.0.0.1", port)], timers=Timers(t1=0.02, t2=0.1)
    ) as agent:
        yield agent


async def test_timers_fire_and_cancel(ua: UserAgent) -> None:
    machine = Scripted()
    driver = Driver(ua, machine)
    kept, cancelled = Timer(TimerKind.REFRESH, "a", 1), Timer(TimerKind.EXPIRY, "a", 2)
    await driver.run([StartTimer(cancelled, 0.05), StartTimer(kept, 0.1), CancelTimer(cancelled)])
    assert await asyncio.wait_for(machine.events.get(), 5) == ("timer", kept)
    await asyncio.sleep(0.1)
    assert machine.events.empty()
    await driver.close()


async def test_responses_reports_and_failures(ua: UserAgent) -> None:
    machine = Scripted()
    reports: list[object] = []
    driver = Driver(ua, machine, on_report=reports.append)
    peer = await RawUdpPeer.open()
    try:
        request = ua.new_request(
            "OPTIONS", f"sip:x@127.0.0.1:{peer.port}", from_uri="<sip:a@h>", to_uri="<sip:x@h>"
        )
        driver.start([SendRequest(request, request.uri)])
        arrived = await peer.receive_request()
        peer.send(answer(arrived, 200, "OK"), ua.local_address().port)
        assert await asyncio.wait_for(machine.events.get(), 5) == ("response", 200)
        await driver.idle()
        assert reports == ["a report"]
        # nobody answers: timer F (64*T1 = 1.28 s here) makes it a failure, not a response
        silent = ua.new_request(
            "OPTIONS", f"sip:x@127.0.0.1:{peer.port}", from_uri="<sip:a@h>", to_uri="<sip:x@h>"
        )
        driver.start([SendRequest(silent, URI.parse(f"sip:127.0.0.1:{peer.port}"))])
        event = await asyncio.wait_for(machine.events.get(), 10)
        assert event[0] == "failed"
        assert "no response" in str(event[1])
    finally:
        peer.close()
        await driver.close()
