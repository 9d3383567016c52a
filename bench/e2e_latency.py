"""End-to-end latency of one conference change (issue: the bridge and the daemon). Run: python -m bench.e2e_latency

A room of the daemon backed by a SIP bridge has 50 XMPP participants (slixmpp clients logged in to a real
Prosody on loopback). The bridge is sipp answering the INVITEs with an `isfocus` Contact naming a conference
URI served by a notifier of ours in this process (a real RFC 4575 notifier on its own SIP port). One user
joins the bridge's conference: the notifier sends one partial NOTIFY to the daemon, which turns it into 50
Coin IQs through Prosody. Measured: from the room change at the notifier until all 50 participants have the
Coin IQ. Baseline, in the same run and through the same Prosody: one client sends the same 50 IQs (the very
bytes of a Coin IQ) to the same 50 clients; from the first send until all have it. Goal: <= 2x.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import structlog
from lxml import etree
from sipmessage import URI, Address, Request

from gateway.conference_info import ConferenceInfo, Endpoint, EndpointStatus, State, User, Users
from gateway.config import load_config
from gateway.merge import merge
from gatewayd.daemon import Daemon
from sip.driver import Driver, EventHandler, SubscribeMachine
from sip.notifier import ConferenceNotifier
from sip.transport import TransportAddress
from sip.user_agent import UserAgent
from tests.live.xmpp_client import CI, CLIENT, LiveClient
from tests.peers.process import free_port_both
from tests.peers.prosody import Prosody
from tests.peers.sipp import SippProcess

PARTICIPANTS = 50
ROUNDS = 15
JINGLE = "urn:xmpp:jingle:1"
OFFER = (
    f'<content xmlns="{JINGLE}" creator="initiator" name="voice">'
    '<description xmlns="urn:xmpp:jingle:apps:rtp:1" media="audio">'
    '<payload-type id="0" name="PCMU" clockrate="8000"/></description>'
    '<transport xmlns="urn:xmpp:jingle:transports:raw-udp:1">'
    '<candidate component="1" generation="0" id="c1" ip="127.0.0.1" port="5000"/></transport></content>'
)


class BridgeRoom:
    """The bridge's conference, as our notifier serves it (`sip.rooms.ConferenceRoom`)."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.current = ConferenceInfo(entity=uri, version=1, users=Users(users={}))

    def state(self) -> ConferenceInfo:
        return self.current

    def admits(self, subscriber: Address, request: Request) -> bool:
        return True

    def find(self, uri: URI) -> BridgeRoom | None:
        return self

    def join(self, n: int) -> None:
        user = User(
            entity=f"sip:joiner{n}@bridge.example.com", display_text=f"Joiner {n}",
            endpoints=[Endpoint(entity=f"sip:joiner{n}@192.0.2.1", status=EndpointStatus.CONNECTED)],
        )  # fmt: skip
        self.current = merge(
            self.current,
            ConferenceInfo(
                entity=self.uri, state=State.PARTIAL, version=(self.current.version or 0) + 1,
                users=Users(state=State.PARTIAL, users=[user]),
            ),
        )  # fmt: skip


async def all_receive(clients: list[LiveClient], count: int = 1) -> None:
    async def one(client: LiveClient) -> None:
        for _ in range(count):
            await client.coin(timeout=60)

    await asyncio.gather(*(one(c) for c in clients))


