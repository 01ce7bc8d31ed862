"""Connect flows over HTTP through the sandbox: authorize -> the platform's consent page ->
callback -> account stored -> a post published with it; the state's rules (single use,
10 minutes, one user), denied consent, reconnect in place, and every refusal storing
nothing."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from sqlalchemy import func, select

from postiz_pipelines.core.models import JobStatus, OAuthApp, OAuthState, PublishJob, SocialAccount
from postiz_pipelines.core.publishing.hold import mark_reconnect_needed
from postiz_pipelines_tests.api.conftest import SANDBOX

WORKER = "/api/postiz/worker/process"
TELEGRAM_BOT = "7000000001:AAH-sandbox-telegram-bot-token"


@pytest.fixture
def env(env: dict[str, str]) -> dict[str, str]:
    return {**env, "POSTIZ_SANDBOX_URL": SANDBOX}


@pytest.fixture
def browser(make_client, transport):  # type: ignore[no-untyped-def]
    """The user's browser at the platforms: the sandbox app, redirects not followed."""
    return make_client(transport.app)


def begin(client, world, platform: str, who: str = "owner", **params):  # type: ignore[no-untyped-def]
    r = client.get(
        f"/api/postiz/oauth/{platform}/authorize",
        params={"workspace_id": world.a, **params},
        headers=world.h(who),
    )
    assert r.status_code == 200, r.text
    return r.json()["url"]


def consent(browser, url: str, **flags: str) -> str:  # type: ignore[no-untyped-def]
    """The platform's page answers; the callback path and query it redirects to."""
    r = browser.get(f"{url}&{urlencode(flags)}" if flags else url)
    assert r.status_code == 302, (r.status_code, r.text)
    loc = urlsplit(r.headers["location"])
    assert loc.netloc == "api.test"
    return f"{loc.path}?{loc.query}"


def connect(client, browser, world, platform: str, flags=None, **params):  # type: ignore[no-untyped-def]
    callback = consent(browser, begin(client, world, platform, **params), **(flags or {}))
    return client.get(callback)


def publish(client, world, worker_headers, account_id: str, text: str) -> None:  # type: ignore[no-untyped-def]
    r = client.post(
        "/api/postiz/posts",
        headers=world.h(),
        json={"content": text, "workspaceId": world.a, "targetAccounts": [account_id]},
    )
    assert r.status_code == 201, r.text
    done = client.post(WORKER, headers=worker_headers, json={"maxJobs": 5}).json()
    assert done["processed"]["completed"] == 1, done


def accounts_in(app, platform: str) -> list[SocialAccount]:  # type: ignore[no-untyped-def]
    with app.db.read() as s:
        return list(s.scalars(select(SocialAccount).where(SocialAccount.platform == platform)))


# -- the three of "done when": X, Mastodon, Bluesky ----------------------------------------
def test_x_connects_with_pkce_and_publishes(
    client, browser, world, app, sandbox_state, worker_headers
):
    url = begin(client, world, "x")
    query = parse_qs(urlsplit(url).query)
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) >= 43
    assert "offline.access" in query["scope"][0]
    r = client.get(consent(browser, url, sandbox_user="Zoë_writes"))
    assert r.status_code == 200, r.text
    (acc,) = r.json()["accounts"]
    assert acc["platform"] == "x" and acc["handle"] == "Zoë_writes" and acc["status"] == "active"
    assert r.json()["reconnected"] == []
    with app.db.read() as s:  # only the state's hash is kept, and it is spent
        row = s.scalar(select(OAuthState))
        assert row.used_at is not None and row.state_hash != query["state"][0]
        assert row.code_verifier_sealed and "." in row.code_verifier_sealed
    publish(client, world, worker_headers, acc["id"], "hello from a connected account 🎉")
    assert [p.text for p in sandbox_state.accepted("x")] == ["hello from a connected account 🎉"]


def test_x_token_endpoint_refuses_a_wrong_verifier(browser, transport):  # type: ignore[no-untyped-def]
    # the sandbox holds the code to its challenge (as X does): a stolen code is useless
    r = browser.get(
        f"{SANDBOX}/x/i/oauth2/authorize",
        params={
            "response_type": "code",
            "client_id": "c",
            "redirect_uri": "http://cb.test/cb",
            "state": "s",
            "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "code_challenge_method": "S256",
        },
    )
    code = parse_qs(urlsplit(r.headers["location"]).query)["code"][0]
    bad = browser.post(
        f"{SANDBOX}/x/2/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": "http://cb.test/cb",
            "code_verifier": "not-the-verifier-not-the-verifier-not-the-verifier",
            "client_id": "c",
        },
    )
    assert bad.status_code == 400 and "code_verifier" in bad.json()["error_description"]


