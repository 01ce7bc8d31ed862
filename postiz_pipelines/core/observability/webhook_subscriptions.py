"""Outgoing webhook subscriptions: which URL of a workspace hears which post events, and
the signing secret each one gets (shown once, kept sealed).

The URL is checked here as early feedback, with the same reading of its host that delivery
uses (``webhook_targets``); the check that protects is the one at delivery.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from postiz_pipelines.core.audit import audit
from postiz_pipelines.core.events import EventType
from postiz_pipelines.core.ids import new_id
from postiz_pipelines.core.models import AnalyticsEvent, WebhookDelivery, WebhookSubscription
from postiz_pipelines.core.observability.webhook_targets import (
    TargetRefused,
    parse_target,
    static_refusal,
)
from postiz_pipelines.crypto import Keyring, Secret
from postiz_pipelines.errors import NotFound, Problem, ValidationFailed

EVENTS: dict[str, str] = {
    EventType.POST_PUBLISHED: "post.published",
    EventType.POST_PUBLISH_FAILED: "post.failed",
    EventType.POST_CANCELED: "post.canceled",
    EventType.ACCOUNT_DISCONNECTED: "account.disconnected",
}
EVENT_NAMES = tuple(EVENTS.values())
MAX_URL = 1000


def secret_context(sub_id: str) -> str:
    """The associated data a subscription's signing secret is sealed with."""
    return f"webhook_subscription:{sub_id}:secret"


def url_problem(url: str, *, allow_private: bool) -> Problem | None:
    """What is wrong with ``url`` as a webhook target, from the URL alone (no DNS)."""
    if not url.startswith(("http://", "https://")) or len(url) > MAX_URL:
        return Problem(
            "url", f"must be an http:// or https:// URL of at most {MAX_URL} characters", url[:200]
        )
    try:
        target = parse_target(url)
    except TargetRefused as exc:
        return Problem("url", exc.reason, url[:200])
    if not allow_private and (reason := static_refusal(target)):
        return Problem("url", f"{reason}; webhooks must reach a public address", url[:200])
    return None


def create_subscription(
    session: Session,
    keyring: Keyring,
    *,
    workspace_id: str,
    url: str,
    events: Iterable[str] | None = None,
    now: datetime,
    actor: str = "system",
    allow_private: bool = False,
) -> tuple[WebhookSubscription, Secret]:
    """Subscribe ``url`` to ``events`` (default: all); returns the row and the signing secret,
    which is shown this once. URLs naming this machine or a private network are refused
    unless ``allow_private`` (POSTIZ_WEBHOOK_ALLOW_PRIVATE): a user must not make the server
    call its own internal services."""
    chosen = list(events) if events is not None else list(EVENT_NAMES)
    problems = [p for p in [url_problem(url, allow_private=allow_private)] if p is not None]
    unknown = [e for e in chosen if e not in EVENT_NAMES]
    if unknown or not chosen:
        problems.append(
            Problem("events", f"must be some of: {', '.join(EVENT_NAMES)}", unknown or chosen)
        )
    if problems:
        raise ValidationFailed(problems)
    secret = Secret("whsec_" + base64.b64encode(secrets.token_bytes(32)).decode())
    sub_id = new_id("whk")
    cursor = session.scalar(select(func.max(AnalyticsEvent.id))) or 0  # no backfill of old events
    sub = WebhookSubscription(
        id=sub_id,
        workspace_id=workspace_id,
        url=url,
        events=",".join(sorted(set(chosen))),
        secret_sealed=keyring.seal(secret.reveal(), context=secret_context(sub_id)),
        status="active",
        last_event_id=cursor,
        created_by=actor,
        created_at=now,
        updated_at=now,
    )
    session.add(sub)
    session.flush()
    audit(
        session,
        actor=actor,
        action="webhook.create",
        object_type="webhook",
        object_id=sub_id,
        workspace_id=workspace_id,
        now=now,
        url=url,
        events=sub.events,
    )
    return sub, secret


def get_subscription(
    session: Session, sub_id: str, *, workspace_ids: Iterable[str] | None = None
) -> WebhookSubscription:
    """A live subscription; NotFound when gone or outside ``workspace_ids``."""
    sub = session.get(WebhookSubscription, sub_id)
    if (
        sub is None
        or sub.deleted_at is not None
        or (workspace_ids is not None and sub.workspace_id not in set(workspace_ids))
    ):
        raise NotFound("webhook", sub_id)
    return sub


def list_subscriptions(session: Session, workspace_id: str) -> list[WebhookSubscription]:
    """A workspace's live subscriptions, oldest first."""
    return list(
        session.scalars(
            select(WebhookSubscription)
            .where(
                WebhookSubscription.workspace_id == workspace_id,
                WebhookSubscription.deleted_at.is_(None),
            )
            .order_by(WebhookSubscription.created_at, WebhookSubscription.id)
        )
    )


def delete_subscription(
    session: Session, sub: WebhookSubscription, *, now: datetime, actor: str = "system"
) -> None:
    """Remove a subscription (kept as history, disabled, audited)."""
    sub.deleted_at = now
    sub.status = "disabled"
    sub.updated_at = now
    audit(
        session,
        actor=actor,
        action="webhook.delete",
        object_type="webhook",
        object_id=sub.id,
        workspace_id=sub.workspace_id,
        now=now,
    )


def list_deliveries(session: Session, sub_id: str, *, limit: int = 50) -> list[WebhookDelivery]:
    """A subscription's latest deliveries, newest event first."""
    return list(
        session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.subscription_id == sub_id)
            .order_by(WebhookDelivery.event_id.desc())
            .limit(limit)
        )
    )
