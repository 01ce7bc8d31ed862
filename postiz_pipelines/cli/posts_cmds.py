"""Commands: creating and listing posts."""

from __future__ import annotations

from typing import Any

import click

from postiz_pipelines.cli.base import (
    Env,
    emit,
    handles_errors,
    main,
    parse_settings,
    pass_env,
    write,
)


# -- posts -----------------------------------------------------------------------------
@main.group()
def posts() -> None:
    """Posts and their publishing."""


@posts.command("create")
@click.option("--workspace", "workspace_ref", required=True)
@click.option("--text", required=True)
@click.option(
    "--at",
    "at",
    default=None,
    help="When: relative to now (+10m, +2h, +1d), ISO 8601 with offset "
    "(2026-12-01T09:30+01:00), or local time with --timezone or the workspace's zone; 'now' "
    "(the default) or 'next-slot' (each account's next free posting slot).",
)
@click.option(
    "--in", "in_", default=None, help="When, as a delay from now: 10m, 2h, 1d12h (like --at +2h)."
)
@click.option(
    "--timezone", default=None, help="IANA zone for --at without an offset, and for --rrule/--cron."
)
@click.option(
    "--rrule",
    default=None,
    help="Recurring: an RFC 5545 rule, e.g. 'FREQ=WEEKLY;BYDAY=MO,WE;BYHOUR=9'.",
)
@click.option(
    "--cron", default=None, help="Recurring: a 5-field cron expression, e.g. '0 9 * * 1-5'."
)
@click.option(
    "--starts-at",
    default=None,
    help="Recurring: first instant of the series (default now); relative (+1h) or ISO 8601.",
)
@click.option("--until", default=None, help="Recurring: last instant of the series.")
@click.option("--count", default=None, type=int, help="Recurring: number of occurrences.")
@click.option(
    "--grace-seconds",
    default=3600,
    type=int,
    show_default=True,
    help="Recurring: how late a missed occurrence may still publish.",
)
@click.option(
    "--account", "account_ids", multiple=True, required=True, help="Target account id (repeat)."
)
@click.option("--media", "media_ids", multiple=True, help="Media id (repeat).")
@click.option("--thread", "thread", multiple=True, help="A follow-up reply (repeat, in order).")
@click.option("--priority", default=0, type=int)
@click.option(
    "--setting",
    "setting_pairs",
    multiple=True,
    help="A post setting KEY=VALUE (repeat), e.g. title=Launch, subreddit=python, "
    "privacy_status=private, board_id=123; each platform reads its own.",
)
@click.option("--json", "as_json", is_flag=True)
@pass_env
@handles_errors
def posts_create(
    env: Env,
    workspace_ref: str,
    text: str,
    at: str | None,
    in_: str | None,
    timezone: str | None,
    rrule: str | None,
    cron: str | None,
    starts_at: str | None,
    until: str | None,
    count: int | None,
    grace_seconds: int,
    account_ids: tuple[str, ...],
    media_ids: tuple[str, ...],
    thread: tuple[str, ...],
    priority: int,
    setting_pairs: tuple[str, ...],
    as_json: bool,
) -> None:
    """Create a post: single (--at), or recurring (--rrule or --cron)."""
    from postiz_pipelines.core.accounts.platform_facts import refresh_for_post
    from postiz_pipelines.core.posts.create import create_post
    from postiz_pipelines.core.scheduling.schedules import Recurrence
    from postiz_pipelines.core.scheduling.timeparse import parse_duration, relative_instant
    from postiz_pipelines.core.workspaces.store import get_workspace
    from postiz_pipelines.errors import Problem, ValidationFailed

    if at and in_:
        raise ValidationFailed(Problem("--in", "give --at or --in, not both", in_))
    now = env.now()
    when: Any = "next_slot" if at == "next-slot" else at
    if in_:
        when = now + parse_duration(in_, field="--in")
    elif (relative := relative_instant(at, now=now, field="--at")) is not None:
        when = relative
    if (start := relative_instant(starts_at, now=now, field="--starts-at")) is not None:
        starts_at = start.isoformat()
    recurrence = None
    if rrule or cron or starts_at or until or count:
        recurrence = Recurrence(
            rrule=rrule,
            cron=cron,
            timezone=timezone,
            starts_at=starts_at,
            until=until,
            count=count,
            grace_seconds=grace_seconds,
        )
    settings = parse_settings(setting_pairs) or None
    with env.app.db.read() as s:
        ws_id = get_workspace(s, workspace_ref).id
    for warning in refresh_for_post(
        env.app,
        workspace_id=ws_id,
        account_ids=list(account_ids),
        settings_of={acc: settings or {} for acc in account_ids},
        now=now,
    ):
        click.echo(f"warning: {warning}", err=True)
    with write(env) as s:
        ws = get_workspace(s, workspace_ref)
        post = create_post(
            s,
            workspace=ws,
            text=text,
            account_ids=list(account_ids),
            scheduled_at=when,
            timezone=timezone,
            recurrence=recurrence,
            media_ids=list(media_ids),
            thread=list(thread),
            priority=priority,
            settings=settings,
            now=now,
            media_root=env.app.media_root,
            actor="cli",
            max_attempts=env.settings.max_retries + 1,
        )
        row = post_row(post)
    emit([row], as_json, ["id", "status", "scheduled_at", "targets", "content"])


def post_row(p: Any) -> dict[str, Any]:
    text = p.content if len(p.content) <= 50 else p.content[:47] + "..."
    return {
        "id": p.id,
        "status": p.status,
        "scheduled_at": p.scheduled_at.isoformat() if p.scheduled_at else "",
        "targets": len(p.targets),
        "content": text,
    }


@posts.command("list")
@click.option("--workspace", "workspace_ref", required=True)
@click.option("--status", default=None)
@click.option("--limit", default=20, type=click.IntRange(1, 500))
@click.option("--json", "as_json", is_flag=True)
@pass_env
@handles_errors
def posts_list(env: Env, workspace_ref: str, status: str | None, limit: int, as_json: bool) -> None:
    from postiz_pipelines.core.posts.create import list_posts
    from postiz_pipelines.core.workspaces.store import get_workspace

    with env.app.db.read() as s:
        ws = get_workspace(s, workspace_ref)
        rows = [post_row(p) for p in list_posts(s, workspace_id=ws.id, status=status, limit=limit)]
    emit(rows, as_json, ["id", "status", "scheduled_at", "targets", "content"])
