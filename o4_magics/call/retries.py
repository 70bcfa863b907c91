"""When to send a failed request again, and after how long (OpenRouter's 408, 429 and 5xx, and network errors).

The SDK's own retries are off (``max_retries=0``): a retry wait here is an ``Event.wait``, so Stop or Ctrl-C
ends it and no further request is sent.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

RETRY_STATUSES = frozenset({408, 409, 429})
INITIAL_DELAY_S = 0.5
MAX_DELAY_S = 8.0
#: A server's Retry-After is honoured up to this many seconds; longer ones are not waited for.
MAX_RETRY_AFTER_S = 60.0


def retry_after(headers: Any) -> float | None:
    """Seconds from ``retry-after-ms`` or ``retry-after`` (a number), or None."""
    if headers is None:
        return None
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) / divisor
        except (TypeError, ValueError):
            continue
        if math.isfinite(seconds) and seconds >= 0:
            return seconds
    return None


@dataclass
class RetryPolicy:
    """Up to ``max_retries`` more attempts for retryable failures, with capped exponential backoff."""

    max_retries: int = 2

    def retryable(self, exc: BaseException) -> bool:
        import openai

        if isinstance(exc, openai.APIStatusError):
            response = getattr(exc, "response", None)
            should = response.headers.get("x-should-retry") if response is not None else None
            if should in ("true", "false"):
                return should == "true"
            return exc.status_code in RETRY_STATUSES or exc.status_code >= 500
        return isinstance(exc, openai.APIConnectionError)  # timeouts included

    def delay(self, exc: BaseException, attempts: int) -> float | None:
        """Seconds to wait before attempt ``attempts + 1``, or None if ``exc`` must not be retried."""
        if attempts > self.max_retries or not self.retryable(exc):
            return None
        response = getattr(exc, "response", None)
        server = retry_after(getattr(response, "headers", None))
        if server is not None:
            return server if server <= MAX_RETRY_AFTER_S else None
        backoff = min(INITIAL_DELAY_S * 2.0 ** (attempts - 1), MAX_DELAY_S)
        return backoff * (1 - 0.25 * random.random())
