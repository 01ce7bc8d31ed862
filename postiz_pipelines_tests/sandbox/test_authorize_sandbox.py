"""The emulated consent pages and the token endpoints that redeem their codes: consent and
denial, PKCE, codes bound to client and redirect URI and used once, Mastodon app
registration, Facebook Pages, Discord installs, Telegram getChat, Slack channels."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from postiz_pipelines.sandbox import SandboxState, oauth2
from postiz_pipelines.sandbox.authorize import AUTHORIZE_PATHS

CB = "http://app.test/callback"
VERIFIER = "a" * 43 + "-verifier-ünicode-free"


def challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def authorize(client: httpx.AsyncClient, path: str, **params: str) -> httpx.Response:
    query = {"response_type": "code", "client_id": "cid", "redirect_uri": CB, "state": "st"}
    return asyncio.run(client.get(path, params={**query, **params}))


def code_of(r: httpx.Response) -> str:
    assert r.status_code == 302, r.text
    q = parse_qs(urlsplit(r.headers["location"]).query)
    assert q["state"] == ["st"]
    return q["code"][0]


def test_every_consent_page_answers_with_a_code(sandbox_client):
    for platform, path in AUTHORIZE_PATHS.items():
        if platform == "mastodon":
            continue  # needs a registered app (below)
        real = path.replace("{version}", "v24.0")
        extra = {"code_challenge": challenge(VERIFIER), "code_challenge_method": "S256"}
        r = authorize(sandbox_client, f"/{platform}{real}", **extra)
        assert code_of(r), platform


def test_denial_by_flag_and_by_control(sandbox_client, sandbox_state: SandboxState):
    r = authorize(sandbox_client, "/linkedin/oauth/v2/authorization", sandbox_consent="deny")
    q = parse_qs(urlsplit(r.headers["location"]).query)
    assert q["error"] == ["access_denied"] and q["state"] == ["st"] and "code" not in q
    put = asyncio.run(sandbox_client.put("/_sandbox/youtube/consent", json={"deny": True}))
    assert put.status_code == 200
    r = authorize(sandbox_client, "/youtube/o/oauth2/v2/auth")
    assert "error=access_denied" in r.headers["location"]
    bad = asyncio.run(sandbox_client.put("/_sandbox/youtube/consent", json={"user": ""}))
    assert bad.status_code == 422


def test_x_requires_pkce_and_checks_the_verifier(sandbox_client):
    r = authorize(sandbox_client, "/x/i/oauth2/authorize")
    assert "error=invalid_request" in r.headers["location"]
    code = code_of(
        authorize(
            sandbox_client,
            "/x/i/oauth2/authorize",
            code_challenge=challenge(VERIFIER),
            code_challenge_method="S256",
        )
    )
    form = {"grant_type": "authorization_code", "code": code, "client_id": "cid"}
    wrong_uri = asyncio.run(
        sandbox_client.post(
            "/x/2/oauth2/token",
            data={**form, "redirect_uri": "http://evil.test/", "code_verifier": VERIFIER},
        )
    )
    assert wrong_uri.status_code == 400 and "redirect_uri" in wrong_uri.text
    code = code_of(
        authorize(
            sandbox_client,
            "/x/i/oauth2/authorize",
            code_challenge=challenge(VERIFIER),
            code_challenge_method="S256",
        )
    )
    ok = asyncio.run(
        sandbox_client.post(
            "/x/2/oauth2/token",
            data={**form, "code": code, "redirect_uri": CB, "code_verifier": VERIFIER},
        )
    )
    assert ok.status_code == 200 and ok.json()["refresh_token"]
    again = asyncio.run(
        sandbox_client.post(
            "/x/2/oauth2/token",
            data={**form, "code": code, "redirect_uri": CB, "code_verifier": VERIFIER},
        )
    )
    assert again.status_code == 400  # a code works once


def test_the_same_user_consenting_twice_is_the_same_account(sandbox_client):
    async def me(code: str) -> str:
        t = await sandbox_client.post(
            "/reddit/api/v1/access_token",
            data={"grant_type": "authorization_code", "code": code, "redirect_uri": CB},
            auth=("cid", "secret"),
        )
        token = t.json()["access_token"]
        assert t.json()["refresh_token"]
        m = await sandbox_client.get(
            "/reddit/api/v1/me",
            headers={"Authorization": f"Bearer {token}", "User-Agent": "web:test:1.0 (by /u/t)"},
        )
        return str(m.json()["name"])

    first = code_of(authorize(sandbox_client, "/reddit/api/v1/authorize", sandbox_user="ana"))
    second = code_of(authorize(sandbox_client, "/reddit/api/v1/authorize", sandbox_user="ana"))
    other = code_of(authorize(sandbox_client, "/reddit/api/v1/authorize", sandbox_user="bo"))
    assert asyncio.run(me(first)) == asyncio.run(me(second)) == "ana"
    assert asyncio.run(me(other)) == "bo"


def test_mastodon_registers_apps_and_redeems_codes(sandbox_client):
    reg = asyncio.run(
        sandbox_client.post(
            "/mastodon/api/v1/apps",
            data={"client_name": "t", "redirect_uris": CB, "scopes": "read write"},
        )
    )
    assert reg.status_code == 200
    app = reg.json()
    unknown = authorize(sandbox_client, "/mastodon/oauth/authorize")
    assert unknown.status_code == 401  # no such app
    r = authorize(
        sandbox_client,
        "/mastodon/oauth/authorize",
        client_id=app["client_id"],
        code_challenge=challenge(VERIFIER),
        code_challenge_method="S256",
    )
    code = code_of(r)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": CB,
        "client_id": app["client_id"],
        "client_secret": app["client_secret"],
        "code_verifier": VERIFIER,
    }
    wrong = asyncio.run(
        sandbox_client.post("/mastodon/oauth/token", data={**form, "client_secret": "x"})
    )
    assert wrong.status_code == 401
    t = asyncio.run(sandbox_client.post("/mastodon/oauth/token", data=form))
    assert t.status_code == 200, t.text
    token = t.json()["access_token"]
    me = asyncio.run(
        sandbox_client.get(
            "/mastodon/api/v1/accounts/verify_credentials",
            headers={"Authorization": f"Bearer {token}"},
        )
    )
    assert me.json()["username"] == "mastodon-user"
    asyncio.run(sandbox_client.post("/mastodon/oauth/revoke", data={"token": token}))
    gone = asyncio.run(
        sandbox_client.get(
            "/mastodon/api/v1/accounts/verify_credentials",
            headers={"Authorization": f"Bearer {token}"},
        )
    )
    assert gone.status_code == 401


def test_facebook_pages_carry_page_tokens_and_instagram_accounts(sandbox_client, sandbox_state):
    sandbox_state.configure("facebook", pages_per_user=3)
    code = code_of(authorize(sandbox_client, "/facebook/v24.0/dialog/oauth"))

    async def flow() -> list[dict]:
        q = {"client_id": "cid", "client_secret": "s", "redirect_uri": CB, "code": code}
        short = (await sandbox_client.get("/facebook/v24.0/oauth/access_token", params=q)).json()
        long = await sandbox_client.get(
            "/facebook/v24.0/oauth/access_token",
            params={
                "grant_type": "fb_exchange_token",
                "client_id": "cid",
                "client_secret": "s",
                "fb_exchange_token": short["access_token"],
            },
        )
        assert long.json()["expires_in"] > short["expires_in"]
        pages = await sandbox_client.get(
            "/facebook/v24.0/me/accounts", params={"access_token": long.json()["access_token"]}
        )
        return pages.json()["data"]

    pages = asyncio.run(flow())
    assert len(pages) == 3 and len({p["access_token"] for p in pages}) == 3
    ig = sandbox_state.authenticate("instagram", pages[0]["access_token"]).account
    assert ig.id == pages[0]["instagram_business_account"]["id"]


@pytest.mark.parametrize("scope", ["bot", "webhook.incoming"])
def test_discord_install_answers_guild_or_webhook(sandbox_client, scope):
    code = code_of(authorize(sandbox_client, "/discord/oauth2/authorize", scope=scope))
    t = asyncio.run(
        sandbox_client.post(
            "/discord/api/v10/oauth2/token",
            data={"grant_type": "authorization_code", "code": code, "redirect_uri": CB},
            auth=("cid", "secret"),
        )
    )
    body = t.json()
    if scope == "bot":
        channels = asyncio.run(
            sandbox_client.get(
                f"/discord/api/v10/guilds/{body['guild']['id']}/channels",
                headers={"Authorization": "Bot MTA5.sandbox"},
            )
        )
        assert [c["type"] for c in channels.json()] == [0, 0, 0]
    else:
        assert body["webhook"]["url"].endswith(body["webhook"]["token"])


def test_telegram_get_chat(sandbox_client):
    bot = "/telegram/bot7000000001:AAH-x"
    ok = asyncio.run(sandbox_client.post(f"{bot}/getChat", json={"chat_id": "@news"}))
    assert ok.json()["ok"] and ok.json()["result"]["username"] == "news"
    missing = asyncio.run(sandbox_client.post(f"{bot}/getChat", json={}))
    assert missing.status_code == 400 and not missing.json()["ok"]


def test_slack_lists_channels_to_the_bot(sandbox_client):
    r = asyncio.run(
        sandbox_client.get(
            "/slack/api/conversations.list", headers={"Authorization": "Bearer xoxb-1-sandbox"}
        )
    )
    assert r.json()["ok"] and {c["name"] for c in r.json()["channels"]} == {"general", "marketing"}


def test_revoked_tokens_stop_working(sandbox_client, sandbox_state):
    async def run() -> tuple[int, int, int]:
        h = {"Authorization": "Bearer at-x-1"}
        before = (await sandbox_client.get("/x/2/users/me", headers=h)).status_code
        await sandbox_client.post("/x/2/oauth2/revoke", data={"token": "at-x-1", "client_id": "c"})
        after = (await sandbox_client.get("/x/2/users/me", headers=h)).status_code
        account = sandbox_state.provision("youtube", "yt-access")
        oauth2.give_refresh_token(sandbox_state, "youtube", account.id, "yt-refresh")
        await sandbox_client.post("/youtube/revoke", params={"token": "yt-refresh"})
        refreshed = await sandbox_client.post(
            "/youtube/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": "yt-refresh",
                "client_id": "c",
                "client_secret": "s",
            },
        )
        return before, after, refreshed.status_code

    assert asyncio.run(run()) == (200, 401, 400)
