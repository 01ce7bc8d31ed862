"""A whole deployment for the load benchmarks: the sandbox served over TCP in its own process,
an app database (SQLite or PostgreSQL), a temporary DAGSTER_HOME holding the project's
``dagster.yaml`` (or ``deploy/dagster.postgres.yaml`` on PostgreSQL), and a real
``dagster-daemon`` loading ``workspace.yaml``.

Only the project's stable surfaces are used (the CLI, the migrations, ``create_post``,
``add_account``, the sandbox's control API), so the same harness measures an older tree
given with ``--root`` (its code first on ``PYTHONPATH``) beside the current one.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN = os.environ.get(
    "POSTIZ_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
PLATFORMS = ("mastodon", "telegram", "discord")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pg_create() -> str:
    """A new, empty PostgreSQL database; returns its URL."""
    from sqlalchemy import create_engine, text

    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    name = f"pz_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name


def pg_drop(url: str) -> None:
    from sqlalchemy import create_engine, text

    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
    admin.dispose()


def wait_http(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    pause = threading.Event()
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        pause.wait(0.2)
    raise RuntimeError(f"{url} did not answer within {seconds} s")


@dataclass
class Stack:
    """What a running stack offers the benchmark."""

    root: Path
    backend: str
    app_url: str
    sandbox_url: str
    dagster_home: Path
    env: dict[str, str]
    tmp: Path
    children: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def python(self) -> list[str]:
        return [sys.executable]

    def accepted(self) -> list[dict]:  # type: ignore[type-arg]
        """Every post the sandbox accepted, all benchmark platforms, as JSON rows."""
        out = []
        for platform in PLATFORMS:
            r = httpx.get(f"{self.sandbox_url}/_sandbox/{platform}/posts", timeout=30)
            r.raise_for_status()
            out += r.json()["posts"]
        return out

    def accepted_count(self) -> int:
        return len(self.accepted())

    def start_daemon(self) -> subprocess.Popen[bytes]:
        log = open(self.tmp / "daemon.log", "wb")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "dagster-daemon"),
                "run",
                "-w",
                str(self.root / "workspace.yaml"),
            ],
            env=self.env,
            cwd=self.root,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its code server and run processes share the group
        )
        self.children.append(proc)
        return proc

    def start_workers(self, n: int, **env: str) -> list[subprocess.Popen[bytes]]:
        """``n`` standalone workers (``postiz-pipelines worker``) instead of the daemon."""
        procs = []
        for i in range(n):
            log = open(self.tmp / f"worker{i}.log", "wb")  # noqa: SIM115
            proc = subprocess.Popen(
                [sys.executable, "-m", "postiz_pipelines.cli", "worker"],
                env={**self.env, "POSTIZ_WORKER_POLL_INTERVAL": "1000", **env},
                cwd=self.root,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            self.children.append(proc)
            procs.append(proc)
        return procs

    def instance(self):  # type: ignore[no-untyped-def]
        from dagster import DagsterInstance

        for k in ("DAGSTER_PG_HOST", "DAGSTER_PG_PORT", "DAGSTER_PG_USERNAME", "DAGSTER_PG_DB"):
            if k in self.env:
                os.environ[k] = self.env[k]
        os.environ.setdefault("DAGSTER_PG_PASSWORD", self.env.get("DAGSTER_PG_PASSWORD", ""))
        return DagsterInstance.from_config(str(self.dagster_home))


def _stop(proc: subprocess.Popen[bytes], seconds: float = 30) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # what is left of the group: run processes
    except ProcessLookupError:
        pass
    proc.wait(timeout=10)


@contextmanager
def running_stack(
    backend: str,
    *,
    root: Path = ROOT,
    extra_env: dict[str, str] | None = None,
    sandbox_latency_ms: int = 0,
) -> Iterator[Stack]:
    """Migrate a fresh app database and start the sandbox; the daemon is the caller's to start
    (after seeding). Everything started here is stopped on exit."""
    tmp = Path(tempfile.mkdtemp(prefix="pz_stack_"))
    app_url = pg_create() if backend == "postgresql" else f"sqlite:///{tmp / 'app.db'}"
    dagster_pg = pg_create() if backend == "postgresql" else None
    home = tmp / "dagster_home"
    home.mkdir()
    if dagster_pg:
        shutil.copyfile(root / "deploy" / "dagster.postgres.yaml", home / "dagster.yaml")
    else:
        shutil.copyfile(root / "dagster.yaml", home / "dagster.yaml")
    from postiz_pipelines.crypto import Keyring

    port = free_port()
    sandbox_url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]).rstrip(
            os.pathsep
        ),
        "DAGSTER_HOME": str(home),
        "POSTIZ_DATABASE_URL": app_url,
        "POSTIZ_DATA_DIR": str(tmp / "data"),
        "POSTIZ_ENCRYPTION_KEY": Keyring.generate_spec("bench"),
        "POSTIZ_SANDBOX_URL": sandbox_url,
        # the code server waits for a run's process to load before answering a launch
        "DAGSTER_GRPC_TIMEOUT_SECONDS": "180",
        **(extra_env or {}),
    }
    if dagster_pg:
        env.update(
            DAGSTER_PG_HOST="127.0.0.1",
            DAGSTER_PG_PORT="5432",
            DAGSTER_PG_USERNAME="postgres",
            DAGSTER_PG_PASSWORD="",
            DAGSTER_PG_DB=dagster_pg.rsplit("/", 1)[1],
        )
    stack = Stack(root, backend, app_url, sandbox_url, home, env, tmp)
    try:
        subprocess.run(
            [sys.executable, "-m", "postiz_pipelines.cli", "db", "upgrade"],
            env=env,
            cwd=root,
            check=True,
            capture_output=True,
        )
        sandbox = subprocess.Popen(
            [sys.executable, "-m", "postiz_pipelines.cli", "sandbox", "--port", str(port)],
            env=env,
            cwd=root,
            stdout=subprocess.DEVNULL,
            stderr=open(tmp / "sandbox.log", "wb"),  # noqa: SIM115
            start_new_session=True,
        )
        stack.children.append(sandbox)
        wait_http(f"{sandbox_url}/_sandbox/health", 60)
        if sandbox_latency_ms:
            for platform in PLATFORMS:
                httpx.put(
                    f"{sandbox_url}/_sandbox/{platform}/faults",
                    json={"latency_ms": sandbox_latency_ms},
                    timeout=10,
                ).raise_for_status()
        yield stack
    finally:
        for child in reversed(stack.children):
            _stop(child)
        if backend == "postgresql":
            pg_drop(app_url)
            if dagster_pg:
                pg_drop(dagster_pg)
        shutil.rmtree(tmp, ignore_errors=True)


def tokens(platform: str, n: int) -> str:
    """A distinct, well-formed token per benchmark account."""
    if platform == "telegram":
        return f"{7100000000 + n}:AAH-bench-{n}"
    return f"bench-{platform}-{n}"


def seed_accounts(stack: Stack, *, workspaces: int, accounts: int) -> dict[tuple[str, str], list]:  # type: ignore[type-arg]
    """``workspaces`` x ``PLATFORMS`` x ``accounts``; returns {(slug, platform): [account ids]}."""
    from postiz_pipelines.core.accounts.store import add_account
    from postiz_pipelines.core.context import AppContext
    from postiz_pipelines.core.workspaces.store import create_workspace
    from postiz_pipelines.settings import Settings

    app = AppContext.from_settings(Settings.from_env(stack.env))
    now = datetime.now().astimezone()
    out: dict[tuple[str, str], list[str]] = {}
    n = 0
    try:
        with app.db.session() as s:
            for w in range(workspaces):
                ws = create_workspace(s, slug=f"ws{w:02d}", timezone="UTC", now=now)
                for platform in PLATFORMS:
                    ids = []
                    for a in range(accounts):
                        n += 1
                        kw = {"base_url": f"{stack.sandbox_url}/mastodon"}
                        if platform == "telegram":
                            kw = {"external_id": f"-100{1000000 + n}"}
                        elif platform == "discord":
                            kw = {"external_id": str(1098765432109000000 + n)}
                        acc = add_account(
                            s,
                            app.keyring,
                            workspace=ws,
                            platform=platform,
                            handle=f"{platform[:2]}{w}-{a}",
                            access_token=tokens(platform, n),
                            now=now,
                            **kw,
                        )
                        ids.append(acc.id)
                    out[(ws.slug, platform)] = ids
    finally:
        app.close()
    return out


class PostWriter:
    """Creates posts through the core's ``create_post``, as the API would."""

    def __init__(self, stack: Stack) -> None:
        from postiz_pipelines.core.context import AppContext
        from postiz_pipelines.settings import Settings

        self.app = AppContext.from_settings(Settings.from_env(stack.env))

    def create(self, items: list[tuple[str, str, str, datetime]]) -> None:
        """(workspace slug, account id, text, due instant) each; one transaction."""
        from postiz_pipelines.core.posts.create import create_post
        from postiz_pipelines.core.workspaces.store import get_workspace

        now = datetime.now().astimezone()
        with self.app.db.session() as s:
            cache: dict[str, object] = {}
            for slug, account_id, text, due in items:
                ws = cache.get(slug) or get_workspace(s, slug)
                cache[slug] = ws
                create_post(
                    s,
                    workspace=ws,  # type: ignore[arg-type]
                    text=text,
                    account_ids=[account_id],
                    scheduled_at=due,
                    now=now,
                )

    def close(self) -> None:
        self.app.close()


def percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "p99": None, "max": None}
    v = sorted(values)

    def q(p: float) -> float:
        return round(v[min(len(v) - 1, int(round(p * (len(v) - 1))))], 3)

    return {"p50": q(0.5), "p95": q(0.95), "p99": q(0.99), "max": round(v[-1], 3)}


def run_figures(stack: Stack) -> dict[str, object]:
    """Publish runs the daemon created, by status, and how many published nothing."""
    from dagster import DagsterRunStatus, RunsFilter
    from sqlalchemy import create_engine, text

    instance = stack.instance()
    try:
        records = instance.get_run_records(filters=RunsFilter(job_name="publish_job"))
    finally:
        instance.dispose()
    runs = [r.dagster_run for r in records]
    launch = [
        r.start_time - r.create_timestamp.timestamp() for r in records if r.start_time is not None
    ]
    ahead = []  # seconds a window run was running before its window began (< 0: late)
    for r in records:
        window = r.dagster_run.tags.get("postiz/window")
        if window and r.start_time is not None:
            begins = datetime.strptime(window, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            ahead.append(begins.timestamp() - r.start_time)
    engine = create_engine(stack.app_url)
    with engine.connect() as c:
        owners = {
            row[0]
            for row in c.execute(
                text(
                    "SELECT DISTINCT lease_owner FROM publish_attempts"
                    " WHERE lease_owner IS NOT NULL"
                )
            )
        }
    engine.dispose()
    by_status: dict[str, int] = {}
    for r in runs:
        by_status[r.status.value] = by_status.get(r.status.value, 0) + 1
    waiting = {DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING}
    started = [r for r in runs if r.status not in waiting]
    empty = [r for r in started if f"dagster:{r.run_id}" not in owners]
    return {
        "runs_created": len(runs),
        "runs_started": len(started),
        "runs_by_status": by_status,
        "runs_still_queued": sum(1 for r in runs if r.status in waiting),
        "empty_runs": len(empty),
        "created_to_started_s": percentiles(launch),
        "started_ahead_of_window_s": percentiles(ahead) if ahead else None,
    }


def wait_until(condition, seconds: float, every: float = 1.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    pause = threading.Event()
    while time.monotonic() < deadline:
        if condition():
            return True
        pause.wait(every)
    return condition()
