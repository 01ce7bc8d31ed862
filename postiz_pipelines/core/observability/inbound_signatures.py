"""Verifying incoming platform webhooks: each platform's own signature scheme.

- Meta (Facebook, Instagram, Threads): ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app
  secret, body)>``; the subscription GET answers ``hub.challenge`` when ``hub.verify_token``
  matches. The deauthorize callback posts a form field ``signed_request``:
  ``<base64url HMAC-SHA256(app secret, payload part)>.<base64url JSON payload>`` whose
  payload names ``algorithm`` (only ``HMAC-SHA256`` is accepted) and ``issued_at``.
- Slack: ``X-Slack-Signature: v0=<hex HMAC-SHA256(signing secret, "v0:<ts>:<body>")>`` with
  ``X-Slack-Request-Timestamp`` within 5 minutes.
- X Account Activity: ``x-twitter-webhooks-signature: sha256=<base64 HMAC-SHA256(consumer
  secret, body)>``; the CRC GET answers ``response_token`` = the same HMAC of ``crc_token``.
- Telegram: ``X-Telegram-Bot-Api-Secret-Token`` equals the secret given to ``setWebhook``.
- Discord: ``X-Signature-Ed25519`` over ``X-Signature-Timestamp + body`` with the app's public
  key (``cryptography``), the timestamp within 5 minutes.

Every comparison is constant-time. Replays: each verified call has a ``dedup_key`` (the
platform's event id where it sends one, else a digest of the signed bytes) that the caller
refuses to accept twice; where the platform signs no timestamp, the newest event time in
the signed body must be within ``max_age`` (the window replays are remembered for).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from postiz_pipelines.settings import Settings

SIGNED_WINDOW = timedelta(minutes=5)  # Slack's and Discord's signed timestamps
META_PLATFORMS = ("facebook", "instagram", "threads")
PLATFORMS = (*META_PLATFORMS, "slack", "x", "telegram", "discord")


class Refused(Exception):
    """A call that is not accepted; ``reason`` is a short code for the counter."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason  # missing_signature | bad_signature | stale | not_configured | ...
        self.detail = detail


@dataclass(frozen=True)
class Verified:
    platform: str
    dedup_key: str
    sent_at: datetime | None
    payload: Any


