"""Post engagement: likes, reposts, replies and views pulled through each provider.

``pull_engagement`` reads the targets published within the last ``days`` days, asks each
account's platform for their counts (one call per batch the platform allows), writes one
``engagement_pulled`` event per post (the snapshot, so change over time is kept) or one
``engagement_pull_failed`` event per account whose pull failed, and returns the table:
the counts now and their change since the previous snapshot. Platforms whose provider has
no ``engagement`` call, and posts the platform exposes no count for (a TikTok post only its
creator sees), appear with status ``unsupported`` and missing counts. A pull that spends a
daily budget shared with publishing (YouTube's quota, ``Provider.engagement_cost``) reserves
it in the shared ledger first; when it does not fit, the account's pull fails saying so.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy import select

from postiz_pipelines.clock import Clock, FixedClock
from postiz_pipelines.core.accounts.status import effective_status
from postiz_pipelines.core.accounts.store import credentials
from postiz_pipelines.core.context import AppContext
from postiz_pipelines.core.events import EventType, record_event
from postiz_pipelines.core.models import (
    AccountStatus,
    AnalyticsEvent,
    Post,
    PostTarget,
    SocialAccount,
    TargetStatus,
)
from postiz_pipelines.core.publishing.quota import reserve as reserve_quota
from postiz_pipelines.errors import PostizError
from postiz_pipelines.providers.base import Engagement
from postiz_pipelines.providers.registry import provider_class

if TYPE_CHECKING:
    import pandas as pd

METRICS = ("likes", "reposts", "replies", "views")
ENGAGEMENT_COLUMNS = [
    "target_id",
    "post_id",
    "workspace_id",
    "account_id",
    "handle",
    "platform",
    "remote_id",
    "published_at",
    *METRICS,
    "engagement",
    *(f"{m}_change" for m in METRICS),
    "status",
    "error",
]
OK, DELETED, FAILED, UNSUPPORTED = "ok", "deleted", "failed", "unsupported"


@dataclass(frozen=True)
class _Target:
    target_id: str
    post_id: str
    workspace_id: str
    account_id: str
    handle: str
    platform: str
    remote_id: str
    published_at: datetime
    deleted: bool = False  # an incoming webhook said the platform removed it


def published_targets(session: Any, *, now: datetime, days: int) -> list[_Target]:
    """Targets published in the last ``days`` days with a remote id, on live accounts."""
    rows = session.execute(
        select(PostTarget, Post.workspace_id, SocialAccount)
        .join(Post, Post.id == PostTarget.post_id)
        .join(SocialAccount, SocialAccount.id == PostTarget.account_id)
        .where(
            PostTarget.status == TargetStatus.PUBLISHED,
            PostTarget.remote_id.is_not(None),
            PostTarget.published_at >= now - timedelta(days=days),
            PostTarget.published_at <= now,
            Post.deleted_at.is_(None),
            SocialAccount.deleted_at.is_(None),
        )
        .order_by(PostTarget.published_at, PostTarget.id)
    ).all()
    return [
        _Target(
            t.id,
            t.post_id,
            ws,
            a.id,
            a.handle,
            a.platform,
            t.remote_id,
            t.published_at,
            bool((t.settings_override or {}).get("remote_deleted_at")),
        )
        for t, ws, a in rows
    ]


def previous_snapshots(
    session: Any, post_ids: list[str], *, before: datetime
) -> dict[str, dict[str, Any]]:
    """Each target's latest ``engagement_pulled`` snapshot before ``before``, by target id."""
    latest: dict[str, dict[str, Any]] = {}
    unique = sorted(set(post_ids))
    for i in range(0, len(unique), 500):
        chunk = unique[i : i + 500]
        for data in session.scalars(
            select(AnalyticsEvent.data)
            .where(
                AnalyticsEvent.event_type == EventType.ENGAGEMENT_PULLED,
                AnalyticsEvent.occurred_at < before,
                AnalyticsEvent.post_id.in_(chunk),
            )
            .order_by(AnalyticsEvent.id)
        ):
            if isinstance(data, dict) and data.get("target_id"):
                latest[str(data["target_id"])] = data
    return latest


async def _pull_account(
    app: AppContext,
    providers: Any,
    account_id: str,
    targets: list[_Target],
    now: datetime,
) -> tuple[list[Engagement] | None, str | None]:
    with app.db.read() as s:
        account = s.get(SocialAccount, account_id)
        assert account is not None
        if account.status != AccountStatus.ACTIVE:
            return None, f"account is {effective_status(account.status)}"
        try:
            creds = credentials(account, app.keyring)
        except PostizError as exc:
            return None, str(exc)
    provider = providers.get(targets[0].platform)
    cost = provider.engagement_cost(len(targets))
    if cost is not None:  # a daily budget shared with publishing (YouTube's quota)
        with app.db.session() as s:
            until = reserve_quota(s, targets[0].platform, cost, now=now)
        if until is not None:
            return None, f"the daily quota is spent; it renews at {until.isoformat()}"
    try:
        found = await provider.engagement(creds, [t.remote_id for t in targets])
    except PostizError as exc:  # ProviderError and kin: recorded, the others still pulled
        return None, f"{type(exc).__name__}: {exc}"[:300]
    return list(found), None


