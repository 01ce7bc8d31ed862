"""An image prepared for one platform (Pillow): oriented, sized, converted, recompressed.

The order matters: EXIF orientation is applied first, so every later measure (aspect,
width, pixels) is of the picture as people see it. Then the image is scaled to the
platform's dimension and pixel limits, converted where the platform does not take its
format (PNG or WebP to JPEG for Instagram, transparency flattened on white), and encoded
down a quality ladder, then scaled down a step at a time, until the byte limit holds.
Animated GIFs stay animated where the platform takes GIFs. The ICC colour profile is
kept; EXIF (GPS position, camera make and serial number, time), XMP, IPTC and comments
are not written: nothing of the original's metadata but its colour profile leaves.

``plan_image`` is pure (it predicts the variant from the asset's measures, which is what
post creation validates); ``render_image`` does the work.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from postiz_pipelines.core.media.probe import SWAPS_SIDES
from postiz_pipelines.providers.base import MediaLimits

QUALITIES = (90, 84, 78, 72, 65, 58, 50, 42)
SHRINK = 0.8  # each step down in size when the lowest quality is still too big
MIN_SIDE = 16
BACKGROUND = (255, 255, 255)  # transparency is flattened onto white for JPEG
SAVE_FORMAT = {"image/jpeg": "JPEG", "image/png": "PNG", "image/gif": "GIF", "image/webp": "WEBP"}
# metadata keys Pillow exposes in ``info`` that may hold location or device data
METADATA_KEYS = {"exif", "xmp", "XML:com.adobe.xmp", "comment", "photoshop", "iptc", "adobe"}


class ImageTooStubborn(Exception):
    """The byte limit could not be met even at the smallest size tried."""


@dataclass(frozen=True)
class ImageTarget:
    """What the platform's variant will be: its format, size and animation."""

    mime_type: str
    width: int
    height: int
    animated: bool
    max_bytes: int
    steps: tuple[str, ...]

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height


def byte_limit(limits: MediaLimits, mime_type: str) -> int:
    if mime_type == "image/gif" and limits.max_gif_bytes:
        return limits.max_gif_bytes
    return limits.max_image_bytes


def target_mime(mime_type: str, animated: bool, limits: MediaLimits) -> str:
    """The variant's format: the original's when the platform takes it, else JPEG (or PNG)."""
    types = limits.image_types
    if animated and mime_type in ("image/gif", "image/webp") and mime_type in types:
        return mime_type
    if animated and "image/gif" in types:
        return "image/gif"
    if mime_type in types and not (animated and mime_type in ("image/gif", "image/webp")):
        return mime_type
    for choice in ("image/jpeg", "image/png", "image/webp"):
        if choice in types:
            return choice
    return sorted(types)[0] if types else "image/jpeg"


def fit_scale(width: int, height: int, limits: MediaLimits) -> float:
    """The scale that brings (width, height) within the dimension and pixel limits."""
    scale = 1.0
    if limits.max_image_width:
        scale = min(scale, limits.max_image_width / width)
    if limits.max_image_height:
        scale = min(scale, limits.max_image_height / height)
    if limits.max_image_pixels:
        scale = min(scale, math.sqrt(limits.max_image_pixels / (width * height)))
    if limits.max_image_side_sum:
        scale = min(scale, limits.max_image_side_sum / (width + height))
    if scale >= 1.0 and limits.min_image_width and width < limits.min_image_width:
        scale = limits.min_image_width / width  # scaled up: the platform refuses narrow images
    return scale


def scaled(width: int, height: int, scale: float) -> tuple[int, int]:
    if scale == 1.0:
        return width, height
    # floor, so that a limit is never passed by rounding
    return max(1, math.floor(width * scale + 1e-9)), max(1, math.floor(height * scale + 1e-9))


def plan_image(
    *, mime_type: str, width: int, height: int, animated: bool, size_bytes: int, limits: MediaLimits
) -> ImageTarget:
    """The variant ``render_image`` will make (width and height as displayed)."""
    target = target_mime(mime_type, animated, limits)
    w, h = scaled(width, height, fit_scale(width, height, limits))
    steps = []
    if (w, h) != (width, height):
        steps.append("resize")
    if target != mime_type:
        steps.append("convert")
    return ImageTarget(
        mime_type=target,
        width=w,
        height=h,
        animated=animated and target in ("image/gif", "image/webp"),
        max_bytes=byte_limit(limits, target),
        steps=tuple(steps),
    )


@dataclass(frozen=True)
class RenderedImage:
    mime_type: str
    width: int
    height: int
    size_bytes: int
    steps: tuple[str, ...]
    passthrough: bool  # the original's bytes are sent as they are
    quality: int | None = None  # the ladder's rung that held (JPEG, WebP)


def render_image(src: Path, dst: Path, target: ImageTarget, *, size_bytes: int) -> RenderedImage:
    """Write the variant of ``src`` described by ``target`` to ``dst``.

    When the original already is the variant (format, size and bytes within the limits,
    upright, and carrying no metadata but a colour profile) nothing is written and
    ``passthrough`` is True. Raises ImageTooStubborn when the byte limit cannot be met.
    """
    from PIL import Image

    with Image.open(src) as img:
        orientation = int(img.getexif().get(0x0112, 1) or 1)
        untouched = (
            not target.steps
            and orientation == 1
            and size_bytes <= target.max_bytes
            and not has_metadata(img)
        )
        if untouched:
            w, h = img.size
            return RenderedImage(target.mime_type, w, h, size_bytes, (), True)
        quality = None
        if target.animated:
            data, size = _encode_animation(img, target)
        else:
            data, size, quality = _encode_still(img, target, orientation)
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(data)
    steps = (("orient",) if orientation != 1 else ()) + target.steps + ("strip",)
    return RenderedImage(target.mime_type, size[0], size[1], len(data), steps, False, quality)


