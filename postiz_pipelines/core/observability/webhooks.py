"""Outgoing webhooks on post lifecycle events: ``post.published``, ``post.failed``,
``post.canceled``: signing, fan-out and the delivery pass.

The events come from ``analytics_events`` (the engine writes them with each state change),
so nothing in the publish path waits on a receiver. ``deliver_pending_webhooks`` first
fans new events out into ``webhook_deliveries`` (one row per subscription and event, a
unique pair, so fanning out twice changes nothing), then sends what is due.
Subscriptions live in ``webhook_subscriptions``; where a request may go, in
``webhook_targets`` (every address the host resolves to must be public, and the request
goes to the address that was checked).

Requests follow the Standard Webhooks signature scheme, so receivers can verify them with
an existing library: headers ``webhook-id``, ``webhook-timestamp`` and ``webhook-signature``
= ``v1,<base64 HMAC-SHA256(secret, "<id>.<timestamp>.<body>")>``, where the secret is the
``whsec_<base64>`` value shown once when the subscription is created (kept sealed).

A failed delivery (non-2xx, timeout, no connection, a name that does not resolve) is
retried with exponential backoff (30 s, 1 min, 2 min, ... capped at 6 h, or the receiver's
``Retry-After``) up to ``MAX_ATTEMPTS``; ``410 Gone`` disables the subscription at once; a
refused or unusable URL fails the delivery at once. Whatever one delivery raises is recorded
on that delivery (its attempt, error and next try or failure): it never stops the others.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from postiz_pipelines.core.context import AppContext
from postiz_pipelines.core.ids import new_id
from postiz_pipelines.core.models import AnalyticsEvent, WebhookDelivery, WebhookSubscription
from postiz_pipelines.core.observability.webhook_subscriptions import (
    EVENT_NAMES,
    EVENTS,
    create_subscription,
    delete_subscription,
    get_subscription,
    list_deliveries,
    list_subscriptions,
    secret_context,
)
from postiz_pipelines.core.observability.webhook_targets import (
    Resolver,
    TargetRefused,
    parse_target,
    pin_address,
    pinned_request,
    system_resolver,
)
from postiz_pipelines.crypto import Secret
from postiz_pipelines.providers.base import retry_after_seconds

__all__ = [
    "EVENTS",
    "EVENT_NAMES",
    "MAX_ATTEMPTS",
    "create_subscription",
    "delete_subscription",
    "deliver_pending_webhooks",
    "fan_out",
    "get_subscription",
    "list_deliveries",
    "list_subscriptions",
    "payload",
    "sign",
    "verify",
]

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(hours=6)
SEND_LEASE = timedelta(minutes=5)  # a claimed delivery is invisible to other senders this long
SETTLE = timedelta(seconds=5)  # events younger than this may belong to an uncommitted transaction
TIMESTAMP_TOLERANCE = timedelta(minutes=5)


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


@dataclass(frozen=True)
class _Outcome:
    """What one try of one delivery came to; ``final`` failures are not retried."""

    delivery_id: str
    status_code: int | None = None
    error: str | None = None
    retry_after: float | None = None
    final: bool = False


def backoff(attempts: int) -> timedelta:
    """The wait after ``attempts`` failed tries: 30 s doubling, capped at 6 h."""
    return min(BACKOFF_BASE * (2 ** max(attempts - 1, 0)), BACKOFF_CAP)


def deliver_pending_webhooks(
    app: AppContext,
    *,
    now: datetime,
    transport: httpx.AsyncBaseTransport | None = None,
    limit: int = 100,
    concurrency: int = 10,
    timeout: float = 10.0,
    resolve: Resolver | None = None,
) -> dict[str, int]:
    """Fan out new events, then send up to ``limit`` due deliveries; returns the counts
    (``queued``, ``sent``, ``delivered``, ``retrying``, ``failed``).

    Safe to run from several places at once: a claimed delivery is pushed ``SEND_LEASE``
    into the future before it is sent. Each delivery's host is resolved once by ``resolve``
    (default: the system resolver) and checked (unless POSTIZ_WEBHOOK_ALLOW_PRIVATE); the
    request goes to the checked address. Nothing one delivery raises escapes the pass: it is
    recorded on that delivery.
    """
    outcomes: list[_Outcome] = []
    with app.db.session() as s:
        queued = fan_out(s, now=now)
        claimed = _claim(app, s, now=now, limit=limit, failed=outcomes)
    if claimed:
        outcomes += asyncio.run(
            _send_all(
                claimed,
                now=now,
                transport=transport,
                concurrency=concurrency,
                timeout=timeout,
                resolve=resolve or system_resolver,
                allow_private=app.settings.webhook_allow_private,
            )
        )
    counts = {"queued": queued, "sent": len(claimed), "delivered": 0, "retrying": 0, "failed": 0}
    with app.db.session() as s:
        for outcome in outcomes:
            counts[_record(s, outcome, now)] += 1
    return counts


def _claim(
    app: AppContext, s: Session, *, now: datetime, limit: int, failed: list[_Outcome]
) -> list[_Claimed]:
    """Lease up to ``limit`` due deliveries and read what sending them needs; a delivery
    whose subscription is gone fails here, one whose secret cannot be opened goes to
    ``failed`` (recorded with the others)."""
    due = list(
        s.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    subs = {
        sub.id: sub
        for sub in s.scalars(
            select(WebhookSubscription).where(
                WebhookSubscription.id.in_({d.subscription_id for d in due})
            )
        )
    }
    claimed = []
    for d in due:
        sub = subs[d.subscription_id]
        if sub.status != "active" or sub.deleted_at is not None:
            d.status = "failed"
            d.last_error = "subscription disabled"
            continue
        d.next_attempt_at = now + SEND_LEASE
        try:
            secret = Secret(app.keyring.open(sub.secret_sealed, context=secret_context(sub.id)))
        except Exception as exc:  # a key rotated away: this delivery cannot be signed
            reason = f"cannot open the signing secret ({type(exc).__name__})"
            failed.append(_Outcome(d.id, error=reason))
            continue
        body = json.dumps(d.payload, separators=(",", ":"), sort_keys=True).encode()
        claimed.append(_Claimed(d.id, sub.url, secret, body))
    return claimed


async def _send_all(
    claimed: list[_Claimed],
    *,
    now: datetime,
    transport: httpx.AsyncBaseTransport | None,
    concurrency: int,
    timeout: float,
    resolve: Resolver,
    allow_private: bool,
) -> list[_Outcome]:
    sem = asyncio.Semaphore(concurrency)
    ts = int(now.timestamp())
    # no kept-alive connections: a connection opened for one name must not carry another's
    limits = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(
        transport=transport, timeout=timeout, follow_redirects=False, limits=limits
    ) as http:

        async def one(c: _Claimed) -> _Outcome:
            async with sem:
                try:
                    return await _send_one(
                        http, c, ts=ts, now=now, resolve=resolve, allow_private=allow_private
                    )
                except Exception as exc:  # whatever it is, it belongs to this delivery only
                    log.warning("webhook delivery %s: %s", c.delivery_id, type(exc).__name__)
                    return _Outcome(c.delivery_id, error=f"{type(exc).__name__}")

        return list(await asyncio.gather(*(one(c) for c in claimed)))


async def _send_one(
    http: httpx.AsyncClient,
    c: _Claimed,
    *,
    ts: int,
    now: datetime,
    resolve: Resolver,
    allow_private: bool,
) -> _Outcome:
    """Check, resolve once and send one delivery; every answer becomes an outcome."""
    try:
        target = parse_target(c.url)
        address = await pin_address(target, resolve=resolve, allow_private=allow_private)
    except TargetRefused as exc:
        return _Outcome(c.delivery_id, error=f"refused: {exc.reason}", final=True)
    except OSError as exc:  # the name does not resolve (now): retried
        return _Outcome(c.delivery_id, error=f"cannot resolve the host ({type(exc).__name__})")
    headers = {
        "content-type": "application/json",
        "user-agent": "postiz-pipelines-webhooks/1",
        "webhook-id": c.delivery_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": sign(c.secret.reveal(), c.delivery_id, ts, c.body),
    }
    try:
        request = pinned_request(http, target, address, content=c.body, headers=headers)
    except (httpx.InvalidURL, ValueError) as exc:
        return _Outcome(c.delivery_id, error=f"unusable URL ({type(exc).__name__})", final=True)
    try:
        r = await http.send(request)
    except httpx.HTTPError as exc:  # the receiver's problem, recorded and retried
        return _Outcome(c.delivery_id, error=f"{type(exc).__name__}")
    if 200 <= r.status_code < 300:
        return _Outcome(c.delivery_id, status_code=r.status_code)
    return _Outcome(
        c.delivery_id,
        status_code=r.status_code,
        error=f"HTTP {r.status_code}",
        retry_after=retry_after_seconds(r.headers, now),
    )


def _record(s: Session, outcome: _Outcome, now: datetime) -> str:
    """Write one try's outcome on its delivery; returns ``delivered``, ``retrying`` or
    ``failed``."""
    d = s.get(WebhookDelivery, outcome.delivery_id)
    assert d is not None
    d.attempts += 1
    d.last_status_code = outcome.status_code
    d.last_error = outcome.error
    if outcome.error is None:
        d.status = "delivered"
        d.delivered_at = now
        return "delivered"
    if outcome.status_code == 410:
        sub = s.get(WebhookSubscription, d.subscription_id)
        if sub is not None:
            sub.status = "disabled"
            sub.updated_at = now
        d.status = "failed"
        return "failed"
    if outcome.final or d.attempts >= MAX_ATTEMPTS:
        d.status = "failed"
        return "failed"
    wait = backoff(d.attempts)
    if outcome.retry_after is not None:
        wait = min(max(wait, timedelta(seconds=outcome.retry_after)), BACKOFF_CAP)
    d.next_attempt_at = now + wait
    return "retrying"
