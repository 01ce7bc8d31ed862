"""``postiz-pipelines dev``: everything a newcomer needs, in one process tree.

Migrates the SQLite database, seeds the demo, starts the sandbox and ``dagster dev`` (the
UI plus the daemon that ticks the sensors), and stops both on Ctrl-C.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from postiz_pipelines.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def dagster_home(settings: Settings) -> Path:
    """A DAGSTER_HOME under the data folder holding a copy of the repository's dagster.yaml."""
    home = (settings.data_dir / "dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ROOT / "dagster.yaml", home / "dagster.yaml")
    return home


def _wait_http(url: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return False


def _kill_group(child: subprocess.Popen[bytes], *, grace: float = 10.0) -> None:
    """End the child's whole process group: SIGTERM, then SIGKILL after ``grace`` seconds.

    ``dagster dev`` leaves its code servers behind when it exits, and they keep publish
    runs alive for the rest of their window; the group takes them all."""
    try:
        os.killpg(child.pid, signal.SIGTERM)
    except ProcessLookupError:
        child.wait()
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            os.killpg(child.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        try:
            os.killpg(child.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    child.wait()


def stop_children(children: list[subprocess.Popen[bytes]], *, timeout: float = 20.0) -> None:
    """Ask each child to stop (SIGINT, newest first), then end its whole process group.

    Whether or not a child stopped in time, what it started goes with it: `dagster dev`'s
    code servers, daemon and run processes share its group and outlive it otherwise."""
    for child in reversed(children):
        if child.poll() is None:
            child.send_signal(signal.SIGINT)
    for child in reversed(children):
        try:
            child.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
        _kill_group(child)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run_dev(
    settings: Settings, *, sandbox_port: int, ui_port: int, api_port: int, seed: bool
) -> int:
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    api_url = f"http://127.0.0.1:{api_port}"
    env = dict(os.environ)
    env.setdefault("POSTIZ_SANDBOX_URL", sandbox_url)
    env.setdefault("POSTIZ_PUBLIC_URL", api_url)  # signed media links point at the local API
    env["POSTIZ_DATA_DIR"] = str(settings.data_dir.resolve())
    env["DAGSTER_HOME"] = str(dagster_home(settings))
    # launching a run waits for its process to load the code: minutes on a busy machine
    env.setdefault("DAGSTER_GRPC_TIMEOUT_SECONDS", "180")
    exe = [sys.executable, "-m", "postiz_pipelines.cli"]

    subprocess.run([*exe, "db", "upgrade"], env=env, check=True)
    signal.signal(signal.SIGTERM, _interrupt)  # stop the children on SIGTERM as on Ctrl-C
    children: list[subprocess.Popen[bytes]] = []
    try:
        children.append(
            subprocess.Popen(
                [*exe, "sandbox", "--port", str(sandbox_port)], env=env, process_group=0
            )
        )
        children.append(
            subprocess.Popen([*exe, "api", "--port", str(api_port)], env=env, process_group=0)
        )
        for url, what in (
            (f"{sandbox_url}/_sandbox/health", "sandbox"),
            (f"{api_url}/healthz", "API"),
        ):
            if not _wait_http(url, 30):
                print(f"the {what} did not start ({url})", file=sys.stderr)
                return 1
        if seed:
            subprocess.run([*exe, "demo", "--sandbox-url", sandbox_url], env=env, check=True)
        print(
            f"\n  Dagster UI:  http://127.0.0.1:{ui_port}  (publish runs appear as posts fall due)"
        )
        print(f"  REST API:    {api_url}/docs")
        print(
            f"  Sandbox:     {sandbox_url}/_sandbox/mastodon/posts  (what each platform received)\n"
        )
        dagster = subprocess.Popen(
            [
                sys.executable,
                # `dagster dev` announces it is superseded by the `dg` CLI on every start;
                # this is the command the docs still give for a project like this one.
                "-W",
                "ignore:Function `dev_command` is superseded",
                "-m",
                "dagster",
                "dev",
                "-w",
                str(ROOT / "workspace.yaml"),
                "-h",
                "127.0.0.1",
                "-p",
                str(ui_port),
            ],
            env=env,
            # Started beside the repository's dagster.yaml, Dagster warns that it is not the
            # one DAGSTER_HOME holds (a copy of it); the home folder has no such ambiguity.
            cwd=env["DAGSTER_HOME"],
            process_group=0,
        )
        children.append(dagster)
        return dagster.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        stop_children(children)
