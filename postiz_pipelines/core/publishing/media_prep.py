"""Preparing the media of claimed jobs before publishing, so publishing only uploads.

Each job's platform and account give the limits (``Provider.media_limits``: a Mastodon
account's instance has its own); every asset of the job's post gets its variant for
them. The Dagster ``process_media`` op runs this for its partition's claimed jobs; the
engine runs it again before a batch (finding everything made, it costs one query per
variant), which covers the continuous worker and the worker API.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from postiz_pipelines.core.accounts.store import media_limits_for
from postiz_pipelines.core.media.delivery import MediaDelivery, PrepareReport
from postiz_pipelines.core.models import MediaAsset, PostMedia, PublishJob, SocialAccount
from postiz_pipelines.providers.base import MediaLimits


def prepare_job_media(
    delivery: MediaDelivery, job_ids: list[str], *, now: datetime
) -> PrepareReport:
    """Make the missing variants of the jobs' media; see the module docstring."""
    if not job_ids:
        return PrepareReport()
    items: list[tuple[MediaAsset, str, MediaLimits]] = []
    with delivery.db.read() as s:
        rows = s.execute(
            select(PublishJob.platform, SocialAccount, MediaAsset)
            .join(SocialAccount, SocialAccount.id == PublishJob.account_id)
            .join(PostMedia, PostMedia.post_id == PublishJob.post_id)
            .join(MediaAsset, MediaAsset.id == PostMedia.media_id)
            .where(PublishJob.id.in_(job_ids))
        ).all()
        for platform, account, asset in rows:
            items.append((asset, platform, media_limits_for(account)))
        s.expunge_all()
    return delivery.prepare(items, now=now)


def prepare_workspace_media(
    delivery: MediaDelivery, workspace_id: str, *, now: datetime
) -> PrepareReport:
    """Backfill: every live asset of the workspace for every platform it has an active
    account on (with each account's limits)."""
    from postiz_pipelines.core.models import AccountStatus

    items: list[tuple[MediaAsset, str, MediaLimits]] = []
    with delivery.db.read() as s:
        assets = list(
            s.scalars(
                select(MediaAsset).where(
                    MediaAsset.workspace_id == workspace_id, MediaAsset.deleted_at.is_(None)
                )
            )
        )
        accounts = list(
            s.scalars(
                select(SocialAccount).where(
                    SocialAccount.workspace_id == workspace_id,
                    SocialAccount.deleted_at.is_(None),
                    SocialAccount.status == AccountStatus.ACTIVE,
                )
            )
        )
        targets = {(a.platform, media_limits_for(a)) for a in accounts}
        items = [(asset, p, limits) for asset in assets for p, limits in sorted(
            targets, key=lambda t: t[0])]  # fmt: skip
        s.expunge_all()
    return delivery.prepare(items, now=now)
