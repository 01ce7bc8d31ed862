"""Pinterest (API v5): one pin per post, an image or a video, on a board the target names.

The post's text is the pin's description (at most 500 characters); settings give
``board_id`` (else the account's default board, chosen at connect from the boards listed
then and kept in ``settings["boards"]``), ``board_section_id``, ``title`` (100) and ``link``
(2,048, http or https). The media's alt text is the pin's (500). An image goes by URL when
we serve it through a signed public link, else as base64 (PNG, JPEG, WebP, at most 20 MB).
A video is registered (``POST /v5/media``), sent to the returned upload URL with its
upload parameters, polled until ``succeeded``, and pinned with its id and a cover frame.

Pinterest answers ``x-ratelimit-remaining/-reset`` on every call; the engine's response hook
turns an exhausted window into a throttle, and a 429 waits for the reset. Apps with Trial
access make pins only their creator sees. Idempotency: lookup. The pin's private ``note``
carries the engine's key (``pz:`` + 16 hex digits); a try whose outcome is unknown first
reads the board's recent pins for it. Tokens: access 30 days, refresh a year, refreshed at
``/v5/oauth/token`` with the app's credentials in HTTP Basic.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import httpx

from postiz_pipelines.clock import Clock
from postiz_pipelines.crypto import Secret
from postiz_pipelines.errors import (
    AuthExpired,
    AuthRevoked,
    ContentRejected,
    MediaRejected,
    Problem,
    ProviderError,
    RateLimited,
    TransientError,
)
from postiz_pipelines.providers.base import (
    AccountCredentials,
    Capabilities,
    Engagement,
    IdempotencyMode,
    MediaFile,
    MediaLimits,
    PostContent,
    Provider,
    PublishResult,
    RateLimit,
    RemotePost,
    TokenSet,
    engagement_of,
    json_body,
    read_media,
    retry_after_seconds,
    transport_errors,
    upload_part,
)
from postiz_pipelines.providers.oauth import client_refused, require_client, token_set
from postiz_pipelines.providers.readback import parse_time
from postiz_pipelines.providers.text import characters

PLATFORM = "pinterest"
PRODUCTION_API = "https://api.pinterest.com"
TITLE_MAX = 100
ALT_MAX = 500
LINK_MAX = 2048
MEDIA_ENDPOINT = "media"
READ_ENDPOINT = "read"
ANALYTICS_DAYS = 89  # the range starts at most 90 days back
ANALYTICS_METRICS = "IMPRESSION,SAVE,PIN_CLICK,OUTBOUND_CLICK"

CAPABILITIES = Capabilities(
    platform=PLATFORM,
    text_limit=500,
    text_unit="characters",
    count_text=characters,
    media=MediaLimits(
        max_items=1,
        image_types=frozenset({"image/jpeg", "image/png", "image/webp"}),
        video_types=frozenset({"video/mp4", "video/quicktime"}),
        max_image_bytes=20 * 1024 * 1024,
        max_video_bytes=2 * 1024**3,
        min_video_seconds=4,
        max_video_seconds=15 * 60,
        requires_media=True,
        fetches_by_url=True,  # a signed link to our media when there is one, else base64
    ),
    supports_threads=False,
    supports_refresh=True,
    idempotency=IdempotencyMode.LOOKUP,
    rate_limit=RateLimit(requests=1000, per_seconds=86400),  # Trial access
)


def note_marker(idempotency_key: str) -> str:
    """What the pin's private note carries so a lookup recognises it."""
    return "pz:" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:16]


def board_for(content: PostContent, account: AccountCredentials | None) -> str:
    """The board a pin goes to: the target's ``board_id``, else the account's default."""
    chosen = content.settings.get("board_id")
    if not chosen and account is not None:
        chosen = account.settings.get("board_id")
    return str(chosen or "")


