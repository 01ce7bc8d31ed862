"""Commands: schedules (list, pause, resume, change, delete, expand), posting slots."""

from __future__ import annotations

import json
from typing import Any

import click

from postiz_pipelines.cli.base import Env, emit, handles_errors, main, pass_env, write
from postiz_pipelines.errors import Problem, ValidationFailed

WEEKDAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}


def parse_weekday(value: str, field: str) -> int:
    key = value.strip().lower()[:3]
    if key in WEEKDAYS:
        return WEEKDAYS[key]
    if key.isdigit() and 0 <= int(key) <= 6:
        return int(key)
    raise ValidationFailed(Problem(field, f"{value!r} is not a weekday (mon..sun or 0..6)", value))


def schedule_row(sc: Any, times: Any = None) -> dict[str, Any]:
    """One schedule for a table: ``times`` (``preview.ScheduleTimes``) gives the zones it is
    read in and its next run."""
    row = {
        "id": sc.id,
        "kind": sc.kind,
        "status": sc.status,
        "rule": sc.rrule or sc.cron or "",
        "timezone": sc.timezone or "",
        "run_at": sc.run_at.isoformat() if sc.run_at else "",
        "expanded_until": sc.expanded_until.isoformat() if sc.expanded_until else "",
    }
    if times is not None:
        row["timezone"] = ",".join(times.zones) or row["timezone"]
        row["next_run"] = times.next[0].local if times.next else (times.problem or "")
        row["next_runs"] = [o.as_dict() for o in times.next]
    return row


SCHEDULE_COLUMNS = ["id", "kind", "status", "rule", "timezone", "next_run"]


@main.group()
def schedules() -> None:
    """Single, recurring and evergreen schedules."""


@schedules.command("list")
@click.option("--workspace", "workspace_ref", required=True)
@click.option("--kind", type=click.Choice(["single", "recurring", "evergreen"]), default=None)
@click.option("--json", "as_json", is_flag=True)
@pass_env
@handles_errors
def schedules_list(env: Env, workspace_ref: str, kind: str | None, as_json: bool) -> None:
    from postiz_pipelines.core.scheduling.preview import schedules_times
    from postiz_pipelines.core.scheduling.schedules import list_schedules
    from postiz_pipelines.core.workspaces.store import get_workspace

    with env.app.db.read() as s:
        found = list_schedules(s, workspace_id=get_workspace(s, workspace_ref).id, kind=kind)
        times = schedules_times(s, found, now=env.now())
        rows = [schedule_row(x, times[x.id]) for x in found]
    emit(rows, as_json, SCHEDULE_COLUMNS)


@schedules.command("preview")
@click.argument("schedule_id", required=False)
@click.option("--workspace", "workspace_ref", default=None, help="For a rule not saved yet.")
@click.option("--rrule", default=None, help="e.g. 'FREQ=WEEKLY;BYDAY=MO;BYHOUR=9;BYMINUTE=0'")
@click.option("--cron", default=None, help="e.g. '30 9 * * 1-5'")
@click.option(
    "--timezone", default=None, help="IANA zone (else each account's, else the workspace's)"
)
@click.option("--starts-at", default=None)
@click.option("--until", default=None)
@click.option("--series-count", default=None, type=int, help="The rule's COUNT bound.")
@click.option("--account", "account_ids", multiple=True, help="Target accounts (their zones).")
@click.option("--count", default=5, type=int, show_default=True, help="How many instants, 1..100.")
@click.option("--json", "as_json", is_flag=True)
@pass_env
@handles_errors
def schedules_preview(
    env: Env,
    schedule_id: str | None,
    workspace_ref: str | None,
    rrule: str | None,
    cron: str | None,
    timezone: str | None,
    starts_at: str | None,
    until: str | None,
    series_count: int | None,
    account_ids: tuple[str, ...],
    count: int,
    as_json: bool,
) -> None:
    """The next instants of a saved schedule (SCHEDULE_ID) or of a rule before creating it
    (--workspace with --rrule or --cron); nothing is stored."""
    from postiz_pipelines.core.scheduling import preview
    from postiz_pipelines.core.scheduling import schedules as ops
    from postiz_pipelines.core.workspaces.store import get_workspace

    preview.check_count(count, field="--count")
    now = env.now()
    with env.app.db.read() as s:
        if schedule_id is not None:
            if rrule or cron or workspace_ref:
                raise ValidationFailed(
                    Problem(
                        "schedule_id", "give a schedule id or a rule (--rrule/--cron), not both"
                    )
                )
            found = preview.schedule_occurrences(
                s, ops.get_schedule(s, schedule_id), now=now, count=count
            )
        else:
            if workspace_ref is None:
                raise ValidationFailed(
                    Problem("--workspace", "is required to preview a rule not saved yet")
                )
            rec = ops.Recurrence(
                rrule=rrule,
                cron=cron,
                timezone=timezone,
                starts_at=starts_at,
                until=until,
                count=series_count,
            )
            _, found = preview.preview_rule(
                s,
                rec,
                workspace=get_workspace(s, workspace_ref),
                now=now,
                count=count,
                account_ids=list(account_ids),
            )
    emit([o.as_dict() for o in found], as_json, ["at", "zone", "local"])


