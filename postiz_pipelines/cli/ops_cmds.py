"""Commands mirroring the REST API's operations: posts (show, edit, cancel, retry, attempts),
the dead-letter queue, media, worker stats, token refresh, accounts removal, webhooks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from postiz_pipelines.cli.base import Env, emit, handles_errors, main, pass_env, write
from postiz_pipelines.cli.posts_cmds import post_row, posts
from postiz_pipelines.cli.setup_cmds import accounts


def _at(value: str | None, env: Env) -> Any:
    """``--at`` as an instant: relative (``+10m``) to the command's now, else ISO 8601."""
    from postiz_pipelines.core.scheduling.timeparse import parse_instant, relative_instant

    if (relative := relative_instant(value, now=env.now(), field="--at")) is not None:
        return relative
    return parse_instant(value, field="--at", fallback_zone="UTC") if value else None


# -- posts -----------------------------------------------------------------------------
@posts.command("show")
@click.argument("post_id")
@click.option("--json", "as_json", is_flag=True)
@pass_env
@handles_errors
def posts_show(env: Env, post_id: str, as_json: bool) -> None:
    """One post and its targets."""
    from postiz_pipelines.api.schemas.posts import PostOut
    from postiz_pipelines.core.posts.manage import get_post

    with env.app.db.read() as s:
        out = PostOut.of(get_post(s, post_id)).dump()
    if as_json:
        click.echo(json.dumps(out, indent=2))
        return
    emit(
        [{k: out[k] for k in ("id", "status", "scheduledAt", "content")}],
        False,
        ["id", "status", "scheduledAt", "content"],
    )
    emit(out["targets"], False, ["accountId", "platform", "status", "remoteUrl"])


@posts.command("edit")
@click.argument("post_id")
@click.option("--text", default=None)
@click.option(
    "--at",
    default=None,
    help="New time: relative (+10m, +2h), ISO 8601 with offset, or local time with --timezone.",
)
@click.option("--timezone", default=None)
@click.option("--json", "as_json", is_flag=True)
@pass_env
@handles_errors
def posts_edit(
    env: Env, post_id: str, text: str | None, at: str | None, timezone: str | None, as_json: bool
) -> None:
    """Edit or reschedule a post that has not started publishing."""
    from postiz_pipelines.core.posts.manage import get_post, update_post
    from postiz_pipelines.core.scheduling.timeparse import relative_instant
    from postiz_pipelines.core.workspaces.store import get_workspace

    when = relative_instant(at, now=env.now(), field="--at") or at
    with write(env) as s:
        post = get_post(s, post_id)
        update_post(
            s,
            post,
            now=env.now(),
            workspace=get_workspace(s, post.workspace_id),
            content=text,
            scheduled_at=when,
            timezone=timezone,
            media_root=env.app.media_root,
            actor="cli",
        )
        row = post_row(post)
    emit([row], as_json, ["id", "status", "scheduled_at", "content"])


@posts.command("cancel")
@click.argument("post_id")
@click.option("--json", "as_json", is_flag=True)
@pass_env
@handles_errors
def posts_cancel(env: Env, post_id: str, as_json: bool) -> None:
    """Cancel every target of the post not yet published."""
    from postiz_pipelines.core.posts.manage import cancel_post, get_post

    with write(env) as s:
        post = cancel_post(s, get_post(s, post_id), now=env.now(), actor="cli")
        row = post_row(post)
    emit([row], as_json, ["id", "status", "scheduled_at", "content"])


def job_row(j: Any) -> dict[str, Any]:
    from postiz_pipelines.core.publishing.deadletter import may_be_live

    return {
        "id": j.id,
        "post_id": j.post_id,
        "platform": j.platform,
        "status": j.status,
        "attempts": j.attempts,
        "error_class": j.last_error_class or "",
        "may_be_live": "yes" if may_be_live(j) else "",
        "error": (j.last_error or "")[:80],
        "next_attempt_at": j.next_attempt_at.isoformat(),
        "held_reason": j.held_reason or "",
        "held_at": j.held_at.isoformat() if j.held_at else "",
    }


@posts.command("retry")
@click.argument("post_id")
@click.option("--at", default=None)
@click.option(
    "--force", is_flag=True, help="Also requeue jobs whose outcome is uncertain (you checked)."
)
@click.option("--json", "as_json", is_flag=True)
@pass_env
@handles_errors
def posts_retry(env: Env, post_id: str, at: str | None, force: bool, as_json: bool) -> None:
    """Requeue the post's failed jobs."""
    from postiz_pipelines.core.posts.manage import get_post, retry_post

    with write(env) as s:
        jobs = retry_post(
            s,
            get_post(s, post_id),
            now=env.now(),
            at=_at(at, env),
            force=force,
            extra_attempts=env.settings.max_retries + 1,
            actor="cli",
        )
        rows = [job_row(j) for j in jobs]
    emit(rows, as_json, ["id", "platform", "status", "next_attempt_at"])


@posts.command("attempts")
@click.argument("post_id")
@click.option("--json", "as_json", is_flag=True)
@pass_env
@handles_errors
def posts_attempts(env: Env, post_id: str, as_json: bool) -> None:
    """Every publish attempt of the post."""
    from postiz_pipelines.core.posts.manage import get_post, post_attempts

    with env.app.db.read() as s:
        rows = [
            {
                "job_id": j.id,
                "platform": j.platform,
                "attempt": a.attempt_no,
                "outcome": a.outcome,
                "started_at": a.started_at.isoformat(),
                "http_status": a.http_status or "",
                "error_class": a.error_class or "",
                "error": (a.error_message or "")[:80],
            }
            for a, j in post_attempts(s, get_post(s, post_id).id)
        ]
    emit(
        rows, as_json, ["job_id", "attempt", "outcome", "started_at", "http_status", "error_class"]
    )


@posts.command("jobs")
@click.argument("post_id")
@click.option("--json", "as_json", is_flag=True)
@pass_env
@handles_errors
def posts_jobs(env: Env, post_id: str, as_json: bool) -> None:
    """The post's jobs, held ones with why they wait."""
    from postiz_pipelines.core.posts.manage import get_post, post_jobs

    with env.app.db.read() as s:
        rows = [job_row(j) for j in post_jobs(s, get_post(s, post_id).id)]
    emit(rows, as_json, ["id", "platform", "status", "attempts", "held_reason", "next_attempt_at"])


# -- held ------------------------------------------------------------------------------
@main.command("held")
@click.option("--workspace", "workspace_ref", default=None, help="Default: every workspace.")
@click.option("--limit", default=100, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True)
@pass_env
@handles_errors
def held_list(env: Env, workspace_ref: str | None, limit: int, as_json: bool) -> None:
    """Jobs held until their account is reconnected (reconnecting releases them)."""
    from postiz_pipelines.core.publishing.hold import list_held
    from postiz_pipelines.core.workspaces.store import get_workspace, list_workspaces

    with env.app.db.read() as s:
        ids = (
            [get_workspace(s, workspace_ref).id]
            if workspace_ref
            else [w.id for w in list_workspaces(s)]
        )
        rows = [job_row(j) for j in list_held(s, workspace_ids=ids, limit=limit)]
    emit(rows, as_json, ["id", "post_id", "platform", "held_reason", "held_at", "next_attempt_at"])


# -- dead letter -----------------------------------------------------------------------
@main.group("dead-letter")
def dead_letter() -> None:
    """Failed jobs that need a person."""


@dead_letter.command("list")
@click.option("--workspace", "workspace_ref", default=None, help="Default: every workspace.")
@click.option("--limit", default=50, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True)
@pass_env
@handles_errors
def dead_letter_list(env: Env, workspace_ref: str | None, limit: int, as_json: bool) -> None:
    from postiz_pipelines.core.publishing.deadletter import list_dead_letter
    from postiz_pipelines.core.workspaces.store import get_workspace, list_workspaces

    with env.app.db.read() as s:
        ids = (
            [get_workspace(s, workspace_ref).id]
            if workspace_ref
            else [w.id for w in list_workspaces(s)]
        )
        rows = [job_row(j) for j in list_dead_letter(s, workspace_ids=ids, limit=limit).jobs]
    columns = ["id", "post_id", "platform", "attempts", "error_class", "may_be_live", "error"]
    emit(rows, as_json, columns)


@dead_letter.command("requeue")
@click.argument("job_id")
@click.option("--at", default=None, help="When to try again (default now): reschedules the job.")
@click.option(
    "--force", is_flag=True, help="Requeue even an uncertain outcome (you checked the account)."
)
@click.option("--json", "as_json", is_flag=True)
@pass_env
@handles_errors
def dead_letter_requeue(env: Env, job_id: str, at: str | None, force: bool, as_json: bool) -> None:
    from postiz_pipelines.core.publishing.deadletter import get_job, requeue_jobs

    with write(env) as s:
        job = get_job(s, job_id)
        requeue_jobs(
            s,
            [job],
            now=env.now(),
            at=_at(at, env),
            force=force,
            extra_attempts=env.settings.max_retries + 1,
            actor="cli",
        )
        row = job_row(job)
    emit([row], as_json, ["id", "status", "next_attempt_at"])


@dead_letter.command("cancel")
@click.argument("job_id")
@click.option("--json", "as_json", is_flag=True)
@pass_env
@handles_errors
def dead_letter_cancel(env: Env, job_id: str, as_json: bool) -> None:
    from postiz_pipelines.core.publishing.deadletter import cancel_failed_job, get_job

    with write(env) as s:
        row = job_row(cancel_failed_job(s, get_job(s, job_id), now=env.now(), actor="cli"))
    emit([row], as_json, ["id", "status"])


# -- media -----------------------------------------------------------------------------
@main.group()
def media() -> None:
    """Uploaded images and videos."""


def media_row(m: Any, dedup: bool = False) -> dict[str, Any]:
    return {
        "id": m.id,
        "kind": m.kind,
        "mime_type": m.mime_type,
        "size_bytes": m.size_bytes,
        "width": m.width or "",
        "height": m.height or "",
        "sha256": m.sha256,
        "deduplicated": dedup,
    }


@media.command("upload")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--workspace", "workspace_ref", required=True)
@click.option("--alt", "alt_text", default="")
@click.option("--json", "as_json", is_flag=True)
@pass_env
@handles_errors
def media_upload(env: Env, path: Path, workspace_ref: str, alt_text: str, as_json: bool) -> None:
    """Store a local file (type from its bytes; the same bytes are stored once)."""
    from postiz_pipelines.core.media.assets import ingest
    from postiz_pipelines.core.media.backends import open_storage
    from postiz_pipelines.core.workspaces.store import get_workspace

    storage = open_storage(env.app.settings, env.app.media_root)
    with write(env) as s:
        ws = get_workspace(s, workspace_ref)
        with storage.stage_file(path) as staged:
            asset, created = ingest(
                s,
                storage,
                staged,
                workspace_id=ws.id,
                filename=path.name,
                alt_text=alt_text,
                now=env.now(),
                actor="cli",
                max_pixels=env.app.settings.media_max_image_pixels,
            )
        row = media_row(asset, not created)
    emit(
        [row], as_json, ["id", "kind", "mime_type", "size_bytes", "width", "height", "deduplicated"]
    )


@media.command("list")
@click.option("--workspace", "workspace_ref", required=True)
@click.option("--limit", default=50, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True)
@pass_env
@handles_errors
def media_list(env: Env, workspace_ref: str, limit: int, as_json: bool) -> None:
    from postiz_pipelines.core.media.assets import list_media
    from postiz_pipelines.core.workspaces.store import get_workspace

    with env.app.db.read() as s:
        rows = [
            media_row(m)
            for m in list_media(s, workspace_id=get_workspace(s, workspace_ref).id, limit=limit)
        ]
    emit(rows, as_json, ["id", "kind", "mime_type", "size_bytes", "width", "height"])


# -- stats, tokens, accounts ----------------------------------------------------------
@main.command("stats")
@pass_env
@handles_errors
def worker_stats_cmd(env: Env) -> None:
    """Queue, 24 h activity and per-workspace figures, as JSON (same as GET /worker/stats)."""
    from postiz_pipelines.core.observability.stats import worker_stats

    with env.app.db.read() as s:
        click.echo(json.dumps(worker_stats(s, now=env.now()), indent=2))


@accounts.command("refresh-tokens")
@click.option("--json", "as_json", is_flag=True)
@pass_env
@handles_errors
def accounts_refresh(env: Env, as_json: bool) -> None:
    """Refresh every token expiring within 24 h (same as POST /oauth/refresh-batch)."""
    from postiz_pipelines.core.publishing.token_refresh import refresh_batch

    report = refresh_batch(env.app, now=env.now())
    rows = [r.as_dict() for r in report.results]
    emit(rows, as_json, ["accountId", "platform", "outcome", "errorClass", "expiresAt"])
    if report.as_dict()["failed"]:
        raise SystemExit(1)


@accounts.command("remove")
@click.argument("account_id")
@pass_env
@handles_errors
def accounts_remove(env: Env, account_id: str) -> None:
    """Disconnect an account; its waiting jobs are canceled."""
    from postiz_pipelines.core.accounts.store import get_account
    from postiz_pipelines.core.publishing.account_jobs import remove_account

    with write(env) as s:
        n = remove_account(s, get_account(s, account_id), now=env.now(), actor="cli")
    click.echo(f"removed {account_id}; canceled {n} waiting jobs")


# -- webhooks --------------------------------------------------------------------------
@main.group()
def webhooks() -> None:
    """Outgoing webhooks on post events (published, failed, canceled)."""


@webhooks.command("add")
@click.option("--workspace", "workspace_ref", required=True)
@click.option("--url", required=True)
@click.option(
    "--event",
    "events",
    multiple=True,
    help="post.published, post.failed, post.canceled, account.disconnected (default all)",
)
@click.option("--json", "as_json", is_flag=True)
@pass_env
@handles_errors
def webhooks_add(
    env: Env, workspace_ref: str, url: str, events: tuple[str, ...], as_json: bool
) -> None:
    from postiz_pipelines.core.observability.webhooks import create_subscription
    from postiz_pipelines.core.workspaces.store import get_workspace

    with write(env) as s:
        ws = get_workspace(s, workspace_ref)
        sub, secret = create_subscription(
            s,
            env.app.keyring,
            workspace_id=ws.id,
            url=url,
            events=list(events) or None,
            allow_private=env.settings.webhook_allow_private,
            now=env.now(),
            actor="cli",
        )
        row = {"id": sub.id, "url": sub.url, "events": sub.events, "secret": secret.reveal()}
    emit([row], as_json, ["id", "url", "events"])
    if not as_json:
        click.echo(f"\nSigning secret (shown once):\n{row['secret']}")


@webhooks.command("list")
@click.option("--workspace", "workspace_ref", required=True)
@click.option("--json", "as_json", is_flag=True)
@pass_env
@handles_errors
def webhooks_list(env: Env, workspace_ref: str, as_json: bool) -> None:
    from postiz_pipelines.core.observability.webhooks import list_subscriptions
    from postiz_pipelines.core.workspaces.store import get_workspace

    with env.app.db.read() as s:
        rows = [
            {"id": w.id, "url": w.url, "events": w.events, "status": w.status}
            for w in list_subscriptions(s, get_workspace(s, workspace_ref).id)
        ]
    emit(rows, as_json, ["id", "url", "events", "status"])


@webhooks.command("remove")
@click.argument("webhook_id")
@pass_env
@handles_errors
def webhooks_remove(env: Env, webhook_id: str) -> None:
    from postiz_pipelines.core.observability.webhooks import delete_subscription, get_subscription

    with write(env) as s:
        delete_subscription(s, get_subscription(s, webhook_id), now=env.now(), actor="cli")
    click.echo(f"removed {webhook_id}")


@webhooks.command("deliver")
@pass_env
@handles_errors
def webhooks_deliver(env: Env) -> None:
    """Send due webhook deliveries once (the Dagster sensor does this continuously)."""
    from postiz_pipelines.core.observability.webhooks import deliver_pending_webhooks

    click.echo(json.dumps(deliver_pending_webhooks(env.app, now=env.now())))
