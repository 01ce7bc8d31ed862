"""Measuring an uploaded file, and proving it decodes, before it is accepted.

Images (Pillow): the pixel count is read from the header and checked against the limit
before any pixel is decoded (a decompression bomb never reaches memory); then the whole
image, every frame of an animation, is decoded, so a truncated or corrupt file is refused
at upload rather than at publish time. Width and height are as displayed: EXIF
orientation applied (a portrait photo stored landscape with orientation 6 is portrait).

Videos (PyAV, FFmpeg's libraries): container, codecs, duration, frame rate, dimensions
(rotation applied), bit rate and audio are read from the streams, and the first video
frame is decoded, which proves a decoder exists: a video we could not transcode is
refused here.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

from postiz_pipelines.core.media.formats import FileType
from postiz_pipelines.errors import Problem, ValidationFailed

EXIF_ORIENTATION = 0x0112
SWAPS_SIDES = {5, 6, 7, 8}  # orientations that turn the picture a quarter
MAX_ANIMATION_FRAMES = 2000


@dataclass(frozen=True)
class Measured:
    """What is known of a file after probing; None where the kind has no such thing."""

    width: int | None = None
    height: int | None = None
    duration_ms: int | None = None
    frame_rate: float | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    bit_rate: int | None = None
    rotation: int = 0  # degrees counter-clockwise the player turns the picture (display matrix)
    animated: bool = False
    orientation: int = 1  # EXIF orientation of an image (1 = as stored)


def refuse(message: str, value: object = None, limit: object = None) -> ValidationFailed:
    return ValidationFailed(Problem("file", message, value, limit))


def measure(path: Path, ftype: FileType, *, max_pixels: int) -> Measured:
    """Measure the file and prove it decodes; ValidationFailed (field ``file``) if not."""
    if ftype.kind == "image":
        return measure_image(path, ftype, max_pixels=max_pixels)
    return measure_video(path, ftype, max_pixels=max_pixels)


def measure_image(path: Path, ftype: FileType, *, max_pixels: int) -> Measured:
    """Header first (pixel limit), then a full decode of every frame."""
    from PIL import Image, UnidentifiedImageError

    broken = refuse(f"starts like a {ftype.label} image but cannot be decoded", ftype.mime_type)
    with warnings.catch_warnings():
        # our own limit, checked below from the header, is the one that applies
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            img = Image.open(path)
        except Image.DecompressionBombError:
            raise _too_many_pixels(None, max_pixels) from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            raise broken from None
        with img:
            width, height = img.size
            if width * height > max_pixels:
                raise _too_many_pixels(width * height, max_pixels)
            frames = getattr(img, "n_frames", 1)
            if frames > MAX_ANIMATION_FRAMES:
                raise refuse(
                    f"animation has {frames} frames, limit {MAX_ANIMATION_FRAMES}",
                    frames,
                    MAX_ANIMATION_FRAMES,
                )
            if frames * width * height > 4 * max_pixels:
                raise _too_many_pixels(frames * width * height, 4 * max_pixels, "all frames")
            try:
                for index in range(frames):
                    img.seek(index)
                    img.load()
            except (OSError, SyntaxError, ValueError, EOFError):
                raise broken from None
            img.seek(0)
            orientation = int(img.getexif().get(EXIF_ORIENTATION, 1) or 1)
    if orientation in SWAPS_SIDES:
        width, height = height, width
    return Measured(width=width, height=height, animated=frames > 1, orientation=orientation)


def _too_many_pixels(pixels: int | None, limit: int, what: str = "image") -> ValidationFailed:
    shown = f"{pixels} pixels" if pixels is not None else "too many pixels"
    return refuse(f"{what} has {shown}, limit {limit} pixels", pixels, limit)


def measure_video(path: Path, ftype: FileType, *, max_pixels: int) -> Measured:
    """Streams and codecs from the container, and one decoded frame."""
    import av

    broken = refuse(f"starts like a {ftype.label} video but cannot be read", ftype.mime_type)
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except (av.FFmpegError, OSError, ValueError):
        raise broken from None
    with container:
        if not container.streams.video:
            raise refuse(f"this {ftype.label} file holds no video stream", ftype.mime_type)
        stream = container.streams.video[0]
        ctx = stream.codec_context
        if ctx is None:
            tag = getattr(stream, "codec_tag", "") or "unknown"
            raise refuse(
                f"the video codec ({tag}) cannot be decoded, so it cannot be prepared for the "
                "platforms",
                tag,
            )
        width, height = ctx.width or 0, ctx.height or 0
        if width * height > max_pixels:
            raise _too_many_pixels(width * height, max_pixels, "video")
        try:
            frame = next(container.decode(stream), None)
        except (av.FFmpegError, ValueError):
            frame = None
        if frame is None:
            raise refuse(
                f"the video stream ({ctx.name}) cannot be decoded, so it cannot be prepared "
                "for the platforms",
                ctx.name,
            )
        rotation = int(getattr(frame, "rotation", 0) or 0) % 360
        audio = container.streams.audio[0] if container.streams.audio else None
        duration = _duration_seconds(container, stream)
        rate = stream.average_rate or stream.guessed_rate
        codec = stream.codec_context.codec
        audio_codec = audio.codec_context.codec.canonical_name if audio is not None else None
        bit_rate = container.bit_rate or None
    if rotation in (90, 270):
        width, height = height, width
    return Measured(
        width=width or None,
        height=height or None,
        duration_ms=round(duration * 1000) if duration is not None else None,
        frame_rate=round(float(rate), 3) if rate else None,
        video_codec=codec.canonical_name,
        audio_codec=audio_codec,
        bit_rate=bit_rate,
        rotation=rotation,
    )


def _duration_seconds(container, stream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000
    return None
