"""baresip 1.0 (Debian `baresip`) as the independent SIP call peer of the media scenarios.

It answers every call (`answermode=auto`), sends a sine tone from `ausine` (48 kHz only, so the
peer runs at 48 kHz whatever the codec), records the audio it receives with `sndfile` (`dump-*-dec.wav`
in its directory), sends DTMF on `sndcode` and reports the DTMF it receives as `CALL_DTMF_START`
events, both through `ctrl_tcp` (JSON in netstrings). It needs a default route (`ip route add default
dev lo` inside the namespace) and must only ever run inside the scenario's network namespace.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import wave
from pathlib import Path
from typing import Any

CONFIG = """\
poll_method		epoll
sip_listen		{address}:{sip_port}
call_local_timeout	60
call_max_calls		4
audio_source		ausine,{frequency}
audio_alert		aubridge,nowhere
audio_player		aubridge,nowhere
ausrc_srate		48000
auplay_srate		48000
ausrc_channels		2
auplay_channels		1
rtp_ports		{rtp_low}-{rtp_high}
rtp_timeout		0
module_path		/usr/lib/baresip/modules
module			g711.so
module			opus.so
module			ausine.so
module			aubridge.so
module			sndfile.so
module			srtp.so
module_app		account.so
module_app		menu.so
module_app		ctrl_tcp.so
ctrl_tcp_listen		{address}:{ctrl_port}
snd_path		{directory}
opus_bitrate		32000
opus_stereo		no
opus_sprop_stereo	no
dns_server		{address}:53
"""


class Baresip:
    def __init__(
        self,
        directory: Path,
        *,
        address: str,
        sip_port: int,
        ctrl_port: int,
        rtp_ports: tuple[int, int],
        frequency: int,
        mediaenc: str | None = None,
    ) -> None:
        self.directory = directory
        self.address, self.sip_port, self.ctrl_port = address, sip_port, ctrl_port
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "config").write_text(
            CONFIG.format(
                address=address,
                sip_port=sip_port,
                ctrl_port=ctrl_port,
                rtp_low=rtp_ports[0],
                rtp_high=rtp_ports[1],
                frequency=frequency,
                directory=directory,
            )
        )
        encryption = f";mediaenc={mediaenc}" if mediaenc else ""  # srtp-mand: RTP/SAVP with SDES only
        (directory / "accounts").write_text(
            f"<sip:peer@{address}:{sip_port}>;regint=0;answermode=auto{encryption}\n"
        )
        (directory / "contacts").write_text("")
        self.log_path = directory / "baresip.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.events: list[dict[str, Any]] = []
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def uri(self) -> str:
        return f"sip:peer@{self.address}:{self.sip_port}"

    async def start(self, timeout: float = 10.0) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            ["baresip", "-f", str(self.directory), "-v"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        log.close()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            try:
                self._reader, self._writer = await asyncio.open_connection(self.address, self.ctrl_port)
                break
            except OSError:
                if self.process.poll() is not None or loop.time() > deadline:
                    raise RuntimeError(f"baresip did not start:\n{self.log()}") from None
                await asyncio.sleep(0.05)
        self._task = loop.create_task(self._read())

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]

    async def _read(self) -> None:
        assert self._reader is not None
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                length = int((await self._reader.readuntil(b":"))[:-1])
                payload = await self._reader.readexactly(length + 1)
                self.events.append(json.loads(payload[:-1]))

    async def command(self, command: str, params: str = "") -> None:
        assert self._writer is not None
        body = json.dumps({"command": command, "params": params, "token": command}).encode()
        self._writer.write(str(len(body)).encode() + b":" + body + b",")
        await self._writer.drain()

    def dtmf_received(self) -> str:
        return "".join(e.get("param", "") for e in self.events if e.get("type") == "CALL_DTMF_START")

    def call_closed(self) -> bool:
        return any(e.get("type") == "CALL_CLOSED" for e in self.events)

    def recording(self) -> tuple[list[int], int]:
        """The samples (first channel) baresip decoded from what it received, and their rate."""
        files = sorted(self.directory.glob("dump-*-dec.wav"))
        if not files:
            return [], 0
        with wave.open(str(files[-1])) as w:
            rate, channels, frames = w.getframerate(), w.getnchannels(), w.readframes(w.getnframes())
        samples = memoryview(frames).cast("h").tolist()
        return samples[::channels], rate

    def pause(self) -> None:
        """SIGSTOP: the peer goes silent (sends nothing at all) without closing anything."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGCONT)

    async def stop(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(ConnectionError):
                await self._writer.wait_closed()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGCONT)
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