def test_mastodon_registers_once_per_instance_and_reconnects_in_place(
    client, browser, world, app, sandbox_state, worker_headers
):
    sandbox_state.configure("mastodon", max_characters=5000)
    r = connect(client, browser, world, "mastodon", instance=f"{SANDBOX}/mastodon/")
    assert r.status_code == 200, r.text
    (first,) = r.json()["accounts"]
    assert first["baseUrl"] == f"{SANDBOX}/mastodon" and first["handle"] == "mastodon-user"
    (stored,) = [a for a in accounts_in(app, "mastodon") if a.id == first["id"]]
    assert stored.settings["instance"]["max_characters"] == 5000  # the instance's own limit
    assert stored.token_version == 0
    publish(client, world, worker_headers, first["id"], "ü" * 600)  # over 500, under 5,000

    again = connect(client, browser, world, "mastodon", instance=f"{SANDBOX}/mastodon")
    assert again.status_code == 200, again.text
    assert [a["id"] for a in again.json()["accounts"]] == [first["id"]]
    assert again.json()["reconnected"] == [first["id"]]
    with app.db.read() as s:
        assert s.scalar(select(func.count()).select_from(OAuthApp)) == 1  # reused
        assert s.get(SocialAccount, first["id"]).token_version == 1
    assert sandbox_state.request_count("mastodon", "POST /api/v1/apps") == 1


def test_bluesky_connects_with_an_app_password_on_its_pds(
    client, world, app, sandbox_state, worker_headers
):
    password = "abcd-efgh-ijkl-mnop"
    sandbox_state.provision("bluesky", password, username="carol.bsky.social")
    r = client.post(
        "/api/postiz/oauth/bluesky/connect",
        headers=world.h(),
        json={"workspaceId": world.a, "handle": "@Carol.bsky.social", "appPassword": password},
    )
    assert r.status_code == 201, r.text
    (acc,) = r.json()["accounts"]
    assert acc["externalId"].startswith("did:plc:") and acc["handle"] == "carol.bsky.social"
    assert acc["baseUrl"].startswith(SANDBOX)
    assert password not in r.text
    publish(client, world, worker_headers, acc["id"], "skeet from the sandbox")
    assert [p.text for p in sandbox_state.accepted("bluesky")] == ["skeet from the sandbox"]


def test_bluesky_refusals_name_the_field(client, world, app, sandbox_state):
    sandbox_state.provision("bluesky", "good-pass-word-1234", username="dan.bsky.social")
    cases = [
        ({"handle": "nobody.bsky.social", "appPassword": "x"}, "handle"),
        ({"handle": "dan.bsky.social", "appPassword": "wrong-pass-word-0000"}, "app_password"),
        ({"handle": "dan.bsky.social"}, "app_password"),
    ]
    for body, field in cases:
        r = client.post(
            "/api/postiz/oauth/bluesky/connect",
            headers=world.h(),
            json={"workspaceId": world.a, **body},
        )
        assert r.status_code == 422, r.text
        assert [p["field"] for p in r.json()["problems"]] == [field], r.text
    assert accounts_in(app, "bluesky") == []


# -- Telegram: a bot token checked with getMe and getChat ------------------------------------
def test_telegram_bot_token_is_verified(client, world, app, sandbox_state, worker_headers):
    path = "/api/postiz/oauth/telegram/connect"
    bad = client.post(
        path,
        headers=world.h(),
        json={"workspaceId": world.a, "botToken": "not-a-token", "chatId": "-1001"},
    )
    assert bad.status_code == 422 and bad.json()["problems"][0]["field"] == "bot_token"
    sandbox_state.revoke_token("telegram", "7000000009:AAH-revoked")
    revoked = client.post(
        path,
        headers=world.h(),
        json={"workspaceId": world.a, "botToken": "7000000009:AAH-revoked", "chatId": "-1001"},
    )
    assert revoked.status_code == 422 and "refused" in revoked.text
    assert "AAH-revoked" not in revoked.text
    assert accounts_in(app, "telegram") == []
    ok = client.post(
        path,
        headers=world.h(),
        json={"workspaceId": world.a, "botToken": TELEGRAM_BOT, "chatId": "-1001234567890"},
    )
    assert ok.status_code == 201, ok.text
    (acc,) = ok.json()["accounts"]
    assert acc["externalId"] == "-1001234567890"
    publish(client, world, worker_headers, acc["id"], "Привет, канал")
    assert [p.text for p in sandbox_state.accepted("telegram")] == ["Привет, канал"]


