"""Validating a post before anything is stored: every problem found, each naming the field
and the limit, or the plan that ``create.store_post`` writes. Reads the database (accounts,
media, slots), never writes it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from postiz_pipelines.clock import not_in_the_past
from postiz_pipelines.core.accounts.status import effective_status
from postiz_pipelines.core.accounts.store import media_limits_for, target_problems
from postiz_pipelines.core.media.assets import media_file
from postiz_pipelines.core.media.variants import planned_file
from postiz_pipelines.core.models import AccountStatus, MediaAsset, SocialAccount, Workspace
from postiz_pipelines.core.scheduling.planning import NEXT_SLOT, RUN_NOW
from postiz_pipelines.core.scheduling.preview import first_instant
from postiz_pipelines.core.scheduling.schedules import Recurrence, check_recurrence
from postiz_pipelines.core.scheduling.slots import next_slot_for
from postiz_pipelines.core.scheduling.timeparse import parse_instant
from postiz_pipelines.errors import Problem, ValidationFailed
from postiz_pipelines.providers.base import MediaFile, PostContent

MAX_TEXT = 100_000


@dataclass
class TargetOverride:
    """Per-account text or settings that replace the post's own for that account."""

    text: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)


def planned_media(
    assets: Sequence[MediaAsset], account: SocialAccount, media_root: Path
) -> tuple[MediaFile, ...]:
    """What ``account``'s platform will receive of each asset: its prepared variant, as
    predicted from the asset's measures. Validation checks these, so a file no preparation
    can bring within a limit fails the post here, not at publish time."""
    try:
        limits = media_limits_for(account)
    except ValidationFailed:  # an unknown platform: validation says so on its own
        return tuple(media_file(a, media_root) for a in assets)
    return tuple(planned_file(a, limits, media_root) for a in assets)


def parse_scheduled_at(
    value: datetime | str,
    *,
    timezone: str | None,
    workspace: Workspace,
    now: datetime,
    field: str = "scheduledAt",
) -> tuple[datetime | None, list[Problem]]:
    """A post's time as UTC (an offset, ``timezone``, else the workspace's zone), not in the
    past."""
    try:
        when = parse_instant(
            value,
            field=field,
            timezone=timezone,
            fallback_zone=workspace.timezone,
            fallback_name=f"workspace {workspace.slug!r}",
        )
    except ValidationFailed as exc:
        return None, exc.problems
    return not_in_the_past(when, now=now, field=field)


@dataclass(frozen=True)
class PostPlan:
    """A new post that passed validation for every target: everything ``store_post`` writes."""

    text: str
    account_ids: tuple[str, ...]
    accounts: Mapping[str, SocialAccount]
    assets: tuple[MediaAsset, ...]
    settings: Mapping[str, Any]
    overrides: Mapping[str, TargetOverride]
    thread: tuple[str, ...]
    scheduled_at: datetime  # the post's instant (a recurring post: its first occurrence's)
    run_at: Mapping[str, datetime]  # per account, where it differs (``next_slot``)
    timezone: str | None
    recurrence: Recurrence | None
    starts: datetime | None
    until: datetime | None
    priority: int
    max_attempts: int


def plan_post(
    session: Session,
    *,
    workspace: Workspace,
    text: str,
    account_ids: Sequence[str],
    scheduled_at: datetime | str | None,
    now: datetime,
    timezone: str | None = None,
    recurrence: Recurrence | None = None,
    media_ids: Sequence[str] = (),
    settings: Mapping[str, Any] | None = None,
    overrides: Mapping[str, TargetOverride] | None = None,
    thread: Sequence[str] = (),
    priority: int = 0,
    max_attempts: int = 4,
    media_root: Path = Path("."),
) -> PostPlan:
    """Validate a new post for every target, writing nothing; ValidationFailed with every
    problem found, else the plan to store."""
    overrides = dict(overrides or {})
    settings = dict(settings or {})
    when, starts, until, problems = _plan_time(
        scheduled_at, timezone=timezone, recurrence=recurrence, workspace=workspace, now=now
    )
    problems += _request_problems(text, account_ids)
    accounts, account_problems = find_accounts(session, workspace, account_ids)
    problems += account_problems
    problems += [
        Problem(f"overrides.{acc_id}", "is not one of targetAccounts", acc_id)
        for acc_id in overrides
        if acc_id not in account_ids
    ]
    assets, media_problems = find_assets(session, workspace.id, media_ids)
    problems += media_problems
    for acc_id, acc in accounts.items():
        ov = overrides.get(acc_id, TargetOverride())
        content = PostContent(
            text=ov.text if ov.text is not None else text,
            media=planned_media(assets, acc, media_root),
            thread=tuple(thread),
            settings={**settings, **ov.settings},
        )
        problems.extend(target_problems(acc, content))
    run_at: dict[str, datetime] = {}
    if recurrence is None and scheduled_at == NEXT_SLOT:
        run_at, slot_problems = _next_slots(session, workspace, account_ids, accounts, now)
        problems += slot_problems
        if run_at:
            when = min(run_at.values())
    if problems:
        raise ValidationFailed(problems)
    assert when is not None
    if recurrence is not None and starts is not None:
        # a recurring post's instant is its first occurrence, not the moment it was made
        when = (
            first_instant(
                session,
                recurrence,
                workspace=workspace,
                starts=starts,
                until=until,
                account_ids=list(accounts),
            )
            or when
        )
    return PostPlan(
        text=text,
        account_ids=tuple(account_ids),
        accounts=accounts,
        assets=tuple(assets),
        settings={**settings, **({"thread": list(thread)} if thread else {})},
        overrides=overrides,
        thread=tuple(thread),
        scheduled_at=when,
        run_at=run_at,
        timezone=timezone,
        recurrence=recurrence,
        starts=starts,
        until=until,
        priority=priority,
        max_attempts=max_attempts,
    )


