"""Benchmark: one participant change fanned out to 1,000 subscribers, ours vs Kamailio presence_conference
(issue 5, SIP side). Run: python -m bench.sip_fanout

Both notifiers serve one room of 10 participants (the same document) to 1,000 subscribers: one sipp
process (tests/sipp/conf_sub_bench_uac.xml with `-key fanout 1`, 1,000 calls at 200/s, all simultaneous),
each call SUBSCRIBE -> 200, NOTIFY (full state) -> 200, then waiting for the second NOTIFY (version 2),
answering it and ending. Once every subscriber has answered its first NOTIFY and the notifier has been
idle for a second, one participant joins:

- ours: the in-process room's state changes (an 11th user) and `ConferenceNotifier.room_changed` runs;
  every subscriber gets a partial document (the new user and the user count);
- Kamailio: our user agent PUBLISHes the 11-user document with `SIP-If-Match` (the entity tag of the first
  PUBLISH); Kamailio sends every watcher the full document, as presence_conference does.

Measured: the wall time from the change (just before `room_changed` / just before the PUBLISH is sent)
until the last subscriber answered its second NOTIFY, by sipp's own clock (`gettimeofday` when the NOTIFY
arrived, logged by the scenario; the same clock as `time.time()`, same subscriber process for both). For
ours, the time our driver saw the last 200 is printed too. Bytes per subscriber: the size of the second
NOTIFY's datagram as sipp received it (and its body, Content-Length). Also the notifier's CPU time spent on
the fan-out. Rounds alternate ours / Kamailio; printed: every round, then the best of each and the ratio.

Needs Kamailio with presence_conference and sipp (installed by scripts/bootstrap). Everything runs on
127.0.0.1 in a temporary directory and is stopped by PID at the end.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.sip_common import (
    SCENARIO,
    SIPP_BUFFER,
    BenchKamailio,
    OurNotifier,
    own_cpu,
    quiet_logs,
    received_sizes,
    room_documents,
    sipp_calls,
    sipp_summary,
    udp_receive_drops,
)
from sip.transport import TransportAddress
from sip.user_agent import UserAgent
from tests.peers.process import LOOPBACK, free_port_both
from tests.peers.sipp import SippProcess, SippResult

SUBSCRIBERS = 1_000
RATE = 200
ROUNDS = 3
SETTLE = 1.0  # seconds of quiet between the last subscription and the change


@dataclass
class Outcome:
    name: str
    wall: float  # seconds from the change to the last second NOTIFY answered (sipp's clock)
    answered: int  # subscribers that answered a second NOTIFY
    datagram: float  # mean bytes of the second NOTIFY on the wire
    body: float  # mean bytes of its body
    cpu: float  # notifier CPU seconds from the change until sipp ended
    retransmitted: int  # second NOTIFYs sipp received more than once
    drops: int  # datagrams dropped by full receive buffers, machine-wide, from the change until sipp ended
    notes: str = ""

    def line(self) -> str:
        return (
            f"{self.name:>8}: {self.answered}/{SUBSCRIBERS} answered, last {self.wall * 1e3:.0f} ms after the change; "
            f"{self.datagram:.0f} bytes per subscriber ({self.body:.0f} of body); "
            f"notifier CPU {self.cpu * 1e3:.0f} ms; NOTIFYs retransmitted {self.retransmitted}, "
            f"UDP receive-buffer drops {self.drops}{self.notes}"
        )


def start_subscribers(port: int, directory: Path) -> SippProcess:
    return SippProcess(
        SCENARIO, directory, remote_port=port, calls=SUBSCRIBERS, timeout=300, keys={"fanout": "1"},
        extra=["-r", str(RATE), "-rp", "1000", "-l", str(SUBSCRIBERS), *SIPP_BUFFER],
    )  # fmt: skip


async def until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def outcome(
    name: str, result: SippResult, change: float, *, cpu: float, drops: int, notes: str = ""
) -> Outcome:
    calls = sipp_calls(result.log)
    late = [c for c in calls.values() if c.notify1 >= change]
    if late:
        notes += f"; {len(late)} subscribed after the change (run invalid)"
    answered = [c for c in calls.values() if c.notify2 is not None]
    last = max((c.notify2 for c in answered if c.notify2 is not None), default=change)
    sizes = received_sizes(result.messages, 'version="2"')
    summary = sipp_summary(result.output)
    if not result.ok or summary.get("failed"):
        notes += f"; sipp exit {result.returncode}, {summary}: {result.errors[:300]!r}"
    return Outcome(
        name,
        wall=last - change,
        answered=len(answered),
        datagram=statistics.fmean(sizes) if sizes else 0.0,
        body=statistics.fmean(c.body2 for c in answered if c.body2 is not None) if answered else 0.0,
        cpu=cpu,
        retransmitted=len(sizes) - len(answered),
        drops=drops,
        notes=notes,
    )


async def ours(directory: Path) -> Outcome:
    before, after = room_documents()
    notifier = await OurNotifier(before).start()
    sipp = None
    try:
        sipp = await asyncio.to_thread(start_subscribers, notifier.port, directory)
        await until(
            lambda: notifier.started >= SUBSCRIBERS and notifier.settled(), 120, "1,000 subscriptions to us"
        )
        await asyncio.sleep(SETTLE)
        notifier.answered.clear()
        cpu, drops = own_cpu(), udp_receive_drops()
        change = time.time()
        await notifier.change(after)
        await until(lambda: len(notifier.answered) >= SUBSCRIBERS, 120, "every second NOTIFY answered")
        seen = max(notifier.answered) - change
        result = await asyncio.to_thread(sipp.wait)
        cpu, drops = own_cpu() - cpu, udp_receive_drops() - drops
        notes = f" (our driver saw the last 200 at {seen * 1e3:.0f} ms)"
        return outcome("ours", result, change, cpu=cpu, drops=drops, notes=notes)
    finally:
        if sipp is not None:
            sipp.stop()
        await notifier.close()


async def kamailio(directory: Path) -> Outcome:
    before, after = room_documents()
    server = BenchKamailio(directory / "kamailio")
    server.start()
    port = free_port_both()
    ua = UserAgent([TransportAddress("udp", LOOPBACK, port)])
    await ua.start()
    sipp = None
    try:
        etag, _ = await server.publish(ua, before)
        sipp = await asyncio.to_thread(start_subscribers, server.port, directory)
        log = directory / f"{Path(SCENARIO).stem}.logs"

        def subscribed() -> int:
            return log.read_text().count("subscribed call=") if log.exists() else 0

        await until(lambda: subscribed() >= SUBSCRIBERS, 120, "1,000 subscriptions to Kamailio")
        await asyncio.sleep(SETTLE)
        cpu, drops = server.cpu(), udp_receive_drops()
        _, change = await server.publish(ua, after, etag)
        result = await asyncio.to_thread(sipp.wait)
        cpu, drops = server.cpu() - cpu, udp_receive_drops() - drops
        if not server.process or not server.process.alive():
            raise RuntimeError(f"Kamailio died:\n{server.log()}")
        return outcome("Kamailio", result, change, cpu=cpu, drops=drops)
    finally:
        if sipp is not None:
            sipp.stop()
        await ua.close()
        server.stop()


async def run(directory: Path) -> list[tuple[Outcome, Outcome]]:
    rounds = []
    for n in range(ROUNDS):
        a = await ours(directory / f"ours{n}")
        b = await kamailio(directory / f"kamailio{n}")
        rounds.append((a, b))
    return rounds


def main() -> None:
    quiet_logs()
    with tempfile.TemporaryDirectory(prefix="bench-sip-fanout-") as directory:
        rounds = asyncio.run(run(Path(directory)))
    print(
        f"one participant joins a room of 10 watched by {SUBSCRIBERS} sipp subscribers, "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}:"
    )
    for n, (a, b) in enumerate(rounds, 1):
        print(f"round {n}:\n  {a.line()}\n  {b.line()}\n  ratio ours / Kamailio: {a.wall / b.wall:.2f}x")
    best_ours = min(a.wall for a, _ in rounds)
    best_kamailio = min(b.wall for _, b in rounds)
    a, b = rounds[0]
    print(
        f"best of each: ours {best_ours * 1e3:.0f} ms, Kamailio {best_kamailio * 1e3:.0f} ms "
        f"-> {best_ours / best_kamailio:.2f}x (goal <= 1.0x); bytes per subscriber: ours {a.datagram:.0f} "
        f"(partial), Kamailio {b.datagram:.0f} (full state)"
    )


if __name__ == "__main__":
    main()
