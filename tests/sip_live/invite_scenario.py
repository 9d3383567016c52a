"""Our INVITE sessions against pjsua2, both in one network namespace; prints one JSON object.

Run by `tests/sip_live/test_invite_peer.py` as

    unshare -n sh -c 'ip link set lo up && exec python -m tests.sip_live.invite_scenario'

so that pjsua2's network probing sees nothing but loopback and nothing leaves it. Our user agent (asyncio,
`sip.invite_agent`) listens on 127.0.0.1; the pjsua2 peer (`tests.sip_live.pjsua_peer`) runs as a child
process with `;isfocus` in its Contact. The steps, each recorded in the result:

    peer_calls_us       the peer calls a room; we ring, then answer as a focus; the peer re-INVITEs; the
                        peer hangs up (BYE from the peer)
    we_call_peer        we call the peer; it answers (its Contact has isfocus); we re-INVITE adding
                        isfocus to ours, then removing it; we hang up (BYE from us)
    we_cancel           we call, the peer only rings, we CANCEL
    peer_cancels        the peer calls, we only ring, the peer CANCELs
    we_reject           the peer calls, we answer 486
    tcp                 the peer calls over TCP (our Contact says so); we hang up
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import structlog

from sip.invite_agent import InviteAgent
from sip.invite_session import (
    CallFailed,
    Ended,
    Established,
    IncomingCall,
    InviteSession,
    InviteSessions,
    MediaUpdated,
    Report,
    Ringing,
)
from sip.offer_answer import AudioNegotiator
from sip.transactions import Timers
from sip.transport import TransportAddress
from sip.user_agent import UserAgent

HOST = "127.0.0.1"
US, PEER, PEER_RTP, OUR_RTP = 5060, 5070, 41000, 42000  # a namespace of our own: fixed ports are free
STEP_TIMEOUT = 10.0


class Peer:
    """The pjsua2 child: commands in, events out (JSON lines)."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.events: list[dict[str, Any]] = []
        self.mark = 0  # where the current step's events start
        self._reader = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def start(cls, log_dir: Path) -> Peer:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.sip_live.pjsua_peer",
            "--port", str(PEER), "--rtp-port", str(PEER_RTP), "--contact-params", ";isfocus",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=(log_dir / "pjsua_peer.stderr").open("wb"),
            env={**os.environ, "PJSUA_LOG": str(log_dir / "pjsua.log")},
        )  # fmt: skip
        peer = cls(process)
        await peer.wait_for(lambda e: e["event"] == "ready")
        return peer

    async def _read(self) -> None:
        assert self.process.stdout is not None
        while line := await self.process.stdout.readline():
            with contextlib.suppress(ValueError):
                self.events.append(json.loads(line))

    def send(self, **command: Any) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps(command) + "\n").encode())

    def step(self) -> None:
        """What follows looks only at events from now on."""
        self.mark = len(self.events)

    def new_step(self) -> dict[str, Any]:
        """`step`, and a new record for what the step sees."""
        self.step()
        return {}

    async def wait_for(self, predicate: Any, timeout: float = STEP_TIMEOUT) -> dict[str, Any]:
        """The first event of the current step that `predicate` accepts (waiting for it if need be)."""
        async with asyncio.timeout(timeout):
            while True:
                for event in self.events[self.mark :]:
                    if predicate(event):
                        return event
                await asyncio.sleep(0.02)

    async def state(self, name: str) -> dict[str, Any]:
        """The peer's call reached state `name` (EARLY, CONFIRMED, DISCONNECTED) in the current step."""
        return await self.wait_for(lambda e: e["event"] == "state" and e["state"] == name)

    async def end_status(self) -> Any:
        """The status the peer's call ended with (its DISCONNECTED state)."""
        return (await self.state("DISCONNECTED"))["status"]

    async def received(self, first_line: str) -> dict[str, Any]:
        """A message the peer received in the current step whose first line starts with `first_line`."""
        return await self.wait_for(lambda e: e["event"] == "rx" and e["first_line"].startswith(first_line))

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.send(cmd="quit")
            await asyncio.wait_for(self.process.wait(), 5)
        if self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


async def next_report(agent: InviteAgent, kind: type[Any], timeout: float = STEP_TIMEOUT) -> Any:
    async with asyncio.timeout(timeout):
        while True:
            report: Report = await agent.reports.get()
            print("report", describe(report), file=sys.stderr)
            if isinstance(report, kind):
                return report


def describe(report: Report) -> dict[str, Any]:
    out: dict[str, Any] = {"report": type(report).__name__}
    if isinstance(report, Established):
        out |= {"remote_focus": report.remote_focus, "remote_contact": str(report.remote_contact)}
        out["has_sdp"] = report.local_sdp is not None and report.remote_sdp is not None
    elif isinstance(report, CallFailed):
        out |= {"code": report.code}
    elif isinstance(report, Ended):
        out |= {"reason": report.reason}
    elif isinstance(report, IncomingCall):
        out |= {"remote_focus": report.remote_focus, "offer": report.offer is not None}
    elif isinstance(report, Ringing):
        out |= {"code": report.code}
    return out


async def accept_call(agent: InviteAgent, peer: Peer, session: InviteSession, step: dict[str, Any]) -> None:
    """We accept the peer's call: the Contact the peer saw in our 200 and our Established go into `step`;
    once the peer's side is CONFIRMED, the next step begins."""
    agent.run(session.accept())
    step["peer_saw_contact"] = (await peer.received("SIP/2.0 200"))["contact"]
    step["established"] = describe(await next_report(agent, Established))
    await peer.state("CONFIRMED")
    peer.step()


