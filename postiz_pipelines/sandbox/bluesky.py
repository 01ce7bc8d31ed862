"""The Bluesky emulator: a PDS's XRPC endpoints and the video service.

Hosts, mounted under ``/bluesky``::

    https://bsky.social/xrpc/<nsid>       ->  /bluesky/xrpc/<nsid>        (PDS, entryway)
    https://video.bsky.app/xrpc/<nsid>    ->  /bluesky/video/xrpc/<nsid>  (video service)

PDS endpoints: ``com.atproto.server.createSession`` / ``refreshSession`` / ``getSession`` /
``getServiceAuth``, ``com.atproto.identity.resolveHandle``, ``app.bsky.actor.getProfile``
(the caller's own), ``com.atproto.repo.uploadBlob`` / ``createRecord`` / ``getRecord``.
``resolveHandle`` knows only the network's accounts (see ``_exists``): an unknown handle
answers 400 "Unable to resolve handle", as the real one does.
The sessions are in ``bluesky_sessions.py``, the video service in ``bluesky_video.py``,
identities and tokens in ``bluesky_identity.py``, the post record's lexicon checks in
``bluesky_records.py``.

Auth: any bearer string that is not a sandbox JWT is a session of the account it reaches,
auto-provisioned when unseen (sessions proper are in ``bluesky_sessions.py``). An expired
or revoked token answers 400 ``ExpiredToken``, a JWT the sandbox did not sign (or signed
before a reset) 400 ``InvalidToken``, a disabled account 401 ``AccountTakedown``.

Records: only ``app.bsky.feed.post`` is known. A client-chosen ``rkey`` must be a TID; a
second create at the same rkey answers 400 ``RecordAlreadyExists`` (the error
bluesky-social/atproto#4728 adds; earlier PDS versions answered 500). ``getRecord`` of a
missing record answers 400 ``RecordNotFound``.

Rate limits (``ratelimit-limit/-remaining/-reset`` (epoch) and ``-policy``): 3,000
requests per 5 minutes per IP; ``createSession`` 30 per 5 minutes and 300 per day per
identifier; writes 5,000 points per hour and 35,000 per day per account, 3 points a create.
"""

from __future__ import annotations

import hashlib
import io
import json
from datetime import datetime
from typing import Any, ClassVar

from starlette.responses import JSONResponse, Response

from postiz_pipelines.sandbox.atproto_syntax import POST_COLLECTION, is_tid
from postiz_pipelines.sandbox.base import Call, HttpError, PlatformSandbox, endpoint
from postiz_pipelines.sandbox.bluesky_identity import (
    PLATFORM,
    blob_ref,
    cid_for,
    did_for,
    handle_of,
    is_handle,
    is_jwt,
    next_tid,
    read_jwt,
    record_cid,
)
from postiz_pipelines.sandbox.bluesky_records import RecordInvalid, check_post
from postiz_pipelines.sandbox.bluesky_sessions import Caller, SessionEndpoints, epoch
from postiz_pipelines.sandbox.bluesky_video import VideoServiceEndpoints
from postiz_pipelines.sandbox.state import (
    AcceptedPost,
    RateWindow,
    StoredMedia,
    TokenStatus,
)

BLOB_MAX_BYTES = 50_000_000
IP_LIMIT = (3000, 300.0)
WRITE_LIMITS = ((5000, 3600.0), (35000, 86400.0))
CREATE_POINTS = 3
ERROR_NAMES = {
    400: "InvalidRequest",
    401: "AuthenticationRequired",
    403: "Forbidden",
    404: "XRPCNotSupported",
    413: "PayloadTooLarge",
    429: "RateLimitExceeded",
    500: "InternalServerError",
    501: "MethodNotImplemented",
    502: "UpstreamFailure",
    503: "NotEnoughResources",
    504: "UpstreamTimeout",
}


