"""Supabase Storage's REST API, as the sandbox emulates it under ``/supabase/storage/v1``.

The endpoints the media backend uses, with Supabase's own answers::

    POST   /bucket                         {"id"|"name", "public"} -> {"name"}; 409 if it exists
    POST   /object/{bucket}/{path}         upload (x-upsert: true overwrites) -> {"Key", "Id"}
    PUT    /object/{bucket}/{path}         update (the same, always overwrites)
    GET    /object/{bucket}/{path}         download (authenticated)
    HEAD   /object/{bucket}/{path}         exists
    DELETE /object/{bucket}                {"prefixes": [...]} -> the removed objects
    POST   /object/sign/{bucket}/{path}    {"expiresIn"} -> {"signedURL": "/object/sign/...?token="}
    GET    /object/sign/{bucket}/{path}    ?token=: download without a key, until it expires

Every call but the signed download needs ``Authorization: Bearer <service role key>``
(``SERVICE_ROLE_KEY``, or the key given to ``SupabaseStorageSandbox``); errors are
``{"statusCode", "error", "message"}`` as Supabase sends them. Bodies are streamed to files
in a private temporary folder, so a 100 MB upload does not sit in memory. Signed tokens
are this emulator's own HMAC over (bucket, path, expiry), checked against the sandbox clock.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from postiz_pipelines.sandbox.state import SandboxState

SERVICE_ROLE_KEY = "sandbox-supabase-service-role-key"
MAX_OBJECT_BYTES = 200 * 1024 * 1024


@dataclass(frozen=True)
class StoredObject:
    bucket: str
    path: str
    size: int
    content_type: str
    sha256: str
    file: Path


class SupabaseStorageSandbox:
    """The emulated Storage service of one Supabase project; see the module docstring."""

    def __init__(self, state: SandboxState, *, service_key: str = SERVICE_ROLE_KEY) -> None:
        self.state = state
        self.service_key = service_key
        self._secret = secrets.token_bytes(32)
        self._dir = Path(tempfile.mkdtemp(prefix="sandbox-supabase-"))
        self._lock = threading.Lock()
        self.buckets: set[str] = set()
        self.objects: dict[tuple[str, str], StoredObject] = {}

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/storage/v1/bucket", self.create_bucket, methods=["POST"]),
            Route("/storage/v1/object/sign/{bucket}/{path:path}", self.sign, methods=["POST"]),
            Route("/storage/v1/object/sign/{bucket}/{path:path}", self.signed_get, methods=["GET"]),
            Route(
                "/storage/v1/object/{bucket}/{path:path}",
                self.object,
                methods=["GET", "HEAD", "POST", "PUT"],
            ),
            Route("/storage/v1/object/{bucket}", self.remove, methods=["DELETE"]),
        ]

    # -- answers ---------------------------------------------------------------------
    @staticmethod
    def _error(status: int, error: str, message: str) -> Response:
        return JSONResponse(
            {"statusCode": str(status), "error": error, "message": message}, status_code=status
        )

    def _authorised(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        token = header[7:] if header.lower().startswith("bearer ") else ""
        return hmac.compare_digest(token.encode(), self.service_key.encode())

    def _denied(self) -> Response:
        return self._error(400, "Unauthorized", "invalid signature or missing service role key")

    async def _json(self, request: Request) -> dict[str, Any]:
        try:
            data = json.loads(await request.body() or b"{}")
        except json.JSONDecodeError:
            return {}
        return data if isinstance(data, dict) else {}

    # -- buckets and objects -----------------------------------------------------------
    async def create_bucket(self, request: Request) -> Response:
        if not self._authorised(request):
            return self._denied()
        body = await self._json(request)
        name = str(body.get("id") or body.get("name") or "")
        if not name:
            return self._error(400, "Bad Request", "body must have a bucket name")
        with self._lock:
            if name in self.buckets:
                return self._error(409, "Duplicate", "The resource already exists")
            self.buckets.add(name)
        return JSONResponse({"name": name})

    async def object(self, request: Request) -> Response:
        if not self._authorised(request):
            return self._denied()
        bucket, path = request.path_params["bucket"], request.path_params["path"]
        if bucket not in self.buckets:
            return self._error(404, "Bucket not found", "Bucket not found")
        if request.method in ("GET", "HEAD"):
            found = self.objects.get((bucket, path))
            if found is None:
                return self._error(404, "not_found", "Object not found")
            if request.method == "HEAD":
                return Response(
                    headers={"content-length": str(found.size), "content-type": found.content_type}
                )
            return FileResponse(found.file, media_type=found.content_type)
        upsert = request.method == "PUT" or request.headers.get("x-upsert") == "true"
        if not upsert and (bucket, path) in self.objects:
            return self._error(400, "Duplicate", "The resource already exists")
        stored = await self._receive(request, bucket, path)
        if isinstance(stored, Response):
            return stored
        return JSONResponse({"Key": f"{bucket}/{path}", "Id": stored.sha256[:32]})

    async def _receive(self, request: Request, bucket: str, path: str) -> StoredObject | Response:
        part = self._dir / f"{secrets.token_hex(8)}.part"
        digest = hashlib.sha256()
        size = 0
        with part.open("wb") as fh:
            async for chunk in request.stream():
                size += len(chunk)
                if size > MAX_OBJECT_BYTES:
                    fh.close()
                    part.unlink(missing_ok=True)
                    return self._error(413, "Payload too large", "The object exceeded the maximum")
                digest.update(chunk)
                fh.write(chunk)
        ctype = (request.headers.get("content-type") or "application/octet-stream").split(";")[0]
        final = self._dir / digest.hexdigest()
        part.replace(final)
        stored = StoredObject(bucket, path, size, ctype, digest.hexdigest(), final)
        with self._lock:
            self.objects[(bucket, path)] = stored
        return stored

    async def remove(self, request: Request) -> Response:
        if not self._authorised(request):
            return self._denied()
        bucket = request.path_params["bucket"]
        prefixes = (await self._json(request)).get("prefixes") or []
        removed = []
        with self._lock:
            for prefix in prefixes:
                found = self.objects.pop((bucket, str(prefix)), None)
                if found is not None:
                    removed.append({"name": found.path, "bucket_id": bucket})
        return JSONResponse(removed)

    # -- signed links ----------------------------------------------------------------------
    def _token(self, bucket: str, path: str, expires: int) -> str:
        mac = hmac.new(self._secret, f"{bucket}/{path}:{expires}".encode(), hashlib.sha256)
        return f"{expires}.{mac.hexdigest()}"

    async def sign(self, request: Request) -> Response:
        if not self._authorised(request):
            return self._denied()
        bucket, path = request.path_params["bucket"], request.path_params["path"]
        if (bucket, path) not in self.objects:
            return self._error(404, "not_found", "Object not found")
        seconds = int((await self._json(request)).get("expiresIn") or 0)
        if seconds <= 0:
            return self._error(400, "Bad Request", "expiresIn must be a positive number")
        expires = int(self.state.now().timestamp()) + seconds
        token = self._token(bucket, path, expires)
        return JSONResponse({"signedURL": f"/object/sign/{bucket}/{path}?token={token}"})

    async def signed_get(self, request: Request) -> Response:
        bucket, path = request.path_params["bucket"], request.path_params["path"]
        token = request.query_params.get("token", "")
        expires_text, _, _ = token.partition(".")
        try:
            expires = int(expires_text)
        except ValueError:
            return self._error(400, "InvalidJWT", "invalid token")
        if not hmac.compare_digest(token, self._token(bucket, path, expires)):
            return self._error(400, "InvalidJWT", "invalid signature")
        if self.state.now().timestamp() > expires:
            return self._error(400, "InvalidJWT", "jwt expired")
        found = self.objects.get((bucket, path))
        if found is None:
            return self._error(404, "not_found", "Object not found")
        return FileResponse(found.file, media_type=found.content_type)
