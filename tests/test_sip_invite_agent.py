"""sip.invite_agent over loopback: two of our user agents calling each other, and a raw peer that shows what
goes on the wire (2xx retransmission until the ACK, BYE when none comes, CANCEL)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sipmessage import Request

from gateway.sdp import parse_sdp, serialize_sdp
from sip.invite_agent import InviteAgent
from sip.invite_session import (
    CallFailed,
    Ended,
    Established,
    FocusChanged,
    IncomingCall,
    InviteSessions,
    MediaUpdated,
    Report,
    Ringing,
)
from sip.offer_answer import AudioNegotiator
from sip.transactions import Timers
from sip.transport import TransportAddress
from sip.user_agent import UserAgent
from tests.peers.process import free_port_both
from tests.peers.raw_sip import RawUdpPeer, answer, sip_message

FAST = Timers(t1=0.05, t2=0.2, t4=0.2, timer_d=0.5)
pytestmark = pytest.mark.timeout(30)


class Party:
    """A user agent with its INVITE agent; `answer` says what its owner does with an incoming call."""

    def __init__(self, ua: UserAgent, answer: str) -> None:
        self.ua = ua
        self.answer = answer
        self.sessions = InviteSessions(
            contact=ua.contact().uri, negotiator=lambda: AudioNegotiator("127.0.0.1", 40000), timers=FAST
        )
        self.agent = InviteAgent(ua, self.sessions, on_report=self._owner)
        ua.handler = self.agent

    def _owner(self, report: Report) -> None:
        if isinstance(report, IncomingCall) and self.answer in ("ring", "accept"):
            self.agent.run(report.session.ring())
            if self.answer == "accept":
                self.agent.run(report.session.accept())

    async def next(self, kind: type[Any], timeout: float = 5.0) -> Any:
        async with asyncio.timeout(timeout):
            while True:
                report = await self.agent.reports.get()
                if isinstance(report, kind):
                    return report


async def party(answer: str = "accept") -> Party:
    port = free_port_both()
    ua = UserAgent([TransportAddress("udp", "127.0.0.1", port)], timers=FAST)
    await ua.start()
    return Party(ua, answer)


@pytest.fixture
async def bridge() -> AsyncIterator[Party]:
    p = await party("accept")
    yield p
    await p.agent.close()
    await p.ua.close()


@pytest.fixture
async def gateway() -> AsyncIterator[Party]:
    p = await party("accept")
    yield p
    await p.agent.close()
    await p.ua.close()


@pytest.fixture
async def peer() -> AsyncIterator[RawUdpPeer]:
    raw = await RawUdpPeer.open()
    yield raw
    raw.close()


async def test_call_answer_and_hang_up_between_two_agents(gateway: Party, bridge: Party) -> None:
    port = bridge.ua.local_address().port
    session = gateway.agent.call(f"sip:conf@127.0.0.1:{port}", local="<sip:gw@127.0.0.1>")
    assert (await gateway.next(Ringing)).code == 180
    ours = await gateway.next(Established)
    assert ours.remote_focus is True  # the bridge answers for a room: isfocus
    assert str(session.conference_uri) == f"sip:conf@127.0.0.1:{port}"
    theirs = await bridge.next(Established)
    assert theirs.remote_focus is False
    gateway.agent.run(session.hangup())
    assert (await bridge.next(Ended)).reason == "bye"
    assert (await gateway.next(Ended)).reason == "hangup"
    assert len(gateway.sessions) == len(bridge.sessions) == 0


async def test_reinvite_between_two_agents_turns_the_call_into_a_conference(
    gateway: Party, bridge: Party
) -> None:
    port = bridge.ua.local_address().port
    session = gateway.agent.call(f"sip:conf@127.0.0.1:{port}", local="<sip:gw@127.0.0.1>")
    await gateway.next(Established)
    await bridge.next(Established)
    gateway.agent.run(session.reinvite(focus=True))
    change = await bridge.next(FocusChanged)
    assert change.remote_focus is True
    await gateway.next(MediaUpdated)


def invite_to(ua: UserAgent, peer: RawUdpPeer, branch: str = "z9hG4bKraw1") -> bytes:
    offer = serialize_sdp(AudioNegotiator("127.0.0.1", 41000).offer())
    return sip_message(
        f"""
        INVITE sip:room@127.0.0.1:{ua.local_address().port} SIP/2.0
        Via: SIP/2.0/UDP 127.0.0.1:{peer.port};branch={branch};rport
        From: <sip:phone@127.0.0.1:{peer.port}>;tag=ph1
        To: <sip:room@127.0.0.1:{ua.local_address().port}>
        Call-ID: raw-call-1
        CSeq: 1 INVITE
        Contact: <sip:phone@127.0.0.1:{peer.port}>
        Max-Forwards: 70
        Content-Type: application/sdp
        """,
        offer,
    )


def ack_for(ok: Request | Any, peer: RawUdpPeer) -> bytes:
    return sip_message(
        f"""
        ACK {ok.contact[0].uri} SIP/2.0
        Via: SIP/2.0/UDP 127.0.0.1:{peer.port};branch=z9hG4bKack1
        From: {ok.headers["From"]}
        To: {ok.headers["To"]}
        Call-ID: raw-call-1
        CSeq: 1 ACK
        Max-Forwards: 70
        """
    )


async def final_of(peer: RawUdpPeer, method: str = "INVITE") -> Any:
    while True:
        response = await peer.receive_response()
        if response.code >= 200 and response.cseq.method == method:
            return response


async def test_our_2xx_is_retransmitted_until_the_ack(gateway: Party, peer: RawUdpPeer) -> None:
    port = gateway.ua.local_address().port
    peer.send(invite_to(gateway.ua, peer), port)
    ok = await final_of(peer)
    assert ok.code == 200 and ok.headers["Contact"].endswith(";isfocus")
    assert parse_sdp(ok.body.decode()).media[0].port == 40000
    again = await final_of(peer)  # T1 later: the same 2xx
    assert bytes(again) == bytes(ok)
    peer.send(ack_for(ok, peer), port)
    await gateway.next(Established)
    await asyncio.sleep(0.1)
    while not peer.queue.empty():  # what was in flight before the ACK
        peer.queue.get_nowait()
    assert await peer.nothing(0.6)


async def test_a_2xx_never_acked_ends_with_bye(gateway: Party, peer: RawUdpPeer) -> None:
    port = gateway.ua.local_address().port
    peer.send(invite_to(gateway.ua, peer), port)
    async with asyncio.timeout(10):
        while True:  # 64*T1 = 3.2 s of 2xx retransmissions, then the BYE
            message = await peer.receive(timeout=5)
            if isinstance(message, Request):
                break
    assert message.method == "BYE" and str(message.uri) == f"sip:phone@127.0.0.1:{peer.port}"
    peer.send(answer(message, 200, "OK", to_tag=None), port)
    assert (await gateway.next(Ended)).reason == "no-ack"


async def test_the_caller_cancels_before_the_answer(peer: RawUdpPeer) -> None:
    ringing = await party("ring")
    try:
        port = ringing.ua.local_address().port
        peer.send(invite_to(ringing.ua, peer), port)
        await ringing.next(IncomingCall)
        cancel = invite_to(ringing.ua, peer).split(b"\r\n\r\n")[0].decode()
        cancel = cancel.replace("INVITE sip:", "CANCEL sip:", 1).replace("CSeq: 1 INVITE", "CSeq: 1 CANCEL")
        cancel = "\r\n".join(
            line for line in cancel.split("\r\n") if not line.startswith(("Content-", "Contact"))
        )
        peer.send(sip_message(cancel), port)
        responses: dict[str, int] = {}
        async with asyncio.timeout(5):
            while len(responses) < 2:
                response = await peer.receive_response()
                if response.code >= 200:
                    responses[response.cseq.method] = response.code
        assert responses == {"CANCEL": 200, "INVITE": 487}
        assert (await ringing.next(CallFailed)).code == 487
    finally:
        await ringing.agent.close()
        await ringing.ua.close()


async def test_a_call_may_ring_longer_than_timer_b(gateway: Party, peer: RawUdpPeer) -> None:
    gateway.agent.call(f"sip:phone@127.0.0.1:{peer.port}", local="<sip:gw@127.0.0.1>")
    invite = await peer.receive_request()
    peer.send(
        answer(invite, 180, "Ringing", f"Contact: <sip:phone@127.0.0.1:{peer.port}>"),
        gateway.ua.local_address().port,
    )
    await gateway.next(Ringing)
    await asyncio.sleep(64 * FAST.t1 + 0.5)
    assert gateway.agent.reports.empty(), gateway.agent.reports.get_nowait()