# -- the state -------------------------------------------------------------------------------
def test_a_state_works_once(client, browser, world, app):
    callback = consent(browser, begin(client, world, "x"))
    assert client.get(callback).status_code == 200
    replay = client.get(callback)
    assert replay.status_code == 422
    assert replay.json()["problems"][0]["field"] == "state"
    assert "already used" in replay.text
    assert len(accounts_in(app, "x")) == 1


def test_an_expired_state_is_refused(client, browser, world, app, clock):
    callback = consent(browser, begin(client, world, "linkedin"))
    clock.advance(601)
    r = client.get(callback)
    assert r.status_code == 422 and "expired" in r.text
    assert accounts_in(app, "linkedin") == []
    clock.advance(86_400)  # a day later, beginning another connect forgets the old state
    begin(client, world, "linkedin")
    with app.db.read() as s:
        assert s.scalar(select(func.count()).select_from(OAuthState)) == 1


def test_another_users_state_is_refused(client, browser, world, app):
    callback = consent(browser, begin(client, world, "x", who="owner"))
    r = client.get(callback, headers=world.h("admin"))
    assert r.status_code == 422 and "another user" in r.text
    assert accounts_in(app, "x") == []
    assert client.get(callback, headers=world.h("owner")).status_code == 200  # still unspent


def test_unknown_or_forged_state_and_unknown_platform(client, world):
    assert client.get("/api/postiz/oauth/x/callback?code=c").status_code == 422
    assert client.get("/api/postiz/oauth/x/callback?code=c&state=forged").status_code == 422
    r = client.get(
        "/api/postiz/oauth/myspace/authorize", params={"workspace_id": world.a}, headers=world.h()
    )
    assert r.status_code == 422 and r.json()["problems"][0]["field"] == "platform"
    assert "mastodon" in r.json()["problems"][0]["message"]


def test_a_denied_consent_stores_nothing(client, browser, world, app, sandbox_state):
    r = connect(client, browser, world, "youtube", flags={"sandbox_consent": "deny"})
    assert r.status_code == 422
    assert r.json()["problems"][0]["field"] == "error" and "denied" in r.text
    sandbox_state.configure("tiktok", consent_deny=True)  # the control switch works too
    assert connect(client, browser, world, "tiktok").status_code == 422
    assert accounts_in(app, "youtube") == accounts_in(app, "tiktok") == []


def test_only_admins_begin_a_connect(client, world):
    r = client.get(
        "/api/postiz/oauth/x/authorize", params={"workspace_id": world.a}, headers=world.h("editor")
    )
    assert r.status_code == 403
    other = client.get(
        "/api/postiz/oauth/x/authorize", params={"workspace_id": world.b}, headers=world.h()
    )
    assert other.status_code == 404


# -- one account, one workspace ----------------------------------------------------------------
def test_an_account_connected_elsewhere_is_refused(client, browser, world, app):
    assert connect(client, browser, world, "reddit").status_code == 200
    url = client.get(
        "/api/postiz/oauth/reddit/authorize",
        params={"workspace_id": world.b},
        headers=world.h("b_owner"),
    ).json()["url"]
    r = client.get(consent(browser, url))
    assert r.status_code == 409 and "another workspace" in r.text
    assert [a.workspace_id for a in accounts_in(app, "reddit")] == [world.a]


