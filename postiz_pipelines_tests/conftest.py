"""Shared fixtures: the app database on SQLite and PostgreSQL, a clean environment, clocks.

PostgreSQL comes from ``POSTIZ_TEST_POSTGRES_URL`` (default: the local server's
``postgres`` database, used only to create a throwaway database per test session). When it
cannot be reached the PostgreSQL cases are skipped, except under ``CI=true``, where that is
an error.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from postiz_pipelines.clock import FixedClock
from postiz_pipelines.core.context import AppContext
from postiz_pipelines.core.db import Database
from postiz_pipelines.core.migrate import upgrade
from postiz_pipelines.core.models import Base
from postiz_pipelines.crypto import Keyring
from postiz_pipelines.settings import Settings

PG_ADMIN_URL = os.environ.get(
    "POSTIZ_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
TEST_KEY = Keyring.generate_spec("test")


def _pg_reachable() -> str | None:
    try:
        engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        return f"{type(exc).__name__}: {str(exc).splitlines()[0]}"


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session (one per xdist worker)."""
    problem = _pg_reachable()
    if problem:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true and PostgreSQL at {PG_ADMIN_URL} is not reachable: {problem}")
        pytest.skip(f"PostgreSQL not reachable: {problem}")
    name = f"pz_test_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _truncate_pg(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        existing = set(inspect(conn).get_table_names())
        tables = ", ".join(t.name for t in Base.metadata.sorted_tables if t.name in existing)
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The app database URL, migrated and empty, for each backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'app.db'}"
        upgrade(url)
        return url
    url = request.getfixturevalue("pg_url")
    _truncate_pg(url)
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    upgrade(url)
    return url


@pytest.fixture
def env(db_url: str, tmp_path: Path) -> dict[str, str]:
    """A clean POSTIZ_* environment for one test (a dict, never os.environ)."""
    return {
        "POSTIZ_DATABASE_URL": db_url,
        "POSTIZ_DATA_DIR": str(tmp_path / "data"),
        "POSTIZ_ENCRYPTION_KEY": TEST_KEY,
        "POSTIZ_WORKER_RATE_LIMIT_DELAY": "0",
        "POSTIZ_LOOKAHEAD_SECONDS": "0",  # claim only what is due: tests move the clock
    }


@pytest.fixture
def app(env: dict[str, str]) -> Iterator[AppContext]:
    ctx = AppContext.from_settings(Settings.from_env(env))
    yield ctx
    ctx.close()


@pytest.fixture
def db(app: AppContext) -> Database:
    return app.db


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 11, 28, 12, 0, tzinfo=UTC))


class Factory:
    """Rows for tests that exercise one layer (the queue, the engine) without the others."""

    def __init__(self, app: AppContext) -> None:
        self.app = app

    def workspace(self, slug: str = "acme", timezone: str | None = "Europe/Berlin"):  # type: ignore[no-untyped-def]
        from postiz_pipelines.core.workspaces.store import create_workspace

        with self.app.db.session() as s:
            return create_workspace(s, slug=slug, timezone=timezone, now=datetime.now(UTC))

    def account(
        self,
        workspace,
        *,
        platform: str = "mastodon",
        handle: str = "alice",  # type: ignore[no-untyped-def]
        token: str = "tok-alice",
        base_url: str | None = None,
        **kw,
    ):
        from postiz_pipelines.core.accounts.store import add_account

        with self.app.db.session() as s:
            return add_account(
                s,
                self.app.keyring,
                workspace=workspace,
                platform=platform,
                handle=handle,
                access_token=token,
                base_url=base_url,
                now=datetime.now(UTC),
                **kw,
            )

    def jobs(
        self,
        workspace,
        account,
        n: int,
        *,
        run_at: datetime,
        text: str = "hello",  # type: ignore[no-untyped-def]
        priority: int = 0,
        max_attempts: int = 4,
    ) -> list[str]:
        """``n`` posts of one target each, enqueued as jobs due at ``run_at`` (no validation)."""
        from postiz_pipelines.core.ids import new_id
        from postiz_pipelines.core.models import Post, PostTarget
        from postiz_pipelines.core.publishing.queue import enqueue, new_job_row

        rows = []
        with self.app.db.session() as s:
            for i in range(n):
                post = Post(
                    id=new_id("post"),
                    workspace_id=workspace.id,
                    content=f"{text} {i}",
                    scheduled_at=run_at,
                )
                target = PostTarget(id=new_id("tgt"), account_id=account.id)
                post.targets.append(target)
                s.add(post)
                s.flush()
                rows.append(
                    new_job_row(
                        workspace_id=workspace.id,
                        platform=account.platform,
                        post_id=post.id,
                        target_id=target.id,
                        account_id=account.id,
                        run_at=run_at,
                        priority=priority,
                        max_attempts=max_attempts,
                        now=run_at,
                    )
                )
            enqueue(s, rows)
        return [r["id"] for r in rows]


