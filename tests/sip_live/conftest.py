"""Fixtures for the live SIP tests: a real Kamailio (presence + presence_conference) on loopback, sipp
scenarios from tests/sipp/, and our user agent on free UDP+TCP ports of 127.0.0.1; and what the tests share
around them (PUBLISHing through sipp, a conference subscriber driven over the user agent)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sipmessage import Address

from sip.driver import Driver, EventHandler
from sip.subscriber import ConferenceSubscriber, ConferenceSubscribers
from sip.transport import TransportAddress
from sip.user_agent import IncomingRequest, UserAgent
from tests.peers.kamailio import Kamailio
from tests.peers.process import free_port_both
from tests.peers.sipp import SCENARIOS, SippResult, run_sipp


@pytest.fixture
async def ua() -> AsyncIterator[UserAgent]:
    port = free_port_both()
    agent = UserAgent(
        [TransportAddress("udp", "127.0.0.1", port), TransportAddress("tcp", "127.0.0.1", port)]
    )
    await agent.start()
    try:
        yield agent
    finally:
        await agent.close()


class Inbox:
    """A handler that answers every request 200 (or `code`) and queues it for the test."""

    def __init__(self, code: int = 200) -> None:
        self.code = code
        self.requests: asyncio.Queue[IncomingRequest] = asyncio.Queue()

    async def handle_request(self, request: IncomingRequest) -> None:
        if request.transaction is not None:
            await request.respond(self.code)
        await self.requests.put(request)

    async def next(self, method: str = "NOTIFY", timeout: float = 10.0) -> IncomingRequest:
        while True:
            request = await asyncio.wait_for(self.requests.get(), timeout)
            if request.method == method:
                return request


# -- PUBLISH through sipp ----------------------------------------------------------------------------------


def etag_of(result: SippResult) -> str:
    match = re.search(r"SIP-ETag=\s*(\S+)", result.log)
    assert match, str(result)
    return match.group(1)


async def publish(kamailio: Kamailio, directory: Path, scenario: str, **keys: str) -> SippResult:
    result = await asyncio.to_thread(run_sipp, scenario, kamailio.port, directory, keys=keys)
    assert result.ok, str(result)
    return result


def published(scenario: str, kamailio: Kamailio, version: str) -> bytes:
    """The document a PUBLISH scenario sends, with sipp's keywords filled in."""
    text = (SCENARIOS / scenario).read_text()
    body = text.split('<?xml version="1.0" encoding="UTF-8"?>')[1].split("]]>")[0]
    for keyword, value in {
        "[service]": "conf", "[remote_ip]": "127.0.0.1", "[call_number]": version, "[version]": version,
    }.items():  # fmt: skip
        body = body.replace(keyword, value)
    return "\n".join(line.strip() for line in body.strip().splitlines()).encode()


# -- a conference subscriber over the user agent -------------------------------------------------------------


class SubscriberRun:
    """One `ConferenceSubscriber` of the conference at `conference`, driven over `ua` (its handler the
    subscribers' `EventHandler`); every report goes to `reports`."""

    def __init__(self, ua: UserAgent, conference: str, **driver_options: Any) -> None:
        self.reports: asyncio.Queue[object] = asyncio.Queue()
        self.subscribers = ConferenceSubscribers()
        self.driver = Driver(ua, self.subscribers, on_report=self.reports.put_nowait, **driver_options)
        ua.handler = EventHandler(subscribers=self.driver)
        self.subscriber = ConferenceSubscriber(
            Address.parse(f"<{conference}>"),
            local=Address.parse("<sip:gateway@127.0.0.1>"),
            contact=ua.contact("udp"),
            clock=asyncio.get_running_loop().time,
        )

    def start(self) -> None:
        self.driver.start(self.subscribers.add(self.subscriber))

    async def stop(self) -> None:
        """Unsubscribe (the report that follows says how it went)."""
        await self.driver.run(self.subscribers.remove(self.subscriber))

    async def next_report(self, kind: type) -> object:
        return await next_report(self.reports, kind)


async def next_report(reports: asyncio.Queue[object], kind: type) -> object:
    while True:
        report = await asyncio.wait_for(reports.get(), 15)
        if isinstance(report, kind):
            return report
