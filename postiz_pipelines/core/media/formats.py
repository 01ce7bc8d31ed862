"""The accepted media formats, recognised by their first bytes (never by name or header).

The seed's list: images JPEG, PNG, GIF, WebP; videos MP4, MOV, AVI; at most 100 MB.
"""

from __future__ import annotations

from dataclasses import dataclass

ACCEPTED = "JPEG, PNG, GIF, WebP, MP4, MOV, AVI"
MAX_UPLOAD_BYTES = 100 * 1024 * 1024
QUICKTIME_ATOMS = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}
HEAD_BYTES = 4096  # enough to recognise every accepted format from its first bytes


@dataclass(frozen=True)
class FileType:
    mime_type: str
    kind: str  # image | video
    ext: str

    @property
    def label(self) -> str:
        """A name people know the format by (``JPEG``, ``MP4``)."""
        return LABELS.get(self.mime_type, self.mime_type)


LABELS = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/gif": "GIF",
    "image/webp": "WebP",
    "video/mp4": "MP4",
    "video/quicktime": "MOV",
    "video/x-msvideo": "AVI",
}
EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "video/mp4": ".mp4",
    "video/quicktime": ".mov",
    "video/x-msvideo": ".avi",
}
# the names a file of each type may reasonably carry; any other known media name is a lie
NAME_SUFFIXES = {
    "image/jpeg": {".jpg", ".jpeg", ".jpe", ".jfif"},
    "image/png": {".png"},
    "image/gif": {".gif"},
    "image/webp": {".webp"},
    "video/mp4": {".mp4", ".m4v", ".mov"},
    "video/quicktime": {".mov", ".qt", ".mp4"},
    "video/x-msvideo": {".avi"},
}
KNOWN_SUFFIXES = set().union(*NAME_SUFFIXES.values()) | {
    ".heic", ".heif", ".avif", ".tif", ".tiff", ".bmp", ".webm", ".mkv", ".pdf", ".svg",
}  # fmt: skip
PILLOW_FORMATS = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "GIF": "image/gif",
    "WEBP": "image/webp",
}


def sniff(head: bytes) -> FileType | None:
    """The file's type from its first bytes, or None for anything we do not accept."""
    if head.startswith(b"\xff\xd8\xff"):
        return FileType("image/jpeg", "image", ".jpg")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return FileType("image/png", "image", ".png")
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return FileType("image/gif", "image", ".gif")
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return FileType("image/webp", "image", ".webp")
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return FileType("video/x-msvideo", "video", ".avi")
    if head[4:8] == b"ftyp":
        if head[8:12] == b"qt  ":
            return FileType("video/quicktime", "video", ".mov")
        return FileType("video/mp4", "video", ".mp4")
    if head[4:8] in QUICKTIME_ATOMS:
        return FileType("video/quicktime", "video", ".mov")
    return None


def name_mismatch(filename: str, ftype: FileType) -> str | None:
    """The file name's suffix when it names another known format than the content, else None.

    ``photo.png`` holding JPEG bytes is refused (someone sent the wrong file); a name with
    no suffix or one we do not know says nothing and is accepted.
    """
    dot = filename.rfind(".")
    if dot <= 0:
        return None
    suffix = filename[dot:].lower()
    if suffix in KNOWN_SUFFIXES and suffix not in NAME_SUFFIXES[ftype.mime_type]:
        return suffix
    return None
