"""Kamailio 5.6 (Debian's `kamailio` + `kamailio-presence-modules` + `kamailio-sqlite-modules`) on loopback,
as a real RFC 4575 notifier: PUBLISH a conference-info document (Event: conference), SUBSCRIBE, and get it
in a NOTIFY.

`Kamailio(directory)` writes `kamailio.cfg` from `kamailio.cfg.template` (beside this file), creates the
sqlite database from /usr/share/kamailio/db_sqlite/{standard,presence}-create.sql, starts
`kamailio -DD -E` on a free UDP port of 127.0.0.1 and waits until it answers an OPTIONS; `stop()` stops it
by PID (its whole process group). Seen here: it answers in ~0.1 s; its NOTIFYs carry full state only,
with the root `entity` written without the `sip:` scheme and `version` counted per watcher; a changed
document must be PUBLISHed with `SIP-If-Match: <etag>`, else a second record is created.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.peers.process import LOOPBACK, PeerProcess, free_port

TEMPLATE = Path(__file__).with_name("kamailio.cfg.template")
SQL_DIR = Path("/usr/share/kamailio/db_sqlite")


def sip_options_answered(port: int, host: str = LOOPBACK, timeout: float = 0.2) -> bool:
    """True when something at udp:host:port answers an OPTIONS (any response)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((LOOPBACK, 0))
        sock.settimeout(timeout)
        local = sock.getsockname()[1]
        probe = (
            f"OPTIONS sip:ping@{host}:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {LOOPBACK}:{local};branch=z9hG4bK-probe-{time.monotonic_ns()}\r\n"
            f"From: <sip:probe@{LOOPBACK}>;tag=probe\r\nTo: <sip:ping@{host}>\r\n"
            f"Call-ID: probe-{time.monotonic_ns()}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 5\r\n"
            "Content-Length: 0\r\n\r\n"
        )
        sock.sendto(probe.encode(), (host, port))
        with contextlib.suppress(OSError):
            return sock.recv(65535).startswith(b"SIP/2.0 ")
    return False


@dataclass
class Kamailio:
    """A running Kamailio presence server; `uri(user)` is a resource on it (e.g. the conference)."""

    directory: Path
    port: int = field(default_factory=lambda: free_port(socket.SOCK_DGRAM))
    min_expires: int = 0
    password: str | None = None  # set: SUBSCRIBEs are challenged (407, realm 127.0.0.1, any username)
    process: PeerProcess | None = None

    def __post_init__(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.config = self.directory / "kamailio.cfg"
        self.config.write_text(
            TEMPLATE.read_text().format(
                run=self.directory,
                host=LOOPBACK,
                port=self.port,
                min_expires=self.min_expires,
                require_auth=int(self.password is not None),
                password=self.password or "unused",  # Kamailio refuses an empty one, even unreachable
            )
        )
        database = self.directory / "kamailio.sqlite"
        database.unlink(missing_ok=True)
        sql = b"".join(
            (SQL_DIR / name).read_bytes() for name in ("standard-create.sql", "presence-create.sql")
        )
        subprocess.run(["sqlite3", str(database)], input=sql, check=True, capture_output=True, timeout=30)

    def start(self) -> Kamailio:
        self.process = PeerProcess(
            "kamailio",
            [
                "kamailio", "-DD", "-E", "-f", str(self.config), "-Y", str(self.directory),
                "-P", str(self.directory / "kamailio.pid"), "-m", "64", "-M", "8",
            ],
            cwd=self.directory,
            ready=lambda: sip_options_answered(self.port),
            timeout=20,
        )  # fmt: skip
        return self

    def uri(self, user: str = "conf") -> str:
        return f"sip:{user}@{LOOPBACK}:{self.port}"

    def log(self) -> str:
        return self.process.log() if self.process is not None else ""

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    def __enter__(self) -> Kamailio:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