class BlueskySandbox(SessionEndpoints, VideoServiceEndpoints, PlatformSandbox):
    """See the module docstring."""

    name: ClassVar[str] = PLATFORM

    # -- error bodies ------------------------------------------------------------------
    def error_response(self, status: int, message: str) -> Response:
        return JSONResponse(
            {"error": ERROR_NAMES.get(status, "InvalidRequest"), "message": message},
            status_code=status,
        )

    def _xrpc(self, status: int, error: str, message: str) -> HttpError:
        return HttpError(JSONResponse({"error": error, "message": message}, status_code=status))

    def fault_response(self, status: int, *, reset_at: datetime | None, call: Call) -> Response:
        if status == 429:
            response = self.error_response(429, "Rate Limit Exceeded")
            limit, per = IP_LIMIT
            response.headers["ratelimit-limit"] = str(limit)
            response.headers["ratelimit-remaining"] = "0"
            response.headers["ratelimit-policy"] = f"{limit};w={int(per)}"
            if reset_at is not None:
                response.headers["ratelimit-reset"] = str(epoch(reset_at))
            return response
        return super().fault_response(status, reset_at=reset_at, call=call)

    # -- rate limits -------------------------------------------------------------------
    def _throttle(
        self,
        call: Call,
        bucket: str,
        key: str,
        budgets: tuple[tuple[int, float], ...],
        points: int = 1,
    ) -> None:
        """Count ``points`` in each window; show the tightest; 429 when one is exceeded."""
        tightest: tuple[RateWindow, float] | None = None
        exceeded = False
        for i, (limit, per) in enumerate(budgets):
            window = None
            for _ in range(points):
                window = self.state.hit_rate_limit(
                    self.name, f"{bucket}:{i}", key, limit=limit, per_seconds=per
                )
            assert window is not None
            exceeded = exceeded or window.exceeded
            if tightest is None or window.remaining < tightest[0].remaining:
                tightest = (window, per)
        assert tightest is not None
        window, per = tightest
        call.headers["ratelimit-limit"] = str(window.limit)
        call.headers["ratelimit-remaining"] = str(window.remaining)
        call.headers["ratelimit-reset"] = str(epoch(window.reset_at))
        call.headers["ratelimit-policy"] = f"{window.limit};w={int(per)}"
        if exceeded:
            raise self._xrpc(429, "RateLimitExceeded", "Rate Limit Exceeded")

    def _ip_limit(self, call: Call) -> None:
        client = call.request.client.host if call.request.client else "unknown"
        self._throttle(call, "ip", client, (IP_LIMIT,))

    # -- auth --------------------------------------------------------------------------
    def _caller(self, call: Call, *, refresh: bool = False) -> Caller:
        """Who the bearer token speaks for; the PDS's errors for every way it cannot."""
        token = call.bearer_token()
        if token is None:
            raise self._xrpc(401, "AuthMissing", "Authentication Required")
        minted = read_jwt(self.state, token)
        if minted is None and (refresh or is_jwt(token)):  # not ours, or from before a reset
            raise self._xrpc(400, "InvalidToken", "Token could not be verified")
        auth = self.state.authenticate(self.name, token)
        account, expired = auth.account, False
        if minted is not None:
            header, claims = minted
            owner = self.state.account(self.name, str(claims.get("acct")))
            if owner is None:  # issued before a reset
                raise self._xrpc(400, "InvalidToken", "Token could not be verified")
            wanted = "refresh+jwt" if refresh else "at+jwt"
            if header.get("typ") != wanted:
                message = "Invalid token type" if refresh else "Bad token scope"
                raise self._xrpc(400, "InvalidToken", message)
            account = owner
            expired = int(claims.get("exp", 0)) <= self.state.now().timestamp()
        if auth.status is TokenStatus.REVOKED:
            raise self._xrpc(400, "ExpiredToken", "Token has been revoked")
        if auth.status is TokenStatus.EXPIRED or expired:
            raise self._xrpc(400, "ExpiredToken", "Token has expired")
        if account.disabled or auth.account.disabled:
            raise self._xrpc(401, "AccountTakedown", "Account has been taken down")
        handle = handle_of(account)
        return Caller(account, handle, did_for(handle), token)

    async def _json(self, call: Call) -> dict[str, Any]:
        try:
            body = json.loads(await call.request.body() or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise self._xrpc(400, "InvalidRequest", "Unable to parse request body") from None
        if not isinstance(body, dict):
            raise self._xrpc(400, "InvalidRequest", "Input must be an object")
        return body

    def _require(self, params: Any, name: str, where: str = "Input") -> str:
        value = params.get(name)
        if not isinstance(value, str) or not value:
            raise self._xrpc(400, "InvalidRequest", f'{where} must have the property "{name}"')
        return value

    # -- identity ----------------------------------------------------------------------
    @endpoint("GET", "/xrpc/com.atproto.identity.resolveHandle")
    async def resolve_handle(self, call: Call) -> Response:
        self._ip_limit(call)
        handle = self._require(call.request.query_params, "handle", "Params").lower()
        if not is_handle(handle):
            raise self._xrpc(400, "InvalidRequest", "Error: handle must be a valid handle")
        if not self._exists(handle):
            raise self._xrpc(400, "InvalidRequest", "Unable to resolve handle")
        return JSONResponse({"did": did_for(handle)})

    def _exists(self, handle: str) -> bool:
        """A handle resolves when an account of this network holds it: one the sandbox has
        provisioned, or one named in ``state.configure("bluesky", known_handles=[...])``
        (people on the network who are not our accounts). Any other stays unknown."""
        known = {str(h).lower() for h in self.state.setting(PLATFORM, "known_handles", ())}
        return handle in known or any(handle_of(a) == handle for a in self.state.accounts(PLATFORM))

    @endpoint("GET", "/xrpc/app.bsky.actor.getProfile")
    async def get_profile(self, call: Call) -> Response:
        self._ip_limit(call)
        caller = self._caller(call)
        actor = self._require(call.request.query_params, "actor", "Params").lower()
        if actor not in (caller.handle, caller.did.lower()):
            raise self._xrpc(400, "InvalidRequest", "Profile not found")
        posts = [p for p in self.state.accepted(self.name) if p.account_id == caller.account.id]
        created = caller.account.created_at.isoformat().replace("+00:00", "Z")
        return JSONResponse(
            {
                "did": caller.did,
                "handle": caller.handle,
                "displayName": caller.account.display_name,
                "description": "",
                "followersCount": 0,
                "followsCount": 0,
                "postsCount": len(posts),
                "indexedAt": created,
                "createdAt": created,
            }
        )

    # -- blobs and records -------------------------------------------------------------
    @endpoint("POST", "/xrpc/com.atproto.repo.uploadBlob")
    async def upload_blob(self, call: Call) -> Response:
        self._ip_limit(call)
        caller = self._caller(call)
        data = await call.request.body()
        if len(data) > BLOB_MAX_BYTES:
            raise self._xrpc(
                400,
                "BlobTooLarge",
                f"This file is too large. It is {len(data)} bytes but the maximum size is "
                f"{BLOB_MAX_BYTES} bytes.",
            )
        declared = (call.request.headers.get("content-type") or "").split(";")[0].strip().lower()
        mime, width, height = _sniff(data, declared)
        blob = StoredMedia(
            platform=self.name,
            id=cid_for(data),
            account_id=caller.account.id,
            mime_type=mime,
            size_bytes=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            created_at=self.state.now(),
            width=width,
            height=height,
        )
        self.state.put_media(blob)
        return JSONResponse({"blob": blob_ref(blob)})

    @endpoint("POST", "/xrpc/com.atproto.repo.createRecord", publish=True)
    async def create_record(self, call: Call) -> Response:
        self._ip_limit(call)
        caller = self._caller(call)
        self._throttle(call, "write", caller.did, WRITE_LIMITS, points=CREATE_POINTS)
        body = await self._json(call)
        repo = self._require(body, "repo")
        collection = self._require(body, "collection")
        record = body.get("record")
        if repo.lower() not in (caller.did.lower(), caller.handle):
            raise self._xrpc(400, "InvalidRequest", f"Could not find repo: {repo}")
        if collection != POST_COLLECTION:
            raise self._xrpc(400, "InvalidRequest", f"Lexicon not found: lex:{collection}")
        if not isinstance(record, dict):
            raise self._xrpc(400, "InvalidRequest", 'Input must have the property "record"')
        if record.get("$type", collection) != collection:
            raise self._xrpc(
                400,
                "InvalidRequest",
                f"Invalid $type: must be lex:{collection}, got {record['$type']}",
            )
        rkey = body.get("rkey")
        if rkey is not None and (not isinstance(rkey, str) or not is_tid(rkey)):
            raise self._xrpc(
                400,
                "InvalidRequest",
                f"Invalid record key: {collection} records must be keyed by a TID",
            )
        try:
            parts = check_post(record, lambda cid: self._own_blob(caller, cid))
        except RecordInvalid as exc:
            raise self._xrpc(400, exc.error, str(exc)) from None
        stored = {**record, "$type": collection}
        with self.state.lock:  # the check and the write are one commit on the PDS
            key = rkey or next_tid(self.state)
            uri = f"at://{caller.did}/{collection}/{key}"
            if self.state.post(self.name, uri) is not None:
                raise self._xrpc(400, "RecordAlreadyExists", f"Record already exists: {uri}")
            cid = record_cid(stored)
            self.state.record_post(
                AcceptedPost(
                    platform=self.name,
                    account_id=caller.account.id,
                    handle=caller.handle,
                    text=parts.text,
                    remote_id=uri,
                    created_at=self.state.now(),
                    media=parts.media,
                    reply_to=parts.parent,
                    idempotency_key=rkey,
                    extra={
                        "cid": cid,
                        "rkey": key,
                        "record": stored,
                        "facets": list(parts.facets),
                        "langs": list(parts.langs),
                        "alts": list(parts.alts),
                        "embed": parts.embed_type,
                        "root": parts.root,
                    },
                )
            )
            rev = next_tid(self.state)
        return JSONResponse(
            {
                "uri": uri,
                "cid": cid,
                "commit": {"cid": cid_for(f"{uri}@{rev}".encode(), 0x71), "rev": rev},
                "validationStatus": "valid",
            }
        )

    def _own_blob(self, caller: Caller, cid: str) -> StoredMedia | None:
        blob = self.state.media(self.name, cid)
        return blob if blob is not None and blob.account_id == caller.account.id else None

    @endpoint("GET", "/xrpc/com.atproto.repo.getRecord")
    async def get_record(self, call: Call) -> Response:
        self._ip_limit(call)
        params = call.request.query_params
        repo = self._require(params, "repo", "Params")
        collection = self._require(params, "collection", "Params")
        rkey = self._require(params, "rkey", "Params")
        did = repo if repo.startswith("did:") else did_for(repo)
        uri = f"at://{did}/{collection}/{rkey}"
        post = self.state.post(self.name, uri)
        if post is None:
            raise self._xrpc(400, "RecordNotFound", f"Could not locate record: {uri}")
        return JSONResponse({"uri": uri, "cid": post.extra["cid"], "value": post.extra["record"]})


def _sniff(data: bytes, declared: str) -> tuple[str, int | None, int | None]:
    """The blob's MIME type as the PDS stores it (sniffed, not trusted), and image size."""
    if data[4:8] == b"ftyp":
        return "video/mp4", None, None
    if declared.startswith("image/") or declared in ("", "*/*", "application/octet-stream"):
        from PIL import Image, UnidentifiedImageError  # only image blobs need Pillow

        try:
            with Image.open(io.BytesIO(data)) as image:
                mime = Image.MIME.get(image.format or "", "application/octet-stream")
                return mime, image.size[0], image.size[1]
        except (UnidentifiedImageError, OSError, ValueError):
            return "application/octet-stream", None, None
    return declared or "application/octet-stream", None, None
