"""The rules the asset checks apply, as plain functions of the assets' frames: each says
whether it passed and which rows offend, so a person sees at once what to look at.

- ``overdue``: no job past due by more than a bound (15 min);
- ``failure_rate``: per platform, failed / finished at most a threshold (20 %), judged only
  once at least ``min_finished`` jobs finished;
- ``reconnect``: no account that needs reconnecting has jobs waiting for it;
- ``on_time``: per workspace and platform, lag p99 within a bound (5 min);
- ``engagement_pulls``: no account's engagement pull failed;
- ``tokens_refreshed``: no active account's token lapses within 30 min (the hourly refresh
  keeps even 2-hour tokens, Bluesky's and X's, above an hour);
- ``held``: held jobs per workspace, failing once one has been held longer than a bound
  (``POSTIZ_HELD_JOB_ALARM_SECONDS``, 24 h: by then reconnecting no longer publishes it, it
  is dead-lettered ``missed_while_disconnected``); a job held less long passes, listed;
- ``oauth_clients``: every platform with connected, refreshable accounts has its OAuth
  client settings (the failure names the missing variable).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from postiz_pipelines.core.models import JobStatus, PublishJob, SocialAccount, Workspace
from postiz_pipelines.core.observability.outcomes import platform_totals
from postiz_pipelines.core.observability.queue_health import overdue_jobs, overdue_rows

if TYPE_CHECKING:
    import pandas as pd

OVERDUE_BOUND = timedelta(minutes=15)
MAX_FAILURE_RATE = 0.2
MIN_FINISHED = 3
ON_TIME_P99_BOUND_S = 300.0
TOKEN_LAPSE_HOURS = 0.5


@dataclass(frozen=True)
class CheckOutcome:
    passed: bool
    rows: list[dict[str, Any]] = field(default_factory=list)  # the offending rows
    figures: dict[str, Any] = field(default_factory=dict)


def _records(df: pd.DataFrame, columns: list[str]) -> list[dict[str, Any]]:
    return [dict(zip(columns, r, strict=True)) for r in df[columns].itertuples(index=False)]


def overdue(session: Session, *, now: datetime, bound: timedelta = OVERDUE_BOUND) -> CheckOutcome:
    rows = overdue_rows(overdue_jobs(session, now=now, bound=bound), now=now)
    return CheckOutcome(
        not rows, rows, {"overdue": len(rows), "bound_minutes": bound.total_seconds() / 60}
    )


def failure_rate(
    outcomes: pd.DataFrame,
    *,
    max_rate: float = MAX_FAILURE_RATE,
    min_finished: int = MIN_FINISHED,
) -> CheckOutcome:
    totals = platform_totals(outcomes)
    if totals.empty:
        return CheckOutcome(True, [], {"platforms": 0, "max_failure_rate": max_rate})
    finished = totals["published"] + totals["failed"]
    totals["failure_rate"] = totals["failed"] / finished.where(finished > 0)
    bad = totals[(finished >= min_finished) & (totals["failure_rate"] > max_rate)]
    rows = _records(bad, ["platform", "published", "failed", "failure_rate"])
    worst = totals["failure_rate"].max()
    return CheckOutcome(
        not rows,
        rows,
        {
            "platforms": len(totals),
            "max_failure_rate": max_rate,
            "worst_failure_rate": None if worst != worst else round(float(worst), 4),
        },
    )


def reconnect(tokens: pd.DataFrame) -> CheckOutcome:
    bad = tokens[tokens["needs_reconnect"] & (tokens["held_jobs"] > 0)] if len(tokens) else tokens
    rows = _records(bad, ["account_id", "platform", "handle", "status", "held_jobs"])
    return CheckOutcome(
        not rows, rows, {"accounts": len(rows), "held_jobs": sum(r["held_jobs"] for r in rows)}
    )


def on_time(outcomes: pd.DataFrame, *, p99_bound_s: float = ON_TIME_P99_BOUND_S) -> CheckOutcome:
    bad = outcomes[outcomes["lag_p99_s"] > p99_bound_s] if len(outcomes) else outcomes
    rows = _records(bad, ["workspace_id", "platform", "published", "lag_p99_s", "on_time_rate"])
    worst = outcomes["lag_p99_s"].max() if len(outcomes) else None
    return CheckOutcome(
        not rows,
        rows,
        {
            "p99_bound_s": p99_bound_s,
            "worst_p99_s": None if worst is None or worst != worst else round(float(worst), 2),
        },
    )


def engagement_pulls(engagement: pd.DataFrame) -> CheckOutcome:
    bad = engagement[engagement["status"] == "failed"] if len(engagement) else engagement
    accounts = bad.drop_duplicates("account_id") if len(bad) else bad
    rows = _records(accounts, ["account_id", "platform", "handle", "error"])
    pulled = int((engagement["status"] == "ok").sum()) if len(engagement) else 0
    return CheckOutcome(not rows, rows, {"failed_accounts": len(rows), "posts_pulled": pulled})


def tokens_refreshed(tokens: pd.DataFrame, *, hours: float = TOKEN_LAPSE_HOURS) -> CheckOutcome:
    if len(tokens):
        soon = tokens[
            (tokens["status"] == "active")
            & tokens["expires_in_h"].notna()
            & (tokens["expires_in_h"] <= hours)
        ]
    else:
        soon = tokens
    rows = _records(soon, ["account_id", "platform", "handle", "expires_in_h"])
    return CheckOutcome(not rows, rows, {"lapsing": len(rows)})


def held(session: Session, *, now: datetime, bound: timedelta) -> CheckOutcome:
    """Held jobs per workspace: how many, since when; failing when one is held beyond ``bound``."""
    rows: list[dict[str, Any]] = []
    q = (
        select(
            Workspace.slug,
            PublishJob.workspace_id,
            func.count(),
            func.min(PublishJob.held_at),
        )
        .join(Workspace, Workspace.id == PublishJob.workspace_id)
        .where(PublishJob.status == JobStatus.HELD)
        .group_by(Workspace.slug, PublishJob.workspace_id)
        .order_by(Workspace.slug)
    )
    late = 0
    for slug, ws_id, count, oldest in session.execute(q):
        held_h = round((now - oldest).total_seconds() / 3600, 2) if oldest else None
        beyond = oldest is not None and now - oldest > bound
        late += int(beyond)
        rows.append(
            {
                "workspace": slug,
                "workspace_id": ws_id,
                "held_jobs": int(count),
                "oldest_held_h": held_h,
                "beyond_bound": beyond,
            }
        )
    figures = {
        "held_jobs": sum(int(r["held_jobs"]) for r in rows),
        "workspaces_beyond_bound": late,
        "bound_hours": bound.total_seconds() / 3600,
    }
    return CheckOutcome(late == 0, rows, figures)


def oauth_clients(session: Session, missing: dict[str, list[str]]) -> CheckOutcome:
    """Accounts whose tokens need a refresh with an OAuth client the settings lack; ``missing``
    maps a platform to its unset variables (``Settings.missing_oauth_settings``). An X account
    that carries its own client id does not count."""
    counts: dict[str, int] = {}
    for platform, settings in session.execute(
        select(SocialAccount.platform, SocialAccount.settings).where(
            SocialAccount.deleted_at.is_(None),
            SocialAccount.refresh_token_sealed.is_not(None),
            SocialAccount.platform.in_(list(missing)),
        )
    ):
        if platform == "x" and (settings or {}).get("client_id"):
            continue
        counts[platform] = counts.get(platform, 0) + 1
    rows: list[dict[str, Any]] = [
        {"platform": p, "missing": ", ".join(missing[p]), "accounts": counts[p]}
        for p in sorted(missing)
        if counts.get(p)
    ]
    names = sorted({v for p in counts for v in missing[p]})
    return CheckOutcome(not rows, rows, {"missing_variables": ", ".join(names) or None})
