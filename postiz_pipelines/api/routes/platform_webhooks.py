"""Incoming platform webhooks: ``POST /api/postiz/webhooks/{platform}`` (and the GET
handshakes: Meta's ``hub.challenge``, X's CRC), and Meta's deauthorize callback
``POST /api/postiz/webhooks/{facebook|instagram|threads}/deauthorize`` (a form with a
``signed_request``; a bad, missing or wrong-algorithm one is 401).

Each platform's signature is verified first (``core/observability/inbound_signatures.py``):
a bad, missing or stale signature is 401 and writes nothing but a counter; a replay is 409.
An accepted call writes ``webhook_received`` and applies what it tells in one transaction.
Secrets come from POSTIZ_META_APP_SECRET, POSTIZ_META_WEBHOOK_VERIFY_TOKEN,
POSTIZ_SLACK_SIGNING_SECRET, POSTIZ_X_CONSUMER_SECRET, POSTIZ_TELEGRAM_WEBHOOK_SECRET and
POSTIZ_DISCORD_PUBLIC_KEY; a platform left unconfigured refuses every call.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from postiz_pipelines.api.deps import State
from postiz_pipelines.api.problems import problem_response
from postiz_pipelines.api.routes.metrics import metrics_of
from postiz_pipelines.core.observability import inbound
from postiz_pipelines.core.observability.inbound_signatures import (
    META_PLATFORMS,
    PLATFORMS,
    Refused,
    Verified,
    meta_challenge,
    verify,
    verify_meta_signed_request,
    x_crc_response,
)

router = APIRouter(prefix="/api/postiz/webhooks", tags=["platform webhooks"])


def _refused(request: Request, platform: str, exc: Refused) -> Response:
    metrics_of(request).inbound.labels(platform, exc.reason).inc()
    if exc.reason == "unknown_platform":
        return problem_response(404, exc.detail)
    return problem_response(401, exc.detail)


@router.get(
    "/{platform}",
    summary="Subscription handshake (Meta hub.challenge, X CRC)",
    responses={
        200: {"content": {"text/plain": {}}, "description": "Meta: the challenge; X: JSON"},
        401: {"description": "a wrong verify token or an unconfigured platform"},
        405: {"description": "the platform has no GET handshake"},
    },
)
def handshake(platform: str, request: Request, st: State) -> Response:
    query = dict(request.query_params)
    try:
        if platform in META_PLATFORMS:
            return PlainTextResponse(meta_challenge(query, st.app.settings))
        if platform == "x" and "crc_token" in query:
            token = x_crc_response(query["crc_token"], st.app.settings)
            return JSONResponse({"response_token": token})
    except Refused as exc:
        return _refused(request, platform, exc)
    if platform not in PLATFORMS:
        return problem_response(404, f"no incoming webhooks for {platform!r}")
    return problem_response(405, f"{platform} webhooks have no GET handshake")


@router.post(
    "/{platform}/deauthorize",
    summary="Meta's deauthorize callback (signed_request verified)",
    responses={
        401: {"description": "a bad, missing, stale or wrong-algorithm signed_request"},
        404: {"description": "not a Meta platform"},
        409: {"description": "a replay of a callback already received"},
    },
)
async def deauthorize(platform: str, request: Request, st: State) -> Response:
    """Verified and recorded as ``webhook_received`` (payload ``callback: deauthorize``, the
    app-scoped ``user_id``); what it does to the account is ``inbound``'s to apply."""
    form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
    try:
        verified = verify_meta_signed_request(platform, form, st.app.settings, st.now())
    except Refused as exc:
        return _refused(request, platform, exc)
    return _record(
        request, st, replace(verified, payload={**verified.payload, "callback": "deauthorize"})
    )


def _record(request: Request, st: State, verified: Verified) -> Response:
    window = timedelta(seconds=st.app.settings.inbound_webhook_max_age_seconds)
    try:
        with st.app.db.session() as s:
            done = inbound.receive(s, verified, now=st.now(), window=window)
    except inbound.Replayed:
        metrics_of(request).inbound.labels(verified.platform, "replayed").inc()
        return problem_response(409, f"{verified.platform}: this call was already received")
    metrics_of(request).inbound.labels(verified.platform, "accepted").inc()
    return JSONResponse({"received": True, "actions": done})


@router.post(
    "/{platform}",
    summary="An incoming platform webhook (signature verified)",
    responses={
        204: {"description": "Discord: an event received"},
        401: {"description": "a bad, missing or stale signature"},
        409: {"description": "a replay of a call already received"},
    },
)
async def receive(platform: str, request: Request, st: State) -> Response:
    body = await request.body()
    now = st.now()
    settings = st.app.settings
    try:
        verified = verify(platform, request.headers, body, settings, now)
    except Refused as exc:
        return _refused(request, platform, exc)
    payload = verified.payload if isinstance(verified.payload, dict) else {}
    window = timedelta(seconds=settings.inbound_webhook_max_age_seconds)
    try:
        with st.app.db.session() as s:
            done = inbound.receive(s, verified, now=now, window=window)
    except inbound.Replayed:
        metrics_of(request).inbound.labels(platform, "replayed").inc()
        return problem_response(409, f"{platform}: this call was already received")
    metrics_of(request).inbound.labels(platform, "accepted").inc()
    if platform == "slack" and payload.get("type") == "url_verification":
        return JSONResponse({"challenge": payload.get("challenge")})
    if platform == "discord" and payload.get("type") == 1 and "event" not in payload:
        return JSONResponse({"type": 1})  # an interaction PING answers PONG
    if platform == "discord":
        return Response(status_code=204)
    return JSONResponse({"received": True, "actions": done})
