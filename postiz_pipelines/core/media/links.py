"""Expiring signed URLs for media files, for platforms that fetch media themselves (Meta).

``/api/postiz/media/<id>/file<.ext>?expires=<epoch>&signature=<hex>``: HMAC-SHA256 of the
media id and the expiry under the media-link key (``AppContext.media_link_key``:
``POSTIZ_MEDIA_LINK_KEY`` or a key file, never an encryption key, so rotating those keeps
published links valid); verified in constant time. Anyone with the URL can fetch the file
until it expires, and nothing else.
"""

from __future__ import annotations

import hmac
import mimetypes
from datetime import datetime, timedelta
from hashlib import sha256

from postiz_pipelines.core.context import AppContext


def _signature(key: bytes, media_id: str, expires: int) -> str:
    return hmac.new(key, f"media-links:{media_id}:{expires}".encode(), sha256).hexdigest()


def signed_url(
    key: bytes,
    *,
    base_url: str,
    media_id: str,
    mime_type: str,
    now: datetime,
    valid_for: timedelta,
) -> str:
    expires = int((now + valid_for).timestamp())
    ext = mimetypes.guess_extension(mime_type) or ""
    return (
        f"{base_url.rstrip('/')}/api/postiz/media/{media_id}/file{ext}"
        f"?expires={expires}&signature={_signature(key, media_id, expires)}"
    )


def verify(key: bytes, *, media_id: str, expires: int, signature: str, now: datetime) -> bool:
    """True when the signature is ours and the link has not expired."""
    if now.timestamp() > expires:
        return False
    return hmac.compare_digest(_signature(key, media_id, expires), signature)


def public_media_url(app: AppContext, media_id: str, mime_type: str, now: datetime) -> str | None:
    """A signed public URL for a media file, when this deployment has a public URL."""
    s = app.settings
    if not s.public_url:
        return None
    return signed_url(
        app.media_link_key,
        base_url=s.public_url,
        media_id=media_id,
        mime_type=mime_type,
        now=now,
        valid_for=timedelta(seconds=s.media_link_seconds),
    )
