"""Commands: the evergreen timetable (set, show with its next slots), library, pauses."""

from __future__ import annotations

import json
from typing import Any

import click

from postiz_pipelines.cli.base import Env, emit, handles_errors, main, pass_env, write
from postiz_pipelines.cli.schedule_cmds import parse_weekday
from postiz_pipelines.errors import Problem, ValidationFailed


@main.group()
def evergreen() -> None:
    """Evergreen libraries: reusable posts published at weekly slots."""


def _slot(spec: str, i: int) -> dict[str, Any]:
    parts = spec.split()
    if len(parts) != 3:
        raise ValidationFailed(
            Problem(f"slot[{i}]", f"{spec!r} must read 'WEEKDAY HH:MM CATEGORY'", spec)
        )
    return {
        "weekday": parse_weekday(parts[0], f"slot[{i}].weekday"),
        "time": parts[1],
        "category": parts[2],
    }


@evergreen.command("timetable")
@click.option("--workspace", "workspace_ref", required=True)
@click.option("--slot", "slots", multiple=True, required=True, help="'mon 10:00 tips' (repeat).")
@click.option("--account", "account_ids", multiple=True, required=True)
@click.option("--timezone", default=None)
@click.option("--cooldown-seconds", default=0, type=int)
@click.option("--shuffle", is_flag=True)
@click.option("--seed", default=0, type=int)
@pass_env
@handles_errors
def evergreen_timetable(
    env: Env,
    workspace_ref: str,
    slots: tuple[str, ...],
    account_ids: tuple[str, ...],
    timezone: str | None,
    cooldown_seconds: int,
    shuffle: bool,
    seed: int,
) -> None:
    """Set the workspace's weekly evergreen timetable."""
    from postiz_pipelines.core.scheduling.evergreen_store import set_timetable
    from postiz_pipelines.core.workspaces.store import get_workspace

    parsed = [_slot(x, i) for i, x in enumerate(slots)]
    with write(env) as s:
        table = set_timetable(
            s,
            workspace=get_workspace(s, workspace_ref),
            slots=parsed,
            account_ids=list(account_ids),
            timezone=timezone,
            now=env.now(),
            cooldown_seconds=cooldown_seconds,
            shuffle=shuffle,
            seed=seed,
            actor="cli",
        )
        s.flush()
        click.echo(json.dumps(_timetable_view(s, table, env.now()), ensure_ascii=False))


def _timetable_view(s: Any, table: Any, now: Any) -> dict[str, Any]:
    """The timetable with its zone and next slot instants (``preview.schedule_times``)."""
    from postiz_pipelines.core.models import Schedule
    from postiz_pipelines.core.scheduling.preview import schedule_times

    schedule = s.get(Schedule, table.schedule_id)
    times = schedule_times(s, schedule, now=now)
    return {
        "schedule": table.schedule_id,
        "status": schedule.status,
        "slots": table.slots,
        "paused_categories": list(table.paused_categories or []),
        "zones": list(times.zones),
        "next_runs": [o.as_dict() for o in times.next],
        **({"zone_problem": times.problem} if times.problem else {}),
    }


@evergreen.command("show")
@click.option("--workspace", "workspace_ref", required=True)
@click.option("--json", "as_json", is_flag=True)
@pass_env
@handles_errors
def evergreen_show(env: Env, workspace_ref: str, as_json: bool) -> None:
    """The workspace's timetable and its next slot instants, in the timetable's zone."""
    from postiz_pipelines.core.models import EvergreenTimetable
    from postiz_pipelines.core.workspaces.store import get_workspace
    from postiz_pipelines.errors import NotFound

    with env.app.db.read() as s:
        workspace = get_workspace(s, workspace_ref)
        table = s.get(EvergreenTimetable, workspace.id)
        if table is None:
            raise NotFound("evergreen timetable", workspace.slug)
        view = _timetable_view(s, table, env.now())
    if as_json:
        click.echo(json.dumps(view, ensure_ascii=False))
        return
    click.echo(f"schedule {view['schedule']} ({view['status']}), zone {', '.join(view['zones'])}")
    if view.get("zone_problem"):
        click.echo(f"  {view['zone_problem']}")
    if not view["next_runs"]:
        click.echo("  no slot to come (no slots, or every category paused)")
    for o in view["next_runs"]:
        click.echo(f"  {o['local']}  {o['category']}")