@pytest.fixture
def make(app: AppContext) -> Factory:
    return Factory(app)


class MediaMaker:
    """Real media files made on the spot: images with Pillow, tiny videos with PyAV."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def image(
        self,
        width: int = 64,
        height: int = 48,
        fmt: str = "JPEG",
        *,
        color: tuple[int, ...] = (200, 30, 30),
        mode: str = "RGB",
        orientation: int | None = None,
        gps: bool = False,
        noise: bool = False,
        **save: object,
    ) -> bytes:
        """An image; ``orientation`` and ``gps`` write EXIF tags (a camera's, in effect)."""
        import io
        import random

        from PIL import Image

        if noise:  # photographs do not compress: noise makes a JPEG of realistic size
            rng = random.Random(width * 31 + height)
            img = Image.frombytes(mode, (width, height), rng.randbytes(width * height * len(mode)))
        else:
            img = Image.new(mode, (width, height), color)
        exif = Image.Exif()
        if orientation is not None:
            exif[0x0112] = orientation
        if gps:
            exif[0x010F] = "AcmeCam"  # make
            exif[0x0110] = "Model 7 Pro"  # model
            gps_ifd = {1: "N", 2: (48.0, 51.0, 29.0), 3: "E", 4: (2.0, 17.0, 40.0)}
            exif[0x8825] = gps_ifd
        buf = io.BytesIO()
        if len(exif):
            save["exif"] = exif.tobytes()
        img.save(buf, fmt, **save)  # type: ignore[arg-type]
        return buf.getvalue()

    def animated_gif(self, width: int = 40, height: int = 30, frames: int = 4) -> bytes:
        import io

        from PIL import Image

        imgs = [
            Image.new("RGB", (width, height), (i * 60, 20, 200 - i * 40)) for i in range(frames)
        ]
        buf = io.BytesIO()
        imgs[0].save(buf, "GIF", save_all=True, append_images=imgs[1:], duration=80, loop=0)
        return buf.getvalue()

    def video(
        self,
        *,
        fmt: str = "mp4",
        vcodec: str | None = "libx264",
        acodec: str | None = "aac",
        width: int = 64,
        height: int = 48,
        seconds: float = 1.0,
        fps: int = 24,
        bit_rate: int | None = None,
        rotation: int | None = None,
    ) -> bytes:
        """A short video (moving colours, the left half green, silent audio) in ``fmt`` with
        those codecs; ``rotation`` sets the display matrix (degrees counter-clockwise)."""
        import av
        import numpy as np

        path = self.directory / f"v-{uuid.uuid4().hex[:8]}.{fmt}"
        self.directory.mkdir(parents=True, exist_ok=True)
        with av.open(str(path), "w", format=fmt) as out:
            audio = out.add_stream(acodec, rate=44_100) if acodec else None
            if vcodec is not None:
                vs = out.add_stream(vcodec, rate=fps)
                vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
                if bit_rate:
                    vs.bit_rate = bit_rate
                if vcodec == "libx264":
                    vs.codec_context.options = {"preset": "ultrafast"}
                if rotation is not None:
                    vs.set_display_rotation(rotation)
                for i in range(max(1, round(seconds * fps))):
                    arr = np.zeros((height, width, 3), dtype=np.uint8)
                    arr[:, :, 0] = (i * 9) % 255
                    arr[:, : width // 2, 1] = 180
                    for packet in vs.encode(av.VideoFrame.from_ndarray(arr, format="rgb24")):
                        out.mux(packet)
                for packet in vs.encode():
                    out.mux(packet)
            if audio is not None:
                pts, total = 0, round(44_100 * seconds)
                while pts < total:
                    frame = av.AudioFrame.from_ndarray(
                        np.zeros((1, 1024), dtype=np.float32), format="flt", layout="mono"
                    )
                    frame.sample_rate, frame.pts = 44_100, pts
                    pts += 1024
                    for packet in audio.encode(frame):
                        out.mux(packet)
                for packet in audio.encode():
                    out.mux(packet)
        data = path.read_bytes()
        path.unlink()
        return data


@pytest.fixture
def media_maker(tmp_path: Path) -> MediaMaker:
    return MediaMaker(tmp_path / "made")


@pytest.fixture
def tiny_video(media_maker: MediaMaker):  # type: ignore[no-untyped-def]
    """``tiny_video(**options)``: the bytes of a real short MP4 (H.264/AAC by default)."""
    return media_maker.video


@dataclass
class Backend:
    """A storage backend for a test: the environment that selects it, and what it holds."""

    name: str
    env: dict[str, str]
    keys: Callable[[], list[str]]


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's standalone S3 server on a free loopback port (a real S3 protocol server)."""
    import socket

    from moto.server import ThreadedMotoServer

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="session")
def supabase_url() -> Iterator[str]:
    """The sandbox over TCP; its Supabase Storage emulation is under ``/supabase``."""
    from postiz_pipelines.sandbox.server import running_sandbox

    with running_sandbox() as url:
        yield url


@pytest.fixture(params=["local", "supabase", "s3"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """Each storage backend in turn, with an empty bucket of its own."""
    name = request.param
    bucket = f"media-{uuid.uuid4().hex[:10]}"
    if name == "local":
        root = tmp_path / "data" / "media"

        def local_keys() -> list[str]:
            if not root.exists():
                return []
            return sorted(
                str(p.relative_to(root))
                for p in root.rglob("*")
                if p.is_file() and p.relative_to(root).parts[0] not in (".staging", ".cache")
            )

        return Backend(name, {}, local_keys)
    if name == "s3":
        import boto3

        endpoint = request.getfixturevalue("s3_endpoint")
        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        client.create_bucket(Bucket=bucket)

        def s3_keys() -> list[str]:
            listed = client.list_objects_v2(Bucket=bucket).get("Contents", [])
            return sorted(o["Key"] for o in listed)

        env = {
            "POSTIZ_MEDIA_STORAGE": "s3",
            "POSTIZ_S3_BUCKET": bucket,
            "POSTIZ_S3_ENDPOINT_URL": endpoint,
            "POSTIZ_S3_ACCESS_KEY_ID": "testing",
            "POSTIZ_S3_SECRET_ACCESS_KEY": "testing",
        }
        return Backend(name, env, s3_keys)
    import httpx

    from postiz_pipelines.sandbox.supabase_storage import SERVICE_ROLE_KEY

    url = request.getfixturevalue("supabase_url")
    created = httpx.post(
        f"{url}/supabase/storage/v1/bucket",
        json={"name": bucket},
        headers={"Authorization": f"Bearer {SERVICE_ROLE_KEY}"},
    )
    assert created.status_code == 200, created.text

    def supabase_keys() -> list[str]:
        objects = httpx.get(f"{url}/_sandbox/supabase/objects").json()["objects"]
        return sorted(o["path"] for o in objects if o["bucket"] == bucket)

    env = {
        "NEXT_PUBLIC_SUPABASE_URL": f"{url}/supabase",
        "SUPABASE_SERVICE_ROLE_KEY": SERVICE_ROLE_KEY,
        "POSTIZ_MEDIA_STORAGE": "supabase",
        "POSTIZ_SUPABASE_BUCKET": bucket,
    }
    return Backend(name, env, supabase_keys)
