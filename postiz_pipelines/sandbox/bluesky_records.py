"""Validation of an ``app.bsky.feed.post`` record as the PDS's lexicon check does it, for the
Bluesky emulator: text (300 graphemes, 3,000 UTF-8 bytes), ``createdAt``, ``langs`` (at most
3), facets (byte offsets within the text), reply strong refs, and the images (at most 4,
``alt`` required, 2,000,000 bytes each) and video (``video/mp4``, 100,000,000 bytes)
embeds, whose blobs must have been uploaded by the same account.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from postiz_pipelines.sandbox.atproto_syntax import record_uri
from postiz_pipelines.sandbox.counting import grapheme_count
from postiz_pipelines.sandbox.state import StoredMedia

MAX_GRAPHEMES = 300
MAX_TEXT_BYTES = 3000
MAX_LANGS = 3
MAX_IMAGES = 4
IMAGE_MAX_BYTES = 2_000_000
VIDEO_MAX_BYTES = 100_000_000
IMAGES_EMBED = "app.bsky.embed.images"
VIDEO_EMBED = "app.bsky.embed.video"
EXTERNAL_EMBED = "app.bsky.embed.external"
FEATURES = frozenset(f"app.bsky.richtext.facet#{kind}" for kind in ("link", "mention", "tag"))
PREFIX = "Invalid app.bsky.feed.post record: "
MAX_TAG_GRAPHEMES = 64
# RFC 5646: language[-extlang][-script][-region]*(-variant)*(-extension)*[-x-private], or
# a private-use tag alone (the lexicon's "language" format, which the PDS checks).
LANGUAGE_TAG = re.compile(
    r"^(?:(?:[a-z]{2,3}(?:-[a-z]{3}){0,3}|[a-z]{4,8})(?:-[a-z]{4})?(?:-(?:[a-z]{2}|\d{3}))?"
    r"(?:-(?:[a-z\d]{5,8}|\d[a-z\d]{3}))*(?:-[\da-wy-z](?:-[a-z\d]{2,8})+)*"
    r"(?:-x(?:-[a-z\d]{1,8})+)?|x(?:-[a-z\d]{1,8})+|i-[a-z]{2,8}|en-gb-oed)$",
    re.IGNORECASE,
)

BlobLookup = Callable[[str], StoredMedia | None]


class RecordInvalid(ValueError):
    """A record the PDS refuses; ``error`` is the XRPC error name of the 400."""

    def __init__(self, message: str, error: str = "InvalidRequest") -> None:
        super().__init__(message)
        self.error = error


@dataclass(frozen=True)
class PostParts:
    """What a valid post record says, as the emulator records it."""

    text: str
    facets: tuple[dict[str, Any], ...]
    langs: tuple[str, ...]
    media: tuple[StoredMedia, ...]
    alts: tuple[str, ...]
    embed_type: str | None
    parent: str | None
    root: str | None


def _bad(path: str, problem: str) -> RecordInvalid:
    return RecordInvalid(f"{PREFIX}{path} {problem}")


def check_post(record: dict[str, Any], find_blob: BlobLookup) -> PostParts:
    """The parts of ``record``; ``RecordInvalid`` with the PDS's message when it is not valid."""
    text = record.get("text")
    if "text" not in record:
        raise RecordInvalid(f'{PREFIX}Record must have the property "text"')
    if not isinstance(text, str):
        raise _bad("Record/text", "must be a string")
    if grapheme_count(text) > MAX_GRAPHEMES:
        raise _bad("Record/text", f"must not be longer than {MAX_GRAPHEMES} graphemes")
    if len(text.encode("utf-8")) > MAX_TEXT_BYTES:
        raise _bad("Record/text", f"must not be longer than {MAX_TEXT_BYTES} characters")
    _check_created_at(record)
    langs = record.get("langs") or []
    if not isinstance(langs, list) or not all(isinstance(x, str) for x in langs):
        raise _bad("Record/langs", "must be an array of strings")
    if len(langs) > MAX_LANGS:
        raise _bad("Record/langs", f"must not have more than {MAX_LANGS} elements")
    for i, lang in enumerate(langs):
        if not LANGUAGE_TAG.match(lang):
            raise _bad(f"Record/langs/{i}", "must be a valid language code")
    facets = _check_facets(record.get("facets"), len(text.encode("utf-8")))
    parent, root = _check_reply(record.get("reply"))
    media, alts, embed_type = _check_embed(record.get("embed"), find_blob)
    return PostParts(text, facets, tuple(langs), media, alts, embed_type, parent, root)


def _check_created_at(record: dict[str, Any]) -> None:
    value = record.get("createdAt")
    if value is None:
        raise RecordInvalid(f'{PREFIX}Record must have the property "createdAt"')
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise _bad(
            "Record/createdAt", "must be an valid atproto datetime (both RFC-3339 and ISO-8601)"
        )