class PinterestProvider(Provider):
    """Publishes pins; see the module docstring. ``poll_interval`` seconds (on the clock)
    pass between ``max_polls`` polls of a video's processing."""

    capabilities: ClassVar[Capabilities] = CAPABILITIES
    default_base_url: ClassVar[str] = PRODUCTION_API
    supports_engagement: ClassVar[bool] = True

    def __init__(
        self,
        http: httpx.AsyncClient | None,
        *,
        base_url: str | None = None,
        client_id: str | None = None,
        client_secret: Secret | None = None,
        poll_interval: float = 3.0,
        max_polls: int = 100,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(http, base_url=base_url, clock=clock)
        self.client_id = client_id
        self.client_secret = client_secret
        self.poll_interval = poll_interval
        self.max_polls = max_polls

    def validate(
        self, content: PostContent, account: AccountCredentials | None = None
    ) -> list[Problem]:
        """The shared checks plus Pinterest's: a board (one of the account's, when they were
        listed at connect), the title, the link and the alt text."""
        p = PLATFORM
        problems = super().validate(content, account)
        board = board_for(content, account)
        boards = account.settings.get("boards") if account is not None else None
        if account is not None and not board:
            problems.append(
                Problem(f"{p}.board_id", "name the board to pin to (settings board_id)")
            )
        elif board and isinstance(boards, list) and boards:
            known = {str(b.get("id")): str(b.get("name")) for b in boards if isinstance(b, dict)}
            if board not in known:
                listed = ", ".join(f"{i} ({n})" for i, n in known.items())
                problems.append(
                    Problem(f"{p}.board_id", f"not one of the account's boards: {listed}", board)
                )
        title = str(content.settings.get("title") or "")
        if len(title) > TITLE_MAX:
            problems.append(
                Problem(
                    f"{p}.title",
                    f"title is {len(title)} characters, limit {TITLE_MAX}",
                    len(title),
                    TITLE_MAX,
                )
            )
        link = str(content.settings.get("link") or "")
        if len(link) > LINK_MAX:
            problems.append(
                Problem(
                    f"{p}.link",
                    f"link is {len(link)} characters, limit {LINK_MAX}",
                    len(link),
                    LINK_MAX,
                )
            )
        if link and not link.startswith(("http://", "https://")):
            problems.append(Problem(f"{p}.link", "must be an http or https URL", link))
        for i, m in enumerate(content.media):
            if len(m.alt_text) > ALT_MAX:
                problems.append(
                    Problem(
                        f"{p}.media[{i}].alt_text",
                        f"alt text is {len(m.alt_text)} characters, limit {ALT_MAX}",
                        len(m.alt_text),
                        ALT_MAX,
                    )
                )
        return problems

    # -- publishing ------------------------------------------------------------------------
    async def publish(
        self, account: AccountCredentials, content: PostContent, *, idempotency_key: str
    ) -> PublishResult:
        """Register and upload a video first (waiting until it succeeded), then the pin."""
        media = content.media[0]
        body: dict[str, Any] = {
            "board_id": board_for(content, account),
            "description": content.text,
            "note": note_marker(idempotency_key),
        }
        for name in ("title", "link", "board_section_id"):
            if content.settings.get(name):
                body[name] = str(content.settings[name])
        if media.alt_text:
            body["alt_text"] = media.alt_text
        if media.kind == "video":
            media_id = await self._upload_video(account, media)
            body["media_source"] = {
                "source_type": "video_id",
                "media_id": media_id,
                "cover_image_key_frame_time": 0,
            }
        elif media.public_url:
            body["media_source"] = {"source_type": "image_url", "url": media.public_url}
        else:
            data = base64.b64encode(read_media(PLATFORM, media)).decode()
            body["media_source"] = {
                "source_type": "image_base64",
                "content_type": media.mime_type,
                "data": data,
            }
        response = await self._send("POST", account, "/v5/pins", json=body)
        pin = json_body(response)
        if response.status_code != 201:
            raise self._error(response)
        if not isinstance(pin, dict) or not pin.get("id"):
            raise TransientError(
                f"{PLATFORM}: pin created without an id", platform=PLATFORM, status=201
            )
        return PublishResult(
            remote_id=str(pin["id"]),
            url=f"https://www.pinterest.com/pin/{pin['id']}/",
            http_status=201,
        )

    async def _upload_video(self, account: AccountCredentials, media: MediaFile) -> str:
        response = await self._send("POST", account, "/v5/media", json={"media_type": "video"})
        reg = json_body(response)
        if (
            response.status_code not in (200, 201)
            or not isinstance(reg, dict)
            or not reg.get("upload_url")
        ):
            raise self._error(response, MEDIA_ENDPOINT)
        fields = {str(k): str(v) for k, v in (reg.get("upload_parameters") or {}).items()}
        with transport_errors(PLATFORM):
            # the upload URL is pre-signed storage: our token must not travel there
            upload = await self.http.post(
                str(reg["upload_url"]),
                data=fields,
                files={"file": upload_part(PLATFORM, media)},
            )
        if upload.status_code not in (200, 201, 204):
            raise MediaRejected(
                f"{PLATFORM}: the video upload was refused (HTTP {upload.status_code})",
                platform=PLATFORM,
                status=upload.status_code,
            )
        media_id = str(reg["media_id"])
        for attempt in range(self.max_polls):
            if attempt:
                await self.clock.sleep_until(
                    self.clock.now() + timedelta(seconds=self.poll_interval)
                )
            response = await self._send("GET", account, f"/v5/media/{media_id}")
            status = (
                (json_body(response) or {}).get("status") if response.status_code == 200 else None
            )
            if response.status_code != 200:
                raise self._error(response, MEDIA_ENDPOINT)
            if status == "succeeded":
                return media_id
            if status == "failed":
                raise MediaRejected(
                    f"{PLATFORM}: video {media_id} failed processing",
                    platform=PLATFORM,
                    status=200,
                    code="failed",
                )
        raise TransientError(
            f"{PLATFORM}: video {media_id} still processing after {self.max_polls} polls",
            platform=PLATFORM,
            status=200,
        )

    # -- boards and lookup -------------------------------------------------------------------
    async def list_boards(self, account: AccountCredentials) -> list[dict[str, str]]:
        """The account's boards (``id``, ``name``), to choose from at connect."""
        response = await self._send("GET", account, "/v5/boards", params={"page_size": "100"})
        body = json_body(response)
        if response.status_code != 200 or not isinstance(body, dict):
            raise self._error(response)
        return [
            {"id": str(b["id"]), "name": str(b.get("name") or "")} for b in body.get("items") or []
        ]

    async def find_recent(
        self, account: AccountCredentials, *, since: datetime, text: str, idempotency_key: str
    ) -> RemotePost | None:
        """A recent pin whose note carries this job's key, on the account's default board or
        another board listed at connect (a target may name any of them; at most five)."""
        boards = [str(account.settings.get("board_id") or "")]
        boards += [
            str(b.get("id")) for b in account.settings.get("boards") or [] if isinstance(b, dict)
        ]
        marker = note_marker(idempotency_key)
        for board in list(dict.fromkeys(b for b in boards if b))[:5]:
            response = await self._send(
                "GET", account, f"/v5/boards/{board}/pins", params={"page_size": "50"}
            )
            body = json_body(response)
            if response.status_code != 200 or not isinstance(body, dict):
                raise self._error(response)
            for pin in body.get("items") or []:
                if pin.get("note") == marker:
                    return RemotePost(
                        str(pin["id"]),
                        f"https://www.pinterest.com/pin/{pin['id']}/",
                        str(pin.get("description") or ""),
                        parse_time(pin.get("created_at")),
                    )
        return None

    # -- engagement ----------------------------------------------------------------------------
    async def engagement(
        self, account: AccountCredentials, remote_ids: Sequence[str]
    ) -> list[Engagement]:
        """``GET /v5/pins/{id}/analytics`` over the last 90 days (UTC), one call a pin:
        impressions are views and saves reposts (pin and outbound clicks have no place in
        the shape; Pinterest exposes no likes or comments); a 404 is a deleted pin."""
        end = self.clock.now().astimezone(UTC).date()
        params = {
            "start_date": (end - timedelta(days=ANALYTICS_DAYS)).isoformat(),
            "end_date": end.isoformat(),
            "metric_types": ANALYTICS_METRICS,
        }
        out = []
        for pin_id in remote_ids:
            response = await self._send(
                "GET", account, f"/v5/pins/{pin_id}/analytics", params=params
            )
            body = json_body(response)
            if response.status_code == 404:
                out.append(Engagement(pin_id, found=False))
                continue
            if response.status_code != 200 or not isinstance(body, dict):
                raise self._error(response, READ_ENDPOINT)
            summary = (body.get("all") or {}).get("summary_metrics") or {}
            out.append(engagement_of(pin_id, summary, {"reposts": "SAVE", "views": "IMPRESSION"}))
        return out

    # -- tokens --------------------------------------------------------------------------------
    async def refresh(self, account: AccountCredentials) -> TokenSet:
        """A new access token; the refresh token is kept unless Pinterest sends a new one."""
        require_client(PLATFORM, self.client_id, self.client_secret)
        if account.refresh_token is None or not self.client_id or not self.client_secret:
            raise AuthRevoked(
                f"{PLATFORM}: no refresh token; reconnect {account.handle}", platform=PLATFORM
            )
        basic = base64.b64encode(
            f"{self.client_id}:{self.client_secret.reveal()}".encode()
        ).decode()
        form = {"grant_type": "refresh_token", "refresh_token": account.refresh_token.reveal()}
        with transport_errors(PLATFORM):
            response = await self.http.post(
                f"{self.base_url_for(account)}/v5/oauth/token",
                data=form,
                headers={"Authorization": f"Basic {basic}"},
            )
        body = json_body(response)
        if response.status_code == 200 and isinstance(body, dict) and body.get("access_token"):
            return token_set(body, now=self.clock.now())
        if response.status_code >= 500:
            raise TransientError(
                f"{PLATFORM}: token refresh failed (HTTP {response.status_code})",
                platform=PLATFORM,
                status=response.status_code,
            )
        code = (body or {}).get("code") if isinstance(body, dict) else None
        error = (body or {}).get("error") if isinstance(body, dict) else None
        refused = client_refused(PLATFORM, error or code, status=response.status_code)
        if refused is not None:
            raise refused
        raise AuthRevoked(
            f"{PLATFORM}: token refresh refused; reconnect {account.handle}",
            platform=PLATFORM,
            status=response.status_code,
            code=(body or {}).get("code") if isinstance(body, dict) else None,
        )

    # -- HTTP ----------------------------------------------------------------------------------
    async def _send(
        self, method: str, account: AccountCredentials, path: str, **kwargs: Any
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {account.access_token.reveal()}"}
        with transport_errors(PLATFORM):
            return await self.http.request(
                method, self.base_url_for(account) + path, headers=headers, **kwargs
            )

    def _error(self, response: httpx.Response, endpoint: str = "") -> ProviderError:
        status = response.status_code
        body = json_body(response)
        body = body if isinstance(body, dict) else {}
        message = f"{PLATFORM}: {body.get('message') or f'HTTP {status}'}"
        kw: dict[str, Any] = {"platform": PLATFORM, "status": status, "code": body.get("code")}
        if status == 429:
            retry = retry_after_seconds(response.headers, now=self.clock.now())
            return RateLimited(message, retry_after=60.0 if retry is None else retry, **kw)
        if status >= 500:
            return TransientError(message, **kw)
        if status == 401:
            return AuthExpired(message, **kw)
        if status == 403:
            return AuthRevoked(f"{message} (reconnect with the pins:write scope)", **kw)
        if endpoint == READ_ENDPOINT:
            return ProviderError(f"{message} (reading a pin's analytics)", **kw)
        if (
            endpoint == MEDIA_ENDPOINT
            or "URL" in message
            or "image" in message
            or "video" in message
        ):
            return MediaRejected(message, **kw)
        if 400 <= status < 500:
            return ContentRejected(message, **kw)
        return TransientError(f"{message} (unexpected answer)", **kw)
