"""Analytics and health, recorded as assets. Each is a one-line adapter over a plain
function of ``core/observability`` (the same functions ``/api/postiz/worker/stats`` uses).

Lineage: ``publish_outcomes`` and ``workspace_activity`` (daily partitions) and the health
snapshots ``queue_health``, ``token_health``, ``post_engagement`` -> ``best_posting_times``
all feed ``analytics_report`` (daily), which draws the charts and writes the HTML page.
pandas and matplotlib are imported inside the functions: this module is never on the
publish run's import path.
"""

# No `from __future__ import annotations`: Dagster inspects the context annotation at runtime.

from datetime import UTC, datetime, timedelta
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetIn,
    ConfigurableResource,
    DailyPartitionsDefinition,
    MetadataValue,
    asset,
)

from postiz_pipelines.clock import utcnow
from postiz_pipelines.core.observability.tables import markdown_table
from postiz_pipelines.defs.resources import PostizResource

daily = DailyPartitionsDefinition(start_date="2026-01-01", timezone="UTC", end_offset=1)
ENGAGEMENT_DAYS = 7
HISTORY_DAYS = 14


class AnalyticsClock(ConfigurableResource):
    """What "now" is for the snapshot assets: the wall clock, or ``fixed_now`` (ISO 8601)
    so a test or a replay sees one fixed instant."""

    fixed_now: str | None = None

    def now(self) -> datetime:
        if self.fixed_now:
            value = datetime.fromisoformat(self.fixed_now)
            return value if value.tzinfo else value.replace(tzinfo=UTC)
        return utcnow()


def day_window(partition_key: str) -> tuple[datetime, datetime]:
    """[start, end) in UTC of a daily partition."""
    day = datetime.strptime(partition_key, "%Y-%m-%d").replace(tzinfo=UTC)
    return day, day + timedelta(days=1)


def _md(df: Any, rows: int = 20) -> MetadataValue:
    return MetadataValue.md(markdown_table(df, max_rows=rows))


@asset(
    partitions_def=daily,
    group_name="analytics",
    description="Per day (UTC), workspace and platform: published, failed, retried, "
    "dead-lettered, success and on-time rates, lag p50/p95/p99 (scheduled -> accepted).",
)
def publish_outcomes(context: AssetExecutionContext, postiz: PostizResource) -> Any:
    from postiz_pipelines.core.observability.outcomes import publish_outcomes as compute

    since, until = day_window(context.partition_key)
    with postiz.app().db.read() as s:
        df = compute(s, since=since, until=until)
    context.add_output_metadata(
        {
            "rows": len(df),
            "published": int(df["published"].sum()) if len(df) else 0,
            "failed": int(df["failed"].sum()) if len(df) else 0,
            "preview": _md(df),
        }
    )
    return df


@asset(
    partitions_def=daily,
    group_name="analytics",
    description="Per workspace and day: posts created, published, failed, success rate, "
    "accounts that published; jobs waiting and dead letters now.",
)
def workspace_activity(context: AssetExecutionContext, postiz: PostizResource) -> Any:
    from postiz_pipelines.core.observability.activity import workspace_activity as compute

    since, until = day_window(context.partition_key)
    with postiz.app().db.read() as s:
        df = compute(s, since=since, until=until)
    context.add_output_metadata({"workspaces": len(df), "preview": _md(df)})
    return df


@asset(
    group_name="health",
    description="The queue now: backlog by state and age, processing rate, oldest waiting.",
)
def queue_health(
    context: AssetExecutionContext, postiz: PostizResource, analytics_clock: AnalyticsClock
) -> Any:
    from postiz_pipelines.core.observability.queue_health import queue_backlog, queue_summary

    now = analytics_clock.now()
    with postiz.app().db.read() as s:
        df = queue_backlog(s, now=now)
        summary = queue_summary(s, now=now)
    flat = {k: v for k, v in summary.items() if k != "byStatus" and v is not None}
    context.add_output_metadata({**flat, "at": now.isoformat(), "backlog": _md(df)})
    return df


@asset(
    group_name="health",
    description="Per account: token expiry (24 h, 7 days), refresh failures, reconnects "
    "needed and jobs held by them.",
)
def token_health(
    context: AssetExecutionContext, postiz: PostizResource, analytics_clock: AnalyticsClock
) -> Any:
    from postiz_pipelines.core.observability.token_health import token_health as compute
    from postiz_pipelines.core.observability.token_health import token_summary

    with postiz.app().db.read() as s:
        df = compute(s, now=analytics_clock.now())
    context.add_output_metadata({**token_summary(df), "preview": _md(df)})
    return df


