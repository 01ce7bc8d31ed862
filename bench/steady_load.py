"""Steady load through a real ``dagster-daemon``: one post a second across 30 partitions
(10 workspaces x 3 platforms x 10 accounts), posts created 20 s to 4 min before they fall due
(so some arrive after their window's run started). Measured: lag from the scheduled instant
to the sandbox's acceptance (p50/p95/p99/max), publish runs created against the partition
windows that had posts, runs that published nothing, runs still queued at the end.

    python bench/steady_load.py --backend sqlite --minutes 2
    python bench/steady_load.py --backend postgresql --minutes 10
    python bench/steady_load.py --root /path/to/older/tree   # the same load on another tree
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _stack import (  # noqa: E402
    PLATFORMS,
    ROOT,
    PostWriter,
    percentiles,
    run_figures,
    running_stack,
    seed_accounts,
    wait_until,
)

WORKSPACES = 10
ACCOUNTS = 10
CREATE_LEADS = (20, 60, 120, 240)  # seconds between a post's creation and its due instant
STARTUP_MARGIN = 240  # seconds from the daemon start to the first due post: the runs of the
# first windows (all 30 partitions at once) are launched before it; a cold start is the burst


def window_env() -> dict[str, str]:
    """The window settings given to the daemon through the environment (defaults if none)."""
    names = ("POSTIZ_PUBLISH_WINDOW_SECONDS", "POSTIZ_LOOKAHEAD_SECONDS", "POSTIZ_RUN_MAX_WINDOWS")
    return {k: os.environ[k] for k in names if k in os.environ}


def partition_windows(due: list[tuple[str, str, datetime]]) -> int | None:
    """How many (partition, window) pairs had posts due, by the tree's window rule."""
    try:
        from postiz_pipelines.core.publishing.windows import WindowPolicy
        from postiz_pipelines.settings import Settings
    except ImportError:  # an older tree has no windows
        return None
    policy = WindowPolicy.from_settings(Settings.from_env(window_env()))
    return len({(ws, p, policy.window_at(ws, p, at).start) for ws, p, at in due})


def measure(
    backend: str, minutes: float, root: Path, latency_ms: int, engine: str = "dagster"
) -> dict[str, object]:
    posts = int(minutes * 60)
    with running_stack(backend, root=root, sandbox_latency_ms=latency_ms) as stack:
        accounts = seed_accounts(stack, workspaces=WORKSPACES, accounts=ACCOUNTS)
        keys = sorted(accounts)
        load_start = os.getloadavg()[0]
        if engine == "worker":
            daemon = stack.start_workers(1, POSTIZ_WORKER_CONCURRENCY="3")[0]
        else:
            daemon = stack.start_daemon()
        t0 = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=STARTUP_MARGIN)
        plan = []
        for i in range(posts):
            slug, platform = keys[i % len(keys)]
            account = accounts[(slug, platform)][(i // len(keys)) % ACCOUNTS]
            due = t0 + timedelta(seconds=i)
            created = due - timedelta(seconds=CREATE_LEADS[i % len(CREATE_LEADS)])
            plan.append((created, slug, platform, account, f"steady #{i} {slug}/{platform}", due))
        plan.sort(key=lambda p: p[0])
        writer = PostWriter(stack)
        stop = threading.Event()
        created_late: list[int] = []

        def feed() -> None:
            k = 0
            while k < len(plan) and not stop.is_set():
                now = datetime.now(UTC)
                batch = []
                while k < len(plan) and plan[k][0] <= now:
                    _, slug, _p, account, text, due = plan[k]
                    batch.append((slug, account, text, max(due, now)))
                    k += 1
                if batch:
                    writer.create(batch)
                    created_late.append(len(batch))
                stop.wait(0.5)

        feeder = threading.Thread(target=feed, name="feeder", daemon=True)
        feeder.start()
        last_due = t0 + timedelta(seconds=posts - 1)
        budget = (last_due - datetime.now(UTC)).total_seconds() + 240
        wait_until(
            lambda: stack.accepted_count() >= posts or daemon.poll() is not None, budget, 2.0
        )
        stop.set()
        feeder.join(30)
        writer.close()
        accepted = stack.accepted()
        runs = run_figures(stack) if engine == "dagster" else {}
        load_end = os.getloadavg()[0]
        daemon_alive = daemon.poll() is None
    due_by_text = {p[4]: p[5] for p in plan}
    lags = []
    seen = set()
    for a in accepted:
        due = due_by_text.get(a["text"])
        if due is None or a["text"] in seen:
            continue
        seen.add(a["text"])
        lags.append((datetime.fromisoformat(a["created_at"]) - due).total_seconds())
    windows = partition_windows([(p[1], p[2], p[5]) for p in plan])
    return {
        "backend": backend,
        "engine": engine,
        "load_avg_1m": [round(load_start, 1), round(load_end, 1)],
        "minutes": minutes,
        "posts": posts,
        "partitions": WORKSPACES * len(PLATFORMS),
        "accepted": len(seen),
        "duplicates": len(accepted) - len(seen),
        "missing": posts - len(seen),
        "lag_s": percentiles(lags),
        "partition_windows": windows,
        "window_settings": window_env(),
        **runs,
        "daemon_alive_at_end": daemon_alive,
    }


def main(
    minutes: float = 2.0,
    backends: tuple[str, ...] = ("sqlite", "postgresql"),
    root: Path = ROOT,
    latency_ms: int = 50,
    engine: str = "dagster",
) -> dict[str, object]:
    started = time.monotonic()
    results = [measure(b, minutes, root, latency_ms, engine) for b in backends]
    return {
        "benchmark": "steady_load",
        "rate_posts_per_s": 1,
        "sandbox_latency_ms": latency_ms,
        "tree": str(root),
        "results": results,
        "seconds": round(time.monotonic() - started, 1),
    }


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=2.0)
    ap.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--root", type=Path, default=ROOT, help="the tree whose code is measured")
    ap.add_argument("--latency-ms", type=int, default=50)
    ap.add_argument(
        "--engine",
        choices=["dagster", "worker"],
        default="dagster",
        help="window runs launched by a real daemon, or one standalone worker",
    )
    ap.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    a = ap.parse_args()
    chosen = ("sqlite", "postgresql") if a.backend == "both" else (a.backend,)
    doc = main(a.minutes, chosen, a.root.resolve(), a.latency_ms, a.engine)
    text = json.dumps(doc, indent=2)
    print(text)
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(text + "\n")
