"""Shared pieces of the SIP benchmarks (bench/sip_subscriptions.py, bench/sip_fanout.py).

- `OurNotifier`: our user agent on free UDP+TCP ports of 127.0.0.1 with the conference notifier
  (`sip.notifier.ConferenceNotifier` over `sip.driver.Driver` / `EventHandler`) serving one in-process room
  (`sip:conf@...`) that admits every subscriber; it notes when each NOTIFY got its final response.
- `BenchKamailio`: Kamailio presence_conference (tests/peers/kamailio.py) with its CPU time read from /proc
  (every process of its process group), and `publish()` to feed it a document (our user agent sends the
  PUBLISH over UDP, as a conference bridge would).
- `sipp_calls()`: what the subscribers' sipp logged (tests/sipp/conf_sub_bench_uac.xml): per call, when it
  started and when each NOTIFY arrived (sipp's gettimeofday, the same clock as `time.time()`).

Everything listens on 127.0.0.1 only; every process started is stopped by PID (tests/peers/process.py).
"""

from __future__ import annotations

import asyncio
import os
import re
import resource
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import structlog
from sipmessage import URI, Request, Response

from bench.common import conference_document
from gateway.document_parser import parse
from sip.actions import Timer
from sip.driver import Driver, EventHandler
from sip.notifier import ConferenceNotifier, SubscriptionEnded, SubscriptionStarted
from sip.transport import TransportAddress
from sip.user_agent import UserAgent
from tests.peers.kamailio import Kamailio
from tests.peers.process import LOOPBACK, free_port_both
from tests.sip_wire import FixedRoom, OneRoom

SCENARIO = "conf_sub_bench_uac.xml"
ROOM_USERS = 10  # participants in the room every subscriber watches
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def quiet_logs() -> None:
    """Warnings and errors only: a log line per message would cost more than the work measured."""
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(30))


def room_documents() -> tuple[bytes, bytes]:
    """The room before and after the change: ROOM_USERS participants, then one more joins (compact XML, as
    our serialiser writes it; the same bytes are PUBLISHed to Kamailio)."""
    return conference_document(ROOM_USERS, indent=False), conference_document(ROOM_USERS + 1, indent=False)


# sipp's socket buffers (-buff_size; its default is 64 KiB): 1,000 NOTIFYs of full state arriving at once
# would overflow that and be retransmitted, and the subscriber, not the notifier, would set the pace
SIPP_BUFFER = ["-buff_size", "4194304"]


def udp_receive_drops() -> int:
    """Datagrams this machine dropped because a socket's receive buffer was full (all sockets: other work
    on the machine counts too)."""
    lines = Path("/proc/net/snmp").read_text().splitlines()
    names, values = (line.split() for line in lines if line.startswith("Udp:"))
    return int(values[names.index("RcvbufErrors")])


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def group_cpu(pgid: int) -> float:
    """CPU seconds (user + system) of the processes now in process group `pgid`."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
        if int(fields[2]) == pgid:  # field 5, pgrp
            total += int(fields[11]) + int(fields[12])  # fields 14, 15: utime, stime
    return total / CLOCK_TICKS


class _Timed:
    """The notifier machine, noting when each NOTIFY's final response (or failure) came back."""

    def __init__(self, machine: ConferenceNotifier, answered: list[float]) -> None:
        self.machine = machine
        self.answered = answered

    def subscribe_received(self, request: Request) -> Sequence[object]:
        return self.machine.subscribe_received(request)

    def response_received(self, response: Response) -> Sequence[object]:
        if response.cseq.method == "NOTIFY":
            self.answered.append(time.time())
        return self.machine.response_received(response)

    def request_failed(self, request: Request, reason: str) -> Sequence[object]:
        return self.machine.request_failed(request, reason)

    def timer_fired(self, timer: Timer) -> Sequence[object]:
        return self.machine.timer_fired(timer)