# -- Mastodon instances that are not ----------------------------------------------------------
def test_an_instance_that_is_not_mastodon_or_does_not_answer(client, world, app, sandbox_state):
    path = "/api/postiz/oauth/mastodon/authorize"
    not_mastodon = client.get(
        path, params={"workspace_id": world.a, "instance": f"{SANDBOX}/bluesky"}, headers=world.h()
    )
    assert not_mastodon.status_code == 422, not_mastodon.text
    assert not_mastodon.json()["problems"][0]["field"] == "instance"
    assert "not answer as Mastodon" in not_mastodon.text
    sandbox_state.faults.set("mastodon", outage=True, endpoints=frozenset({"GET /api/v2/instance"}))
    down = client.get(
        path, params={"workspace_id": world.a, "instance": f"{SANDBOX}/mastodon"}, headers=world.h()
    )
    assert down.status_code == 422 and "HTTP 503" in down.text, down.text
    missing = client.get(path, params={"workspace_id": world.a}, headers=world.h())
    assert missing.status_code == 422 and missing.json()["problems"][0]["field"] == "instance"
    with app.db.read() as s:
        assert s.scalar(select(func.count()).select_from(OAuthApp)) == 0
        assert s.scalar(select(func.count()).select_from(OAuthState)) == 0


# -- reconnect in place releases held jobs ----------------------------------------------------
def test_reconnect_releases_held_jobs(client, browser, world, app, clock, worker_headers):
    (acc,) = connect(client, browser, world, "linkedin").json()["accounts"]
    r = client.post(
        "/api/postiz/posts",
        headers=world.h(),
        json={
            "content": "waiting for the reconnect",
            "workspaceId": world.a,
            "targetAccounts": [acc["id"]],
            "scheduledAt": (clock.now() + timedelta(minutes=5)).isoformat(),
        },
    )
    assert r.status_code == 201, r.text
    with app.db.session() as s:
        row = s.get(SocialAccount, acc["id"])
        mark_reconnect_needed(s, row, reason="invalid_grant", now=clock.now(), actor="test")
    with app.db.read() as s:
        assert s.scalar(select(PublishJob.status)) == JobStatus.HELD
    again = connect(client, browser, world, "linkedin")
    assert again.status_code == 200, again.text
    assert again.json()["reconnected"] == [acc["id"]] and again.json()["releasedJobs"] == 1
    assert again.json()["accounts"][0]["status"] == "active"
    with app.db.read() as s:
        job = s.scalar(select(PublishJob))
        assert job.status != JobStatus.HELD and job.attempts == 0


# -- every platform to "account stored", and a choice among several ---------------------------
ONE_ACCOUNT = {
    "linkedin": {},
    "threads": {},
    "youtube": {},
    "tiktok": {},
    "pinterest": {},
    "reddit": {"subreddit": "test"},
    "discord": {"mode": "webhook"},
}


@pytest.mark.parametrize("platform", sorted(ONE_ACCOUNT))
def test_each_code_flow_stores_its_account(client, browser, world, app, platform):
    r = connect(client, browser, world, platform, **ONE_ACCOUNT[platform])
    assert r.status_code == 200, r.text
    (acc,) = r.json()["accounts"]
    (row,) = accounts_in(app, platform)
    assert row.id == acc["id"] and row.status == "active" and row.access_token_sealed
    if platform == "tiktok":
        assert row.settings["creator_info"]["privacy_level_options"]
    if platform == "pinterest":
        assert row.settings["board_id"] == row.settings["boards"][0]["id"]
    if platform == "reddit":
        assert row.settings["subreddit"] == "test" and "test" in row.settings["subreddit_rules"]
    if platform == "discord":
        assert row.settings["target"] == "webhook"
    if platform in ("youtube", "tiktok", "pinterest", "reddit"):
        assert row.refresh_token_sealed  # offline access, a permanent grant


@pytest.mark.parametrize("platform", ["facebook", "instagram", "slack", "discord"])
def test_several_found_accounts_are_chosen(client, browser, world, app, platform):
    callback = consent(browser, begin(client, world, platform))
    r = client.get(callback)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["accounts"] == [] and len(body["choices"]) >= 2
    assert accounts_in(app, platform) == []  # nothing stored before the choice
    with app.db.read() as s:  # the found tokens wait sealed on the state, never in clear
        pending = s.scalar(select(OAuthState)).extra["pending"]
        assert all(p["access"].count(".") >= 2 for p in pending)
    ids = [c["id"] for c in body["choices"][:2]]
    state = parse_qs(urlsplit(callback).query)["state"][0]
    chosen = client.post(f"/api/postiz/oauth/{platform}/select", json={"state": state, "ids": ids})
    assert chosen.status_code == 200, chosen.text
    assert sorted(a["externalId"] for a in chosen.json()["accounts"]) == sorted(ids)
    assert sorted(a.external_id for a in accounts_in(app, platform)) == sorted(ids)
    again = client.post(f"/api/postiz/oauth/{platform}/select", json={"state": state, "ids": ids})
    assert again.status_code == 422  # the choice is made once


