"""sipp 3.6 (Debian's `sip-tester`) running a scenario of tests/sipp/ against a port on 127.0.0.1.

`run_sipp(...)` runs a UAC scenario to its end and returns a `SippResult` (exit code, the messages trace,
the scenario's `<log>` lines, stdout and stderr). `start_sipp(...)` starts a scenario in the background (a
UAS that waits for our request): it returns a `SippProcess` once its UDP port is bound (its TCP port
listens, with `extra=["-t", "t1"]`); `wait()` gives the
result, `stop()` kills it by PID. Every run has a global `-timeout` (and `-timeout_error`, so a timeout is a
failure), and the Python side waits with a timeout too: a stuck peer fails a test instead of hanging it.

Everything sipp binds is on 127.0.0.1 and a free port: the SIP socket (`-i`, `-p`), the control socket
(`-ci`, `-cp`: 0.0.0.0:8888 by default) and the RTP echo sockets (`-mi`, `-mp`).

Exit codes (sipp(1)): 0 every call succeeded, 1 at least one failed, 97 stopped by a command, 99 no call
processed, 255/254 fatal errors (e.g. a scenario it refuses to load: unused variables are such an error).
Scenario keywords from the command line: `keys={"etag": "..."}` becomes `-key etag ...`, `[etag]` in XML.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.peers.process import LOOPBACK, PeerProcess, free_port

SCENARIOS = Path(__file__).resolve().parent.parent / "sipp"


@dataclass
class SippResult:
    returncode: int
    messages: str  # -trace_msg: every message sent and received
    log: str  # -trace_logs: the scenario's <log message=.../> lines
    errors: str  # -trace_err: why a call failed
    output: str  # stdout + stderr

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def __str__(self) -> str:
        return (
            f"sipp exit {self.returncode}\n--- log\n{self.log}\n--- errors\n{self.errors}\n"
            f"--- output\n{self.output[-3000:]}\n--- messages\n{self.messages[-6000:]}"
        )


def _argv(
    scenario: str,
    remote_port: int | None,
    *,
    local_port: int,
    directory: Path,
    name: str,
    service: str,
    calls: int,
    timeout: float,
    keys: Mapping[str, str],
    extra: Sequence[str],
) -> list[str]:
    path = Path(scenario) if Path(scenario).is_absolute() else SCENARIOS / scenario
    argv = ["sipp", "-sf", str(path)]
    if remote_port is not None:
        argv.append(f"{LOOPBACK}:{remote_port}")
    argv += [
        "-i", LOOPBACK, "-p", str(local_port), "-s", service, "-m", str(calls),
        # its control socket binds 0.0.0.0:8888 and its RTP echo sockets 6000/6002 unless told otherwise
        "-ci", LOOPBACK, "-cp", str(free_port(socket.SOCK_DGRAM)), "-mi", LOOPBACK,
        "-mp", str(free_port(socket.SOCK_DGRAM)),
        "-nostdin", "-timeout", f"{timeout:g}s", "-timeout_error",
        "-trace_msg", "-message_file", str(directory / f"{name}.messages"),
        "-trace_logs", "-log_file", str(directory / f"{name}.logs"),
        "-trace_err", "-error_file", str(directory / f"{name}.errors"),
    ]  # fmt: skip
    for key, value in keys.items():
        argv += ["-key", key, value]
    return argv + list(extra)


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def _result(returncode: int, directory: Path, name: str, output: str) -> SippResult:
    return SippResult(
        returncode=returncode,
        messages=_read(directory / f"{name}.messages"),
        log=_read(directory / f"{name}.logs"),
        errors=_read(directory / f"{name}.errors"),
        output=output,
    )


def run_sipp(
    scenario: str,
    remote_port: int,
    directory: Path,
    *,
    local_port: int | None = None,
    name: str | None = None,
    service: str = "conf",
    calls: int = 1,
    timeout: float = 20.0,
    keys: Mapping[str, str] | None = None,
    extra: Sequence[str] = (),
) -> SippResult:
    """Run `scenario` (a file name in tests/sipp/) against udp:127.0.0.1:`remote_port` to its end."""
    directory.mkdir(parents=True, exist_ok=True)
    name = name or Path(scenario).stem
    argv = _argv(
        scenario, remote_port, local_port=local_port or free_port(socket.SOCK_DGRAM), directory=directory, name=name,
        service=service, calls=calls, timeout=timeout, keys=keys or {}, extra=extra,
    )  # fmt: skip
    try:
        done = subprocess.run(argv, cwd=directory, capture_output=True, timeout=timeout + 15, check=False)
    except subprocess.TimeoutExpired as exc:  # subprocess.run killed it
        output = (exc.stdout or b"").decode(errors="replace") + (exc.stderr or b"").decode(errors="replace")
        return _result(-9, directory, name, output)
    output = done.stdout.decode(errors="replace") + done.stderr.decode(errors="replace")
    return _result(done.returncode, directory, name, output)


def udp_bound(port: int) -> bool:
    """Whether some socket is bound to UDP 127.0.0.1:`port` (read from /proc/net/udp, no packet sent)."""
    return _proc_net("udp", port, state=None)


def tcp_listening(port: int) -> bool:
    """Whether some socket listens on TCP 127.0.0.1:`port` (read from /proc/net/tcp, no connection made:
    sipp would count one)."""
    return _proc_net("tcp", port, state="0A")


def _proc_net(table: str, port: int, state: str | None) -> bool:
    wanted = f"0100007F:{port:04X}"
    try:
        lines = Path(f"/proc/net/{table}").read_text().splitlines()[1:]
    except OSError:
        return False
    for line in lines:
        fields = line.split()
        if len(fields) > 3 and fields[1] == wanted and (state is None or fields[3] == state):
            return True
    return False


class SippProcess:
    """A scenario running in the background (typically a UAS on `port`)."""

    def __init__(
        self,
        scenario: str,
        directory: Path,
        *,
        port: int | None = None,
        remote_port: int | None = None,
        name: str | None = None,
        service: str = "conf",
        calls: int = 1,
        timeout: float = 20.0,
        keys: Mapping[str, str] | None = None,
        extra: Sequence[str] = (),
    ) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.name = name or Path(scenario).stem
        self.port = port or free_port(socket.SOCK_DGRAM)
        self.timeout = timeout
        argv = _argv(
            scenario, remote_port, local_port=self.port, directory=directory, name=self.name,
            service=service, calls=calls, timeout=timeout, keys=keys or {}, extra=extra,
        )  # fmt: skip
        over_tcp = any(a == "-t" and b.startswith("t") for a, b in zip(extra, list(extra)[1:], strict=False))
        bound = tcp_listening if over_tcp else udp_bound
        self.process = PeerProcess(
            f"sipp-{self.name}", argv, cwd=directory, ready=lambda: bound(self.port), timeout=10
        )

    def wait(self, timeout: float | None = None) -> SippResult:
        """Wait for the scenario to end (killed after `timeout`, default its own timeout + 15 s)."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout + 15)
        while self.process.alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.process.alive():
            self.process.stop()
            return _result(-9, self.directory, self.name, self.process.log())
        self.process.stop()  # closes the log, reaps the group
        return _result(self.process.process.returncode, self.directory, self.name, self.process.log())

    def stop(self) -> None:
        self.process.stop()


def start_sipp(scenario: str, directory: Path, **kwargs: object) -> SippProcess:
    return SippProcess(scenario, directory, **kwargs)  # type: ignore[arg-type]
