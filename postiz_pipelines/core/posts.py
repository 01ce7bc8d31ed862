"""Creating and listing posts. A post is validated for every target before anything is stored."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from postiz_pipelines.core.audit import audit
from postiz_pipelines.core.crypto import Secret
from postiz_pipelines.core.ids import new_id
from postiz_pipelines.core.models import (
    AccountStatus,
    MediaAsset,
    Post,
    PostMedia,
    PostStatus,
    PostTarget,
    Schedule,
    ScheduleKind,
    SocialAccount,
    Workspace,
)
from postiz_pipelines.core.queue import enqueue, new_job_row
from postiz_pipelines.core.timeparse import parse_instant
from postiz_pipelines.errors import Problem, ValidationFailed
from postiz_pipelines.providers import registry
from postiz_pipelines.providers.base import AccountCredentials, MediaFile, PostContent

PAST_TOLERANCE = timedelta(seconds=60)  # "a few seconds ago" from a client clock means now
MAX_TEXT = 100_000


@dataclass
class TargetOverride:
    """Per-account text or settings that replace the post's own for that account."""

    text: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)


def media_file(asset: MediaAsset, media_root: Path) -> MediaFile:
    return MediaFile(
        path=media_root / asset.storage_key,
        mime_type=asset.mime_type,
        kind=asset.kind,
        size_bytes=asset.size_bytes,
        width=asset.width,
        height=asset.height,
        duration_ms=asset.duration_ms,
        alt_text=asset.alt_text or "",
    )


def validation_view(account: SocialAccount) -> AccountCredentials:
    """What validation may know of an account: its settings, never its tokens."""
    return AccountCredentials(
        account_id=account.id,
        platform=account.platform,
        handle=account.handle,
        external_id=account.external_id,
        access_token=Secret(""),
        base_url=account.base_url,
        settings=dict(account.settings or {}),
    )


def create_post(
    session: Session,
    *,
    workspace: Workspace,
    text: str,
    account_ids: Sequence[str],
    scheduled_at: datetime | str | None,
    now: datetime,
    timezone: str | None = None,
    media_ids: Sequence[str] = (),
    settings: Mapping[str, Any] | None = None,
    overrides: Mapping[str, TargetOverride] | None = None,
    thread: Sequence[str] = (),
    priority: int = 0,
    max_attempts: int = 4,
    media_root: Path = Path("."),
    idempotency_key: str | None = None,
    actor: str = "system",
) -> Post:
    """Validate, then store the post, one target per account, its single schedule and its jobs.

    ``scheduled_at`` None means now. Raises ValidationFailed (nothing written) with every
    problem found, each naming the field and the limit.
    """
    problems: list[Problem] = []
    overrides = dict(overrides or {})
    settings = dict(settings or {})

    when: datetime | None = None
    if scheduled_at is None:
        when = now
    else:
        try:
            when = parse_instant(
                scheduled_at, field="scheduledAt", timezone=timezone, fallback_zone=workspace.timezone,
                fallback_name=f"workspace {workspace.slug!r}",
            )
        except ValidationFailed as exc:
            problems.extend(exc.problems)
        if when is not None and when < now - PAST_TOLERANCE:
            problems.append(
                Problem("scheduledAt", f"{when.isoformat()} is in the past (now {now.isoformat()})",
                        when.isoformat(), now.isoformat())
            )
            when = None
        elif when is not None and when < now:
            when = now

    if len(text) > MAX_TEXT:
        problems.append(Problem("content", f"is {len(text)} characters, limit {MAX_TEXT}", len(text), MAX_TEXT))
    if not account_ids:
        problems.append(Problem("targetAccounts", "at least one account is required", 0, 1))
    if len(set(account_ids)) != len(account_ids):
        problems.append(Problem("targetAccounts", "lists an account more than once"))

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
    for i, acc_id in enumerate(account_ids):
        acc = accounts.get(acc_id)
        if acc is None:
            problems.append(
                Problem(f"targetAccounts[{i}]", f"unknown account {acc_id!r} in workspace {workspace.slug!r}", acc_id)
            )
        elif acc.status != AccountStatus.ACTIVE:
            problems.append(
                Problem(f"targetAccounts[{i}]", f"account {acc.handle!r} is {acc.status}; reconnect it", acc_id)
            )
    for acc_id in overrides:
        if acc_id not in account_ids:
            problems.append(Problem(f"overrides.{acc_id}", "is not one of targetAccounts", acc_id))

    assets: list[MediaAsset] = []
    if media_ids:
        found = {
            m.id: m
            for m in session.scalars(
                select(MediaAsset).where(
                    MediaAsset.id.in_(list(media_ids)),
                    MediaAsset.workspace_id == workspace.id,
                    MediaAsset.deleted_at.is_(None),
                )
            )
        }
        for i, mid in enumerate(media_ids):
            if mid not in found:
                problems.append(Problem(f"mediaIds[{i}]", f"unknown media {mid!r}", mid))
            else:
                assets.append(found[mid])
    files = tuple(media_file(a, media_root) for a in assets)

    for acc_id, acc in accounts.items():
        ov = overrides.get(acc_id, TargetOverride())
        content = PostContent(
            text=ov.text if ov.text is not None else text,
            media=files,
            thread=tuple(thread),
            settings={**settings, **ov.settings},
        )
        try:
            provider = registry.validator(acc.platform)
        except ValidationFailed as exc:
            problems.extend(exc.problems)
            continue
        problems.extend(provider.validate(content, validation_view(acc)))

    if problems:
        raise ValidationFailed(problems)
    assert when is not None

    post = Post(
        id=new_id("post"),
        workspace_id=workspace.id,
        content=text,
        settings={**settings, **({"thread": list(thread)} if thread else {})},
        status=PostStatus.SCHEDULED,
        scheduled_at=when,
        idempotency_key=idempotency_key,
        created_at=now,
        updated_at=now,
    )
    session.add(post)
    for pos, asset in enumerate(assets):
        post.media.append(PostMedia(position=pos, media_id=asset.id))
    schedule = Schedule(
        id=new_id("sch"), workspace_id=workspace.id, post_id=post.id, kind=ScheduleKind.SINGLE,
        run_at=when, timezone=timezone, priority=priority, expanded_until=when,
        created_at=now, updated_at=now,
    )
    session.add(schedule)
    rows = []
    for acc_id in account_ids:
        ov = overrides.get(acc_id)
        target = PostTarget(
            id=new_id("tgt"), account_id=acc_id, content_override=ov.text if ov else None,
            settings_override=ov.settings if ov else {},
        )
        post.targets.append(target)
        rows.append(
            new_job_row(
                workspace_id=workspace.id, platform=accounts[acc_id].platform, post_id=post.id,
                target_id=target.id, account_id=acc_id, run_at=when, schedule_id=schedule.id,
                priority=priority, max_attempts=max_attempts, now=now,
            )
        )
    session.flush()
    enqueue(session, rows)
    audit(session, actor=actor, action="post.create", object_type="post", object_id=post.id,
          workspace_id=workspace.id, now=now, targets=len(rows), scheduled_at=when.isoformat())
    return post


def list_posts(
    session: Session,
    *,
    workspace_id: str,
    status: str | None = None,
    limit: int = 20,
    offset: int = 0,
) -> list[Post]:
    """A workspace's live posts, latest scheduled first."""
    q = (
        select(Post)
        .where(Post.workspace_id == workspace_id, Post.deleted_at.is_(None))
        .order_by(Post.scheduled_at.desc(), Post.id.desc())
        .limit(limit)
        .offset(offset)
    )
    if status:
        q = q.where(Post.status == status)
    return list(session.scalars(q))
