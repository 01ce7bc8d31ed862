"""Scale-out: 1, 2 and 4 standalone workers (``postiz-pipelines worker --once``) sharing one
PostgreSQL queue, each at concurrency 3, against the sandbox over TCP (fixed 50 ms platform
latency). Measured: throughput and its ratio to one worker, the CPU seconds each worker
spent, and the CPU bound of these 2 cores (posts per worker CPU-second x 2).

    python bench/scale_out.py --posts 10000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _common import bench_app, seed  # noqa: E402
from _stack import pg_create, pg_drop  # noqa: E402
from engine_vs_raw import LATENCY_MS, _sandbox  # noqa: E402

ACCOUNTS = 100
CONCURRENCY = 3
CORES = 2


def _wait_all(procs: list[subprocess.Popen[bytes]]) -> list[float]:
    """Reap every worker; the CPU seconds (user + system) each spent."""
    cpu = {}
    for p in procs:
        _pid, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        cpu[p.pid] = usage.ru_utime + usage.ru_stime
    return [round(cpu[p.pid], 2) for p in procs]


def measure(url: str, workers: int, posts: int) -> dict[str, object]:
    db = pg_create()
    try:
        with bench_app(url=db) as app:
            seed(
                app,
                accounts=ACCOUNTS,
                posts_per_account=posts // ACCOUNTS,
                base_url=f"{url}/mastodon",
                slug=f"scale{workers}",
            )
            env = {
                **os.environ,
                "POSTIZ_DATABASE_URL": db,
                "POSTIZ_DATA_DIR": str(app.settings.data_dir),
                "POSTIZ_ENCRYPTION_KEY": app.settings.encryption_key.get_secret_value(),  # type: ignore[union-attr]
                "POSTIZ_WORKER_CONCURRENCY": str(CONCURRENCY),
                "POSTIZ_WORKER_RATE_LIMIT_DELAY": "0",
                "POSTIZ_WORKER_POLL_INTERVAL": "200",
                "POSTIZ_CLAIM_BATCH_SIZE": "30",
            }
            started = time.perf_counter()
            procs = [
                subprocess.Popen(
                    [sys.executable, "-m", "postiz_pipelines.cli", "worker", "--once"],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                for _ in range(workers)
            ]
            cpu = _wait_all(procs)
            seconds = time.perf_counter() - started
            from sqlalchemy import func, select

            from postiz_pipelines.core.models import JobStatus, PublishJob

            with app.db.read() as s:
                done = s.scalar(
                    select(func.count())
                    .select_from(PublishJob)
                    .where(PublishJob.status == JobStatus.COMPLETED)
                )
    finally:
        pg_drop(db)
    return {
        "workers": workers,
        "completed": done,
        "seconds": round(seconds, 2),
        "posts_per_s": round((done or 0) / seconds, 1),
        "cpu_s_per_worker": cpu,
        "posts_per_cpu_s": round((done or 0) / sum(cpu), 1) if sum(cpu) else None,
    }


def main(posts: int = 10_000, counts: tuple[int, ...] = (1, 2, 4)) -> dict[str, object]:
    proc, url = _sandbox(LATENCY_MS)
    try:
        results = [measure(url, w, posts) for w in counts]
    finally:
        proc.terminate()
        proc.wait(10)
    base = results[0]["posts_per_s"]
    for r in results:
        r["throughput_vs_1"] = round(float(r["posts_per_s"]) / float(base), 2)  # type: ignore[arg-type]
        per_cpu = r["posts_per_cpu_s"]
        if per_cpu:
            r["cpu_bound_posts_per_s"] = round(float(per_cpu) * CORES, 1)  # type: ignore[arg-type]
            r["of_cpu_bound"] = round(float(r["posts_per_s"]) / (float(per_cpu) * CORES), 2)  # type: ignore[arg-type]
    return {
        "benchmark": "scale_out",
        "posts": posts,
        "accounts": ACCOUNTS,
        "concurrency_per_worker": CONCURRENCY,
        "platform_latency_ms": LATENCY_MS,
        "targets": "2 workers >= 1.7x; 4 workers within 10 % of the CPU bound",
        "results": results,
    }


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--posts", type=int, default=10_000)
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args()
    text = json.dumps(main(a.posts), indent=2)
    print(text)
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(text + "\n")