def _headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def _json(body: bytes) -> Any:
    try:
        return json.loads(body or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise Refused("bad_body", "the body is not JSON") from None


def _secret(value: Any, platform: str, name: str) -> bytes:
    if value is None:
        raise Refused("not_configured", f"{platform} webhooks are not configured ({name})")
    return str(value.get_secret_value()).encode()


def _digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _epoch(value: Any) -> datetime | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if number > 1e11:  # milliseconds
        number /= 1000
    return datetime.fromtimestamp(number, UTC)


def _fresh_signed(ts: str | None, now: datetime, platform: str) -> datetime:
    if not ts:
        raise Refused("missing_signature", f"{platform}: no signed timestamp")
    when = _epoch(ts)
    if when is None:
        raise Refused("bad_signature", f"{platform}: unreadable timestamp")
    if abs(now - when) > SIGNED_WINDOW:
        raise Refused("stale", f"{platform}: the signed timestamp is more than 5 minutes off")
    return when


def _fresh_body(sent_at: datetime | None, now: datetime, max_age: timedelta, p: str) -> None:
    if sent_at is not None and now - sent_at > max_age:
        raise Refused("stale", f"{p}: the event is older than {int(max_age.total_seconds())} s")


def _walk(value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield k, v
            yield from _walk(v)
    elif isinstance(value, list):
        for v in value:
            yield from _walk(v)


def _newest(payload: Any, keys: tuple[str, ...]) -> datetime | None:
    times = [t for k, v in _walk(payload) if k in keys and (t := _epoch(v)) is not None]
    return max(times) if times else None


# -- per platform ------------------------------------------------------------------------
def verify_meta(
    platform: str, headers: Mapping[str, str], body: bytes, settings: Settings, now: datetime
) -> Verified:
    key = _secret(settings.meta_app_secret, platform, "POSTIZ_META_APP_SECRET")
    offered = _headers(headers).get("x-hub-signature-256", "")
    if not offered.startswith("sha256="):
        raise Refused("missing_signature", f"{platform}: no X-Hub-Signature-256")
    expected = "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(offered.lower(), expected):
        raise Refused("bad_signature", f"{platform}: X-Hub-Signature-256 does not match")
    payload = _json(body)
    sent_at = _newest(payload, ("time",))
    max_age = timedelta(seconds=settings.inbound_webhook_max_age_seconds)
    _fresh_body(sent_at, now, max_age, platform)
    return Verified(platform, f"sha256:{_digest(body)}", sent_at, payload)


SIGNED_REQUEST_ALGORITHM = "HMAC-SHA256"


def _b64url(part: str) -> bytes:
    """Base64url without padding, as Meta sends it; ``binascii.Error`` when it is not."""
    return base64.b64decode(part + "=" * (-len(part) % 4), altchars=b"-_", validate=True)


def parse_signed_request(signed_request: str | None, app_secret: bytes, platform: str) -> Any:
    """The payload of a Meta ``signed_request`` once its signature holds (pure; constant-time
    compare), else ``Refused``: ``missing_signature`` when there is none, ``bad_algorithm``
    when the payload asks for anything but HMAC-SHA256, ``bad_signature`` when it is not
    two base64url parts, its payload is not a JSON object, or the HMAC does not match."""
    if not signed_request:
        raise Refused("missing_signature", f"{platform}: no signed_request")
    sig_part, dot, payload_part = signed_request.partition(".")
    if not dot or not sig_part or not payload_part:
        raise Refused("bad_signature", f"{platform}: signed_request is not <signature>.<payload>")
    try:
        signature, raw = _b64url(sig_part), _b64url(payload_part)
        payload = json.loads(raw)
    except (ValueError, UnicodeDecodeError):  # binascii.Error and JSONDecodeError included
        raise Refused(
            "bad_signature", f"{platform}: signed_request is not base64url JSON"
        ) from None
    if not isinstance(payload, dict):
        raise Refused("bad_signature", f"{platform}: the signed_request payload is not an object")
    algorithm = str(payload.get("algorithm") or "")
    if algorithm.upper() != SIGNED_REQUEST_ALGORITHM:
        raise Refused(
            "bad_algorithm",
            f"{platform}: signed_request algorithm {algorithm[:20] or 'missing'!r}; "
            f"only {SIGNED_REQUEST_ALGORITHM} is accepted",
        )
    expected = hmac.new(app_secret, payload_part.encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(signature, expected):
        raise Refused("bad_signature", f"{platform}: signed_request signature does not match")
    return payload


def verify_meta_signed_request(
    platform: str, form: Mapping[str, str], settings: Settings, now: datetime
) -> Verified:
    """A Meta deauthorize callback (form field ``signed_request``) verified with the app
    secret; its ``issued_at`` must be within the replay window."""
    if platform not in META_PLATFORMS:
        raise Refused("unknown_platform", f"no deauthorize callback for {platform!r}")
    key = _secret(settings.meta_app_secret, platform, "POSTIZ_META_APP_SECRET")
    signed = form.get("signed_request")
    payload = parse_signed_request(signed, key, platform)
    sent_at = _epoch(payload.get("issued_at"))
    max_age = timedelta(seconds=settings.inbound_webhook_max_age_seconds)
    _fresh_body(sent_at, now, max_age, platform)
    digest = hashlib.sha256(str(signed).encode()).hexdigest()
    return Verified(platform, f"signed_request:{digest}", sent_at, payload)


def meta_challenge(query: Mapping[str, str], settings: Settings) -> str:
    """The ``hub.challenge`` to echo for a subscription GET whose verify token matches."""
    token = _secret(settings.meta_webhook_verify_token, "meta", "POSTIZ_META_WEBHOOK_VERIFY_TOKEN")
    offered = query.get("hub.verify_token", "").encode()
    if query.get("hub.mode") != "subscribe" or not hmac.compare_digest(offered, token):
        raise Refused("bad_signature", "hub.verify_token does not match")
    return query.get("hub.challenge", "")


def verify_slack(
    headers: Mapping[str, str], body: bytes, settings: Settings, now: datetime
) -> Verified:
    key = _secret(settings.slack_signing_secret, "slack", "POSTIZ_SLACK_SIGNING_SECRET")
    h = _headers(headers)
    offered = h.get("x-slack-signature", "")
    if not offered.startswith("v0="):
        raise Refused("missing_signature", "slack: no X-Slack-Signature")
    ts = h.get("x-slack-request-timestamp", "")
    sent_at = _fresh_signed(ts, now, "slack")
    base = b"v0:" + ts.encode() + b":" + body
    expected = "v0=" + hmac.new(key, base, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(offered, expected):
        raise Refused("bad_signature", "slack: X-Slack-Signature does not match")
    payload = _json(body)
    event_id = payload.get("event_id") if isinstance(payload, dict) else None
    return Verified(
        "slack", f"event:{event_id}" if event_id else f"sig:{offered}", sent_at, payload
    )


def x_crc_response(crc_token: str, settings: Settings) -> str:
    """The ``response_token`` answering X's CRC check."""
    key = _secret(settings.x_consumer_secret, "x", "POSTIZ_X_CONSUMER_SECRET")
    mac = hmac.new(key, crc_token.encode(), hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(mac).decode()


def verify_x(
    headers: Mapping[str, str], body: bytes, settings: Settings, now: datetime
) -> Verified:
    key = _secret(settings.x_consumer_secret, "x", "POSTIZ_X_CONSUMER_SECRET")
    offered = _headers(headers).get("x-twitter-webhooks-signature", "")
    if not offered.startswith("sha256="):
        raise Refused("missing_signature", "x: no x-twitter-webhooks-signature")
    expected = "sha256=" + base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode()
    if not hmac.compare_digest(offered, expected):
        raise Refused("bad_signature", "x: x-twitter-webhooks-signature does not match")
    payload = _json(body)
    sent_at = _newest(payload, ("timestamp_ms", "created_timestamp"))
    _fresh_body(sent_at, now, timedelta(seconds=settings.inbound_webhook_max_age_seconds), "x")
    return Verified("x", f"sha256:{_digest(body)}", sent_at, payload)


def verify_telegram(
    headers: Mapping[str, str], body: bytes, settings: Settings, now: datetime
) -> Verified:
    key = _secret(settings.telegram_webhook_secret, "telegram", "POSTIZ_TELEGRAM_WEBHOOK_SECRET")
    offered = _headers(headers).get("x-telegram-bot-api-secret-token")
    if not offered:
        raise Refused("missing_signature", "telegram: no X-Telegram-Bot-Api-Secret-Token")
    if not hmac.compare_digest(offered.encode(), key):
        raise Refused("bad_signature", "telegram: the secret token does not match")
    payload = _json(body)
    sent_at = _newest(payload, ("date",))
    max_age = timedelta(seconds=settings.inbound_webhook_max_age_seconds)
    _fresh_body(sent_at, now, max_age, "telegram")
    update_id = payload.get("update_id") if isinstance(payload, dict) else None
    key_text = f"update:{update_id}" if update_id is not None else f"sha256:{_digest(body)}"
    return Verified("telegram", key_text, sent_at, payload)


def verify_discord(
    headers: Mapping[str, str], body: bytes, settings: Settings, now: datetime
) -> Verified:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    if not settings.discord_public_key:
        raise Refused("not_configured", "discord webhooks are not configured")
    h = _headers(headers)
    signature, ts = h.get("x-signature-ed25519", ""), h.get("x-signature-timestamp", "")
    if not signature:
        raise Refused("missing_signature", "discord: no X-Signature-Ed25519")
    sent_at = _fresh_signed(ts, now, "discord")
    try:
        key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(settings.discord_public_key))
        key.verify(bytes.fromhex(signature), ts.encode() + body)
    except (InvalidSignature, ValueError):
        raise Refused("bad_signature", "discord: X-Signature-Ed25519 does not verify") from None
    return Verified("discord", f"sig:{signature.lower()}", sent_at, _json(body))


def verify(
    platform: str, headers: Mapping[str, str], body: bytes, settings: Settings, now: datetime
) -> Verified:
    """The verified call, or ``Refused``; an unknown platform is refused as well."""
    if platform in META_PLATFORMS:
        return verify_meta(platform, headers, body, settings, now)
    if platform == "slack":
        return verify_slack(headers, body, settings, now)
    if platform == "x":
        return verify_x(headers, body, settings, now)
    if platform == "telegram":
        return verify_telegram(headers, body, settings, now)
    if platform == "discord":
        return verify_discord(headers, body, settings, now)
    raise Refused("unknown_platform", f"no incoming webhooks for {platform!r}")
