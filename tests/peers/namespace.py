"""Running a test scenario inside a network namespace of its own (`unshare -n`), for everything that would
look beyond loopback by itself: ICE gathering (aiortc/aioice), baresip's route and DNS probes.

In the namespace only loopback exists: `lo` is brought up, 127.0.0.2 is added (aioice skips 127.0.0.1) and a
default route points at `lo` (baresip wants one), so no packet can reach any other address. The scenario is
a Python module that prints one JSON object as its last line, with the `directory` it ran in; nothing
started from that directory may outlive it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
NAMESPACE_SETUP = "ip link set lo up && ip addr add 127.0.0.2/8 dev lo && ip route add default dev lo"


def run_scenario(module: str, *args: str, timeout: float) -> dict[str, Any]:
    """Run `python -m module args...` in a new network namespace; its JSON result (asserted: exit 0, and no
    process left running from its directory)."""
    command = f"{NAMESPACE_SETUP} && exec {sys.executable} -m {module} {' '.join(args)}"
    process = subprocess.Popen(
        ["unshare", "-n", "sh", "-c", command], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip
    try:
        out, err = process.communicate(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, (err.decode(errors="replace") + out.decode(errors="replace"))[-6000:]
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    time.sleep(0.1)  # nothing of the scenario outlives it: no process runs from its directory
    pgrep = ["pgrep", "-f", result["directory"]]
    assert subprocess.run(pgrep, check=False, capture_output=True, text=True).stdout.split() == []
    return result
