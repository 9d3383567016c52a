"""Fixtures for the live XMPP tests: a real Prosody on loopback, the gateway's component connected to it,
in-process rooms (tests/rooms.py: a real conference state, not a mock of a peer), and logged-in clients."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from tests.live.xmpp_client import LiveClient
from tests.peers.prosody import Prosody
from tests.rooms import InProcessRoom, Rooms, answer_contents
from xmpp.component_link import LinkSettings
from xmpp.component_service import XmppComponent
from xmpp.rooms import Call

pytestmark = pytest.mark.live


@pytest.fixture
def prosody(tmp_path: Path) -> Iterator[Prosody]:
    server = Prosody(tmp_path / "prosody")
    try:
        yield server
    finally:
        server.stop()


class Gateway:
    """The component with a room directory; `room(name)` adds a room that accepts every call."""

    def __init__(self, component: XmppComponent, rooms: Rooms, domain: str) -> None:
        self.component = component
        self.rooms = rooms
        self.domain = domain

    def room(self, name: str = "weekly") -> InProcessRoom:
        jid = f"{name}@{self.domain}"

        def respond(decision: str, call: Call) -> None:
            if decision == "accept":
                self.component.accept(call, answer_contents(call.offer))
            else:
                self.component.reject(call, "decline")

        room = self.rooms.rooms[jid] = InProcessRoom(jid, respond)
        return room


@pytest.fixture
async def gateway(prosody: Prosody) -> AsyncIterator[Gateway]:
    rooms = Rooms()
    settings = LinkSettings(
        prosody.component_domain, prosody.secret, port=prosody.component_port, backoff_max=1.0
    )
    component = XmppComponent(settings, rooms, coalescing_window=0.05, rate=50.0, burst=100.0)
    component.start()
    await component.link.wait_online(10)
    try:
        yield Gateway(component, rooms, prosody.component_domain)
    finally:
        await component.close()
        await asyncio.sleep(0)
        left = [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()]
        assert component.link._stream is None and not component.link.online
        assert not [t for t in left if "slixmpp" in repr(t.get_coro()) or "component" in t.get_name()], left


@pytest.fixture
async def client_factory(prosody: Prosody) -> AsyncIterator[Callable[..., object]]:
    clients: list[LiveClient] = []

    async def make(user: str = "alice", *, auto_result: bool = True) -> LiveClient:
        client = LiveClient(prosody.jid(user) + "/phone", prosody.password, auto_result=auto_result)
        await client.login(prosody.c2s_port)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.logout()
