"""Sensors decide, jobs work: each maintenance sensor answers from the databases alone (no
request leaves the process during a tick), and each job does its work through real HTTP; the
publish sensor's recovery rule on a real Dagster instance."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from dagster import DagsterRunStatus, RunRequest, SensorResult, SkipReason, build_sensor_context
from sqlalchemy import select

from postiz_pipelines.clock import utcnow
from postiz_pipelines.core.events import EventType, record_event
from postiz_pipelines.core.models import JobStatus, PublishJob, WebhookDelivery, WorkerHeartbeat
from postiz_pipelines.core.observability.webhooks import create_subscription
from postiz_pipelines.core.publishing import breaker, queue
from postiz_pipelines.core.publishing.dispatch import run_owner
from postiz_pipelines.defs.maintenance import alerts_job, lease_recovery_job, webhooks_job
from postiz_pipelines.defs.publish import publish_job
from postiz_pipelines.defs.resources import PostizResource
from postiz_pipelines.defs.sensors import (
    alerts_sensor,
    due_posts_sensor,
    lease_recovery_sensor,
    webhook_delivery_sensor,
)
from postiz_pipelines_tests.defs.conftest import clocked


class Receiver:
    """A real HTTP receiver on loopback that records what it is sent."""

    def __init__(self) -> None:
        self.got: list[tuple[str, dict[str, str], bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                outer.got.append((self.path, dict(self.headers), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rx = Receiver()
    thread = threading.Thread(target=rx.server.serve_forever, daemon=True)
    thread.start()
    yield rx
    rx.server.shutdown()
    rx.server.server_close()


def _resource(env: dict[str, str], **overrides: str) -> PostizResource:
    return PostizResource(
        database_url=env["POSTIZ_DATABASE_URL"],
        data_dir=env["POSTIZ_DATA_DIR"],
        settings_overrides={"POSTIZ_ENCRYPTION_KEY": env["POSTIZ_ENCRYPTION_KEY"], **overrides},
    )


def _tick(sensor, instance, resource):  # type: ignore[no-untyped-def]
    with build_sensor_context(instance=instance, resources={"postiz": resource}) as ctx:
        return sensor(ctx)


def test_webhook_sensor_decides_and_the_job_delivers(app, make, env, instance, receiver):
    ws = make.workspace()
    now = utcnow()
    # the receiver is on loopback, which delivery refuses unless private targets are allowed
    resource = _resource(env, POSTIZ_WEBHOOK_ALLOW_PRIVATE="true")
    assert isinstance(_tick(webhook_delivery_sensor, instance, resource), SkipReason)
    with app.db.session() as s:
        create_subscription(
            s,
            app.keyring,
            workspace_id=ws.id,
            url=f"{receiver.url}/hook",
            now=now,
            allow_private=True,
        )
        record_event(
            s,
            EventType.POST_PUBLISHED,
            now=now - timedelta(minutes=1),
            workspace_id=ws.id,
            post_id="post_ü",
            platform="mastodon",
            remote_id="r1",
        )
    request = _tick(webhook_delivery_sensor, instance, resource)
    assert isinstance(request, RunRequest) and request.run_key.startswith("webhooks:")
    assert receiver.got == []  # the tick sent nothing
    with app.db.read() as s:
        assert s.scalars(select(WebhookDelivery)).all() == []  # nor fanned out
    result = webhooks_job.execute_in_process(instance=instance, resources={"postiz": resource})
    assert result.success
    assert result.output_for_node("deliver_webhooks")["delivered"] == 1
    [(path, headers, body)] = receiver.got
    assert path == "/hook" and json.loads(body)["type"] == "post.published"
    assert headers["webhook-signature"].startswith("v1,")
    assert isinstance(_tick(webhook_delivery_sensor, instance, resource), SkipReason)


def test_alerts_sensor_decides_and_the_job_notifies(app, env, instance, receiver):
    now = utcnow()
    resource = _resource(env, POSTIZ_ALERT_WEBHOOK_URL=f"{receiver.url}/alerts")
    assert isinstance(_tick(alerts_sensor, instance, resource), SkipReason)
    with app.db.session() as s:
        for _ in range(5):
            breaker.record_failure(
                s, "mastodon", now=now, error="503", policy=breaker.BreakerPolicy()
            )
    first = _tick(alerts_sensor, instance, resource)
    again = _tick(alerts_sensor, instance, resource)
    assert isinstance(first, RunRequest) and "breaker_open:mastodon" in first.run_key
    assert isinstance(again, RunRequest) and again.run_key == first.run_key  # idempotent
    assert receiver.got == []
    result = alerts_job.execute_in_process(instance=instance, resources={"postiz": resource})
    assert result.success and result.output_for_node("send_alerts") == ["breaker_open:mastodon"]
    [(path, _headers, body)] = receiver.got
    assert path == "/alerts" and json.loads(body)["alerts"][0]["kind"] == "breaker_open"


def test_lease_recovery_sensor_decides_and_the_job_recovers(app, make, env, instance):
    ws = make.workspace()
    acc = make.account(ws)
    [job_id] = make.jobs(ws, acc, 1, run_at=utcnow() - timedelta(minutes=10))
    resource = _resource(env)
    assert isinstance(_tick(lease_recovery_sensor, instance, resource), SkipReason)
    queue.claim_due_jobs(
        app.db, owner="dead-run", now=utcnow() - timedelta(minutes=9), lease=timedelta(minutes=1)
    )
    request = _tick(lease_recovery_sensor, instance, resource)
    assert isinstance(request, RunRequest) and request.tags["postiz/expired"] == "1"
    with app.db.read() as s:
        assert s.get(PublishJob, job_id).status == JobStatus.RUNNING  # the tick changed nothing
    result = lease_recovery_job.execute_in_process(
        instance=instance, resources={"postiz": resource}
    )
    assert result.success and result.output_for_node("recover_leases")["requeued"] == 1
    with app.db.read() as s:
        assert s.get(PublishJob, job_id).status == JobStatus.PENDING


def _window_request(app, make, env, instance):  # type: ignore[no-untyped-def]
    ws = make.workspace()
    acc = make.account(ws)
    make.jobs(ws, acc, 2, run_at=utcnow() + timedelta(seconds=20))
    resource = _resource(env)
    result = _tick(due_posts_sensor, instance, resource)
    assert isinstance(result, SensorResult) and len(result.run_requests) == 1
    return resource, result.run_requests[0]


def _create(instance, rr, status):  # type: ignore[no-untyped-def]
    tags = {**rr.tags, "dagster/run_key": rr.run_key, "dagster/partition": str(rr.partition_key)}
    return instance.create_run_for_job(job_def=publish_job, status=status, tags=tags)


def test_a_failed_window_run_is_replaced_never_duplicated(app, make, env, instance):
    resource, rr = _window_request(app, make, env, instance)
    _create(instance, rr, DagsterRunStatus.FAILURE)
    first = _tick(due_posts_sensor, instance, resource)
    second = _tick(due_posts_sensor, instance, resource)
    assert [r.run_key for r in first.run_requests] == [f"{rr.run_key}:r1"]
    assert [r.run_key for r in second.run_requests] == [f"{rr.run_key}:r1"]  # same key
    _create(instance, first.run_requests[0], DagsterRunStatus.NOT_STARTED)
    assert isinstance(_tick(due_posts_sensor, instance, resource), SkipReason)


def test_a_silent_window_run_is_marked_failed_and_replaced(app, make, env, instance):
    resource, rr = _window_request(app, make, env, instance)
    run = _create(instance, rr, DagsterRunStatus.STARTED)
    with app.db.session() as s:  # it beat once, a minute ago, then its process died
        s.add(
            WorkerHeartbeat(
                id=run_owner(run.run_id),
                host="h",
                pid=1,
                started_at=utcnow() - timedelta(minutes=2),
                status="running",
                last_beat_at=utcnow() - timedelta(minutes=1),
            )
        )
    result = _tick(due_posts_sensor, instance, resource)
    assert [r.run_key for r in result.run_requests] == [f"{rr.run_key}:r1"]
    assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.FAILURE
    with app.db.session() as s:  # a run that beats is alive: nothing more is asked
        s.get(WorkerHeartbeat, run_owner(run.run_id)).last_beat_at = utcnow()
    _create(instance, result.run_requests[0], DagsterRunStatus.STARTED)
    assert isinstance(_tick(due_posts_sensor, instance, resource), SkipReason)


def test_window_run_from_the_sensor_serves_its_window(app, make, env, instance, sandbox):
    url, state = sandbox
    ws = make.workspace()
    acc = make.account(ws, base_url=f"{url}/mastodon")
    make.jobs(ws, acc, 3, run_at=utcnow() + timedelta(seconds=20), text="windowed ✨")
    resource = _resource(env)
    [rr] = _tick(due_posts_sensor, instance, resource).run_requests
    run = publish_job.execute_in_process(
        partition_key=rr.partition_key,
        instance=instance,
        resources={"postiz": clocked(resource, utcnow())},
        tags=rr.tags,
    )
    assert run.success
    summary = run.output_for_node("publish_posts")
    assert summary["completed"] == 3 and summary["passes"] > 10  # it kept looking
    assert sorted(p.text for p in state.accepted("mastodon")) == [
        f"windowed ✨ {i}" for i in range(3)
    ]
    with app.db.read() as s:  # a run that ended cleanly leaves no heartbeat behind
        assert s.scalars(select(WorkerHeartbeat)).all() == []
