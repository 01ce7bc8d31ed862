"""Analytics and health, recorded as assets: daily publishing report, token health, queue
health; with checks for overdue jobs, failure rates and tokens about to lapse."""

# No `from __future__ import annotations`: Dagster inspects the context annotation at runtime.

from datetime import UTC, datetime, timedelta

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    DailyPartitionsDefinition,
    DefaultScheduleStatus,
    MetadataValue,
    ScheduleDefinition,
    asset,
    asset_check,
    build_schedule_from_partitioned_job,
    define_asset_job,
)

from postiz_pipelines.clock import utcnow
from postiz_pipelines.core.observability.reports import (
    daily_publishing_report,
    overdue_jobs,
    token_health,
)
from postiz_pipelines.core.publishing.queue import queue_counts
from postiz_pipelines.defs.resources import PostizResource

daily = DailyPartitionsDefinition(start_date="2026-01-01", timezone="UTC", end_offset=1)
OVERDUE_BOUND = timedelta(minutes=15)
MAX_FAILURE_RATE = 0.2


def _preview(df: pd.DataFrame, rows: int = 20) -> MetadataValue:
    if df.empty:
        return MetadataValue.md("_no rows_")
    head = df.head(rows).astype(str)
    lines = ["| " + " | ".join(head.columns) + " |", "|" + "---|" * len(head.columns)]
    lines += ["| " + " | ".join(r) + " |" for r in head.itertuples(index=False)]
    return MetadataValue.md("\n".join(lines))


@asset(
    partitions_def=daily,
    group_name="analytics",
    description="Per day, workspace and platform: published, failed, retries, latency p50/p95.",
)
def publishing_daily_report(context: AssetExecutionContext, postiz: PostizResource) -> pd.DataFrame:
    day = datetime.strptime(context.partition_key, "%Y-%m-%d").replace(tzinfo=UTC)
    with postiz.app().db.read() as s:
        df = daily_publishing_report(s, since=day, until=day + timedelta(days=1))
    context.add_output_metadata(
        {
            "rows": len(df),
            "published": int(df["published"].sum()) if len(df) else 0,
            "failed": int(df["failed"].sum()) if len(df) else 0,
            "preview": _preview(df),
        }
    )
    return df


@asset_check(
    asset=publishing_daily_report,
    description=f"Over the last 24 h, at most {MAX_FAILURE_RATE:.0%} of publishes failed.",
)
def failure_rate_is_low(postiz: PostizResource) -> AssetCheckResult:
    now = utcnow()
    with postiz.app().db.read() as s:
        df = daily_publishing_report(
            s, since=now - timedelta(hours=24), until=now + timedelta(seconds=1)
        )
    failed = int(df["failed"].sum()) if len(df) else 0
    total = failed + (int(df["published"].sum()) if len(df) else 0)
    rate = failed / total if total else 0.0
    return AssetCheckResult(
        passed=rate <= MAX_FAILURE_RATE,
        severity=AssetCheckSeverity.WARN,
        metadata={"failure_rate": round(rate, 4), "failed": failed, "total": total},
    )


@asset(group_name="health", description="Every account's status and hours until its token expires.")
def account_token_health(context: AssetExecutionContext, postiz: PostizResource) -> pd.DataFrame:
    with postiz.app().db.read() as s:
        df = token_health(s, now=utcnow())
    context.add_output_metadata({"accounts": len(df), "preview": _preview(df)})
    return df


@asset_check(
    asset=account_token_health,
    description="No active account's token lapses within 2 h (the refresh should have run).",
)
def tokens_are_refreshed(account_token_health: pd.DataFrame) -> AssetCheckResult:
    df = account_token_health
    soon = (
        df[(df["status"] == "active") & df["expires_in_h"].notna() & (df["expires_in_h"] < 2)]
        if len(df)
        else df
    )
    return AssetCheckResult(
        passed=len(soon) == 0,
        metadata={
            "lapsing": len(soon),
            "accounts": soon["account_id"].tolist() if len(soon) else [],
        },
    )


@asset(group_name="health", description="Jobs by status, and those overdue beyond 15 minutes.")
def queue_health(context: AssetExecutionContext, postiz: PostizResource) -> dict:
    now = utcnow()
    with postiz.app().db.read() as s:
        counts = queue_counts(s)
        late = [j.id for j in overdue_jobs(s, now=now, bound=OVERDUE_BOUND)]
    context.add_output_metadata({**counts, "overdue": len(late)})
    return {"counts": counts, "overdue": late, "at": now.isoformat()}


@asset_check(asset=queue_health, description="No job is past due by more than 15 minutes.")
def no_overdue_jobs(queue_health: dict) -> AssetCheckResult:
    late = queue_health["overdue"]
    return AssetCheckResult(passed=not late, metadata={"overdue": len(late), "first": late[:20]})


analytics_job = define_asset_job("analytics_job", selection=[publishing_daily_report])
analytics_schedule = build_schedule_from_partitioned_job(analytics_job, minute_of_hour=10)
health_job = define_asset_job("health_job", selection=[account_token_health, queue_health])
health_schedule = ScheduleDefinition(
    job=health_job, cron_schedule="*/15 * * * *", default_status=DefaultScheduleStatus.RUNNING
)
