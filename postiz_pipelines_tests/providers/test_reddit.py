"""RedditProvider against the sandbox: text, link and image submissions (the asset lease),
subreddit requirements and flairs, NSFW and spoiler, the User-Agent, X-Ratelimit headers,
the JSON error arrays, refresh for web and script apps, and the lookup of submissions."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from postiz_pipelines.clock import FixedClock
from postiz_pipelines.core.publishing import throttle
from postiz_pipelines.crypto import Secret
from postiz_pipelines.errors import (
    AuthExpired,
    AuthRevoked,
    ContentRejected,
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
from postiz_pipelines.providers.reddit import RedditProvider
from postiz_pipelines.sandbox import FaultSpec, SandboxState, SandboxTransport
from postiz_pipelines.sandbox.oauth2 import give_refresh_token
from postiz_pipelines.sandbox.reddit import reddit_world

TOKEN = "eyJ-sandbox-reddit-alice"
AGENT = "python:postiz-tests:1.0 (by /u/alice)"
SUBMIT = "POST /api/submit"


@pytest.fixture
def account(sandbox_state: SandboxState) -> AccountCredentials:
    user = sandbox_state.provision("reddit", TOKEN, username="alice")
    return AccountCredentials(
        "acc_r", "reddit", "alice", user.id, Secret(TOKEN), refresh_token=Secret("rr.alice")
    )


@pytest.fixture
def provider(
    sandbox_http: httpx.AsyncClient, sandbox_url: str, clock: FixedClock
) -> RedditProvider:
    return RedditProvider(
        sandbox_http,
        base_url=f"{sandbox_url}/reddit",
        client_id="cid",
        client_secret=Secret("csecret"),
        user_agent=AGENT,
        clock=clock,
    )


def content(text: str, *media: MediaFile, **settings: Any) -> PostContent:
    return PostContent(text, media=media, settings={"subreddit": "test", **settings})


def publish(provider: RedditProvider, account: AccountCredentials, c: PostContent) -> PublishResult:
    return asyncio.run(provider.publish(account, c, idempotency_key="k"))


def failure(
    provider: RedditProvider, account: AccountCredentials, c: PostContent, kind: type[ProviderError]
) -> ProviderError:
    with pytest.raises(kind) as caught:
        publish(provider, account, c)
    assert caught.value.platform == "reddit" and TOKEN not in repr(caught.value)
    return caught.value


def test_capabilities() -> None:
    caps = RedditProvider.capabilities
    assert (caps.text_limit, caps.media.max_items, caps.media.max_videos) == (40_000, 1, 0)
    assert caps.idempotency is IdempotencyMode.LOOKUP


def test_a_text_post_with_flair_nsfw_and_spoiler_and_our_user_agent(
    provider: RedditProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    c = content(
        "Grüße aus Köln 🎉\nThe body, second line.",
        flair_id="f-news",
        nsfw=True,
        spoiler="yes",
        subreddit="r/test",
    )
    result = publish(provider, account, c)
    [post] = sandbox_state.accepted("reddit")
    assert (post.extra["kind"], post.extra["title"], post.extra["sr"]) == (
        "self",
        "Grüße aus Köln 🎉",
        "test",
    )
    assert post.text.endswith("second line.")
    assert (post.extra["flair_id"], post.extra["nsfw"], post.extra["spoiler"]) == (
        "f-news",
        True,
        True,
    )
    assert post.extra["user_agent"] == AGENT
    assert result.remote_id == post.remote_id and result.remote_id.startswith("t3_")
    assert result.url == f"https://www.reddit.com{post.extra['permalink']}"


def test_a_link_post_and_the_same_link_again(
    provider: RedditProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    c = content("Read this", url="https://example.org/launch", title="Launch day")
    publish(provider, account, c)
    [post] = sandbox_state.accepted("reddit")
    assert (post.extra["kind"], post.extra["url"]) == ("link", "https://example.org/launch")
    assert failure(provider, account, c, ContentRejected).code == "ALREADY_SUB"


def test_an_image_goes_through_the_asset_lease_then_is_read_back(
    provider: RedditProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    image_file: Callable[..., MediaFile],
) -> None:
    result = publish(provider, account, content("A picture", image_file(), subreddit="pics"))
    [post] = sandbox_state.accepted("reddit")
    assert post.extra["kind"] == "image" and post.extra["url"].startswith("https://i.redd.it/")
    assert len(reddit_world(sandbox_state).uploaded) == 1
    assert result.remote_id == post.remote_id  # found through /user/alice/submitted
    counts = sandbox_state.request_counts("reddit")
    assert counts["POST /api/media/asset.json"] == 1 and counts["POST /media-upload"] == 1
    assert counts["GET /user/{name}/submitted"] == 1


def test_subreddit_requirements_refuse_before_submitting_and_at_creation(
    provider: RedditProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    ask = content("Why is the sky blue?", subreddit="AskReddit")
    error = failure(provider, account, ask, ContentRejected)
    assert (
        error.code == "post_requirements"
        and "needs a flair: f-q (Question), f-d (Discussion)" in error.message
    )
    assert sandbox_state.request_count("reddit", SUBMIT) == 0
    rules = asyncio.run(provider.subreddit_rules(account, "AskReddit"))
    account.settings["subreddit_rules"] = {"AskReddit": rules}
    short = {
        p.field: p.message
        for p in provider.validate(content("Why?", subreddit="AskReddit", flair_id="f-x"), account)
    }
    assert short["reddit.title"] == "title is 4 characters; this subreddit takes 10 to 300"
    assert short["reddit.flair_id"] == "not one of the subreddit's flairs"
    publish(
        provider, account, content("Why is the sky blue?", subreddit="AskReddit", flair_id="f-q")
    )
    assert sandbox_state.accepted("reddit")[0].extra["flair_id"] == "f-q"


def test_limits_at_creation(
    provider: RedditProvider, account: AccountCredentials, image_file: Callable[..., MediaFile]
) -> None:
    problems = {
        p.field: p.message for p in provider.validate(PostContent("x" * 301, settings={}), account)
    }
    assert problems["reddit.title"] == "title is 301 characters, limit 300"
    assert "reddit.subreddit" in problems
    both = {
        p.field
        for p in provider.validate(content("t", image_file(), url="https://x.example"), account)
    }
    assert "reddit.url" in both
    assert {p.field for p in provider.validate(content("t", url="ftp://x"), account)} == {
        "reddit.url"
    }


def test_the_json_error_arrays(
    provider: RedditProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    assert (
        failure(provider, account, content("t", subreddit="nowhere"), ContentRejected).code
        == "SUBREDDIT_NOEXIST"
    )
    reddit_world(sandbox_state).subreddits["pics"].kinds = frozenset({"image"})
    rules = reddit_world(sandbox_state).subreddits
    rules["linksonly"] = type(rules["pics"])("linksonly", kinds=frozenset({"link"}))
    assert (
        failure(
            provider, account, content("a text post", subreddit="linksonly"), ContentRejected
        ).code
        == "NO_SELFS"
    )
    reddit_world(sandbox_state).posts_per_hour = 1
    publish(provider, account, content("first"))
    error = failure(provider, account, content("second"), RateLimited)
    assert error.code == "RATELIMIT" and error.retry_after == 60 * 60  # type: ignore[attr-defined]


def test_x_ratelimit_headers_reach_the_throttle_hook(
    sandbox_app: Any,
    sandbox_url: str,
    clock: FixedClock,
    account: AccountCredentials,
    sandbox_state: SandboxState,
) -> None:
    sandbox_state.override_rate_limit("reddit", "api", limit=3, per_seconds=600)
    http = httpx.AsyncClient(
        transport=SandboxTransport(sandbox_app, timeout=1),
        event_hooks={"response": [throttle.record_rate_headers]},
    )
    provider = RedditProvider(http, base_url=f"{sandbox_url}/reddit", user_agent=AGENT, clock=clock)

    async def run() -> list[tuple[int, float | None]]:
        with throttle.observing_rate_headers(clock) as seen:
            await provider.publish(account, content("counted"), idempotency_key="k")
        return seen

    seen = asyncio.run(run())
    assert [remaining for remaining, _ in seen] == [2, 1, 0]  # requirements, flairs, submit
    assert seen[-1] == (0, 600.0)  # the window's last call: the engine defers the account
    assert throttle.exhausted_until(seen, now=clock.now()) is not None


def test_http_errors(
    provider: RedditProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    sandbox_state.faults.set("reddit", FaultSpec(drops=1, endpoints=frozenset({SUBMIT})))
    failure(provider, account, content("dropped"), OutcomeUnknown)
    sandbox_state.set_disabled("reddit", TOKEN)
    assert failure(provider, account, content("x"), AuthRevoked).status == 403
    sandbox_state.set_disabled("reddit", TOKEN, False)
    sandbox_state.expire_token("reddit", TOKEN)
    assert failure(provider, account, content("x"), AuthExpired).status == 401


def test_a_generic_user_agent_is_refused(
    sandbox_http: httpx.AsyncClient, sandbox_url: str, account: AccountCredentials
) -> None:
    generic = RedditProvider(
        sandbox_http, base_url=f"{sandbox_url}/reddit", user_agent="python-httpx/0.28"
    )
    with pytest.raises(RateLimited):
        asyncio.run(generic.publish(account, content("x"), idempotency_key="k"))


def test_refresh_web_and_script_apps(
    provider: RedditProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    give_refresh_token(sandbox_state, "reddit", account.external_id, "rr.alice")
    tokens = asyncio.run(provider.refresh(account))
    assert tokens.refresh_token is None  # permanent: the same one stays
    again = asyncio.run(provider.refresh(account))
    assert again.access_token.reveal() != tokens.access_token.reveal()
    account.access_token = again.access_token
    publish(provider, account, content("web app"))
    account.refresh_token = Secret("rr.revoked")
    with pytest.raises(AuthRevoked) as caught:
        asyncio.run(provider.refresh(account))
    assert caught.value.code == "invalid_grant"
    script = AccountCredentials(
        "acc_s",
        "reddit",
        "bot",
        "",
        Secret("x"),
        refresh_token=Secret("hunter2"),
        settings={"app_type": "script"},
    )
    tokens = asyncio.run(provider.refresh(script))
    script.access_token = tokens.access_token
    publish(provider, script, content("from a script"))
    assert sandbox_state.accepted("reddit")[-1].handle != "alice"


def test_the_lookup_finds_an_accepted_submission_whose_answer_was_lost(
    provider: RedditProvider,
    account: AccountCredentials,
    sandbox_state: SandboxState,
    clock: FixedClock,
) -> None:
    sandbox_state.faults.set("reddit", FaultSpec(drops=1, endpoints=frozenset({SUBMIT})))
    failure(provider, account, content("Lost answer\nbody"), OutcomeUnknown)
    found = asyncio.run(
        provider.find_recent(
            account, since=clock.now(), text="Lost answer\nbody", idempotency_key="k"
        )
    )
    assert found is not None and found.remote_id == sandbox_state.accepted("reddit")[0].remote_id
    assert (
        asyncio.run(
            provider.find_recent(account, since=clock.now(), text="Other", idempotency_key="k")
        )
        is None
    )


def test_a_try_after_a_lost_answer_finds_the_post_by_what_it_saved(
    provider: RedditProvider, account: AccountCredentials, sandbox_state: SandboxState
) -> None:
    """A link post with a title of its own: the engine's text lookup cannot see it, but the
    next try reads the submission the first one saved it was making, and does not resubmit."""
    saved: dict[str, Any] = {}

    async def sink(progress: Any) -> None:
        saved.update(progress)

    c = PostContent(
        "See the link",
        settings={"subreddit": "test", "url": "https://example.org/x", "title": "Our own title"},
        save_progress=sink,
    )
    sandbox_state.faults.set("reddit", FaultSpec(drops=1, endpoints=frozenset({SUBMIT})))
    failure(provider, account, c, OutcomeUnknown)
    assert saved["submitting"]["title"] == "Our own title"
    again = PostContent(c.text, settings=c.settings, progress=dict(saved), save_progress=sink)
    result = publish(provider, account, again)
    [post] = sandbox_state.accepted("reddit")
    assert result.remote_id == post.remote_id
    assert sandbox_state.request_count("reddit", SUBMIT) == 1
