"""A connect begun in a browser is finished only by that browser (or by the API token of the
user who began it): the binding cookie set by ``authorize``, refused callbacks that store
nothing and leave the state for the rightful browser, and the token path unchanged."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from postiz_pipelines.core.models import OAuthState
from postiz_pipelines_tests.api.conftest import SANDBOX
from postiz_pipelines_tests.api.test_api_connect import accounts_in, begin, consent

ANOTHER_BROWSER = "started in another browser"


@pytest.fixture
def public_url(request: pytest.FixtureRequest) -> str | None:
    return getattr(request, "param", None)


@pytest.fixture
def env(env: dict[str, str], public_url: str | None) -> dict[str, str]:
    extra = {"POSTIZ_PUBLIC_URL": public_url} if public_url else {}
    return {**env, "POSTIZ_SANDBOX_URL": SANDBOX, **extra}


@pytest.fixture
def platform_browser(make_client, transport):  # type: ignore[no-untyped-def]
    """The user's browser at the platforms: the sandbox app, redirects not followed."""
    return make_client(transport.app)


@pytest.fixture
def stranger(make_client, api_app):  # type: ignore[no-untyped-def]
    """Another browser at our API: no cookie of ours, no API token."""
    return make_client(api_app)


def start(client, world, platform: str = "x"):  # type: ignore[no-untyped-def]
    """``authorize?redirect=true`` from the user's browser: the 302 and its cookie header."""
    r = client.get(
        f"/api/postiz/oauth/{platform}/authorize",
        params={"workspace_id": world.a, "redirect": "true"},
        headers=world.h(),
    )
    assert r.status_code == 302, r.text
    return r


def state_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["state"][0]


def unspent(app) -> list[bool]:  # type: ignore[no-untyped-def]
    with app.db.read() as s:
        return [row.used_at is None for row in s.scalars(select(OAuthState))]


def test_the_browser_that_began_finishes_with_its_cookie(client, platform_browser, world, app):
    r = start(client, world)
    url = r.headers["location"]
    assert url.startswith(f"{SANDBOX}/x/i/oauth2/authorize?")
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("postiz_oauth_") and "HttpOnly" in cookie
    assert "SameSite=lax" in cookie and "Path=/api/postiz/oauth/x/" in cookie
    assert "Max-Age=600" in cookie and "Secure" not in cookie  # the public URL is http here
    nonce = cookie.split(";")[0].split("=", 1)[1]
    with app.db.read() as s:  # only the nonce's hash is kept with the state
        (row,) = s.scalars(select(OAuthState))
        assert row.extra["browser"] and nonce not in str(row.extra)
    done = client.get(consent(platform_browser, url, sandbox_user="Ünal_🌿"))  # no API token
    assert done.status_code == 200, done.text
    assert [a["handle"] for a in done.json()["accounts"]] == ["Ünal_🌿"]
    assert "Max-Age=0" in done.headers["set-cookie"]  # spent: the cookie is dropped
    assert unspent(app) == [False]


def test_another_browser_is_refused_and_the_rightful_one_still_finishes(
    client, platform_browser, stranger, world, app
):
    callback = consent(platform_browser, start(client, world).headers["location"])
    refused = stranger.get(callback)
    assert refused.status_code == 422
    (problem,) = refused.json()["problems"]
    assert problem["field"] == "state" and ANOTHER_BROWSER in problem["message"]
    assert "start the connect again" in problem["message"]
    assert accounts_in(app, "x") == [] and unspent(app) == [True]  # nothing stored or spent
    ok = client.get(callback)
    assert ok.status_code == 200, ok.text
    assert len(accounts_in(app, "x")) == 1


def test_a_cookie_of_another_state_is_refused(client, platform_browser, stranger, world, app):
    # the attacker began their own connect (A) and holds its cookie; the victim's (B) is not theirs
    a = start(stranger, world)
    b = start(client, world)
    a_nonce = a.headers["set-cookie"].split(";")[0].split("=", 1)[1]
    b_name = b.headers["set-cookie"].split("=", 1)[0]
    callback = consent(platform_browser, b.headers["location"])
    assert stranger.get(callback).status_code == 422  # A's cookie, under A's name
    stranger._client.cookies.set(b_name, a_nonce, domain="api.test", path="/api/postiz/oauth/x/")
    forged = stranger.get(callback)  # A's nonce under B's name
    assert forged.status_code == 422 and ANOTHER_BROWSER in forged.text
    assert accounts_in(app, "x") == [] and unspent(app) == [True, True]
    assert client.get(callback).status_code == 200


def test_the_api_token_path_needs_no_cookie(client, platform_browser, stranger, world, app):
    # the CLI (or any script): JSON authorize, the token again at the callback, no cookie jar
    url = begin(client, world, "linkedin")
    callback = consent(platform_browser, url)
    r = stranger.get(callback, headers=world.h("owner"))
    assert r.status_code == 200, r.text
    assert len(accounts_in(app, "linkedin")) == 1
    other = consent(platform_browser, begin(client, world, "x"))
    assert "another user" in stranger.get(other, headers=world.h("admin")).text  # still bound


def test_a_choice_is_bound_as_the_callback_is(client, platform_browser, stranger, world, app):
    callback = consent(platform_browser, start(client, world, "facebook").headers["location"])
    choices = client.get(callback).json()["choices"]
    assert len(choices) >= 2
    body = {"state": state_of(callback), "ids": [choices[0]["id"]]}
    refused = stranger.post("/api/postiz/oauth/facebook/select", json=body)
    assert refused.status_code == 422 and ANOTHER_BROWSER in refused.text
    assert accounts_in(app, "facebook") == []
    chosen = client.post("/api/postiz/oauth/facebook/select", json=body)
    assert chosen.status_code == 200, chosen.text
    assert [a["externalId"] for a in chosen.json()["accounts"]] == [choices[0]["id"]]


@pytest.mark.parametrize(
    ("public_url", "path"),
    [
        ("https://api.test", "/api/postiz/oauth/x/"),
        ("https://api.test/postiz", "/postiz/api/postiz/oauth/x/"),
    ],
    indirect=["public_url"],
)
def test_the_cookie_is_secure_behind_an_https_public_url(client, world, path):
    cookie = start(client, world).headers["set-cookie"]
    assert "Secure" in cookie and f"Path={path}" in cookie


def test_a_browser_cannot_begin_without_a_token(stranger, world):
    r = stranger.get(
        "/api/postiz/oauth/x/authorize", params={"workspace_id": world.a, "redirect": "true"}
    )
    assert r.status_code == 401 and "set-cookie" not in r.headers
