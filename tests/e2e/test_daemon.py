"""The daemon end to end, against real peers on loopback: Prosody (the XMPP server, slixmpp clients and an
XMPP mixer logged in to it), Kamailio presence_conference (the conference state of a SIP bridge, fed by
PUBLISH), sipp (the SIP bridge answering INVITEs with isfocus; SIP phones; a SIP user that is no focus).
Configured rooms first, then ad-hoc rooms (calls to mapped addresses)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from lxml import etree

from gateway.config import Config, load_config
from gateway.document_parser import parse
from gateway.merge import merge
from gatewayd.daemon import Daemon
from sip.transport import TransportAddress
from sip.user_agent import UserAgent
from tests.live.xmpp_client import CI, CLIENT, LiveClient
from tests.peers.kamailio import Kamailio
from tests.peers.process import free_port_both
from tests.peers.prosody import Prosody
from tests.peers.sipp import SippProcess, run_sipp
from tests.sip_live.conftest import Inbox
from tests.sip_live.test_kamailio_conference import etag_of, publish

pytestmark = [pytest.mark.live, pytest.mark.timeout(180)]

JINGLE = "urn:xmpp:jingle:1"
OFFER = (
    f'<content xmlns="{JINGLE}" creator="initiator" name="voice">'
    '<description xmlns="urn:xmpp:jingle:apps:rtp:1" media="audio">'
    '<payload-type id="111" name="opus" clockrate="48000" channels="2"/>'
    '<payload-type id="0" name="PCMU" clockrate="8000"/></description>'
    '<transport xmlns="urn:xmpp:jingle:transports:raw-udp:1">'
    '<candidate component="1" generation="0" id="c1" ip="127.0.0.1" port="5000"/></transport></content>'
)
# What the mixer answers the gateway's offer with: the gateway's Jingle leg offers ICE-UDP with DTLS-SRTP
# (XEP-0176, XEP-0320), so the answer must be ICE too. No candidate: no media is checked here (the live
# media tests are tests/e2e/test_media.py); the silence timeout is far longer than these calls.
MIXER_ANSWER = (
    f'<content xmlns="{JINGLE}" creator="initiator" name="voice">'
    '<description xmlns="urn:xmpp:jingle:apps:rtp:1" media="audio">'
    '<payload-type id="111" name="opus" clockrate="48000" channels="2"/>'
    '<payload-type id="0" name="PCMU" clockrate="8000"/></description>'
    '<transport xmlns="urn:xmpp:jingle:transports:ice-udp:1" ufrag="mixr" pwd="mixerpassword0123456789">'
    '<fingerprint xmlns="urn:xmpp:jingle:apps:dtls:0" hash="sha-256" setup="active">'
    + ":".join(["AB"] * 32)
    + "</fingerprint></transport></content>"
)
SIP_DOMAIN = "gw.localhost"
JMI = "urn:xmpp:jingle-message:0"


@pytest.fixture
def prosody(tmp_path: Path) -> Iterator[Prosody]:
    server = Prosody(tmp_path / "prosody", users=("alice", "bob", "mixer"))
    try:
        yield server
    finally:
        server.stop()


@dataclass
class SipBridge:
    """A SIP conference bridge: sipp answering INVITEs with an isfocus Contact (the conference URI on
    Kamailio, record-routing itself), its conference state PUBLISHed into Kamailio (`etag` of that)."""

    focus: SippProcess
    etag: str

    def room(self, name: str = "weekly") -> str:
        """A configuration's room backed by this bridge."""
        return f'[[rooms]]\nname = "{name}"\nsip_focus = "sip:{name}@127.0.0.1:{self.focus.port}"\n'


Bridges = Callable[..., Awaitable[SipBridge]]


@pytest.fixture
async def sip_bridge(tmp_path: Path, kamailio: Kamailio) -> AsyncIterator[Bridges]:
    """Start a bridge that answers `calls` calls; stopped after the test."""
    started: list[SippProcess] = []

    async def start(calls: int = 1) -> SipBridge:
        first = await publish(kamailio, tmp_path / "publish", "conf_publish_uac.xml")
        focus = await asyncio.to_thread(
            SippProcess, "focus_bridge_uas.xml", tmp_path / "focus", calls=calls, timeout=120,
            keys={"focus": kamailio.uri("conf")},
        )  # fmt: skip
        started.append(focus)
        return SipBridge(focus, etag_of(first))

    yield start
    for focus in started:
        focus.stop()


