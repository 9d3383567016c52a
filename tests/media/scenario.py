"""A relayed call inside the test's network namespace: an aiortc Jingle client <-> the gateway's media
(JingleLeg, relay, RtpLeg) <-> baresip, with a miniature bridge doing the signalling in between (Jingle
contents handed over directly, SIP over UDP by tests/media/sip_uac.py). Prints one JSON object.

    unshare -n sh -c 'ip link set lo up && ip addr add 127.0.0.2/8 dev lo && ip route add default dev lo \
        && exec python -m tests.media.scenario --sip-codec pcmu --seconds 3'

Modes: `tone` (tones both ways, DTMF both ways, local hang-up), `silence` (baresip stops dead: SIGSTOP;
the call must end by itself on both sides, leaving no socket and no task), `jingle-silence` (the same
with the Jingle client's sockets closed under it, as when its network goes away).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

from gateway import sdp
from media.call import CallEnded, MediaCall
from media.codecs import OPUS, PCMA, PCMU
from media.description import (
    jingle_answer,
    jingle_apply_answer,
    jingle_offer,
    sdp_apply_answer,
    sdp_offer,
    sdp_session,
)
from media.jingle_leg import JingleLeg
from media.ports import PortRange
from media.rtp_leg import RtpLeg
from tests.media.baresip import Baresip
from tests.media.jingle_client import JingleClient
from tests.media.sip_uac import SipUac
from tests.media.tone import spectrum_peak
from xmpp.jingle_content import IceCandidate, IceUdpTransport

ADDRESS = "127.0.0.2"
SIP_CODECS = {"pcmu": PCMU, "pcma": PCMA, "opus": OPUS}


def open_sockets() -> int:
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
    return count


def analyse(samples: list[int], rate: int) -> dict[str, Any]:
    if rate == 0 or len(samples) < 8192:
        return {"samples": len(samples), "rate": rate, "frequency": None}
    frequency, share, rms = spectrum_peak(samples, rate)
    return {"samples": len(samples), "rate": rate, "frequency": frequency, "share": share, "rms": rms}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    directory = Path(tempfile.mkdtemp(prefix="media-scenario-"))
    result: dict[str, Any] = {"mode": args.mode, "sip_codec": args.sip_codec, "directory": str(directory)}
    baseline_sockets = open_sockets()
    baseline_tasks = set(asyncio.all_tasks())
    peer = Baresip(
        directory / "baresip", address=ADDRESS, sip_port=5070, ctrl_port=5090, rtp_ports=(31000, 31010),
        frequency=880, mediaenc="srtp-mand" if args.sdes else None,
    )  # fmt: skip
    await peer.start()
    uac = await SipUac.open(ADDRESS, 5080)
    client = JingleClient(440, codec="opus")
    ports = PortRange(ADDRESS, 40000, 40100)
    ended: list[CallEnded] = []
    try:
        # Jingle: the client calls; the gateway answers with a leg of its own.
        jingle = JingleLeg(ports, controlling=args.gateway_initiates)
        if args.gateway_initiates:
            # the gateway calls the client (a SIP phone calling an XMPP room): we offer, aiortc answers
            initiate = await jingle_offer(jingle, codecs=[OPUS])
            accepted = await client.answer(initiate)
            await jingle_apply_answer(jingle, accepted)
            result["dtls_setup"] = {"ours": str(initiate.transport.fingerprints[0].setup)}  # type: ignore[union-attr]
        elif args.trickle:
            # XEP-0176 trickle both ways: no candidate in session-initiate or session-accept; each side's
            # candidates follow in transport-infos, once the other side already runs its checks
            offer = await client.offer()
            assert isinstance(offer.transport, IceUdpTransport)
            client_candidates = offer.transport.candidates
            offer = offer.model_copy(
                update={"transport": offer.transport.model_copy(update={"candidates": ()})}
            )
            trickled: list[IceCandidate] = []
            jingle.on_local_candidate = trickled.append
            accept = await jingle_answer(jingle, offer, trickle=True)
            assert isinstance(accept.transport, IceUdpTransport) and not accept.transport.candidates
            await client.accept(accept)
            await asyncio.sleep(0.3)
            for candidate in trickled:
                await client.add_candidate(candidate)
            await jingle.add_remote(IceUdpTransport(candidates=client_candidates))
            result["trickled"] = {"to_client": len(trickled), "to_gateway": len(client_candidates)}
        else:
            accept = await jingle_answer(jingle, await client.offer())
            await client.accept(accept)
        # SIP: the gateway calls the peer.
        sip = RtpLeg(ports)
        await sip.open()
        body = sdp.serialize_sdp(
            sdp_session(sdp_offer(sip, [SIP_CODECS[args.sip_codec]], srtp=args.sdes), ADDRESS)
        )
        answer = await uac.invite(peer.uri, (ADDRESS, 5070), body)
        sdp_apply_answer(sip, sdp.parse_sdp(answer))
        await asyncio.wait_for(jingle.connected.wait(), 10)
        result["codecs"] = {"jingle": jingle.codec and jingle.codec.name, "sip": sip.codec and sip.codec.name}
        used_ports = [sip.local_port, jingle._connection.local_candidates[0].port]
        call = MediaCall(
            jingle, sip, silence_timeout=args.silence_timeout, rtcp_interval=1.0, on_end=ended.append
        )
        call.start()
        result["transcoding"] = call.relay.transcoding
        started = time.monotonic()
        if args.mode == "tone":
            await asyncio.sleep(args.seconds / 2)
            await peer.command("sndcode", "5")
            await client.send_dtmf("7")
            await asyncio.sleep(0.3)
            await peer.command("sndcode", "9")
            await client.send_dtmf("3")
            await asyncio.sleep(args.seconds / 2)
            # what the client's aiortc made of our RTCP: our SR and our report block on its stream
            stats = await client.pc.getStats()
            result["client_rtcp"] = sorted(
                {s.type for s in stats.values() if s.type in ("remote-outbound-rtp", "remote-inbound-rtp")}
            )
            result["bye_status"] = await uac.bye((ADDRESS, 5070))
            await call.close()
        else:
            await asyncio.sleep(1.0)
            if args.mode == "silence":
                peer.pause()  # the SIP peer stops dead
            else:
                client.go_silent()  # the Jingle client's network goes away: no RTP, no STUN, no DTLS alert
            paused = time.monotonic()
            while not ended and time.monotonic() - paused < args.silence_timeout + 5:
                await asyncio.sleep(0.05)
            result["ended_after"] = round(time.monotonic() - paused, 2)
            await call.wait_closed()
            peer.resume()  # the bridge tells the SIP side: BYE
            result["bye_status"] = await uac.bye((ADDRESS, 5070))
        result["ended"] = [
            {"leg": e.leg, "reason": e.reason, "jingle": e.jingle_reason, "sip": e.sip_reason} for e in ended
        ]
        result["duration"] = round(time.monotonic() - started, 2)
        result["stats"] = {
            "jingle_to_sip": vars(call.relay.a_to_b.stats),
            "sip_to_jingle": vars(call.relay.b_to_a.stats),
            "jingle": {
                "received": jingle.packets_received,
                "sent": jingle.packets_sent,
                "rtcp_sent": jingle.rtcp_sent,
            },
            "sip": {
                "received": sip.packets_received,
                "sent": sip.packets_sent,
                "latched": sip.latched,
                "srtp": sip.srtp is not None and sip.srtp.suite,
                "srtp_errors": sip.srtp_errors,
            },
        }
        await asyncio.sleep(0.5)
        result["client_connection"] = client.pc.connectionState
        result["peer_call_closed"] = peer.call_closed()
        result["jingle_received"] = analyse(client.samples, client.rate)
        samples, rate = peer.recording()
        result["sip_received"] = analyse(samples, rate)
        result["dtmf"] = {"at_sip": peer.dtmf_received(), "at_jingle": client.dtmf_received()}
    finally:
        await client.close()
        uac.close()
        await peer.stop()
        shutil.rmtree(directory, ignore_errors=True)
    await asyncio.sleep(0.1)
    left = [t for t in asyncio.all_tasks() if t not in baseline_tasks and t is not asyncio.current_task()]
    result["tasks_left"] = [repr(t.get_coro()) for t in left]
    result["sockets_left"] = open_sockets() - baseline_sockets
    free = []
    for port in used_ports:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.bind((ADDRESS, port))
                free.append(True)
            except OSError:
                free.append(False)
    result["ports_free_again"] = all(free)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=("tone", "silence", "jingle-silence"), default="tone")
    parser.add_argument("--sip-codec", choices=tuple(SIP_CODECS), default="pcmu")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--silence-timeout", type=float, default=2.0)
    parser.add_argument("--trickle", action="store_true")
    parser.add_argument("--gateway-initiates", action="store_true", help="the gateway sends session-initiate")
    parser.add_argument("--sdes", action="store_true", help="SDES-SRTP (RTP/SAVP) on the SIP leg")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args))), flush=True)


if __name__ == "__main__":
    main()
