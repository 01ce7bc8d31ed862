"""Commands: connecting an account (``accounts connect``) and changing its settings
(``accounts update``).

``accounts connect`` works like ``gh auth login``: it prints the platform's authorize URL
(and opens it in a browser unless ``--no-browser``), then waits for the platform to
redirect to a one-shot HTTP server on ``127.0.0.1`` and completes the connect from that
redirect. Bluesky (handle + app password) and Telegram (bot token + chat) prompt instead,
without echo for the secret, or read it from ``POSTIZ_APP_PASSWORD`` / ``POSTIZ_BOT_TOKEN``.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import click

from postiz_pipelines.cli.base import Env, emit, fail, handles_errors, parse_settings, pass_env
from postiz_pipelines.cli.setup_cmds import account_row, accounts

LOOPBACK_PORT = 53682
DONE_PAGE = (
    "<!doctype html><meta charset=utf-8><title>postiz-pipelines</title>"
    "<p>{message}</p><p>You can close this window and return to the terminal.</p>"
)


class _Loopback(HTTPServer):
    """A one-shot server on 127.0.0.1 that keeps the first ``/callback`` query it gets."""

    def __init__(self, port: int) -> None:
        self.query: dict[str, str] | None = None
        self.arrived = threading.Event()
        try:  # a steady port keeps the redirect URI, so a Mastodon app registration is reused
            super().__init__(("127.0.0.1", port), _CallbackHandler)
        except OSError:  # taken: any free port works, at the cost of a new registration
            super().__init__(("127.0.0.1", 0), _CallbackHandler)

    @property
    def redirect_uri(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/callback"


class _CallbackHandler(BaseHTTPRequestHandler):
    server: _Loopback

    def do_GET(self) -> None:  # noqa: N802 - the standard library's name
        parts = urlsplit(self.path)
        if parts.path != "/callback" or self.server.query is not None:
            self.send_error(404)
            return
        self.server.query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        message = (
            "The platform refused the connection."
            if "error" in self.server.query
            else "Received. Finishing the connection in the terminal."
        )
        body = DONE_PAGE.format(message=message).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.server.arrived.set()

    def log_message(self, format: str, *args: Any) -> None:  # the query holds the code
        return


def _wait_for_redirect(server: _Loopback, timeout: float) -> dict[str, str]:
    server.timeout = 0.5  # each wait for a request; other requests (a favicon) are refused
    deadline = time.monotonic() + timeout
    while server.query is None and time.monotonic() < deadline:
        server.handle_request()
    server.server_close()
    if server.query is None:
        fail(f"no redirect from the platform within {timeout:g} s; run the command again")
    assert server.query is not None
    return server.query


def _user_id(env: Env, workspace_id: str, email: str | None) -> str:
    """The user the connect is made for: ``--as-user``, else the workspace's first owner."""
    from postiz_pipelines.core.workspaces import auth

    with env.app.db.read() as s:
        if email:
            return auth.get_user(s, email).id
        owners = [u for m, u in auth.list_members(s, workspace_id) if m.role == "owner"]
        if not owners:
            fail("the workspace has no owner to connect for; pass --as-user EMAIL")
        return owners[0].id


def _net(env: Env) -> Any:
    from postiz_pipelines.providers.connect.oauth import ConnectHttp

    return ConnectHttp(None, env.app.settings.http_timeout_seconds)


def _show(result: Any, as_json: bool) -> None:
    rows = [
        {**account_row(s.account), "reconnected": s.reconnected, "released_jobs": s.released}
        for s in result.stored
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=str))
        return
    for r in rows:
        verb = "reconnected" if r["reconnected"] else "connected"
        extra = f"; {r['released_jobs']} held post(s) due again" if r["released_jobs"] else ""
        click.echo(f"{verb} {r['platform']} account {r['handle']} ({r['id']}){extra}")


