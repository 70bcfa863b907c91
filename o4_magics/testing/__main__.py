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
    parser.add_argument(
        "--key-limit", type=float, default=None, help="the key's credit limit in USD (default: none)"
    )
    parser.add_argument(
        "--reasoning-summaries",
        default="off",
        metavar="SETTING",
        help="reasoning o4-mini sends by default: off, on, N words, encrypted, text:N (default: off)",
    )
    args = parser.parse_args(argv)
    emulator = Emulator(
        port=args.port,
        host=args.host,
        key_limit=args.key_limit,
        reasoning_summaries=_reasoning_argument(args.reasoning_summaries),
    ).start()
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


def _reasoning_argument(text: str) -> bool | int | str:
    if text.lower() in ("off", "no", "false", "0"):
        return False
    if text.lower() in ("on", "yes", "true"):
        return True
    return int(text) if text.isdigit() else text


if __name__ == "__main__":
    main()
