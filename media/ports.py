"""UDP ports for media legs, from a configurable range, bound to one configured address only.

The range is walked round-robin from a random start (a port freed by one call is not handed straight to
the next one, so late packets of the old call do not reach the new one); a port some other program holds
is skipped.
"""

from __future__ import annotations

import random
import socket
from dataclasses import dataclass, field


class NoPortAvailable(RuntimeError):
    """Every port of the range is in use."""


@dataclass
class PortRange:
    """Ports `low`..`high` (inclusive) on `address` (an IPv4 or IPv6 literal, never a wildcard by default).

    `bind()` returns a non-blocking UDP socket; whoever gets it closes it (asyncio transports do on
    close). `receive_buffer` sets SO_RCVBUF on every socket (0 keeps the system default).
    """

    address: str
    low: int = 20000
    high: int = 40000
    receive_buffer: int = 0
    _next: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        if not 1 <= self.low <= self.high <= 65535:
            raise ValueError(f"bad port range {self.low}-{self.high}")
        self._next = random.randint(self.low, self.high)

    @property
    def family(self) -> socket.AddressFamily:
        return socket.AF_INET6 if ":" in self.address else socket.AF_INET

    def bind(self) -> socket.socket:
        """A UDP socket bound to `address` and the next free port of the range."""
        size = self.high - self.low + 1
        for _ in range(size):
            port = self._next
            self._next = self.low if port >= self.high else port + 1
            sock = socket.socket(self.family, socket.SOCK_DGRAM)
            try:
                sock.bind((self.address, port))
            except OSError:
                sock.close()
                continue
            sock.setblocking(False)
            if self.receive_buffer:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.receive_buffer)
            return sock
        raise NoPortAvailable(f"no free UDP port in {self.address}:{self.low}-{self.high}")
