"""Bluesky as the network does it: tag facets, ``langs`` (BCP-47, validated at creation,
defaulted from the account), unknown handles left as text; every record the emulator
accepted parses with the ``atproto`` SDK's own models, strictly."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from atproto_client import models
from atproto_client.models.utils import get_or_create

from postiz_pipelines.clock import FixedClock
from postiz_pipelines.errors import ContentRejected
from postiz_pipelines.providers.atproto import facet_slices, is_language_tag
from postiz_pipelines.providers.base import AccountCredentials, PostContent
from postiz_pipelines.providers.bluesky import BlueskyProvider
from postiz_pipelines.sandbox import SandboxState
from postiz_pipelines_tests.providers.test_bluesky import account, provider, publish

__all__ = ["account", "provider"]  # fixtures shared with test_bluesky


def sdk_record(record: dict) -> models.AppBskyFeedPost.Record:  # type: ignore[type-arg]
    """The record as the atproto SDK reads it (strict, string formats checked)."""
    parsed = get_or_create(
        record, models.AppBskyFeedPost.Record, strict=True, strict_string_format=True
    )
    assert isinstance(parsed, models.AppBskyFeedPost.Record)
    return parsed


@pytest.mark.parametrize(
    ("text", "tags"),
    [
        ("Frohe Weihnachten #Grüße 🎄 #2026 #a11y.", ["Grüße", "a11y"]),  # digits alone: no tag
        ("#日本語 と #テスト", ["日本語", "テスト"]),
        ("e-mail#nottag and (#nottag) but #yes!", ["yes"]),
        ("👩🏽‍💻 #dev https://example.com/#anchor", ["dev"]),
    ],
)
def test_hashtags_become_tag_facets_that_the_sdk_reads(
    provider: BlueskyProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    text: str,
    tags: list[str],
) -> None:
    publish(provider, account, PostContent(text))
    [post] = sandbox_state.accepted("bluesky")
    record = post.extra["record"]
    found = [f for _, f in facet_slices(text, record.get("facets", [])) if "tag" in f]
    assert [f["tag"] for f in found] == tags
    pieces = [p for p, f in facet_slices(text, record.get("facets", [])) if "tag" in f]
    assert pieces == [f"#{t}" for t in tags]  # byte offsets cut exactly "#tag"
    parsed = sdk_record(record)
    assert [f.features[0].tag for f in parsed.facets or [] if hasattr(f.features[0], "tag")] == tags


@pytest.mark.parametrize("lang", ["en_US", "en US", "e", "en-", "12", "en--US"])
def test_a_language_that_is_not_bcp47_is_refused_at_validation(lang: str) -> None:
    problems = BlueskyProvider(None).validate(PostContent("hi", settings={"langs": [lang]}))
    assert [(p.field, p.value) for p in problems] == [("bluesky.langs[0]", lang)]
    assert "BCP-47" in problems[0].message


@pytest.mark.parametrize(
    "lang", ["en", "pt-BR", "zh-Hant-TW", "de-CH-1996", "x-klingon", "sgn-BE-FR"]
)
def test_well_formed_languages_pass(lang: str) -> None:
    assert is_language_tag(lang)
    assert BlueskyProvider(None).validate(PostContent("hi", settings={"langs": [lang]})) == []


def test_the_emulator_refuses_a_bad_language_as_the_pds_does(
    provider: BlueskyProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    with pytest.raises(ContentRejected, match="Record/langs/0 must be a valid language code"):
        publish(provider, account, PostContent("hi", settings={"langs": ["en_US"]}))
    assert sandbox_state.accepted("bluesky") == []


def test_langs_default_to_the_accounts_language(
    provider: BlueskyProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    account.language = "de-AT"  # the core fills it: the account's, else the workspace's
    publish(provider, account, PostContent("Servus 👋"), key="one")
    publish(provider, account, PostContent("Hello", settings={"langs": ["en"]}), key="two")
    records = [p.extra["record"] for p in sandbox_state.accepted("bluesky")]
    assert [r["langs"] for r in records] == [["de-AT"], ["en"]]
    assert [sdk_record(r).langs for r in records] == [["de-AT"], ["en"]]
    account.language = "de_AT"
    assert [p.field for p in provider.validate(PostContent("x"), account)] == ["bluesky.langs[0]"]


def test_a_thread_with_mentions_links_and_tags_parses_with_the_sdk(
    provider: BlueskyProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    sandbox_state.provision("bluesky", "tok-bob", username="bob")
    content = PostContent(
        "Thread 🧵 with @bob.bsky.social #one",
        thread=("see example.com and https://example.org/a_(b) #two", "@nobody.bsky.social hi"),
        settings={"langs": ["en", "de"]},
    )
    publish(provider, account, content)
    records = [p.extra["record"] for p in sandbox_state.accepted("bluesky")]
    parsed = [sdk_record(r) for r in records]
    assert parsed[1].reply is not None and parsed[2].reply is not None
    assert parsed[2].reply.root.uri == parsed[1].reply.root.uri
    assert "facets" not in records[2]  # the unknown handle stays plain text
    kinds = [[type(f.features[0]).__name__ for f in p.facets or []] for p in parsed]
    assert kinds == [["Mention", "Tag"], ["Link", "Tag"], []]


def test_a_handle_the_network_does_not_know_is_not_resolved(
    sandbox_http: httpx.AsyncClient, sandbox_url: str, clock: FixedClock
) -> None:
    response = asyncio.run(
        sandbox_http.get(
            f"{sandbox_url}/bluesky/xrpc/com.atproto.identity.resolveHandle",
            params={"handle": "someone.bsky.social"},
        )
    )
    assert (response.status_code, response.json()["message"]) == (400, "Unable to resolve handle")
