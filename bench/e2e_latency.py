"""End-to-end latency of one conference change (issue: the bridge and the daemon). Run: python -m bench.e2e_latency

A room of the daemon backed by a SIP bridge has 50 XMPP participants (slixmpp clients logged in to a real
Prosody on loopback). The bridge is sipp answering the INVITEs with an `isfocus` Contact naming a conference
URI served by a notifier of ours in this process (a real RFC 4575 notifier on its own SIP port). One user
joins the bridge's conference: the notifier sends one partial NOTIFY to the daemon, which turns it into 50
Coin IQs through Prosody. Measured: from the room change at the notifier until all 50 participants have the
Coin IQ. Baseline, in the same run and through the same Prosody: one client sends 50 IQs of about the same
size (a conference-info document) to the same 50 clients; from the first send until all have it. The
participants and that client run in a process of their own (bench/e2e_clients.py). Goal: <= 2x.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import structlog
from sipmessage import URI, Address, Request

from gateway.conference_info import ConferenceInfo, Endpoint, EndpointStatus, State, User, Users
from gateway.config import load_config
from gateway.diff import diff
from gateway.document_writer import serialize
from gateway.merge import merge
from gateway.translate import Protocol
from gatewayd.daemon import Daemon
from sip.driver import Driver, EventHandler, SubscribeMachine
from sip.notifier import ConferenceNotifier
from sip.transport import TransportAddress
from sip.user_agent import UserAgent
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


class Clients:
    """The participants' process (bench/e2e_clients.py), spoken to in JSON lines."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls) -> Clients:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.e2e_clients", stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        return cls(process)

    async def ask(self, command: str, **args: object) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write((json.dumps({command: args}) + "\n").encode())
        await self.process.stdin.drain()
        line = await asyncio.wait_for(self.process.stdout.readline(), 120)
        assert line, "the clients' process ended"
        answer: dict[str, Any] = json.loads(line)
        return answer

    async def close(self) -> None:
        if self.process.returncode is None:
            with contextlib.suppress(Exception):
                assert self.process.stdin is not None
                self.process.stdin.write(b'{"quit": {}}\n')
                await asyncio.wait_for(self.process.wait(), 20)
        if self.process.returncode is None:
            self.process.kill()
            await self.process.wait()


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
        "[limits]\ncoalescing_window_ms = 0\n[media]\nsilence_timeout_s = 3600\n"
        f'[[rooms]]\nname = "weekly"\nsip_focus = "sip:weekly@127.0.0.1:{focus.port}"\n'
    )
    daemon = Daemon(load_config(config_path, environ={}))
    await daemon.start()
    await daemon.component.link.wait_online(10)
    clients = await Clients.start()
    try:
        await clients.ask(
            "login", port=prosody.c2s_port, password=prosody.password,
            jids=[f"{prosody.jid(f'p{n}')}/bench" for n in range(PARTICIPANTS)],
            sender=f"{prosody.jid('sender')}/bench",
        )  # fmt: skip
        await clients.ask("join", room=f"weekly@{prosody.component_domain}", offer=OFFER)

        # ours: one change at the bridge's notifier -> one partial NOTIFY -> 50 Coin IQs through Prosody
        ours = []
        shown = daemon.bridge.room("weekly")
        assert shown is not None
        for r in range(ROUNDS):
            before = shown.state(Protocol.XMPP)
            started = time.monotonic()
            room.join(r)
            driver.start(notifier.room_changed(room))
            ours.append((await clients.ask("coin"))["last"] - started)
            await asyncio.sleep(0.1)
        change = diff(before, shown.state(Protocol.XMPP))  # what the last round's Coin IQs carried
        assert change is not None

        # baseline: one client sends IQs carrying that document to the same 50 clients
        document = serialize(change).decode()
        payload = document[document.index("<conference-info") :]
        sample = len(payload)
        baseline = []
        for _ in range(ROUNDS):
            times = await clients.ask("baseline", payload=payload)
            baseline.append(times["last"] - times["first"])
            await asyncio.sleep(0.1)
        return ours, baseline, sample
    finally:
        await clients.close()
        await daemon.close()
        await driver.close()
        await ua.close()
        focus.stop()


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
    print(f"one partial NOTIFY into a room of {PARTICIPANTS} XMPP participants (baseline payload {size} bytes), "
          f"{ROUNDS} rounds each:")  # fmt: skip
    print(
        f"  NOTIFY -> all {PARTICIPANTS} Coin IQs received: median {o50 * 1e3:.1f} ms, best {min(ours) * 1e3:.1f} ms"
    )
    print(f"  one client's {PARTICIPANTS} IQs of the same bytes via Prosody: median {b50 * 1e3:.1f} ms, "
          f"best {min(baseline) * 1e3:.1f} ms")  # fmt: skip
    print(f"  ratio (median): {o50 / b50:.2f}x, (best): {min(ours) / min(baseline):.2f}x (goal <= 2x)")


if __name__ == "__main__":
    main()
