"""The CLI runner for command tests: in-process, over the test database, on the test clock."""

from __future__ import annotations

import pytest
from click.testing import CliRunner, Result

from postiz_pipelines.cli import Env, main
from postiz_pipelines.clock import FixedClock


class Run:
    """``run(*args, code=0)``: invoke ``postiz-pipelines`` and check its exit code."""

    def __init__(self, environ: dict[str, str], clock: FixedClock) -> None:
        self.environ = environ
        self.clock = clock

    def __call__(self, *args: str, code: int = 0) -> Result:
        env = Env(environ=self.environ, now=self.clock.now)
        result = CliRunner().invoke(main, list(args), obj=env, catch_exceptions=False)
        env.close()
        assert result.exit_code == code, (args, result.exit_code, result.output)
        return result


@pytest.fixture
def run(env: dict[str, str], clock: FixedClock) -> Run:
    return Run(env, clock)
