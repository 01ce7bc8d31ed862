"""Reddit's media upload: an asset lease (``/api/media/asset.json``), then a multipart POST
of the file with the lease's fields to its ``action`` URL, whose XML answer names the file's
``Location``, the URL an image post submits."""

from __future__ import annotations

import html
import re
from collections.abc import Awaitable, Callable

import httpx

from postiz_pipelines.errors import MediaRejected, TransientError
from postiz_pipelines.providers.base import (
    AccountCredentials,
    MediaFile,
    json_body,
    transport_errors,
    upload_part,
)

PLATFORM = "reddit"
LOCATION_RE = re.compile(r"<Location>([^<]+)</Location>")
Send = Callable[..., Awaitable[httpx.Response]]


async def upload_image(
    http: httpx.AsyncClient, send: Send, account: AccountCredentials, media: MediaFile
) -> str:
    """The image's URL on Reddit's media host, through an asset lease."""
    response = await send(
        "POST",
        account,
        "/api/media/asset.json",
        data={"filepath": media.path.name, "mimetype": media.mime_type},
    )
    lease = json_body(response)
    args = lease.get("args") if isinstance(lease, dict) else None
    if response.status_code != 200 or not isinstance(args, dict):
        raise MediaRejected(
            f"{PLATFORM}: the media lease was refused (HTTP {response.status_code})",
            platform=PLATFORM,
            status=response.status_code,
        )
    action = str(args["action"])
    action = f"https:{action}" if action.startswith("//") else action
    fields = {str(f["name"]): str(f["value"]) for f in args.get("fields") or []}
    part = upload_part(PLATFORM, media)
    with transport_errors(PLATFORM):  # pre-signed storage: no token, no User-Agent rules
        upload = await http.post(action, data=fields, files={"file": part})
    if upload.status_code not in (200, 201):
        raise MediaRejected(
            f"{PLATFORM}: the image upload was refused (HTTP {upload.status_code})",
            platform=PLATFORM,
            status=upload.status_code,
        )
    # S3's answer is a fixed little document: the one element we need is read by pattern
    # (no XML parser for untrusted input, and no dependency for one element)
    match = LOCATION_RE.search(upload.text)
    location = html.unescape(match[1]) if match else None
    if not location:
        raise TransientError(
            f"{PLATFORM}: the upload answered without a Location", platform=PLATFORM
        )
    return location
