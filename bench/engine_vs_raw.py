"""The engine inside one process against raw ``httpx.AsyncClient`` making the same requests to
the same sandbox over TCP (fixed platform latency): throughput ratio engine / raw, at
concurrency 3 and 10, on SQLite and PostgreSQL. Above 0.8 the engine costs less than a fifth
of what the platform call costs.

    python bench/engine_vs_raw.py --posts 2000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import httpx  # noqa: E402
from _common import bench_app, seed  # noqa: E402
from _stack import free_port, pg_create, pg_drop, wait_http  # noqa: E402

ACCOUNTS = 20
LATENCY_MS = 50


def _sandbox(latency_ms: int):  # type: ignore[no-untyped-def]
    import subprocess

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "postiz_pipelines.cli", "sandbox", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/_sandbox/health", 60)
    httpx.put(
        f"{url}/_sandbox/mastodon/faults",
        json={"latency_ms": latency_ms, "endpoints": ["POST /api/v1/statuses"]},
        timeout=10,
    ).raise_for_status()
    return proc, url


def engine(url: str, backend: str, posts: int, concurrency: int) -> tuple[float, dict]:  # type: ignore[type-arg]
    from sqlalchemy import event

    from postiz_pipelines.clock import SystemClock
    from postiz_pipelines.core.publishing.runner import publish_due

    counts = {"statements": 0, "commits": 0}

    def _statement(*_a: object) -> None:
        counts["statements"] += 1

    def _commit(*_a: object) -> None:
        counts["commits"] += 1

    db = pg_create() if backend == "postgresql" else None
    try:
        extra = {
            "POSTIZ_WORKER_CONCURRENCY": str(concurrency),
            "POSTIZ_CLAIM_BATCH_SIZE": str(posts),
        }
        with bench_app(extra, url=db) as app:
            seed(
                app,
                accounts=ACCOUNTS,
                posts_per_account=posts // ACCOUNTS,
                base_url=f"{url}/mastodon",
                slug=f"e{concurrency}",
            )
            event.listen(app.db.engine, "before_cursor_execute", _statement)
            event.listen(app.db.engine, "commit", _commit)
            started = time.perf_counter()
            report = publish_due(app, owner="bench", clock=SystemClock())
            seconds = time.perf_counter() - started
            assert report.as_dict()["completed"] == posts, report.as_dict()
    finally:
        if db:
            pg_drop(db)
    per_post = {f"{k}_per_post": round(v / posts, 2) for k, v in counts.items()}
    return seconds, per_post


async def _raw(url: str, posts: int, concurrency: int) -> float:
    sem = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(timeout=30) as http:

        async def one(i: int) -> None:
            async with sem:
                r = await http.post(
                    f"{url}/mastodon/api/v1/statuses",
                    json={"status": f"raw {i}", "visibility": "public"},
                    headers={
                        "Authorization": f"Bearer raw-{i % ACCOUNTS}",
                        "Idempotency-Key": f"raw-{concurrency}-{i}",
                    },
                )
                assert r.status_code == 200, r.text

        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(posts)))
        return time.perf_counter() - started


def main(posts: int = 2000, backends: tuple[str, ...] = ("sqlite", "postgresql")) -> dict:  # type: ignore[type-arg]
    proc, url = _sandbox(LATENCY_MS)
    results = []
    try:
        for backend in backends:
            for c in (3, 10):
                raw_s = asyncio.run(_raw(url, posts, c))
                eng_s, per_post = engine(url, backend, posts, c)
                results.append(
                    {
                        "backend": backend,
                        "concurrency": c,
                        "raw_posts_per_s": round(posts / raw_s, 1),
                        "engine_posts_per_s": round(posts / eng_s, 1),
                        "engine_vs_raw": round(raw_s / eng_s, 2),
                        **per_post,
                    }
                )
    finally:
        proc.terminate()
        proc.wait(10)
    return {
        "benchmark": "engine_vs_raw",
        "posts": posts,
        "accounts": ACCOUNTS,
        "platform_latency_ms": LATENCY_MS,
        "target": ">= 0.8",
        "results": results,
    }


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--posts", type=int, default=2000)
    ap.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args()
    chosen = ("sqlite", "postgresql") if a.backend == "both" else (a.backend,)
    text = json.dumps(main(a.posts, chosen), indent=2)
    print(text)
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(text + "\n")