@asset(
    group_name="analytics",
    description=f"Likes, reposts, replies and views of posts published in the last "
    f"{ENGAGEMENT_DAYS} days, pulled through each platform, with the change since last pull.",
)
def post_engagement(
    context: AssetExecutionContext, postiz: PostizResource, analytics_clock: AnalyticsClock
) -> Any:
    from postiz_pipelines.core.observability.engagement import (
        engagement_by_platform,
        pull_engagement,
    )

    df = pull_engagement(postiz.app(), now=analytics_clock.now(), days=ENGAGEMENT_DAYS)
    by_status = df["status"].value_counts().to_dict() if len(df) else {}
    context.add_output_metadata(
        {
            "posts": len(df),
            **{f"status_{k}": int(v) for k, v in by_status.items()},
            "by_platform": _md(engagement_by_platform(df)),
            "preview": _md(df.drop(columns=["post_id", "workspace_id"])),
        }
    )
    return df


@asset(
    group_name="analytics",
    description="Per account, the weekday and hour (account's time zone) whose posts drew the "
    "most engagement: proposed posting slots.",
)
def best_posting_times(
    context: AssetExecutionContext, postiz: PostizResource, post_engagement: Any
) -> Any:
    from postiz_pipelines.core.observability.best_times import account_zones
    from postiz_pipelines.core.observability.best_times import best_posting_times as compute

    with postiz.app().db.read() as s:
        zones = account_zones(s, list(post_engagement["account_id"].unique()))
    df = compute(post_engagement, zones)
    context.add_output_metadata(
        {"accounts": int(df["account_id"].nunique()) if len(df) else 0, "slots": _md(df, 30)}
    )
    return df


@asset(
    partitions_def=daily,
    group_name="analytics",
    ins={
        "publish_outcomes": AssetIn(),
        "workspace_activity": AssetIn(),
    },
    deps=[queue_health, token_health, post_engagement, best_posting_times],
    description=f"The day's report: charts (volume and success rate per platform over "
    f"{HISTORY_DAYS} days, lag distribution, engagement per platform) and tables; also "
    "written as HTML and PNG files under <data folder>/reports/<day>/.",
)
def analytics_report(
    context: AssetExecutionContext,
    postiz: PostizResource,
    analytics_clock: AnalyticsClock,
    publish_outcomes: Any,
    workspace_activity: Any,
) -> Any:
    from postiz_pipelines.core.observability.best_times import account_zones
    from postiz_pipelines.core.observability.best_times import best_posting_times as best
    from postiz_pipelines.core.observability.engagement import (
        engagement_by_platform,
        latest_engagement,
    )
    from postiz_pipelines.core.observability.outcomes import (
        platform_totals,
        publish_events,
    )
    from postiz_pipelines.core.observability.outcomes import publish_outcomes as outcomes
    from postiz_pipelines.core.observability.report import build_report
    from postiz_pipelines.core.observability.token_health import token_health as tokens
    from postiz_pipelines.core.observability.token_health import token_summary

    day = context.partition_key
    since, until = day_window(day)
    app = postiz.app()
    now = min(analytics_clock.now(), until)
    with app.db.read() as s:
        history = outcomes(s, since=since - timedelta(days=HISTORY_DAYS - 1), until=until)
        lags = publish_events(s, since=since, until=until)
        engagement = latest_engagement(s, now=now, days=ENGAGEMENT_DAYS)
        zones = account_zones(s, list(engagement["account_id"].unique()))
        token_figures = token_summary(tokens(s, now=now))
    by_platform = engagement_by_platform(engagement)
    first = since - timedelta(days=HISTORY_DAYS - 1)
    report = build_report(
        day,
        days=[(first + timedelta(days=i)).strftime("%Y-%m-%d") for i in range(HISTORY_DAYS)],
        history=history,
        lags=lags,
        engagement_by_platform=by_platform,
        tables={
            "Outcomes per platform": platform_totals(publish_outcomes),
            "Outcomes per workspace and platform": publish_outcomes.drop(columns=["day"]),
            "Workspaces": workspace_activity.drop(columns=["workspace_id"]),
            "Engagement per platform": by_platform,
            "Best posting times": best(engagement, zones).drop(columns=["account_id"]),
        },
        figures={
            "published": int(publish_outcomes["published"].sum()) if len(publish_outcomes) else 0,
            "failed": int(publish_outcomes["failed"].sum()) if len(publish_outcomes) else 0,
            "accounts to reconnect": token_figures["to_reconnect"],
            "tokens expiring in 24 h": token_figures["expiring_24h"],
        },
    )
    paths = report.write(app.settings.data_dir.resolve() / "reports" / day)
    context.add_output_metadata(
        {
            "report": MetadataValue.md(report.markdown()),
            "html": MetadataValue.path(str(paths["html"])),
            **{
                f"{name}_png": MetadataValue.path(str(p))
                for name, p in paths.items()
                if name != "html"
            },
        }
    )
    return {"day": day, "files": {k: str(v) for k, v in paths.items()}}