def test_facebook_pages_are_picked_then_publish(
    client, browser, world, app, sandbox_state, worker_headers
):
    url = begin(client, world, "facebook")
    callback = consent(browser, url)
    state = parse_qs(urlsplit(callback).query)["state"][0]
    choices = client.get(callback).json()["choices"]
    assert len(choices) == 2
    unknown = client.post(
        "/api/postiz/oauth/facebook/select", json={"state": state, "ids": ["999"]}
    )
    assert unknown.status_code == 422 and unknown.json()["problems"][0]["field"] == "select"
    r = client.post(
        "/api/postiz/oauth/facebook/select", json={"state": state, "ids": [choices[1]["id"]]}
    )
    assert r.status_code == 200, r.text
    (acc,) = r.json()["accounts"]
    assert acc["externalId"] == choices[1]["id"] and acc["displayName"].endswith("Page 2")
    publish(client, world, worker_headers, acc["id"], "news from the page")
    assert [p.text for p in sandbox_state.accepted("facebook")] == ["news from the page"]


def test_slack_channel_chosen_up_front_publishes(
    client, browser, world, app, sandbox_state, worker_headers
):
    r = connect(client, browser, world, "slack", select=["C0SANDBOX02"])
    assert r.status_code == 200, r.text
    (acc,) = r.json()["accounts"]
    assert acc["externalId"] == "C0SANDBOX02" and acc["handle"] == "#marketing"
    publish(client, world, worker_headers, acc["id"], "standup at 10")
    assert [p.text for p in sandbox_state.accepted("slack")] == ["standup at 10"]


def test_discord_bot_install_picks_a_channel_and_publishes(
    client, browser, world, app, sandbox_state, worker_headers
):
    url = begin(client, world, "discord")
    assert "bot" in parse_qs(urlsplit(url).query)["scope"][0]
    callback = consent(browser, url)
    state = parse_qs(urlsplit(callback).query)["state"][0]
    choices = client.get(callback).json()["choices"]
    r = client.post(
        "/api/postiz/oauth/discord/select", json={"state": state, "ids": [choices[0]["id"]]}
    )
    (acc,) = r.json()["accounts"]
    publish(client, world, worker_headers, acc["id"], "patch notes")
    assert [p.text for p in sandbox_state.accepted("discord")] == ["patch notes"]


# -- account settings ---------------------------------------------------------------------------
def test_patch_account_settings(client, world, app):
    path = f"/api/postiz/accounts/{world.account_a}"
    r = client.patch(
        path,
        headers=world.h(),
        json={
            "displayName": "Alice ✨",
            "language": "de-AT",
            "settings": {"visibility": "unlisted"},
        },
    )
    assert r.status_code == 200, r.text
    assert r.json()["displayName"] == "Alice ✨"
    bad = client.patch(
        path,
        headers=world.h(),
        json={
            "language": "not a tag",
            "settings": {"instance": {}, "target": "carrier pigeon", "subreddit": ""},
        },
    )
    assert bad.status_code == 422
    assert {p["field"] for p in bad.json()["problems"]} == {
        "language",
        "settings.instance",
        "settings.target",
        "settings.subreddit",
    }
    with app.db.read() as s:
        row = s.get(SocialAccount, world.account_a)
        assert row.language == "de-AT" and row.settings == {"visibility": "unlisted"}
    assert client.patch(path, headers=world.h("editor"), json={}).status_code == 403


def test_a_pinterest_board_must_be_one_of_the_accounts(client, browser, world, app):
    (acc,) = connect(client, browser, world, "pinterest").json()["accounts"]
    path = f"/api/postiz/accounts/{acc['id']}"
    bad = client.patch(path, headers=world.h(), json={"settings": {"board_id": "nope"}})
    assert bad.status_code == 422 and bad.json()["problems"][0]["field"] == "settings.board_id"
    (row,) = accounts_in(app, "pinterest")
    board = row.settings["boards"][0]["id"]
    ok = client.patch(path, headers=world.h(), json={"settings": {"board_id": board}})
    assert ok.status_code == 200, ok.text
