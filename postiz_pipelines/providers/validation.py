"""Validation against a platform's declared capabilities: text length by the platform's own
counting rule, and media count, types, bytes, pixels, aspect ratio and duration.

Pure functions of the content; every problem names its field and its limit.
"""

from __future__ import annotations

from postiz_pipelines.errors import Problem
from postiz_pipelines.providers.content import Capabilities, MediaFile, PostContent


def validate_against(caps: Capabilities, content: PostContent, text_limit: int) -> list[Problem]:
    """Check text length (by the platform's counting rule) and media against ``caps``."""
    p = caps.platform
    problems: list[Problem] = []
    # A caption limit binds only the item the media goes with; thread replies are messages.
    caption = caps.caption_limit if (content.media and caps.caption_limit) else text_limit
    items = [("text", content.text)] + [
        (f"thread[{i}]", t) for i, t in enumerate(content.thread, start=1)
    ]
    if content.thread and not caps.supports_threads:
        problems.append(
            Problem(f"{p}.thread", f"{p} does not support threads", len(content.thread), 0)
        )
    for name, text in items:
        n = caps.count_text(text)
        limit = caption if name == "text" else text_limit
        if n > limit:
            problems.append(
                Problem(f"{p}.{name}", f"{name} is {n} {caps.text_unit}, limit {limit}", n, limit)
            )
    if not content.text.strip() and not content.media:
        problems.append(Problem(f"{p}.text", "text is empty and there is no media", 0, 1))
    problems.extend(validate_media(caps, content.media))
    return problems


def validate_media(caps: Capabilities, media: tuple[MediaFile, ...]) -> list[Problem]:
    p = caps.platform
    lim = caps.media
    problems: list[Problem] = []
    if lim.requires_media and not media:
        problems.append(Problem(f"{p}.media", f"{p} needs at least one image or video", 0, 1))
    if len(media) > lim.max_items:
        problems.append(
            Problem(
                f"{p}.media",
                f"{len(media)} media items, limit {lim.max_items}",
                len(media),
                lim.max_items,
            )
        )
    videos = [m for m in media if m.kind == "video"]
    if len(videos) > lim.max_videos:
        problems.append(
            Problem(
                f"{p}.media",
                f"{len(videos)} videos, limit {lim.max_videos}",
                len(videos),
                lim.max_videos,
            )
        )
    if videos and len(media) > len(videos) and not lim.allow_mixed:
        problems.append(Problem(f"{p}.media", "images and video cannot be mixed in one post"))
    for i, m in enumerate(media):
        f = f"{p}.media[{i}]"
        allowed = lim.video_types if m.kind == "video" else lim.image_types
        if m.mime_type not in allowed:
            problems.append(
                Problem(
                    f,
                    f"type {m.mime_type} not accepted, allowed: {', '.join(sorted(allowed))}",
                    m.mime_type,
                )
            )
        if m.kind == "video":
            max_bytes = lim.max_video_bytes
        elif m.is_gif and lim.max_gif_bytes:
            max_bytes = lim.max_gif_bytes
        else:
            max_bytes = lim.max_image_bytes
        if m.size_bytes > max_bytes:
            problems.append(
                Problem(f, f"{m.size_bytes} bytes, limit {max_bytes}", m.size_bytes, max_bytes)
            )
        if m.width and m.height:
            if (
                lim.max_image_pixels
                and m.kind == "image"
                and m.width * m.height > lim.max_image_pixels
            ):
                px = m.width * m.height
                problems.append(
                    Problem(
                        f, f"{px} pixels, limit {lim.max_image_pixels}", px, lim.max_image_pixels
                    )
                )
            ratio = m.width / m.height
            if lim.min_aspect_ratio and ratio < lim.min_aspect_ratio - 1e-9:
                problems.append(
                    Problem(
                        f,
                        f"aspect ratio {ratio:.3f}, minimum {lim.min_aspect_ratio:.3f}",
                        round(ratio, 3),
                        lim.min_aspect_ratio,
                    )
                )
            if lim.max_aspect_ratio and ratio > lim.max_aspect_ratio + 1e-9:
                problems.append(
                    Problem(
                        f,
                        f"aspect ratio {ratio:.3f}, maximum {lim.max_aspect_ratio:.3f}",
                        round(ratio, 3),
                        lim.max_aspect_ratio,
                    )
                )
        if m.kind == "video" and m.duration_ms is not None:
            secs = m.duration_ms / 1000
            if lim.max_video_seconds and secs > lim.max_video_seconds:
                problems.append(
                    Problem(
                        f,
                        f"video is {secs:g} s, limit {lim.max_video_seconds:g} s",
                        secs,
                        lim.max_video_seconds,
                    )
                )
            if lim.min_video_seconds and secs < lim.min_video_seconds:
                problems.append(
                    Problem(
                        f,
                        f"video is {secs:g} s, minimum {lim.min_video_seconds:g} s",
                        secs,
                        lim.min_video_seconds,
                    )
                )
    return problems
