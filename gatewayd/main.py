"""The `coin-gateway` command: the core's command line (`gateway.cli`) plus `run`, which starts the daemon.

The core may not import the adapters, so the command that needs them lives here and is handed to the core's
command line."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from gateway.cli import main as cli_main
from gatewayd.daemon import serve


def main(argv: Sequence[str] | None = None) -> int:
    return cli_main(argv, run_daemon=serve)


if __name__ == "__main__":
    sys.exit(main())
