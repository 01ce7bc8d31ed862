"""What every ``postiz-pipelines`` command shares: the environment, errors, output.

Errors print what was wrong (field and limit) to stderr and exit non-zero: 1 for refused
input or missing objects, 2 for bad usage (click's own), 3 for configuration errors.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from functools import wraps
from typing import Any

import click

from postiz_pipelines.clock import utcnow
from postiz_pipelines.core.context import AppContext
from postiz_pipelines.errors import ConfigError, NotFound, PostizError, ValidationFailed
from postiz_pipelines.settings import Settings


class Env:
    """What every command shares: settings, and the app context built on first use."""

    def __init__(
        self,
        environ: dict[str, str] | None = None,
        now: Callable[[], datetime] = utcnow,
        open_url: Callable[[str], Any] | None = None,
    ) -> None:
        self.environ = environ
        self.now = now
        self._app: AppContext | None = None
        # how a command opens a page for the user (the connect flows); tests pass their own
        self.open_url = open_url or _open_in_browser

    @property
    def settings(self) -> Settings:
        return Settings.from_env(self.environ)

    @property
    def app(self) -> AppContext:
        if self._app is None:
            self._app = AppContext.from_settings(self.settings)
        return self._app

    def close(self) -> None:
        if self._app is not None:
            self._app.close()


def _open_in_browser(url: str) -> bool:
    import webbrowser

    return webbrowser.open(url)


def fail(message: str, code: int = 1) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def handles_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ValidationFailed as exc:
            click.echo("error: the input was refused; nothing was stored:", err=True)
            for p in exc.problems:
                click.echo(f"  - {p}", err=True)
            sys.exit(1)
        except NotFound as exc:
            fail(str(exc))
        except ConfigError as exc:
            fail(str(exc), 3)
        except PostizError as exc:
            fail(str(exc))

    return wrapper


def emit(rows: Sequence[dict[str, Any]], as_json: bool, columns: Sequence[str]) -> None:
    """A table for people, or JSON for scripts."""
    if as_json:
        click.echo(json.dumps(list(rows), indent=2, default=str))
        return
    if not rows:
        click.echo("(none)")
        return
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns}
    click.echo("  ".join(c.upper().ljust(widths[c]) for c in columns))
    for r in rows:
        click.echo("  ".join(str(r.get(c, "")).ljust(widths[c]) for c in columns))


def parse_settings(pairs: Sequence[str], option: str = "--setting") -> dict[str, Any]:
    """``KEY=VALUE`` pairs as a dict; a value that reads as JSON (true, 12, ["a","b"]) is
    taken as such, anything else as text. A pair without ``=`` is refused, naming ``option``."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint=option)
        try:
            value: Any = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        out[key.strip()] = value
    return out


@contextmanager
def write(env: Env) -> Iterator[Any]:
    with env.app.db.session() as session:
        yield session


def _configure_logging() -> None:
    """Structured logs for a real invocation (tests pass their own ``Env`` and skip this)."""
    from postiz_pipelines.core.observability.logs import configure_from_settings, configure_logging
    from postiz_pipelines.errors import ConfigError
    from postiz_pipelines.settings import Settings

    try:
        configure_from_settings(Settings.from_env())
    except ConfigError:  # the command reports the bad setting itself
        configure_logging()


@click.group()
@click.pass_context
def main(ctx: click.Context) -> None:
    """Publish and schedule social-media posts with Dagster."""
    if ctx.obj is None:
        _configure_logging()
        ctx.obj = Env()
    ctx.call_on_close(ctx.obj.close)


pass_env = click.make_pass_decorator(Env)