def has_metadata(img: Any) -> bool:
    """True when the image carries EXIF, XMP, IPTC, comments or text chunks."""
    if len(img.getexif()):
        return True
    if any(k in img.info for k in METADATA_KEYS):
        return True
    return bool(getattr(img, "text", None))


def _prepared_still(img: Any, target: ImageTarget, orientation: int) -> Any:
    """Oriented, converted to a mode the target format writes, and sized."""
    from PIL import Image, ImageOps

    icc = img.info.get("icc_profile")
    img.seek(0)
    if img.format == "JPEG":
        # decode at the smallest DCT scale (1/2, 1/4, 1/8) still larger than the target:
        # far less work for a large downscale, and the resize below gives the exact size
        stored = (target.height, target.width) if orientation in SWAPS_SIDES else target.size
        img.draft(img.mode, stored)
    frame = ImageOps.exif_transpose(img) if orientation != 1 else img.copy()
    fmt = SAVE_FORMAT[target.mime_type]
    if fmt == "JPEG":
        frame = _flatten(frame)
    elif frame.mode not in ("RGB", "RGBA", "L", "LA", "P", "1"):
        frame = frame.convert("RGBA" if "A" in frame.getbands() else "RGB")
    if frame.size != (target.width, target.height):
        if frame.mode == "P":
            frame = frame.convert("RGBA")
        frame = frame.resize((target.width, target.height), Image.Resampling.LANCZOS)
    frame.info = {"icc_profile": icc} if icc else {}
    return frame


def _flatten(frame: Any) -> Any:
    from PIL import Image

    if frame.mode == "CMYK":
        return frame
    if frame.mode == "P":
        frame = frame.convert("RGBA")
    if frame.mode in ("RGBA", "LA", "PA"):
        rgba = frame.convert("RGBA")
        base = Image.new("RGB", rgba.size, BACKGROUND)
        base.paste(rgba, mask=rgba.getchannel("A"))
        return base
    return frame if frame.mode in ("RGB", "L") else frame.convert("RGB")


def _save_options(fmt: str, quality: int, icc: bytes | None) -> dict[str, Any]:
    opts: dict[str, Any] = {"format": fmt}
    if icc:
        opts["icc_profile"] = icc
    if fmt in ("JPEG", "WEBP"):
        opts["quality"] = quality
    if fmt == "JPEG":
        opts["optimize"] = True
    if fmt == "PNG":
        opts["optimize"] = True
    return opts


def _encode_still(
    img: Any, target: ImageTarget, orientation: int
) -> tuple[bytes, tuple[int, int], int | None]:
    from PIL import Image

    frame = _prepared_still(img, target, orientation)
    icc = frame.info.get("icc_profile")
    fmt = SAVE_FORMAT[target.mime_type]
    qualities: tuple[int, ...] = QUALITIES if fmt in ("JPEG", "WEBP") else (0,)
    while True:
        for quality in qualities:
            buf = io.BytesIO()
            frame.save(buf, **_save_options(fmt, quality, icc))
            if buf.tell() <= target.max_bytes:
                return buf.getvalue(), frame.size, quality or None
        w, h = frame.size
        if min(w, h) * SHRINK < MIN_SIDE:
            raise ImageTooStubborn(
                f"cannot encode under {target.max_bytes} bytes even at {w}x{h} px"
            )
        frame = frame.resize(scaled(w, h, SHRINK), Image.Resampling.LANCZOS)
        frame.info = {"icc_profile": icc} if icc else {}
        qualities = QUALITIES[2:] if fmt in ("JPEG", "WEBP") else (0,)


def _encode_animation(img: Any, target: ImageTarget) -> tuple[bytes, tuple[int, int]]:
    from PIL import Image, ImageSequence

    durations = []
    frames = []
    for frame in ImageSequence.Iterator(img):
        durations.append(int(frame.info.get("duration", 100) or 100))
        frames.append(frame.convert("RGBA"))
    size = (target.width, target.height)
    fmt = SAVE_FORMAT[target.mime_type]
    while True:
        sized = [f.resize(size, Image.Resampling.LANCZOS) if f.size != size else f for f in frames]
        buf = io.BytesIO()
        first, rest = sized[0], sized[1:]
        first.info = {}
        opts: dict[str, Any] = {"save_all": True, "append_images": rest, "duration": durations}
        opts["loop"] = int(img.info.get("loop", 0) or 0)
        if fmt == "GIF":
            opts["disposal"] = 2
        else:
            opts["quality"] = 80
        first.save(buf, format=fmt, **opts)
        if buf.tell() <= target.max_bytes:
            return buf.getvalue(), size
        if min(size) * SHRINK < MIN_SIDE:
            raise ImageTooStubborn(
                f"cannot encode the animation under {target.max_bytes} bytes even at "
                f"{size[0]}x{size[1]} px"
            )
        size = scaled(size[0], size[1], SHRINK)
