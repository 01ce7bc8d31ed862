"""The connect engine at the edge of the world: the odd answers the sandbox does not give
(an HTML error page for a token answer, a platform that is down) and secrets kept out of
reprs. The flows themselves run end to end through the sandbox in api/test_api_connect.py."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
import pytest

from postiz_pipelines.crypto import Secret
from postiz_pipelines.errors import ConnectRefused, TransientError, ValidationFailed
from postiz_pipelines.providers.base import TokenSet
from postiz_pipelines.providers.connect.fediverse import instance_url
from postiz_pipelines.providers.connect.oauth import (
    Connected,
    ConnectHttp,
    OAuthClient,
    authorization_url,
    exchange_code,
)
from postiz_pipelines.providers.connect.registry import connector

NOW = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # a DST night in Europe
CLIENT = OAuthClient("cid", Secret("top-secret-value"))


def exchange(handler) -> tuple[TokenSet, dict]:  # type: ignore[no-untyped-def]
    flow = connector("x", sandbox_url=None).flow()
    net = ConnectHttp(httpx.MockTransport(handler), timeout=5)
    return asyncio.run(
        exchange_code(
            flow, CLIENT, net, code="c", redirect_uri="http://cb/", code_verifier="v" * 43, now=NOW
        )
    )


def test_an_html_token_answer_is_transient() -> None:
    with pytest.raises(TransientError):
        exchange(lambda r: httpx.Response(502, text="<html>Bad Gateway</html>"))


def test_an_oauth_refusal_names_the_code() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"].startswith("Basic ")  # confidential client
        assert b"code_verifier=vvvv" in request.content
        return httpx.Response(400, json={"error": "invalid_grant", "error_description": "used"})

    with pytest.raises(ConnectRefused) as err:
        exchange(refuse)
    assert err.value.field == "code" and "invalid_grant" in err.value.message
    assert "top-secret-value" not in repr(err.value)


def test_a_platform_that_is_down_is_transient() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(TransientError):
        exchange(down)


def test_tokens_and_expiry_from_the_answer() -> None:
    tokens, body = exchange(
        lambda r: httpx.Response(
            200, json={"access_token": "at", "refresh_token": "rt", "expires_in": 7200}
        )
    )
    assert tokens.access_token.reveal() == "at" and tokens.refresh_token == "rt"
    assert tokens.expires_at == datetime(2026, 3, 29, 3, 30, tzinfo=UTC)


def test_urls_point_at_production_without_a_sandbox() -> None:
    url = authorization_url(
        connector("youtube", sandbox_url=None).flow(),
        CLIENT,
        redirect_uri="http://127.0.0.1:53682/callback",
        state="s",
        code_verifier="v" * 43,
    )
    assert url.startswith("https://accounts.google.com/o/oauth2/v2/auth?")
    assert "access_type=offline" in url and "top-secret" not in url
    tiktok = authorization_url(
        connector("tiktok", sandbox_url=None).flow(),
        CLIENT,
        redirect_uri="x",
        state="s",
        code_verifier=None,
    )
    assert "client_key=cid" in tiktok and "code_challenge" not in tiktok
    assert (
        connector("instagram", sandbox_url="http://s")
        .flow()
        .token_url.startswith("http://s/facebook/")
    )


def test_reprs_hide_secrets() -> None:
    found = Connected("x", "1", "zoë", "Zoë", TokenSet(Secret("access-token-bytes")))
    assert "access-token-bytes" not in repr(found) and "top-secret" not in repr(CLIENT)


def test_instance_addresses() -> None:
    assert instance_url("Mastodon.Social") == "https://mastodon.social"
    assert instance_url("http://sandbox.test/mastodon/") == "http://sandbox.test/mastodon"
    with pytest.raises(ConnectRefused):
        instance_url("https://")


def test_unknown_platform() -> None:
    with pytest.raises(ValidationFailed) as err:
        connector("myspace", sandbox_url=None)
    assert err.value.problems[0].field == "platform"


def test_an_instance_that_does_not_answer() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("no route", request=request)

    mastodon = connector("mastodon", sandbox_url=None)
    net = ConnectHttp(httpx.MockTransport(down), timeout=5)
    with pytest.raises(ConnectRefused) as err:
        asyncio.run(mastodon.read_instance(net, "https://gone.example"))  # type: ignore[attr-defined]
    assert err.value.field == "instance" and "does not answer" in err.value.message
