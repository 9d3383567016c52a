"""Benchmark of relayed calls (issue 6). Run: python -m bench.media [--calls 50] [--seconds 10]

Each call: a Jingle peer (our JingleLeg, real ICE + DTLS-SRTP) sends opus at 50 packets/s to the gateway's
JingleLeg; a SIP peer (a plain UDP socket) sends PCMU or opus at 50 packets/s to the gateway's RtpLeg; the
gateway relays both ways: opus <-> PCMU transcoded, or opus <-> opus forwarded. The gateway runs in one
process (the one measured), the peers in another, so that the peers' cost is not counted; both inside a
network namespace of their own (the benchmark re-runs itself under `unshare -n`), so nothing leaves
loopback.

Printed, for each mode, measured in the same run: the gateway's CPU per call (share of one core), hence
concurrent calls per core (goal: >= 50 transcoded); packets delivered vs sent (loss); the latency the
gateway adds per packet, from the datagram's arrival in the gateway process to its sendto (p50/p99, each
direction); resident memory per call; and transcoded vs forwarded as a ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import json
import math
import os
import resource
import shlex
import statistics
import struct
import subprocess
import sys
import time
from collections import deque
from typing import Any

import av

from media.call import MediaCall
from media.codecs import OPUS, PCMU, Codec
from media.jingle_leg import JingleLeg
from media.leg import MediaLeg
from media.ports import PortRange
from media.rtp import RtpPacket, build_rtp
from media.rtp_leg import RtpLeg
from xmpp.jingle_content import IceUdpTransport

ADDRESS = "127.0.0.2"
NAMESPACE = "ip link set lo up && ip addr add 127.0.0.2/8 dev lo"


def rss_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def cpu_seconds() -> tuple[float, float]:
    """(user, system) CPU seconds of this process."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime


def tone_payloads(codec: Codec, frequency: float) -> list[bytes]:
    """One second of a tone, encoded in 20 ms payloads."""
    rate = 48000 if codec.name == "opus" else 8000
    name = {"opus": "libopus", "pcmu": "pcm_mulaw"}[codec.name]
    encoder: Any = av.CodecContext.create(name, "w")
    encoder.sample_rate, encoder.layout, encoder.format = rate, "mono", "s16"
    encoder.time_base = fractions.Fraction(1, rate)
    if codec.name == "opus":
        encoder.bit_rate = 32000
    out: list[bytes] = []
    frame_samples = rate // 50
    for i in range(60):
        samples = [
            int(6000 * math.sin(2 * math.pi * frequency * (i * frame_samples + k) / rate))
            for k in range(frame_samples)
        ]
        frame = av.AudioFrame(format="s16", layout="mono", samples=frame_samples)
        frame.planes[0].update(struct.pack(f"<{frame_samples}h", *samples))
        frame.sample_rate, frame.pts = rate, i * frame_samples
        out += [bytes(p) for p in encoder.encode(frame)]
    return out[-50:]


class Lines:
    """JSON lines over a pair of pipes (the gateway and peers processes talk through them)."""

    def __init__(self, reader: asyncio.StreamReader, write: Any) -> None:
        self.reader, self.write_raw = reader, write

    async def get(self) -> dict[str, Any]:
        line = await self.reader.readline()
        if not line:
            raise EOFError("the other process went away")
        result: dict[str, Any] = json.loads(line)
        return result

    def put(self, **message: Any) -> None:
        self.write_raw((json.dumps(message) + "\n").encode())


async def stdio_lines() -> Lines:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    out = sys.stdout.buffer

    def write(data: bytes) -> None:
        out.write(data)
        out.flush()

    return Lines(reader, write)


# -- the peers' process ------------------------------------------------------------------------------------


