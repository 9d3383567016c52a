"""The XMPP side against a real Prosody: the component link, Jingle calls to rooms, Coin, disco, JMI,
reconnection after a server restart, a server that stops reading, and hostile clients."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable
from typing import Any

import pytest
from lxml import etree

from tests.live.conftest import Gateway
from tests.live.xmpp_client import CI, CLIENT, LiveClient
from tests.peers.prosody import Prosody
from tests.rooms import InProcessRoom, Rooms
from xmpp.component_link import LinkSettings
from xmpp.component_service import XmppComponent

pytestmark = pytest.mark.live

JINGLE = "urn:xmpp:jingle:1"
STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
OFFER = (
    f'<content xmlns="{JINGLE}" creator="initiator" name="0">'
    '<description xmlns="urn:xmpp:jingle:apps:rtp:1" media="audio">'
    '<payload-type id="111" name="opus" clockrate="48000" channels="2"/></description>'
    '<transport xmlns="urn:xmpp:jingle:transports:ice-udp:1" ufrag="a" pwd="bbbbbbbbbbbbbbbbbbbbbb"/></content>'
)
Factory = Callable[..., Any]


def initiate(client: LiveClient, room: str, sid: str, iq_id: str = "init1", offer: str = OFFER) -> None:
    client.send(
        f'<iq xmlns="{CLIENT}" type="set" id="{iq_id}" to="{room}">'
        f'<jingle xmlns="{JINGLE}" action="session-initiate" initiator="{client.boundjid.full}" sid="{sid}">'
        f"{offer}</jingle></iq>"
    )


def condition(stanza: etree._Element) -> str:
    error = stanza.find(f"{{{CLIENT}}}error")
    assert error is not None, etree.tostring(stanza)
    return next(etree.QName(c).localname for c in error if etree.QName(c).namespace == STANZAS)


def users(document: etree._Element) -> list[str]:
    return [u.get("entity", "") for u in document.iter(f"{{{CI}}}user")]


async def join_call(client: LiveClient, room: InProcessRoom, sid: str = "s1") -> etree._Element:
    """Call the room; check the ack and the session-accept with isfocus; return the first (full) document."""
    initiate(client, room.jid, sid)
    ack = await client.iq_answer("init1")
    assert ack.get("type") == "result"
    accept = await client.next(lambda s: s.find(f"{{{JINGLE}}}jingle") is not None)
    jingle = accept.find(f"{{{JINGLE}}}jingle")
    assert jingle is not None and jingle.get("action") == "session-accept" and jingle.get("sid") == sid
    isfocus = jingle.find("{urn:xmpp:coin:1}conference-info")
    assert isfocus is not None and isfocus.get("isfocus") == "true"
    client.send(f'<iq xmlns="{CLIENT}" type="result" id="{accept.get("id")}" to="{accept.get("from")}"/>')
    return await client.coin()


async def test_call_gets_accept_with_isfocus_then_full_then_partial_coin(
    gateway: Gateway, client_factory: Factory
) -> None:
    room = gateway.room()
    room.join("xmpp:carol@example.com", "Carol")
    alice = await client_factory("alice")
    full = await join_call(alice, room)
    assert (full.get("state"), full.get("version")) == ("full", "1")
    assert users(full) == ["xmpp:carol@example.com"]
    assert all(u.get("state") == "full" for u in full.iter(f"{{{CI}}}user"))  # Dino needs it written

    room.join("xmpp:dave@example.com", "Dave")
    gateway.component.room_changed(room)
    partial = await alice.coin()
    assert (partial.get("state"), partial.get("version")) == ("partial", "2")
    assert users(partial) == ["xmpp:dave@example.com"]
    # the client answered both Coin IQs (auto_result): nothing is left waiting for an answer
    await asyncio.sleep(0.2)
    assert not [p for p in gateway.component.service._pending.values() if p.action is None]


async def test_a_burst_of_changes_becomes_one_document(gateway: Gateway, client_factory: Factory) -> None:
    room = gateway.room()
    alice = await client_factory("alice")
    await join_call(alice, room)
    for n in range(20):
        room.join(f"xmpp:user{n}@example.com", f"User {n}")
        gateway.component.room_changed(room)
    partial = await alice.coin()
    assert partial.get("version") == "2" and len(users(partial)) == 20
    with pytest.raises(TimeoutError):
        await alice.coin(timeout=0.5)


async def test_call_through_jingle_message_initiation(gateway: Gateway, client_factory: Factory) -> None:
    room = gateway.room()
    alice = await client_factory("alice")
    alice.send(
        f'<message xmlns="{CLIENT}" type="chat" to="{room.jid}" id="m1">'
        f'<propose xmlns="urn:xmpp:jingle-message:0" id="jmi1">'
        f'<description xmlns="urn:xmpp:jingle:apps:rtp:1" media="audio"/></propose></message>'
    )
    seen = []
    for _ in range(2):
        message = await alice.next(lambda s: etree.QName(s).localname == "message")
        seen.append(next(etree.QName(c).localname for c in message if isinstance(c.tag, str)))
        assert message.get("from") == f"{room.jid}/gw"
    assert seen == ["ringing", "proceed"]
    full = await join_call(alice, room, sid="jmi1")
    assert full.get("version") == "1"
    assert room.calls[0].sid == "jmi1"


@pytest.mark.parametrize("local", ["weekly", "alice\\40example.net"])
async def test_disco_info_on_room_and_escaped_user_jids(
    gateway: Gateway, client_factory: Factory, local: str
) -> None:
    gateway.room()
    alice = await client_factory("alice")
    alice.send(
        f'<iq xmlns="{CLIENT}" type="get" id="d1" to="{local}@{gateway.domain}">'
        '<query xmlns="http://jabber.org/protocol/disco#info"/></iq>'
    )
    answer = await alice.iq_answer("d1")
    assert answer.get("type") == "result"
    features = {f.get("var") for f in answer.iter("{http://jabber.org/protocol/disco#info}feature")}
    assert {"urn:xmpp:coin:1", "urn:xmpp:coin", "urn:xmpp:jingle:1", "jid\\20escaping"} <= features
    identity = answer.find(".//{http://jabber.org/protocol/disco#info}identity")
    assert identity is not None and identity.get("category") == "gateway"


async def test_coin_from_a_stranger_or_with_a_wrong_sid_is_refused(
    gateway: Gateway, client_factory: Factory
) -> None:
    room = gateway.room()
    alice = await client_factory("alice")
    mallory = await client_factory("mallory")
    await join_call(alice, room)
    document = (
        f'<conference-info xmlns="{CI}" entity="xmpp:{room.jid}" state="full" version="1">'
        '<users><user entity="xmpp:x@example.com" state="full"/></users></conference-info>'
    )
    mallory.send(f'<iq xmlns="{CLIENT}" type="set" id="c1" to="{room.jid}">{document}</iq>')
    assert condition(await mallory.iq_answer("c1")) == "forbidden"
    # Prosody refuses a client's IQ with two children ("Incorrect number of children"), so a client names
    # the session the way Jitsi does: a sid attribute on the document.
    wrong_sid = document.replace("<conference-info ", '<conference-info sid="not-the-sid" ')
    alice.send(f'<iq xmlns="{CLIENT}" type="set" id="c2" to="{room.jid}">{wrong_sid}</iq>')
    answer = await alice.iq_answer("c2")
    assert condition(answer) == "item-not-found", etree.tostring(answer)
    assert room.received == []


async def test_prosody_restart_the_component_comes_back_and_sends_full_state(
    tmp_path: Any, client_factory: Factory
) -> None:
    prosody = Prosody(tmp_path / "restart")
    rooms = Rooms()
    # The first retry comes 2 to 4 s after the loss, so the participant's client (which logs in again at once,
    # in well under a second) is back before us: the full document then has someone to reach.
    settings = LinkSettings(
        prosody.component_domain, prosody.secret, port=prosody.component_port, backoff_initial=4.0,
        backoff_max=4.0,
    )  # fmt: skip
    component = XmppComponent(settings, rooms, coalescing_window=0.05)
    try:
        component.start()
        await component.link.wait_online(10)
        gateway = Gateway(component, rooms, prosody.component_domain)
        room = gateway.room()
        alice = LiveClient(prosody.jid("alice") + "/phone", prosody.password)
        await alice.login(prosody.c2s_port)
        first = await join_call(alice, room)
        assert first.get("version") == "1"

        await asyncio.to_thread(prosody.restart)
        started = time.monotonic()
        alice.abort()  # its stream died with the server
        await alice.logout()
        alice = LiveClient(prosody.jid("alice") + "/phone", prosody.password)
        await alice.login(prosody.c2s_port)
        again = await alice.coin(timeout=15)
        assert time.monotonic() - started < 15
        assert (again.get("state"), again.get("version")) == ("full", "2")
        assert component.link.connections == 2
        await alice.logout()
    finally:
        await component.close()
        prosody.stop()


async def test_a_server_that_stops_reading_does_not_grow_memory(
    gateway: Gateway, prosody: Prosody, client_factory: Factory
) -> None:
    """Prosody frozen (SIGSTOP): what we send waits in a queue bounded in bytes; past the bound the stream is
    reset, and once the server reads again the link is back and the participant gets full state."""
    room = gateway.room()
    for n in range(300):
        room.join(f"xmpp:user{n}@example.com", f"User number {n} with a long display name")
    alice = await client_factory("alice")
    await join_call(alice, room)
    link = gateway.component.link
    limit = 1 << 20
    object.__setattr__(link.settings, "max_queued_bytes", limit)
    assert prosody.process is not None
    os.kill(prosody.process.pid, signal.SIGSTOP)
    try:
        peak = 0
        for _ in range(400):  # ~100 KB each: 40 MB, far more than the kernel's socket buffers hold
            gateway.component._send(gateway.component.service.online())
            peak = max(peak, link.queued_bytes)
            if not link.online:
                break
            await asyncio.sleep(0)
        assert not link.online, "the stream was never reset"
        assert peak <= limit
    finally:
        os.kill(prosody.process.pid, signal.SIGCONT)
    await link.wait_online(15)
    assert link.connections == 2
    document = await alice.coin(timeout=15)
    while document.get("state") != "full" or len(users(document)) != 300:
        document = await alice.coin(timeout=15)


async def test_hostile_stanzas_get_errors_and_the_component_stays_connected(
    gateway: Gateway, client_factory: Factory
) -> None:
    room = gateway.room()
    alice = await client_factory("alice")
    alice.send(
        f'<iq xmlns="{CLIENT}" type="set" id="h1" to="{room.jid}">'
        f'<jingle xmlns="{JINGLE}" action="session-initiate"/></iq>'
    )
    assert condition(await alice.iq_answer("h1")) == "bad-request"
    alice.send(
        f'<iq xmlns="{CLIENT}" type="set" id="h2" to="{room.jid}">'
        f'<jingle xmlns="{JINGLE}" action="session-dance" sid="x"/></iq>'
    )
    assert condition(await alice.iq_answer("h2")) == "bad-request"

    huge = "".join(
        f'<payload-type id="{n % 128}" name="codec{n}" clockrate="8000"/>' for n in range(20_000)
    )  # ~1 MB of description
    big_offer = OFFER.replace("</description>", huge + "</description>")
    assert len(big_offer) > 1_000_000
    initiate(alice, room.jid, "big", iq_id="h3", offer=big_offer)
    assert condition(await alice.iq_answer("h3", timeout=20)) == "policy-violation"

    alice.send(
        f'<iq xmlns="{CLIENT}" type="get" id="h4" to="ab\\@{gateway.domain}">'
        '<query xmlns="http://jabber.org/protocol/disco#info"/></iq>'
    )
    answer = await alice.iq_answer("h4")
    assert answer.get("type") in ("result", "error")  # answered; Prosody may refuse the JID itself
    initiate(alice, f"ab\\@{gateway.domain}", "bs", iq_id="h5")
    assert (await alice.iq_answer("h5")).get("type") == "error"

    # a flood: 1,000 IQs at once from one JID; past the burst they get resource-constraint
    for n in range(1000):
        alice.send(
            f'<iq xmlns="{CLIENT}" type="get" id="f{n}" to="{room.jid}">'
            '<query xmlns="http://jabber.org/protocol/disco#info"/></iq>'
        )
    answers = [await alice.iq_answer(f"f{n}", timeout=30) for n in range(1000)]
    refused = [a for a in answers if a.get("type") == "error"]
    assert refused and all(condition(a) == "resource-constraint" for a in refused)
    assert len(answers) - len(refused) >= 100  # the burst went through

    # still connected and serving: a new participant calls and gets state
    assert gateway.component.link.online and gateway.component.link.connections == 1
    bob = await client_factory("bob")
    full = await join_call(bob, room)
    assert full.get("state") == "full"
