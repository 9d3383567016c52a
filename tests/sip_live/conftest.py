"""Fixtures for the live SIP tests: a real Kamailio (presence + presence_conference) on loopback, sipp
scenarios from tests/sipp/, and our user agent on free UDP+TCP ports of 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from sip.transport import TransportAddress
from sip.user_agent import IncomingRequest, UserAgent
from tests.peers.kamailio import Kamailio
from tests.peers.process import free_port_both


@pytest.fixture
def kamailio(tmp_path: Path) -> Iterator[Kamailio]:
    server = Kamailio(tmp_path / "kamailio")
    server.start()
    try:
        yield server
    finally:
        server.stop()


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