@dataclass
class OurNotifier:
    """Our notifier for one room, on our user agent (UDP and TCP on one free port of 127.0.0.1)."""

    document: bytes
    ua: UserAgent = field(init=False)
    room: FixedRoom = field(init=False)
    machine: ConferenceNotifier = field(init=False)
    driver: Driver[_Timed] = field(init=False)
    started: int = 0
    ended: dict[str, int] = field(default_factory=dict)
    answered: list[float] = field(default_factory=list)

    async def start(self) -> OurNotifier:
        port = free_port_both()
        self.ua = UserAgent(
            [TransportAddress("udp", LOOPBACK, port), TransportAddress("tcp", LOOPBACK, port)]
        )
        await self.ua.start()
        self.room = FixedRoom(f"sip:conf@{LOOPBACK}:{port}", parse(self.document))
        loop = asyncio.get_running_loop()
        self.machine = ConferenceNotifier(
            OneRoom(self.room), contact=self.ua.contact("udp").uri, clock=loop.time
        )
        self.driver = Driver(self.ua, _Timed(self.machine, self.answered), on_report=self._report)
        self.ua.handler = EventHandler(notifier=self.driver)  # type: ignore[arg-type]
        return self

    @property
    def port(self) -> int:
        return self.ua.local_address("udp").port

    def _report(self, report: object) -> None:
        if isinstance(report, SubscriptionStarted):
            self.started += 1
        elif isinstance(report, SubscriptionEnded):
            key = report.reason + (f" ({report.detail})" if report.detail else "")
            self.ended[key] = self.ended.get(key, 0) + 1

    def settled(self) -> bool:
        """Every subscription's NOTIFY answered."""
        return all(s.in_flight is None for s in self.machine.subscriptions())

    async def change(self, document: bytes) -> None:
        """The room's state changes: every subscriber gets a NOTIFY (a partial document)."""
        self.room.document = parse(document)
        await self.driver.run(self.machine.room_changed(self.room))

    async def close(self) -> None:
        await self.driver.close()
        await self.ua.close()


class BenchKamailio(Kamailio):
    """Kamailio presence_conference on loopback, with its CPU time (all its processes)."""

    def cpu(self) -> float:
        assert self.process is not None
        return group_cpu(self.process.pid)

    async def publish(self, ua: UserAgent, document: bytes, etag: str | None = None) -> tuple[str, float]:
        """PUBLISH `document` (Event: conference) to the conference resource, refreshing the publication
        `etag` names; returns the new entity tag and the time the PUBLISH was sent."""
        uri = self.uri("conf")
        headers = [("Event", "conference"), ("Expires", "3600")]
        if etag is not None:
            headers.append(("SIP-If-Match", etag))
        request = ua.new_request(
            "PUBLISH", uri, from_uri=f"<{uri}>", to_uri=f"<{uri}>", headers=headers, body=document,
            content_type="application/conference-info+xml",
        )  # fmt: skip
        sent = time.time()
        # over UDP, as Kamailio listens (our user agent would try TCP first for a body this large)
        response = await ua.send(request, next_hop=URI.parse(f"sip:{LOOPBACK}:{self.port};transport=udp"))
        if response.code != 200:
            raise RuntimeError(f"PUBLISH answered {response.code} {response.phrase}:\n{self.log()}")
        return response.headers["SIP-ETag"], sent


@dataclass
class SippCall:
    number: int
    start: float
    notify1: float
    body1: int
    notify2: float | None = None
    body2: int | None = None


_SUBSCRIBED = re.compile(
    r"subscribed call=(\d+) granted=\S+ start=(\d+)\S* (\d+)\S* notify1=(\d+)\S* (\d+)\S* body1=(\d+)"
)
_NOTIFIED = re.compile(r"notified call=(\d+) notify2=(\d+)\S* (\d+)\S* body2=(\d+)")


def sipp_calls(log: str) -> dict[int, SippCall]:
    """The calls of conf_sub_bench_uac.xml that got their first NOTIFY, from sipp's -trace_logs."""
    calls: dict[int, SippCall] = {}
    for m in _SUBSCRIBED.finditer(log):
        number = int(m[1])
        calls[number] = SippCall(number, int(m[2]) + int(m[3]) / 1e6, int(m[4]) + int(m[5]) / 1e6, int(m[6]))
    for m in _NOTIFIED.finditer(log):
        call = calls.get(int(m[1]))
        if call is not None:
            call.notify2, call.body2 = int(m[2]) + int(m[3]) / 1e6, int(m[4])
    return calls


def received_sizes(messages: str, marker: str) -> list[int]:
    """Sizes of the datagrams sipp received (-trace_msg) whose text contains `marker`."""
    sizes = []
    for block in re.split(r"\n-{20,} ", messages):
        m = re.search(r"UDP message received \[(\d+)\] bytes", block)
        if m and marker in block:
            sizes.append(int(m[1]))
    return sizes


def sipp_summary(output: str) -> dict[str, int]:
    """sipp's final counters from its screen output: calls created, successful, failed."""
    found = {}
    for name, pattern in (
        ("created", r"Outgoing calls created\s*\|\s*\d+\s*\|\s*(\d+)"),
        ("successful", r"Successful call\s*\|\s*\d+\s*\|\s*(\d+)"),
        ("failed", r"Failed call\s*\|\s*\d+\s*\|\s*(\d+)"),
    ):
        matches = re.findall(pattern, output)
        if matches:
            found[name] = int(matches[-1])
    return found
