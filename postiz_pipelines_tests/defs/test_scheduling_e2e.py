"""A recurring schedule expanded by the Dagster job publishes through the sandbox."""

from __future__ import annotations

from datetime import timedelta

from dagster import SensorResult, build_sensor_context
from sqlalchemy import select

from postiz_pipelines.clock import utcnow
from postiz_pipelines.core.context import AppContext
from postiz_pipelines.core.models import JobStatus, PublishJob, Schedule
from postiz_pipelines.core.posts.create import create_post
from postiz_pipelines.core.scheduling.schedules import Recurrence
from postiz_pipelines.defs.publish import publish_job
from postiz_pipelines.defs.scheduling import expand_schedules_job
from postiz_pipelines.defs.sensors import due_posts_sensor
from postiz_pipelines.settings import Settings


def test_recurring_schedule_expanded_in_dagster_publishes(
    instance, resource, sandbox, embedded_env
):
    url, state = sandbox
    app = AppContext.from_settings(Settings.from_env(embedded_env))
    from postiz_pipelines.core.accounts.store import add_account
    from postiz_pipelines.core.workspaces.store import create_workspace

    now = utcnow()
    with app.db.session() as s:
        ws = create_workspace(s, slug="acme", timezone="UTC", now=now)
        acc = add_account(
            s,
            app.keyring,
            workspace=ws,
            platform="mastodon",
            handle="alice",
            access_token="tok",
            base_url=f"{url}/mastodon",
            now=now,
        )
        # hourly at half an hour from now, started five hours ago: the latest occurrence was
        # ~30 min ago (published late, within the 1 h grace), the next is ~30 min ahead
        minute = (now.minute + 30) % 60
        create_post(
            s,
            workspace=ws,
            text="hourly",
            account_ids=[acc.id],
            scheduled_at=None,
            now=now - timedelta(hours=5),
            recurrence=Recurrence(cron=f"{minute} * * * *", starts_at=now - timedelta(hours=5)),
        )
        sch = s.scalar(select(Schedule))
        sch.expanded_until = sch.starts_at  # as if the system had been down since it started
        s.execute(PublishJob.__table__.delete())

    result = expand_schedules_job.execute_in_process(
        instance=instance, resources={"postiz": resource}
    )
    assert result.success
    summary = result.output_for_node("expand_due_schedules")
    assert summary["jobs_created"] == 25  # the late one, and the next 24 h
    assert summary["missed"] == 4  # the other passed hours: reported, never fired as a burst

    with build_sensor_context(instance=instance, resources={"postiz": resource}) as ctx:
        requests = due_posts_sensor(ctx)
    assert isinstance(requests, SensorResult) and len(requests.run_requests) == 1
    run = publish_job.execute_in_process(
        partition_key=requests.run_requests[0].partition_key,
        instance=instance,
        resources={"postiz": resource},
    )
    assert run.success
    assert run.output_for_node("publish_posts")["completed"] == 1
    assert [p.text for p in state.accepted("mastodon")] == ["hourly"]
    with app.db.read() as s:
        done = s.scalars(select(PublishJob).where(PublishJob.status == JobStatus.COMPLETED)).all()
    assert len(done) == len(state.accepted("mastodon"))
    app.close()
