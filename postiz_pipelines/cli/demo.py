"""The demo workspace: one sandbox account per platform and posts due over the next minutes."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from postiz_pipelines.cli.sandbox_accounts import connect_sandbox_accounts
from postiz_pipelines.core.media.storage import Storage
from postiz_pipelines.core.models import Workspace
from postiz_pipelines.core.posts.create import create_post
from postiz_pipelines.core.workspaces.store import create_workspace
from postiz_pipelines.crypto import Keyring

DEMO_SLUG = "demo"
DEMO_TEXTS = [
    "Good morning from the postiz_pipelines demo! #scheduling",
    "Write once, publish everywhere, on time. https://example.org/postiz",
    "Retries with backoff, rate limits and never a duplicate post.",
    "Every post is one row in a durable queue, claimed under a lease.",
    "Dagster launches one run per workspace and platform, not one per post.",
    "Time zones done right: 09:00 local stays 09:00 local across DST.",
]


def _demo_image(
    session: Session,
    workspace: Workspace,
    media_root: Path,
    now: datetime,
    storage: Storage | None = None,
) -> str:
    """A JPEG made on the spot, stored like an upload (Instagram needs an image)."""
    import io

    from PIL import Image, ImageDraw

    from postiz_pipelines.core.media.assets import ingest
    from postiz_pipelines.core.media.storage import LocalStorage

    img = Image.new("RGB", (1080, 1080), (24, 92, 160))
    ImageDraw.Draw(img).text((420, 520), "postiz_pipelines", fill=(255, 255, 255))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85)
    storage = storage or LocalStorage(media_root)
    staged = storage.stage()
    staged.write(buf.getvalue())
    asset, _ = ingest(
        session,
        storage,
        staged,
        workspace_id=workspace.id,
        filename="demo.jpg",
        alt_text="The postiz_pipelines demo card",
        now=now,
        actor="demo",
    )
    return asset.id


def _demo_video(
    session: Session,
    workspace: Workspace,
    media_root: Path,
    now: datetime,
    storage: Storage | None = None,
) -> str:
    """A three-second vertical H.264/AAC MP4 made on the spot with PyAV, stored like an upload,
    for the video platforms (YouTube, TikTok)."""
    import tempfile

    import av
    import numpy as np

    from postiz_pipelines.core.media.assets import ingest
    from postiz_pipelines.core.media.storage import LocalStorage

    width, height, fps, seconds = 540, 960, 24, 3
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "demo.mp4"
        with av.open(str(path), "w", format="mp4") as out:
            video = out.add_stream("libx264", rate=fps)
            video.width, video.height, video.pix_fmt = width, height, "yuv420p"
            video.codec_context.options = {"preset": "ultrafast"}
            audio = out.add_stream("aac", rate=44_100)
            for i in range(fps * seconds):
                frame = np.zeros((height, width, 3), dtype=np.uint8)
                frame[:, :] = (24, 92, (160 + i * 3) % 255)
                for packet in video.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                    out.mux(packet)
            for packet in video.encode():
                out.mux(packet)
            pts = 0
            while pts < 44_100 * seconds:
                silence = av.AudioFrame.from_ndarray(
                    np.zeros((1, 1024), dtype=np.float32), format="flt", layout="mono"
                )
                silence.sample_rate, silence.pts = 44_100, pts
                for packet in audio.encode(silence):
                    out.mux(packet)
                pts += 1024
            for packet in audio.encode():
                out.mux(packet)
        data = path.read_bytes()
    storage = storage or LocalStorage(media_root)
    staged = storage.stage()
    staged.write(data)
    asset, _ = ingest(
        session,
        storage,
        staged,
        workspace_id=workspace.id,
        filename="demo.mp4",
        alt_text="The postiz_pipelines demo clip",
        now=now,
        actor="demo",
    )
    return asset.id


# Platforms that take no post without media, and those that take only a video.
NEEDS_MEDIA = frozenset({"instagram", "pinterest", "youtube", "tiktok"})
VIDEO_ONLY = frozenset({"youtube", "tiktok"})


def seed_demo(
    session: Session,
    keyring: Keyring,
    *,
    sandbox_url: str,
    now: datetime,
    media_root: Path,
    posts: int = 6,
    spread_seconds: int = 180,
    storage: Storage | None = None,
) -> dict[str, Any]:
    """Create (or reuse) the demo workspace with one sandbox account per platform, then add
    ``posts`` posts due between 30 s and ``spread_seconds`` from ``now``: the first with an
    image to every platform that takes one, the second with a video to YouTube and TikTok,
    the others text to every platform that takes text alone. Running it again adds new
    posts."""
    ws = session.scalar(select(Workspace).where(Workspace.slug == DEMO_SLUG))
    if ws is None:
        ws = create_workspace(
            session,
            slug=DEMO_SLUG,
            name="Demo brand",
            timezone="Europe/Berlin",
            now=now,
            actor="demo",
        )
    accounts = connect_sandbox_accounts(
        session, keyring, workspace=ws, sandbox_url=sandbox_url, now=now
    )
    image = _demo_image(session, ws, media_root, now, storage)
    video = _demo_video(session, ws, media_root, now, storage)
    created = []
    step = (spread_seconds - 30) / max(posts - 1, 1) if spread_seconds > 30 else 0
    for i in range(posts):
        when = now + timedelta(seconds=30 + i * step) if spread_seconds else now
        text = f"{DEMO_TEXTS[i % len(DEMO_TEXTS)]} [{now:%H%M%S}-{i + 1}]"
        if i == 0:
            targets = [a.id for a in accounts if a.platform not in VIDEO_ONLY]
            media = [image]
        elif i == 1:
            targets = [a.id for a in accounts if a.platform in VIDEO_ONLY]
            media = [video]
        else:
            targets = [a.id for a in accounts if a.platform not in NEEDS_MEDIA]
            media = []
        post = create_post(
            session,
            workspace=ws,
            text=text,
            account_ids=targets,
            scheduled_at=when,
            now=now,
            media_ids=media,
            media_root=media_root,
            actor="demo",
        )
        created.append(
            {
                "post": post.id,
                "scheduled_at": when.isoformat(timespec="seconds"),
                "targets": len(targets),
            }
        )
    return {
        "workspace": ws.slug,
        "accounts": sorted(a.platform for a in accounts),
        "posts": created,
    }