def write_config(
    path: Path,
    prosody: Prosody,
    sip_port: int,
    rooms: str,
    *,
    xmpp: str = "",
    sip: str = "",
    extra: str = "",
    window_ms: int = 50,
) -> Path:
    """A gateway configuration for these peers; `xmpp`, `sip` and `extra` add lines to those sections."""
    path.write_text(
        f'[xmpp]\ncomponent = "{prosody.component_domain}"\nsecret = "{prosody.secret}"\n'
        f'host = "127.0.0.1"\nport = {prosody.component_port}\n{xmpp}'
        f'[sip]\ndomain = "{SIP_DOMAIN}"\nlisten = ["udp:127.0.0.1:{sip_port}", "tcp:127.0.0.1:{sip_port}"]\n'
        f"{sip}[limits]\ncoalescing_window_ms = {window_ms}\n{extra}{rooms}"
    )
    return path


@pytest.fixture
async def start_daemon() -> AsyncIterator[object]:
    daemons: list[Daemon] = []

    async def start(config: Config) -> Daemon:
        daemon = Daemon(config)
        await daemon.start()
        daemons.append(daemon)
        await daemon.component.link.wait_online(10)
        return daemon

    yield start
    for daemon in daemons:
        await daemon.close()


async def login(prosody: Prosody, user: str, resource: str = "phone") -> LiveClient:
    client = LiveClient(f"{prosody.jid(user)}/{resource}", prosody.password)
    await client.login(prosody.c2s_port)
    return client


def users(document: etree._Element) -> list[str]:
    return [u.get("entity", "") for u in document.iter(f"{{{CI}}}user")]


async def join(client: LiveClient, room: str, sid: str) -> etree._Element:
    """Call the room: ack, session-accept with isfocus (acknowledged); returns the first Coin document."""
    client.send(
        f'<iq xmlns="{CLIENT}" type="set" id="init-{sid}" to="{room}"><jingle xmlns="{JINGLE}" '
        f'action="session-initiate" initiator="{client.boundjid.full}" sid="{sid}">{OFFER}</jingle></iq>'
    )
    assert (await client.iq_answer(f"init-{sid}")).get("type") == "result"
    accept = await client.next(lambda s: s.find(f"{{{JINGLE}}}jingle") is not None, timeout=20)
    jingle = accept.find(f"{{{JINGLE}}}jingle")
    assert jingle is not None and jingle.get("action") == "session-accept", etree.tostring(accept)
    isfocus = jingle.find("{urn:xmpp:coin:1}conference-info")
    assert isfocus is not None and isfocus.get("isfocus") == "true"
    content = jingle.find(f"{{{JINGLE}}}content")
    assert (
        content is not None and content.get("name") == "voice"
    )  # the offer's content, answered by the gateway's own Jingle leg
    client.send(f'<iq xmlns="{CLIENT}" type="result" id="{accept.get("id")}" to="{accept.get("from")}"/>')
    return await client.coin(timeout=20)


def terminate(client: LiveClient, room: str, sid: str) -> None:
    client.send(
        f'<iq xmlns="{CLIENT}" type="set" id="bye-{sid}" to="{room}"><jingle xmlns="{JINGLE}" '
        f'action="session-terminate" sid="{sid}"><reason><success/></reason></jingle></iq>'
    )


