"""Bluesky (AT Protocol): posts with link and mention facets, up to four images or one
video, threads as replies (root + parent strong refs), sessions refreshed by rotation.

What the account keeps (``AccountCredentials``): ``handle`` the Bluesky handle,
``external_id`` the DID (the repo every record is written to), ``access_token`` the
session's access JWT (2 hours), ``refresh_token`` its refresh JWT (90 days; every refresh
returns a new one and revokes the old), ``token_expires_at`` the access JWT's ``exp``,
``base_url`` the account's PDS from the session's DID document (None: the provider's base,
``https://bsky.social``, which routes to it). The app password is used once, by
``login()`` when the account is connected, and never stored; when the refresh JWT is
refused the account must be connected again.

Never post twice: every record is created at a record key derived from the idempotency
key (``atproto.record_key_for``; thread items use ``{key}:{i}``). When the PDS answers
that the record exists (400 ``RecordAlreadyExists``, or 500 on PDS versions before that
error), or fails with a 5xx, the provider reads the record at that key with ``getRecord``
and, when it holds the same text, takes it as the post it made. When the record exists but
that read fails, the outcome is unknown (``OutcomeUnknown``, retried), never a refusal.

Video goes through the video service: ``getServiceAuth`` (aud ``did:web:<PDS host>``, lxm
``com.atproto.repo.uploadBlob``), ``uploadVideo``, then ``getJobStatus`` until the job
carries a blob (409 ``already_exists`` names the job of the same bytes). The service URL is
``video_base_url``; by default ``https://video.bsky.app`` beside the production base URL,
else ``<base_url>/video`` (the sandbox's layout).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar

import httpx

from postiz_pipelines.clock import Clock, ensure_utc
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
from postiz_pipelines.providers.atproto import (
    POST_COLLECTION,
    AtUri,
    find_spans,
    is_language_tag,
    link_facet,
    mention_facet,
    record_key_for,
    tag_facet,
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
    RemotePost,
    count_or_none,
    json_body,
    json_object,
    retry_after_seconds,
    transport_errors,
)
from postiz_pipelines.providers.bluesky_media import MEDIA, PLATFORM, BlueskyMediaSteps
from postiz_pipelines.providers.bluesky_session import SESSION, BlueskySession, BlueskySessions
from postiz_pipelines.providers.readback import parse_time, same_text
from postiz_pipelines.providers.text import graphemes

__all__ = ["CAPABILITIES", "BlueskyProvider", "BlueskySession"]

PRODUCTION_VIDEO_URL = "https://video.bsky.app"
MAX_TEXT_BYTES = 3000
MAX_LANGS = 3
REVOKED_CODES = frozenset({"AccountTakedown", "AccountDeactivated", "AccountSuspended"})
EXPIRED_CODES = frozenset({"ExpiredToken", "InvalidToken"})
# Which call failed decides the class of a 400: a blob or video, a record, or a session.
RECORD, READ = "record", "read"
GET_POSTS_MAX = 25  # app.bsky.feed.getPosts takes at most 25 URIs

CAPABILITIES = Capabilities(
    platform=PLATFORM,
    text_limit=300,
    text_unit="graphemes",
    count_text=graphemes,
    # AT Protocol lexicons: app.bsky.embed.images (<=4, blob maxSize 2,000,000 bytes since
    # April 2026, 1,000,000 before) and app.bsky.embed.video (video/mp4, 100 MB).
    media=MediaLimits(
        max_items=4,
        image_types=frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"}),
        video_types=frozenset({"video/mp4"}),
        max_image_bytes=2_000_000,
        max_video_bytes=100_000_000,
        max_video_seconds=180,
        max_videos=1,
        allow_mixed=False,
    ),
    supports_threads=True,
    supports_refresh=True,
    idempotency=IdempotencyMode.DETERMINISTIC_ID,
    # 5,000 write points an hour, 3 per created record.
    rate_limit=RateLimit(requests=1666, per_seconds=3600),
)


class BlueskyProvider(BlueskySessions, BlueskyMediaSteps, Provider):
    """Publishes to Bluesky; see the module docstring.

    ``poll_interval`` seconds pass between video job polls, at most ``max_polls`` times;
    ``clock`` dates records and reads rate-limit resets against the caller's "now".
    """

    capabilities: ClassVar[Capabilities] = CAPABILITIES
    supports_engagement: ClassVar[bool] = True
    default_base_url: ClassVar[str] = "https://bsky.social"

    def __init__(
        self,
        http: httpx.AsyncClient | None,
        *,
        base_url: str | None = None,
        video_base_url: str | None = None,
        poll_interval: float = 1.0,
        max_polls: int = 120,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(http, base_url=base_url, clock=clock)
        production = self.base_url == self.default_base_url
        default_video = PRODUCTION_VIDEO_URL if production else f"{self.base_url}/video"
        self.video_base_url = (video_base_url or default_video).rstrip("/")
        self.poll_interval = poll_interval
        self.max_polls = max_polls

    # -- validation (pure) -------------------------------------------------------------
    def validate(
        self, content: PostContent, account: AccountCredentials | None = None
    ) -> list[Problem]:
        """The shared checks (300 graphemes), plus the lexicon's 3,000 UTF-8 bytes per text
        and at most three ``langs``, each a BCP-47 tag."""
        problems = super().validate(content, account)
        items = [("text", content.text)] + [
            (f"thread[{i}]", t) for i, t in enumerate(content.thread, start=1)
        ]
        for name, text in items:
            n = len(text.encode("utf-8"))
            if n > MAX_TEXT_BYTES:
                problems.append(
                    Problem(
                        f"{PLATFORM}.{name}",
                        f"{name} is {n} UTF-8 bytes, limit {MAX_TEXT_BYTES}",
                        n,
                        MAX_TEXT_BYTES,
                    )
                )
        langs = _langs(content, account)
        for i, lang in enumerate(langs):
            if not is_language_tag(lang):
                problems.append(
                    Problem(
                        f"{PLATFORM}.langs[{i}]",
                        f"{lang!r} is not a BCP-47 language tag (like en, pt-BR, zh-Hant)",
                        lang,
                    )
                )
        if len(langs) > MAX_LANGS:
            problems.append(
                Problem(
                    f"{PLATFORM}.langs",
                    f"{len(langs)} languages, limit {MAX_LANGS}",
                    len(langs),
                    MAX_LANGS,
                )
            )
        return problems

    # -- publishing --------------------------------------------------------------------
    async def publish(
        self, account: AccountCredentials, content: PostContent, *, idempotency_key: str
    ) -> PublishResult:
        """Upload the media, create the post, then each thread item as a reply to the last."""
        did = await self._did(account)
        embed = await self._embed(account, did, content.media)
        refs: list[dict[str, str]] = []
        for i, text in enumerate((content.text, *content.thread)):
            record: dict[str, Any] = {
                "$type": POST_COLLECTION,
                "text": text,
                "createdAt": _iso(self.clock.now()),
            }
            if langs := _langs(content, account):
                record["langs"] = langs
            if facets := await self._facets(account, text):
                record["facets"] = facets
            if i == 0 and embed:
                record["embed"] = embed
            if refs:
                record["reply"] = {"root": refs[0], "parent": refs[-1]}
            key = idempotency_key if i == 0 else f"{idempotency_key}:{i}"
            refs.append(await self._create(account, did, record, record_key_for(key)))
        first = AtUri.parse(refs[0]["uri"])
        return PublishResult(
            remote_id=refs[0]["uri"],
            url=f"https://bsky.app/profile/{first.repo}/post/{first.rkey}",
            thread_ids=tuple(ref["uri"] for ref in refs[1:]),
            http_status=200,
        )

    async def find_recent(
        self, account: AccountCredentials, *, since: datetime, text: str, idempotency_key: str
    ) -> RemotePost | None:
        """The record at the idempotency key's record key, when it holds ``text``."""
        did = await self._did(account)
        rkey = record_key_for(idempotency_key)
        found = await self._get_record(account, did, rkey)
        if found is None or not same_text(str(found["value"].get("text", "")), text):
            return None
        created = parse_time(found["value"].get("createdAt"))
        url = f"https://bsky.app/profile/{did}/post/{rkey}"
        return RemotePost(str(found["uri"]), url, text, created)

    async def engagement(
        self, account: AccountCredentials, remote_ids: Sequence[str]
    ) -> list[Engagement]:
        """``app.bsky.feed.getPosts`` (25 URIs a call): like, repost (quotes included) and
        reply counts; a URI missing from the answer is a deleted post."""
        found: dict[str, dict[str, Any]] = {}
        ids = list(remote_ids)
        for i in range(0, len(ids), GET_POSTS_MAX):
            params = [("uris", uri) for uri in ids[i : i + GET_POSTS_MAX]]
            response = await self._send(
                "GET", account, "/xrpc/app.bsky.feed.getPosts", params=params
            )
            posts = self._expect(response, READ).get("posts")
            for post in posts if isinstance(posts, list) else []:
                if isinstance(post, dict) and post.get("uri"):
                    found[str(post["uri"])] = post
        out = []
        for uri in ids:
            post = found.get(uri)
            if post is None:
                out.append(Engagement(uri, found=False))
                continue
            reposts = count_or_none(post.get("repostCount"))
            quotes = count_or_none(post.get("quoteCount"))
            out.append(
                Engagement(
                    uri,
                    likes=count_or_none(post.get("likeCount")),
                    reposts=None if reposts is None else reposts + (quotes or 0),
                    replies=count_or_none(post.get("replyCount")),
                )
            )
        return out

    # -- steps -------------------------------------------------------------------------
    async def _did(self, account: AccountCredentials) -> str:
        if account.external_id:
            return account.external_id
        response = await self._send("GET", account, "/xrpc/com.atproto.server.getSession")
        return str(self._expect(response, READ)["did"])

    async def _facets(self, account: AccountCredentials, text: str) -> list[dict[str, Any]]:
        facets = []
        for span in find_spans(text):
            if span.kind == "link":
                facets.append(link_facet(span))
                continue
            if span.kind == "tag":
                facets.append(tag_facet(span))
                continue
            response = await self._send(
                "GET",
                account,
                "/xrpc/com.atproto.identity.resolveHandle",
                params={"handle": span.value},
            )
            body = json_body(response) if response.status_code == 400 else None
            if isinstance(body, dict) and body.get("error") == "InvalidRequest":
                continue  # no such handle: the mention stays plain text, as the app does
            did = self._expect(response, READ).get("did")
            if did:
                facets.append(mention_facet(span, str(did)))
        return facets

    async def _create(
        self, account: AccountCredentials, did: str, record: dict[str, Any], rkey: str
    ) -> dict[str, str]:
        body = {"repo": did, "collection": POST_COLLECTION, "rkey": rkey, "record": record}
        response = await self._send(
            "POST", account, "/xrpc/com.atproto.repo.createRecord", json=body
        )
        if response.status_code == 200:
            created = json_body(response)
            if not isinstance(created, dict) or not created.get("uri") or not created.get("cid"):
                raise OutcomeUnknown(
                    f"{PLATFORM}: record accepted but the answer was unreadable",
                    platform=PLATFORM,
                    status=200,
                )
            return {"uri": str(created["uri"]), "cid": str(created["cid"])}
        error = self._error(response, RECORD)
        if error.code != "RecordAlreadyExists" and type(error) is not TransientError:
            raise error
        try:
            existing = await self._get_record(account, did, rkey)
        except ProviderError as exc:
            if error.code != "RecordAlreadyExists":
                raise error from None  # a 5xx, and the PDS still failing: retry as it was
            # A record stands at our key and could not be read: whether it is this post is
            # unknown, never a refusal. A retry with the same key reads it again.
            raise OutcomeUnknown(
                f"{PLATFORM}: {error.message}; reading the record at {rkey} back failed: "
                f"{exc.message}",
                platform=PLATFORM,
                status=exc.status,
                code=exc.code,
            ) from None
        if existing is None:
            raise error
        if existing["value"].get("text") != record["text"]:
            raise ContentRejected(
                f"{PLATFORM}: record key {rkey} already holds a different post",
                platform=PLATFORM,
                status=error.status,
                code="RecordAlreadyExists",
            )
        return {"uri": str(existing["uri"]), "cid": str(existing["cid"])}

    async def _get_record(
        self, account: AccountCredentials, did: str, rkey: str
    ) -> dict[str, Any] | None:
        params = {"repo": did, "collection": POST_COLLECTION, "rkey": rkey}
        response = await self._send(
            "GET", account, "/xrpc/com.atproto.repo.getRecord", params=params
        )
        if response.status_code == 400 and (json_body(response) or {}).get("error") in (
            "RecordNotFound",
            "NotFound",
        ):
            return None
        found = self._expect(response, READ)
        if not isinstance(found.get("value"), dict) or not found.get("uri"):
            raise TransientError(f"{PLATFORM}: unreadable record", platform=PLATFORM, status=200)
        return found

    # -- HTTP --------------------------------------------------------------------------
    async def _send(
        self,
        method: str,
        account: AccountCredentials,
        path: str,
        *,
        token: Secret | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        url = self.base_url_for(account) + path
        return await self._request(method, url, token=token or account.access_token, **kwargs)

    async def _request(
        self,
        method: str,
        url: str,
        *,
        token: Secret | None = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        all_headers = dict(headers or {})
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token.reveal()}"
        with transport_errors(PLATFORM):
            return await self.http.request(method, url, headers=all_headers, **kwargs)

    def _expect(
        self, response: httpx.Response, endpoint: str, ok: tuple[int, ...] = (200,)
    ) -> dict[str, Any]:
        if response.status_code not in ok:
            raise self._error(response, endpoint)
        return json_object(PLATFORM, response)

    def _error(self, response: httpx.Response, endpoint: str) -> ProviderError:
        """The error of a failed call, from its status and XRPC's ``{error, message}``."""
        status = response.status_code
        body = json_body(response)
        if isinstance(body, dict) and isinstance(body.get("jobStatus"), dict):
            body = body["jobStatus"]  # the video service wraps some of its refusals
        body = body if isinstance(body, dict) else {}
        code = body.get("error") or None
        reason = body.get("message") or code or f"HTTP {status} {response.reason_phrase}".strip()
        message = f"{PLATFORM}: {reason}"
        kw: dict[str, Any] = {"platform": PLATFORM, "status": status, "code": code}
        if status == 429:
            retry = retry_after_seconds(response.headers, now=self.clock.now())
            return RateLimited(message, retry_after=retry, **kw)
        if status >= 500:
            return TransientError(message, **kw)
        if code in REVOKED_CODES or (endpoint == SESSION and status == 401):
            return AuthRevoked(message, **kw)
        if code in EXPIRED_CODES or status == 401:
            return AuthExpired(message, **kw)
        if endpoint == MEDIA and 400 <= status < 500:
            return MediaRejected(message, **kw)
        if endpoint == RECORD and status == 400:
            if code == "BlobNotFound" or "Record/embed" in str(reason):
                return MediaRejected(message, **kw)
            return ContentRejected(message, **kw)
        if 200 <= status < 300:
            return TransientError(f"{message} (unexpected answer)", **kw)
        return ProviderError(message, **kw)


def _langs(content: PostContent, account: AccountCredentials | None) -> list[str]:
    """The post's ``langs``: its own (``langs`` or ``language``), else the account's
    ``language`` (which the core fills from the workspace's when the account has none);
    none at all leaves the record without ``langs``."""
    settings = content.settings
    langs = settings.get("langs")
    if langs is None and settings.get("language"):
        langs = [settings["language"]]
    if langs:
        return [str(x) for x in langs] if isinstance(langs, list | tuple) else [str(langs)]
    if account is not None and account.language:
        return [account.language]
    return []


def _iso(value: datetime) -> str:
    value = ensure_utc(value)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
