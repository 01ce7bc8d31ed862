"""The due-posts sensor and the whole path: CLI -> database -> sensor -> partitioned run ->
sandbox."""

from __future__ import annotations

import json
from datetime import timedelta

from dagster import SensorResult, SkipReason, build_sensor_context
from sqlalchemy import select

from postiz_pipelines.core.context import AppContext
from postiz_pipelines.core.models import JobStatus, Post, PostStatus, PublishAttempt, PublishJob
from postiz_pipelines.core.publishing.dispatch import due_groups, run_key
from postiz_pipelines.defs.partitions import WORKSPACES
from postiz_pipelines.defs.publish import publish_job
from postiz_pipelines.defs.sensors import due_posts_sensor
from postiz_pipelines.settings import Settings


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

    app = AppContext.from_settings(Settings.from_env(embedded_env))
    with app.db.read() as s:
        expected = {
            run_key(g)
            for g in due_groups(
                s, now=cli.now + timedelta(minutes=1), lookahead=timedelta(seconds=60)
            )
        }
    app.close()

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
    assert {rr.run_key for rr in result.run_requests} == expected  # same batch, same key
    assert set(instance.get_dynamic_partitions(WORKSPACES)) == {"acme", "globex"}

    again = _evaluate(instance, resource)
    assert isinstance(again, SkipReason)  # requested runs are not requested twice


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
        run = publish_job.execute_in_process(
            partition_key=rr.partition_key,
            instance=instance,
            resources={"postiz": resource},
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
