"""A post's status, derived from its targets: the one rule the engine and people's actions share."""

from __future__ import annotations

from sqlalchemy import select
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
    if not states:
        return
    published = sum(1 for st in states if st == TargetStatus.PUBLISHED)
    if all(st == TargetStatus.CANCELED for st in states):
        post.status = PostStatus.CANCELED
    elif any(st == TargetStatus.SCHEDULED for st in states):
        started = published or post.status == PostStatus.PUBLISHING
        post.status = PostStatus.PUBLISHING if started else PostStatus.SCHEDULED
    elif published == len(states):
        post.status = PostStatus.PUBLISHED
    elif published:
        post.status = PostStatus.PARTIALLY_PUBLISHED
    else:
        post.status = PostStatus.FAILED
