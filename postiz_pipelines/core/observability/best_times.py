"""Best posting times: per account, the weekday and hour (in the account's own time zone)
whose posts drew the most engagement, proposed as posting slots.

A post's engagement is likes + reposts + replies (views are left out: not every platform
reports them, and they would drown the rest). Posts whose counts are unknown are left out.
Slots are ranked by mean engagement, then by how many posts back them, then by the earlier
slot in the week. The zone is the account's (``settings.timezone``), else its workspace's,
else UTC; an unknown zone name falls back the same way rather than failing the report.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from postiz_pipelines.core.models import SocialAccount, Workspace

if TYPE_CHECKING:
    import pandas as pd

WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
BEST_COLUMNS = [
    "account_id",
    "handle",
    "platform",
    "timezone",
    "rank",
    "weekday",
    "hour",
    "slot",
    "posts",
    "mean_engagement",
]
SLOTS_PER_ACCOUNT = 3


def _zone(*names: str | None) -> str:
    for name in names:
        if not name:
            continue
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            continue
        return name
    return "UTC"


def account_zones(session: Session, account_ids: list[str]) -> dict[str, str]:
    """Each account's time zone name: its own, else its workspace's, else UTC."""
    if not account_ids:
        return {}
    rows = session.execute(
        select(SocialAccount.id, SocialAccount.settings, Workspace.timezone)
        .join(Workspace, Workspace.id == SocialAccount.workspace_id)
        .where(SocialAccount.id.in_(sorted(set(account_ids))))
    ).all()
    return {a: _zone((settings or {}).get("timezone"), ws_tz) for a, settings, ws_tz in rows}


def best_posting_times(
    engagement: pd.DataFrame, zones: dict[str, str], *, slots: int = SLOTS_PER_ACCOUNT
) -> pd.DataFrame:
    """The top ``slots`` (weekday, hour) of each account, from a ``post_engagement`` frame
    (columns account_id, handle, platform, published_at, likes, reposts, replies)."""
    import pandas as pd

    if engagement.empty:
        return pd.DataFrame(columns=BEST_COLUMNS)
    df = engagement.copy()
    parts = df[["likes", "reposts", "replies"]].apply(pd.to_numeric, errors="coerce")
    df["score"] = parts.sum(axis=1, min_count=1)
    df = df[df["score"].notna() & df["published_at"].notna()]
    if df.empty:
        return pd.DataFrame(columns=BEST_COLUMNS)
    df["timezone"] = [zones.get(a, "UTC") for a in df["account_id"]]
    local = [
        pd.Timestamp(at).tz_convert(ZoneInfo(tz)) if pd.Timestamp(at).tzinfo else None
        for at, tz in zip(df["published_at"], df["timezone"], strict=True)
    ]
    df["weekday_n"] = [t.weekday() if t is not None else None for t in local]
    df["hour"] = [t.hour if t is not None else None for t in local]
    df = df[df["weekday_n"].notna()]
    grouped = (
        df.groupby(["account_id", "handle", "platform", "timezone", "weekday_n", "hour"])
        .agg(posts=("score", "size"), mean_engagement=("score", "mean"))
        .reset_index()
        .sort_values(
            ["account_id", "mean_engagement", "posts", "weekday_n", "hour"],
            ascending=[True, False, False, True, True],
        )
    )
    grouped["rank"] = grouped.groupby("account_id").cumcount() + 1
    top = grouped[grouped["rank"] <= slots].copy()
    top["weekday_n"] = top["weekday_n"].astype(int)
    top["hour"] = top["hour"].astype(int)
    top["weekday"] = [WEEKDAYS[d] for d in top["weekday_n"]]
    top["slot"] = [
        f"{WEEKDAYS[d]} {h:02d}:00" for d, h in zip(top["weekday_n"], top["hour"], strict=True)
    ]
    top["posts"] = top["posts"].astype("int64")
    top["rank"] = top["rank"].astype("int64")
    top["mean_engagement"] = top["mean_engagement"].astype("float64")
    return top[BEST_COLUMNS].reset_index(drop=True)
