"""The ``postiz-pipelines`` command: database, workspaces, accounts, posts, sandbox, demo, dev.

Errors print what was wrong (field and limit) to stderr and exit non-zero: 1 for refused
input or missing objects, 2 for bad usage (click's own), 3 for configuration errors.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from functools import wraps
from typing import Any

import click

from postiz_pipelines.core.clock import utcnow
from postiz_pipelines.core.context import AppContext
from postiz_pipelines.errors import ConfigError, NotFound, PostizError, ValidationFailed
from postiz_pipelines.settings import Settings


class Env:
    """What every command shares: settings, and the app context built on first use."""

    def __init__(self, environ: dict[str, str] | None = None, now: Callable[[], datetime] = utcnow) -> None:
        self.environ = environ
        self.now = now
        self._app: AppContext | None = None

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


@contextmanager
def write(env: Env) -> Iterator[Any]:
    with env.app.db.session() as session:
        yield session


@click.group()
@click.pass_context
def main(ctx: click.Context) -> None:
    """Publish and schedule social-media posts with Dagster."""
    if ctx.obj is None:
        ctx.obj = Env()
    ctx.call_on_close(ctx.obj.close)


pass_env = click.make_pass_decorator(Env)


# -- db --------------------------------------------------------------------------------
@main.group()
def db() -> None:
    """The app database."""


@db.command("upgrade")
@pass_env
@handles_errors
def db_upgrade(env: Env) -> None:
    """Create or migrate the app database to the latest schema."""
    from postiz_pipelines.core.migrate import upgrade

    url = env.settings.resolved_database_url
    upgrade(url)
    click.echo("database is at the latest schema")


# -- workspaces ------------------------------------------------------------------------
@main.group()
def workspaces() -> None:
    """Workspaces (brands, clients)."""


@workspaces.command("create")
@click.option("--slug", required=True, help="Short unique name: a-z, 0-9, '-'.")
@click.option("--name", default=None)
@click.option("--timezone", default=None, help="IANA zone, e.g. Europe/Berlin.")
@click.option("--json", "as_json", is_flag=True)
@pass_env
@handles_errors
def workspaces_create(env: Env, slug: str, name: str | None, timezone: str | None, as_json: bool) -> None:
    from postiz_pipelines.core.workspaces import create_workspace

    with write(env) as s:
        ws = create_workspace(s, slug=slug, name=name, timezone=timezone, now=env.now(), actor="cli")
        row = {"id": ws.id, "slug": ws.slug, "name": ws.name, "timezone": ws.timezone}
    emit([row], as_json, ["id", "slug", "name", "timezone"])


@workspaces.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_env
@handles_errors
def workspaces_list(env: Env, as_json: bool) -> None:
    from postiz_pipelines.core.workspaces import list_workspaces

    with env.app.db.read() as s:
        rows = [{"id": w.id, "slug": w.slug, "name": w.name, "timezone": w.timezone} for w in list_workspaces(s)]
    emit(rows, as_json, ["id", "slug", "name", "timezone"])


# -- accounts --------------------------------------------------------------------------
@main.group()
def accounts() -> None:
    """Connected social accounts."""


def account_row(a: Any) -> dict[str, Any]:
    return {
        "id": a.id, "platform": a.platform, "handle": a.handle, "status": a.status,
        "base_url": a.base_url or "",
        "token_expires_at": a.token_expires_at.isoformat() if a.token_expires_at else "",
    }


@accounts.command("add")
@click.option("--workspace", "workspace_ref", required=True, help="Workspace slug or id.")
@click.option("--platform", required=True)
@click.option("--handle", required=True)
@click.option("--token", envvar="POSTIZ_ACCOUNT_TOKEN", required=True,
              help="Access token (or set POSTIZ_ACCOUNT_TOKEN to keep it out of the shell history).")
@click.option("--refresh-token", envvar="POSTIZ_ACCOUNT_REFRESH_TOKEN", default=None)
@click.option("--expires-at", default=None, help="Access token expiry, ISO 8601 with offset.")
@click.option("--external-id", default=None)
@click.option("--base-url", default=None, help="Instance or API base URL (e.g. a Mastodon instance).")
@click.option("--json", "as_json", is_flag=True)
@pass_env
@handles_errors
def accounts_add(env: Env, workspace_ref: str, platform: str, handle: str, token: str,
                 refresh_token: str | None, expires_at: str | None, external_id: str | None,
                 base_url: str | None, as_json: bool) -> None:
    from postiz_pipelines.core.accounts import add_account
    from postiz_pipelines.core.timeparse import parse_instant
    from postiz_pipelines.core.workspaces import get_workspace

    expiry = parse_instant(expires_at, field="expires_at") if expires_at else None
    with write(env) as s:
        ws = get_workspace(s, workspace_ref)
        acc = add_account(
            s, env.app.keyring, workspace=ws, platform=platform, handle=handle, access_token=token,
            refresh_token=refresh_token, token_expires_at=expiry, external_id=external_id,
            base_url=base_url, now=env.now(), actor="cli",
        )
        row = account_row(acc)
    emit([row], as_json, ["id", "platform", "handle", "status", "base_url"])


@accounts.command("list")
@click.option("--workspace", "workspace_ref", required=True)
@click.option("--json", "as_json", is_flag=True)
@pass_env
@handles_errors
def accounts_list(env: Env, workspace_ref: str, as_json: bool) -> None:
    from postiz_pipelines.core.accounts import list_accounts
    from postiz_pipelines.core.workspaces import get_workspace

    with env.app.db.read() as s:
        rows = [account_row(a) for a in list_accounts(s, get_workspace(s, workspace_ref).id)]
    emit(rows, as_json, ["id", "platform", "handle", "status", "token_expires_at"])


# -- posts -----------------------------------------------------------------------------
@main.group()
def posts() -> None:
    """Posts and their publishing."""


@posts.command("create")
@click.option("--workspace", "workspace_ref", required=True)
@click.option("--text", required=True)
@click.option("--at", "at", default=None,
              help="When: ISO 8601 with offset (2026-12-01T09:30+01:00), or local time with --timezone "
              "or the workspace's zone. Omit to publish now.")
@click.option("--timezone", default=None, help="IANA zone for --at without an offset.")
@click.option("--account", "account_ids", multiple=True, required=True, help="Target account id (repeat).")
@click.option("--media", "media_ids", multiple=True, help="Media id (repeat).")
@click.option("--thread", "thread", multiple=True, help="A follow-up reply (repeat, in order).")
@click.option("--priority", default=0, type=int)
@click.option("--json", "as_json", is_flag=True)
@pass_env
@handles_errors
def posts_create(env: Env, workspace_ref: str, text: str, at: str | None, timezone: str | None,
                 account_ids: tuple[str, ...], media_ids: tuple[str, ...], thread: tuple[str, ...],
                 priority: int, as_json: bool) -> None:
    from postiz_pipelines.core.posts import create_post
    from postiz_pipelines.core.workspaces import get_workspace

    with write(env) as s:
        ws = get_workspace(s, workspace_ref)
        post = create_post(
            s, workspace=ws, text=text, account_ids=list(account_ids), scheduled_at=at,
            timezone=timezone, media_ids=list(media_ids), thread=list(thread), priority=priority,
            now=env.now(), media_root=env.app.media_root, actor="cli",
            max_attempts=env.settings.max_retries + 1,
        )
        row = post_row(post)
    emit([row], as_json, ["id", "status", "scheduled_at", "targets", "content"])


def post_row(p: Any) -> dict[str, Any]:
    text = p.content if len(p.content) <= 50 else p.content[:47] + "..."
    return {
        "id": p.id, "status": p.status,
        "scheduled_at": p.scheduled_at.isoformat() if p.scheduled_at else "",
        "targets": len(p.targets), "content": text,
    }


@posts.command("list")
@click.option("--workspace", "workspace_ref", required=True)
@click.option("--status", default=None)
@click.option("--limit", default=20, type=click.IntRange(1, 500))
@click.option("--json", "as_json", is_flag=True)
@pass_env
@handles_errors
def posts_list(env: Env, workspace_ref: str, status: str | None, limit: int, as_json: bool) -> None:
    from postiz_pipelines.core.posts import list_posts
    from postiz_pipelines.core.workspaces import get_workspace

    with env.app.db.read() as s:
        ws = get_workspace(s, workspace_ref)
        rows = [post_row(p) for p in list_posts(s, workspace_id=ws.id, status=status, limit=limit)]
    emit(rows, as_json, ["id", "status", "scheduled_at", "targets", "content"])


# -- running ---------------------------------------------------------------------------
@main.command("publish")
@click.option("--workspace", "workspace_ref", default=None, help="Only this workspace.")
@click.option("--platform", default=None, help="Only this platform.")
@click.option("--json", "as_json", is_flag=True)
@pass_env
@handles_errors
def publish(env: Env, workspace_ref: str | None, platform: str | None, as_json: bool) -> None:
    """Publish what is due now, once, without Dagster (for scripts and cron)."""
    import socket

    from postiz_pipelines.core.runner import publish_due
    from postiz_pipelines.core.workspaces import get_workspace

    ws_id = None
    if workspace_ref:
        with env.app.db.read() as s:
            ws_id = get_workspace(s, workspace_ref).id
    owner = f"cli:{socket.gethostname()}:{os.getpid()}"
    report = publish_due(env.app, owner=owner, workspace_id=ws_id, platform=platform)
    emit([report.as_dict()], as_json, list(report.as_dict()))


@main.command("recover")
@pass_env
@handles_errors
def recover(env: Env) -> None:
    """Resolve jobs whose lease expired (their run or worker died)."""
    from postiz_pipelines.core.recovery import recover_expired_leases

    click.echo(json.dumps(recover_expired_leases(env.app.db, now=env.now()).as_dict()))


@main.command("sandbox")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8787, type=int, show_default=True)
def sandbox(host: str, port: int) -> None:
    """Serve the local platform emulator (Mastodon and the others) over HTTP."""
    from postiz_pipelines.sandbox.server import serve

    serve(host, port)


@main.command("demo")
@click.option("--sandbox-url", default="http://127.0.0.1:8787", show_default=True)
@click.option("--posts", "count", default=6, type=click.IntRange(1, 100), show_default=True)
@click.option("--spread-seconds", default=180, type=click.IntRange(0, 86_400), show_default=True)
@pass_env
@handles_errors
def demo(env: Env, sandbox_url: str, count: int, spread_seconds: int) -> None:
    """Seed a demo workspace with sandbox accounts and posts due over the next minutes."""
    from postiz_pipelines.core.demo import seed_demo

    with write(env) as s:
        summary = seed_demo(s, env.app.keyring, sandbox_url=sandbox_url, now=env.now(),
                            posts=count, spread_seconds=spread_seconds)
    click.echo(json.dumps(summary, indent=2))


@main.command("dev")
@click.option("--sandbox-port", default=8787, type=int, show_default=True)
@click.option("--ui-port", default=3000, type=int, show_default=True)
@click.option("--no-demo", is_flag=True, help="Do not seed the demo workspace.")
@pass_env
@handles_errors
def dev(env: Env, sandbox_port: int, ui_port: int, no_demo: bool) -> None:
    """Migrate, seed the demo, start the sandbox and the Dagster UI (with its daemon)."""
    from postiz_pipelines.devserver import run_dev

    sys.exit(run_dev(env.settings, sandbox_port=sandbox_port, ui_port=ui_port, seed=not no_demo))


if __name__ == "__main__":  # pragma: no cover
    main()
