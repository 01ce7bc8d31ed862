"""The X emulator: API v2 posts, the OAuth 2.0 token endpoint, ``/2/users/me``, and media
upload (``x_media.py``), at ``https://api.x.com`` -> ``/x``.

Auth: ``Authorization: Bearer <OAuth 2.0 user token>``; OAuth 1.0a headers are accepted by
their ``oauth_token`` (the signature is not checked). Any unseen token reaches a new
account. ``POST /2/oauth2/token`` (form; ``client_id`` in the body for public clients or
HTTP Basic for confidential ones) grants ``authorization_code`` (code ``c`` belongs to the
account of sandbox token ``code:c``, so a test can name it through the control API; PKCE is
not verified, but ``code_verifier`` is required; a code works once) and ``refresh_token``.
Issued access tokens last 2 hours; refresh tokens are single-use and rotate. Tokens carry
the account id, signed with a key kept in the state, so a reset invalidates them.

Errors are problem JSON (``{title, detail, type, status}``; invalid requests add
``errors: [{parameters, message}]``). Invalid, expired and revoked tokens all answer 401
(X does not tell them apart); a suspended account 403. ``POST /2/tweets`` answers 201
``{data: {id, text, edit_history_tweet_ids}}`` and refuses: the same text as one of the
account's posts of the last 24 hours (403 duplicate content), a reply to an unknown post
(403), text over 280 weighted characters (400; the exact body is not documented), media
ids that are unknown, someone else's, unprocessed or wrongly combined (400 "Your media IDs
are invalid.").

Rate limits (``x-rate-limit-limit/-remaining/-reset``, reset in epoch seconds): posts 100
per 15 minutes per user and 10,000 per 24 hours per app (``x-app-limit-24hour-*``);
``/2/users/me`` 75 per 15 minutes; media calls 1,875 per 15 minutes per user.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import datetime, timedelta
from typing import Any, ClassVar

from starlette.responses import JSONResponse, Response

from postiz_pipelines.sandbox import authorize
from postiz_pipelines.sandbox.base import Call, HttpError, PlatformSandbox, endpoint
from postiz_pipelines.sandbox.signing import b64url_decode, b64url_encode, sign, verify
from postiz_pipelines.sandbox.state import (
    AcceptedPost,
    RateWindow,
    SandboxAccount,
    SandboxState,
    TokenStatus,
)
from postiz_pipelines.sandbox.x_media import MediaEndpoints, XMedia
from postiz_pipelines.sandbox.x_text import count

PLATFORM = "x"
MAX_WEIGHTED_LENGTH = 280
ACCESS_SECONDS = 7200
DUPLICATE_WINDOW = timedelta(hours=24)
TWEETS_LIMIT = (100, 900.0)
APP_TWEETS_LIMIT = (10_000, 86_400.0)
ME_LIMIT = (75, 900.0)
LOOKUP_LIMIT = (900, 900.0)  # GET /2/tweets, per user
SCOPES = "tweet.read tweet.write users.read offline.access media.write"
INVALID_REQUEST = "https://api.twitter.com/2/problems/invalid-request"
OAUTH1_TOKEN_RE = re.compile(r'oauth_token="([^"]+)"')
SIGNATURE_BYTES = 18


def problem(status: int, title: str, detail: str, type_: str = "about:blank") -> JSONResponse:
    return JSONResponse(
        {"title": title, "detail": detail, "type": type_, "status": status}, status_code=status
    )


def issue_token(state: SandboxState, claims: dict[str, Any]) -> str:
    """An opaque token that names its account and kind, signed with the state's key."""
    body = json.dumps(claims, separators=(",", ":")).encode()
    signature = sign(state, PLATFORM, body, length=SIGNATURE_BYTES)
    return f"{b64url_encode(body)}.{b64url_encode(signature)}"


def looks_issued(token: str) -> bool:
    """Whether ``token`` has the shape of one this sandbox issues (whoever signed it)."""
    body_part, dot, _ = token.partition(".")
    try:
        claims = json.loads(b64url_decode(body_part)) if dot else None
    except ValueError:
        return False
    return isinstance(claims, dict) and "kind" in claims and "acct" in claims


