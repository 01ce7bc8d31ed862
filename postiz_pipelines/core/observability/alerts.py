"""Alerts: a spike of failures, an open circuit breaker, a growing dead-letter queue.

Each condition found writes an ``alert`` analytics event and, when
``POSTIZ_ALERT_WEBHOOK_URL`` is set, is POSTed there as JSON. The same alert (kind and
subject) is raised at most once per ``quiet`` period, so a lasting outage is one alert,
not one a minute.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from postiz_pipelines.core.db import Database
from postiz_pipelines.core.events import EventType, record_event
from postiz_pipelines.core.models import (
    AnalyticsEvent,
    BreakerState,
    CircuitBreaker,
    JobStatus,
    PublishJob,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AlertPolicy:
    window: timedelta = timedelta(minutes=15)
    failure_rate: float = 0.5  # of finished publishes in the window
    min_failures: int = 5
    dead_letter_growth: int = 10  # new dead letters in the last hour
    quiet: timedelta = timedelta(minutes=30)


@dataclass(frozen=True)
class Alert:
    kind: str  # failure_spike | breaker_open | dead_letter_growth
    subject: str  # a platform, or "all"
    message: str
    figures: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "subject": self.subject, "message": self.message, **self.figures}


def find_alerts(session: Session, *, now: datetime, policy: AlertPolicy) -> list[Alert]:
    """Every alert condition true at ``now``."""
    alerts: list[Alert] = []
    since = now - policy.window
    rows = session.execute(
        select(AnalyticsEvent.platform, AnalyticsEvent.event_type, func.count())
        .where(
            AnalyticsEvent.occurred_at >= since,
            AnalyticsEvent.event_type.in_(["post_published", "post_publish_failed"]),
        )
        .group_by(AnalyticsEvent.platform, AnalyticsEvent.event_type)
    ).all()
    by_platform: dict[str, dict[str, int]] = {}
    for platform, event_type, n in rows:
        by_platform.setdefault(platform or "?", {})[event_type] = n
    for platform, counts in sorted(by_platform.items()):
        failed = counts.get("post_publish_failed", 0)
        total = failed + counts.get("post_published", 0)
        if failed >= policy.min_failures and failed / total >= policy.failure_rate:
            alerts.append(
                Alert(
                    "failure_spike",
                    platform,
                    f"{failed} of {total} {platform} publishes failed in the last "
                    f"{int(policy.window.total_seconds() // 60)} min",
                    {"failed": failed, "total": total},
                )
            )
    for cb in session.scalars(
        select(CircuitBreaker).where(CircuitBreaker.state == BreakerState.OPEN)
    ):
        alerts.append(
            Alert(
                "breaker_open",
                cb.platform,
                f"the {cb.platform} circuit breaker is open: {cb.last_error or ''}"[:300],
                {"open_until": cb.open_until.isoformat() if cb.open_until else None},
            )
        )
    new_dead = (
        session.scalar(
            select(func.count())
            .select_from(PublishJob)
            .where(
                PublishJob.status == JobStatus.FAILED,
                PublishJob.completed_at >= now - timedelta(hours=1),
            )
        )
        or 0
    )
    if new_dead >= policy.dead_letter_growth:
        alerts.append(
            Alert(
                "dead_letter_growth",
                "all",
                f"{new_dead} posts were dead-lettered in the last hour",
                {"new_dead_letters": new_dead},
            )
        )
    return alerts


def _recently_raised(session: Session, alert: Alert, *, now: datetime, quiet: timedelta) -> bool:
    recent = session.scalars(
        select(AnalyticsEvent.data).where(
            AnalyticsEvent.event_type == EventType.ALERT, AnalyticsEvent.occurred_at >= now - quiet
        )
    ).all()
    return any(d.get("alert") == alert.kind and d.get("subject") == alert.subject for d in recent)


def raise_alerts(
    db: Database,
    *,
    now: datetime,
    policy: AlertPolicy | None = None,
    webhook_url: str | None = None,
    transport: httpx.BaseTransport | None = None,
) -> list[Alert]:
    """Record new alerts (not raised within the quiet period) and notify the webhook."""
    policy = policy or AlertPolicy()
    with db.session() as s:
        fresh = [
            a
            for a in find_alerts(s, now=now, policy=policy)
            if not _recently_raised(s, a, now=now, quiet=policy.quiet)
        ]
        for a in fresh:
            record_event(
                s,
                EventType.ALERT,
                now=now,
                platform=a.subject if a.subject != "all" else None,
                alert=a.kind,
                subject=a.subject,
                message=a.message,
                **a.figures,
            )
    if fresh and webhook_url:
        try:
            with httpx.Client(timeout=10, transport=transport) as http:
                http.post(
                    webhook_url,
                    json={"alerts": [a.as_dict() for a in fresh], "at": now.isoformat()},
                ).raise_for_status()
        except httpx.HTTPError as exc:  # the events are recorded; the notice is best effort
            log.warning("alert webhook failed: %s", type(exc).__name__)
    return fresh