async def test_two_xmpp_clients_join_a_sip_bridge_and_follow_its_state(
    tmp_path: Path, prosody: Prosody, kamailio: Kamailio, sip_bridge: Bridges, start_daemon: object
) -> None:
    bridge = await sip_bridge(calls=2)
    port = free_port_both()
    rooms = bridge.room()
    config = load_config(write_config(tmp_path / "gw.toml", prosody, port, rooms), environ={})
    daemon = await start_daemon(config)  # type: ignore[operator]
    room = f"weekly@{prosody.component_domain}"

    alice = await login(prosody, "alice")
    full = await join(alice, room, "a1")
    assert full.get("state") == "full"
    # Kamailio's user, in XMPP form; its SIP address kept in associated-aors
    assert users(full) == ["xmpp:alice\\40127.0.0.1@sip.localhost"]
    assert b"sip:alice@127.0.0.1" in etree.tostring(full)
    assert full.get("entity") == f"xmpp:{room}"

    bob = await login(prosody, "bob")
    at_once = await join(bob, room, "b1")  # the second participant gets full state at once
    assert at_once.get("state") == "full" and users(at_once) == users(full)
    assert len(daemon.subscribers) == 1  # one SUBSCRIBE per room, shared

    # the bridge's state changes: both participants see it
    await publish(
        kamailio, tmp_path / "publish", "conf_publish_update_uac.xml", etag=bridge.etag, version="2"
    )
    for client in (alice, bob):
        update = await client.coin(timeout=20)
        assert "xmpp:bob\\40127.0.0.1@sip.localhost" in users(update)

    terminate(alice, room, "a1")
    terminate(bob, room, "b1")
    result = await asyncio.to_thread(bridge.focus.wait, 30)  # each leg ended with a BYE the bridge answered
    assert result.ok, str(result)
    for _ in range(100):
        if len(daemon.subscribers) == 0:
            break
        await asyncio.sleep(0.05)
    assert len(daemon.subscribers) == 0  # the last one out ended the subscription
    await alice.logout()
    await bob.logout()


class Mixer:
    """An XMPP mixer (a slixmpp client): answers the gateway's session-initiate with isfocus, after sending
    its conference state as Coin."""

    def __init__(self, client: LiveClient, users: list[str]) -> None:
        self.client = client
        self.users = users
        self.calls: list[str] = []
        self.task = asyncio.get_running_loop().create_task(self.run())

    async def run(self) -> None:
        version = 0
        while True:
            iq = await self.client.next(lambda s: s.find(f"{{{JINGLE}}}jingle") is not None, timeout=3600)
            jingle = iq.find(f"{{{JINGLE}}}jingle")
            assert jingle is not None
            caller, sid = iq.get("from", ""), jingle.get("sid", "")
            self.client.send(f'<iq xmlns="{CLIENT}" type="result" id="{iq.get("id")}" to="{caller}"/>')
            if jingle.get("action") != "session-initiate":
                continue
            self.calls.append(caller)
            version += 1
            people = "".join(
                f'<user entity="xmpp:{u}" state="full"><endpoint entity="xmpp:{u}/desk"><status>connected'
                "</status></endpoint></user>"
                for u in self.users
            )
            self.client.send(
                f'<iq xmlns="{CLIENT}" type="set" id="coin-{sid}" to="{caller}"><conference-info xmlns="{CI}" '
                f'entity="xmpp:{self.client.boundjid.bare}" state="full" version="1" sid="{sid}">'
                f"<users>{people}</users></conference-info></iq>"
            )
            # (not awaiting the Coin IQ's answer here: the next session-initiate may come meanwhile; Prosody
            # delivers the Coin IQ and the session-accept in order)
            answer = MIXER_ANSWER.replace(
                'name="voice"', f'name="{jingle.find(f"{{{JINGLE}}}content").get("name")}"'
            )  # type: ignore[union-attr]
            self.client.send(
                f'<iq xmlns="{CLIENT}" type="set" id="acc-{sid}" to="{caller}"><jingle xmlns="{JINGLE}" '
                f'action="session-accept" sid="{sid}" responder="{self.client.boundjid.full}">{answer}'
                '<conference-info xmlns="urn:xmpp:coin:1" isfocus="true"/></jingle></iq>'
            )


