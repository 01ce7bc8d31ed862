"""The engine's knobs: concurrency, account spacing, retries, lease and breaker policy."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from postiz_pipelines.core.publishing import breaker
from postiz_pipelines.core.publishing.backoff import RetryPolicy
from postiz_pipelines.settings import Settings


@dataclass(frozen=True)
class EngineConfig:
    concurrency: int = 3
    account_spacing_seconds: float = 1.0  # POSTIZ_WORKER_RATE_LIMIT_DELAY
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    lease: timedelta = timedelta(minutes=5)
    breaker: breaker.BreakerPolicy = field(default_factory=breaker.BreakerPolicy)
    token_buckets: bool = True  # per-account budgets from each platform's default rate limit

    @classmethod
    def from_settings(cls, s: Settings) -> EngineConfig:
        """The engine's knobs from the ``POSTIZ_WORKER_*``, retry, lease and breaker settings."""
        return cls(
            concurrency=s.worker_concurrency,
            account_spacing_seconds=s.worker_rate_limit_delay / 1000,
            retry=RetryPolicy(max_retries=s.max_retries, base_seconds=s.retry_base_seconds),
            lease=timedelta(seconds=s.lease_seconds),
            breaker=breaker.BreakerPolicy(
                failure_threshold=s.breaker_threshold, cooldown_seconds=s.breaker_cooldown_seconds
            ),
        )
