"""Recognising and measuring uploads: every accepted format made for real (Pillow, PyAV),
EXIF orientation, the pixel limit read from the header, and a full decode before accepting."""

from __future__ import annotations

import pytest

from postiz_pipelines.core.media.formats import name_mismatch, sniff
from postiz_pipelines.core.media.probe import measure
from postiz_pipelines.errors import ValidationFailed

LIMIT = 50_000_000


def _measure(tmp_path, data: bytes, limit: int = LIMIT):  # type: ignore[no-untyped-def]
    ftype = sniff(data[:64])
    assert ftype is not None
    path = tmp_path / f"f{ftype.ext}"
    path.write_bytes(data)
    return ftype, measure(path, ftype, max_pixels=limit)


@pytest.mark.parametrize(
    ("fmt", "mime"),
    [("JPEG", "image/jpeg"), ("PNG", "image/png"), ("GIF", "image/gif"), ("WEBP", "image/webp")],
)
def test_images_are_recognised_and_measured(tmp_path, media_maker, fmt, mime):
    ftype, m = _measure(tmp_path, media_maker.image(30, 20, fmt))
    assert ftype.mime_type == mime and ftype.kind == "image"
    assert (m.width, m.height, m.animated) == (30, 20, False)


def test_an_animated_gif_is_known_as_animated(tmp_path, media_maker):
    _, m = _measure(tmp_path, media_maker.animated_gif(40, 30, frames=5))
    assert (m.width, m.height, m.animated) == (40, 30, True)


def test_exif_orientation_6_is_measured_as_portrait(tmp_path, media_maker):
    # stored 300 wide and 200 high; orientation 6 says "turn a quarter clockwise"
    _, m = _measure(tmp_path, media_maker.image(300, 200, orientation=6))
    assert (m.width, m.height, m.orientation) == (200, 300, 6)
    _, upright = _measure(tmp_path, media_maker.image(300, 200, orientation=1))
    assert (upright.width, upright.height) == (300, 200)


@pytest.mark.parametrize(
    ("options", "mime", "codecs"),
    [
        ({}, "video/mp4", ("h264", "aac")),
        ({"fmt": "mov"}, "video/quicktime", ("h264", "aac")),
        ({"fmt": "avi", "vcodec": "mpeg4", "acodec": "mp3"}, "video/x-msvideo", ("mpeg4", "mp3")),
        ({"acodec": None}, "video/mp4", ("h264", None)),
    ],
)
def test_videos_are_probed_with_pyav(tmp_path, media_maker, options, mime, codecs):
    data = media_maker.video(width=96, height=64, seconds=2, fps=25, **options)
    ftype, m = _measure(tmp_path, data)
    assert ftype.mime_type == mime and ftype.kind == "video"
    assert (m.width, m.height) == (96, 64)
    assert (m.video_codec, m.audio_codec) == codecs
    assert m.frame_rate == pytest.approx(25, abs=0.01)
    assert m.duration_ms is not None and 1900 <= m.duration_ms <= 2200
    assert m.bit_rate and m.bit_rate > 0


def test_pixel_limit_is_read_from_the_header_with_the_same_number(tmp_path, media_maker):
    data = media_maker.image(12_000, 12_000, "PNG")  # 144 Mpx of one colour: a small file
    with pytest.raises(ValidationFailed) as exc:
        _measure(tmp_path, data, limit=LIMIT)
    problem = exc.value.problems[0]
    assert problem.field == "file" and problem.limit == LIMIT
    assert f"limit {LIMIT} pixels" in problem.message and "144000000 pixels" in problem.message
    # under a higher limit of the setting, the same file passes the header check
    _, m = _measure(tmp_path, media_maker.image(400, 300, "PNG"), limit=120_000)
    assert m.width == 400


def test_a_truncated_jpeg_is_refused_by_the_full_decode(tmp_path, media_maker):
    whole = media_maker.image(800, 600, noise=True, quality=90)
    with pytest.raises(ValidationFailed) as exc:
        _measure(tmp_path, whole[: len(whole) // 2])
    assert "cannot be decoded" in exc.value.problems[0].message
    _, m = _measure(tmp_path, whole)
    assert (m.width, m.height) == (800, 600)


def test_unknown_bytes_broken_videos_and_videos_without_a_decoder(tmp_path, media_maker):
    assert sniff(b"%PDF-1.7 ...") is None and sniff(b"") is None
    assert sniff(b"RIFF\x00\x00\x00\x00WAVEfmt ") is None
    with pytest.raises(ValidationFailed) as exc:
        _measure(tmp_path, b"\x00\x00\x00\x18ftypmp42" + b"\xff" * 100)
    assert "cannot be read" in exc.value.problems[0].message
    good = media_maker.video()
    # the same file whose sample entry names a codec no decoder knows
    unknown = good.replace(b"avc1", b"zz9q")
    with pytest.raises(ValidationFailed) as exc:
        _measure(tmp_path, unknown)
    assert "cannot be decoded" in exc.value.problems[0].message or "cannot be read" in (
        exc.value.problems[0].message
    )


def test_a_name_claiming_another_format_is_noticed():
    jpeg = sniff(b"\xff\xd8\xff\xe0")
    assert jpeg is not None
    assert name_mismatch("holiday.png", jpeg) == ".png"
    assert name_mismatch("holiday.JPEG", jpeg) is None
    assert name_mismatch("no-suffix", jpeg) is None and name_mismatch("notes.tmp", jpeg) is None
    assert name_mismatch("été 🌞.jpg", jpeg) is None
