"""Fixtures for the Dagster layer: a test instance, a live sandbox, the resource."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from click.testing import CliRunner
from dagster import DagsterInstance, instance_for_test

from postiz_pipelines.cli import Env, main
from postiz_pipelines.clock import Clock, FixedClock, utcnow
from postiz_pipelines.defs.resources import PostizResource
from postiz_pipelines.sandbox.server import running_sandbox
from postiz_pipelines.sandbox.state import SandboxState


@pytest.fixture
def instance() -> Iterator[DagsterInstance]:
    with instance_for_test() as inst:
        yield inst


@pytest.fixture
def sandbox() -> Iterator[tuple[str, SandboxState]]:
    state = SandboxState(seed=7)
    with running_sandbox(state=state) as url:
        yield url, state


@pytest.fixture
def embedded_env(db_url: str, tmp_path) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """The embedded default: no POSTIZ_ENCRYPTION_KEY, the key file lives in the data dir,
    shared by the CLI and the Dagster resource exactly as on a newcomer's machine."""
    return {
        "POSTIZ_DATABASE_URL": db_url,
        "POSTIZ_DATA_DIR": str(tmp_path / "data"),
        "POSTIZ_WORKER_RATE_LIMIT_DELAY": "0",
    }


class ClockedPostiz(PostizResource):
    """The resource on simulated time: its clock starts at ``start`` and jumps over sleeps,
    so a window run serves its whole window without the test waiting for it."""

    start: str

    def clock(self) -> Clock:
        return FixedClock(datetime.fromisoformat(self.start))


def clocked(resource: PostizResource, at: datetime) -> ClockedPostiz:
    """``resource`` with its clock at ``at``."""
    fields = resource.model_dump()
    return ClockedPostiz(**fields, start=at.isoformat())


@pytest.fixture
def resource(embedded_env: dict[str, str]) -> PostizResource:
    return PostizResource(
        database_url=embedded_env["POSTIZ_DATABASE_URL"], data_dir=embedded_env["POSTIZ_DATA_DIR"]
    )


class Cli:
    """Runs ``postiz-pipelines`` in-process with a given environment and clock."""

    def __init__(self, environ: dict[str, str], now: datetime) -> None:
        self.environ = environ
        self.now = now

    def __call__(self, *args: str, ok: bool = True):  # type: ignore[no-untyped-def]
        env = Env(environ=self.environ, now=lambda: self.now)
        result = CliRunner().invoke(main, list(args), obj=env, catch_exceptions=False)
        env.close()
        if ok:
            assert result.exit_code == 0, result.output
        return result


@pytest.fixture
def cli(embedded_env: dict[str, str]) -> Cli:
    # The posts are written "a minute ago" so they are due now, without waiting in the test.
    return Cli(embedded_env, now=utcnow() - timedelta(minutes=1))
