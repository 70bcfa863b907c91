"""Run the offline emulator from a shell: ``python -m o4_magics.testing --port 8765``."""

from __future__ import annotations

import argparse
import threading

from .server import Emulator


def main(argv: list[str] | None = None) -> None:
    """Serve until Ctrl-C, printing the base URL to point a client at."""
    parser = argparse.ArgumentParser(prog="python -m o4_magics.testing", description=__doc__)
    parser.add_argument("--port", type=int, default=8765, help="port to listen on (0: any free port)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    args = parser.parse_args(argv)
    emulator = Emulator(port=args.port, host=args.host).start()
    print(emulator.base_url, flush=True)
    print(
        "o4-magics offline OpenRouter emulator: no request leaves this machine; any API key works "
        "(one containing 'invalid' is refused). Ctrl-C stops it.",
        flush=True,
    )
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()


if __name__ == "__main__":
    main()
