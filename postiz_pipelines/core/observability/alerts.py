"""Alerts: a spike of failures, an open circuit breaker, a growing dead-letter queue, a
queue backlog, posts going out late (lag p99 over a bound), and OAuth client settings a
token refresh found missing or refused (naming the variable).

``record_alerts`` writes an ``alert`` event for each condition found, at most once per
``quiet`` period for the same kind and subject (a lasting outage is one alert, not one a
minute). ``deliver_alerts`` POSTs every alert not yet sent to ``POSTIZ_ALERT_WEBHOOK_URL``
as JSON; an alert counts as sent only when that delivery succeeded (a 2xx answer), which
writes an ``alert_sent`` event naming it. Until then it is sent again on every call, for
``resend_for`` (24 h). ``raise_alerts`` does both. Run one deliverer at a time (a job or a
sensor tick): two at once may send an alert twice.
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
from postiz_pipelines.core.ids import new_id
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
    backlog_jobs: int = 100  # jobs due and still waiting
    backlog_age: timedelta = timedelta(minutes=15)  # the oldest due job has waited this long
    late_p99_seconds: float = 300.0  # lag p99 within the window, per platform
    late_min_published: int = 5
    resend_for: timedelta = timedelta(hours=24)


@dataclass(frozen=True)
class Alert:
    # failure_spike | breaker_open | dead_letter_growth | queue_backlog | posts_late |
    # oauth_client_config
    kind: str
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
    alerts.extend(_backlog_and_lateness(session, now=now, policy=policy))
    alerts.extend(_config_errors(session, since=since))
    return alerts


def _config_errors(session: Session, *, since: datetime) -> list[Alert]:
    """A platform whose OAuth client settings are missing or refused (a refresh said so)."""
    variables: dict[str, set[str]] = {}
    for platform, data in session.execute(
        select(AnalyticsEvent.platform, AnalyticsEvent.data).where(
            AnalyticsEvent.event_type == EventType.CONFIG_ERROR,
            AnalyticsEvent.occurred_at >= since,
        )
    ):
        variables.setdefault(platform or "?", set()).add(str((data or {}).get("variable")))
    return [
        Alert(
            "oauth_client_config",
            platform,
            f"{platform} tokens cannot be refreshed: set {', '.join(sorted(names))} "
            "(no account was disconnected)",
            {"variables": sorted(names)},
        )
        for platform, names in sorted(variables.items())
    ]


def _backlog_and_lateness(session: Session, *, now: datetime, policy: AlertPolicy) -> list[Alert]:
    """The queue backlog and on-time alerts, from the functions the assets use."""
    from postiz_pipelines.core.observability.outcomes import publish_events, summarize
    from postiz_pipelines.core.observability.queue_health import queue_summary

    out = []
    q = queue_summary(session, now=now)
    waited = q["oldestWaitingSeconds"] or 0.0
    if q["dueNow"] >= policy.backlog_jobs or waited >= policy.backlog_age.total_seconds():
        out.append(
            Alert(
                "queue_backlog",
                "all",
                f"{q['dueNow']} posts are due and waiting; the oldest for {int(waited // 60)} min",
                {"due_now": q["dueNow"], "oldest_waiting_s": waited, "overdue": q["overdue"]},
            )
        )
    events = publish_events(session, since=now - policy.window, until=now + timedelta(seconds=1))
    lags = summarize(events, keys=["platform"], dead=set())
    for row in lags.itertuples(index=False):
        p99 = row.lag_p99_s
        if (
            row.published >= policy.late_min_published
            and p99 == p99
            and p99 > policy.late_p99_seconds
        ):
            out.append(
                Alert(
                    "posts_late",
                    str(row.platform),
                    f"{row.platform} posts went out late: lag p99 {p99:.0f} s over the last "
                    f"{int(policy.window.total_seconds() // 60)} min "
                    f"(on time: {row.on_time_rate:.0%})",
                    {
                        "lag_p99_s": round(float(p99), 1),
                        "on_time_rate": round(float(row.on_time_rate), 4),
                        "published": int(row.published),
                    },
                )
            )
    return out


def _recently_raised(session: Session, alert: Alert, *, now: datetime, quiet: timedelta) -> bool:
    recent = session.scalars(
        select(AnalyticsEvent.data).where(
            AnalyticsEvent.event_type == EventType.ALERT, AnalyticsEvent.occurred_at >= now - quiet
        )
    ).all()
    return any(d.get("alert") == alert.kind and d.get("subject") == alert.subject for d in recent)


def record_alerts(db: Database, *, now: datetime, policy: AlertPolicy | None = None) -> list[Alert]:
    """Write an ``alert`` event for each condition not raised within the quiet period."""
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
                alert_id=new_id("alr"),
                alert=a.kind,
                subject=a.subject,
                message=a.message,
                **a.figures,
            )
    return fresh


@dataclass(frozen=True)
class Delivery:
    """What ``deliver_alerts`` did: the alerts it sent, and why the rest were not."""

    sent: list[dict[str, Any]]
    pending: int
    error: str | None = None


def unsent_alerts(session: Session, *, now: datetime, since: datetime) -> list[dict[str, Any]]:
    """Alerts recorded since ``since`` whose delivery has not succeeded, oldest first."""
    rows = session.execute(
        select(AnalyticsEvent.event_type, AnalyticsEvent.occurred_at, AnalyticsEvent.data)
        .where(
            AnalyticsEvent.event_type.in_([EventType.ALERT, EventType.ALERT_SENT]),
            AnalyticsEvent.occurred_at >= since,
            AnalyticsEvent.occurred_at <= now,
        )
        .order_by(AnalyticsEvent.id)
    ).all()
    sent = {d.get("alert_id") for t, _, d in rows if t == EventType.ALERT_SENT}
    return [
        {**d, "at": at.isoformat()}
        for t, at, d in rows
        if t == EventType.ALERT and d.get("alert_id") and d["alert_id"] not in sent
    ]


def deliver_alerts(
    db: Database,
    *,
    now: datetime,
    webhook_url: str | None,
    policy: AlertPolicy | None = None,
    transport: httpx.BaseTransport | None = None,
) -> Delivery:
    """POST every unsent alert in one request; on a 2xx answer, mark each sent."""
    policy = policy or AlertPolicy()
    with db.read() as s:
        pending = unsent_alerts(s, now=now, since=now - policy.resend_for)
    if not pending:
        return Delivery([], 0)
    if not webhook_url:
        return Delivery([], len(pending), "POSTIZ_ALERT_WEBHOOK_URL is not set")
    alerts = [
        {k: v for k, v in a.items() if k not in ("alert", "alert_id")}
        | {"id": a["alert_id"], "kind": a["alert"]}
        for a in pending
    ]
    try:
        with httpx.Client(timeout=10, transport=transport) as http:
            http.post(
                webhook_url, json={"alerts": alerts, "at": now.isoformat()}
            ).raise_for_status()
    except httpx.HTTPError as exc:  # not sent: kept, and sent again on the next call
        reason = type(exc).__name__
        if isinstance(exc, httpx.HTTPStatusError):
            reason = f"HTTP {exc.response.status_code}"
        log.warning("alert webhook failed (%s); %d alerts stay unsent", reason, len(pending))
        return Delivery([], len(pending), reason)
    with db.session() as s:
        for a in pending:
            record_event(
                s,
                EventType.ALERT_SENT,
                now=now,
                platform=a.get("subject") if a.get("subject") != "all" else None,
                alert_id=a["alert_id"],
                alert=a["alert"],
            )
    return Delivery(alerts, 0)


def raise_alerts(
    db: Database,
    *,
    now: datetime,
    policy: AlertPolicy | None = None,
    webhook_url: str | None = None,
    transport: httpx.BaseTransport | None = None,
) -> list[Alert]:
    """Record new alerts, then deliver every unsent one (see the module docstring);
    returns the alerts raised now."""
    fresh = record_alerts(db, now=now, policy=policy)
    deliver_alerts(db, now=now, webhook_url=webhook_url, policy=policy, transport=transport)
    return fresh
