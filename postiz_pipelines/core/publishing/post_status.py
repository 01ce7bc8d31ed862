"""A post's status, derived from its targets: the one rule the engine and people's actions share."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from postiz_pipelines.core.models import (
    Post,
    PostStatus,
    PostTarget,
    Schedule,
    ScheduleKind,
    TargetStatus,
)


def settle_post_status(session: Session, post: Post) -> None:
    """Set ``post.status`` from its targets.

    The post row is locked first: two targets finishing at once must not each see the other
    unfinished (PostgreSQL, read committed) and leave the post ``publishing``. A recurring
    post is a template whose occurrences live on their jobs; its status is left alone.
    """
    session.flush()
    session.refresh(post, with_for_update=True)
    kind = session.scalar(select(Schedule.kind).where(Schedule.post_id == post.id).limit(1))
    if kind == ScheduleKind.RECURRING:
        return
    states = list(session.scalars(select(PostTarget.status).where(PostTarget.post_id == post.id)))
    status = derived_status(states, post.status)
    if status is not None:
        post.status = status


def settle_post_status_of(session: Session, post_id: str) -> None:
    """``settle_post_status`` without loading the post (the engine's outcome): its row locked
    with its status and schedule kind read in one statement, its targets' states read after
    the lock (a fresh snapshot on PostgreSQL), and the status written only when it changes."""
    kind = select(Schedule.kind).where(Schedule.post_id == Post.id).limit(1).scalar_subquery()
    row = session.execute(
        select(Post.status, kind).where(Post.id == post_id).with_for_update(of=Post)
    ).one_or_none()
    if row is None or row[1] == ScheduleKind.RECURRING:
        return
    current = row[0]
    states = list(session.scalars(select(PostTarget.status).where(PostTarget.post_id == post_id)))
    status = derived_status(states, current)
    if status is not None and status != current:
        session.execute(
            update(Post).where(Post.id == post_id).values(status=status),
            execution_options={"synchronize_session": False},
        )


def derived_status(states: list[str], current: str) -> PostStatus | None:
    """The post status its targets' ``states`` make (None without targets)."""
    if not states:
        return None
    published = sum(1 for st in states if st == TargetStatus.PUBLISHED)
    if all(st == TargetStatus.CANCELED for st in states):
        return PostStatus.CANCELED
    if any(st == TargetStatus.SCHEDULED for st in states):
        started = published or current == PostStatus.PUBLISHING
        return PostStatus.PUBLISHING if started else PostStatus.SCHEDULED
    if published == len(states):
        return PostStatus.PUBLISHED
    if published:
        return PostStatus.PARTIALLY_PUBLISHED
    return PostStatus.FAILED
