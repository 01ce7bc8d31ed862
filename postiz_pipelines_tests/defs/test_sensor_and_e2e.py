"""The due-posts sensor and the whole path: CLI -> database -> sensor -> window run ->
sandbox."""

from __future__ import annotations

import json
from datetime import timedelta

from dagster import DagsterRunStatus, SensorResult, SkipReason, build_sensor_context
from sqlalchemy import select

from postiz_pipelines.clock import ensure_utc, utcnow
from postiz_pipelines.core.context import AppContext
from postiz_pipelines.core.models import JobStatus, Post, PostStatus, PublishAttempt, PublishJob
from postiz_pipelines.core.publishing.windows import WindowPolicy
from postiz_pipelines.defs.partitions import WORKSPACES
from postiz_pipelines.defs.publish import publish_job
from postiz_pipelines.defs.sensors import due_posts_sensor
from postiz_pipelines.settings import Settings
from postiz_pipelines_tests.defs.conftest import clocked


def submit(instance, rr, status=DagsterRunStatus.NOT_STARTED):  # type: ignore[no-untyped-def]
    """What the daemon does with a run request: a run with its key, partition and tags."""
    return instance.create_run_for_job(
        job_def=publish_job,
        status=status,
        tags={
            **rr.tags,
            "dagster/run_key": rr.run_key,
            "dagster/partition": str(rr.partition_key),
        },
    )


def _evaluate(instance, resource):  # type: ignore[no-untyped-def]
    with build_sensor_context(instance=instance, resources={"postiz": resource}) as ctx:
        return due_posts_sensor(ctx)


def _account(cli, ws: str, handle: str, base_url: str) -> str:  # type: ignore[no-untyped-def]
    out = cli(
        "accounts",
        "add",
        "--workspace",
        ws,
        "--platform",
        "mastodon",
        "--handle",
        handle,
        "--token",
        f"tok-{ws}-{handle}",
        "--base-url",
        base_url,
        "--json",
    ).output
    return json.loads(out)[0]["id"]


def _post(cli, ws: str, text: str, accounts: list[str], in_seconds: int = 30) -> str:  # type: ignore[no-untyped-def]
    at = (cli.now + timedelta(seconds=in_seconds)).isoformat()
    args = ["posts", "create", "--workspace", ws, "--text", text, "--at", at, "--json"]
    for a in accounts:
        args += ["--account", a]
    return json.loads(cli(*args).output)[0]["id"]


def test_sensor_skips_when_idle(instance, resource):
    result = _evaluate(instance, resource)
    assert isinstance(result, SkipReason)
    assert "no posts due" in (result.skip_message or "")


def test_sensor_one_run_per_workspace_and_platform(instance, resource, cli, sandbox, embedded_env):
    url, _state = sandbox
    for ws in ("acme", "globex"):
        cli("workspaces", "create", "--slug", ws, "--timezone", "UTC")
    a1 = _account(cli, "acme", "alice", f"{url}/mastodon")
    a2 = _account(cli, "acme", "bob", f"{url}/mastodon")
    g1 = _account(cli, "globex", "gina", f"{url}/mastodon")
    _post(cli, "acme", "one", [a1, a2])
    _post(cli, "acme", "two", [a1])
    _post(cli, "globex", "three", [g1])
    _post(cli, "globex", "far future", [g1], in_seconds=3 * 3600)

    result = _evaluate(instance, resource)
    assert isinstance(result, SensorResult)
    keys = {
        (
            rr.partition_key.keys_by_dimension["workspace"],
            rr.partition_key.keys_by_dimension["platform"],
        )
        for rr in result.run_requests
    }
    assert keys == {("acme", "mastodon"), ("globex", "mastodon")}
    assert len(result.run_requests) == 2
    policy = WindowPolicy.from_settings(Settings.from_env(embedded_env))
    due_at = cli.now + timedelta(seconds=30)
    assert {rr.run_key for rr in result.run_requests} == {
        f"publish:{ws}:mastodon:{policy.window_at(ws, 'mastodon', max(due_at, utcnow())).key}"
        for ws in ("acme", "globex")
    }  # the partition and its window: the same window, the same key
    assert set(instance.get_dynamic_partitions(WORKSPACES)) == {"acme", "globex"}
    app = AppContext.from_settings(Settings.from_env(embedded_env))
    with app.db.read() as s:
        statuses = {
            j.status for j in s.scalars(select(PublishJob)) if ensure_utc(j.run_at) <= due_at
        }
    app.close()
    assert statuses == {JobStatus.QUEUED}  # a run was asked for them

    for rr in result.run_requests:
        submit(instance, rr)
    again = _evaluate(instance, resource)
    assert isinstance(again, SkipReason)  # a window with its run is not asked for twice
    assert "2 served by a run" in (again.skip_message or "")


