"""RtpLegs over real UDP on 127.0.0.1 (plain sockets: no ICE, nothing probed): latching, the relay between
two legs (the raw-UDP Jingle leg of XEP-0177 is an RtpLeg too), the silence watchdog, and that closing
leaves no socket and no task."""

from __future__ import annotations

import asyncio
import socket

from media.call import CallEnded, MediaCall
from media.codecs import PCMU
from media.description import raw_udp_answer
from media.ports import PortRange
from media.rtp import RtpPacket, build_rtp, parse_rtp
from media.rtp_leg import RtpLeg
from xmpp.jingle_content import (
    Content,
    Creator,
    PayloadType,
    RawUdpCandidate,
    RawUdpTransport,
    RtpDescription,
)

ADDRESS = "127.0.0.1"


def peer_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((ADDRESS, 0))
    sock.settimeout(2)
    return sock


async def receive(sock: socket.socket) -> tuple[bytes, tuple[str, int]]:
    data, addr = await asyncio.get_running_loop().run_in_executor(None, sock.recvfrom, 2048)
    return data, addr


async def test_raw_udp_jingle_leg_relays_to_a_sip_leg_and_latches() -> None:
    ports = PortRange(ADDRESS, 42000, 42100)
    client, phone = peer_socket(), peer_socket()
    jingle, sip = RtpLeg(ports), RtpLeg(ports)
    await jingle.open()
    await sip.open()
    offer = Content(
        creator=Creator.INITIATOR,
        name="audio",
        description=RtpDescription(
            media="audio", payload_types=(PayloadType(id=0, name="PCMU", clockrate=8000),)
        ),
        transport=RawUdpTransport(
            candidates=(RawUdpCandidate(component=1, id="c1", ip=ADDRESS, port=client.getsockname()[1]),)
        ),
    )
    accept = raw_udp_answer(jingle, offer)
    assert isinstance(accept.transport, RawUdpTransport)
    assert (accept.transport.candidates[0].ip, accept.transport.candidates[0].port) == (
        ADDRESS,
        jingle.local_port,
    )
    sip.set_codecs(PCMU)
    # what a phone behind NAT announces is not where it sends from (kept on loopback: a port nobody reads)
    sip.set_remote(ADDRESS, 9)
    ended: list[CallEnded] = []
    call = MediaCall(jingle, sip, silence_timeout=5, on_end=ended.append)
    call.start()
    try:
        phone.sendto(build_rtp(RtpPacket(0, True, 1, 160, 7, b"\xff" * 160)), (ADDRESS, sip.local_port))
        data, addr = await receive(client)
        assert addr == (ADDRESS, jingle.local_port) and parse_rtp(data).payload == b"\xff" * 160
        assert sip.latched and sip.remote == phone.getsockname() and sip.packets_sent == 0
        client.sendto(build_rtp(RtpPacket(0, True, 1, 160, 8, b"\x7f" * 160)), (ADDRESS, jingle.local_port))
        data, addr = await receive(phone)
        assert addr == (ADDRESS, sip.local_port) and parse_rtp(data).payload == b"\x7f" * 160
        # a third party on the latched port is ignored
        stranger = peer_socket()
        stranger.sendto(build_rtp(RtpPacket(0, False, 2, 320, 9, b"\0" * 160)), (ADDRESS, sip.local_port))
        await asyncio.sleep(0.1)
        assert sip.dropped_foreign == 1
        stranger.close()
    finally:
        await call.close()
        client.close()
        phone.close()
    assert ended == []


async def test_silence_ends_the_call_and_releases_everything() -> None:
    ports = PortRange(ADDRESS, 42200, 42300)
    a, b = RtpLeg(ports), RtpLeg(ports)
    await a.open()
    await b.open()
    used = [a.local_port, b.local_port]
    a.set_codecs(PCMU)
    b.set_codecs(PCMU)
    before = set(asyncio.all_tasks())
    ended: list[CallEnded] = []
    call = MediaCall(a, b, silence_timeout=0.4, on_end=ended.append)
    call.start()
    await asyncio.sleep(0.7)
    await call.wait_closed()
    assert ended == [CallEnded("sip", "silence")]
    assert ended[0].jingle_reason == "media-error"
    assert a.closed and b.closed
    assert set(asyncio.all_tasks()) - before - {asyncio.current_task()} == set()
    for port in used:  # both sockets are closed: their ports bind again
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind((ADDRESS, port))
