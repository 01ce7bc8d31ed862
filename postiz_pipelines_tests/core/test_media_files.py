"""Recognising media by its bytes and measuring it: every accepted format, headers of
MP4/MOV/AVI."""

from __future__ import annotations

import io
import struct

import pytest

from postiz_pipelines.core.media.assets import measure, sniff
from postiz_pipelines.errors import ValidationFailed


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def _mp4(width: int, height: int, seconds: int, brand: bytes = b"isom") -> bytes:
    mvhd = bytes(4) + bytes(8) + struct.pack(">II", 1000, seconds * 1000) + bytes(80)
    tkhd = bytes(4) + bytes(72) + struct.pack(">II", width << 16, height << 16)
    moov = _box(b"moov", _box(b"mvhd", mvhd) + _box(b"trak", _box(b"tkhd", tkhd)))
    return _box(b"ftyp", brand + bytes(4)) + moov + _box(b"mdat", bytes(64))


def _avi(width: int, height: int, frames: int, usec: int) -> bytes:
    avih = (
        struct.pack("<5I", usec, 0, 0, 0, frames)
        + struct.pack("<3I", 0, 1, 0)
        + struct.pack("<2I", width, height)
        + bytes(16)
    )
    hdrl = b"hdrl" + b"avih" + struct.pack("<I", len(avih)) + avih
    return (
        b"RIFF"
        + struct.pack("<I", 4 + 8 + len(hdrl))
        + b"AVI "
        + b"LIST"
        + struct.pack("<I", len(hdrl))
        + hdrl
    )


def _image(fmt: str) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (30, 20), (200, 10, 10)).save(buf, fmt)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("fmt", "mime"),
    [("JPEG", "image/jpeg"), ("PNG", "image/png"), ("GIF", "image/gif"), ("WEBP", "image/webp")],
)
def test_images_are_recognised_and_measured(tmp_path, fmt, mime):
    data = _image(fmt)
    ftype = sniff(data[:64])
    assert ftype is not None and ftype.mime_type == mime and ftype.kind == "image"
    path = tmp_path / "f"
    path.write_bytes(data)
    m = measure(path, ftype)
    assert (m.width, m.height) == (30, 20)


def test_videos_are_recognised_and_measured(tmp_path):
    for data, mime in (
        (_mp4(1280, 720, 12), "video/mp4"),
        (_mp4(640, 360, 3, b"qt  "), "video/quicktime"),
    ):
        ftype = sniff(data[:64])
        assert ftype is not None and ftype.mime_type == mime
        path = tmp_path / "v"
        path.write_bytes(data)
        m = measure(path, ftype)
        assert (m.width, m.height) == ((1280, 720) if mime == "video/mp4" else (640, 360))
        assert m.duration_ms == (12_000 if mime == "video/mp4" else 3_000)
    avi = _avi(320, 240, frames=250, usec=40_000)
    ftype = sniff(avi)
    assert ftype is not None and ftype.mime_type == "video/x-msvideo"
    path = tmp_path / "a.avi"
    path.write_bytes(avi)
    m = measure(path, ftype)
    assert (m.width, m.height, m.duration_ms) == (320, 240, 10_000)


def test_unknown_bytes_and_broken_images(tmp_path):
    assert sniff(b"%PDF-1.7 ...") is None
    assert sniff(b"") is None
    assert sniff(b"RIFF\x00\x00\x00\x00WAVEfmt ") is None
    broken = _image("PNG")[:30]
    ftype = sniff(broken)
    assert ftype is not None
    path = tmp_path / "b.png"
    path.write_bytes(broken)
    with pytest.raises(ValidationFailed) as exc:
        measure(path, ftype)
    assert exc.value.problems[0].field == "file"


def test_video_with_unreadable_headers_is_kept_unmeasured(tmp_path):
    data = b"\x00\x00\x00\x18ftypmp42" + b"\xff" * 100
    ftype = sniff(data)
    path = tmp_path / "v.mp4"
    path.write_bytes(data)
    m = measure(path, ftype)  # type: ignore[arg-type]
    assert (m.width, m.height, m.duration_ms) == (None, None, None)
