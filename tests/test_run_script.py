"""The README's first command works: `scripts/run --check` installs (the Python part: the Debian packages are
there already, COIN_GATEWAY_SKIP_APT=1), brings up Prosody, Kamailio and the gateway on loopback, checks them
end to end once (an XMPP client joins the SIP-bridge room, a SIP phone the XMPP-mixer room), stops them, and
leaves no process behind."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [pytest.mark.live, pytest.mark.timeout(420)]


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def test_scripts_run_check_brings_everything_up_checks_it_and_stops_it() -> None:
    done = subprocess.run(
        [str(ROOT / "scripts" / "run"), "--check"],
        cwd=ROOT, env={**os.environ, "COIN_GATEWAY_SKIP_APT": "1"}, stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=360, check=False,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    for check in ("XMPP client -> SIP bridge", "SIP phone -> XMPP room", "room subscription policy"):
        assert f"check ok: {check}" in output, output
    assert "FAILED" not in output, output

    # every process it started was stopped by its PID: none of them is left, nor anything on .run/
    stopped = {name: int(pid) for name, pid in re.findall(r"== stopping (\S+) \(pid (\d+)\)", output)}
    assert set(stopped) == {"prosody", "kamailio", "coin-gateway"}, output
    time.sleep(0.2)
    assert not [name for name, pid in stopped.items() if running(pid)]
    left = subprocess.run(
        ["pgrep", "-af", "prosody|kamailio|coin-gateway|gatewayd"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    assert str(ROOT / ".run") not in left, left
