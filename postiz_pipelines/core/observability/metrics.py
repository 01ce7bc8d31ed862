"""Prometheus metrics (prometheus-client), read from the database at scrape time.

Publishing happens in Dagster runs and workers, other processes than the API that serves
``/metrics``; so the figures are not counted in memory but read from what every process
writes: job rows, the analytics events (one per outcome, written with the state change),
breakers and throttles. Counters are totals over the events kept, so they only grow
(Prometheus handles the reset if old events are ever pruned). Each scrape costs a handful of
grouped queries over indexed columns; scrape every 30 s or slower.

Series:
- ``postiz_jobs{state}`` gauge: publish jobs by state;
- ``postiz_publish_outcomes_total{platform,outcome}`` counter: published, failed, retried;
- ``postiz_publish_lag_seconds{platform}`` histogram: scheduled instant -> acceptance;
- ``postiz_circuit_breaker_state{platform,state}`` gauge: 1 for the breaker's state;
- ``postiz_throttled_accounts{platform}`` gauge: accounts a platform asked us to wait for;
- ``postiz_token_refresh_total{platform,outcome}`` counter: refreshed, failed;
- ``postiz_inbound_webhooks_total{platform,result}`` counter (this process): accepted,
  rejected (bad or missing signature, stale), replayed;
- ``postiz_alerts_total{kind,sent}`` counter: alerts raised and whether their notice went out.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from sqlalchemy import case, func, select

from postiz_pipelines.clock import Clock, SystemClock
from postiz_pipelines.core.db import Database
from postiz_pipelines.core.events import EventType
from postiz_pipelines.core.models import (
    AnalyticsEvent,
    BreakerState,
    CircuitBreaker,
    JobStatus,
    SocialAccount,
    Throttle,
)

LAG_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0)
OUTCOMES = {
    EventType.POST_PUBLISHED: "published",
    EventType.POST_PUBLISH_FAILED: "failed",
    EventType.POST_PUBLISH_RETRYING: "retried",
}
REFRESHES = {EventType.TOKEN_REFRESHED: "refreshed", EventType.TOKEN_REFRESH_FAILED: "failed"}


class DatabaseCollector(Collector):
    """Collects the database-backed series (see the module docstring) on each scrape."""

    def __init__(self, db: Database, clock: Clock | None = None) -> None:
        self.db = db
        self.clock = clock or SystemClock()

    def collect(self) -> Iterator[Metric]:
        now = self.clock.now()
        with self.db.read() as s:
            yield from self._jobs(s)
            yield from self._events(s)
            yield from self._lag(s)
            yield from self._breakers(s)
            yield from self._throttled(s, now)
            yield from self._alerts(s)

    def _jobs(self, s: object) -> Iterator[Metric]:
        from postiz_pipelines.core.publishing.queue import queue_counts

        g = GaugeMetricFamily("postiz_jobs", "Publish jobs by state.", labels=["state"])
        counts = queue_counts(s)  # type: ignore[arg-type]
        for state in JobStatus:
            g.add_metric([state.value], float(counts.get(state.value, 0)))
        yield g

    def _events(self, s: object) -> Iterator[Metric]:
        rows = s.execute(  # type: ignore[attr-defined]
            select(AnalyticsEvent.event_type, AnalyticsEvent.platform, func.count())
            .where(AnalyticsEvent.event_type.in_([str(e) for e in (*OUTCOMES, *REFRESHES)]))
            .group_by(AnalyticsEvent.event_type, AnalyticsEvent.platform)
        ).all()
        outcomes = CounterMetricFamily(
            "postiz_publish_outcomes",
            "Publish outcomes by platform: published, failed (dead-lettered), retried.",
            labels=["platform", "outcome"],
        )
        refresh = CounterMetricFamily(
            "postiz_token_refresh",
            "Token refresh outcomes by platform.",
            labels=["platform", "outcome"],
        )
        for event_type, platform, n in sorted(rows, key=lambda r: (r[0], r[1] or "")):
            kind = EventType(event_type)
            if kind in OUTCOMES:
                outcomes.add_metric([platform or "unknown", OUTCOMES[kind]], float(n))
            else:
                refresh.add_metric([platform or "unknown", REFRESHES[kind]], float(n))
        yield outcomes
        yield refresh

    def _lag(self, s: object) -> Iterator[Metric]:
        lag = AnalyticsEvent.data["latency_s"].as_float()
        columns = [func.sum(case((lag <= b, 1), else_=0)) for b in LAG_BUCKETS]
        rows = s.execute(  # type: ignore[attr-defined]
            select(
                AnalyticsEvent.platform,
                func.count(lag),
                func.coalesce(func.sum(lag), 0.0),
                *columns,
            )
            .where(AnalyticsEvent.event_type == EventType.POST_PUBLISHED, lag.is_not(None))
            .group_by(AnalyticsEvent.platform)
            .order_by(AnalyticsEvent.platform)
        ).all()
        h = HistogramMetricFamily(
            "postiz_publish_lag_seconds",
            "Seconds from a post's scheduled instant to the platform's acceptance.",
            labels=["platform"],
        )
        for platform, count, total, *cumulative in rows:
            buckets = [
                (str(b), float(c or 0)) for b, c in zip(LAG_BUCKETS, cumulative, strict=True)
            ]
            buckets.append(("+Inf", float(count)))
            h.add_metric([platform or "unknown"], buckets, float(total))
        yield h

    def _breakers(self, s: object) -> Iterator[Metric]:
        g = GaugeMetricFamily(
            "postiz_circuit_breaker_state",
            "Each platform's circuit breaker: 1 for its current state.",
            labels=["platform", "state"],
        )
        for cb in s.scalars(select(CircuitBreaker).order_by(CircuitBreaker.platform)):  # type: ignore[attr-defined]
            for state in BreakerState:
                g.add_metric([cb.platform, state.value], 1.0 if cb.state == state else 0.0)
        yield g

    def _throttled(self, s: object, now: datetime) -> Iterator[Metric]:
        rows = s.execute(  # type: ignore[attr-defined]
            select(SocialAccount.platform, func.count())
            .select_from(Throttle)
            .join(SocialAccount, Throttle.scope == "account:" + SocialAccount.id)
            .where(Throttle.blocked_until > now)
            .group_by(SocialAccount.platform)
        ).all()
        g = GaugeMetricFamily(
            "postiz_throttled_accounts",
            "Accounts a platform asked us to wait for (rate limits), by platform.",
            labels=["platform"],
        )
        for platform, n in sorted(rows):
            g.add_metric([platform], float(n))
        yield g

    def _alerts(self, s: object) -> Iterator[Metric]:
        kind = AnalyticsEvent.data["alert"].as_string().label("kind")

        def counted(event: EventType) -> dict[str, int]:
            rows = s.execute(  # type: ignore[attr-defined]
                select(kind, func.count())
                .where(AnalyticsEvent.event_type == event)
                .group_by(kind)  # by the label: PostgreSQL's GROUP BY needs one expression
            ).all()
            return {k: int(n) for k, n in rows if k}

        kinds, sent = counted(EventType.ALERT), counted(EventType.ALERT_SENT)
        c = CounterMetricFamily(
            "postiz_alerts",
            "Alerts raised, by kind, and how many were sent.",
            labels=["kind", "sent"],
        )
        for name in sorted(kinds):
            c.add_metric([name, "true"], float(sent.get(name, 0)))
            c.add_metric([name, "false"], float(kinds[name] - sent.get(name, 0)))
        yield c


class Metrics:
    """One registry per API app: the database collector and this process's counters."""

    def __init__(self, db: Database, clock: Clock | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(DatabaseCollector(db, clock))
        self.inbound = Counter(
            "postiz_inbound_webhooks",
            "Incoming platform webhooks by platform and result.",
            labelnames=["platform", "result"],
            registry=self.registry,
        )

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST
