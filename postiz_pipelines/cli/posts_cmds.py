"""Commands: creating and listing posts."""

from __future__ import annotations

from typing import Any

import click

from postiz_pipelines.cli.base import Env, emit, handles_errors, main, pass_env, write


# -- posts -----------------------------------------------------------------------------
@main.group()
def posts() -> None:
    """Posts and their publishing."""


@posts.command("create")
@click.option("--workspace", "workspace_ref", required=True)
@click.option("--text", required=True)
@click.option("--at", "at", default=None,
              help="When: ISO 8601 with offset (2026-12-01T09:30+01:00), or local time with --timezone "
              "or the workspace's zone. Omit to publish now.")
@click.option("--timezone", default=None, help="IANA zone for --at without an offset.")
@click.option("--account", "account_ids", multiple=True, required=True, help="Target account id (repeat).")
@click.option("--media", "media_ids", multiple=True, help="Media id (repeat).")
@click.option("--thread", "thread", multiple=True, help="A follow-up reply (repeat, in order).")
@click.option("--priority", default=0, type=int)
@click.option("--json", "as_json", is_flag=True)
@pass_env
@handles_errors
def posts_create(env: Env, workspace_ref: str, text: str, at: str | None, timezone: str | None,
                 account_ids: tuple[str, ...], media_ids: tuple[str, ...], thread: tuple[str, ...],
                 priority: int, as_json: bool) -> None:
    from postiz_pipelines.core.posts import create_post
    from postiz_pipelines.core.workspaces import get_workspace

    with write(env) as s:
        ws = get_workspace(s, workspace_ref)
        post = create_post(
            s, workspace=ws, text=text, account_ids=list(account_ids), scheduled_at=at,
            timezone=timezone, media_ids=list(media_ids), thread=list(thread), priority=priority,
            now=env.now(), media_root=env.app.media_root, actor="cli",
            max_attempts=env.settings.max_retries + 1,
        )
        row = post_row(post)
    emit([row], as_json, ["id", "status", "scheduled_at", "targets", "content"])


def post_row(p: Any) -> dict[str, Any]:
    text = p.content if len(p.content) <= 50 else p.content[:47] + "..."
    return {
        "id": p.id, "status": p.status,
        "scheduled_at": p.scheduled_at.isoformat() if p.scheduled_at else "",
        "targets": len(p.targets), "content": text,
    }


@posts.command("list")
@click.option("--workspace", "workspace_ref", required=True)
@click.option("--status", default=None)
@click.option("--limit", default=20, type=click.IntRange(1, 500))
@click.option("--json", "as_json", is_flag=True)
@pass_env
@handles_errors
def posts_list(env: Env, workspace_ref: str, status: str | None, limit: int, as_json: bool) -> None:
    from postiz_pipelines.core.posts import list_posts
    from postiz_pipelines.core.workspaces import get_workspace

    with env.app.db.read() as s:
        ws = get_workspace(s, workspace_ref)
        rows = [post_row(p) for p in list_posts(s, workspace_id=ws.id, status=status, limit=limit)]
    emit(rows, as_json, ["id", "status", "scheduled_at", "targets", "content"])