def _check_facets(value: Any, text_bytes: int) -> tuple[dict[str, Any], ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _bad("Record/facets", "must be an array")
    for i, facet in enumerate(value):
        path = f"Record/facets/{i}"
        index = facet.get("index") if isinstance(facet, dict) else None
        if not isinstance(index, dict):
            raise RecordInvalid(f'{PREFIX}{path} must have the property "index"')
        start, end = index.get("byteStart"), index.get("byteEnd")
        for name, number in (("byteStart", start), ("byteEnd", end)):
            if not isinstance(number, int) or isinstance(number, bool) or number < 0:
                raise _bad(f"{path}/index/{name}", "must be an integer >= 0")
        assert isinstance(start, int) and isinstance(end, int)
        if start > end or end > text_bytes:
            raise _bad(
                f"{path}/index", f"[{start}, {end}) is outside the text's {text_bytes} bytes"
            )
        features = facet.get("features")
        if not isinstance(features, list) or not features:
            raise _bad(f"{path}/features", "must be a non-empty array")
        for j, feature in enumerate(features):
            kind = feature.get("$type") if isinstance(feature, dict) else None
            if kind not in FEATURES:
                raise _bad(f"{path}/features/{j}", f"has an unknown $type {kind!r}")
            if kind == "app.bsky.richtext.facet#tag":
                tag = feature.get("tag")
                if not isinstance(tag, str) or not tag:
                    raise RecordInvalid(f'{PREFIX}{path}/features/{j} must have the property "tag"')
                if grapheme_count(tag) > MAX_TAG_GRAPHEMES or tag.startswith(("#", "＃")):
                    raise _bad(f"{path}/features/{j}/tag", "must be a tag without its #")
    return tuple(value)


def _check_reply(value: Any) -> tuple[str | None, str | None]:
    if value is None:
        return None, None
    if not isinstance(value, dict):
        raise _bad("Record/reply", "must be an object")
    uris = []
    for part in ("root", "parent"):
        ref = value.get(part)
        if not isinstance(ref, dict):
            raise RecordInvalid(f'{PREFIX}Record/reply must have the property "{part}"')
        if not isinstance(ref.get("cid"), str) or not ref["cid"]:
            raise _bad(f"Record/reply/{part}/cid", "must be a cid string")
        try:
            uris.append(record_uri(str(ref.get("uri"))))
        except ValueError:
            raise _bad(f"Record/reply/{part}/uri", "must be a valid at-uri") from None
    root, parent = uris
    return parent, root


def _check_embed(
    value: Any, find_blob: BlobLookup
) -> tuple[tuple[StoredMedia, ...], tuple[str, ...], str | None]:
    if value is None:
        return (), (), None
    kind = value.get("$type") if isinstance(value, dict) else None
    if kind == IMAGES_EMBED:
        images = value.get("images")
        if not isinstance(images, list) or not images:
            raise _bad("Record/embed/images", "must be a non-empty array")
        if len(images) > MAX_IMAGES:
            raise _bad("Record/embed/images", f"must not have more than {MAX_IMAGES} elements")
        media, alts = [], []
        for i, image in enumerate(images):
            path = f"Record/embed/images/{i}"
            if not isinstance(image, dict) or not isinstance(image.get("alt"), str):
                raise RecordInvalid(f'{PREFIX}{path} must have the property "alt"')
            media.append(
                _blob(image.get("image"), f"{path}/image", "image/", IMAGE_MAX_BYTES, find_blob)
            )
            alts.append(image["alt"])
        return tuple(media), tuple(alts), kind
    if kind == VIDEO_EMBED:
        alt = value.get("alt", "")
        if not isinstance(alt, str):
            raise _bad("Record/embed/alt", "must be a string")
        video = _blob(
            value.get("video"), "Record/embed/video", "video/mp4", VIDEO_MAX_BYTES, find_blob
        )
        return (video,), (alt,), kind
    if kind == EXTERNAL_EMBED:
        if not isinstance(value.get("external"), dict):
            raise RecordInvalid(f'{PREFIX}Record/embed must have the property "external"')
        return (), (), kind
    raise _bad("Record/embed", f"has an unsupported $type {kind!r}")


def _blob(ref: Any, path: str, accept: str, max_bytes: int, find_blob: BlobLookup) -> StoredMedia:
    link = ref.get("ref") if isinstance(ref, dict) else None
    cid = link.get("$link") if isinstance(link, dict) else None
    if not isinstance(ref, dict) or ref.get("$type") != "blob" or not isinstance(cid, str):
        raise _bad(path, "should be a blob ref")
    media = find_blob(cid)
    if media is None:
        raise RecordInvalid(f"Could not find blob: {cid}", "BlobNotFound")
    if not media.mime_type.startswith(accept):
        wanted = accept + "*" if accept.endswith("/") else accept
        raise _bad(
            path, f"has the wrong type of file. It is {media.mime_type} but must match {wanted}"
        )
    if media.size_bytes > max_bytes:
        raise _bad(path, f"file is too big (max {max_bytes} bytes)")
    return media
