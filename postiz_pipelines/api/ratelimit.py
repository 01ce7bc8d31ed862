"""Per-user limits on writes: a token bucket per user, kept in the API process.

Written here rather than taken from aiolimiter or pyrate-limiter because the answer must
say *when* to come back (``Retry-After``) and time must come from the injected clock so
tests need no sleeping; both are a few lines on a bucket and awkward through those APIs.
The limit is per process: behind several API processes a user gets the limit per process.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from datetime import datetime

from postiz_pipelines.settings import Settings


@dataclass(frozen=True)
class RateSpec:
    """``requests`` allowed per ``per_seconds``, with bursts up to ``requests``."""

    requests: int = 120
    per_seconds: float = 60.0

    @classmethod
    def from_settings(cls, settings: Settings) -> RateSpec:
        """The per-user write limit: POSTIZ_API_WRITE_LIMIT per POSTIZ_API_WRITE_WINDOW_SECONDS."""
        return cls(settings.api_write_limit, settings.api_write_window_seconds)


class RateLimiter:
    """Token buckets by key; ``hit`` spends one token or says how long to wait."""

    def __init__(self, spec: RateSpec) -> None:
        self.spec = spec
        self._buckets: dict[str, tuple[float, datetime]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, now: datetime) -> float | None:
        """None when allowed; otherwise the seconds until a token is free (>= 1)."""
        rate = self.spec.requests / self.spec.per_seconds
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.spec.requests), now))
            elapsed = max((now - last).total_seconds(), 0.0)
            tokens = min(float(self.spec.requests), tokens + elapsed * rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return None
            self._buckets[key] = (tokens, now)
            return float(max(1, math.ceil((1.0 - tokens) / rate)))