@evergreen.command("add")
@click.option("--workspace", "workspace_ref", required=True)
@click.option("--category", required=True)
@click.option("--text", "texts", multiple=True, required=True, help="A variation (repeat).")
@click.option("--max-uses", default=None, type=int)
@click.option("--expires-at", default=None)
@click.option("--cooldown-seconds", default=None, type=int)
@click.option("--json", "as_json", is_flag=True)
@pass_env
@handles_errors
def evergreen_add(
    env: Env,
    workspace_ref: str,
    category: str,
    texts: tuple[str, ...],
    max_uses: int | None,
    expires_at: str | None,
    cooldown_seconds: int | None,
    as_json: bool,
) -> None:
    from postiz_pipelines.core.scheduling.evergreen_store import add_library_post
    from postiz_pipelines.core.scheduling.timeparse import parse_instant
    from postiz_pipelines.core.workspaces.store import get_workspace

    with write(env) as s:
        ws = get_workspace(s, workspace_ref)
        expiry = (
            parse_instant(expires_at, field="expires_at", fallback_zone=ws.timezone)
            if expires_at
            else None
        )
        row = add_library_post(
            s,
            workspace=ws,
            category=category,
            variations=list(texts),
            now=env.now(),
            max_uses=max_uses,
            expires_at=expiry,
            cooldown_seconds=cooldown_seconds,
            actor="cli",
        )
        out = library_row(row)
    emit([out], as_json, ["id", "category", "variations", "uses", "max_uses"])


def library_row(r: Any) -> dict[str, Any]:
    return {
        "id": r.id,
        "category": r.category,
        "variations": len(r.variations),
        "uses": r.uses,
        "max_uses": r.max_uses if r.max_uses is not None else "",
        "last_published_at": r.last_published_at.isoformat() if r.last_published_at else "",
    }


@evergreen.command("list")
@click.option("--workspace", "workspace_ref", required=True)
@click.option("--category", default=None)
@click.option("--json", "as_json", is_flag=True)
@pass_env
@handles_errors
def evergreen_list(env: Env, workspace_ref: str, category: str | None, as_json: bool) -> None:
    from postiz_pipelines.core.scheduling.evergreen_store import list_library
    from postiz_pipelines.core.workspaces.store import get_workspace

    with env.app.db.read() as s:
        rows = [
            library_row(r)
            for r in list_library(
                s, workspace_id=get_workspace(s, workspace_ref).id, category=category
            )
        ]
    emit(rows, as_json, ["id", "category", "variations", "uses", "max_uses", "last_published_at"])


@evergreen.command("remove")
@click.option("--workspace", "workspace_ref", required=True)
@click.argument("post_id")
@pass_env
@handles_errors
def evergreen_remove(env: Env, workspace_ref: str, post_id: str) -> None:
    from postiz_pipelines.core.scheduling.evergreen_store import remove_library_post
    from postiz_pipelines.core.workspaces.store import get_workspace

    with write(env) as s:
        remove_library_post(
            s,
            workspace_id=get_workspace(s, workspace_ref).id,
            post_id=post_id,
            now=env.now(),
            actor="cli",
        )
    click.echo(f"removed {post_id}")


@evergreen.command("pause")
@click.option("--workspace", "workspace_ref", required=True)
@click.argument("category")
@pass_env
@handles_errors
def evergreen_pause(env: Env, workspace_ref: str, category: str) -> None:
    _pause(env, workspace_ref, category, True)


@evergreen.command("resume")
@click.option("--workspace", "workspace_ref", required=True)
@click.argument("category")
@pass_env
@handles_errors
def evergreen_resume(env: Env, workspace_ref: str, category: str) -> None:
    _pause(env, workspace_ref, category, False)


def _pause(env: Env, workspace_ref: str, category: str, paused: bool) -> None:
    from postiz_pipelines.core.scheduling.evergreen_store import set_category_paused
    from postiz_pipelines.core.workspaces.store import get_workspace

    with write(env) as s:
        now_paused = set_category_paused(
            s,
            workspace=get_workspace(s, workspace_ref),
            category=category,
            paused=paused,
            now=env.now(),
            actor="cli",
        )
    click.echo(json.dumps({"paused_categories": now_paused}))
