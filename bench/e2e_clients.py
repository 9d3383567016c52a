"""The 50 XMPP participants of bench/e2e_latency.py, in a process of their own (so that the gateway and its
clients do not share one core's event loop). Driven by JSON lines on standard input, answered on standard
output; times are `time.monotonic()`, which is the same clock in every process of the machine.

    {"login": {"port": P, "password": W, "jids": [...], "sender": JID}}  -> {"ready": true}
    {"join": {"room": JID, "offer": XML}}                                -> {"joined": true} (first Coin in)
    {"coin": {}}                                                         -> {"last": T} (the next Coin IQ of
                                                                            every participant: when the last
                                                                            one arrived)
    {"baseline": {"payload": XML}}                                       -> {"first": T0, "last": T}
    {"quit": {}}
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import xml.etree.ElementTree as ET

from lxml import etree

from tests.live.xmpp_client import CI, CLIENT, LiveClient

JINGLE = "urn:xmpp:jingle:1"


class StampedClient(LiveClient):
    """A LiveClient that notes when each Coin IQ arrived."""

    def __init__(self, jid: str, password: str) -> None:
        super().__init__(jid, password)
        self.coin_times: asyncio.Queue[float] = asyncio.Queue()

    def _spawn_event(self, xml: ET.Element) -> None:
        if self.started.is_set() and xml.find(f"{{{CI}}}conference-info") is not None:
            self.coin_times.put_nowait(time.monotonic())
        super()._spawn_event(xml)


async def main() -> None:
    reader = asyncio.StreamReader()
    await asyncio.get_running_loop().connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), sys.stdin
    )
    clients: list[StampedClient] = []
    sender: LiveClient | None = None

    def answer(message: dict[str, object]) -> None:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()

    while line := await reader.readline():
        [(command, args)] = json.loads(line).items()
        if command == "login":
            for jid in args["jids"]:
                client = StampedClient(jid, args["password"])
                await client.login(args["port"])
                clients.append(client)
            sender = LiveClient(args["sender"], args["password"])
            await sender.login(args["port"])
            answer({"ready": True})
        elif command == "join":
            for n, client in enumerate(clients):
                client.send(
                    f'<iq xmlns="{CLIENT}" type="set" id="init" to="{args["room"]}"><jingle xmlns="{JINGLE}" '
                    f'action="session-initiate" initiator="{client.boundjid.full}" sid="s{n}">{args["offer"]}'
                    "</jingle></iq>"
                )
                accept = await client.next(lambda s: s.find(f"{{{JINGLE}}}jingle") is not None, timeout=30)
                client.send(
                    f'<iq xmlns="{CLIENT}" type="result" id="{accept.get("id")}" to="{accept.get("from")}"/>'
                )
            await asyncio.gather(*(c.coin_times.get() for c in clients))
            answer({"joined": True})
        elif command == "coin":
            times = await asyncio.wait_for(asyncio.gather(*(c.coin_times.get() for c in clients)), 60)
            answer({"last": max(times)})
        elif command == "baseline":
            assert sender is not None
            first = time.monotonic()
            for n, client in enumerate(clients):
                sender.send(
                    f'<iq xmlns="{CLIENT}" type="set" id="b{n}" to="{client.boundjid.full}">{args["payload"]}</iq>'
                )
            times = await asyncio.wait_for(asyncio.gather(*(c.coin_times.get() for c in clients)), 60)
            answer({"first": first, "last": max(times)})
        elif command == "quit":
            break
    for client in clients:
        await client.logout()
    if sender is not None:
        await sender.logout()


if __name__ == "__main__":
    etree.set_default_parser(etree.XMLParser(resolve_entities=False, no_network=True))
    asyncio.run(main())