def _change(env: Env, schedule_id: str, action: str, **kw: Any) -> dict[str, Any]:
    from postiz_pipelines.core.scheduling import schedules as ops
    from postiz_pipelines.core.scheduling.preview import restate_first

    with write(env) as s:
        sc = ops.get_schedule(s, schedule_id)
        now = env.now()
        attempts = env.settings.max_retries + 1
        if action == "pause":
            out: Any = {"removed_jobs": ops.pause_schedule(s, sc, now=now, actor="cli")}
        elif action == "resume":
            out = ops.resume_schedule(s, sc, now=now, actor="cli", max_attempts=attempts).as_dict()
        elif action == "delete":
            out = {"removed_jobs": ops.delete_schedule(s, sc, now=now, actor="cli")}
        else:
            out = ops.change_recurrence(
                s, sc, kw["recurrence"], now=now, actor="cli", max_attempts=attempts
            ).as_dict()
            restate_first(s, sc)
        return {"schedule": schedule_row(sc), **out}


@schedules.command("pause")
@click.argument("schedule_id")
@pass_env
@handles_errors
def schedules_pause(env: Env, schedule_id: str) -> None:
    """Pause: waiting jobs that were never tried are removed."""
    click.echo(json.dumps(_change(env, schedule_id, "pause"), default=str))


@schedules.command("resume")
@click.argument("schedule_id")
@pass_env
@handles_errors
def schedules_resume(env: Env, schedule_id: str) -> None:
    """Resume from now (nothing of the pause is published late)."""
    click.echo(json.dumps(_change(env, schedule_id, "resume"), default=str))


@schedules.command("delete")
@click.argument("schedule_id")
@pass_env
@handles_errors
def schedules_delete(env: Env, schedule_id: str) -> None:
    click.echo(json.dumps(_change(env, schedule_id, "delete"), default=str))


@schedules.command("update")
@click.argument("schedule_id")
@click.option("--rrule", default=None)
@click.option("--cron", default=None)
@click.option("--timezone", default=None)
@click.option("--starts-at", default=None)
@click.option("--until", default=None)
@click.option("--count", default=None, type=int)
@click.option("--grace-seconds", default=3600, type=int, show_default=True)
@pass_env
@handles_errors
def schedules_update(
    env: Env,
    schedule_id: str,
    rrule: str | None,
    cron: str | None,
    timezone: str | None,
    starts_at: str | None,
    until: str | None,
    count: int | None,
    grace_seconds: int,
) -> None:
    """Replace a recurring schedule's rule (its waiting jobs are replaced)."""
    from postiz_pipelines.core.scheduling.schedules import Recurrence

    rec = Recurrence(
        rrule=rrule,
        cron=cron,
        timezone=timezone,
        starts_at=starts_at,
        until=until,
        count=count,
        grace_seconds=grace_seconds,
    )
    click.echo(json.dumps(_change(env, schedule_id, "update", recurrence=rec), default=str))


@schedules.command("expand")
@click.option("--hours", default=24, type=click.IntRange(1, 24 * 31), show_default=True)
@pass_env
@handles_errors
def schedules_expand(env: Env, hours: int) -> None:
    """Expand recurring and evergreen schedules into jobs now (idempotent)."""
    from datetime import timedelta

    from postiz_pipelines.core.scheduling.expansion import expand_schedules

    report = expand_schedules(
        env.app.db,
        now=env.now(),
        horizon=timedelta(hours=hours),
        max_attempts=env.settings.max_retries + 1,
    )
    click.echo(json.dumps(report.as_dict()))


# -- posting slots --------------------------------------------------------------------
@main.command("slots")
@click.option("--account", "account_id", required=True)
@click.option("--slot", "slots", multiple=True, required=True, help="'mon 09:00' (repeat).")
@pass_env
@handles_errors
def slots_set(env: Env, account_id: str, slots: tuple[str, ...]) -> None:
    """Set an account's weekly posting slots ('add to queue' takes the next free one)."""
    from postiz_pipelines.core.accounts.store import get_account
    from postiz_pipelines.core.scheduling.slots import set_posting_slots

    raw = []
    for i, spec in enumerate(slots):
        parts = spec.split()
        if len(parts) != 2:
            raise ValidationFailed(
                Problem(f"slots[{i}]", f"{spec!r} must read 'WEEKDAY HH:MM'", spec)
            )
        raw.append({"weekday": parse_weekday(parts[0], f"slots[{i}].weekday"), "time": parts[1]})
    with write(env) as s:
        set_posting_slots(s, get_account(s, account_id), raw, now=env.now(), actor="cli")
    click.echo(json.dumps({"account": account_id, "slots": raw}))
