"""The Meta Graph API client shared by the Facebook Pages, Instagram and Threads providers.

All three speak one dialect: versioned paths (``/v24.0/{node}/{edge}``: every call of a
provider uses its ``version``, for Facebook and Instagram the one setting
``POSTIZ_META_GRAPH_API_VERSION``, for Threads its own API's ``v1.0``), a bearer token,
JSON answers, and Graph errors, which ``meta_errors.classify`` maps onto errors.py. An
answer that cannot be read is a ``TransientError``, except from a call that publishes
(``PUBLISH``), where it is ``OutcomeUnknown``: the post may exist.

Instagram and Threads publish in two steps: a *container* (Meta downloads the media from
its public URL and processes it), polled until FINISHED, then a publish call; Facebook
posts in one. ``MetaGraphProvider`` holds the HTTP, polling, token refresh and look-back
plumbing; subclasses build the posts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar

import httpx

from postiz_pipelines.clock import Clock, ensure_utc
from postiz_pipelines.crypto import Secret
from postiz_pipelines.errors import MediaRejected, OutcomeUnknown, ProviderError, TransientError
from postiz_pipelines.providers.base import (
    AccountCredentials,
    MediaFile,
    Provider,
    RemotePost,
    TokenSet,
    json_body,
    json_object,
    transport_errors,
)
from postiz_pipelines.providers.meta_errors import (
    MEDIA,
    PUBLISH,
    READ,
    REFRESH,
    as_int,
    classify,
    parse_error,
    status_error,
)
from postiz_pipelines.providers.readback import parse_time, same_text

GRAPH_VERSION = "v24.0"


class MetaGraphProvider(Provider):
    """The Graph plumbing the three Meta providers share; see the module docstring.

    ``poll_interval`` seconds pass between container status reads, at most ``max_polls``
    reads; ``clock`` is the "now" of refreshed tokens' expiry and of rate-limit waits.
    """

    api_version: ClassVar[str] = GRAPH_VERSION
    refresh_grant: ClassVar[str | None] = None  # ig_refresh_token, th_refresh_token

    def __init__(
        self,
        http: httpx.AsyncClient | None = None,
        *,
        base_url: str | None = None,
        api_version: str | None = None,
        poll_interval: float = 3.0,
        max_polls: int = 100,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(http, base_url=base_url, clock=clock)
        self.version = api_version or self.api_version
        self.poll_interval = poll_interval
        self.max_polls = max_polls

    # -- what subclasses decide ------------------------------------------------------------
    def refreshable(self, account: AccountCredentials) -> bool:
        """Whether this account's token can be refreshed (so 190/463 means refresh)."""
        return self.refresh_grant is not None

    # -- HTTP ------------------------------------------------------------------------------
    async def _send(
        self, method: str, url: str, *, token: Secret | None, **kwargs: Any
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token.reveal()}"} if token is not None else {}
        with transport_errors(self.platform):
            return await self.http.request(method, url, headers=headers, **kwargs)

    def _url(self, account: AccountCredentials, path: str) -> str:
        return f"{self.base_url_for(account)}/{self.version}{path}"

    async def _graph(
        self, method: str, account: AccountCredentials, path: str, *, call: str, **kwargs: Any
    ) -> dict[str, Any]:
        """One Graph call; its JSON object, or the mapped error."""
        response = await self._send(
            method, self._url(account, path), token=account.access_token, **kwargs
        )
        return self._object(response, account, call)

    def _object(
        self, response: httpx.Response, account: AccountCredentials, call: str
    ) -> dict[str, Any]:
        body = json_body(response)
        if not 200 <= response.status_code < 300 or parse_error(body) is not None:
            raise self._error(response, account, call, body)
        kind = OutcomeUnknown if call == PUBLISH else TransientError
        return json_object(self.platform, response, unreadable=kind)

    def _error(
        self, response: httpx.Response, account: AccountCredentials, call: str, body: Any = None
    ) -> ProviderError:
        body = json_body(response) if body is None else body
        return classify(
            self.platform,
            response.status_code,
            parse_error(body),
            response.headers,
            call=call,
            now=self.clock.now(),
            refreshable=self.refreshable(account),
            reason=f"HTTP {response.status_code} {response.reason_phrase}".strip(),
        )

    def _new_id(self, body: Mapping[str, Any], response_status: int, what: str) -> str:
        value = str(body.get("id") or "")
        if not value:
            raise OutcomeUnknown(
                f"{self.platform}: {what} answered without an id",
                platform=self.platform,
                status=response_status,
            )
        return value

    # -- steps the container platforms share -----------------------------------------------
    def _public_url(self, media: MediaFile) -> str:
        """Meta downloads media itself: without a public URL there is nothing to give it."""
        if not media.public_url:
            raise MediaRejected(
                f"{self.platform}: {media.path.name} has no public URL; {self.platform} "
                "downloads media from a public address",
                platform=self.platform,
            )
        return media.public_url

    async def _wait_container(
        self, account: AccountCredentials, container_id: str, *, field: str, error_field: str
    ) -> None:
        """Read the container's status until FINISHED; ERROR is the media's fault."""
        for poll in range(self.max_polls):
            if poll:
                await asyncio.sleep(self.poll_interval)
            body = await self._graph(
                "GET",
                account,
                f"/{container_id}",
                call=READ,
                params={"fields": f"id,{field},{error_field}"},
            )
            status = str(body.get(field) or "")
            if status in ("FINISHED", "PUBLISHED"):
                return
            if status == "ERROR":
                raise self._processing_error(str(body.get(error_field) or "processing failed"))
            if status == "EXPIRED":
                raise TransientError(
                    f"{self.platform}: container {container_id} expired before publishing",
                    platform=self.platform,
                    status=200,
                )
        raise TransientError(
            f"{self.platform}: container {container_id} still processing after "
            f"{self.max_polls} polls",
            platform=self.platform,
            status=200,
        )

    def _processing_error(self, detail: str) -> ProviderError:
        """The error of media that failed processing: by its code when the detail carries
        one (``error code 2207026``), else the detail itself is the platform's code."""
        found = status_error(detail)
        if found.subcode is None:
            return MediaRejected(
                f"{self.platform}: media processing failed: {detail}",
                platform=self.platform,
                status=200,
                code=detail if detail.isupper() else None,
            )
        return classify(
            self.platform,
            200,
            found,
            {},
            call=MEDIA,
            now=self.clock.now(),
            refreshable=False,
            reason=detail,
        )

    async def _permalink(
        self, account: AccountCredentials, media_id: str, field: str
    ) -> str | None:
        """The post's link; only cosmetic, so a failure to read it never fails a live post."""
        try:
            body = await self._graph(
                "GET", account, f"/{media_id}", call=READ, params={"fields": f"id,{field}"}
            )
        except ProviderError:
            return None
        value = body.get(field)
        return str(value) if value else None

    def _live_failure(self, root_id: str, exc: ProviderError) -> OutcomeUnknown:
        """A thread item failed after the root went live: never repeat the root (the engine
        resolves this through ``find_recent``), and say which part is out."""
        return OutcomeUnknown(
            f"{self.platform}: post {root_id} is live but a later thread item failed "
            f"({exc.message})",
            platform=self.platform,
            status=exc.status,
            code=exc.code,
        )

    # -- refresh and look-back ---------------------------------------------------------------
    async def refresh(self, account: AccountCredentials) -> TokenSet:
        """``GET /refresh_access_token`` with the current, unexpired long-lived token: a new
        60-day token. An expired token cannot be refreshed (``AuthRevoked``)."""
        if self.refresh_grant is None or not self.refreshable(account):
            return await super().refresh(account)
        response = await self._send(
            "GET",
            f"{self.base_url_for(account)}/refresh_access_token",
            token=None,
            params={
                "grant_type": self.refresh_grant,
                "access_token": account.access_token.reveal(),
            },
        )
        body = self._object(response, account, REFRESH)
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise TransientError(
                f"{self.platform}: refresh answered without an access token",
                platform=self.platform,
                status=response.status_code,
            )
        expires_in = as_int(body.get("expires_in"))
        expires_at = self.clock.now() + timedelta(seconds=expires_in) if expires_in else None
        return TokenSet(access_token=Secret(token), expires_at=expires_at)

    async def _find_in_edge(
        self,
        account: AccountCredentials,
        path: str,
        *,
        params: dict[str, str],
        text_field: str,
        time_field: str,
        link_field: str,
        since: datetime,
        text: str,
        pages: int = 4,
    ) -> RemotePost | None:
        """Walk a newest-first edge of the account's posts back to ``since`` for ``text``."""
        since = ensure_utc(since)
        query = {**params, "limit": "25"}
        for _ in range(pages):
            body = await self._graph("GET", account, path, call=READ, params=query)
            items = body.get("data")
            if not isinstance(items, list):
                raise TransientError(
                    f"{self.platform}: unreadable list of posts", platform=self.platform, status=200
                )
            for item in items:
                if not isinstance(item, dict) or not item.get("id"):
                    continue
                created = parse_time(item.get(time_field))
                if created is not None and created < since:
                    return None
                if same_text(str(item.get(text_field) or ""), text):
                    link = item.get(link_field)
                    return RemotePost(str(item["id"]), str(link) if link else None, text, created)
            after = (body.get("paging") or {}).get("cursors", {}).get("after")
            if not items or not after or not (body.get("paging") or {}).get("next"):
                return None
            query = {**query, "after": str(after)}
        return None
