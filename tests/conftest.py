"""Fixtures shared by the live test folders (tests/sip_live, tests/e2e)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.peers.kamailio import Kamailio


@pytest.fixture
def kamailio(tmp_path: Path) -> Iterator[Kamailio]:
    """A real Kamailio presence_conference notifier on a free UDP port of 127.0.0.1, stopped by PID."""
    server = Kamailio(tmp_path / "kamailio")
    server.start()
    try:
        yield server
    finally:
        server.stop()