async def run(prosody: Prosody, directory: Path) -> tuple[list[float], list[float], int]:
    loop = asyncio.get_running_loop()
    notifier_port = free_port_both()
    ua = UserAgent([TransportAddress("udp", "127.0.0.1", notifier_port)])
    await ua.start()
    room = BridgeRoom(f"sip:conf@127.0.0.1:{notifier_port}")
    notifier = ConferenceNotifier(room, contact=ua.contact("udp").uri, clock=loop.time)
    driver: Driver[SubscribeMachine] = Driver(ua, notifier)
    ua.handler = EventHandler(notifier=driver)
    focus = await asyncio.to_thread(
        SippProcess, "focus_bridge_uas.xml", directory / "focus", calls=PARTICIPANTS, timeout=600,
        keys={"focus": room.uri},
    )  # fmt: skip
    port = free_port_both()
    config_path = directory / "gw.toml"
    config_path.write_text(
        f'[xmpp]\ncomponent = "{prosody.component_domain}"\nsecret = "{prosody.secret}"\n'
        f"port = {prosody.component_port}\n"
        f'[sip]\ndomain = "gw.localhost"\nlisten = ["udp:127.0.0.1:{port}"]\n'
        "[limits]\ncoalescing_window_ms = 0\n"
        f'[[rooms]]\nname = "weekly"\nsip_focus = "sip:weekly@127.0.0.1:{focus.port}"\n'
    )
    daemon = Daemon(load_config(config_path, environ={}))
    await daemon.start()
    await daemon.component.link.wait_online(10)
    jid = f"weekly@{prosody.component_domain}"
    clients: list[LiveClient] = []
    try:
        for n in range(PARTICIPANTS):
            client = LiveClient(f"{prosody.jid(f'p{n}')}/bench", prosody.password)
            await client.login(prosody.c2s_port)
            clients.append(client)
            client.send(
                f'<iq xmlns="{CLIENT}" type="set" id="init" to="{jid}"><jingle xmlns="{JINGLE}" '
                f'action="session-initiate" initiator="{client.boundjid.full}" sid="s{n}">{OFFER}</jingle></iq>'
            )
            accept = await client.next(lambda s: s.find(f"{{{JINGLE}}}jingle") is not None, timeout=30)
            client.send(f'<iq xmlns="{CLIENT}" type="result" id="{accept.get("id")}" to="{jid}/gw"/>')
        await all_receive(clients)  # each one's full document
        sample = b""

        # ours: one change at the bridge's notifier -> one partial NOTIFY -> 50 Coin IQs through Prosody
        ours = []
        for r in range(ROUNDS):
            started = time.perf_counter()
            room.join(r)
            driver.start(notifier.room_changed(room))
            await all_receive(clients)
            ours.append(time.perf_counter() - started)
            await asyncio.sleep(0.1)
        stanza = await capture_one_coin(clients[0], room, driver, notifier)
        sample = etree.tostring(stanza)

        # baseline: one client sends the same bytes to the same 50 clients
        sender = LiveClient(f"{prosody.jid('sender')}/bench", prosody.password)
        await sender.login(prosody.c2s_port)
        document = stanza.find(f"{{{CI}}}conference-info")
        assert document is not None
        payload = etree.tostring(document).decode()
        baseline = []
        for r in range(ROUNDS):
            started = time.perf_counter()
            for n, client in enumerate(clients):
                sender.send(
                    f'<iq xmlns="{CLIENT}" type="set" id="b{r}-{n}" to="{client.boundjid.full}">{payload}</iq>'
                )
            await all_receive(clients)
            baseline.append(time.perf_counter() - started)
            await asyncio.sleep(0.1)
        await sender.logout()
        return ours, baseline, len(sample)
    finally:
        for client in clients:
            await client.logout()
        await daemon.close()
        await driver.close()
        await ua.close()
        focus.stop()


async def capture_one_coin(
    client: LiveClient, room: BridgeRoom, driver: Driver[SubscribeMachine], notifier: ConferenceNotifier
) -> etree._Element:
    """One more change, to keep a whole Coin IQ as the baseline's payload."""
    room.join(10_000)
    driver.start(notifier.room_changed(room))
    return await client.next(lambda s: s.find(f"{{{CI}}}conference-info") is not None, timeout=30)


def main() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))  # errors only
    with tempfile.TemporaryDirectory() as directory:
        users = (*(f"p{n}" for n in range(PARTICIPANTS)), "sender")
        prosody = Prosody(Path(directory) / "prosody", users=users)
        try:
            ours, baseline, size = asyncio.run(run(prosody, Path(directory)))
        finally:
            prosody.stop()
    o50, b50 = statistics.median(ours), statistics.median(baseline)
    print(f"one partial NOTIFY into a room of {PARTICIPANTS} XMPP participants, Coin IQ of {size} bytes, "
          f"{ROUNDS} rounds each:")  # fmt: skip
    print(
        f"  NOTIFY -> all {PARTICIPANTS} Coin IQs received: median {o50 * 1e3:.1f} ms, best {min(ours) * 1e3:.1f} ms"
    )
    print(f"  one client's {PARTICIPANTS} IQs of the same bytes via Prosody: median {b50 * 1e3:.1f} ms, "
          f"best {min(baseline) * 1e3:.1f} ms")  # fmt: skip
    print(f"  ratio (median): {o50 / b50:.2f}x, (best): {min(ours) / min(baseline):.2f}x (goal <= 2x)")


if __name__ == "__main__":
    main()
