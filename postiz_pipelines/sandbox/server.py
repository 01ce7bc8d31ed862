"""Run the sandbox as a real HTTP server (uvicorn), standalone or on a background thread.

Over TCP the faults are real: a hang keeps the connection open without an answer until
the client gives up, and an accept-then-drop sends the status line and headers, then
closes the connection, so the client reads an incomplete response.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from postiz_pipelines.sandbox.app import create_app
from postiz_pipelines.sandbox.faults import ConnectionDropped
from postiz_pipelines.sandbox.state import SandboxState

STARTUP_TIMEOUT_SECONDS = 10.0
SHUTDOWN_TIMEOUT_SECONDS = 10.0


class _HideInjectedDrops(logging.Filter):
    """An injected drop, or a hung request cancelled when the server stops, is the sandbox
    working as asked, not an application error worth a traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, ConnectionDropped | asyncio.CancelledError)


def _config(state: SandboxState | None, host: str, port: int, log_level: str) -> uvicorn.Config:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _HideInjectedDrops) for f in logger.filters):
        logger.addFilter(_HideInjectedDrops())
    return uvicorn.Config(
        create_app(state),
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        lifespan="off",
        # A request hung by a fault must not hold the server open when it stops.
        timeout_graceful_shutdown=1,
    )


def serve(
    host: str = "127.0.0.1",
    port: int = 8765,
    *,
    state: SandboxState | None = None,
    log_level: str = "info",
) -> None:
    """Serve the sandbox until interrupted (blocking)."""
    uvicorn.Server(_config(state, host, port, log_level)).run()


@contextmanager
def running_sandbox(
    host: str = "127.0.0.1", port: int = 0, *, state: SandboxState | None = None
) -> Iterator[str]:
    """Run the sandbox on a background thread and yield its base URL; stop it on exit.

    ``port=0`` picks a free port. Pass ``state`` to read or steer the sandbox from Python.
    """
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    # Listening before the thread starts means the URL works the moment it is yielded.
    sock.listen(128)
    bound_port = sock.getsockname()[1]
    server = uvicorn.Server(_config(state, host, bound_port, "warning"))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"sandbox:{bound_port}", daemon=True
    )
    thread.start()
    try:
        _wait_started(server, thread)
        shown = f"[{host}]" if ":" in host else host
        yield f"http://{shown}:{bound_port}"
    finally:
        server.should_exit = True
        thread.join(SHUTDOWN_TIMEOUT_SECONDS)
        sock.close()
        if thread.is_alive():
            raise RuntimeError(f"sandbox on port {bound_port} did not stop")


def _wait_started(server: uvicorn.Server, thread: threading.Thread) -> None:
    ticks = threading.Event()  # never set: its wait() is an interruptible pause
    waited = 0.0
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("sandbox server failed to start")
        if waited >= STARTUP_TIMEOUT_SECONDS:
            server.should_exit = True
            raise RuntimeError(f"sandbox server not started after {waited:g} s")
        ticks.wait(0.01)
        waited += 0.01
