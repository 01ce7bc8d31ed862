"""A workspace's evergreen library and timetable, stored; planning lives in ``evergreen.py``.

Every variation is validated for every platform of the timetable's accounts when it is
added, so an evergreen slot never fails on content the platform would refuse.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from postiz_pipelines.clock import zone_problem
from postiz_pipelines.core.accounts.store import validation_view
from postiz_pipelines.core.audit import audit
from postiz_pipelines.core.ids import new_id
from postiz_pipelines.core.models import (
    EvergreenPost,
    EvergreenTimetable,
    Schedule,
    ScheduleKind,
    ScheduleStatus,
    SocialAccount,
    Workspace,
)
from postiz_pipelines.core.scheduling.evergreen import EvergreenPost as LibraryItem
from postiz_pipelines.core.scheduling.evergreen import (
    EvergreenSlot,
    validate_library,
    validate_timetable,
)
from postiz_pipelines.errors import NotFound, Problem, ValidationFailed
from postiz_pipelines.providers import registry
from postiz_pipelines.providers.base import PostContent

MAX_VARIATIONS = 20


def _accounts(
    session: Session, workspace: Workspace, ids: Sequence[str]
) -> dict[str, SocialAccount]:
    return {
        a.id: a
        for a in session.scalars(
            select(SocialAccount).where(
                SocialAccount.id.in_(list(ids)),
                SocialAccount.workspace_id == workspace.id,
                SocialAccount.deleted_at.is_(None),
            )
        )
    }


def _content_problems(
    accounts: Sequence[SocialAccount], variations: Sequence[str], where: str
) -> list[Problem]:
    problems: list[Problem] = []
    for i, text in enumerate(variations):
        for account in accounts:
            for p in registry.validator(account.platform).validate(
                PostContent(text=text), validation_view(account)
            ):
                problems.append(Problem(f"{where}[{i}].{p.field}", p.message, p.value, p.limit))
    return problems


def add_library_post(
    session: Session,
    *,
    workspace: Workspace,
    category: str,
    variations: Sequence[str],
    now: datetime,
    max_uses: int | None = None,
    expires_at: datetime | None = None,
    cooldown_seconds: int | None = None,
    actor: str = "system",
) -> EvergreenPost:
    item = LibraryItem(
        id="new",
        category=category.strip(),
        variations=tuple(variations),
        created_at=now,
        max_uses=max_uses,
        expires_at=expires_at,
        cooldown=timedelta(seconds=cooldown_seconds) if cooldown_seconds is not None else None,
    )
    problems = [
        Problem(p.field.replace("posts[0].", ""), p.message, p.value, p.limit)
        for p in validate_library([item])
    ]
    if len(variations) > MAX_VARIATIONS:
        problems.append(
            Problem(
                "variations",
                f"{len(variations)} variations, limit {MAX_VARIATIONS}",
                len(variations),
                MAX_VARIATIONS,
            )
        )
    if cooldown_seconds is not None and cooldown_seconds < 0:
        problems.append(Problem("cooldown_seconds", "must not be negative", cooldown_seconds, 0))
    table = session.get(EvergreenTimetable, workspace.id)
    if table is not None and not problems:
        problems += _content_problems(
            list(_accounts(session, workspace, table.account_ids).values()),
            variations,
            "variations",
        )
    if problems:
        raise ValidationFailed(problems)
    row = EvergreenPost(
        id=new_id("egp"),
        workspace_id=workspace.id,
        category=item.category,
        variations=list(variations),
        max_uses=max_uses,
        uses=0,
        expires_at=expires_at,
        cooldown_seconds=cooldown_seconds,
        last_variation_by_account={},
        created_at=now,
    )
    session.add(row)
    session.flush()
    audit(
        session,
        actor=actor,
        action="evergreen.add",
        object_type="evergreen_post",
        object_id=row.id,
        workspace_id=workspace.id,
        now=now,
        category=row.category,
    )
    return row


def list_library(
    session: Session, *, workspace_id: str, category: str | None = None
) -> list[EvergreenPost]:
    q = (
        select(EvergreenPost)
        .where(EvergreenPost.workspace_id == workspace_id, EvergreenPost.deleted_at.is_(None))
        .order_by(EvergreenPost.category, EvergreenPost.created_at, EvergreenPost.id)
    )
    if category:
        q = q.where(EvergreenPost.category == category)
    return list(session.scalars(q))


def remove_library_post(
    session: Session, *, workspace_id: str, post_id: str, now: datetime, actor: str
) -> None:
    row = session.get(EvergreenPost, post_id)
    if row is None or row.workspace_id != workspace_id or row.deleted_at is not None:
        raise NotFound("evergreen post", post_id)
    row.deleted_at = now
    audit(
        session,
        actor=actor,
        action="evergreen.remove",
        object_type="evergreen_post",
        object_id=post_id,
        workspace_id=workspace_id,
        now=now,
    )


def set_timetable(
    session: Session,
    *,
    workspace: Workspace,
    slots: Sequence[dict[str, Any]],
    account_ids: Sequence[str],
    now: datetime,
    timezone: str | None = None,
    cooldown_seconds: int = 0,
    shuffle: bool = False,
    seed: int = 0,
    actor: str = "system",
) -> EvergreenTimetable:
    """Create or replace the workspace's timetable (and its evergreen schedule)."""
    problems: list[Problem] = []
    parsed: list[EvergreenSlot] = []
    for i, raw in enumerate(slots):
        try:
            parsed.append(
                EvergreenSlot(int(raw["weekday"]), str(raw["time"]), str(raw["category"]))
            )
        except (KeyError, TypeError, ValueError):
            problems.append(
                Problem(f"timetable[{i}]", "needs weekday (0-6), time (HH:MM) and category", raw)
            )
    problems += validate_timetable(parsed)
    if timezone and (zp := zone_problem(timezone)) is not None:
        problems.append(zp)
    found = _accounts(session, workspace, account_ids)
    for i, acc_id in enumerate(account_ids):
        if acc_id not in found:
            problems.append(
                Problem(
                    f"accounts[{i}]",
                    f"unknown account {acc_id!r} in workspace {workspace.slug!r}",
                    acc_id,
                )
            )
    if not account_ids:
        problems.append(Problem("accounts", "an evergreen timetable needs at least one account"))
    if cooldown_seconds < 0:
        problems.append(Problem("cooldown_seconds", "must not be negative", cooldown_seconds, 0))
    if not problems:
        for row in list_library(session, workspace_id=workspace.id):
            problems += _content_problems(
                list(found.values()), row.variations, f"library.{row.id}.variations"
            )
    if problems:
        raise ValidationFailed(problems)
    table = session.get(EvergreenTimetable, workspace.id)
    replan = table is not None
    if table is None:
        schedule = Schedule(
            id=new_id("sch"),
            workspace_id=workspace.id,
            kind=ScheduleKind.EVERGREEN,
            status=ScheduleStatus.ACTIVE,
            timezone=timezone,
            created_at=now,
            updated_at=now,
        )
        session.add(schedule)
        session.flush()
        table = EvergreenTimetable(
            workspace_id=workspace.id, schedule_id=schedule.id, paused_categories=[]
        )
        session.add(table)
    table.slots = [{"weekday": s.weekday, "time": s.time, "category": s.category} for s in parsed]
    table.account_ids = list(account_ids)
    table.timezone = timezone
    table.cooldown_seconds = cooldown_seconds
    table.shuffle = shuffle
    table.seed = seed
    table.updated_at = now
    session.flush()
    if replan:  # slots already drawn under the old timetable are drawn again under the new one
        from postiz_pipelines.core.scheduling.schedules import replan_evergreen

        replanned = session.get(Schedule, table.schedule_id)
        assert replanned is not None
        replan_evergreen(session, replanned, now=now)
    audit(
        session,
        actor=actor,
        action="evergreen.timetable",
        object_type="schedule",
        object_id=table.schedule_id,
        workspace_id=workspace.id,
        now=now,
        slots=len(parsed),
    )
    return table


def set_category_paused(
    session: Session,
    *,
    workspace: Workspace,
    category: str,
    paused: bool,
    now: datetime,
    actor: str,
) -> list[str]:
    table = session.get(EvergreenTimetable, workspace.id)
    if table is None:
        raise NotFound("evergreen timetable", workspace.slug)
    current = set(table.paused_categories or [])
    current = current | {category} if paused else current - {category}
    table.paused_categories = sorted(current)
    table.updated_at = now
    from postiz_pipelines.core.scheduling.schedules import remove_waiting_jobs, replan_evergreen

    schedule = session.get(Schedule, table.schedule_id)
    assert schedule is not None
    if paused:  # the category's picks already planned do not publish either
        remove_waiting_jobs(session, schedule, now=now, category=category)
    else:  # its slots within the horizon are drawn now, not a day later
        replan_evergreen(session, schedule, now=now)
    audit(
        session,
        actor=actor,
        action="evergreen.pause" if paused else "evergreen.resume",
        object_type="schedule",
        object_id=table.schedule_id,
        workspace_id=workspace.id,
        now=now,
        category=category,
    )
    return table.paused_categories