@accounts.command("connect")
@click.option("--workspace", "workspace_ref", required=True, help="Workspace slug or id.")
@click.option("--platform", required=True)
@click.option("--as-user", "email", default=None, help="Connect for this user (default: owner).")
@click.option("--instance", default=None, help="Mastodon: the instance, e.g. mastodon.social.")
@click.option("--mode", type=click.Choice(["bot", "webhook"]), default=None, help="Discord.")
@click.option("--subreddit", default=None, help="Reddit: keep this subreddit's rules.")
@click.option("--board-id", default=None, help="Pinterest: the board to post to.")
@click.option("--select", "select_ids", multiple=True, help="Page or channel id to connect.")
@click.option("--handle", default=None, help="Bluesky: the handle.")
@click.option("--app-password", envvar="POSTIZ_APP_PASSWORD", default=None, help="Bluesky.")
@click.option("--bot-token", envvar="POSTIZ_BOT_TOKEN", default=None, help="Telegram.")
@click.option("--chat-id", default=None, help="Telegram: the chat or @channel to post to.")
@click.option("--no-browser", is_flag=True, help="Only print the URL to open.")
@click.option(
    "--port", default=LOOPBACK_PORT, show_default=True, help="The loopback redirect's port."
)
@click.option("--timeout", default=300.0, show_default=True, help="Seconds to wait.")
@click.option("--json", "as_json", is_flag=True)
@pass_env
@handles_errors
def accounts_connect(
    env: Env,
    workspace_ref: str,
    platform: str,
    email: str | None,
    instance: str | None,
    mode: str | None,
    subreddit: str | None,
    board_id: str | None,
    select_ids: tuple[str, ...],
    handle: str | None,
    app_password: str | None,
    bot_token: str | None,
    chat_id: str | None,
    no_browser: bool,
    port: int,
    timeout: float,
    as_json: bool,
) -> None:
    """Connect an account through the platform's consent page (or its app password / bot
    token), without pasting an access token."""
    from postiz_pipelines.core.accounts.connect import flow
    from postiz_pipelines.core.workspaces.store import get_workspace

    with env.app.db.read() as s:
        workspace_id = get_workspace(s, workspace_ref).id
    user_id = _user_id(env, workspace_id, email)
    if platform in flow.SECRET_FIELDS:
        fields = _secret_fields(platform, handle, app_password, bot_token, chat_id)
        result = asyncio.run(
            flow.connect_secret(
                env.app,
                platform=platform,
                workspace_id=workspace_id,
                fields=fields,
                net=_net(env),
                now=env.now(),
                actor="cli",
            )
        )
        _show(result, as_json)
        return
    if platform == "mastodon" and not instance:
        instance = click.prompt("Mastodon instance (e.g. mastodon.social)")
    server = _Loopback(port)
    try:
        url = asyncio.run(
            flow.begin(
                env.app,
                platform=platform,
                workspace_id=workspace_id,
                user_id=user_id,
                redirect_uri=server.redirect_uri,
                net=_net(env),
                now=env.now(),
                options={
                    "instance": instance,
                    "mode": mode,
                    "subreddit": subreddit,
                    "board_id": board_id,
                    "select": list(select_ids),
                },
            )
        )
    except BaseException:
        server.server_close()
        raise
    click.echo(f"Open this URL to connect {platform}:\n\n  {url}\n", err=True)
    if not no_browser:
        env.open_url(url)
    query = _wait_for_redirect(server, timeout)
    result = asyncio.run(
        flow.complete(
            env.app,
            platform=platform,
            state=query.get("state"),
            code=query.get("code"),
            error=query.get("error"),
            error_description=query.get("error_description"),
            user_id=user_id,
            net=_net(env),
            now=env.now(),
            actor="cli",
        )
    )
    if result.choices:
        for n, c in enumerate(result.choices, start=1):
            click.echo(f"  {n}. {c['name']} ({c['id']})", err=True)
        picked = click.prompt("Connect which (numbers, comma-separated)", default="1")
        try:
            ids = [result.choices[int(p) - 1]["id"] for p in picked.split(",") if p.strip()]
        except (ValueError, IndexError):
            fail(f"choose numbers from 1 to {len(result.choices)}")
        result = flow.select(
            env.app,
            platform=platform,
            state=str(query.get("state")),
            ids=ids,
            user_id=user_id,
            now=env.now(),
            actor="cli",
        )
    _show(result, as_json)


def _secret_fields(
    platform: str,
    handle: str | None,
    app_password: str | None,
    bot_token: str | None,
    chat_id: str | None,
) -> dict[str, str]:
    if platform == "bluesky":
        return {
            "handle": handle or click.prompt("Bluesky handle"),
            "app_password": app_password
            or click.prompt("App password (Settings > App passwords)", hide_input=True),
        }
    return {
        "bot_token": bot_token or click.prompt("Bot token (from @BotFather)", hide_input=True),
        "chat_id": chat_id or click.prompt("Chat id or @channel"),
    }


@accounts.command("update")
@click.argument("account_id")
@click.option("--display-name", default=None)
@click.option("--language", default=None, help="BCP-47 tag; '' clears it.")
@click.option("--setting", "setting_pairs", multiple=True, help="KEY=VALUE (repeat).")
@click.option("--unset", "unset_keys", multiple=True, help="A setting to remove (repeat).")
@click.option("--json", "as_json", is_flag=True)
@pass_env
@handles_errors
def accounts_update(
    env: Env,
    account_id: str,
    display_name: str | None,
    language: str | None,
    setting_pairs: tuple[str, ...],
    unset_keys: tuple[str, ...],
    as_json: bool,
) -> None:
    """Change an account's display name, language or platform settings."""
    from postiz_pipelines.core.accounts.settings import update_account
    from postiz_pipelines.core.accounts.store import get_account

    changes: dict[str, Any] = parse_settings(setting_pairs)
    changes.update(dict.fromkeys(unset_keys))
    with env.app.db.session() as s:
        acc = get_account(s, account_id)
        update_account(
            s,
            acc,
            display_name=display_name,
            language=language,
            settings=changes or None,
            now=env.now(),
            actor="cli",
        )
        row = {**account_row(acc), "display_name": acc.display_name, "language": acc.language}
    emit([row], as_json, ["id", "platform", "handle", "display_name", "language", "status"])
