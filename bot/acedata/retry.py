"""How long to wait before repeating a failed call: bounded, jittered, and respectful of Retry-After."""

from __future__ import annotations

import math
import random as _random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

#: The longest a Retry-After header may make us wait: past that, giving up and reporting is more useful.
MAX_RETRY_AFTER_S = 120.0


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, for calls that are safe to repeat.

    ``attempts`` counts every try, the first one included, so ``attempts=1`` never retries.
    """

    attempts: int = 4
    base_delay_s: float = 0.5
    max_delay_s: float = 20.0
    multiplier: float = 2.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")
        if self.base_delay_s < 0 or self.max_delay_s < 0:
            raise ValueError("delays must not be negative")
        if self.multiplier < 1:
            raise ValueError("multiplier must be at least 1")

    def ceiling(self, attempt: int) -> float:
        """The largest backoff after the ``attempt``-th failed try (1-based), before jitter."""
        exponent = max(attempt, 1) - 1
        try:
            raw = self.base_delay_s * self.multiplier**exponent
        except OverflowError:
            return self.max_delay_s
        return min(self.max_delay_s, raw)

    def delay(
        self,
        attempt: int,
        retry_after: float | None = None,
        *,
        random: Callable[[], float] = _random.random,
    ) -> float:
        """Seconds to sleep after the ``attempt``-th failed try (1-based).

        Full jitter (a uniform draw between 0 and the exponential ceiling) spreads retries from
        many callers apart. A server's Retry-After is a floor: we never come back sooner than it
        asked, but we cap it at :data:`MAX_RETRY_AFTER_S` so a bogus header cannot stall us.
        """
        draw = min(max(random(), 0.0), 1.0)
        backoff = draw * self.ceiling(attempt)
        if retry_after is None or not math.isfinite(retry_after):
            return backoff
        floor = min(max(retry_after, 0.0), MAX_RETRY_AFTER_S)
        return max(floor, backoff)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Read a Retry-After header: delay seconds or an HTTP-date; ``None`` when absent or unreadable."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(seconds, 0.0) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now or datetime.now(UTC)
    return max((when - current).total_seconds(), 0.0)
