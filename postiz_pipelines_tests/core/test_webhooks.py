"""Outgoing webhooks: fan-out from post events, Standard Webhooks signatures, retries with
backoff, 410 disabling, and no backfill of events older than the subscription."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from postiz_pipelines.core.events import EventType, record_event
from postiz_pipelines.core.models import WebhookDelivery, WebhookSubscription
from postiz_pipelines.core.observability.webhooks import (
    MAX_ATTEMPTS,
    create_subscription,
    deliver_pending_webhooks,
    sign,
    verify,
)


def public_dns(host: str, port: int) -> list[str]:
    """The resolver of these tests: every name is one public address (the receiver is an
    in-process app, so the address only has to pass the delivery check)."""
    return ["93.184.215.14"]


def deliver(app, **kw):  # type: ignore[no-untyped-def]
    return deliver_pending_webhooks(app, resolve=public_dns, **kw)


class Receiver:
    """A webhook receiver app: /ok answers 200, /flaky 503 (Retry-After 120) until healed, /gone
    410."""

    def __init__(self) -> None:
        self.got: list[tuple[str, dict[str, str], bytes]] = []
        self.healed = False

        async def handle(request: Request) -> Response:
            body = await request.body()
            self.got.append((request.url.path, dict(request.headers), body))
            path = request.url.path
            if path == "/flaky" and not self.healed:
                return Response(status_code=503, headers={"Retry-After": "120"})
            if path == "/gone":
                return Response(status_code=410)
            return Response(status_code=204)

        self.app = Starlette(routes=[Route("/{name}", handle, methods=["POST"])])
        self.transport = httpx.ASGITransport(app=self.app)


def _sub(app, ws_id: str, path: str, now, events=None):  # type: ignore[no-untyped-def]
    with app.db.session() as s:
        sub, secret = create_subscription(
            s,
            app.keyring,
            workspace_id=ws_id,
            url=f"http://hooks.test{path}",
            events=events,
            now=now,
        )
        return sub.id, secret.reveal()


def _event(app, ws_id: str, kind: EventType, now, post_id: str = "post_1") -> None:  # type: ignore[no-untyped-def]
    with app.db.session() as s:
        record_event(
            s,
            kind,
            now=now,
            workspace_id=ws_id,
            post_id=post_id,
            platform="mastodon",
            remote_id="r1",
        )


def test_signed_delivery_of_subscribed_events_only(app, make, clock):
    ws, other = make.workspace("acme"), make.workspace("globex")
    now = clock.now()
    _event(app, ws.id, EventType.POST_PUBLISHED, now, "post_before")  # older than the subscription
    sub_id, secret = _sub(app, ws.id, "/ok", now, events=["post.published", "post.canceled"])
    _event(app, ws.id, EventType.POST_PUBLISHED, now, "post_a")
    _event(app, ws.id, EventType.POST_PUBLISH_FAILED, now, "post_b")  # not subscribed
    _event(app, other.id, EventType.POST_PUBLISHED, now, "post_c")  # another workspace
    _event(app, ws.id, EventType.POST_CANCELED, now, "post_d")
    rx = Receiver()

    too_soon = deliver(app, now=now, transport=rx.transport)
    assert too_soon["queued"] == 0  # events younger than the settle delay wait
    later = now + timedelta(seconds=30)
    counts = deliver(app, now=later, transport=rx.transport)
    assert counts == {"queued": 2, "sent": 2, "delivered": 2, "retrying": 0, "failed": 0}
    bodies = [json.loads(b) for _, _, b in rx.got]
    assert sorted((b["type"], b["data"]["postId"]) for b in bodies) == [
        ("post.canceled", "post_d"),
        ("post.published", "post_a"),
    ]
    for _, headers, body in rx.got:
        assert verify(secret, headers, body, now=later)
        assert not verify(secret, headers, body + b" ", now=later)  # tampered body
        assert not verify(secret, headers, body, now=later + timedelta(hours=1))  # replayed late
        assert headers["webhook-signature"] == sign(
            secret, headers["webhook-id"], int(headers["webhook-timestamp"]), body
        )
    again = deliver(app, now=later + timedelta(minutes=1), transport=rx.transport)
    assert again["queued"] == 0 and again["sent"] == 0 and len(rx.got) == 2


def test_failed_delivery_is_retried_with_backoff_then_delivered(app, make, clock):
    ws = make.workspace("acme")
    now = clock.now()
    _sub(app, ws.id, "/flaky", now)
    _event(app, ws.id, EventType.POST_PUBLISH_FAILED, now)
    rx = Receiver()
    t1 = now + timedelta(seconds=10)
    assert deliver(app, now=t1, transport=rx.transport)["retrying"] == 1
    with app.db.read() as s:
        d = s.scalar(select(WebhookDelivery))
        assert d.attempts == 1 and d.last_status_code == 503
        assert d.next_attempt_at == t1 + timedelta(
            seconds=120
        )  # the receiver's Retry-After beats 30 s
    assert deliver(app, now=t1 + timedelta(seconds=60), transport=rx.transport)["sent"] == 0
    rx.healed = True
    done = deliver(app, now=t1 + timedelta(seconds=121), transport=rx.transport)
    assert done["delivered"] == 1
    assert len({h["webhook-id"] for _, h, _ in rx.got}) == 1  # the same delivery id on every try


def test_attempts_run_out_and_gone_disables(app, make, clock):
    ws = make.workspace("acme")
    now = clock.now()
    _sub(app, ws.id, "/flaky", now)
    gone_id, _ = _sub(app, ws.id, "/gone", now)
    _event(app, ws.id, EventType.POST_PUBLISHED, now)
    rx = Receiver()
    t = now + timedelta(seconds=10)
    first = deliver(app, now=t, transport=rx.transport)
    assert first["failed"] == 1 and first["retrying"] == 1
    with app.db.read() as s:
        assert s.get(WebhookSubscription, gone_id).status == "disabled"
    for _ in range(MAX_ATTEMPTS):
        t += timedelta(hours=7)
        deliver(app, now=t, transport=rx.transport)
    with app.db.read() as s:
        statuses = sorted(d.status for d in s.scalars(select(WebhookDelivery)))
        flaky = s.scalar(select(WebhookDelivery).where(WebhookDelivery.last_status_code == 503))
    assert statuses == ["failed", "failed"] and flaky.attempts == MAX_ATTEMPTS


def test_unreachable_receiver_is_recorded_not_raised(app, make, clock):
    ws = make.workspace("acme")
    now = clock.now()
    _sub(app, ws.id, "/ok", now)
    _event(app, ws.id, EventType.POST_PUBLISHED, now)

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    counts = deliver(app, now=now + timedelta(seconds=10), transport=httpx.MockTransport(refuse))
    assert counts["retrying"] == 1
    with app.db.read() as s:
        assert s.scalar(select(WebhookDelivery)).last_error == "ConnectError"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/x",
        "http://10.1.2.3/x",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/x",
        "https://db.internal/x",
        "http://192.168.1.10/x",
    ],
)
def test_webhooks_to_private_addresses_are_refused(app, make, url):
    from postiz_pipelines.core.observability.webhooks import create_subscription
    from postiz_pipelines.errors import ValidationFailed

    ws = make.workspace()
    with app.db.session() as s, pytest.raises(ValidationFailed) as err:
        create_subscription(s, app.keyring, workspace_id=ws.id, url=url, now=datetime.now(UTC))
    assert (
        err.value.problems[0].field == "url" and "public address" in err.value.problems[0].message
    )
    with app.db.session() as s:  # an operator may allow them (a receiver on the same host)
        sub, _ = create_subscription(
            s, app.keyring, workspace_id=ws.id, url=url, now=datetime.now(UTC), allow_private=True
        )
        assert sub.url == url
