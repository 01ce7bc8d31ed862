"""Supabase Storage through its REST API (the seed's backend), with httpx.

Endpoints used, under ``<NEXT_PUBLIC_SUPABASE_URL>/storage/v1``, each with the service
role key as ``Authorization: Bearer`` and ``apikey``::

    POST   /bucket                         create the bucket (private), once
    POST   /object/{bucket}/{path}         upload (x-upsert: true), body streamed from disk
    GET    /object/{bucket}/{path}         download (streamed to the local cache)
    HEAD   /object/{bucket}/{path}         exists
    DELETE /object/{bucket}                {"prefixes": [path]}
    POST   /object/sign/{bucket}/{path}    {"expiresIn": s} -> {"signedURL": "/object/sign/..."}

The service role key is a ``Secret``: it is never in a repr, log line or error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from postiz_pipelines.core.media.storage import Storage, StorageUnavailable, fill_cache
from postiz_pipelines.crypto import Secret

CHUNK = 1024 * 1024


class SupabaseStorage(Storage):
    """Objects in one bucket of a Supabase project's Storage."""

    name = "supabase"

    def __init__(
        self,
        root: Path,
        *,
        url: str,
        service_role_key: Secret,
        bucket: str,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 60.0,
    ) -> None:
        super().__init__(root)
        self.base = url.rstrip("/") + "/storage/v1"
        self.bucket = bucket
        self._key = service_role_key
        self._transport = transport
        self._timeout = timeout

    def __repr__(self) -> str:
        return f"SupabaseStorage(url={self.base!r}, bucket={self.bucket!r})"

    def _client(self) -> httpx.Client:
        key = self._key.reveal()
        return httpx.Client(
            headers={"Authorization": f"Bearer {key}", "apikey": key},
            timeout=self._timeout,
            transport=self._transport,
        )

    def _object(self, key: str) -> str:
        return f"{self.base}/object/{self.bucket}/{quote(key)}"

    def _check(self, what: str, response: httpx.Response, ok: tuple[int, ...] = (200,)) -> None:
        if response.status_code not in ok:
            raise StorageUnavailable(
                f"Supabase Storage {what} failed (HTTP {response.status_code})"
            )

    def _send(self, what: str, fn: Any, *args: Any, **kw: Any) -> httpx.Response:
        try:
            return fn(*args, **kw)
        except httpx.HTTPError as exc:
            raise StorageUnavailable(
                f"Supabase Storage {what} failed ({type(exc).__name__})"
            ) from None

    def ensure_bucket(self) -> None:
        """Create the (private) bucket unless it exists."""
        with self._client() as http:
            r = self._send(
                "bucket creation",
                http.post,
                f"{self.base}/bucket",
                json={"id": self.bucket, "name": self.bucket, "public": False},
            )
        if r.status_code in (400, 409) and "exist" in r.text.lower():
            return
        self._check("bucket creation", r)

    def put_file(self, key: str, path: Path, content_type: str = "") -> None:
        size = path.stat().st_size

        def chunks():
            with path.open("rb") as fh:
                yield from iter(lambda: fh.read(CHUNK), b"")

        headers = {
            "Content-Type": content_type or "application/octet-stream",
            "Content-Length": str(size),
            "x-upsert": "true",
            "cache-control": "max-age=3600",
        }
        with self._client() as http:
            r = self._send(
                "upload", http.post, self._object(key), content=chunks(), headers=headers
            )
        self._check("upload", r)

    def local_path(self, key: str) -> Path:
        def download(target: Path) -> None:
            with self._client() as http:
                try:
                    with http.stream("GET", self._object(key)) as r:
                        self._check("download", r)
                        with target.open("wb") as fh:
                            for chunk in r.iter_bytes(CHUNK):
                                fh.write(chunk)
                except httpx.HTTPError as exc:
                    raise StorageUnavailable(
                        f"Supabase Storage download failed ({type(exc).__name__})"
                    ) from None

        return fill_cache(self, key, download)

    def delete(self, key: str) -> None:
        with self._client() as http:
            r = self._send(
                "delete",
                http.request,
                "DELETE",
                f"{self.base}/object/{self.bucket}",
                json={"prefixes": [key]},
            )
        self._check("delete", r)
        self.cache_path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        with self._client() as http:
            r = self._send("head", http.head, self._object(key))
        if r.status_code in (400, 404):
            return False
        self._check("head", r)
        return True

    def signed_url(self, key: str, *, expires_in: int) -> str | None:
        with self._client() as http:
            r = self._send(
                "signing",
                http.post,
                f"{self.base}/object/sign/{self.bucket}/{quote(key)}",
                json={"expiresIn": expires_in},
            )
        self._check("signing", r)
        signed = str(r.json().get("signedURL") or r.json().get("signedUrl") or "")
        if not signed:
            raise StorageUnavailable("Supabase Storage signing answered no URL")
        return signed if signed.startswith("http") else f"{self.base}{signed}"