def test_cli_to_sandbox_end_to_end(instance, resource, cli, sandbox, embedded_env):
    url, state = sandbox
    cli("db", "upgrade")
    cli("workspaces", "create", "--slug", "acme", "--timezone", "Europe/Berlin")
    alice = _account(cli, "acme", "alice", f"{url}/mastodon")
    bob = _account(cli, "acme", "bob", f"{url}/mastodon")
    texts = [f"post number {i} https://example.org/{i}" for i in range(5)]
    post_ids = [_post(cli, "acme", t, [alice, bob], in_seconds=10 + i) for i, t in enumerate(texts)]

    result = _evaluate(instance, resource)
    assert isinstance(result, SensorResult) and len(result.run_requests) == 1
    for rr in result.run_requests:
        # the run serves its whole window on simulated time, then ends
        run = publish_job.execute_in_process(
            partition_key=rr.partition_key,
            instance=instance,
            resources={"postiz": clocked(resource, utcnow())},
            tags=rr.tags,
        )
        assert run.success
        assert run.output_for_node("publish_posts")["completed"] == 10

    accepted = state.accepted("mastodon")
    assert sorted(p.text for p in accepted) == sorted(texts * 2)
    assert len({(p.text, p.account_id) for p in accepted}) == 10

    app = AppContext.from_settings(Settings.from_env(embedded_env))
    with app.db.read() as s:
        jobs = s.scalars(select(PublishJob)).all()
        assert len(jobs) == 10 and {j.status for j in jobs} == {JobStatus.COMPLETED}
        attempts = s.scalars(select(PublishAttempt)).all()
        assert sorted(a.job_id for a in attempts) == sorted(j.id for j in jobs)  # one attempt each
        assert {a.outcome for a in attempts} == {"succeeded"}
        assert {j.remote_id for j in jobs} == {p.remote_id for p in accepted}
        assert {s.get(Post, pid).status for pid in post_ids} == {PostStatus.PUBLISHED}
    app.close()

    listed = json.loads(cli("posts", "list", "--workspace", "acme", "--json").output)
    assert {p["status"] for p in listed} == {"published"}


def test_a_run_that_carried_on_is_seen_as_its_next_windows_run(instance):
    from postiz_pipelines.defs.publish import WINDOW_END_TAG, WINDOW_TAG
    from postiz_pipelines.defs.sensors import _window_runs

    policy = WindowPolicy()
    now = utcnow()
    window = policy.window_at("acme", "mastodon", now)
    following = policy.following(window)
    tags = {
        "postiz/workspace": "acme",
        "postiz/platform": "mastodon",
        WINDOW_TAG: window.key,
        WINDOW_END_TAG: window.end.strftime("%Y%m%dT%H%M%SZ"),
    }
    run = instance.create_run_for_job(job_def=publish_job, tags=tags)
    by_window, _ = _window_runs(instance, now=now, policy=policy)
    assert set(by_window) == {("acme", "mastodon", window.key)}  # its own window only
    instance.add_run_tags(run.run_id, {WINDOW_END_TAG: following.end.strftime("%Y%m%dT%H%M%SZ")})
    by_window, _ = _window_runs(instance, now=now, policy=policy)
    assert set(by_window) == {
        ("acme", "mastodon", window.key),
        ("acme", "mastodon", following.key),
    }
    assert [r.dagster_run.run_id for r in by_window[("acme", "mastodon", following.key)]] == [
        run.run_id
    ]
