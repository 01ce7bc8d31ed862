"""Token health: per connected account, when its token lapses, how refreshes went, and
whether a person must reconnect it while posts wait for it.

- ``expires_in_h``: hours until the token expires (missing: it never expires);
- ``expiring_24h`` / ``expiring_7d``: it expires within that time (never, for none);
- ``refresh_failures_7d``: ``token_refresh_failed`` events in the last 7 days;
- ``needs_reconnect``: the account is ``reconnect_needed`` (or the legacy ``revoked`` /
  ``expired``, shown as ``reconnect_needed``): no refresh can help;
- ``held_jobs``: its jobs held (or still waiting) while it needs reconnecting.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from postiz_pipelines.core.accounts.status import NEEDS_RECONNECT, effective_status
from postiz_pipelines.core.events import EventType
from postiz_pipelines.core.models import (
    CLAIMABLE_JOB_STATES,
    AnalyticsEvent,
    JobStatus,
    PublishJob,
    SocialAccount,
)

if TYPE_CHECKING:
    import pandas as pd

RECONNECT_STATES = tuple(NEEDS_RECONNECT)
TOKEN_COLUMNS = [
    "account_id",
    "workspace_id",
    "platform",
    "handle",
    "status",
    "expires_at",
    "expires_in_h",
    "expiring_24h",
    "expiring_7d",
    "refresh_failures_7d",
    "needs_reconnect",
    "held_jobs",
]


def token_health(session: Session, *, now: datetime) -> pd.DataFrame:
    """One row per live (not removed) account, ordered by workspace, platform and handle."""
    import pandas as pd

    failures = dict(
        session.execute(
            select(AnalyticsEvent.account_id, func.count())
            .where(
                AnalyticsEvent.event_type == EventType.TOKEN_REFRESH_FAILED,
                AnalyticsEvent.occurred_at >= now - timedelta(days=7),
                AnalyticsEvent.occurred_at <= now,
            )
            .group_by(AnalyticsEvent.account_id)
        ).all()
    )
    waiting = dict(
        session.execute(
            select(PublishJob.account_id, func.count())
            .where(PublishJob.status.in_([*CLAIMABLE_JOB_STATES, JobStatus.HELD]))
            .group_by(PublishJob.account_id)
        ).all()
    )
    rows = []
    accounts = session.scalars(
        select(SocialAccount)
        .where(SocialAccount.deleted_at.is_(None))
        .order_by(SocialAccount.workspace_id, SocialAccount.platform, SocialAccount.handle)
    )
    for a in accounts:
        left = (a.token_expires_at - now) if a.token_expires_at else None
        reconnect = a.status in RECONNECT_STATES
        rows.append(
            {
                "account_id": a.id,
                "workspace_id": a.workspace_id,
                "platform": a.platform,
                "handle": a.handle,
                "status": effective_status(a.status),
                "expires_at": a.token_expires_at,
                "expires_in_h": round(left.total_seconds() / 3600, 2) if left else None,
                "expiring_24h": left is not None and left <= timedelta(hours=24),
                "expiring_7d": left is not None and left <= timedelta(days=7),
                "refresh_failures_7d": int(failures.get(a.id, 0)),
                "needs_reconnect": reconnect,
                "held_jobs": int(waiting.get(a.id, 0)) if reconnect else 0,
            }
        )
    df = pd.DataFrame(rows, columns=TOKEN_COLUMNS)
    df["expires_in_h"] = df["expires_in_h"].astype("float64")
    for col in ("expiring_24h", "expiring_7d", "needs_reconnect"):
        df[col] = df[col].astype(bool)
    for col in ("refresh_failures_7d", "held_jobs"):
        df[col] = df[col].astype("int64")
    return df


def token_summary(df: pd.DataFrame) -> dict[str, int]:
    """The figures of a ``token_health`` frame: accounts, expiring in 24 h and 7 days,
    refresh failures, accounts to reconnect, jobs held."""
    return {
        "accounts": len(df),
        "expiring_24h": int(df["expiring_24h"].sum()) if len(df) else 0,
        "expiring_7d": int(df["expiring_7d"].sum()) if len(df) else 0,
        "refresh_failures_7d": int(df["refresh_failures_7d"].sum()) if len(df) else 0,
        "to_reconnect": int(df["needs_reconnect"].sum()) if len(df) else 0,
        "held_jobs": int(df["held_jobs"].sum()) if len(df) else 0,
    }
