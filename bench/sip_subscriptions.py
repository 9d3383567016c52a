"""Benchmark: 1,000 conference subscriptions created by sipp at 200/s against our notifier (issue 5, SIP side).
Run: python -m bench.sip_subscriptions

sipp (tests/sipp/conf_sub_bench_uac.xml, `-r 200 -rp 1000 -m 1000 -l 400`) creates 1,000 subscriptions
to one room of 10 participants: each call SUBSCRIBEs (Event: conference, Expires: 600), checks the 200 and
the first NOTIFY (active, full state) and answers it, then stays 1 s to answer retransmissions. Our side:
our user agent (UDP+TCP on 127.0.0.1) with `ConferenceNotifier` over `Driver`/`EventHandler` and an
in-process room directory that admits everyone. Baseline, in the same run with the same sipp scenario and
the same document: Kamailio 5.6 presence_conference, its conference resource fed by one PUBLISH first.

Printed per round: subscriptions attempted / succeeded / failed (sipp's counters, and what each notifier
saw), the rate achieved (calls started per second, from sipp's own timestamps), and CPU time (user +
system) per subscription: our process, and every Kamailio process. Then the ratio of CPU per subscription,
ours / Kamailio's, best of the rounds (rounds alternate between the two).

Needs Kamailio with presence_conference and sipp (installed by scripts/bootstrap). Everything runs on
127.0.0.1 in a temporary directory and is stopped by PID at the end.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.sip_common import (
    SCENARIO,
    SIPP_BUFFER,
    BenchKamailio,
    OurNotifier,
    own_cpu,
    quiet_logs,
    room_documents,
    sipp_calls,
    sipp_summary,
)
from sip.transport import TransportAddress
from sip.user_agent import UserAgent
from tests.peers.process import LOOPBACK, free_port_both
from tests.peers.sipp import SippResult, run_sipp

CALLS = 1_000
RATE = 200
LIMIT = 400  # simultaneous calls at most (sipp -l)
ROUNDS = 3


@dataclass
class Outcome:
    name: str
    attempted: int
    succeeded: int
    failed: int
    rate: float  # calls started per second
    completed_rate: float  # subscriptions with their first NOTIFY answered, per second from the first start
    cpu: float  # seconds of the notifier's CPU over the whole run
    notes: str

    @property
    def cpu_per_subscription(self) -> float:
        return self.cpu / max(1, self.succeeded)

    def line(self) -> str:
        return (
            f"{self.name:>8}: attempted {self.attempted}, succeeded {self.succeeded}, failed {self.failed}; "
            f"started at {self.rate:.0f}/s, completed at {self.completed_rate:.0f}/s; "
            f"CPU {self.cpu:.2f} s -> {self.cpu_per_subscription * 1e3:.2f} ms per subscription{self.notes}"
        )


def subscribe(port: int, directory: Path) -> SippResult:
    return run_sipp(
        SCENARIO, port, directory, calls=CALLS, timeout=120, keys={"fanout": "0"},
        extra=["-r", str(RATE), "-rp", "1000", "-l", str(LIMIT), *SIPP_BUFFER],
    )  # fmt: skip


def outcome(name: str, result: SippResult, cpu: float, notes: str = "") -> Outcome:
    summary = sipp_summary(result.output)
    calls = sipp_calls(result.log)
    starts = sorted(c.start for c in calls.values())
    first, last = (starts[0], starts[-1]) if starts else (0.0, 0.0)
    done = max((c.notify1 for c in calls.values()), default=first)
    return Outcome(
        name,
        attempted=summary.get("created", 0),
        succeeded=summary.get("successful", 0),
        failed=summary.get("failed", 0),
        rate=(len(starts) - 1) / (last - first) if last > first else 0.0,
        completed_rate=len(calls) / (done - first) if done > first else 0.0,
        cpu=cpu,
        notes=notes if result.ok else f"{notes}; sipp exit {result.returncode}: {result.errors[:300]!r}",
    )


async def ours(directory: Path) -> Outcome:
    before, _ = room_documents()
    notifier = await OurNotifier(before).start()
    try:
        cpu = own_cpu()
        result = await asyncio.to_thread(subscribe, notifier.port, directory)
        deadline = time.monotonic() + 30
        while not notifier.settled() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        cpu = own_cpu() - cpu
        ended = ", ".join(f"{n} {reason}" for reason, n in notifier.ended.items())
        notes = f"\n          our notifier: {notifier.started} subscriptions started, {len(notifier.machine)} alive"
        notes += f", ended: {ended}" if ended else ", none ended"
        return outcome("ours", result, cpu, notes)
    finally:
        await notifier.close()


async def kamailio(directory: Path) -> Outcome:
    before, _ = room_documents()
    server = BenchKamailio(directory / "kamailio")
    server.start()
    port = free_port_both()
    ua = UserAgent([TransportAddress("udp", LOOPBACK, port)])
    await ua.start()
    try:
        await server.publish(ua, before)
        cpu = server.cpu()
        result = await asyncio.to_thread(subscribe, server.port, directory)
        cpu = server.cpu() - cpu
        if not server.process or not server.process.alive():
            raise RuntimeError(f"Kamailio died:\n{server.log()}")
        return outcome("Kamailio", result, cpu)
    finally:
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
    with tempfile.TemporaryDirectory(prefix="bench-sip-subscriptions-") as directory:
        rounds = asyncio.run(run(Path(directory)))
    load = os.getloadavg()[0]
    print(
        f"{CALLS} subscriptions by sipp at {RATE}/s (-l {LIMIT}) to a room of 10 participants, "
        f"{os.cpu_count()} cores, load average {load:.1f}:"
    )
    for n, (a, b) in enumerate(rounds, 1):
        print(f"round {n}:\n  {a.line()}\n  {b.line()}")
        print(
            f"  CPU per subscription: ours / Kamailio's = {a.cpu_per_subscription / b.cpu_per_subscription:.2f}x"
        )
    best_ours = min(a.cpu_per_subscription for a, _ in rounds)
    best_kamailio = min(b.cpu_per_subscription for _, b in rounds)
    failed = sum(a.attempted - a.succeeded for a, _ in rounds)
    print(
        f"best of each: ours {best_ours * 1e3:.2f} ms, Kamailio {best_kamailio * 1e3:.2f} ms CPU per subscription "
        f"-> {best_ours / best_kamailio:.2f}x; failures against ours: {failed} (goal 0)"
    )


if __name__ == "__main__":
    main()
