"""Stopping the dev server ends everything it started, grandchildren included."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from postiz_pipelines.devserver import _kill_group, stop_children

# A child that starts a grandchild and exits at once, as `dagster dev` leaves its code
# servers behind; the grandchild ignores SIGTERM when asked to, as a busy run may.
SPAWNER = """
import signal, subprocess, sys
code = "import signal, time\\n"
if sys.argv[1] == "stubborn":
    code += "signal.signal(signal.SIGTERM, signal.SIG_IGN)\\n"
code += "print('ready', flush=True)\\ntime.sleep(300)\\n"
grandchild = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
assert grandchild.stdout is not None
grandchild.stdout.readline()  # wait until its handler is installed
print(grandchild.pid, flush=True)
"""


def _alive(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat")
    try:
        state = stat.read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _ended(pid: int, within: float = 5.0) -> bool:
    """SIGKILL is delivered asynchronously: give the kernel a moment to end the process."""
    deadline = time.monotonic() + within
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _start(kind: str) -> tuple[subprocess.Popen[bytes], int]:
    child = subprocess.Popen(
        [sys.executable, "-c", SPAWNER, kind], stdout=subprocess.PIPE, process_group=0
    )
    assert child.stdout is not None
    pid = int(child.stdout.readline())
    child.wait(timeout=30)  # the child is gone; its grandchild is not
    assert _alive(pid)
    return child, pid


def test_group_is_ended_after_its_leader_exited():
    child, grandchild = _start("polite")
    _kill_group(child, grace=30)
    assert _ended(grandchild)


def test_a_member_ignoring_sigterm_is_killed_after_the_grace():
    child, grandchild = _start("stubborn")
    _kill_group(child, grace=0.5)
    assert _ended(grandchild)


def test_stopping_children_ends_what_they_left_behind():
    child, grandchild = _start("polite")
    stop_children([child], timeout=5)
    assert _ended(grandchild)
