"""Outgoing webhooks on post lifecycle events: ``post.published``, ``post.failed``,
``post.canceled``.

The events come from ``analytics_events`` (the engine writes them with each state change),
so nothing in the publish path waits on a receiver. ``deliver_pending_webhooks`` first
fans new events out into ``webhook_deliveries`` (one row per subscription and event, a
unique pair, so fanning out twice changes nothing), then sends what is due.

Requests follow the Standard Webhooks signature scheme, so receivers can verify them with
an existing library: headers ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature``
= ``v1,<base64 HMAC-SHA256(secret, "<id>.<timestamp>.<body>")>``, where the secret is the
``whsec_<base64>`` value shown once when the subscription is created (kept sealed).

A failed delivery (non-2xx, timeout, no connection) is retried with exponential backoff
(30 s, 1 min, 2 min, ... capped at 6 h, or the receiver's ``Retry-After``) up to
``MAX_ATTEMPTS``; ``410 Gone`` disables the subscription at once.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import json
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from postiz_pipelines.core.audit import audit
from postiz_pipelines.core.context import AppContext
from postiz_pipelines.core.events import EventType
from postiz_pipelines.core.ids import new_id
from postiz_pipelines.core.models import AnalyticsEvent, WebhookDelivery, WebhookSubscription
from postiz_pipelines.crypto import Keyring, Secret
from postiz_pipelines.errors import NotFound, Problem, ValidationFailed
from postiz_pipelines.providers.base import retry_after_seconds

EVENTS: dict[str, str] = {
    EventType.POST_PUBLISHED: "post.published",
    EventType.POST_PUBLISH_FAILED: "post.failed",
    EventType.POST_CANCELED: "post.canceled",
}
EVENT_NAMES = tuple(EVENTS.values())
MAX_ATTEMPTS = 8
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(hours=6)
SEND_LEASE = timedelta(minutes=5)  # a claimed delivery is invisible to other senders this long
SETTLE = timedelta(seconds=5)  # events younger than this may belong to an uncommitted transaction
TIMESTAMP_TOLERANCE = timedelta(minutes=5)


def _ctx(sub_id: str) -> str:
    return f"webhook_subscription:{sub_id}:secret"


# -- subscriptions -----------------------------------------------------------------------
def private_target(url: str) -> str | None:
    """Why ``url`` points inside (loopback, private, link-local, reserved), or None."""
    host = (urlsplit(url).hostname or "").strip("[]").lower()
    if not host:
        return "the URL has no host"
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        return f"{host} is a local name"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None  # a public name; where it resolves is checked by the network's egress rules
    if (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
    ):
        return f"{host} is not a public address"
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
    problems = []
    if not url.startswith(("http://", "https://")) or len(url) > 1000:
        problems.append(
            Problem(
                "url", "must be an http:// or https:// URL of at most 1000 characters", url[:200]
            )
        )
    elif not allow_private and (reason := private_target(url)):
        problems.append(
            Problem("url", f"{reason}; webhooks must reach a public address", url[:200])
        )
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
        secret_sealed=keyring.seal(secret.reveal(), context=_ctx(sub_id)),
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
    sub = session.get(WebhookSubscription, sub_id)
    if (
        sub is None
        or sub.deleted_at is not None
        or (workspace_ids is not None and sub.workspace_id not in set(workspace_ids))
    ):
        raise NotFound("webhook", sub_id)
    return sub


def list_subscriptions(session: Session, workspace_id: str) -> list[WebhookSubscription]:
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
    return list(
        session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.subscription_id == sub_id)
            .order_by(WebhookDelivery.event_id.desc())
            .limit(limit)
        )
    )


# -- signing -----------------------------------------------------------------------------
def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value for one request."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def verify(secret: str, headers: Mapping[str, str], body: bytes, *, now: datetime) -> bool:
    """What a receiver does: check the signature (constant time) and the timestamp's freshness."""
    h = {k.lower(): v for k, v in headers.items()}
    try:
        ts = int(h["webhook-timestamp"])
        expected = sign(secret, h["webhook-id"], ts, body)
    except (KeyError, ValueError):
        return False
    if abs(now.timestamp() - ts) > TIMESTAMP_TOLERANCE.total_seconds():
        return False
    offered = h.get("webhook-signature", "").split()
    return any(hmac.compare_digest(s, expected) for s in offered)


