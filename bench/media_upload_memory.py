"""Peak memory of a 100 MB upload above the process baseline, per storage backend.

Each backend is measured in a child process of its own (so one cannot inflate another's
peak): the HTTP API in-process (ASGI), a 100 MB MP4 streamed from disk as multipart, and
the resident set size sampled every few milliseconds. The S3 server (moto) and the
sandbox (Supabase Storage) run in processes of their own: their memory is not ours.
Target: < 32 MB above the baseline.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

TOTAL = 100 * 1024 * 1024 - 64 * 1024  # under the 100 MiB cap with the multipart framing
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * PAGE


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def big_mp4(path: Path) -> None:
    """A real short MP4 followed by a large ``free`` box: 100 MB a player accepts."""
    import av
    import numpy as np

    head = path.with_suffix(".head.mp4")
    with av.open(str(head), "w", format="mp4") as out:
        vs = out.add_stream("libx264", rate=24)
        vs.width, vs.height, vs.pix_fmt = 320, 240, "yuv420p"
        for i in range(24):
            arr = np.full((240, 320, 3), i * 10, np.uint8)
            for p in vs.encode(av.VideoFrame.from_ndarray(arr, format="rgb24")):
                out.mux(p)
        for p in vs.encode():
            out.mux(p)
    data = head.read_bytes()
    head.unlink()
    pad = TOTAL - len(data)
    with path.open("wb") as fh:
        fh.write(data)
        fh.write(pad.to_bytes(4, "big") + b"free")
        chunk = bytes(1024 * 1024)
        left = pad - 8
        while left > 0:
            fh.write(chunk[: min(left, len(chunk))])
            left -= len(chunk)


def child(backend: str, extra: dict[str, str], video: Path) -> dict[str, object]:
    import httpx
    from _common import bench_app

    from postiz_pipelines.api import create_app
    from postiz_pipelines.clock import utcnow
    from postiz_pipelines.core.workspaces import auth
    from postiz_pipelines.core.workspaces.store import create_workspace

    with bench_app(extra) as app:
        now = utcnow()
        with app.db.session() as s:
            ws = create_workspace(s, slug="bench", timezone="UTC", now=now)
            user = auth.create_user(s, email="bench@example.org", now=now)
            auth.set_member(s, workspace_id=ws.id, user_id=user.id, role="owner", now=now)
            token = auth.create_token(s, user_id=user.id, name="b", now=now).token
            ws_id = ws.id
        if backend == "supabase":
            from postiz_pipelines.core.media.backends import open_storage

            open_storage(app.settings).ensure_bucket()  # type: ignore[attr-defined]
        api = create_app(app)
        boundary = "benchboundary7d1f"

        async def body(path: Path):  # type: ignore[no-untyped-def]
            yield (
                f'--{boundary}\r\nContent-Disposition: form-data; name="workspace_id"\r\n\r\n'
                f'{ws_id}\r\n--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                f'filename="big.mp4"\r\nContent-Type: video/mp4\r\n\r\n'
            ).encode()
            with path.open("rb") as fh:
                while chunk := fh.read(256 * 1024):
                    yield chunk
            yield f"\r\n--{boundary}--\r\n".encode()

        async def upload(path: Path) -> httpx.Response:
            transport = httpx.ASGITransport(app=api)
            async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
                return await client.post(
                    "/api/postiz/media/upload",
                    content=body(path),
                    headers={
                        "Authorization": f"Bearer {token}",
                        "Content-Type": f"multipart/form-data; boundary={boundary}",
                    },
                    timeout=600,
                )

        warm = video.with_name("warm.mp4")  # every module and library loaded before the baseline
        with video.open("rb") as src, warm.open("wb") as dst:
            dst.write(src.read(64 * 1024))
        asyncio.run(upload(warm))
        baseline = rss()
        peak = [baseline]
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], rss())
                time.sleep(0.005)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        t0 = time.perf_counter()
        r = asyncio.run(upload(video))
        seconds = time.perf_counter() - t0
        done.set()
        sampler.join()
        assert r.status_code == 201, r.text
        return {
            "backend": backend,
            "upload_bytes": video.stat().st_size,
            "seconds": round(seconds, 2),
            "peak_above_baseline_mb": round((peak[0] - baseline) / 1024 / 1024, 1),
        }


def main() -> dict[str, object]:
    from postiz_pipelines.sandbox.supabase_storage import SERVICE_ROLE_KEY

    with tempfile.TemporaryDirectory() as tmp:
        video = Path(tmp) / "big.mp4"
        big_mp4(video)
        s3_port, sandbox_port = free_port(), free_port()
        bin_dir = Path(sys.executable).parent
        servers = [
            subprocess.Popen(
                [str(bin_dir / "moto_server"), "-H", "127.0.0.1", "-p", str(s3_port)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            ),
            subprocess.Popen(
                [str(bin_dir / "postiz-pipelines"), "sandbox", "--port", str(sandbox_port)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            ),
        ]
        try:
            import boto3
            import httpx

            for port in (s3_port, sandbox_port):
                for _ in range(200):
                    try:
                        httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
                        break
                    except httpx.HTTPError:
                        time.sleep(0.05)
            boto3.client(
                "s3",
                endpoint_url=f"http://127.0.0.1:{s3_port}",
                region_name="us-east-1",
                aws_access_key_id="bench",
                aws_secret_access_key="bench",
            ).create_bucket(Bucket="bench-media")
            backends = {
                "local": {},
                "s3": {
                    "POSTIZ_MEDIA_STORAGE": "s3",
                    "POSTIZ_S3_BUCKET": "bench-media",
                    "POSTIZ_S3_ENDPOINT_URL": f"http://127.0.0.1:{s3_port}",
                    "POSTIZ_S3_ACCESS_KEY_ID": "bench",
                    "POSTIZ_S3_SECRET_ACCESS_KEY": "bench",
                },
                "supabase": {
                    "POSTIZ_MEDIA_STORAGE": "supabase",
                    "NEXT_PUBLIC_SUPABASE_URL": f"http://127.0.0.1:{sandbox_port}/supabase",
                    "SUPABASE_SERVICE_ROLE_KEY": SERVICE_ROLE_KEY,
                },
            }
            results = []
            for name, extra in backends.items():
                out = subprocess.run(
                    [sys.executable, __file__, "--child", name, json.dumps(extra), str(video)],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                results.append(json.loads(out.stdout.strip().splitlines()[-1]))
        finally:
            for server in servers:
                server.terminate()
                server.wait(10)
    return {"benchmark": "media_upload_memory", "target_mb": 32, "backends": results}


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(child(sys.argv[2], json.loads(sys.argv[3]), Path(sys.argv[4]))))
    else:
        print(json.dumps(main(), indent=2))