async def pull_engagement_async(
    app: AppContext,
    *,
    now: datetime,
    days: int = 7,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Clock | None = None,
    concurrency: int = 4,
) -> list[dict[str, Any]]:
    """See the module docstring; returns the table's rows."""
    with app.db.read() as s:
        targets = published_targets(s, now=now, days=days)
        before = previous_snapshots(s, [t.post_id for t in targets], before=now)
    by_account: dict[str, list[_Target]] = defaultdict(list)
    gone = [t for t in targets if t.deleted]
    for t in targets:
        if not t.deleted:
            by_account[t.account_id].append(t)
    results: dict[str, tuple[list[Engagement] | None, str | None]] = {}
    sem = asyncio.Semaphore(concurrency)
    timeout = app.settings.http_timeout_seconds
    async with httpx.AsyncClient(transport=transport, timeout=timeout) as http:
        providers = app.provider_set(http, clock=clock or FixedClock(now))

        async def one(account_id: str, group: list[_Target]) -> None:
            if not provider_class(group[0].platform).supports_engagement:
                results[account_id] = ([], None)
                return
            async with sem:
                results[account_id] = await _pull_account(app, providers, account_id, group, now)

        await asyncio.gather(*(one(a, g) for a, g in by_account.items()))
    rows: list[dict[str, Any]] = []
    with app.db.session() as s:
        for account_id, group in by_account.items():
            found, error = results[account_id]
            if error is not None:
                record_event(
                    s,
                    EventType.ENGAGEMENT_PULL_FAILED,
                    now=now,
                    workspace_id=group[0].workspace_id,
                    platform=group[0].platform,
                    account_id=account_id,
                    error=error,
                    posts=len(group),
                )
            counts = {e.remote_id: e for e in found or []}
            for t in group:
                rows.append(_row(s, t, counts.get(t.remote_id), found, error, before, now))
        for t in gone:
            rows.append(_row(s, t, Engagement(t.remote_id, found=False), None, None, before, now))
    return rows


def _row(
    s: Any,
    t: _Target,
    e: Engagement | None,
    found: list[Engagement] | None,
    error: str | None,
    before: dict[str, dict[str, Any]],
    now: datetime,
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "target_id": t.target_id,
        "post_id": t.post_id,
        "workspace_id": t.workspace_id,
        "account_id": t.account_id,
        "handle": t.handle,
        "platform": t.platform,
        "remote_id": t.remote_id,
        "published_at": t.published_at,
        **{m: None for m in METRICS},
        "error": error,
    }
    if error is not None:
        row["status"] = FAILED
    elif found == [] and e is None:
        row["status"] = UNSUPPORTED
    elif e is None or not e.found:
        row["status"] = DELETED
    elif all(getattr(e, m) is None for m in METRICS):
        row["status"] = UNSUPPORTED  # the platform exposes no count for this post
    else:
        row["status"] = OK
        for m in METRICS:
            row[m] = getattr(e, m)
        record_event(
            s,
            EventType.ENGAGEMENT_PULLED,
            now=now,
            workspace_id=t.workspace_id,
            platform=t.platform,
            account_id=t.account_id,
            post_id=t.post_id,
            target_id=t.target_id,
            remote_id=t.remote_id,
            published_at=t.published_at.isoformat(),
            **{m: getattr(e, m) for m in METRICS},
        )
    prior = before.get(t.target_id) or {}
    for m in METRICS:
        old, new = prior.get(m), row[m]
        row[f"{m}_change"] = new - old if new is not None and old is not None else None
    known = [row[m] for m in ("likes", "reposts", "replies") if row[m] is not None]
    row["engagement"] = sum(known) if known else None
    return row


def engagement_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The rows of a pull as a frame with fixed columns and numeric counts (NaN: unknown)."""
    import pandas as pd

    df = pd.DataFrame(rows, columns=ENGAGEMENT_COLUMNS)
    for col in (*METRICS, "engagement", *(f"{m}_change" for m in METRICS)):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
    return df


def pull_engagement(
    app: AppContext,
    *,
    now: datetime,
    days: int = 7,
    transport: httpx.AsyncBaseTransport | None = None,
) -> pd.DataFrame:
    """Pull, record and return the engagement table (see the module docstring)."""
    rows = asyncio.run(pull_engagement_async(app, now=now, days=days, transport=transport))
    return engagement_frame(rows)


def engagement_by_platform(df: pd.DataFrame) -> pd.DataFrame:
    """Sums per platform of the posts whose counts were read (status ``ok``)."""
    import pandas as pd

    cols = ["platform", "posts", *METRICS]
    ok = df[df["status"] == OK] if len(df) else df
    if ok.empty:
        return pd.DataFrame(columns=cols)
    out = ok.groupby("platform")[list(METRICS)].sum(min_count=1)
    out.insert(0, "posts", ok.groupby("platform").size())
    return out.reset_index()[cols]


def latest_engagement(session: Any, *, now: datetime, days: int = 7) -> pd.DataFrame:
    """The engagement table from the snapshots already recorded (no platform call): each
    target published in the last ``days`` days with its latest counts (status ``ok``), or
    ``not pulled`` and missing counts."""
    targets = published_targets(session, now=now, days=days)
    latest = previous_snapshots(
        session, [t.post_id for t in targets], before=now + timedelta(microseconds=1)
    )
    rows = []
    for t in targets:
        snap = latest.get(t.target_id)
        counts = {m: (snap or {}).get(m) for m in METRICS}
        known: list[int] = [
            int(v) for m in ("likes", "reposts", "replies") if (v := counts[m]) is not None
        ]
        rows.append(
            {
                "target_id": t.target_id,
                "post_id": t.post_id,
                "workspace_id": t.workspace_id,
                "account_id": t.account_id,
                "handle": t.handle,
                "platform": t.platform,
                "remote_id": t.remote_id,
                "published_at": t.published_at,
                **counts,
                "engagement": sum(known) if known else None,
                "status": OK if snap else "not pulled",
                "error": None,
            }
        )
    return engagement_frame(rows)