async def scenario(log_dir: Path) -> dict[str, Any]:
    result: dict[str, Any] = {}
    timers = Timers(t1=0.1, t2=0.4, t4=0.5, timer_d=1.0)
    ua = UserAgent([TransportAddress("udp", HOST, US), TransportAddress("tcp", HOST, US)], timers=timers)
    await ua.start()
    sessions = InviteSessions(
        contact={protocol: ua.contact(protocol).uri for protocol in ("udp", "tcp")},
        negotiator=lambda: AudioNegotiator(HOST, OUR_RTP),
        incoming_focus=True,
    )
    agent = InviteAgent(ua, sessions)
    ua.handler = agent
    peer = await Peer.start(log_dir)
    room = f"sip:room@{HOST}:{US}"
    peer_uri = f"sip:peer@{HOST}:{PEER}"
    try:
        # 1. the peer calls us; we answer as a focus; the peer re-INVITEs, then hangs up
        step = result["peer_calls_us"] = peer.new_step()
        peer.send(cmd="answer_mode", mode="answer")
        peer.send(cmd="call", uri=room)
        incoming: IncomingCall = await next_report(agent, IncomingCall)
        step["incoming"] = describe(incoming)
        agent.run(incoming.session.ring())
        await accept_call(agent, peer, incoming.session, step)
        peer.send(cmd="reinvite")
        updated: MediaUpdated = await next_report(agent, MediaUpdated)
        step["reinvite_answered"] = updated.remote_sdp is not None
        reinvite_ok = await peer.wait_for(
            lambda e: (
                e["event"] == "rx" and e["first_line"].startswith("SIP/2.0 200") and "INVITE" in e["cseq"]
            )
        )
        step["peer_saw_contact_after_reinvite"] = reinvite_ok["contact"]
        await asyncio.sleep(0.3)  # the ACK of the re-INVITE
        peer.step()
        peer.send(cmd="hangup")
        step["ended"] = describe(await next_report(agent, Ended))
        step["peer_end_status"] = await peer.end_status()

        # 2. we call the peer (a focus); re-INVITE adding isfocus to our Contact; we hang up
        step = result["we_call_peer"] = peer.new_step()
        session: InviteSession = agent.call(peer_uri, local=f"<sip:gateway@{HOST}>", focus=False)
        incoming_at_peer = await peer.wait_for(lambda e: e["event"] == "incoming")
        step["peer_saw_invite_contact"] = incoming_at_peer["contact"]
        step["ringing"] = describe(await next_report(agent, Ringing))
        step["established"] = describe(await next_report(agent, Established))
        step["conference_uri"] = str(session.conference_uri)
        await peer.state("CONFIRMED")
        peer.step()
        agent.run(session.reinvite(focus=True))
        reinvite = await peer.received("INVITE")
        step["peer_saw_reinvite_contact"] = reinvite["contact"]
        await next_report(agent, MediaUpdated)
        step["local_focus_after_reinvite"] = session.local_focus
        await asyncio.sleep(0.2)  # the ACK of the re-INVITE
        peer.step()
        agent.run(session.reinvite(focus=False))  # a plain call again
        reinvite = await peer.received("INVITE")
        step["peer_saw_second_reinvite_contact"] = reinvite["contact"]
        await next_report(agent, MediaUpdated)
        await asyncio.sleep(0.2)
        peer.step()
        agent.run(session.hangup())
        step["ended"] = describe(await next_report(agent, Ended))
        step["peer_end_status"] = await peer.end_status()

        # 3. we call, the peer rings only, we CANCEL
        step = result["we_cancel"] = peer.new_step()
        peer.send(cmd="answer_mode", mode="ring")
        await peer.wait_for(lambda e: e["event"] == "done" and e["cmd"] == "answer_mode")
        session = agent.call(peer_uri, local=f"<sip:gateway@{HOST}>")
        step["ringing"] = describe(await next_report(agent, Ringing))
        agent.run(session.cancel())
        step["failed"] = describe(await next_report(agent, CallFailed))
        step["peer_end_status"] = await peer.end_status()

        # 4. the peer calls, we ring only, the peer CANCELs
        step = result["peer_cancels"] = peer.new_step()
        peer.send(cmd="call", uri=room)
        incoming = await next_report(agent, IncomingCall)
        agent.run(incoming.session.ring())
        await peer.state("EARLY")
        peer.send(cmd="hangup")
        step["failed"] = describe(await next_report(agent, CallFailed))
        step["peer_end_status"] = await peer.end_status()

        # 5. the peer calls, we refuse (486)
        step = result["we_reject"] = peer.new_step()
        peer.send(cmd="call", uri=room)
        incoming = await next_report(agent, IncomingCall)
        agent.run(incoming.session.reject(486))
        step["failed"] = describe(await next_report(agent, CallFailed))
        step["peer_end_status"] = await peer.end_status()

        # 6. the peer calls over TCP: our Contact names TCP; we hang up over the peer's connection
        step = result["tcp"] = peer.new_step()
        peer.send(cmd="answer_mode", mode="answer")
        peer.send(cmd="call", uri=f"{room};transport=tcp")
        incoming = await next_report(agent, IncomingCall)
        await accept_call(agent, peer, incoming.session, step)
        agent.run(incoming.session.hangup())
        step["ended"] = describe(await next_report(agent, Ended))
        step["peer_end_status"] = await peer.end_status()
        step["sessions_left"] = len(sessions)
    except TimeoutError:
        result["error"] = "timeout"
    finally:
        await peer.stop()
        await agent.close()
        await ua.close()
        result["peer_events"] = peer.events
    return result


def main() -> None:
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=sys.stderr))
    log_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd()
    started = time.monotonic()
    result = asyncio.run(scenario(log_dir))
    result["seconds"] = round(time.monotonic() - started, 2)
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