async def test_sip_phones_join_an_xmpp_room_and_see_the_mixers_state(
    tmp_path: Path, prosody: Prosody, start_daemon: object
) -> None:
    mixer_client = await login(prosody, "mixer", "desk")
    mixer = Mixer(mixer_client, ["romeo@montague.lit", "juliet@capulet.lit"])
    try:
        port = free_port_both()
        rooms = f'[[rooms]]\nname = "standup"\nxmpp_focus = "{prosody.jid("mixer")}/desk"\n'
        config = load_config(write_config(tmp_path / "gw.toml", prosody, port, rooms), environ={})
        await start_daemon(config)  # type: ignore[operator]
        expect = "entity=.sip:romeo%40montague.lit@gw.localhost"
        phones = [
            asyncio.to_thread(run_sipp, "phone_joins_room_uac.xml", port, tmp_path / f"phone{n}",
                              service="standup", keys={"expect": expect}, timeout=30, extra=["-d", "200"])
            for n in range(2)
        ]  # fmt: skip
        for result in await asyncio.gather(*phones):
            assert result.ok, str(result)
        assert len(mixer.calls) == 2  # one Jingle session to the mixer per phone

        # someone who is not in the room may not subscribe to it (default policy: participants)
        stranger = await asyncio.to_thread(
            run_sipp, "subscribe_only_uac.xml", port, tmp_path / "stranger", service="standup", timeout=15
        )
        assert stranger.ok, str(stranger)
    finally:
        mixer.task.cancel()
        await mixer_client.logout()


