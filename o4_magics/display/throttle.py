"""When a streaming view redraws: at most ~10 times a second, and past 4 KB only when the text grew enough."""

from __future__ import annotations

#: Redraws are at most this frequent (about 10 a second).
MIN_INTERVAL_S = 0.1
#: Past this size a redraw also waits until the text grew by GROWTH_STEP of itself, so the bytes sent while
#: streaming stay within about (1 + 1/GROWTH_STEP) times the final reply, however slowly it streams.
SMALL_TEXT = 4096
GROWTH_STEP = 0.02


def redraw_due(size: int, last_size: int, seconds_since: float) -> bool:
    """Whether a streaming display should redraw now (see MIN_INTERVAL_S and GROWTH_STEP)."""
    if seconds_since < MIN_INTERVAL_S:
        return False
    return size <= SMALL_TEXT or size >= last_size * (1 + GROWTH_STEP)
