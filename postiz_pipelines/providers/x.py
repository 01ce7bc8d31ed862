"""X (API v2): posts with up to four images, one GIF or one video, threads as replies,
OAuth 2.0 user tokens refreshed with rotating refresh tokens.

Media uploads (one request for images, chunks and status polling for GIFs and video) are
in ``x_media.py``.

The account: ``external_id`` the user id, ``handle`` the username, ``access_token`` the
OAuth 2.0 user token (2 hours), ``refresh_token`` the refresh token (single use: every
refresh returns the next one). The OAuth client id comes from the provider
(``client_id``) or the account's ``settings["client_id"]``; with a ``client_secret`` the
refresh authenticates as a confidential client (HTTP Basic).

X offers no idempotency key and no cheap read of one's own recent posts, so an uncertain
outcome needs a person (``IdempotencyMode.NONE``). A 401 is ``AuthExpired`` when the
account has a refresh token (X does not say whether a token expired or was revoked), else
``AuthRevoked``; 403 duplicate content and other refusals are ``ContentRejected``; a
suspended or unpermitted account is ``AuthRevoked``.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any, ClassVar

import httpx

from postiz_pipelines.clock import Clock
from postiz_pipelines.crypto import Secret
from postiz_pipelines.errors import (
    AuthExpired,
    AuthRevoked,
    ContentRejected,
    MediaRejected,
    OutcomeUnknown,
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
    MediaLimits,
    PostContent,
    Provider,
    PublishResult,
    RateLimit,
    TokenSet,
    count_or_none,
    json_body,
    json_object,
    retry_after_seconds,
    transport_errors,
)
from postiz_pipelines.providers.oauth import client_refused, require_client, token_set
from postiz_pipelines.providers.text import x_count, x_weighted_length
from postiz_pipelines.providers.x_media import CHUNK_BYTES, MEDIA, PLATFORM, XMediaUploads

ALT_TEXT_LIMIT = 1000
MIN_VIDEO_RATIO, MAX_VIDEO_RATIO = 1 / 3, 3.0
REVOKING_WORDS = ("suspended", "not permitted", "locked")
# Which call failed decides the class of a 400/404: media, a post, or a token.
POST, TOKEN, READ = "post", "token", "read"
TWEETS_LOOKUP_MAX = 100  # GET /2/tweets takes at most 100 ids
METRICS = "public_metrics"

CAPABILITIES = Capabilities(
    platform=PLATFORM,
    text_limit=280,
    text_unit="weighted characters",
    count_text=x_weighted_length,
    # X media best practices (docs.x.com, "Media"): <=4 photos | 1 GIF | 1 video; image
    # <=5 MB (JPG/PNG/GIF/WEBP); GIF <=15 MB; video <=512 MB, 0.5-140 s, <=1280x1024,
    # <=60 fps, aspect 1:3-3:1, H.264 with AAC-LC.
    media=MediaLimits(
        max_items=4,
        image_types=frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"}),
        video_types=frozenset({"video/mp4", "video/quicktime"}),
        max_image_bytes=5 * 1024 * 1024,
        max_gif_bytes=15 * 1024 * 1024,
        max_video_bytes=512 * 1024 * 1024,
        min_video_seconds=0.5,
        max_video_seconds=140,
        max_videos=1,
        allow_mixed=False,
        max_video_width=1280,
        max_video_height=1024,
        max_video_fps=60,
        min_video_aspect=1 / 3,
        max_video_aspect=3.0,
    ),
    supports_threads=True,
    supports_refresh=True,
    idempotency=IdempotencyMode.NONE,
    rate_limit=RateLimit(requests=100, per_seconds=900),
)


class XProvider(XMediaUploads, Provider):
    """Publishes to X; see the module docstring."""

    capabilities: ClassVar[Capabilities] = CAPABILITIES
    supports_engagement: ClassVar[bool] = True
    default_base_url: ClassVar[str] = "https://api.x.com"

    def __init__(
        self,
        http: httpx.AsyncClient | None,
        *,
        base_url: str | None = None,
        client_id: str | None = None,
        client_secret: Secret | None = None,
        chunk_bytes: int = CHUNK_BYTES,
        poll_interval: float | None = None,
        max_polls: int = 120,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(http, base_url=base_url, clock=clock)
        self.client_id = client_id
        self.client_secret = client_secret
        self.chunk_bytes = chunk_bytes
        self.poll_interval = poll_interval
        self.max_polls = max_polls

    # -- validation (pure) -------------------------------------------------------------
    def validate(
        self, content: PostContent, account: AccountCredentials | None = None
    ) -> list[Problem]:
        """The shared checks (280 weighted characters), plus X's own: none of the characters
        twitter-text calls invalid, a GIF goes alone,
        a video's aspect ratio lies within 1:3 and 3:1, alt text is at most 1,000."""
        problems = super().validate(content, account)
        items = [("text", content.text)] + [
            (f"thread[{i}]", t) for i, t in enumerate(content.thread, start=1)
        ]
        for name, text in items:
            counted = x_count(text)
            if text and not counted.valid and counted.weighted_length <= self.text_limit(account):
                problems.append(
                    Problem(
                        f"{PLATFORM}.{name}",
                        f"{name} holds a character X refuses (U+FFFE, U+FEFF or U+FFFF)",
                    )
                )
        gifs = [m for m in content.media if m.is_gif]
        if gifs and len(content.media) > 1:
            problems.append(
                Problem(
                    f"{PLATFORM}.media", "a GIF must be the only media item", len(content.media), 1
                )
            )
        for i, media in enumerate(content.media):
            field = f"{PLATFORM}.media[{i}]"
            if media.kind == "video" and media.width and media.height:
                ratio = media.width / media.height
                if not MIN_VIDEO_RATIO - 1e-9 <= ratio <= MAX_VIDEO_RATIO + 1e-9:
                    problems.append(
                        Problem(
                            field,
                            f"video aspect ratio {ratio:.3f}, allowed 1:3 to 3:1",
                            round(ratio, 3),
                            "1:3-3:1",
                        )
                    )
            if len(media.alt_text) > ALT_TEXT_LIMIT:
                n = len(media.alt_text)
                problems.append(
                    Problem(
                        f"{field}.alt_text",
                        f"alt text is {n} characters, limit {ALT_TEXT_LIMIT}",
                        n,
                        ALT_TEXT_LIMIT,
                    )
                )
        return problems

    # -- tokens ------------------------------------------------------------------------
    async def exchange_code(self, code: str, *, redirect_uri: str, code_verifier: str) -> TokenSet:
        """Trade an authorization code (PKCE) for the account's first tokens."""
        fields = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": code_verifier,
        }
        return await self._token_request(fields, self.client_id)

    async def refresh(self, account: AccountCredentials) -> TokenSet:
        """Trade the refresh token for new tokens (the old refresh token stops working)."""
        if account.refresh_token is None:
            raise AuthRevoked(
                f"{PLATFORM}: no refresh token (was offline.access granted?); reconnect",
                platform=PLATFORM,
            )
        fields = {"grant_type": "refresh_token", "refresh_token": account.refresh_token.reveal()}
        client_id = self.client_id or account.settings.get("client_id")
        return await self._token_request(fields, client_id)

    async def _token_request(self, fields: dict[str, str], client_id: str | None) -> TokenSet:
        require_client(PLATFORM, client_id, None, secret=False)
        assert client_id is not None
        headers: dict[str, str] = {}
        if self.client_secret is not None:
            pair = f"{client_id}:{self.client_secret.reveal()}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        else:
            fields = {**fields, "client_id": client_id}
        with transport_errors(PLATFORM):
            response = await self.http.post(
                f"{self.base_url}/2/oauth2/token", data=fields, headers=headers
            )
        body = self._expect(response, TOKEN, None)
        access = body.get("access_token")
        if not access:
            raise TransientError(
                f"{PLATFORM}: token answer without an access token", platform=PLATFORM
            )
        return token_set(body, now=self.clock.now())

    async def me(self, account: AccountCredentials) -> dict[str, Any]:
        """The user the token acts for: ``{id, name, username}``."""
        response = await self._send("GET", account, "/2/users/me")
        data = self._expect(response, READ, account).get("data")
        if not isinstance(data, dict):
            raise TransientError(f"{PLATFORM}: unreadable user", platform=PLATFORM, status=200)
        return data

    # -- publishing --------------------------------------------------------------------
    async def publish(
        self, account: AccountCredentials, content: PostContent, *, idempotency_key: str
    ) -> PublishResult:
        """Upload the media, post, then post each thread item as a reply to the last."""
        media_ids = [await self._upload(account, media) for media in content.media]
        body: dict[str, Any] = {"text": content.text}
        if media_ids:
            body["media"] = {"media_ids": media_ids}
        first = await self._post(account, body)
        previous, thread_ids = first, []
        for text in content.thread:
            previous = await self._post(
                account, {"text": text, "reply": {"in_reply_to_tweet_id": previous}}
            )
            thread_ids.append(previous)
        return PublishResult(
            remote_id=first,
            url=f"https://x.com/{account.handle}/status/{first}",
            thread_ids=tuple(thread_ids),
            http_status=201,
        )

    async def engagement(
        self, account: AccountCredentials, remote_ids: Sequence[str]
    ) -> list[Engagement]:
        """``GET /2/tweets?ids=...&tweet.fields=public_metrics`` (100 ids a call): likes,
        reposts (quotes included), replies and impressions; an id in ``errors`` is deleted."""
        found: dict[str, dict[str, Any]] = {}
        ids = list(remote_ids)
        for i in range(0, len(ids), TWEETS_LOOKUP_MAX):
            params = {"ids": ",".join(ids[i : i + TWEETS_LOOKUP_MAX]), "tweet.fields": METRICS}
            response = await self._send("GET", account, "/2/tweets", params=params)
            data = self._expect(response, READ, account).get("data")
            for tweet in data if isinstance(data, list) else []:
                if isinstance(tweet, dict) and tweet.get("id"):
                    found[str(tweet["id"])] = tweet.get("public_metrics") or {}
        out = []
        for tweet_id in ids:
            metrics = found.get(tweet_id)
            if metrics is None:
                out.append(Engagement(tweet_id, found=False))
                continue
            reposts = count_or_none(metrics.get("retweet_count"))
            quotes = count_or_none(metrics.get("quote_count"))
            out.append(
                Engagement(
                    tweet_id,
                    likes=count_or_none(metrics.get("like_count")),
                    reposts=None if reposts is None else reposts + (quotes or 0),
                    replies=count_or_none(metrics.get("reply_count")),
                    views=count_or_none(metrics.get("impression_count")),
                )
            )
        return out

    async def _post(self, account: AccountCredentials, body: dict[str, Any]) -> str:
        response = await self._send("POST", account, "/2/tweets", json=body)
        if response.status_code not in (200, 201):
            raise self._error(response, POST, account)
        answer = json_body(response)
        data = answer.get("data") if isinstance(answer, dict) else None
        if not isinstance(data, dict) or not data.get("id"):
            # A 201 means the post exists; without its body we cannot say which it is.
            raise OutcomeUnknown(
                f"{PLATFORM}: post accepted but the answer was unreadable",
                platform=PLATFORM,
                status=response.status_code,
            )
        return str(data["id"])

    # -- HTTP --------------------------------------------------------------------------
    async def _send(
        self, method: str, account: AccountCredentials, path: str, **kwargs: Any
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {account.access_token.reveal()}"}
        with transport_errors(PLATFORM):
            return await self.http.request(
                method, self.base_url_for(account) + path, headers=headers, **kwargs
            )

    def _expect(
        self, response: httpx.Response, endpoint: str, account: AccountCredentials | None
    ) -> dict[str, Any]:
        if response.status_code not in (200, 201):
            raise self._error(response, endpoint, account)
        return json_object(PLATFORM, response)

    def _error(
        self, response: httpx.Response, endpoint: str, account: AccountCredentials | None
    ) -> ProviderError:
        """The error of a failed call, from its status and X's problem JSON (or OAuth's
        ``{error, error_description}`` at the token endpoint)."""
        status = response.status_code
        body = json_body(response)
        body = body if isinstance(body, dict) else {}
        errors = body.get("errors") if isinstance(body.get("errors"), list) else []
        first = errors[0] if errors and isinstance(errors[0], dict) else {}
        kind = str(body.get("type") or "")
        code = (
            body.get("error")
            or (kind.rsplit("/", 1)[-1] if kind.startswith("http") else None)
            or body.get("title")
        )
        reason = (
            first.get("message")
            or body.get("detail")
            or body.get("error_description")
            or body.get("title")
            or f"HTTP {status} {response.reason_phrase}".strip()
        )
        message = f"{PLATFORM}: {reason}"
        kw: dict[str, Any] = {"platform": PLATFORM, "status": status, "code": code}
        lowered = str(reason).lower()
        if status == 429:
            return RateLimited(message, retry_after=self._retry_after(response), **kw)
        if status >= 500:
            return TransientError(message, **kw)
        if endpoint == TOKEN and 400 <= status < 500:
            return client_refused(PLATFORM, code, status=status) or AuthRevoked(message, **kw)
        if status == 401:
            refreshable = account is not None and account.refresh_token is not None
            return (AuthExpired if refreshable else AuthRevoked)(message, **kw)
        if status == 403:
            if any(word in lowered for word in REVOKING_WORDS):
                return AuthRevoked(message, **kw)
            return ContentRejected(message, **kw)
        if endpoint == MEDIA and status in (400, 404, 413, 415):
            return MediaRejected(message, **kw)
        if endpoint == POST and status == 400:
            # Invalid requests name the parameters at fault; media ids make it the media's.
            parameters = first.get("parameters")
            parameters = parameters if isinstance(parameters, dict) else {}
            about_media = any(str(p).startswith("media") for p in parameters)
            return (MediaRejected if about_media else ContentRejected)(message, **kw)
        if 200 <= status < 300:
            return TransientError(f"{message} (unexpected answer)", **kw)
        return ProviderError(message, **kw)

    def _retry_after(self, response: httpx.Response) -> float | None:
        """The wait of the exhausted window: the app's 24-hour one when it is at zero."""
        now = self.clock.now()
        headers = response.headers
        for prefix in ("x-app-limit-24hour", "x-user-limit-24hour"):
            if headers.get(f"{prefix}-remaining") == "0" and headers.get(f"{prefix}-reset"):
                return retry_after_seconds(
                    {"x-rate-limit-reset": headers[f"{prefix}-reset"]}, now=now
                )
        return retry_after_seconds(headers, now=now)
