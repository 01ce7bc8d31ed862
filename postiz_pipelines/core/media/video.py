"""A video prepared for one platform (PyAV): sent as it is, remuxed, or transcoded.

The original is sent as it is when the platform takes its container and codecs and every
limit holds, and it carries no location or device tags; it is remuxed (packets copied
into a fresh MP4/MOV, no tags) when only tags stand in the way; otherwise it is
transcoded to H.264 (libx264) with AAC audio in MP4: scaled to the dimension limits
(even sides), frame rate capped, bit rate chosen to respect the bit-rate and byte limits.
Frames stream through one at a time (memory stays bounded by a few frames) and a
transcode that runs past ``time_limit`` seconds stops with an error. What cannot be fixed
by re-encoding (duration, a frame rate below the minimum, aspect) is left to validation,
which names the limit.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from postiz_pipelines.providers.base import MediaLimits

AUDIO_BIT_RATE = 128_000
DEFAULT_BIT_RATE = 5_000_000  # when the original's is unknown
SAFETY = 0.92  # muxing overhead and rate-control drift under the byte limit
KEPT_TAGS = {
    "major_brand", "minor_version", "compatible_brands", "encoder", "handler_name",
    "vendor_id", "language", "creation_time", "duration",
}  # fmt: skip


class TranscodeFailed(Exception):
    """The video could not be prepared (decoder error, time bound passed)."""


@dataclass(frozen=True)
class VideoSource:
    """The measures of the original, as stored on its asset."""

    mime_type: str
    width: int | None
    height: int | None
    duration_ms: int | None
    frame_rate: float | None
    video_codec: str | None
    audio_codec: str | None
    bit_rate: int | None
    size_bytes: int


@dataclass(frozen=True)
class VideoTarget:
    action: str  # "keep" | "transcode"
    mime_type: str
    width: int | None
    height: int | None
    frame_rate: float | None
    video_codec: str | None
    audio_codec: str | None
    bit_rate: int | None
    size_bytes: int  # predicted
    reasons: tuple[str, ...]
    constant_rate: bool = False  # padded to a constant bit rate (a minimum byte size)


def plan_video(src: VideoSource, limits: MediaLimits) -> VideoTarget:
    """Keep the original (maybe remuxed) or transcode it, and what comes out (pure)."""
    reasons: list[str] = []
    if src.mime_type not in limits.video_types:
        reasons.append("container")
    if src.video_codec and src.video_codec not in limits.video_codecs:
        reasons.append("video codec")
    if src.audio_codec and src.audio_codec not in limits.audio_codecs:
        reasons.append("audio codec")
    w, h = src.width, src.height
    scale = _fit(w, h, limits)
    if scale < 1.0:
        reasons.append("dimensions")
    fps = src.frame_rate
    if fps and limits.max_video_fps and fps > limits.max_video_fps + 1e-6:
        reasons.append("frame rate")
        fps = limits.max_video_fps
    seconds = (src.duration_ms or 0) / 1000
    rate = src.bit_rate or None
    cap = _bit_rate_cap(limits, seconds)
    if rate and limits.max_video_bitrate and rate > limits.max_video_bitrate:
        reasons.append("bit rate")
    if src.size_bytes > limits.max_video_bytes:
        reasons.append("size")
    if limits.min_video_bytes and src.size_bytes < limits.min_video_bytes and seconds > 0:
        reasons.append("minimum size")
    if not reasons:
        return VideoTarget(
            "keep", src.mime_type, w, h, fps, src.video_codec, src.audio_codec, rate,
            src.size_bytes, (),
        )  # fmt: skip
    if w and h:
        w, h = _even(w * scale), _even(h * scale)
    out_rate = min(rate or DEFAULT_BIT_RATE, cap) if cap else (rate or DEFAULT_BIT_RATE)
    floor = _bit_rate_floor(limits, seconds)
    # near a minimum size, x264 pads to a constant rate so that the file reaches it (a
    # variable rate spends far less than its cap on simple pictures)
    constant = bool(floor and out_rate < 2 * floor)
    if constant:
        out_rate = max(out_rate, floor)
    predicted = (
        math.ceil(out_rate * seconds / 8)
        if seconds
        else min(src.size_bytes, limits.max_video_bytes)
    )
    if not constant and "size" not in reasons and "bit rate" not in reasons:
        predicted = min(predicted, src.size_bytes, limits.max_video_bytes)
    audio = "aac" if src.audio_codec else None
    # a platform without videos keeps "video/mp4": validation then names the refusal
    mime = (
        sorted(limits.video_types)[0]
        if limits.video_types and "video/mp4" not in limits.video_types
        else "video/mp4"
    )
    return VideoTarget(
        "transcode", mime, w, h, fps, "h264", audio, out_rate, predicted, tuple(reasons), constant
    )


def _fit(w: int | None, h: int | None, limits: MediaLimits) -> float:
    if not (w and h):
        return 1.0
    scale = 1.0
    if limits.max_video_width:
        scale = min(scale, limits.max_video_width / w)
    if limits.max_video_height:
        scale = min(scale, limits.max_video_height / h)
    if limits.max_video_pixels:
        scale = min(scale, math.sqrt(limits.max_video_pixels / (w * h)))
    return scale


def _bit_rate_floor(limits: MediaLimits, seconds: float) -> int:
    """The lowest total bit rate that reaches the minimum byte size (0 when none)."""
    if not limits.min_video_bytes or seconds <= 0:
        return 0
    return math.ceil(limits.min_video_bytes * 8 / seconds / SAFETY)


def _even(value: float) -> int:
    return max(2, int(value) // 2 * 2)


def _bit_rate_cap(limits: MediaLimits, seconds: float) -> int | None:
    """The highest total bit rate that keeps both the bit-rate and the byte limit."""
    caps = []
    if limits.max_video_bitrate:
        caps.append(limits.max_video_bitrate)
    if seconds > 0:
        caps.append(int(limits.max_video_bytes * 8 * SAFETY / seconds))
    return min(caps) if caps else None


def has_private_tags(path: Path) -> bool:
    """True when the container or a stream carries tags beyond the technical ones
    (location, make, model...)."""
    import av

    with av.open(str(path), metadata_errors="ignore") as container:
        tags = [container.metadata, *(s.metadata for s in container.streams)]
    return any(k not in KEPT_TAGS for t in tags for k in t)


def remux(src: Path, dst: Path, mime_type: str) -> None:
    """Copy the audio and video packets into a fresh container without tags."""
    import av

    fmt = "mov" if mime_type == "video/quicktime" else "mp4"
    with (
        av.open(str(src), metadata_errors="ignore") as inp,
        av.open(str(dst), "w", format=fmt) as out,
    ):
        pairs = {}
        for stream in (*inp.streams.video[:1], *inp.streams.audio[:1]):
            copy = out.add_stream_from_template(stream)
            copy.metadata.clear()
            pairs[stream.index] = copy
        for packet in inp.demux(*[inp.streams[i] for i in pairs]):
            if packet.dts is None:
                continue
            packet.stream = pairs[packet.stream.index]
            out.mux(packet)


def transcode(
    src: Path, dst: Path, target: VideoTarget, *, time_limit: float, threads: int = 2
) -> None:
    """Transcode ``src`` to ``target`` (H.264/AAC MP4) at ``dst``; TranscodeFailed on error."""
    import av

    deadline = time.monotonic() + time_limit
    try:
        with (
            av.open(str(src), metadata_errors="ignore") as inp,
            av.open(str(dst), "w", format="mp4", options={"movflags": "+faststart"}) as out,
        ):
            _run(inp, out, target, deadline, threads)
    except av.FFmpegError as exc:
        dst.unlink(missing_ok=True)
        raise TranscodeFailed(f"transcoding failed: {exc}") from None
    except TranscodeFailed:
        dst.unlink(missing_ok=True)
        raise


def _run(inp: Any, out: Any, target: VideoTarget, deadline: float, threads: int) -> None:
    vin = inp.streams.video[0]
    vin.thread_type = "AUTO"
    ain = inp.streams.audio[0] if inp.streams.audio and target.audio_codec else None
    fps = Fraction(target.frame_rate or float(vin.average_rate or 30)).limit_denominator(1001)
    vout = out.add_stream("libx264", rate=fps)
    vout.width, vout.height = (
        target.width or vin.codec_context.width,
        target.height or vin.codec_context.height,
    )
    vout.pix_fmt = "yuv420p"
    audio_rate = AUDIO_BIT_RATE if ain is not None else 0
    total = target.bit_rate or DEFAULT_BIT_RATE
    # a padded rate is the video's alone: the audio (silence compresses) adds to the minimum
    video_rate = total if target.constant_rate else max(100_000, total - audio_rate)
    vout.bit_rate = video_rate
    options = {
        "preset": "veryfast",
        "maxrate": str(video_rate),
        "bufsize": str(video_rate * 2),
        "threads": str(threads),
    }
    if target.constant_rate:
        options.update(
            {"x264-params": "nal-hrd=cbr", "minrate": str(video_rate), "bufsize": str(video_rate)}
        )
    vout.codec_context.options = options
    vout.codec_context.time_base = Fraction(1, 1) / fps
    aout = None
    if ain is not None:
        aout = out.add_stream("aac", rate=ain.codec_context.sample_rate or 48_000)
        aout.bit_rate = audio_rate
    rotation = _rotation(vin)
    graph = _rotation_graph(vin, rotation) if rotation else None
    step = 1 / float(fps)
    next_time = None
    index = 0
    streams = [vin] + ([ain] if ain is not None else [])
    for packet in inp.demux(*streams):
        if time.monotonic() > deadline:
            raise TranscodeFailed("transcoding took longer than its time limit")
        for frame in packet.decode():
            if packet.stream.type == "audio":
                frame.pts = None
                for p in aout.encode(frame):  # type: ignore[union-attr]
                    out.mux(p)
                continue
            t = float(frame.time) if frame.time is not None else index * step
            if next_time is not None and t + 1e-6 < next_time:
                continue  # dropped: the frame rate is capped
            next_time = (next_time if next_time is not None else t) + step
            for f in _filtered(graph, frame):
                img = f.reformat(width=vout.width, height=vout.height, format="yuv420p")
                img.pts = index
                img.time_base = vout.codec_context.time_base
                index += 1
                for p in vout.encode(img):
                    out.mux(p)
    for p in vout.encode():
        out.mux(p)
    if aout is not None:
        for p in aout.encode():
            out.mux(p)


def _rotation(stream: Any) -> int:
    try:
        frame = next(stream.container.decode(stream), None)
    except Exception:  # noqa: BLE001 - a stream we cannot re-read is treated as upright
        return 0
    finally:
        stream.container.seek(0)
    return int(getattr(frame, "rotation", 0) or 0) % 360 if frame is not None else 0


def _rotation_graph(stream: Any, rotation: int) -> Any:
    """A filter graph turning frames upright (the output carries no rotation tag)."""
    import av

    graph = av.filter.Graph()
    src = graph.add_buffer(template=stream)
    # the display matrix turns the picture counter-clockwise by ``rotation`` degrees
    if rotation == 90:
        chain = [graph.add("transpose", "cclock")]
    elif rotation == 270:
        chain = [graph.add("transpose", "clock")]
    else:
        chain = [graph.add("hflip"), graph.add("vflip")]
    sink = graph.add("buffersink")
    src.link_to(chain[0])
    for a, b in zip(chain, chain[1:], strict=False):
        a.link_to(b)
    chain[-1].link_to(sink)
    graph.configure()
    return graph


def _filtered(graph: Any, frame: Any) -> list[Any]:
    if graph is None:
        return [frame]
    import av

    graph.push(frame)
    out = []
    while True:
        try:
            out.append(graph.pull())
        except (av.BlockingIOError, av.EOFError):
            return out
