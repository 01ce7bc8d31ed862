"""How long to wait before the next try: exponential, jittered, never shorter than the platform
asks."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class RetryPolicy:
    """``max_retries`` retries after the first try; waits base, 2*base, 4*base... (seed: 1, 2, 4
    min)."""

    max_retries: int = 3
    base_seconds: float = 60.0
    factor: float = 2.0
    jitter: float = 0.1  # +/- 10 %
    max_seconds: float = 6 * 3600

    @property
    def max_attempts(self) -> int:
        return self.max_retries + 1

    def delay(
        self, attempt: int, *, retry_after: float | None = None, rng: random.Random | None = None
    ) -> timedelta:
        """The wait after failed try number ``attempt`` (1-based)."""
        base = min(self.base_seconds * self.factor ** max(attempt - 1, 0), self.max_seconds)
        if self.jitter:
            base *= 1 + (rng or random).uniform(-self.jitter, self.jitter)
        if retry_after is not None:
            base = max(base, retry_after)
        return timedelta(seconds=base)
