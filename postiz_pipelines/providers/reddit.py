"""Reddit: one submission per post to the subreddit the target names.

Settings: ``subreddit`` (required; an ``r/`` prefix is dropped), ``title`` (else the
text's first line; at most 300 characters, or the subreddit's own bounds), ``url`` (a link
post), ``flair_id``, ``nsfw``, ``spoiler``. With an image the post is an image post: the
file goes up through a media asset lease (``/api/media/asset.json``, then a multipart POST
to the lease's ``action`` URL, whose XML names the ``Location``) and that URL is submitted.
With neither, it is a text post whose body is the text (at most 40,000 characters).

Before submitting, the subreddit's post requirements (``/api/v1/{sr}/post_requirements``)
and flairs are read and the post is refused if it breaks them; the same rules saved on the
account (``settings["subreddit_rules"][sr]``, e.g. at connect) refuse it at creation.
Submissions answer HTTP 200 with ``json.errors`` entries ``[CODE, message, field]``:
``RATELIMIT`` waits the minutes it names, ``SUBREDDIT_NOEXIST``, ``NO_SELFS`` and the other
refusals are permanent. Every call sends the app's descriptive ``User-Agent`` (Reddit
throttles generic ones); ``X-Ratelimit-Remaining``/``-Reset`` feed the engine's throttles.

An image submission's answer has no post id (Reddit hands it over a websocket); the
account's newest submission with the same title is read back for it. Idempotency: lookup
of the account's recent submissions by subreddit and title. Tokens: web apps hold a
permanent refresh token (``duration=permanent``), refreshed at
``www.reddit.com/api/v1/access_token``; script apps (``settings["app_type"] == "script"``)
have none, and keep the account's password sealed in its place for the password grant.
"""

from __future__ import annotations

import base64
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
    retry_after_seconds,
    transport_errors,
)
from postiz_pipelines.providers.oauth import client_refused, require_client, token_set
from postiz_pipelines.providers.readback import parse_time, same_text
from postiz_pipelines.providers.reddit_media import upload_image
from postiz_pipelines.providers.reddit_rules import (
    TITLE_MAX,
    post_kind,
    rule_problems,
    submit_error,
    subreddit_of,
    title_of,
    truthy,
)
from postiz_pipelines.providers.text import characters

PLATFORM = "reddit"
PRODUCTION_API = "https://oauth.reddit.com"
PRODUCTION_OAUTH = "https://www.reddit.com"
VOTES = {"likes": "score", "reposts": "num_crossposts", "replies": "num_comments"}
DEFAULT_AGENT = "python:postiz-pipelines:0.1 (self-hosted scheduler)"

CAPABILITIES = Capabilities(
    platform=PLATFORM,
    text_limit=40_000,
    text_unit="characters",
    count_text=characters,
    media=MediaLimits(
        max_items=1,
        image_types=frozenset({"image/jpeg", "image/png", "image/gif"}),
        video_types=frozenset(),
        max_image_bytes=20 * 1024 * 1024,
        max_videos=0,
    ),
    supports_threads=False,
    supports_refresh=True,
    idempotency=IdempotencyMode.LOOKUP,
    rate_limit=RateLimit(requests=100, per_seconds=60),
)