async def test_sigterm_ends_the_daemon_cleanly(tmp_path: Path, prosody: Prosody) -> None:
    port = free_port_both()
    rooms = '[[rooms]]\nname = "weekly"\nsip_focus = "sip:weekly@127.0.0.1:9"\n'
    config = write_config(tmp_path / "gw.toml", prosody, port, rooms)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gatewayd.main", "--log-format", "json", "run", "--config", str(config),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert process.stderr is not None
        while True:
            line = await asyncio.wait_for(process.stderr.readline(), 20)
            assert line, "the daemon exited before it was up"
            if b"component link up" in line:
                break
        os.kill(process.pid, signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 20) == 0
        rest = await process.stderr.read()
        assert b"gateway stopped" in rest
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_a_bad_configuration_is_exit_1_with_every_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[xmpp]\ncomponent = ""\n[sip]\nlisten = ["nowhere"]\n')
    done = subprocess.run(
        [sys.executable, "-m", "gatewayd.main", "--log-format", "json", "run", "--config", str(bad)],
        capture_output=True, timeout=30, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    for where in (b"xmpp.component", b"xmpp.secret", b"sip.domain", b"sip.listen.0"):
        assert where in done.stderr, where


async def test_a_burst_of_50_changes_reaches_each_recipient_as_one_or_two_documents(
    tmp_path: Path, prosody: Prosody, start_daemon: object
) -> None:
    """The mixer sends 50 changes at once; within the coalescing window they become one or two NOTIFYs for
    a subscriber of the room (a SIP user agent of ours, counting what it receives)."""
    mixer_client = await login(prosody, "mixer", "desk")
    mixer = Mixer(mixer_client, ["romeo@montague.lit"])
    phone = None
    watcher = UserAgent([TransportAddress("udp", "127.0.0.1", free_port_both())])
    await watcher.start()
    inbox = Inbox()
    watcher.handler = inbox
    try:
        port = free_port_both()
        rooms = f'[[rooms]]\nname = "standup"\nxmpp_focus = "{prosody.jid("mixer")}/desk"\n'
        path = write_config(tmp_path / "gw.toml", prosody, port, rooms, window_ms=300,
                            extra='[policy]\nsubscribe = "anyone"\n')  # fmt: skip
        await start_daemon(load_config(path, environ={}))  # type: ignore[operator]
        # a phone in the call for 8 s: the room's mixer session lives as long
        phone = await asyncio.to_thread(
            SippProcess, "phone_in_call_uac.xml", tmp_path / "phone", remote_port=port, service="standup",
            timeout=30, extra=["-d", "8000"],
        )  # fmt: skip
        for _ in range(200):
            if mixer.calls:
                break
            await asyncio.sleep(0.05)
        assert mixer.calls
        await asyncio.sleep(0.5)
        mixer.task.cancel()  # from here the test reads the mixer's inbox itself

        room_uri = f"sip:standup@127.0.0.1:{port}"
        subscribe = watcher.new_request(
            "SUBSCRIBE", room_uri, from_uri="<sip:watcher@example.net>", to_uri=f"<{room_uri}>",
            headers=[("Event", "conference"), ("Accept", "application/conference-info+xml"), ("Expires", "60")],
        )  # fmt: skip
        assert (await watcher.send(subscribe)).code == 200
        state = merge(None, parse((await inbox.next()).message.body))
        assert list(state.user_map()) == ["sip:romeo%40montague.lit@gw.localhost"]

        caller, sid = mixer.calls[0], "leg1"
        for n in range(50):
            mixer_client.send(
                f'<iq xmlns="{CLIENT}" type="set" id="burst{n}" to="{caller}"><conference-info xmlns="{CI}" '
                f'entity="xmpp:{mixer_client.boundjid.bare}" state="partial" version="{n + 2}" sid="{sid}">'
                f'<users state="partial"><user entity="xmpp:user{n}@example.org" state="full">'
                f'<endpoint entity="xmpp:user{n}@example.org/x"><status>connected</status></endpoint></user>'
                "</users></conference-info></iq>"
            )
        for n in range(50):
            assert (await mixer_client.iq_answer(f"burst{n}")).get("type") == "result"
        documents = []
        with contextlib.suppress(TimeoutError):
            while True:
                documents.append(parse((await inbox.next(timeout=1.5)).message.body))
        assert 1 <= len(documents) <= 2, len(documents)
        for document in documents:
            state = merge(state, document)
        assert len(state.user_map()) == 51
        result = await asyncio.to_thread(phone.wait, 30)
        assert result.ok, str(result)
    finally:
        if phone is not None:
            phone.stop()
        mixer.task.cancel()
        await mixer_client.logout()
        await watcher.close()


async def test_kamailio_restarted_mid_call_the_room_resyncs(
    tmp_path: Path, prosody: Prosody, kamailio: Kamailio, sip_bridge: Bridges, start_daemon: object
) -> None:
    bridge = await sip_bridge()
    port = free_port_both()
    rooms = bridge.room()
    # a short subscription: the refresh (at 80%) finds the restarted notifier within seconds
    path = write_config(tmp_path / "gw.toml", prosody, port, rooms, sip="subscribe_expires = 10\n")
    await start_daemon(load_config(path, environ={}))  # type: ignore[operator]
    room = f"weekly@{prosody.component_domain}"
    alice = await login(prosody, "alice")
    assert users(await join(alice, room, "a1")) == ["xmpp:alice\\40127.0.0.1@sip.localhost"]

    # Kamailio restarts with an empty database; the bridge publishes its (changed) state again
    await asyncio.to_thread(kamailio.stop)
    await asyncio.to_thread(Kamailio.__post_init__, kamailio)  # a new, empty database
    await asyncio.to_thread(kamailio.start)
    for attempt in range(10):
        republished = await asyncio.to_thread(
            run_sipp, "conf_publish_two_uac.xml", kamailio.port, tmp_path / f"publish{attempt + 2}",
            keys={"version": "1"},
        )  # fmt: skip
        if republished.ok:
            break
        await asyncio.sleep(0.5)
    assert republished.ok, f"{republished}\n{kamailio.log()}"

    seen: list[list[str]] = []
    while "xmpp:bob\\40127.0.0.1@sip.localhost" not in (seen[-1] if seen else []):
        document = await alice.coin(timeout=30)
        seen.append(users(document))
    terminate(alice, room, "a1")
    assert (await asyncio.to_thread(bridge.focus.wait, 30)).ok
    await alice.logout()


async def test_prosody_restarted_participants_get_full_state_again(
    tmp_path: Path, prosody: Prosody, sip_bridge: Bridges, start_daemon: object
) -> None:
    bridge = await sip_bridge()
    port = free_port_both()
    rooms = bridge.room()
    # the component comes back 2-4 s after the loss: the participant's client is back before it
    path = write_config(tmp_path / "gw.toml", prosody, port, rooms,
                        xmpp="reconnect_initial_ms = 4000\nreconnect_max_s = 4\n")  # fmt: skip
    daemon: Daemon = await start_daemon(load_config(path, environ={}))  # type: ignore[operator]
    room = f"weekly@{prosody.component_domain}"
    alice = await login(prosody, "alice")
    first = await join(alice, room, "a1")
    await asyncio.to_thread(prosody.restart)
    alice.abort()
    await alice.logout()
    alice = await login(prosody, "alice")
    again = await alice.coin(timeout=20)
    assert again.get("state") == "full" and users(again) == users(first)
    assert int(again.get("version", "0")) > int(first.get("version", "0"))
    assert daemon.component.link.connections == 2
    terminate(alice, room, "a1")
    assert (await asyncio.to_thread(bridge.focus.wait, 30)).ok
    await alice.logout()


async def test_sigterm_ends_every_subscription_and_session(
    tmp_path: Path, prosody: Prosody, sip_bridge: Bridges
) -> None:
    bridge = await sip_bridge()
    port = free_port_both()
    rooms = bridge.room() + f'[[rooms]]\nname = "standup"\nxmpp_focus = "{prosody.jid("mixer")}/desk"\n'
    path = write_config(tmp_path / "gw.toml", prosody, port, rooms, extra='[policy]\nsubscribe = "anyone"\n')
    await sigterm_scenario(tmp_path, prosody, port, path, bridge.focus)


async def sigterm_scenario(
    tmp_path: Path, prosody: Prosody, port: int, path: Path, focus: SippProcess
) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gatewayd.main", "--log-format", "json", "run", "--config", str(path),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    watcher = None
    try:
        assert process.stderr is not None
        while b"component link up" not in (line := await asyncio.wait_for(process.stderr.readline(), 20)):
            assert line, "the daemon exited before it was up"
        drain = asyncio.get_running_loop().create_task(process.stderr.read())  # its logs must not block it
        alice = await login(prosody, "alice")
        await join(alice, f"weekly@{prosody.component_domain}", "a1")
        watcher = await asyncio.to_thread(
            SippProcess, "subscribe_until_noresource_uac.xml", tmp_path / "watcher", remote_port=port,
            service="standup", timeout=30,
        )  # fmt: skip
        await asyncio.sleep(1.0)  # subscribed
        os.kill(process.pid, signal.SIGTERM)
        ended = await alice.next(lambda s: s.find(f"{{{JINGLE}}}jingle") is not None, timeout=15)
        jingle = ended.find(f"{{{JINGLE}}}jingle")
        assert jingle is not None and jingle.get("action") == "session-terminate"
        assert (await asyncio.to_thread(watcher.wait, 20)).ok  # terminated;reason=noresource
        assert (await asyncio.to_thread(focus.wait, 20)).ok  # the bridge got its BYE
        assert await asyncio.wait_for(process.wait(), 20) == 0
        assert b"gateway stopped" in await drain
        await alice.logout()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        if watcher is not None:
            watcher.stop()


# -- ad-hoc rooms: a call to any mapped address; a room forms when the far side is a focus -------------------


async def call(client: LiveClient, callee: str, sid: str) -> etree._Element:
    """Call `callee` (a JID of the component): ack, then the session-accept (acknowledged), returned."""
    client.send(
        f'<iq xmlns="{CLIENT}" type="set" id="init-{sid}" to="{callee}"><jingle xmlns="{JINGLE}" '
        f'action="session-initiate" initiator="{client.boundjid.full}" sid="{sid}">{OFFER}</jingle></iq>'
    )
    assert (await client.iq_answer(f"init-{sid}")).get("type") == "result"
    accept = await client.next(lambda s: s.find(f"{{{JINGLE}}}jingle") is not None, timeout=20)
    jingle = accept.find(f"{{{JINGLE}}}jingle")
    assert jingle is not None and jingle.get("action") == "session-accept", etree.tostring(accept)
    client.send(f'<iq xmlns="{CLIENT}" type="result" id="{accept.get("id")}" to="{accept.get("from")}"/>')
    return jingle


def isfocus(jingle: etree._Element) -> str | None:
    found = jingle.find("{urn:xmpp:coin:1}conference-info")
    return found.get("isfocus") if found is not None else None


async def test_an_xmpp_client_calls_a_sip_focus_by_its_address_and_gets_its_conference_state(
    tmp_path: Path, prosody: Prosody, sip_bridge: Bridges, start_daemon: object
) -> None:
    bridge = await sip_bridge()
    port = free_port_both()
    config = load_config(write_config(tmp_path / "gw.toml", prosody, port, ""), environ={})
    daemon: Daemon = await start_daemon(config)  # type: ignore[operator]
    # no room configured: the SIP address itself, in its XMPP form under the component
    callee = daemon.addresses.to_xmpp(f"sip:conf@127.0.0.1:{bridge.focus.port}").removeprefix("xmpp:")
    assert callee == f"conf\\40127.0.0.1\\3a{bridge.focus.port}@{prosody.component_domain}"

    alice = await login(prosody, "alice")
    accepted = await call(alice, callee, "a1")
    assert isfocus(accepted) == "true"  # the callee answered with an isfocus Contact
    coin = await alice.coin(timeout=20)
    assert coin.get("state") == "full" and coin.get("entity") == f"xmpp:{callee}"
    assert users(coin) == ["xmpp:alice\\40127.0.0.1@sip.localhost"]  # the state published into Kamailio
    assert len(daemon.subscribers) == 1

    terminate(alice, callee, "a1")
    result = await asyncio.to_thread(bridge.focus.wait, 30)
    assert result.ok, str(result)
    for _ in range(100):
        if len(daemon.subscribers) == 0 and not daemon.bridge.room_names():
            break
        await asyncio.sleep(0.05)
    assert len(daemon.subscribers) == 0 and daemon.bridge.room_names() == []  # the room went with its call
    await alice.logout()


async def test_an_xmpp_client_calls_a_sip_user_that_is_no_focus_and_no_subscription_is_made(
    tmp_path: Path, prosody: Prosody, start_daemon: object
) -> None:
    callee_uas = await asyncio.to_thread(SippProcess, "plain_callee_uas.xml", tmp_path / "bob", timeout=60)
    try:
        port = free_port_both()
        config = load_config(write_config(tmp_path / "gw.toml", prosody, port, ""), environ={})
        daemon: Daemon = await start_daemon(config)  # type: ignore[operator]
        callee = daemon.addresses.to_xmpp(f"sip:bob@127.0.0.1:{callee_uas.port}").removeprefix("xmpp:")

        alice = await login(prosody, "alice")
        accepted = await call(alice, callee, "a1")
        assert isfocus(accepted) is None  # a 1:1 call: no isfocus
        with pytest.raises(TimeoutError):  # and no Coin
            await alice.coin(timeout=2)
        assert len(daemon.subscribers) == 0  # no SUBSCRIBE was sent

        terminate(alice, callee, "a1")
        result = await asyncio.to_thread(callee_uas.wait, 30)
        assert result.ok, str(result)  # BYE answered; no SUBSCRIBE reached it
        for _ in range(100):
            if not daemon.bridge.room_names():
                break
            await asyncio.sleep(0.05)
        assert daemon.bridge.room_names() == []
        await alice.logout()
    finally:
        callee_uas.stop()


async def test_a_sip_phone_calls_an_xmpp_user_who_proceeds_and_answers_as_a_focus(
    tmp_path: Path, prosody: Prosody, start_daemon: object
) -> None:
    callee = await login(prosody, "mixer", "desk")
    callee.send(f'<presence xmlns="{CLIENT}"/>')  # online: a message to the bare JID reaches this resource
    mixer: Mixer | None = None
    try:
        port = free_port_both()
        config = load_config(write_config(tmp_path / "gw.toml", prosody, port, ""), environ={})
        daemon: Daemon = await start_daemon(config)  # type: ignore[operator]
        user = prosody.jid("mixer").replace(
            "@", "%40"
        )  # sip:mixer%40<domain>@gateway <-> xmpp:mixer@<domain>
        phone = asyncio.create_task(
            asyncio.to_thread(
                run_sipp, "phone_joins_room_uac.xml", port, tmp_path / "phone", service=user,
                keys={"expect": "entity=.sip:romeo%40montague.lit@gw.localhost"}, timeout=30,
                extra=["-d", "200"],
            )
        )  # fmt: skip
        # the gateway proposes (XEP-0353) to the bare JID; the callee proceeds, then answers the
        # session-initiate as a focus with its Coin (the Mixer)
        propose = await callee.next(lambda s: s.find(f"{{{JMI}}}propose") is not None, timeout=20)
        element = propose.find(f"{{{JMI}}}propose")
        assert element is not None and propose.get("to") == prosody.jid("mixer")
        assert propose.get("from", "").startswith(f"phone1\\40example.net@{prosody.component_domain}/")
        callee.send(
            f'<message xmlns="{CLIENT}" type="chat" to="{propose.get("from")}">'
            f'<proceed xmlns="{JMI}" id="{element.get("id")}"/></message>'
        )
        mixer = Mixer(callee, ["romeo@montague.lit"])
        result = await phone  # 200 with isfocus; its SUBSCRIBE to that Contact got the Coin state in SIP form
        assert result.ok, str(result)
        assert mixer.calls == [f"phone1\\40example.net@{prosody.component_domain}/{element.get('id')}"]
        for _ in range(100):
            if not daemon.bridge.room_names():
                break
            await asyncio.sleep(0.05)
        assert daemon.bridge.room_names() == []  # the room went with its call
    finally:
        if mixer is not None:
            mixer.task.cancel()
        await callee.logout()


async def test_a_call_to_an_xmpp_user_is_plain_until_the_callee_says_it_is_a_conference(
    tmp_path: Path, prosody: Prosody, start_daemon: object
) -> None:
    callee = await login(prosody, "bob", "desk")
    callee.send(f'<presence xmlns="{CLIENT}"/>')
    try:
        port = free_port_both()
        config = load_config(write_config(tmp_path / "gw.toml", prosody, port, ""), environ={})
        await start_daemon(config)  # type: ignore[operator]
        phone = asyncio.create_task(
            asyncio.to_thread(
                run_sipp, "phone_call_becomes_conference_uac.xml", port, tmp_path / "phone",
                service=prosody.jid("bob").replace("@", "%40"), timeout=30, extra=["-d", "500"],
            )
        )  # fmt: skip
        propose = await callee.next(lambda s: s.find(f"{{{JMI}}}propose") is not None, timeout=20)
        pid = propose.find(f"{{{JMI}}}propose").get("id")  # type: ignore[union-attr]
        caller = propose.get("from")
        callee.send(
            f'<message xmlns="{CLIENT}" type="chat" to="{caller}"><proceed xmlns="{JMI}" id="{pid}"/></message>'
        )
        initiate = await callee.next(lambda s: s.find(f"{{{JINGLE}}}jingle") is not None, timeout=20)
        callee.send(f'<iq xmlns="{CLIENT}" type="result" id="{initiate.get("id")}" to="{caller}"/>')
        # accepted as a plain call (no isfocus): the phone's 200 has no isfocus
        callee.send(
            f'<iq xmlns="{CLIENT}" type="set" id="acc" to="{caller}"><jingle xmlns="{JINGLE}" '
            f'action="session-accept" sid="{pid}" responder="{callee.boundjid.full}">{MIXER_ANSWER}</jingle></iq>'
        )
        assert (await callee.iq_answer("acc")).get("type") == "result"
        await asyncio.sleep(0.5)
        # the call becomes a conference: session-info isfocus -> the gateway re-INVITEs with isfocus
        callee.send(
            f'<iq xmlns="{CLIENT}" type="set" id="info" to="{caller}"><jingle xmlns="{JINGLE}" '
            f'action="session-info" sid="{pid}"><conference-info xmlns="urn:xmpp:coin:1" isfocus="true"/>'
            "</jingle></iq>"
        )
        assert (await callee.iq_answer("info")).get("type") == "result"
        result = await phone
        assert result.ok, str(result)
    finally:
        await callee.logout()
