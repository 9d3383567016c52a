"""Real audio through the daemon, inside the test's own network namespace: Prosody, the daemon
(`gatewayd.daemon.Daemon`, media on 127.0.0.2), baresip (the SIP side: 880 Hz) and an aiortc Jingle client
(440 Hz, opus, ICE + DTLS-SRTP) logged in to Prosody with slixmpp. Prints one JSON object.

    unshare -n sh -c 'ip link set lo up && ip addr add 127.0.0.2/8 dev lo && ip route add default dev lo \
        && exec python -m tests.e2e.media_scenario --direction xmpp-to-sip'

Directions:
- `xmpp-to-sip`: the Jingle client calls a SIP-focus room whose focus is baresip (it auto-answers; it
  publishes no conference state, so the room has none). The client trickles its candidates in a
  transport-info after a session-initiate without any; the daemon (trickle_ice) trickles its own after
  the session-accept.
- `sip-to-xmpp`: baresip calls an XMPP-focus room; the Jingle client is the mixer, answering the daemon's
  session-initiate (the daemon's Jingle leg is the ICE controlling side, DTLS actpass).

Modes: `tone` (tones both ways, then the side that called hangs up), `silence` (baresip stops dead,
SIGSTOP: the daemon's media ends the call on both sides by itself), `jingle-closed` (the Jingle client
closes its peer connection without a word in Jingle: its DTLS session ends, and so does the call).
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

from lxml import etree

from gateway.config import load_config
from gatewayd.daemon import Daemon
from tests.live.xmpp_client import CLIENT, LiveClient
from tests.media.baresip import Baresip
from tests.media.jingle_client import JingleClient
from tests.media.scenario import analyse, open_sockets
from tests.peers.process import free_port_both
from tests.peers.prosody import Prosody
from xmpp.jingle_content import Content, IceUdpTransport, content_element, parse_content

JINGLE = "urn:xmpp:jingle:1"
MEDIA_ADDRESS = "127.0.0.2"
PORTS = (41000, 41100)


def _xml(content: Content) -> str:
    return etree.tostring(content_element(content)).decode()


def _jingle(stanza: etree._Element) -> etree._Element | None:
    return stanza.find(f"{{{JINGLE}}}jingle")


def _reason(jingle: etree._Element) -> str | None:
    reason = jingle.find(f"{{{JINGLE}}}reason")
    if reason is None:
        return None
    names = [etree.QName(c).localname for c in reason if etree.QName(c).localname != "text"]
    return names[0] if names else None


class JingleSide:
    """The aiortc client on its XMPP connection: answers the IQs it gets, keeps what happened."""

    def __init__(self, xmpp: LiveClient, media: JingleClient) -> None:
        self.xmpp, self.media = xmpp, media
        self.accepts: asyncio.Queue[etree._Element] = asyncio.Queue()
        self.initiates: asyncio.Queue[etree._Element] = asyncio.Queue()
        self.terminated: str | None = None
        self.trickled_in = 0
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            stanza = await self.xmpp.next(lambda s: _jingle(s) is not None and s.get("type") == "set", 3600)
            jingle = _jingle(stanza)
            assert jingle is not None
            self.xmpp.send(
                f'<iq xmlns="{CLIENT}" type="result" id="{stanza.get("id")}" to="{stanza.get("from")}"/>'
            )
            action = jingle.get("action")
            if action == "session-accept":
                self.accepts.put_nowait(stanza)
            elif action == "session-initiate":
                self.initiates.put_nowait(stanza)
            elif action == "transport-info":
                for el in jingle.findall(f"{{{JINGLE}}}content"):
                    transport = parse_content(el).transport
                    if isinstance(transport, IceUdpTransport):
                        for candidate in transport.candidates:
                            await self.media.add_candidate(candidate)
                            self.trickled_in += 1
            elif action == "session-terminate":
                self.terminated = _reason(jingle) or "success"

    async def close(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


def write_config(path: Path, prosody: Prosody, sip_port: int, rooms: str, silence: int) -> Path:
    path.write_text(
        f'[xmpp]\ncomponent = "{prosody.component_domain}"\nsecret = "{prosody.secret}"\n'
        f'host = "127.0.0.1"\nport = {prosody.component_port}\n'
        f'[sip]\ndomain = "gw.localhost"\nlisten = ["udp:127.0.0.1:{sip_port}"]\n'
        f'[media]\naddress = "{MEDIA_ADDRESS}"\nport_min = {PORTS[0]}\nport_max = {PORTS[1]}\n'
        f"silence_timeout_s = {silence}\n" + rooms
    )
    return path


async def wait_for(predicate: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.05)
    return bool(predicate())


def ports_free() -> bool:
    for port in range(PORTS[0], PORTS[1] + 1):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.bind((MEDIA_ADDRESS, port))
            except OSError:
                return False
    return True


async def run(args: argparse.Namespace) -> dict[str, Any]:
    directory = Path(tempfile.mkdtemp(prefix="daemon-media-"))
    result: dict[str, Any] = {"direction": args.direction, "mode": args.mode, "directory": str(directory)}
    baseline_sockets = open_sockets()
    baseline_tasks = set(asyncio.all_tasks())
    prosody = Prosody(directory / "prosody", users=("alice", "mixer"))
    peer = Baresip(
        directory / "baresip", address=MEDIA_ADDRESS, sip_port=5070, ctrl_port=5090, rtp_ports=(31000, 31010),
        frequency=880,
    )  # fmt: skip
    if args.sip_codec == "pcmu":  # baresip without opus: the relay transcodes opus <-> PCMU
        config_file = directory / "baresip" / "config"
        config_file.write_text(config_file.read_text().replace("module\t\t\topus.so\n", ""))
    daemon: Daemon | None = None
    xmpp: LiveClient | None = None
    side: JingleSide | None = None
    client = JingleClient(440, codec="opus")
    try:
        await peer.start()
        sip_port = free_port_both()
        if args.direction == "xmpp-to-sip":
            rooms = f'[[rooms]]\nname = "weekly"\nsip_focus = "{peer.uri}"\n'
            user, resource = "alice", "phone"
        else:
            rooms = f'[[rooms]]\nname = "standup"\nxmpp_focus = "{prosody.jid("mixer")}/desk"\n'
            user, resource = "mixer", "desk"
        config = load_config(
            write_config(directory / "gw.toml", prosody, sip_port, rooms, args.silence_timeout), environ={}
        )
        daemon = Daemon(config, trickle_ice=args.direction == "xmpp-to-sip")
        await daemon.start()
        await daemon.component.link.wait_online(10)
        xmpp = LiveClient(f"{prosody.jid(user)}/{resource}", prosody.password)
        await xmpp.login(prosody.c2s_port)
        side = JingleSide(xmpp, client)

        if args.direction == "xmpp-to-sip":
            room = f"weekly@{prosody.component_domain}"
            offer = await client.offer()
            assert isinstance(offer.transport, IceUdpTransport)
            candidates = offer.transport.candidates
            bare = offer.model_copy(
                update={"transport": offer.transport.model_copy(update={"candidates": ()})}
            )
            xmpp.send(
                f'<iq xmlns="{CLIENT}" type="set" id="init" to="{room}"><jingle xmlns="{JINGLE}" '
                f'action="session-initiate" initiator="{xmpp.boundjid.full}" sid="call1">{_xml(bare)}'
                "</jingle></iq>"
            )
            trickle = Content(
                creator=offer.creator, name=offer.name,
                transport=IceUdpTransport(ufrag=offer.transport.ufrag, pwd=offer.transport.pwd,
                                          candidates=candidates),
            )  # fmt: skip
            xmpp.send(
                f'<iq xmlns="{CLIENT}" type="set" id="trickle" to="{room}"><jingle xmlns="{JINGLE}" '
                f'action="transport-info" sid="call1">{_xml(trickle)}</jingle></iq>'
            )
            accept = await asyncio.wait_for(side.accepts.get(), 20)
            jingle = _jingle(accept)
            assert jingle is not None
            content = parse_content(jingle.find(f"{{{JINGLE}}}content"))  # type: ignore[arg-type]
            assert isinstance(content.transport, IceUdpTransport)
            result["accept_candidates"] = len(content.transport.candidates)
            result["isfocus"] = jingle.find("{urn:xmpp:coin:1}conference-info") is not None
            await client.accept(content)
            peer_sid, peer_jid = "call1", room
        else:
            await peer.command("dial", f"sip:standup@127.0.0.1:{sip_port}")
            initiate = await asyncio.wait_for(side.initiates.get(), 20)
            jingle = _jingle(initiate)
            assert jingle is not None
            offered = parse_content(jingle.find(f"{{{JINGLE}}}content"))  # type: ignore[arg-type]
            assert isinstance(offered.transport, IceUdpTransport)
            result["dtls_setup"] = str(offered.transport.fingerprints[0].setup)
            answer = await client.answer(offered)
            peer_sid, peer_jid = jingle.get("sid", ""), initiate.get("from", "")
            xmpp.send(
                f'<iq xmlns="{CLIENT}" type="set" id="accept" to="{peer_jid}"><jingle xmlns="{JINGLE}" '
                f'action="session-accept" sid="{peer_sid}" responder="{xmpp.boundjid.full}">{_xml(answer)}'
                '<conference-info xmlns="urn:xmpp:coin:1" isfocus="true"/></jingle></iq>'
            )
        result["connected"] = await wait_for(lambda: client.pc.connectionState == "connected", 15)
        result["codecs"] = [
            {
                "jingle": m.jingle and m.jingle.codec and m.jingle.codec.name,
                "sip": m.sip.codec and m.sip.codec.name,
            }
            for m in daemon.media._calls.values()
        ]
        result["transcoding"] = [
            m.call is not None and m.call.relay.transcoding for m in daemon.media._calls.values()
        ]
        started = time.monotonic()
        if args.mode == "tone":
            await asyncio.sleep(args.seconds / 2)
            await peer.command("sndcode", "5")  # RFC 4733 digits both ways, through the relay
            await client.send_dtmf("7")
            await asyncio.sleep(0.3)
            await peer.command("sndcode", "9")
            await client.send_dtmf("3")
            await asyncio.sleep(args.seconds / 2)
            result["dtmf"] = {"at_sip": peer.dtmf_received(), "at_jingle": client.dtmf_received()}
            result["jingle_received"] = analyse(client.samples, client.rate)
            if args.hold:  # the Jingle client holds: the daemon re-INVITEs baresip sendonly, then resumes
                legs = list(daemon.media._calls.values())
                for n, info in enumerate(("hold", "active")):
                    xmpp.send(
                        f'<iq xmlns="{CLIENT}" type="set" id="info{n}" to="{peer_jid}"><jingle xmlns="{JINGLE}" '
                        f'action="session-info" sid="{peer_sid}"><{info} xmlns="urn:xmpp:jingle:apps:rtp:info:1"/>'
                        "</jingle></iq>"
                    )
                    await asyncio.sleep(1.0)
                    result[f"sip_leg_after_{info}"] = [
                        {
                            "sending": m.sip.sending,
                            "receiving": m.sip.receiving,
                            "peer_says": m.negotiator is not None
                            and m.negotiator.remote is not None
                            and str(m.negotiator.remote.media[0].direction or m.negotiator.remote.direction),
                        }
                        for m in legs
                    ]
            if args.direction == "xmpp-to-sip":
                xmpp.send(
                    f'<iq xmlns="{CLIENT}" type="set" id="bye" to="{peer_jid}"><jingle xmlns="{JINGLE}" '
                    f'action="session-terminate" sid="{peer_sid}"><reason><success/></reason></jingle></iq>'
                )
            else:
                await peer.command("hangup")
        else:
            await asyncio.sleep(1.0)
            if args.mode == "silence":
                peer.pause()
            else:
                await client.pc.close()  # DTLS close_notify, ICE gone: the Jingle leg fails
            paused = time.monotonic()
            result["jingle_terminated"] = await wait_for(
                lambda: side is not None and side.terminated is not None, args.silence_timeout + 5
            )
            result["ended_after"] = round(time.monotonic() - paused, 2)
            if args.mode == "silence":
                peer.resume()
        result["jingle_reason"] = side.terminated
        result["trickled_to_client"] = side.trickled_in
        result["peer_call_closed"] = await wait_for(peer.call_closed, 10)
        result["peer_closed_log"] = [line for line in peer.log().splitlines() if "terminated" in line.lower()]
        if args.mode == "tone":
            await asyncio.sleep(0.3)  # baresip finishes its recording when the call closes
            samples, rate = peer.recording()
            result["sip_received"] = analyse(samples, rate)
        if args.direction == "sip-to-xmpp" and args.mode == "tone":
            result["jingle_terminated"] = await wait_for(
                lambda: side is not None and side.terminated is not None, 10
            )
            result["jingle_reason"] = side.terminated
        media = daemon.media
        await wait_for(lambda: len(media) == 0, 5)
        result["media_calls_left"] = len(media)
        result["duration"] = round(time.monotonic() - started, 2)
    finally:
        if side is not None:
            await side.close()
        await client.close()
        if xmpp is not None:
            await xmpp.logout()
        if daemon is not None:
            await daemon.close()
        await peer.stop()
        prosody.stop()
    await asyncio.sleep(0.2)
    left = [t for t in asyncio.all_tasks() if t not in baseline_tasks and t is not asyncio.current_task()]
    result["tasks_left"] = [repr(t.get_coro()) for t in left]
    result["sockets_left"] = open_sockets() - baseline_sockets
    result["ports_free_again"] = ports_free()
    shutil.rmtree(directory, ignore_errors=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--direction", choices=("xmpp-to-sip", "sip-to-xmpp"), default="xmpp-to-sip")
    parser.add_argument("--mode", choices=("tone", "silence", "jingle-closed"), default="tone")
    parser.add_argument("--sip-codec", choices=("any", "pcmu"), default="any")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--hold", action="store_true", help="the Jingle client holds, then resumes")
    parser.add_argument("--silence-timeout", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault("COIN_GATEWAY_LOG_LEVEL", "warning")
    print(json.dumps(asyncio.run(run(args))), flush=True)


if __name__ == "__main__":
    main()
