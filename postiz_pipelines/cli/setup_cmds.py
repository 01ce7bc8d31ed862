"""Commands: the database, workspaces and connected accounts."""

from __future__ import annotations

from typing import Any

import click

from postiz_pipelines.cli.base import (
    Env,
    emit,
    handles_errors,
    main,
    parse_settings,
    pass_env,
    write,
)
from postiz_pipelines.core.accounts.status import effective_status


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
@click.option("--language", default=None, help="BCP-47 tag, e.g. en or pt-BR (post language).")
@click.option("--json", "as_json", is_flag=True)
@pass_env
@handles_errors
def workspaces_create(
    env: Env,
    slug: str,
    name: str | None,
    timezone: str | None,
    language: str | None,
    as_json: bool,
) -> None:
    from postiz_pipelines.core.workspaces.store import create_workspace

    with write(env) as s:
        ws = create_workspace(
            s,
            slug=slug,
            name=name,
            timezone=timezone,
            language=language,
            now=env.now(),
            actor="cli",
        )
        row = workspace_row(ws)
    emit([row], as_json, WORKSPACE_COLUMNS)


WORKSPACE_COLUMNS = ["id", "slug", "name", "timezone", "language"]


def workspace_row(w: Any) -> dict[str, Any]:
    return {
        "id": w.id,
        "slug": w.slug,
        "name": w.name,
        "timezone": w.timezone,
        "language": w.language,
    }


@workspaces.command("update")
@click.argument("workspace_ref")
@click.option("--name", default=None)
@click.option("--timezone", default=None, help="IANA zone, e.g. Europe/Berlin.")
@click.option("--language", default=None, help="BCP-47 tag, e.g. en or pt-BR; '' clears it.")
@click.option("--json", "as_json", is_flag=True)
@pass_env
@handles_errors
def workspaces_update(
    env: Env,
    workspace_ref: str,
    name: str | None,
    timezone: str | None,
    language: str | None,
    as_json: bool,
) -> None:
    """Rename a workspace, or change its time zone or language."""
    from postiz_pipelines.core.workspaces.changes import update_workspace
    from postiz_pipelines.core.workspaces.store import get_workspace

    with write(env) as s:
        ws = update_workspace(
            s,
            get_workspace(s, workspace_ref),
            name=name,
            timezone=timezone,
            language=language,
            now=env.now(),
            actor="cli",
        )
        row = workspace_row(ws)
    emit([row], as_json, WORKSPACE_COLUMNS)


@workspaces.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_env
@handles_errors
def workspaces_list(env: Env, as_json: bool) -> None:
    from postiz_pipelines.core.workspaces.store import list_workspaces

    with env.app.db.read() as s:
        rows = [workspace_row(w) for w in list_workspaces(s)]
    emit(rows, as_json, WORKSPACE_COLUMNS)


# -- accounts --------------------------------------------------------------------------
@main.group()
def accounts() -> None:
    """Connected social accounts."""


def account_row(a: Any) -> dict[str, Any]:
    return {
        "id": a.id,
        "platform": a.platform,
        "handle": a.handle,
        "status": effective_status(a.status),
        "base_url": a.base_url or "",
        "token_expires_at": a.token_expires_at.isoformat() if a.token_expires_at else "",
    }


@accounts.command("add")
@click.option("--workspace", "workspace_ref", required=True, help="Workspace slug or id.")
@click.option("--platform", required=True)
@click.option("--handle", required=True)
@click.option(
    "--token",
    envvar="POSTIZ_ACCOUNT_TOKEN",
    required=True,
    help="Access token (or set POSTIZ_ACCOUNT_TOKEN to keep it out of the shell history).",
)
@click.option("--refresh-token", envvar="POSTIZ_ACCOUNT_REFRESH_TOKEN", default=None)
@click.option("--expires-at", default=None, help="Access token expiry, ISO 8601 with offset.")
@click.option("--external-id", default=None)
@click.option(
    "--base-url", default=None, help="Instance or API base URL (e.g. a Mastodon instance)."
)
@click.option(
    "--timezone",
    default=None,
    help="IANA zone of this account (recurring posts and posting slots; else the workspace's).",
)
@click.option(
    "--setting",
    "setting_pairs",
    multiple=True,
    help="An account setting KEY=VALUE (repeat), e.g. board_id=123 (Pinterest), "
    "subreddit=python (Reddit), audited=true (YouTube, TikTok), app_type=script (Reddit).",
)
@click.option("--json", "as_json", is_flag=True)
@pass_env
@handles_errors
def accounts_add(
    env: Env,
    workspace_ref: str,
    platform: str,
    handle: str,
    token: str,
    refresh_token: str | None,
    expires_at: str | None,
    external_id: str | None,
    base_url: str | None,
    timezone: str | None,
    setting_pairs: tuple[str, ...],
    as_json: bool,
) -> None:
    from postiz_pipelines.core.accounts.store import add_account
    from postiz_pipelines.core.scheduling.timeparse import parse_instant
    from postiz_pipelines.core.workspaces.store import check_zone, get_workspace

    expiry = parse_instant(expires_at, field="expires_at") if expires_at else None
    if timezone:
        check_zone(timezone)
    with write(env) as s:
        ws = get_workspace(s, workspace_ref)
        acc = add_account(
            s,
            env.app.keyring,
            workspace=ws,
            platform=platform,
            handle=handle,
            access_token=token,
            refresh_token=refresh_token,
            token_expires_at=expiry,
            external_id=external_id,
            base_url=base_url,
            settings={
                **parse_settings(setting_pairs),
                **({"timezone": timezone} if timezone else {}),
            }
            or None,
            now=env.now(),
            actor="cli",
        )
        row = account_row(acc)
    emit([row], as_json, ["id", "platform", "handle", "status", "base_url"])


@accounts.command("list")
@click.option("--workspace", "workspace_ref", required=True)
@click.option("--json", "as_json", is_flag=True)
@pass_env
@handles_errors
def accounts_list(env: Env, workspace_ref: str, as_json: bool) -> None:
    from postiz_pipelines.core.accounts.store import list_accounts
    from postiz_pipelines.core.workspaces.store import get_workspace

    with env.app.db.read() as s:
        rows = [account_row(a) for a in list_accounts(s, get_workspace(s, workspace_ref).id)]
    emit(rows, as_json, ["id", "platform", "handle", "status", "token_expires_at"])
