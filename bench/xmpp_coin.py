"""Benchmark of Coin delivery through a real Prosody (issue: XMPP side). Run: python -m bench.xmpp_coin

50 participants (slixmpp clients logged in to a Prosody on loopback) each hold a Jingle session with a room
of the gateway's component. Each round one user joins the room and every participant gets a Coin IQ with a
one-user partial document. Baseline, in the same run and through the same Prosody: one client sends IQs of
the same size (the very bytes of a Coin IQ) to the same 50 clients. Both sides answer every IQ, as
Conversations does. Printed: IQs delivered per second for each, and the ratio (goal: close to 1, i.e. the
gateway is not what limits delivery).

Needs Prosody (Debian's `prosody`, installed by scripts/bootstrap). Starts it on free loopback ports in a
temporary directory and stops it at the end.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from lxml import etree

from tests.live.xmpp_client import CI, CLIENT, LiveClient
from tests.peers.prosody import Prosody
from tests.rooms import InProcessRoom, Rooms, answer_contents
from xmpp.component_link import LinkSettings
from xmpp.component_service import XmppComponent
from xmpp.rooms import Call

PARTICIPANTS = 50
ROUNDS = 40
JINGLE = "urn:xmpp:jingle:1"
OFFER = (
    f'<content xmlns="{JINGLE}" creator="initiator" name="0">'
    '<description xmlns="urn:xmpp:jingle:apps:rtp:1" media="audio">'
    '<payload-type id="111" name="opus" clockrate="48000" channels="2"/></description>'
    '<transport xmlns="urn:xmpp:jingle:transports:ice-udp:1" ufrag="a" pwd="bbbbbbbbbbbbbbbbbbbbbb"/></content>'
)


async def received(clients: list[LiveClient], count: int) -> None:
    """Wait until every client has received `count` Coin IQs (answering each, as they arrive)."""

    async def one(client: LiveClient) -> None:
        for _ in range(count):
            await client.coin(timeout=60)

    await asyncio.gather(*(one(c) for c in clients))


async def run(prosody: Prosody) -> tuple[float, float, int]:
    rooms = Rooms()
    settings = LinkSettings(prosody.component_domain, prosody.secret, port=prosody.component_port)
    component = XmppComponent(settings, rooms, rate=1e6, burst=1e6)
    component.start()
    await component.link.wait_online(10)
    jid = f"weekly@{prosody.component_domain}"

    def respond(decision: str, call: Call) -> None:
        component.accept(call, answer_contents(call.offer))

    room = rooms.rooms[jid] = InProcessRoom(jid, respond)
    clients = []
    try:
        for n in range(PARTICIPANTS):
            client = LiveClient(prosody.jid(f"p{n}") + "/bench", prosody.password)
            await client.login(prosody.c2s_port)
            clients.append(client)
            client.send(
                f'<iq xmlns="{CLIENT}" type="set" id="init" to="{jid}"><jingle xmlns="{JINGLE}" '
                f'action="session-initiate" initiator="{client.boundjid.full}" sid="s{n}">{OFFER}</jingle></iq>'
            )
            accept = await client.next(lambda s: s.find(f"{{{JINGLE}}}jingle") is not None)
            client.send(f'<iq xmlns="{CLIENT}" type="result" id="{accept.get("id")}" to="{jid}/gw"/>')
        await received(clients, 1)  # each one's full document

        # ours: one join per round, one Coin IQ per participant per round
        sample: bytes = b""
        started = time.perf_counter()
        for r in range(ROUNDS):
            room.join(f"xmpp:joiner{r}@example.com", f"Joiner {r}")
            stanzas = component.service.room_changed(room)
            sample = sample or etree.tostring(stanzas[0])
            component._send(stanzas)
        await received(clients, ROUNDS)
        ours = PARTICIPANTS * ROUNDS / (time.perf_counter() - started)

        # baseline: one client sends IQs of the same bytes to the same 50 clients
        sender = LiveClient(prosody.jid("sender") + "/bench", prosody.password)
        await sender.login(prosody.c2s_port)
        clients_by_jid = [c.boundjid.full for c in clients]
        template = etree.fromstring(sample)
        document = template.find(f"{{{CI}}}conference-info")
        assert document is not None
        payload = etree.tostring(document).decode()
        started = time.perf_counter()
        for r in range(ROUNDS):
            for n, to in enumerate(clients_by_jid):
                sender.send(f'<iq xmlns="{CLIENT}" type="set" id="b{r}-{n}" to="{to}">{payload}</iq>')
        await received(clients, ROUNDS)
        baseline = PARTICIPANTS * ROUNDS / (time.perf_counter() - started)
        await sender.logout()
        return ours, baseline, len(sample)
    finally:
        for client in clients:
            await client.logout()
        await component.close()


def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        users = (*(f"p{n}" for n in range(PARTICIPANTS)), "sender")
        prosody = Prosody(Path(directory), users=users)
        try:
            results = [asyncio.run(run(prosody)) for _ in range(3)]
        finally:
            prosody.stop()
    ours, baseline, size = max(r[0] for r in results), max(r[1] for r in results), results[0][2]
    print(f"Coin IQs (one-user partial, {size} bytes) to {PARTICIPANTS} live participants through Prosody:")
    for o, b, _ in results:
        print(f"  gateway {o:,.0f} IQ/s, one client sending the same bytes {b:,.0f} IQ/s -> {o / b:.2f}x")
    print(f"best of each: gateway {ours:,.0f} IQ/s vs baseline {baseline:,.0f} IQ/s -> {ours / baseline:.2f}x"
          " (goal: ~1, the gateway is not the limit)")  # fmt: skip


if __name__ == "__main__":
    main()