def read_token(state: SandboxState, token: str) -> dict[str, Any] | None:
    """The claims of a token this sandbox issued; None for any other string."""
    body_part, _, signature_part = token.partition(".")
    try:
        body, signature = b64url_decode(body_part), b64url_decode(signature_part)
        if not verify(state, PLATFORM, body, signature, length=SIGNATURE_BYTES):
            return None
        claims = json.loads(body)
    except ValueError:
        return None
    return claims if isinstance(claims, dict) else None


class XSandbox(MediaEndpoints, PlatformSandbox):
    """See the module docstring."""

    name: ClassVar[str] = PLATFORM

    # -- errors ------------------------------------------------------------------------
    def error_response(self, status: int, message: str) -> Response:
        return problem(status, message, message)

    def fault_response(self, status: int, *, reset_at: datetime | None, call: Call) -> Response:
        if status == 429:
            response = problem(429, "Too Many Requests", "Too Many Requests")
            limit = TWEETS_LIMIT[0]
            response.headers["x-rate-limit-limit"] = str(limit)
            response.headers["x-rate-limit-remaining"] = "0"
            if reset_at is not None:
                response.headers["x-rate-limit-reset"] = str(int(reset_at.timestamp()))
            return response
        return super().fault_response(status, reset_at=reset_at, call=call)

    def _invalid(self, message: str, parameters: dict[str, list[Any]] | None = None) -> HttpError:
        body = {
            "errors": [{"parameters": parameters or {}, "message": message}],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": INVALID_REQUEST,
        }
        return HttpError(JSONResponse(body, status_code=400))

    def _forbidden(self, detail: str) -> HttpError:
        return HttpError(problem(403, "Forbidden", detail))

    # -- rate limits -------------------------------------------------------------------
    def _throttle(
        self,
        call: Call,
        bucket: str,
        key: str,
        budget: tuple[int, float],
        prefix: str = "x-rate-limit",
    ) -> None:
        window = self.state.hit_rate_limit(
            self.name, bucket, key, limit=budget[0], per_seconds=budget[1]
        )
        self._headers(call, window, prefix)
        if window.exceeded:
            raise HttpError(problem(429, "Too Many Requests", "Too Many Requests"))

    @staticmethod
    def _headers(call: Call, window: RateWindow, prefix: str) -> None:
        call.headers[f"{prefix}-limit"] = str(window.limit)
        call.headers[f"{prefix}-remaining"] = str(window.remaining)
        call.headers[f"{prefix}-reset"] = str(int(window.reset_at.timestamp()))

    def _snowflake(self) -> str:
        # X ids are 64-bit numbers that sort by time; a large base keeps that look.
        return str(1_860_000_000_000_000_000 + self.state.next_number())

    # -- auth --------------------------------------------------------------------------
    def _user(self, call: Call) -> SandboxAccount:
        """The user the request acts for: 401 for any token that does not work, 403 when
        the account is suspended."""
        header = call.request.headers.get("authorization", "")
        token = call.bearer_token()
        if token is None and header.lower().startswith("oauth "):
            found = OAUTH1_TOKEN_RE.search(header)
            token = found.group(1) if found else None
        unauthorized = HttpError(problem(401, "Unauthorized", "Unauthorized"))
        if token is None:
            raise unauthorized
        claims = read_token(self.state, token)
        if claims is None and looks_issued(token):  # signed before a reset, or forged
            raise unauthorized
        if claims is not None and claims.get("kind") != "access":
            raise unauthorized
        auth = self.state.authenticate(self.name, token)
        account = auth.account
        if claims is not None:
            owner = self.state.account(self.name, str(claims.get("acct")))
            if owner is None or int(claims.get("exp", 0)) <= self.state.now().timestamp():
                raise unauthorized
            account = owner
        if auth.status is not TokenStatus.VALID:
            raise unauthorized
        if account.disabled or auth.account.disabled:
            raise self._forbidden(
                "Your account is suspended and is not permitted to access this feature."
            )
        return account

    # -- OAuth 2.0 ---------------------------------------------------------------------
    @endpoint("POST", "/2/oauth2/token")
    async def token(self, call: Call) -> Response:
        form = await call.request.form()
        fields = {k: str(v) for k, v in form.items()}
        if not self._client_id(call, fields):
            return _oauth_error(401, "unauthorized_client", "Missing valid authorization header")
        grant = fields.get("grant_type")
        if grant == "refresh_token":
            old = fields.get("refresh_token", "")
            claims = read_token(self.state, old) if old else None
            account = self.state.account(self.name, str(claims.get("acct"))) if claims else None
            status = self.state.authenticate(self.name, old).status if claims else None
            if (
                claims is None
                or claims.get("kind") != "refresh"
                or account is None
                or status is not TokenStatus.VALID
            ):
                return _oauth_error(
                    400, "invalid_request", "Value passed for the token was invalid."
                )
            self.state.revoke_token(self.name, old)  # single use: the refresh token rotates
        elif grant == "authorization_code":
            missing = [n for n in ("code", "redirect_uri", "code_verifier") if not fields.get(n)]
            if missing:
                return _oauth_error(
                    400, "invalid_request", f"Missing required parameter [{missing[0]}]."
                )
            try:  # a code from the consent page: its client, redirect URI and PKCE verifier
                authorize.redeem(
                    self.state,
                    self.name,
                    fields["code"],
                    client_id=self._client_id(call, fields),
                    redirect_uri=fields["redirect_uri"],
                    code_verifier=fields["code_verifier"],
                )
            except authorize.CodeRefused as exc:
                return _oauth_error(400, "invalid_request", exc.description)
            code = f"code:{fields['code']}"
            auth = self.state.authenticate(self.name, code)
            if auth.status is not TokenStatus.VALID:
                return _oauth_error(
                    400, "invalid_request", "Value passed for the authorization code was invalid."
                )
            self.state.revoke_token(self.name, code)  # a code works once
            account = auth.account
        else:
            return _oauth_error(
                400, "unsupported_grant_type", f"grant_type {grant!r} is not supported"
            )
        if account.disabled:
            return _oauth_error(400, "invalid_request", "The account is suspended.")
        now = int(self.state.now().timestamp())
        serial = self.state.next_number()
        access = issue_token(
            self.state,
            {"kind": "access", "acct": account.id, "exp": now + ACCESS_SECONDS, "n": serial},
        )
        refresh = issue_token(self.state, {"kind": "refresh", "acct": account.id, "n": serial})
        return JSONResponse(
            {
                "token_type": "bearer",
                "expires_in": ACCESS_SECONDS,
                "access_token": access,
                "scope": SCOPES,
                "refresh_token": refresh,
            }
        )

    def grant_refusal(self, call: Call) -> Response:
        """X's answer to a refresh token it no longer honours."""
        return _oauth_error(400, "invalid_request", "Value passed for the token was invalid.")

    @staticmethod
    def _client_id(call: Call, fields: dict[str, str]) -> str | None:
        scheme, _, value = call.request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "basic":
            try:
                return base64.b64decode(value).decode().partition(":")[0] or None
            except (binascii.Error, UnicodeDecodeError):
                return None
        return fields.get("client_id") or None

    # -- users and posts ---------------------------------------------------------------
    @endpoint("GET", "/2/users/me")
    async def me(self, call: Call) -> Response:
        user = self._user(call)
        self._throttle(call, "me", user.id, ME_LIMIT)
        return JSONResponse(
            {"data": {"id": user.id, "name": user.display_name, "username": user.username}}
        )

    @endpoint("GET", "/2/tweets")
    async def lookup_tweets(self, call: Call) -> Response:
        """Tweets by id (at most 100) with ``public_metrics`` when asked; unknown ids come
        back in ``errors`` as X's resource-not-found problems."""
        user = self._user(call)
        self._throttle(call, "lookup", user.id, LOOKUP_LIMIT)
        raw = call.request.query_params.get("ids", "")
        ids = [i for i in raw.split(",") if i]
        if not ids or len(ids) > 100:
            raise self._invalid(
                "The `ids` query parameter value [] is not between 1 and 100",
                {"ids": [raw]},
            )
        fields = set(call.request.query_params.get("tweet.fields", "").split(","))
        data, errors = [], []
        for tweet_id in ids:
            post = self.state.post(self.name, tweet_id)
            counts = self.state.engagement(self.name, tweet_id)
            if post is None or counts is None:
                errors.append(
                    {
                        "value": tweet_id,
                        "detail": f"Could not find tweet with ids: [{tweet_id}].",
                        "title": "Not Found Error",
                        "resource_type": "tweet",
                        "parameter": "ids",
                        "resource_id": tweet_id,
                        "type": "https://api.twitter.com/2/problems/resource-not-found",
                    }
                )
                continue
            tweet: dict[str, Any] = {"id": tweet_id, "text": post.text}
            if "public_metrics" in fields:
                tweet["public_metrics"] = {
                    "retweet_count": counts["reposts"],
                    "reply_count": counts["replies"],
                    "like_count": counts["likes"],
                    "quote_count": 0,
                    "bookmark_count": 0,
                    "impression_count": counts["views"],
                }
            data.append(tweet)
        body: dict[str, Any] = {"data": data} if data else {}
        if errors:
            body["errors"] = errors
        return JSONResponse(body)

    @endpoint("POST", "/2/tweets", publish=True)
    async def create_tweet(self, call: Call) -> Response:
        user = self._user(call)
        self._throttle(call, "tweets", user.id, TWEETS_LIMIT)
        self._throttle(call, "tweets-app", "app", APP_TWEETS_LIMIT, prefix="x-app-limit-24hour")
        try:
            body = json.loads(await call.request.body() or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise self._invalid("Request body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise self._invalid("Request body must be a JSON object.")
        text = body.get("text", "")
        if not isinstance(text, str):
            raise self._invalid("text must be a string", {"text": [text]})
        media = self._tweet_media(user, body.get("media"))
        if not text.strip() and not media:
            raise self._invalid("You must provide either text or media.", {"text": [text]})
        counted = count(text)
        if counted.weighted_length > MAX_WEIGHTED_LENGTH:
            raise self._invalid("Tweet text is too long.", {"text": [text]})
        if text and not counted.valid:
            raise self._invalid("Tweet text contains invalid characters.", {"text": [text]})
        reply_to = self._reply_to(body.get("reply"))
        with self.state.lock:  # the duplicate check and the write are one step
            if text.strip() and self._is_duplicate(user, text):
                raise self._forbidden(
                    "You are not allowed to create a Tweet with duplicate content."
                )
            tweet_id = self._snowflake()
            self.state.record_post(
                AcceptedPost(
                    platform=self.name,
                    account_id=user.id,
                    handle=user.username,
                    text=text,
                    remote_id=tweet_id,
                    created_at=self.state.now(),
                    media=media,
                    reply_to=reply_to,
                    extra={"media_keys": [m.key for m in media], "author_id": user.id},
                )
            )
        return JSONResponse(
            {"data": {"id": tweet_id, "text": text, "edit_history_tweet_ids": [tweet_id]}},
            status_code=201,
        )

    def _tweet_media(self, user: SandboxAccount, value: Any) -> tuple[XMedia, ...]:
        if value is None:
            return ()
        ids = value.get("media_ids") if isinstance(value, dict) else None
        if not isinstance(ids, list) or not 1 <= len(ids) <= 4:
            raise self._invalid("media.media_ids must hold 1 to 4 ids", {"media.media_ids": [ids]})
        found = [self.state.media(self.name, str(i)) for i in ids]
        usable = [
            m
            for m in found
            if isinstance(m, XMedia) and m.account_id == user.id and m.succeeded(self.state.now())
        ]
        kinds = {m.kind for m in usable}
        single = kinds & {"gif", "video"}
        if len(usable) != len(ids) or (single and len(usable) > 1):
            raise self._invalid(
                "Your media IDs are invalid.", {"media.media_ids": [str(i) for i in ids]}
            )
        return tuple(usable)

    def _reply_to(self, value: Any) -> str | None:
        if value is None:
            return None
        target = value.get("in_reply_to_tweet_id") if isinstance(value, dict) else None
        if not isinstance(target, str) or not target.isdigit():
            raise self._invalid(
                "reply.in_reply_to_tweet_id must be a post id",
                {"reply.in_reply_to_tweet_id": [target]},
            )
        if self.state.post(self.name, target) is None:
            raise self._forbidden(
                "You attempted to reply to a Tweet that is deleted or not visible to you."
            )
        return target

    def _is_duplicate(self, user: SandboxAccount, text: str) -> bool:
        since = self.state.now() - DUPLICATE_WINDOW
        return any(
            p.account_id == user.id and p.created_at > since and p.text.strip() == text.strip()
            for p in self.state.accepted(self.name)
        )


def _oauth_error(status: int, error: str, description: str) -> Response:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)
