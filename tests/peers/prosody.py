"""Prosody 0.12 (Debian's `prosody`) on loopback: c2s without TLS, one XEP-0114 component with a secret.

`Prosody(directory)` writes a configuration, creates users with prosodyctl and starts `prosody -F` on free
ports; `restart()` stops it by PID and starts it again on the same ports (the component must reconnect);
`stop()` stops it. Traps, seen here: Prosody refuses to run as root without `run_as_root = true`, and
`prosody --version` starts a default server on 0.0.0.0 (never call it).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from tests.peers.process import LOOPBACK, PeerProcess, free_port, tcp_accepts

CONFIG = """\
run_as_root = true
pidfile = "{run}/prosody.pid"
data_path = "{run}/data"
log = {{ debug = "{run}/prosody-debug.log"; info = "{run}/prosody-info.log" }}
interfaces = {{ "{host}" }}
local_interfaces = {{ "{host}" }}
c2s_ports = {{ {c2s} }}
c2s_direct_tls_ports = {{ }}
component_ports = {{ {component} }}
component_interface = "{host}"
http_ports = {{ }}
https_ports = {{ }}
modules_enabled = {{ "roster", "saslauth", "disco", "ping" }}
modules_disabled = {{ "s2s", "tls", "offline", "c2s_direct_tls", "http" }}
use_libevent = false
c2s_require_encryption = false
s2s_require_encryption = false
allow_unencrypted_plain_auth = true
authentication = "internal_hashed"
storage = "internal"
certificates = "{run}/certs"
c2s_stanza_size_limit = {stanza_limit}
limits = {{ c2s = {{ rate = "10mb/s" }}; component = {{ rate = "100mb/s" }} }}

VirtualHost "{domain}"

Component "{component_domain}"
    component_secret = "{secret}"
"""


@dataclass
class Prosody:
    """A running Prosody. `domain` hosts the test users, `component_domain` is the gateway's."""

    directory: Path
    domain: str = "localhost"
    component_domain: str = "sip.localhost"
    secret: str = "component-secret"
    users: tuple[str, ...] = ("alice", "bob", "carol", "mallory")
    password: str = "password"
    stanza_limit: int = 2 * 1024 * 1024  # lets a 1 MB stanza reach the component (the hostile-input tests)
    c2s_port: int = field(default_factory=free_port)
    component_port: int = field(default_factory=free_port)
    process: PeerProcess | None = None

    def __post_init__(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / "data").mkdir(exist_ok=True)
        (self.directory / "certs").mkdir(exist_ok=True)
        self.config = self.directory / "prosody.cfg.lua"
        self.config.write_text(
            CONFIG.format(
                run=self.directory, host=LOOPBACK, c2s=self.c2s_port, component=self.component_port,
                domain=self.domain, component_domain=self.component_domain, secret=self.secret,
                stanza_limit=self.stanza_limit,
            )
        )  # fmt: skip
        for user in self.users:
            subprocess.run(
                ["prosodyctl", "--config", str(self.config), "register", user, self.domain, self.password],
                check=True, capture_output=True, timeout=30,
            )  # fmt: skip
        self.start()

    def jid(self, user: str) -> str:
        return f"{user}@{self.domain}"

    def start(self) -> None:
        self.process = PeerProcess(
            "prosody",
            ["prosody", "-F", "--config", str(self.config)],
            cwd=self.directory,
            ready=lambda: tcp_accepts(self.c2s_port) and tcp_accepts(self.component_port),
        )

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def log(self) -> str:
        path = self.directory / "prosody-info.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""