def _plan_time(
    scheduled_at: datetime | str | None,
    *,
    timezone: str | None,
    recurrence: Recurrence | None,
    workspace: Workspace,
    now: datetime,
) -> tuple[datetime | None, datetime | None, datetime | None, list[Problem]]:
    """The post's instant, and a recurring post's first and last instants, with problems."""
    if recurrence is not None:
        starts, until, problems = check_recurrence(recurrence, workspace, now)
        return starts, starts, until, problems
    if scheduled_at is None or scheduled_at in (RUN_NOW, NEXT_SLOT):
        return now, None, None, []  # next_slot: refined per account once accounts are known
    when, problems = parse_scheduled_at(
        scheduled_at, timezone=timezone, workspace=workspace, now=now
    )
    return when, None, None, problems


def _request_problems(text: str, account_ids: Sequence[str]) -> list[Problem]:
    """What is wrong with the request itself, before anything is looked up."""
    problems = []
    if len(text) > MAX_TEXT:
        problems.append(
            Problem("content", f"is {len(text)} characters, limit {MAX_TEXT}", len(text), MAX_TEXT)
        )
    if not account_ids:
        problems.append(Problem("targetAccounts", "at least one account is required", 0, 1))
    if len(set(account_ids)) != len(account_ids):
        problems.append(Problem("targetAccounts", "lists an account more than once"))
    return problems


def find_accounts(
    session: Session, workspace: Workspace, account_ids: Sequence[str]
) -> tuple[dict[str, SocialAccount], list[Problem]]:
    """The workspace's live accounts among ``account_ids``; unknown or inactive ones are
    problems naming their position."""
    accounts: dict[str, SocialAccount] = {}
    if account_ids:
        rows = session.scalars(
            select(SocialAccount).where(
                SocialAccount.id.in_(list(account_ids)),
                SocialAccount.workspace_id == workspace.id,
                SocialAccount.deleted_at.is_(None),
            )
        )
        accounts = {a.id: a for a in rows}
    problems = []
    for i, acc_id in enumerate(account_ids):
        acc = accounts.get(acc_id)
        if acc is None:
            message = f"unknown account {acc_id!r} in workspace {workspace.slug!r}"
            problems.append(Problem(f"targetAccounts[{i}]", message, acc_id))
        elif acc.status != AccountStatus.ACTIVE:
            message = f"account {acc.handle!r} is {effective_status(acc.status)}; reconnect it"
            problems.append(Problem(f"targetAccounts[{i}]", message, acc_id))
    return accounts, problems


def find_assets(
    session: Session, workspace_id: str, media_ids: Sequence[str]
) -> tuple[list[MediaAsset], list[Problem]]:
    """The workspace's live media among ``media_ids``, in order; unknown ones are problems."""
    if not media_ids:
        return [], []
    found = {
        m.id: m
        for m in session.scalars(
            select(MediaAsset).where(
                MediaAsset.id.in_(list(media_ids)),
                MediaAsset.workspace_id == workspace_id,
                MediaAsset.deleted_at.is_(None),
            )
        )
    }
    problems = [
        Problem(f"mediaIds[{i}]", f"unknown media {m!r}", m)
        for i, m in enumerate(media_ids)
        if m not in found
    ]
    return [found[m] for m in media_ids if m in found], problems


def _next_slots(
    session: Session,
    workspace: Workspace,
    account_ids: Sequence[str],
    accounts: Mapping[str, SocialAccount],
    now: datetime,
) -> tuple[dict[str, datetime], list[Problem]]:
    """Each known account's next free posting slot (``next_slot``)."""
    run_at: dict[str, datetime] = {}
    problems: list[Problem] = []
    for i, acc_id in enumerate(account_ids):
        if acc_id not in accounts:
            continue
        try:
            run_at[acc_id] = next_slot_for(session, accounts[acc_id], workspace, now)
        except ValidationFailed as exc:
            problems.extend(
                Problem(f"targetAccounts[{i}].{p.field}", p.message, p.value, p.limit)
                for p in exc.problems
            )
    return run_at, problems
