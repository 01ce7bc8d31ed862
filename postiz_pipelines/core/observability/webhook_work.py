"""Whether outgoing webhooks have work, read without sending or writing anything.

The webhooks sensor asks this every tick and launches the delivery job only when the answer
is non-zero; ``webhooks.deliver_pending_webhooks`` does the work in that job's run.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from postiz_pipelines.core.models import AnalyticsEvent, WebhookDelivery, WebhookSubscription
from postiz_pipelines.core.observability.webhooks import SETTLE


def webhook_work(session: Session, *, now: datetime) -> dict[str, int]:
    """Deliveries due to be sent, and active subscriptions behind the settled events."""
    due = session.scalar(
        select(func.count())
        .select_from(WebhookDelivery)
        .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
    )
    settled = session.scalar(
        select(func.max(AnalyticsEvent.id)).where(AnalyticsEvent.occurred_at <= now - SETTLE)
    )
    behind = 0
    if settled:
        behind = (
            session.scalar(
                select(func.count())
                .select_from(WebhookSubscription)
                .where(
                    WebhookSubscription.status == "active",
                    WebhookSubscription.deleted_at.is_(None),
                    WebhookSubscription.last_event_id < settled,
                )
            )
            or 0
        )
    return {"due": int(due or 0), "subscriptions_behind": int(behind)}
