"""The analytics assets and checks materialize through Dagster on a test instance, over the
fixed world of ``analytics_world.py``, and three past days backfill."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from dagster import AssetKey, DagsterInstance, materialize
from PIL import Image

from postiz_pipelines.core.models import JobStatus, PublishJob
from postiz_pipelines.core.observability.report import pixel_size
from postiz_pipelines.defs.analytics import AnalyticsClock
from postiz_pipelines.defs.assets import ASSETS, CHECKS
from postiz_pipelines.defs.resources import PostizResource
from postiz_pipelines_tests.analytics_world import DAY, NOW, build


@pytest.fixture
def world(app, make):  # type: ignore[no-untyped-def]
    return build(app, make)


def _resources(env: dict[str, str]) -> dict:
    return {
        "postiz": PostizResource(
            database_url=env["POSTIZ_DATABASE_URL"],
            data_dir=env["POSTIZ_DATA_DIR"],
            settings_overrides={"POSTIZ_ENCRYPTION_KEY": env["POSTIZ_ENCRYPTION_KEY"]},
        ),
        "analytics_clock": AnalyticsClock(fixed_now=NOW.isoformat()),
    }


def _md(result, key: str, name: str) -> str:  # type: ignore[no-untyped-def]
    [mat] = result.asset_materializations_for_node(key)
    return mat.metadata[name].value


def test_all_assets_and_checks_materialize_on_the_world(app, world, env, tmp_path):
    instance = DagsterInstance.ephemeral()
    result = materialize(ASSETS, partition_key=DAY, instance=instance, resources=_resources(env))
    assert result.success
    outcomes = result.output_for_node("publish_outcomes")
    assert int(outcomes["published"].sum()) == 6 and int(outcomes["failed"].sum()) == 4
    queue = result.output_for_node("queue_health")
    assert int(queue["jobs"].sum()) == 8  # 7 waiting + 1 running
    tokens = result.output_for_node("token_health")
    assert tokens["expires_in_h"].isna().sum() == 2  # alice's never expires; carol's unknown
    assert "| - |" in _md(result, "token_health", "preview")
    report = result.output_for_node("analytics_report")
    files = report["files"]
    for chart in ("volume", "lag", "engagement"):
        with Image.open(files[chart]) as img:
            assert img.size == pixel_size(chart)
    assert files["html"].endswith(f"reports/{DAY}/report.html")
    md = _md(result, "analytics_report", "report")
    assert md.count("(data:image/png;base64,") == 3 and "Best posting times" in md


def test_checks_report_offending_rows_and_pass_when_fixed(app, world, env):
    instance = DagsterInstance.ephemeral()
    picked = [a for a in ASSETS if a.key.path[0] in ("queue_health", "token_health")]
    picked_checks = [
        c
        for c in CHECKS
        if {k.asset_key.path[0] for k in c.check_keys} <= {"queue_health", "token_health"}
    ]
    result = materialize([*picked, *picked_checks], instance=instance, resources=_resources(env))
    assert result.success
    evals = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert set(evals) == {
        "no_overdue_jobs",
        "no_reconnect_with_waiting_jobs",
        "tokens_are_refreshed",
        "held_jobs_within_bound",
        "oauth_clients_configured",
    }
    assert not evals["no_overdue_jobs"].passed
    assert evals["no_overdue_jobs"].metadata["offending_count"].value == 3
    assert world["stuck"][0] in evals["no_overdue_jobs"].metadata["offending"].value
    assert not evals["no_reconnect_with_waiting_jobs"].passed
    assert (
        "| carol | reconnect_needed | 3 |"
        in evals["no_reconnect_with_waiting_jobs"].metadata["offending"].value
    )
    assert evals["tokens_are_refreshed"].passed
    with app.db.session() as s:
        for job in s.query(PublishJob).filter(PublishJob.status != JobStatus.COMPLETED):
            job.status = JobStatus.CANCELED
    again = materialize([*picked, *picked_checks], instance=instance, resources=_resources(env))
    assert all(c.passed for c in again.get_asset_check_evaluations())


def test_daily_checks_and_a_three_day_backfill(app, world, env):
    instance = DagsterInstance.ephemeral()
    daily = [a for a in ASSETS if a.key.path[0] in ("publish_outcomes", "workspace_activity")]
    daily_checks = [
        c for c in CHECKS if any(k.asset_key.path[0] == "publish_outcomes" for k in c.check_keys)
    ]
    seen = {}
    for back in (3, 2, 1):
        day = (NOW - timedelta(days=back)).strftime("%Y-%m-%d")
        run = materialize(
            [*daily, *daily_checks], partition_key=day, instance=instance, resources=_resources(env)
        )
        assert run.success
        seen[day] = run.output_for_node("publish_outcomes")
        assert all(c.passed for c in run.get_asset_check_evaluations())
    assert seen["2026-11-25"].empty
    assert seen["2026-11-26"][["platform", "failed", "published"]].values.tolist() == [["x", 1, 0]]
    assert seen["2026-11-27"][["platform", "published"]].values.tolist() == [["mastodon", 1]]
    partitions = instance.get_materialized_partitions(AssetKey("publish_outcomes"))
    assert partitions == {"2026-11-25", "2026-11-26", "2026-11-27"}
    today = materialize(
        [*daily, *daily_checks], partition_key=DAY, instance=instance, resources=_resources(env)
    )
    evals = {c.check_name: c for c in today.get_asset_check_evaluations()}
    assert not evals["failure_rate_is_low"].passed
    assert "| x | 2 | 1 |" in evals["failure_rate_is_low"].metadata["offending"].value
    assert evals["on_time_p99_within_bound"].passed


def test_report_of_an_empty_day_renders(app, env, tmp_path):
    instance = DagsterInstance.ephemeral()
    result = materialize(
        ASSETS, partition_key="2026-11-20", instance=instance, resources=_resources(env)
    )
    assert result.success
    files = result.output_for_node("analytics_report")["files"]
    with open(files["lag"], "rb") as fh:
        with Image.open(io.BytesIO(fh.read())) as img:
            assert img.size == pixel_size("lag")


def test_loading_the_definitions_imports_no_pandas_nor_matplotlib():
    import subprocess
    import sys

    code = (
        "import sys, postiz_pipelines.defs.definitions\n"
        "print(sorted(m for m in ('pandas', 'matplotlib') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_schedules_run_by_default_and_ask_for_today_and_after_midnight_yesterday():
    from datetime import UTC, datetime

    from dagster import DefaultScheduleStatus, build_schedule_context

    from postiz_pipelines.defs.assets import analytics_schedule
    from postiz_pipelines.defs.definitions import defs

    for name in ("health_schedule", "engagement_schedule", "analytics_schedule"):
        assert defs.get_schedule_def(name).default_status == DefaultScheduleStatus.RUNNING
    assert set(defs.resolve_job_def("analytics_job").asset_layer.executable_asset_keys) >= {
        AssetKey("publish_outcomes"),
        AssetKey("analytics_report"),
    }
    noon = build_schedule_context(
        scheduled_execution_time=datetime(2026, 11, 28, 12, 15, tzinfo=UTC)
    )
    assert [r.partition_key for r in analytics_schedule(noon)] == ["2026-11-28"]
    night = build_schedule_context(
        scheduled_execution_time=datetime(2026, 11, 28, 0, 0, tzinfo=UTC)
    )
    assert [r.partition_key for r in analytics_schedule(night)] == ["2026-11-28", "2026-11-27"]
