"""Analytics events, written in the same transaction as the state change they record."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from postiz_pipelines.core.models import AnalyticsEvent


class EventType(StrEnum):
    POST_PUBLISHED = "post_published"
    POST_PUBLISH_FAILED = "post_publish_failed"
    POST_PUBLISH_RETRYING = "post_publish_retrying"
    POST_CANCELED = "post_canceled"
    TOKEN_REFRESHED = "token_refreshed"
    TOKEN_REFRESH_FAILED = "token_refresh_failed"
    ACCOUNT_DISCONNECTED = "account_disconnected"  # once per disconnection, not per post
    CONFIG_ERROR = "config_error"  # a setting the platform needs is missing or refused
    WEBHOOK_RECEIVED = "webhook_received"
    JOB_RECOVERED = "job_recovered"
    OCCURRENCE_MISSED = "occurrence_missed"
    EVERGREEN_SLOT_SKIPPED = "evergreen_slot_skipped"
    ALERT = "alert"
    ALERT_SENT = "alert_sent"  # an alert's webhook delivery succeeded
    ENGAGEMENT_PULLED = "engagement_pulled"  # one post's counts, as its platform reported them
    ENGAGEMENT_PULL_FAILED = "engagement_pull_failed"  # one account's pull failed


def record_event(
    session: Session,
    event_type: EventType | str,
    *,
    now: datetime,
    workspace_id: str | None = None,
    platform: str | None = None,
    account_id: str | None = None,
    post_id: str | None = None,
    job_id: str | None = None,
    **data: Any,
) -> None:
    session.add(
        AnalyticsEvent(
            event_type=str(event_type),
            occurred_at=now,
            workspace_id=workspace_id,
            platform=platform,
            account_id=account_id,
            post_id=post_id,
            job_id=job_id,
            data=data,
        )
    )
