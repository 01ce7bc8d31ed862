"""Outgoing webhook subscriptions (the signing secret is shown once) and deliveries."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from postiz_pipelines.api.schemas.base import Id, In, Out, iso
from postiz_pipelines.core.models import WebhookDelivery, WebhookSubscription


class WebhookCreate(In):
    workspace_id: Id = Field(min_length=1, max_length=64)
    url: str = Field(min_length=8, max_length=1000)
    events: (
        list[Literal["post.published", "post.failed", "post.canceled", "account.disconnected"]]
        | None
    ) = None


class WebhookOut(Out):
    id: Id
    workspace_id: Id
    url: str
    events: list[str]
    status: str
    created_at: str

    @classmethod
    def of(cls, w: WebhookSubscription) -> WebhookOut:
        return cls(
            id=w.id,
            workspace_id=w.workspace_id,
            url=w.url,
            events=w.events.split(","),
            status=w.status,
            created_at=w.created_at.isoformat(),
        )


class WebhookCreated(WebhookOut):
    secret: str = Field(description="signing secret (Standard Webhooks), shown this once")


class WebhookList(Out):
    webhooks: list[WebhookOut]


class DeliveryOut(Out):
    id: Id
    event_type: str
    event_id: int
    status: str
    attempts: int
    next_attempt_at: str
    last_status_code: int | None
    last_error: str | None
    delivered_at: str | None

    @classmethod
    def of(cls, d: WebhookDelivery) -> DeliveryOut:
        return cls(
            id=d.id,
            event_type=d.event_type,
            event_id=d.event_id,
            status=d.status,
            attempts=d.attempts,
            next_attempt_at=d.next_attempt_at.isoformat(),
            last_status_code=d.last_status_code,
            last_error=d.last_error,
            delivered_at=iso(d.delivered_at),
        )


class DeliveryList(Out):
    deliveries: list[DeliveryOut]