# -- delivery ----------------------------------------------------------------------------
def fan_out(session: Session, *, now: datetime, batch: int = 1000) -> int:
    """Create deliveries for events newer than each active subscription's cursor."""
    settled = (
        session.scalar(
            select(func.max(AnalyticsEvent.id)).where(AnalyticsEvent.occurred_at <= now - SETTLE)
        )
        or 0
    )
    created = 0
    subs = session.scalars(
        select(WebhookSubscription).where(
            WebhookSubscription.status == "active", WebhookSubscription.deleted_at.is_(None)
        )
    )
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    for sub in subs:
        if settled <= sub.last_event_id:
            continue
        wanted = [k for k, v in EVENTS.items() if v in sub.events.split(",")]
        events = list(
            session.scalars(
                select(AnalyticsEvent)
                .where(
                    AnalyticsEvent.id > sub.last_event_id,
                    AnalyticsEvent.id <= settled,
                    AnalyticsEvent.workspace_id == sub.workspace_id,
                    AnalyticsEvent.event_type.in_(wanted),
                )
                .order_by(AnalyticsEvent.id)
                .limit(batch)
            )
        )
        rows = [
            {
                "id": new_id("dlv"),
                "subscription_id": sub.id,
                "workspace_id": sub.workspace_id,
                "event_id": ev.id,
                "event_type": EVENTS[ev.event_type],
                "payload": payload(ev),
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for ev in events
        ]
        if rows:
            inserted = session.scalars(
                insert(WebhookDelivery)
                .values(rows)
                .on_conflict_do_nothing(index_elements=["subscription_id", "event_id"])
                .returning(WebhookDelivery.id)
            )
            created += len(list(inserted))  # rowcount is not reliable for multi-row upserts
        sub.last_event_id = events[-1].id if len(events) == batch else settled
    return created


def payload(ev: AnalyticsEvent) -> dict[str, Any]:
    """The JSON body sent for one event."""
    data = {k: v for k, v in (ev.data or {}).items() if v is not None}
    data.update(
        {
            k: v
            for k, v in (
                ("postId", ev.post_id),
                ("jobId", ev.job_id),
                ("platform", ev.platform),
                ("accountId", ev.account_id),
            )
            if v is not None
        }
    )
    return {
        "type": EVENTS[ev.event_type],
        "eventId": ev.id,
        "occurredAt": ev.occurred_at.isoformat(),
        "workspaceId": ev.workspace_id,
        "data": data,
    }


@dataclass(frozen=True)
class _Claimed:
    delivery_id: str
    url: str
    secret: Secret
    body: bytes


def backoff(attempts: int) -> timedelta:
    return min(BACKOFF_BASE * (2 ** max(attempts - 1, 0)), BACKOFF_CAP)


def deliver_pending_webhooks(
    app: AppContext,
    *,
    now: datetime,
    transport: httpx.AsyncBaseTransport | None = None,
    limit: int = 100,
    concurrency: int = 10,
    timeout: float = 10.0,
) -> dict[str, int]:
    """Fan out new events, then send up to ``limit`` due deliveries; returns the counts.

    Safe to run from several places at once: a claimed delivery is pushed ``SEND_LEASE``
    into the future before it is sent.
    """
    with app.db.session() as s:
        queued = fan_out(s, now=now)
        due = list(
            s.scalars(
                select(WebhookDelivery)
                .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
                .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        claimed = []
        subs = {
            sub.id: sub
            for sub in s.scalars(
                select(WebhookSubscription).where(
                    WebhookSubscription.id.in_({d.subscription_id for d in due})
                )
            )
        }
        for d in due:
            sub = subs[d.subscription_id]
            if sub.status != "active" or sub.deleted_at is not None:
                d.status = "failed"
                d.last_error = "subscription disabled"
                continue
            d.next_attempt_at = now + SEND_LEASE
            secret = Secret(app.keyring.open(sub.secret_sealed, context=_ctx(sub.id)))
            body = json.dumps(d.payload, separators=(",", ":"), sort_keys=True).encode()
            claimed.append(_Claimed(d.id, sub.url, secret, body))
    outcomes = (
        asyncio.run(
            _send_all(
                claimed, now=now, transport=transport, concurrency=concurrency, timeout=timeout
            )
        )
        if claimed
        else []
    )
    counts = {"queued": queued, "sent": len(claimed), "delivered": 0, "retrying": 0, "failed": 0}
    with app.db.session() as s:
        for delivery_id, status_code, error, retry_after in outcomes:
            counts[_record(s, delivery_id, now, status_code, error, retry_after)] += 1
    return counts


async def _send_all(
    claimed: list[_Claimed],
    *,
    now: datetime,
    transport: httpx.AsyncBaseTransport | None,
    concurrency: int,
    timeout: float,
) -> list[tuple[str, int | None, str | None, float | None]]:
    sem = asyncio.Semaphore(concurrency)
    ts = int(now.timestamp())
    async with httpx.AsyncClient(
        transport=transport, timeout=timeout, follow_redirects=False
    ) as http:

        async def one(c: _Claimed) -> tuple[str, int | None, str | None, float | None]:
            headers = {
                "content-type": "application/json",
                "user-agent": "postiz-pipelines-webhooks/1",
                "webhook-id": c.delivery_id,
                "webhook-timestamp": str(ts),
                "webhook-signature": sign(c.secret.reveal(), c.delivery_id, ts, c.body),
            }
            async with sem:
                try:
                    r = await http.post(c.url, content=c.body, headers=headers)
                except httpx.HTTPError as exc:  # the receiver's problem, recorded and retried
                    return c.delivery_id, None, f"{type(exc).__name__}", None
            if 200 <= r.status_code < 300:
                return c.delivery_id, r.status_code, None, None
            return (
                c.delivery_id,
                r.status_code,
                f"HTTP {r.status_code}",
                retry_after_seconds(r.headers, now),
            )

        return await asyncio.gather(*(one(c) for c in claimed))


def _record(
    s: Session,
    delivery_id: str,
    now: datetime,
    status_code: int | None,
    error: str | None,
    retry_after: float | None,
) -> str:
    d = s.get(WebhookDelivery, delivery_id)
    assert d is not None
    d.attempts += 1
    d.last_status_code = status_code
    d.last_error = error
    if error is None:
        d.status = "delivered"
        d.delivered_at = now
        return "delivered"
    if status_code == 410:
        sub = s.get(WebhookSubscription, d.subscription_id)
        if sub is not None:
            sub.status = "disabled"
            sub.updated_at = now
        d.status = "failed"
        return "failed"
    if d.attempts >= MAX_ATTEMPTS:
        d.status = "failed"
        return "failed"
    wait = backoff(d.attempts)
    if retry_after is not None:
        wait = min(max(wait, timedelta(seconds=retry_after)), BACKOFF_CAP)
    d.next_attempt_at = now + wait
    return "retrying"
