"""The X emulator's own weighted length (``sandbox/x_text.py``) against twitter-text's
conformance cases: every ``weightedLength`` case of validate.yml and every URL case of
extract.yml; then the classes of text through the emulator's HTTP API."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from postiz_pipelines.crypto import Secret
from postiz_pipelines.errors import ContentRejected
from postiz_pipelines.providers.base import AccountCredentials, PostContent
from postiz_pipelines.providers.x import XProvider
from postiz_pipelines.sandbox import SandboxState, SandboxTransport, create_app
from postiz_pipelines.sandbox.x_text import count, url_spans
from postiz_pipelines_tests.providers.test_x_conformance import CLASSES
from postiz_pipelines_tests.providers.twitter_text_cases import url_cases, weighted_cases


@pytest.mark.parametrize(("text", "v3", "length", "valid"), weighted_cases())
def test_conformance_weighted_length(text: str, v3: bool, length: int, valid: bool) -> None:
    counted = count(text, emoji_sequences=v3)
    assert (counted.weighted_length, counted.valid) == (length, valid)


@pytest.mark.parametrize(("text", "urls"), url_cases())
def test_conformance_urls(text: str, urls: list[str]) -> None:
    assert [text[a:b] for a, b in url_spans(text)] == urls


def _tweet(state: SandboxState, text: str) -> httpx.Response:
    state.provision("x", "tok-alice", username="alice")

    async def go() -> httpx.Response:
        transport = SandboxTransport(create_app(state))
        async with httpx.AsyncClient(transport=transport) as http:
            return await http.post(
                "http://sandbox.test/x/2/tweets",
                json={"text": text},
                headers={"Authorization": "Bearer tok-alice"},
            )

    return asyncio.run(go())


@pytest.mark.parametrize(("piece", "weight"), CLASSES, ids=[c[0][:20] for c in CLASSES])
def test_the_emulator_takes_280_and_refuses_281_of_each_class(
    piece: str, weight: int, sandbox_state: SandboxState
) -> None:
    fits = piece + " " + "a" * (280 - weight - 1)
    assert _tweet(sandbox_state, fits).status_code == 201
    refused = _tweet(sandbox_state, fits + "b")
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["message"] == "Tweet text is too long."


def test_the_emulator_refuses_characters_x_refuses(sandbox_state: SandboxState) -> None:
    refused = _tweet(sandbox_state, "hello\ufeff")
    assert refused.status_code == 400
    assert "invalid characters" in refused.json()["errors"][0]["message"]


def test_provider_and_emulator_agree_through_publish(sandbox_state: SandboxState) -> None:
    """A scheme-less URL and a flag at exactly 280: validate() passes and the emulator takes
    it; one more letter and validate() refuses, and so does the emulator when sent anyway."""
    sandbox_state.provision("x", "tok-bob", username="bob")
    text = "t.co/x 🇯🇵 " + "a" * (280 - 23 - 2 - 2)
    provider = XProvider(None)
    assert provider.validate(PostContent(text)) == []
    assert [p.limit for p in provider.validate(PostContent(text + "a"))] == [280]

    async def send(body: str) -> None:
        async with httpx.AsyncClient(transport=SandboxTransport(create_app(sandbox_state))) as h:
            client = XProvider(h, base_url="http://sandbox.test/x")
            account = AccountCredentials("a1", "x", "bob", "", access_token=Secret("tok-bob"))
            await client.publish(account, PostContent(body), idempotency_key="k")

    asyncio.run(send(text))
    with pytest.raises(ContentRejected, match="too long"):
        asyncio.run(send(text + "a"))
    assert [p.text for p in sandbox_state.accepted("x")] == [text]
