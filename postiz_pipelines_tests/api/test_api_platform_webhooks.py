"""Incoming platform webhooks: each verifier accepts a good signature and refuses a bad one,
a missing one, a stale timestamp and a replay; an accepted call writes ``webhook_received``
and applies what it tells; a refused one writes nothing but a counter."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from postiz_pipelines.core.events import EventType, record_event
from postiz_pipelines.core.models import (
    AccountStatus,
    AnalyticsEvent,
    PostTarget,
    SocialAccount,
    TargetStatus,
)

HOOK = "/api/postiz/webhooks"
META_SECRET = "meta-app-secret-ü"
SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
X_SECRET = "x-consumer-secret"
TG_SECRET = "tg_secret-Token_1"
DISCORD_KEY = Ed25519PrivateKey.generate()
DISCORD_PUBLIC = DISCORD_KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


@pytest.fixture
def env(env: dict[str, str]) -> dict[str, str]:
    return {
        **env,
        "POSTIZ_META_APP_SECRET": META_SECRET,
        "POSTIZ_META_WEBHOOK_VERIFY_TOKEN": "verify-me",
        "POSTIZ_SLACK_SIGNING_SECRET": SLACK_SECRET,
        "POSTIZ_X_CONSUMER_SECRET": X_SECRET,
        "POSTIZ_TELEGRAM_WEBHOOK_SECRET": TG_SECRET,
        "POSTIZ_DISCORD_PUBLIC_KEY": DISCORD_PUBLIC,
        "POSTIZ_INBOUND_WEBHOOK_MAX_AGE_SECONDS": "3600",
    }


@pytest.fixture
def accounts(app, make, clock):  # type: ignore[no-untyped-def]
    ws = make.workspace("hooks")
    out = {
        "facebook": make.account(ws, platform="facebook", handle="page", external_id="1001"),
        "x": make.account(ws, platform="x", handle="xbob", external_id="2002"),
        "slack": make.account(
            ws, platform="slack", handle="team", external_id="C01", settings={"team_id": "T9"}
        ),
        "telegram": make.account(ws, platform="telegram", handle="chat", external_id="-100777"),
        "discord": make.account(
            ws, platform="discord", handle="chan", external_id="55", settings={"user_id": "u-1"}
        ),
    }
    targets = {}
    for platform, remote in (("facebook", "1001_42"), ("x", "1860000000000000001")):
        [job] = make.jobs(ws, out[platform], 1, run_at=clock.now() - timedelta(hours=1))
        with app.db.session() as s:
            target = s.scalars(
                select(PostTarget).where(PostTarget.account_id == out[platform].id)
            ).one()
            target.status, target.remote_id = TargetStatus.PUBLISHED, remote
            target.published_at = clock.now() - timedelta(minutes=50)
            targets[platform] = target.id
            if platform == "x":
                record_event(
                    s,
                    EventType.ENGAGEMENT_PULLED,
                    now=clock.now() - timedelta(minutes=10),
                    workspace_id=ws.id,
                    platform="x",
                    account_id=out["x"].id,
                    post_id=target.post_id,
                    target_id=target.id,
                    likes=5,
                    reposts=1,
                    replies=None,
                    views=80,
                )
    out["targets"] = targets  # type: ignore[assignment]
    return out


def received(app) -> int:  # type: ignore[no-untyped-def]
    with app.db.read() as s:
        return s.scalar(
            select(func.count()).where(AnalyticsEvent.event_type == EventType.WEBHOOK_RECEIVED)
        )


def counter(client, platform: str, result: str) -> float:  # type: ignore[no-untyped-def]
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for s in family.samples:
            if s.name == "postiz_inbound_webhooks_total" and s.labels == {
                "platform": platform,
                "result": result,
            }:
                return s.value
    return 0.0


def status_of(app, account) -> str:  # type: ignore[no-untyped-def]
    with app.db.read() as s:
        return s.get(SocialAccount, account.id).status


def test_meta_challenge_signature_deleted_post_stale_and_replay(client, app, accounts, clock):
    q = {"hub.mode": "subscribe", "hub.verify_token": "verify-me", "hub.challenge": "1158201444"}
    ok = client.get(f"{HOOK}/facebook", params=q)
    assert ok.status_code == 200 and ok.text == "1158201444"
    assert client.get(f"{HOOK}/facebook", params={**q, "hub.verify_token": "no"}).status_code == 401
    now_s = int(clock.now().timestamp())
    change = {"field": "feed", "value": {"item": "status", "verb": "remove", "post_id": "1001_42"}}
    body = json.dumps(
        {"object": "page", "entry": [{"id": "1001", "time": now_s, "changes": [change]}]}
    )
    sig = "sha256=" + hmac.new(META_SECRET.encode(), body.encode(), hashlib.sha256).hexdigest()

    bad = client.post(
        f"{HOOK}/facebook", content=body, headers={"X-Hub-Signature-256": sig[:-2] + "00"}
    )
    assert bad.status_code == 401 and bad.headers["content-type"] == "application/problem+json"
    assert client.post(f"{HOOK}/facebook", content=body).status_code == 401
    assert received(app) == 0
    assert counter(client, "facebook", "bad_signature") == 2.0  # the bad verify token too
    assert counter(client, "facebook", "missing_signature") == 1.0

    r = client.post(f"{HOOK}/facebook", content=body, headers={"X-Hub-Signature-256": sig})
    assert r.status_code == 200, r.text
    assert r.json()["actions"] == [
        {
            "action": "post_deleted",
            "remote_id": "1001_42",
            "targets": [accounts["targets"]["facebook"]],
        }
    ]
    with app.db.read() as s:
        target = s.get(PostTarget, accounts["targets"]["facebook"])
        assert target.settings_override["remote_deleted_at"] == clock.now().isoformat()
    assert received(app) == 1
    again = client.post(f"{HOOK}/facebook", content=body, headers={"X-Hub-Signature-256": sig})
    assert again.status_code == 409 and received(app) == 1
    assert counter(client, "facebook", "replayed") == 1.0

    old = body.replace(str(now_s), str(now_s - 7200))  # 2 h old, the window is 1 h
    old_sig = "sha256=" + hmac.new(META_SECRET.encode(), old.encode(), hashlib.sha256).hexdigest()
    stale = client.post(f"{HOOK}/instagram", content=old, headers={"X-Hub-Signature-256": old_sig})
    assert stale.status_code == 401 and "older than 3600 s" in stale.json()["detail"]
    assert received(app) == 1


def _slack(body: str, ts: int, secret: str = SLACK_SECRET) -> dict[str, str]:
    base = f"v0:{ts}:{body}".encode()
    return {
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest(),
    }


def test_slack_v0_window_uninstall_and_replay(client, app, accounts, clock):
    ts = int(clock.now().timestamp())
    hello = json.dumps({"type": "url_verification", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY"})
    r = client.post(f"{HOOK}/slack", content=hello, headers=_slack(hello, ts))
    assert r.json() == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY"}
    gone = json.dumps({"team_id": "T9", "event_id": "Ev1", "event": {"type": "app_uninstalled"}})
    assert (
        client.post(f"{HOOK}/slack", content=gone, headers=_slack(gone, ts, "wrong")).status_code
        == 401
    )
    stale = client.post(f"{HOOK}/slack", content=gone, headers=_slack(gone, ts - 301))
    assert stale.status_code == 401 and counter(client, "slack", "stale") == 1.0
    assert status_of(app, accounts["slack"]) == AccountStatus.ACTIVE
    ok = client.post(f"{HOOK}/slack", content=gone, headers=_slack(gone, ts - 299))
    assert (
        ok.status_code == 200
        and status_of(app, accounts["slack"]) == AccountStatus.RECONNECT_NEEDED
    )
    # a replay of the same event, even freshly signed, is refused
    assert client.post(f"{HOOK}/slack", content=gone, headers=_slack(gone, ts)).status_code == 409
    assert received(app) == 2


def test_x_crc_engagement_revoke_and_replay(client, app, accounts, clock):
    crc = client.get(f"{HOOK}/x", params={"crc_token": "challenge-📎"})
    expected = base64.b64encode(
        hmac.new(X_SECRET.encode(), "challenge-📎".encode(), hashlib.sha256).digest()
    ).decode()
    assert crc.json() == {"response_token": f"sha256={expected}"}
    ms = int(clock.now().timestamp() * 1000)
    body = json.dumps(
        {
            "for_user_id": "2002",
            "favorite_events": [
                {"timestamp_ms": str(ms), "favorited_status": {"id_str": "1860000000000000001"}}
            ],
        }
    )

    def sign(raw: str) -> dict[str, str]:
        mac = hmac.new(X_SECRET.encode(), raw.encode(), hashlib.sha256).digest()
        return {"x-twitter-webhooks-signature": "sha256=" + base64.b64encode(mac).decode()}

    assert (
        client.post(
            f"{HOOK}/x", content=body, headers={"x-twitter-webhooks-signature": "sha256=AAAA"}
        ).status_code
        == 401
    )
    assert client.post(f"{HOOK}/x", content=body, headers=sign(body)).status_code == 200
    with app.db.read() as s:
        snaps = s.scalars(
            select(AnalyticsEvent.data)
            .where(AnalyticsEvent.event_type == EventType.ENGAGEMENT_PULLED)
            .order_by(AnalyticsEvent.id)
        ).all()
    assert [(d["likes"], d["reposts"], d["replies"]) for d in snaps] == [(5, 1, None), (6, 1, None)]
    assert snaps[-1]["source"] == "webhook"
    assert client.post(f"{HOOK}/x", content=body, headers=sign(body)).status_code == 409
    old = body.replace(str(ms), str(ms - 2 * 86_400_000))
    assert client.post(f"{HOOK}/x", content=old, headers=sign(old)).status_code == 401
    revoke = json.dumps({"for_user_id": "2002", "user_event": {"revoke": {"date_time": "now"}}})
    assert client.post(f"{HOOK}/x", content=revoke, headers=sign(revoke)).status_code == 200
    assert status_of(app, accounts["x"]) == AccountStatus.RECONNECT_NEEDED


def test_telegram_secret_token_kicked_bot_and_replay(client, app, accounts, clock):
    now_s = int(clock.now().timestamp())
    update = json.dumps(
        {
            "update_id": 90001,
            "my_chat_member": {
                "chat": {"id": -100777, "title": "Ünïcode chat"},
                "date": now_s,
                "new_chat_member": {"status": "kicked"},
            },
        }
    )
    assert client.post(f"{HOOK}/telegram", content=update).status_code == 401
    wrong = {"X-Telegram-Bot-Api-Secret-Token": "nope"}
    assert client.post(f"{HOOK}/telegram", content=update, headers=wrong).status_code == 401
    assert status_of(app, accounts["telegram"]) == AccountStatus.ACTIVE and received(app) == 0
    good = {"X-Telegram-Bot-Api-Secret-Token": TG_SECRET}
    assert client.post(f"{HOOK}/telegram", content=update, headers=good).status_code == 200
    assert status_of(app, accounts["telegram"]) == AccountStatus.RECONNECT_NEEDED
    assert client.post(f"{HOOK}/telegram", content=update, headers=good).status_code == 409
    old = json.dumps({"update_id": 90002, "message": {"date": now_s - 7200, "text": "hi"}})
    assert client.post(f"{HOOK}/telegram", content=old, headers=good).status_code == 401
    assert received(app) == 1


def test_discord_ed25519_ping_deauthorize_stale_and_replay(client, app, accounts, clock):
    def signed(body: str, ts: int, key: Ed25519PrivateKey = DISCORD_KEY) -> dict[str, str]:
        sig = key.sign(str(ts).encode() + body.encode()).hex()
        return {"X-Signature-Ed25519": sig, "X-Signature-Timestamp": str(ts)}

    ts = int(clock.now().timestamp())
    ping = json.dumps({"type": 1, "id": "i1"})
    assert client.post(f"{HOOK}/discord", content=ping, headers=signed(ping, ts)).json() == {
        "type": 1
    }
    other = Ed25519PrivateKey.generate()
    assert (
        client.post(
            f"{HOOK}/discord", content=ping, headers=signed(ping, ts + 1, other)
        ).status_code
        == 401
    )
    assert (
        client.post(f"{HOOK}/discord", content=ping, headers=signed(ping, ts - 600)).status_code
        == 401
    )
    assert client.post(f"{HOOK}/discord", content=ping, headers=signed(ping, ts)).status_code == 409
    event = json.dumps(
        {
            "version": 1,
            "type": 1,
            "event": {"type": "APPLICATION_DEAUTHORIZED", "data": {"user": {"id": "u-1"}}},
        }
    )
    r = client.post(f"{HOOK}/discord", content=event, headers=signed(event, ts))
    assert (
        r.status_code == 204
        and status_of(app, accounts["discord"]) == AccountStatus.RECONNECT_NEEDED
    )
    assert received(app) == 2


def test_unconfigured_and_unknown_platforms(client, app, accounts):
    assert client.post(f"{HOOK}/myspace", content="{}").status_code == 404
    # a platform whose secret is unset refuses every call: nothing is trusted by default
    from postiz_pipelines.core.observability.inbound_signatures import Refused, verify
    from postiz_pipelines.settings import Settings

    with pytest.raises(Refused) as refused:
        verify("slack", {}, b"{}", Settings.from_env({}), now=None)  # type: ignore[arg-type]
    assert refused.value.reason == "not_configured"
    assert received(app) == 0


def meta_signed_request(payload: dict, key: str = META_SECRET) -> str:
    def b64url(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    body = b64url(json.dumps(payload).encode())
    return b64url(hmac.new(key.encode(), body.encode(), hashlib.sha256).digest()) + "." + body


def test_meta_deauthorize_callbacks_verify_their_signed_request(client, app, accounts, clock):
    payload = {
        "algorithm": "HMAC-SHA256",
        "issued_at": int(clock.now().timestamp()) - 30,
        "user_id": "1001",
    }
    url = f"{HOOK}/facebook/deauthorize"
    before = received(app)
    for form, reason in (
        ({}, "missing_signature"),
        ({"signed_request": meta_signed_request(payload, "wrong-secret")}, "bad_signature"),
        (
            {"signed_request": meta_signed_request({**payload, "algorithm": "HMAC-SHA1"})},
            "bad_algorithm",
        ),
        (
            {"signed_request": meta_signed_request({**payload, "issued_at": 1_000_000_000})},
            "stale",
        ),
    ):
        r = client.post(url, data=form)
        assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
        assert META_SECRET not in r.text
        assert counter(client, "facebook", reason) == 1
    assert received(app) == before  # nothing refused was written
    good = {"signed_request": meta_signed_request(payload)}
    ok = client.post(url, data=good)
    assert ok.status_code == 200 and ok.json()["received"] is True
    assert received(app) == before + 1
    # the callback names the person; here the fixture's Page has that id: disconnected
    assert status_of(app, accounts["facebook"]) == AccountStatus.RECONNECT_NEEDED
    assert client.post(url, data=good).status_code == 409  # a replay
    for platform in ("instagram", "threads"):
        fresh = {"signed_request": meta_signed_request({**payload, "user_id": platform})}
        assert client.post(f"{HOOK}/{platform}/deauthorize", data=fresh).status_code == 200
    assert client.post(f"{HOOK}/x/deauthorize", data=good).status_code == 404
