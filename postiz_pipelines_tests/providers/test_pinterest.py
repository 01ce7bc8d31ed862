"""PinterestProvider against the sandbox: image pins by URL and by base64, video pins through
media registration, boards and sections, limits at creation, rate-limit headers, refresh,
every error class, and the lookup by the pin's note."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import httpx
import pytest

from postiz_pipelines.clock import FixedClock
from postiz_pipelines.crypto import Secret
from postiz_pipelines.errors import (
    AuthExpired,
    AuthRevoked,
    ContentRejected,
    MediaRejected,
    OutcomeUnknown,
    ProviderError,
    RateLimited,
)
from postiz_pipelines.providers.base import (
    AccountCredentials,
    IdempotencyMode,
    MediaFile,
    PostContent,
    PublishResult,
)
from postiz_pipelines.providers.pinterest import PinterestProvider, note_marker
from postiz_pipelines.sandbox import FaultSpec, SandboxState
from postiz_pipelines.sandbox.oauth2 import give_refresh_token
from postiz_pipelines.sandbox.pinterest import board_id, pinterest_world, section_id

TOKEN = "pina_sandbox-alice"
PINS = "POST /v5/pins"


@pytest.fixture
def account(sandbox_state: SandboxState) -> AccountCredentials:
    user = sandbox_state.provision("pinterest", TOKEN, username="alice")
    return AccountCredentials(
        "acc_p",
        "pinterest",
        "alice",
        user.id,
        Secret(TOKEN),
        refresh_token=Secret("pinr.alice"),
        settings={"board_id": board_id(user)},
    )


@pytest.fixture
def provider(
    sandbox_http: httpx.AsyncClient, sandbox_url: str, clock: FixedClock
) -> PinterestProvider:
    return PinterestProvider(
        sandbox_http,
        base_url=f"{sandbox_url}/pinterest",
        client_id="1484",
        client_secret=Secret("pin-secret"),
        poll_interval=1,
        clock=clock,
    )


def content(text: str, *media: MediaFile, **settings: Any) -> PostContent:
    return PostContent(text, media=media, settings=settings)


def publish(
    provider: PinterestProvider, account: AccountCredentials, c: PostContent, key: str = "k1"
) -> PublishResult:
    return asyncio.run(provider.publish(account, c, idempotency_key=key))


def failure(
    provider: PinterestProvider,
    account: AccountCredentials,
    c: PostContent,
    kind: type[ProviderError],
) -> ProviderError:
    with pytest.raises(kind) as caught:
        publish(provider, account, c)
    assert caught.value.platform == "pinterest" and TOKEN not in repr(caught.value)
    return caught.value


def test_capabilities() -> None:
    caps = PinterestProvider.capabilities
    assert (caps.text_limit, caps.media.max_items) == (500, 1)
    assert caps.idempotency is IdempotencyMode.LOOKUP and caps.media.requires_media


def test_an_image_pin_by_base64_with_title_link_alt_text_and_section(
    provider: PinterestProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    image_file: Callable[..., MediaFile],
) -> None:
    user = sandbox_state.account("pinterest", account.external_id)
    assert user is not None
    c = content(
        "Herbst im Wald 🍂",
        image_file("a.png", 600, 900, alt_text="Laub"),
        title="Autumn",
        link="https://example.org/herbst",
        board_section_id=section_id(user),
    )
    result = publish(provider, account, c)
    [pin] = sandbox_state.accepted("pinterest")
    assert (pin.text, pin.extra["title"], pin.extra["link"]) == (
        "Herbst im Wald 🍂",
        "Autumn",
        "https://example.org/herbst",
    )
    assert (pin.extra["alt_text"], pin.extra["source_type"]) == ("Laub", "image_base64")
    assert pin.extra["media_bytes"] > 0 and pin.extra["board_section_id"] == section_id(user)
    assert pin.extra["note"] == note_marker("k1")
    assert pin.extra["visible_to_creator_only"] is True  # Trial access
    assert result.url == f"https://www.pinterest.com/pin/{pin.remote_id}/"


def test_an_image_we_serve_goes_by_url(
    provider: PinterestProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    image_file: Callable[..., MediaFile],
) -> None:
    image = replace(image_file(), public_url="https://posts.example/m/abc?sig=1")
    publish(provider, account, content("by url", image))
    assert sandbox_state.accepted("pinterest")[0].extra["source_type"] == "image_url"


def test_a_video_pin_is_registered_uploaded_and_polled(
    provider: PinterestProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    video_file: Callable[..., MediaFile],
) -> None:
    publish(provider, account, content("a clip", video_file()))
    [pin] = sandbox_state.accepted("pinterest")
    assert (pin.extra["media_type"], pin.extra["source_type"]) == ("video", "video_id")
    assert pin.extra["media_bytes"] == video_file().size_bytes
    counts = sandbox_state.request_counts("pinterest")
    assert counts["POST /v5/media"] == 1 and counts["POST /media-upload/{media_id}"] == 1
    assert counts["GET /v5/media/{media_id}"] == 3  # processing, processing, succeeded


def test_a_video_that_fails_processing_is_media_rejected(
    provider: PinterestProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    video_file: Callable[..., MediaFile],
) -> None:
    pinterest_world(sandbox_state).fail_media = True
    assert failure(provider, account, content("x", video_file()), MediaRejected).code == "failed"
    assert sandbox_state.accepted("pinterest") == []


def test_limits_and_boards_at_creation(
    provider: PinterestProvider, account: AccountCredentials, image_file: Callable[..., MediaFile]
) -> None:
    img = image_file(alt_text="a" * 501)
    problems = {
        p.field: p.message
        for p in provider.validate(
            content("d" * 501, img, title="t" * 101, link="ftp://x"), account
        )
    }
    assert problems["pinterest.text"] == "text is 501 characters, limit 500"
    assert problems["pinterest.title"] == "title is 101 characters, limit 100"
    assert problems["pinterest.link"] == "must be an http or https URL"
    assert problems["pinterest.media[0].alt_text"] == "alt text is 501 characters, limit 500"
    account.settings["boards"] = [{"id": "1", "name": "Recipes"}]
    [bad] = provider.validate(content("x", image_file(), board_id="2"), account)
    assert bad.message == "not one of the account's boards: 1 (Recipes)"
    del account.settings["board_id"]
    assert "pinterest.board_id" in {
        p.field for p in provider.validate(content("x", image_file()), account)
    }
    assert "pinterest.media" in {p.field for p in provider.validate(content("no image"), account)}


def test_boards_are_listed(provider: PinterestProvider, account: AccountCredentials) -> None:
    [board] = asyncio.run(provider.list_boards(account))
    assert board == {"id": account.settings["board_id"], "name": "Inspiration"}


def test_rate_limit_headers_and_429(
    provider: PinterestProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    image_file: Callable[..., MediaFile],
) -> None:
    sandbox_state.override_rate_limit("pinterest", "calls", limit=1, per_seconds=86400)
    publish(provider, account, content("one", image_file()))
    error = failure(provider, account, content("two", image_file()), RateLimited)
    assert error.status == 429 and error.retry_after == pytest.approx(12 * 3600)  # type: ignore[attr-defined]


def test_errors(
    provider: PinterestProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    image_file: Callable[..., MediaFile],
) -> None:
    assert (
        failure(
            provider, account, content("x", image_file(), board_id="999"), ContentRejected
        ).status
        == 404
    )
    sandbox_state.faults.set("pinterest", FaultSpec(drops=1, endpoints=frozenset({PINS})))
    failure(provider, account, content("dropped", image_file()), OutcomeUnknown)
    sandbox_state.expire_token("pinterest", TOKEN)
    assert failure(provider, account, content("x", image_file()), AuthExpired).status == 401


def test_refresh_keeps_the_refresh_token(
    provider: PinterestProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    image_file: Callable[..., MediaFile],
) -> None:
    give_refresh_token(sandbox_state, "pinterest", account.external_id, "pinr.alice")
    tokens = asyncio.run(provider.refresh(account))
    assert tokens.refresh_token is None and tokens.expires_at is not None
    account.access_token = tokens.access_token
    publish(provider, account, content("after", image_file()))
    account.refresh_token = Secret("pinr.unknown")
    with pytest.raises(AuthRevoked):
        asyncio.run(provider.refresh(account))


def test_an_accepted_pin_whose_answer_was_lost_is_found_by_its_note(
    provider: PinterestProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    image_file: Callable[..., MediaFile],
    clock: FixedClock,
) -> None:
    sandbox_state.faults.set("pinterest", FaultSpec(drops=1, endpoints=frozenset({PINS})))
    failure(provider, account, content("lost", image_file()), OutcomeUnknown)
    found = asyncio.run(
        provider.find_recent(account, since=clock.now(), text="lost", idempotency_key="k1")
    )
    assert found is not None and found.remote_id == sandbox_state.accepted("pinterest")[0].remote_id
    assert (
        asyncio.run(
            provider.find_recent(account, since=clock.now(), text="lost", idempotency_key="k2")
        )
        is None
    )