class RedditProvider(Provider):
    """Submits to Reddit; see the module docstring."""

    capabilities: ClassVar[Capabilities] = CAPABILITIES
    default_base_url: ClassVar[str] = PRODUCTION_API
    supports_engagement: ClassVar[bool] = True

    def __init__(
        self,
        http: httpx.AsyncClient | None,
        *,
        base_url: str | None = None,
        oauth_base_url: str | None = None,
        client_id: str | None = None,
        client_secret: Secret | None = None,
        user_agent: str = DEFAULT_AGENT,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(http, base_url=base_url, clock=clock)
        production = self.base_url == PRODUCTION_API
        self.oauth_base_url = (
            oauth_base_url or (PRODUCTION_OAUTH if production else self.base_url)
        ).rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self.user_agent = user_agent

    def validate(
        self, content: PostContent, account: AccountCredentials | None = None
    ) -> list[Problem]:
        """The shared checks plus Reddit's: a subreddit, a title, a link's URL, and the
        subreddit's saved rules when the account has them."""
        p = PLATFORM
        problems = super().validate(content, account)
        sr = subreddit_of(content, account)
        if not sr:
            problems.append(
                Problem(f"{p}.subreddit", "name the subreddit to post to (settings subreddit)")
            )
        title = title_of(content)
        if not title:
            problems.append(Problem(f"{p}.title", "a title is required", 0, 1))
        elif len(title) > TITLE_MAX:
            problems.append(
                Problem(
                    f"{p}.title",
                    f"title is {len(title)} characters, limit {TITLE_MAX}",
                    len(title),
                    TITLE_MAX,
                )
            )
        url = str(content.settings.get("url") or "")
        if url and not url.startswith(("http://", "https://")):
            problems.append(Problem(f"{p}.url", "must be an http or https URL", url))
        if url and content.media:
            problems.append(Problem(f"{p}.url", "a post is a link or an image, not both"))
        saved = (account.settings.get("subreddit_rules") or {}) if account is not None else {}
        if isinstance(saved, dict) and isinstance(saved.get(sr), dict):
            problems += rule_problems(saved[sr], content)
        return problems

    # -- publishing ------------------------------------------------------------------------
    async def publish(
        self, account: AccountCredentials, content: PostContent, *, idempotency_key: str
    ) -> PublishResult:
        """Check the subreddit's rules, upload an image through its lease, then submit.

        What is about to be submitted (subreddit, title, when) is saved in the job's progress
        first; a later try of the job reads the account's submissions for it before
        submitting again, whatever title the target chose."""
        sr = subreddit_of(content, account)
        title = title_of(content)
        earlier = content.progress.get("submitting")
        if isinstance(earlier, dict):
            since = parse_time(earlier.get("at"))
            found = await self._recent(account, sr=sr, title=title, since=since)
            if found is not None:
                return PublishResult(remote_id=found.remote_id, url=found.url, http_status=200)
        refused = rule_problems(await self.subreddit_rules(account, sr), content)
        if refused:
            raise ContentRejected(
                f"{PLATFORM}: r/{sr}: " + "; ".join(x.message for x in refused),
                platform=PLATFORM,
                code="post_requirements",
            )
        kind = post_kind(content)
        form: dict[str, str] = {
            "api_type": "json",
            "sr": sr,
            "kind": kind,
            "title": title,
            "sendreplies": "true",
            "resubmit": "false",
        }
        if kind == "self":
            form["text"] = content.text
        elif kind == "link":
            form["url"] = str(content.settings["url"])
        else:
            form["url"] = await self._upload(account, content.media[0])
        for name in ("nsfw", "spoiler"):
            if truthy(content.settings.get(name)):
                form[name] = "true"
        if content.settings.get("flair_id"):
            form["flair_id"] = str(content.settings["flair_id"])
        # a minute of slack: Reddit's clock and ours may differ a little
        at = (self.clock.now() - timedelta(minutes=1)).isoformat()
        await content.save_progress({"submitting": {"sr": sr, "title": title, "at": at}})
        response = await self._send("POST", account, "/api/submit", data=form)
        data = self._json_data(response)
        if data.get("name"):
            return PublishResult(
                remote_id=str(data["name"]), url=str(data.get("url") or ""), http_status=200
            )
        # an image post's answer has no id: read the account's newest submission back
        found = await self._recent(account, sr=sr, title=title, since=None)
        if found is None:
            raise TransientError(
                f"{PLATFORM}: the image post was accepted but not found afterwards",
                platform=PLATFORM,
                status=200,
            )
        return PublishResult(remote_id=found.remote_id, url=found.url, http_status=200)

    async def subreddit_rules(self, account: AccountCredentials, sr: str) -> dict[str, Any]:
        """The subreddit's post requirements, with its link flairs under ``flairs``."""
        response = await self._send("GET", account, f"/api/v1/{sr}/post_requirements")
        body = json_body(response)
        if response.status_code == 404:
            raise ContentRejected(
                f"{PLATFORM}: r/{sr} does not exist",
                platform=PLATFORM,
                status=404,
                code="SUBREDDIT_NOEXIST",
            )
        if response.status_code != 200 or not isinstance(body, dict):
            raise self._error(response)
        flairs = await self._send("GET", account, f"/r/{sr}/api/link_flair_v2")
        listed = json_body(flairs)
        body["flairs"] = listed if flairs.status_code == 200 and isinstance(listed, list) else []
        return body

    async def _upload(self, account: AccountCredentials, media: MediaFile) -> str:
        return await upload_image(self.http, self._send, account, media)

    # -- lookup ------------------------------------------------------------------------------
    async def find_recent(
        self, account: AccountCredentials, *, since: datetime, text: str, idempotency_key: str
    ) -> RemotePost | None:
        """A recent submission of the account whose title is the post's first line, or whose
        body is the post's text (a target's own title is found by ``publish`` instead, from
        what it saved before submitting)."""
        title = text.strip().split("\n", 1)[0].strip()
        return await self._recent(account, sr=None, title=title, since=since, body=text)

    async def _recent(
        self,
        account: AccountCredentials,
        *,
        sr: str | None,
        title: str,
        since: datetime | None,
        body: str | None = None,
    ) -> RemotePost | None:
        """The account's newest submission (of the last 25) with this title or body."""
        response = await self._send(
            "GET",
            account,
            f"/user/{account.handle}/submitted",
            params={"limit": "25", "sort": "new"},
        )
        listing = json_body(response)
        if response.status_code != 200 or not isinstance(listing, dict):
            raise self._error(response)
        for child in (listing.get("data") or {}).get("children") or []:
            d = child.get("data") or {}
            created = datetime.fromtimestamp(float(d.get("created_utc") or 0), tz=UTC)
            if since is not None and created < since:
                continue
            same = d.get("title") == title or (
                bool(body) and same_text(str(d.get("selftext") or ""), body or "")
            )
            if same and (sr is None or d.get("subreddit") == sr):
                return RemotePost(
                    str(d["name"]),
                    f"https://www.reddit.com{d.get('permalink', '')}",
                    str(d.get("selftext") or ""),
                    created,
                )
        return None

    # -- engagement ---------------------------------------------------------------------------
    async def engagement(
        self, account: AccountCredentials, remote_ids: Sequence[str]
    ) -> list[Engagement]:
        """``GET /api/info?id=t3_...`` (100 fullnames a call): the score (up votes less down
        votes) as likes, comments as replies, crossposts as reposts (Reddit shows no views).
        A post left out of the answer, or deleted by its author (``[deleted]``), is gone."""
        ids = list(remote_ids)
        things: dict[str, dict[str, Any]] = {}
        for i in range(0, len(ids), 100):
            response = await self._send(
                "GET", account, "/api/info", params={"id": ",".join(ids[i : i + 100])}
            )
            listing = json_body(response)
            if response.status_code != 200 or not isinstance(listing, dict):
                raise self._error(response)
            for child in (listing.get("data") or {}).get("children") or []:
                d = child.get("data") if isinstance(child, dict) else None
                if isinstance(d, dict) and d.get("name"):
                    things[str(d["name"])] = d
        gone = ("deleted", "author")  # removed by its author: Reddit keeps a tombstone
        alive = {n: d for n, d in things.items() if d.get("removed_by_category") not in gone}
        return [engagement_of(name, alive.get(name), VOTES) for name in ids]

    # -- tokens -------------------------------------------------------------------------------
    async def refresh(self, account: AccountCredentials) -> TokenSet:
        """A new access token: the refresh grant (web apps) or the password grant (scripts)."""
        require_client(PLATFORM, self.client_id, self.client_secret)
        if account.refresh_token is None or not self.client_id or not self.client_secret:
            raise AuthRevoked(
                f"{PLATFORM}: no refresh token; reconnect {account.handle}", platform=PLATFORM
            )
        if account.settings.get("app_type") == "script":
            form = {
                "grant_type": "password",
                "username": account.handle,
                "password": account.refresh_token.reveal(),
            }
        else:
            form = {"grant_type": "refresh_token", "refresh_token": account.refresh_token.reveal()}
        basic = base64.b64encode(
            f"{self.client_id}:{self.client_secret.reveal()}".encode()
        ).decode()
        with transport_errors(PLATFORM):
            response = await self.http.post(
                f"{self.oauth_base_url}/api/v1/access_token",
                data=form,
                headers={"Authorization": f"Basic {basic}", "User-Agent": self.user_agent},
            )
        body = json_body(response)
        if response.status_code == 200 and isinstance(body, dict) and body.get("access_token"):
            tokens = token_set(body, now=self.clock.now())
            return TokenSet(tokens.access_token, None, tokens.expires_at)  # the refresh token stays
        if response.status_code >= 500 or response.status_code == 429:
            raise TransientError(
                f"{PLATFORM}: token refresh failed (HTTP {response.status_code})",
                platform=PLATFORM,
                status=response.status_code,
            )
        error = body.get("error") if isinstance(body, dict) else None
        refused = client_refused(PLATFORM, error, status=response.status_code)
        if refused is not None:
            raise refused
        raise AuthRevoked(
            f"{PLATFORM}: token refresh refused ({error or response.status_code}); reconnect",
            platform=PLATFORM,
            status=response.status_code,
            code=error,
        )

    # -- HTTP -------------------------------------------------------------------------------------
    async def _send(
        self, method: str, account: AccountCredentials, path: str, **kwargs: Any
    ) -> httpx.Response:
        headers = {
            "Authorization": f"Bearer {account.access_token.reveal()}",
            "User-Agent": self.user_agent,
        }
        with transport_errors(PLATFORM):
            return await self.http.request(
                method, self.base_url_for(account) + path, headers=headers, **kwargs
            )

    def _json_data(self, response: httpx.Response) -> dict[str, Any]:
        """``json.data`` of a submission, or the error its ``json.errors`` names."""
        body = json_body(response)
        if response.status_code != 200 or not isinstance(body, dict):
            raise self._error(response)
        inner = body.get("json") or {}
        errors = inner.get("errors") or []
        if errors:
            raise submit_error(errors[0])
        data = inner.get("data")
        if not isinstance(data, dict):
            raise TransientError(
                f"{PLATFORM}: unreadable submit answer", platform=PLATFORM, status=200
            )
        return data

    def _error(self, response: httpx.Response) -> ProviderError:
        status = response.status_code
        body = json_body(response)
        detail = body.get("message") if isinstance(body, dict) else None
        message = f"{PLATFORM}: {detail or f'HTTP {status}'}"
        kw: dict[str, Any] = {"platform": PLATFORM, "status": status}
        if status == 429:
            retry = retry_after_seconds(response.headers, now=self.clock.now())
            return RateLimited(message, retry_after=60.0 if retry is None else retry, **kw)
        if status >= 500:
            return TransientError(message, **kw)
        if status == 401:
            return AuthExpired(message, **kw)
        if status == 403:
            return AuthRevoked(
                f"{message} (the account is suspended or lacks the submit scope)", **kw
            )
        if 400 <= status < 500:
            return ContentRejected(message, **kw)
        return TransientError(f"{message} (unexpected answer)", **kw)