class SipPeer(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.received = 0
        self.transport: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.received += 1


async def peers_main() -> None:
    lines = await stdio_lines()
    setup = await lines.get()
    calls, sip_codec = setup["calls"], OPUS if setup["mode"] == "forwarded" else PCMU
    ports = PortRange(ADDRESS, 30000, 39999)
    loop = asyncio.get_running_loop()
    jingles: list[JingleLeg] = []
    sips: list[tuple[SipPeer, tuple[str, int]]] = []
    received = [0]

    for _ in range(calls):
        message = await lines.get()
        leg = JingleLeg(ports, controlling=True)
        leg.set_codecs(OPUS)
        await leg.gather()
        await leg.add_remote(IceUdpTransport.model_validate(message["jingle"]))
        _, sip = await loop.create_datagram_endpoint(SipPeer, sock=ports.bind())
        jingles.append(leg)
        sips.append((sip, (ADDRESS, message["sip_port"])))
        lines.put(
            jingle=leg.local_transport().model_dump(mode="json"),
            sip_port=sip.transport.get_extra_info("sockname")[1],
        )
    await asyncio.gather(*(asyncio.wait_for(leg.connected.wait(), 30) for leg in jingles))

    def count_rtp(data: bytes, component: int) -> None:
        if not 192 <= data[1] <= 223:  # the gateway's RTCP reports are not relayed packets
            received[0] += 1

    for leg in jingles:  # the load side only counts what it gets back: no SRTP, no queue, no task per packet
        leg._connection.fast_leg = None
        leg._connection.data_received = count_rtp  # type: ignore[method-assign]
    lines.put(connected=True)
    opus, sip_payloads = tone_payloads(OPUS, 440), tone_payloads(sip_codec, 880)
    sent = [0, 0]
    stop = asyncio.Event()

    async def send_loop() -> None:
        # every call sends one packet each way per 20 ms, in 10 groups spread evenly over the 20 ms
        start = time.monotonic()
        tick = 0
        groups = 10
        while not stop.is_set():
            for i in range(calls):
                seq = tick & 0xFFFF
                jingles[i].send(build_rtp(RtpPacket(111, False, seq, tick * 960, 1000 + i, opus[tick % 50])))
                sip, address = sips[i]
                sip.transport.sendto(
                    build_rtp(
                        RtpPacket(
                            sip_codec.payload_type,
                            False,
                            seq,
                            tick * sip_codec.samples_per_20ms,
                            2000 + i,
                            sip_payloads[tick % 50],
                        )
                    ),
                    address,
                )
                sent[0] += 1
                sent[1] += 1
                if (i + 1) % max(1, calls // groups) == 0:
                    due = start + tick * 0.02 + (i + 1) * 0.02 / calls
                    await asyncio.sleep(max(0.0, due - time.monotonic()))
            tick += 1

    sender = loop.create_task(send_loop())
    await lines.get()  # stop
    stop.set()
    await sender
    await asyncio.sleep(0.3)
    lines.put(
        sent_to_jingle_side=sent[0], sent_to_sip_side=sent[1],
        received_at_jingle_side=received[0], received_at_sip_side=sum(s.received for s, _ in sips),
    )  # fmt: skip
    for leg in jingles:
        await leg.close()
    for sip, _ in sips:
        sip.transport.close()


# -- the gateway's process (measured) ----------------------------------------------------------------------


def relayed(media: list[MediaCall]) -> int:
    """Packets that entered the relay, both ways, all calls."""
    return sum(
        d.stats.forwarded + d.stats.transcoded_in
        for call in media
        for d in (call.relay.a_to_b, call.relay.b_to_a)
    )


class Latency:
    """Arrival-to-sendto time of each relayed packet. Arrival: the datagram's delivery to the leg's socket
    protocol (for the Jingle leg, before aioice's queue and SRTP)."""

    def __init__(self) -> None:
        self.samples: dict[str, list[float]] = {"jingle->sip": [], "sip->jingle": []}
        self.current: tuple[str, float] | None = None

    def instrument(self, jingle: JingleLeg, sip: RtpLeg) -> None:
        arrivals: deque[float] = deque()
        connection: Any = jingle._connection
        original_data = connection.data_received

        def data_received(data: bytes, component: int) -> None:
            if 127 < data[0] < 192:  # SRTP; DTLS records (handshake) never reach _received_rtp
                arrivals.append(time.perf_counter())
            original_data(data, component)

        connection.data_received = data_received
        original_jingle_rtp = jingle._received_rtp

        def jingle_rtp(data: bytes) -> None:
            self.current = ("jingle->sip", arrivals.popleft() if arrivals else time.perf_counter())
            original_jingle_rtp(data)
            self.current = None

        jingle._received_rtp = jingle_rtp  # type: ignore[method-assign]
        original_datagram = sip._datagram

        def sip_datagram(data: bytes, addr: tuple[str, int]) -> None:
            self.current = ("sip->jingle", time.perf_counter())
            original_datagram(data, addr)
            self.current = None

        sip._datagram = sip_datagram  # type: ignore[method-assign]
        for leg in (jingle, sip):
            self._wrap_send(leg)

    def _wrap_send(self, leg: MediaLeg) -> None:
        original = leg.send

        def send(data: bytes) -> None:
            original(data)
            if self.current is not None:
                direction, arrival = self.current
                self.samples[direction].append(time.perf_counter() - arrival)

        leg.send = send  # type: ignore[method-assign]

    def percentiles(self) -> dict[str, tuple[float, float]]:
        out = {}
        for direction, values in self.samples.items():
            if len(values) >= 100:
                q = statistics.quantiles(values, n=100)
                out[direction] = (q[49] * 1e6, q[98] * 1e6)
        return out


async def gateway_run(
    mode: str, calls: int, seconds: float, warmup: float, opus_complexity: int = 1
) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.media", "--role", "peers"]
    peers = await asyncio.create_subprocess_exec(*command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert peers.stdin is not None and peers.stdout is not None
    stdin = peers.stdin
    lines = Lines(peers.stdout, stdin.write)
    lines.put(calls=calls, mode=mode)
    ports = PortRange(ADDRESS, 20000, 29999)
    sip_codec = OPUS if mode == "forwarded" else PCMU
    rss_before = rss_bytes()
    media: list[MediaCall] = []
    latency = Latency()
    for _ in range(calls):
        jingle = JingleLeg(ports, controlling=False)
        jingle.set_codecs(OPUS)
        await jingle.gather()
        sip = RtpLeg(ports)
        await sip.open()
        sip.set_codecs(sip_codec)
        lines.put(jingle=jingle.local_transport().model_dump(mode="json"), sip_port=sip.local_port)
        answer = await lines.get()
        await jingle.add_remote(IceUdpTransport.model_validate(answer["jingle"]))
        sip.set_remote(ADDRESS, answer["sip_port"])
        media.append(MediaCall(jingle, sip, silence_timeout=30, opus_complexity=opus_complexity))
        latency.instrument(jingle, sip)
    await asyncio.gather(
        *(asyncio.wait_for(c.a.connected.wait(), 30) for c in media if isinstance(c.a, JingleLeg))
    )
    await lines.get()  # the peers are connected too
    for call in media:
        call.start()
    rss_set_up = rss_bytes()
    await asyncio.sleep(warmup)
    for values in latency.samples.values():
        values.clear()
    relayed0 = relayed(media)
    (user0, system0), wall0 = cpu_seconds(), time.monotonic()
    await asyncio.sleep(seconds)
    (user1, system1), wall = cpu_seconds(), time.monotonic() - wall0
    packets = relayed(media) - relayed0
    user, system = user1 - user0, system1 - system0
    cpu = user + system
    rss_running = rss_bytes()
    stats: dict[str, int] = {}
    for call in media:
        for name, direction in (("j2s", call.relay.a_to_b), ("s2j", call.relay.b_to_a)):
            for key, value in vars(direction.stats).items():
                stats[f"{name}_{key}"] = stats.get(f"{name}_{key}", 0) + value
        for leg in (call.a, call.b):
            stats[f"{leg.name}_received"] = stats.get(f"{leg.name}_received", 0) + leg.packets_received
            stats[f"{leg.name}_sent"] = stats.get(f"{leg.name}_sent", 0) + leg.packets_sent
    lines.put(stop=True)
    counts = await lines.get()
    await asyncio.gather(*(c.close() for c in media))
    stdin.close()
    await peers.wait()
    share = cpu / wall
    # 100 packets per call-second (50 each way): a call's CPU share of a core, from what one packet costs
    # (robust on a shared machine, where the gateway may not get the core it would need to keep up)
    per_call = cpu / max(1, packets) * 100
    return {
        "packets_per_second": packets / wall,
        "expected_per_second": calls * 100,
        "mode": mode,
        "calls": calls,
        "stats": stats,
        "counts": counts,
        "cpu_share": share,
        "system_share": system / cpu if cpu else 0.0,
        "cpu_per_call": per_call,
        "calls_per_core": 1 / per_call,
        "latency_us": latency.percentiles(),
        "rss_per_call": (rss_running - rss_before) / calls,
        "rss_per_call_idle": (rss_set_up - rss_before) / calls,
        "loss_jingle_side": 1 - counts["received_at_jingle_side"] / max(1, counts["sent_to_sip_side"]),
        "loss_sip_side": 1 - counts["received_at_sip_side"] / max(1, counts["sent_to_jingle_side"]),
    }


def report(result: dict[str, Any]) -> None:
    lat = result["latency_us"]
    print(
        f"{result['mode']:>10}: {result['calls']} calls, {result['packets_per_second']:.0f} of "
        f"{result['expected_per_second']} packets/s relayed, {result['cpu_share'] * 100:.0f}% of a core "
        f"-> {result['cpu_per_call'] * 1000:.1f} ms CPU per call-second ({result['system_share'] * 100:.0f}% of it in "
        f"the kernel) -> {result['calls_per_core']:.0f} calls per core"
    )
    for direction, (p50, p99) in lat.items():
        print(f"{'':>12}added latency {direction}: p50 {p50:.0f} us, p99 {p99:.0f} us")
    print(
        f"{'':>12}memory per call: {result['rss_per_call'] / 1024:.0f} KiB running "
        f"({result['rss_per_call_idle'] / 1024:.0f} KiB set up); loss: to Jingle {result['loss_jingle_side'] * 100:.2f}%, "
        f"to SIP {result['loss_sip_side'] * 100:.2f}%"
    )


async def gateway_main(args: argparse.Namespace) -> None:
    print(f"{args.calls} concurrent calls per mode, {args.seconds:.0f} s measured after {args.warmup:.0f} s warm-up, "
          f"opus complexity {args.opus_complexity}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    results = {}
    for mode in ("transcoded", "forwarded"):  # each in a fresh process, so that memory figures are its own
        command = [sys.executable, "-m", "bench.media", "--role", "mode", "--mode", mode, "--calls", str(args.calls),
                   "--seconds", str(args.seconds), "--warmup", str(args.warmup),
                   "--opus-complexity", str(args.opus_complexity)]  # fmt: skip
        process = await asyncio.create_subprocess_exec(*command, stdout=subprocess.PIPE)
        out, _ = await process.communicate()
        results[mode] = json.loads(out.decode().strip().splitlines()[-1])
        report(results[mode])
    t, f = results["transcoded"], results["forwarded"]
    print(
        f"ratio: a transcoded call costs {t['cpu_per_call'] / f['cpu_per_call']:.1f}x a forwarded one; "
        f"transcoded calls per core {t['calls_per_core']:.0f} (goal >= 50)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--role", choices=("gateway", "mode", "peers"), default="gateway")
    parser.add_argument("--mode", choices=("transcoded", "forwarded"), default="transcoded")
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--opus-complexity", type=int, default=1, help="the opus encoder's, 0-10")
    args = parser.parse_args()
    if args.role == "peers":
        asyncio.run(peers_main())
        return
    if args.role == "mode":
        result = asyncio.run(
            gateway_run(args.mode, args.calls, args.seconds, args.warmup, args.opus_complexity)
        )
        print(json.dumps(result), flush=True)
        return
    if os.environ.get("COIN_GATEWAY_BENCH_NETNS") != "1":  # re-run inside a network namespace of our own
        inner = " ".join(shlex.quote(a) for a in [sys.executable, "-m", "bench.media", *sys.argv[1:]])
        env = {**os.environ, "COIN_GATEWAY_BENCH_NETNS": "1"}
        raise SystemExit(
            subprocess.call(["unshare", "-n", "sh", "-c", f"{NAMESPACE} && exec {inner}"], env=env)
        )
    asyncio.run(gateway_main(args))


if __name__ == "__main__":
    main()
