"""Ports from the configured range, on the configured address only."""

from __future__ import annotations

import socket

import pytest

from media.ports import NoPortAvailable, PortRange


def test_ports_come_from_the_range_on_the_address_and_run_out() -> None:
    ports = PortRange("127.0.0.1", 43500, 43503)
    socks = [ports.bind() for _ in range(4)]
    try:
        assert sorted(s.getsockname()[1] for s in socks) == [43500, 43501, 43502, 43503]
        assert {s.getsockname()[0] for s in socks} == {"127.0.0.1"}
        with pytest.raises(NoPortAvailable):
            ports.bind()
        socks.pop().close()
        again = ports.bind()  # a freed port is found again
        socks.append(again)
        assert 43500 <= again.getsockname()[1] <= 43503
    finally:
        for s in socks:
            s.close()


def test_a_port_held_by_someone_else_is_skipped() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as other:
        other.bind(("127.0.0.1", 43600))
        ports = PortRange("127.0.0.1", 43600, 43601)
        sock = ports.bind()
        with sock:
            assert sock.getsockname()[1] == 43601


def test_bad_range() -> None:
    with pytest.raises(ValueError):
        PortRange("127.0.0.1", 5000, 4000)
