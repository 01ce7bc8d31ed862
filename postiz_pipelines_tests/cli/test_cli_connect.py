"""``accounts connect`` and ``accounts update`` against a running sandbox: the authorize URL
is followed by a browser stand-in (httpx, redirects followed) to the command's loopback
server on 127.0.0.1; app-password and bot-token platforms take the secret from a hidden
prompt or an environment variable."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from postiz_pipelines.cli import Env, main
from postiz_pipelines.clock import FixedClock
from postiz_pipelines.core.context import AppContext
from postiz_pipelines.core.models import SocialAccount
from postiz_pipelines.core.workspaces import auth
from postiz_pipelines.core.workspaces.store import create_workspace
from postiz_pipelines.sandbox import SandboxState
from postiz_pipelines.sandbox.server import running_sandbox

BOT = "7000000001:AAH-sandbox-telegram-bot-token"


@pytest.fixture
def sandbox(clock: FixedClock) -> Iterator[tuple[str, SandboxState]]:
    state = SandboxState(clock=clock, seed=3)
    with running_sandbox(state=state) as url:
        yield url, state


@pytest.fixture
def workspace(app: AppContext) -> str:
    now = datetime.now(UTC)
    with app.db.session() as s:
        ws = create_workspace(s, slug="acme", timezone="Europe/Berlin", now=now)
        user = auth.create_user(s, email="new@acme.test", now=now)
        auth.set_member(s, workspace_id=ws.id, user_id=user.id, role="owner", now=now)
        return ws.id


class Cli:
    """Runs the command with a browser that follows the printed URL."""

    def __init__(self, environ: dict[str, str], clock: FixedClock) -> None:
        self.environ = environ
        self.clock = clock
        self.pages: list[httpx.Response] = []
        self.threads: list[threading.Thread] = []

    def browser(self, url: str) -> bool:
        def visit() -> None:
            with httpx.Client(follow_redirects=True, timeout=10) as c:
                self.pages.append(c.get(url))

        thread = threading.Thread(target=visit, daemon=True)
        thread.start()
        self.threads.append(thread)
        return True

    def __call__(self, *args: str, code: int = 0, input: str | None = None, **env: str) -> Result:
        e = Env(environ=self.environ, now=self.clock.now, open_url=self.browser)
        result = CliRunner().invoke(
            main, list(args), obj=e, input=input, env=env, catch_exceptions=False
        )
        e.close()
        for t in self.threads:
            t.join(timeout=10)
        assert result.exit_code == code, (args, result.exit_code, result.output)
        return result


@pytest.fixture
def cli(env: dict[str, str], clock: FixedClock, sandbox: Any, workspace: str) -> Cli:
    return Cli({**env, "POSTIZ_SANDBOX_URL": sandbox[0]}, clock)


def stored(app: AppContext, platform: str) -> list[SocialAccount]:
    with app.db.read() as s:
        return list(s.scalars(select(SocialAccount).where(SocialAccount.platform == platform)))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_mastodon_from_the_cli_through_the_loopback(cli: Cli, app, sandbox):
    url, state = sandbox
    # one port for both connects: the app registration is reused per redirect URI (the
    # default port may be taken by a test running beside this one)
    port = str(_free_port())
    out = cli(
        "accounts",
        "connect",
        "--workspace",
        "acme",
        "--platform",
        "mastodon",
        "--instance",
        f"{url}/mastodon",
        "--port",
        port,
    )
    assert "connected mastodon account mastodon-user" in out.output
    assert "/mastodon/oauth/authorize?" in out.output  # printed for the user, as gh does
    (page,) = cli.pages
    assert page.status_code == 200 and "close this window" in page.text
    assert str(page.url).startswith("http://127.0.0.1:")
    (acc,) = stored(app, "mastodon")
    assert acc.base_url == f"{url}/mastodon" and acc.settings["instance"]["max_characters"] == 500
    again = cli(
        "accounts",
        "connect",
        "--workspace",
        "acme",
        "--platform",
        "mastodon",
        "--instance",
        f"{url}/mastodon",
        "--port",
        port,
        "--json",
    )
    assert f'"id": "{acc.id}"' in again.output and '"reconnected": true' in again.output
    assert state.request_count("mastodon", "POST /api/v1/apps") == 1


def test_x_from_the_cli(cli: Cli, app):
    out = cli("accounts", "connect", "--workspace", "acme", "--platform", "x")
    assert "connected x account x-user" in out.output
    (acc,) = stored(app, "x")
    assert acc.refresh_token_sealed and acc.status == "active"


def test_a_denied_consent_fails_the_command(cli: Cli, app, sandbox):
    sandbox[1].configure("x", consent_deny=True)
    out = cli("accounts", "connect", "--workspace", "acme", "--platform", "x", code=1)
    assert "denied" in out.output and "nothing was stored" in out.output
    assert "refused" in cli.pages[0].text
    assert stored(app, "x") == []


def test_bluesky_prompts_for_the_app_password_without_echo(cli: Cli, app, sandbox):
    password = "wxyz-1234-abcd-5678"
    sandbox[1].provision("bluesky", password, username="emile.bsky.social")
    out = cli(
        "accounts",
        "connect",
        "--workspace",
        "acme",
        "--platform",
        "bluesky",
        input=f"emile.bsky.social\n{password}\n",
    )
    assert "connected bluesky account emile.bsky.social" in out.output
    assert password not in out.output  # the prompt hid it
    (acc,) = stored(app, "bluesky")
    assert acc.external_id.startswith("did:plc:")


def test_telegram_takes_the_bot_token_from_the_environment(cli: Cli, app):
    out = cli(
        "accounts",
        "connect",
        "--workspace",
        "acme",
        "--platform",
        "telegram",
        "--chat-id",
        "@sandbox_news",
        POSTIZ_BOT_TOKEN=BOT,
    )
    assert "connected telegram account sandbox_news" in out.output and BOT not in out.output
    refused = cli(
        "accounts",
        "connect",
        "--workspace",
        "acme",
        "--platform",
        "telegram",
        "--chat-id",
        "1",
        code=1,
        POSTIZ_BOT_TOKEN="nope",
    )
    assert "bot_token" in refused.output
    assert [a.handle for a in stored(app, "telegram")] == ["sandbox_news"]


def test_accounts_update(cli: Cli, app):
    cli("accounts", "connect", "--workspace", "acme", "--platform", "x")
    (acc,) = stored(app, "x")
    out = cli(
        "accounts",
        "update",
        acc.id,
        "--display-name",
        "Zoë",
        "--language",
        "fr",
        "--setting",
        "reply_settings=following",
    )
    assert "Zoë" in out.output
    refused = cli("accounts", "update", acc.id, "--language", "??", code=1)
    assert "language" in refused.output
    cli("accounts", "update", acc.id, "--unset", "reply_settings")
    (acc,) = stored(app, "x")
    assert acc.display_name == "Zoë" and acc.language == "fr" and acc.settings == {}


def test_facebook_pages_are_picked_at_the_prompt(cli: Cli, app):
    out = cli("accounts", "connect", "--workspace", "acme", "--platform", "facebook", input="2\n")
    assert "1. Facebook-User Page 1" in out.output and "Page 2" in out.output
    (acc,) = stored(app, "facebook")
    assert acc.display_name.endswith("Page 2")
    refused = cli(
        "accounts", "connect", "--workspace", "acme", "--platform", "facebook", input="7\n", code=1
    )
    assert "choose numbers from 1 to 2" in refused.output
