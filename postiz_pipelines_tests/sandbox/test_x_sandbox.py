"""The X emulator through HTTP: the OAuth 2.0 token endpoint, auth failures, posts and
their checks, simple and chunked media with status polling, rate limits, and tweepy over
real TCP."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from postiz_pipelines.clock import FixedClock
from postiz_pipelines.sandbox import SandboxState

X = "/x"
MP4 = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 500
Client = httpx.AsyncClient


def call(
    client: Client, method: str, path: str, token: str | None = None, **kw: Any
) -> httpx.Response:
    headers = dict(kw.pop("headers", {}))
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return asyncio.run(client.request(method, X + path, headers=headers, **kw))


def grant(client: Client, **fields: str) -> httpx.Response:
    return call(client, "POST", "/2/oauth2/token", data={"client_id": "cid", **fields})


def exchange(client: Client, code: str = "c1") -> dict[str, Any]:
    response = grant(
        client,
        grant_type="authorization_code",
        code=code,
        redirect_uri="https://a/cb",
        code_verifier="v" * 43,
    )
    assert response.status_code == 200, response.text
    return response.json()


def tweet(client: Client, token: str, **body: Any) -> httpx.Response:
    return call(client, "POST", "/2/tweets", token, json=body)


def upload_image(client: Client, token: str, data: bytes, **fields: str) -> httpx.Response:
    return call(
        client,
        "POST",
        "/2/media/upload",
        token,
        files={"media": ("a.png", data, "image/png")},
        data={"media_category": "tweet_image", **fields},
    )


def upload_video(client: Client, token: str, data: bytes = MP4, chunk: int = 200) -> str:
    init = call(
        client,
        "POST",
        "/2/media/upload/initialize",
        token,
        json={"media_type": "video/mp4", "total_bytes": len(data), "media_category": "tweet_video"},
    )
    assert init.status_code == 200, init.text
    media_id = init.json()["data"]["id"]
    for i, start in enumerate(range(0, len(data), chunk)):
        part = call(
            client,
            "POST",
            f"/2/media/upload/{media_id}/append",
            token,
            files={"media": ("blob", data[start : start + chunk], "application/octet-stream")},
            data={"segment_index": str(i)},
        )
        assert part.status_code == 200, part.text
    return media_id


def status(client: Client, token: str, media_id: str) -> httpx.Response:
    return call(
        client, "GET", "/2/media/upload", token, params={"command": "STATUS", "media_id": media_id}
    )


# -- OAuth 2.0 -------------------------------------------------------------------------


def test_a_code_is_exchanged_once_for_the_named_account(
    sandbox_client: Client, sandbox_state: SandboxState
) -> None:
    sandbox_state.provision("x", "code:c1", username="alice")
    tokens = exchange(sandbox_client)
    assert (tokens["token_type"], tokens["expires_in"]) == ("bearer", 7200)
    assert "offline.access" in tokens["scope"].split()
    me = call(sandbox_client, "GET", "/2/users/me", tokens["access_token"])
    assert me.json()["data"]["username"] == "alice"
    assert me.headers["x-rate-limit-limit"] == "75"
    again = grant(
        sandbox_client,
        grant_type="authorization_code",
        code="c1",
        redirect_uri="r",
        code_verifier="v",
    )
    assert again.json() == {
        "error": "invalid_request",
        "error_description": "Value passed for the authorization code was invalid.",
    }
    no_verifier = grant(
        sandbox_client, grant_type="authorization_code", code="c2", redirect_uri="r"
    )
    assert no_verifier.json()["error_description"] == "Missing required parameter [code_verifier]."
    no_client = call(
        sandbox_client, "POST", "/2/oauth2/token", data={"grant_type": "refresh_token"}
    )
    assert (no_client.status_code, no_client.json()["error"]) == (401, "unauthorized_client")
    other = grant(sandbox_client, grant_type="client_credentials")
    assert other.json()["error"] == "unsupported_grant_type"


def test_refresh_tokens_rotate_and_work_once(sandbox_client: Client) -> None:
    tokens = exchange(sandbox_client)
    basic = "Basic " + base64.b64encode(b"cid:secret").decode()
    fresh = call(
        sandbox_client,
        "POST",
        "/2/oauth2/token",
        headers={"Authorization": basic},
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
    )
    assert fresh.status_code == 200
    assert fresh.json()["refresh_token"] != tokens["refresh_token"]
    reused = grant(
        sandbox_client, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    )
    assert reused.json() == {
        "error": "invalid_request",
        "error_description": "Value passed for the token was invalid.",
    }
    access_as_refresh = grant(
        sandbox_client, grant_type="refresh_token", refresh_token=tokens["access_token"]
    )
    assert access_as_refresh.status_code == 400
    me = call(sandbox_client, "GET", "/2/users/me", fresh.json()["access_token"])
    first = call(sandbox_client, "GET", "/2/users/me", tokens["access_token"])  # still valid
    assert me.json()["data"]["id"] == first.json()["data"]["id"]


def test_auth_failures_are_401_problems_and_suspension_is_403(
    sandbox_client: Client, sandbox_state: SandboxState, clock: FixedClock
) -> None:
    tokens = exchange(sandbox_client)
    unauthorized = {
        "title": "Unauthorized",
        "detail": "Unauthorized",
        "type": "about:blank",
        "status": 401,
    }
    assert call(sandbox_client, "GET", "/2/users/me").json() == unauthorized
    as_access = call(sandbox_client, "GET", "/2/users/me", tokens["refresh_token"])
    assert as_access.status_code == 401
    sandbox_state.revoke_token("x", "tok-revoked")
    assert call(sandbox_client, "GET", "/2/users/me", "tok-revoked").status_code == 401
    oauth1 = {
        "Authorization": 'OAuth oauth_consumer_key="ck", oauth_token="1-abc", oauth_signature="x"'
    }
    assert call(sandbox_client, "GET", "/2/users/me", headers=oauth1).status_code == 200
    sandbox_state.set_disabled("x", "1-abc")
    suspended = call(sandbox_client, "GET", "/2/users/me", headers=oauth1)
    assert suspended.status_code == 403
    assert "suspended" in suspended.json()["detail"]
    clock.advance(7200)
    assert call(sandbox_client, "GET", "/2/users/me", tokens["access_token"]).json() == unauthorized
    fresh = exchange(sandbox_client, code="c2")
    sandbox_state.reset()
    assert call(sandbox_client, "GET", "/2/users/me", fresh["access_token"]).status_code == 401
    refreshed = grant(
        sandbox_client, grant_type="refresh_token", refresh_token=fresh["refresh_token"]
    )
    assert refreshed.status_code == 400


# -- posts -----------------------------------------------------------------------------


def test_a_post_and_a_reply(sandbox_client: Client, sandbox_state: SandboxState) -> None:
    created = tweet(sandbox_client, "tok-a", text="hello")
    assert created.status_code == 201
    data = created.json()["data"]
    assert data == {"id": data["id"], "text": "hello", "edit_history_tweet_ids": [data["id"]]}
    reply = tweet(sandbox_client, "tok-a", text="more", reply={"in_reply_to_tweet_id": data["id"]})
    assert reply.status_code == 201
    assert [p.reply_to for p in sandbox_state.accepted("x")] == [None, data["id"]]
    assert created.headers["x-rate-limit-limit"] == "100"
    assert created.headers["x-app-limit-24hour-limit"] == "10000"


def test_text_is_limited_to_280_weighted_characters(sandbox_client: Client) -> None:
    url = "https://example.com/" + "a" * 200
    assert tweet(sandbox_client, "t", text="x" * 280).status_code == 201
    assert tweet(sandbox_client, "t", text="あ" * 140).status_code == 201
    assert tweet(sandbox_client, "t", text="y" * 256 + " " + url).status_code == 201
    too_long = tweet(sandbox_client, "t", text="い" * 141)
    assert too_long.status_code == 400
    body = too_long.json()
    assert (body["title"], body["type"]) == (
        "Invalid Request",
        "https://api.twitter.com/2/problems/invalid-request",
    )
    assert body["errors"][0]["message"] == "Tweet text is too long."


def test_post_refusals(sandbox_client: Client, clock: FixedClock) -> None:
    assert tweet(sandbox_client, "t", text="  ").status_code == 400
    tweet(sandbox_client, "t", text="said once")
    duplicate = tweet(sandbox_client, "t", text="said once")
    assert duplicate.json() == {
        "title": "Forbidden",
        "detail": "You are not allowed to create a Tweet with duplicate content.",
        "type": "about:blank",
        "status": 403,
    }
    assert tweet(sandbox_client, "other", text="said once").status_code == 201
    clock.advance(24 * 3600)
    assert tweet(sandbox_client, "t", text="said once").status_code == 201
    lost = tweet(sandbox_client, "t", text="x", reply={"in_reply_to_tweet_id": "123"})
    assert (lost.status_code, lost.json()["detail"]) == (
        403,
        "You attempted to reply to a Tweet that is deleted or not visible to you.",
    )
    broken = call(
        sandbox_client,
        "POST",
        "/2/tweets",
        "t",
        content=b"{",
        headers={"Content-Type": "application/json"},
    )
    assert broken.status_code == 400


def test_the_user_window_and_the_apps_day(
    sandbox_client: Client, sandbox_state: SandboxState, clock: FixedClock
) -> None:
    sandbox_state.override_rate_limit("x", "tweets", limit=2, per_seconds=900)
    responses = [tweet(sandbox_client, "t", text=f"n{i}") for i in range(3)]
    assert [r.status_code for r in responses] == [201, 201, 429]
    assert [r.headers["x-rate-limit-remaining"] for r in responses] == ["1", "0", "0"]
    assert responses[2].json()["title"] == "Too Many Requests"
    assert responses[2].headers["x-rate-limit-reset"] == str(int(clock.now().timestamp()) + 900)
    assert responses[0].headers["x-app-limit-24hour-remaining"] == "9999"


def test_a_burst_of_429s_carries_the_reset(
    sandbox_client: Client, sandbox_state: SandboxState, clock: FixedClock
) -> None:
    sandbox_state.faults.set("x", burst_429=1, burst_reset_seconds=30)
    limited = tweet(sandbox_client, "t", text="x")
    assert (limited.status_code, limited.headers["x-rate-limit-remaining"]) == (429, "0")
    assert limited.headers["x-rate-limit-reset"] == str(int(clock.now().timestamp()) + 30)
    assert tweet(sandbox_client, "t", text="x").status_code == 201


# -- media -----------------------------------------------------------------------------


def test_images_are_uploaded_in_one_request_and_posted_four_at_most(
    sandbox_client: Client, sandbox_state: SandboxState, png: Callable[..., bytes]
) -> None:
    first = upload_image(sandbox_client, "t", png(10, 10))
    assert first.status_code == 200
    data = first.json()["data"]
    assert data["media_key"] == f"3_{data['id']}" and "processing_info" not in data
    alt = call(
        sandbox_client,
        "POST",
        "/2/media/metadata",
        "t",
        json={"id": data["id"], "metadata": {"alt_text": {"text": "ten by ten"}}},
    )
    assert alt.json()["data"]["associated_metadata"] == {"alt_text": {"text": "ten by ten"}}
    ids = [data["id"]] + [
        upload_image(sandbox_client, "t", png()).json()["data"]["id"] for _ in range(4)
    ]
    five = tweet(sandbox_client, "t", text="x", media={"media_ids": ids})
    assert five.status_code == 400
    four = tweet(sandbox_client, "t", text="x", media={"media_ids": ids[:4]})
    assert four.status_code == 201
    [post] = sandbox_state.accepted("x")
    assert post.media[0].description == "ten by ten"
    assert (
        upload_image(sandbox_client, "t", b"not an image").json()["errors"][0]["message"]
        == "media type unrecognized."
    )
    too_long = call(
        sandbox_client,
        "POST",
        "/2/media/metadata",
        "t",
        json={"id": data["id"], "metadata": {"alt_text": {"text": "a" * 1001}}},
    )
    assert too_long.status_code == 400


def test_a_video_is_chunked_finalized_polled_then_posted(
    sandbox_client: Client, sandbox_state: SandboxState, png: Callable[..., bytes]
) -> None:
    media_id = upload_video(sandbox_client, "t")
    early_status = status(sandbox_client, "t", media_id)
    assert early_status.status_code == 400  # not finalized yet
    final = call(sandbox_client, "POST", f"/2/media/upload/{media_id}/finalize", "t")
    assert final.json()["data"]["processing_info"] == {
        "state": "in_progress",
        "check_after_secs": 1,
        "progress_percent": 40,
    }
    assert final.json()["data"]["size"] == len(MP4)
    too_early = tweet(sandbox_client, "t", text="clip", media={"media_ids": [media_id]})
    assert too_early.json()["errors"][0]["message"] == "Your media IDs are invalid."
    polls = [
        status(sandbox_client, "t", media_id).json()["data"]["processing_info"]["state"]
        for _ in range(3)
    ]
    assert polls == ["in_progress", "in_progress", "succeeded"]
    image = upload_image(sandbox_client, "t", png()).json()["data"]["id"]
    mixed = tweet(sandbox_client, "t", text="clip", media={"media_ids": [media_id, image]})
    assert mixed.status_code == 400
    assert (
        tweet(
            sandbox_client, "someone-else", text="clip", media={"media_ids": [media_id]}
        ).status_code
        == 400
    )
    assert (
        tweet(sandbox_client, "t", text="clip", media={"media_ids": [media_id]}).status_code == 201
    )
    [post] = sandbox_state.accepted("x")
    assert post.extra["media_keys"] == [f"7_{media_id}"]


def test_chunked_upload_checks(sandbox_client: Client, clock: FixedClock) -> None:
    def init(**body: Any) -> httpx.Response:
        return call(sandbox_client, "POST", "/2/media/upload/initialize", "t", json=body)

    assert (
        init(media_type="video/avi", total_bytes=10, media_category="tweet_video").status_code
        == 400
    )
    too_big = init(media_type="image/gif", total_bytes=15 * 2**20 + 1, media_category="tweet_gif")
    assert too_big.json()["errors"][0]["message"] == f"File size exceeds {15 * 2**20} bytes."
    assert (
        init(media_type="video/mp4", total_bytes=0, media_category="tweet_video").status_code == 400
    )
    media_id = upload_video(sandbox_client, "t", data=MP4[:300])
    bad_index = call(
        sandbox_client,
        "POST",
        f"/2/media/upload/{media_id}/append",
        "t",
        files={"media": ("b", b"x", "application/octet-stream")},
        data={"segment_index": "1000"},
    )
    assert bad_index.json()["errors"][0]["message"] == "segment_index must be within 0..999"
    finalize = f"/2/media/upload/{media_id}/finalize"
    assert call(sandbox_client, "POST", finalize, "t").status_code == 200
    twice = call(sandbox_client, "POST", finalize, "t")
    assert twice.json()["errors"][0]["message"] == "The media has already been finalized."
    clock.advance(24 * 3600)
    expired = status(sandbox_client, "t", media_id)
    assert expired.json()["errors"][0]["message"] == "media_id not found"


def test_a_size_mismatch_refuses_to_finalize(sandbox_client: Client) -> None:
    init = call(
        sandbox_client,
        "POST",
        "/2/media/upload/initialize",
        "t",
        json={"media_type": "video/mp4", "total_bytes": 1000, "media_category": "tweet_video"},
    )
    media_id = init.json()["data"]["id"]
    call(
        sandbox_client,
        "POST",
        f"/2/media/upload/{media_id}/append",
        "t",
        files={"media": ("b", MP4[:400], "application/octet-stream")},
        data={"segment_index": "0"},
    )
    final = call(sandbox_client, "POST", f"/2/media/upload/{media_id}/finalize", "t")
    assert (
        final.json()["errors"][0]["message"]
        == "File size mismatch: expected 1000 bytes, received 400"
    )


def test_the_command_form_and_a_failed_processing(sandbox_client: Client) -> None:
    data = b"this is not a video" * 10
    init = call(
        sandbox_client,
        "POST",
        "/2/media/upload",
        "t",
        data={
            "command": "INIT",
            "media_type": "video/mp4",
            "total_bytes": str(len(data)),
            "media_category": "tweet_video",
        },
    )
    media_id = init.json()["data"]["id"]
    call(
        sandbox_client,
        "POST",
        "/2/media/upload",
        "t",
        files={"media": ("b", data, "application/octet-stream")},
        data={"command": "APPEND", "media_id": media_id, "segment_index": "0"},
    )
    final = call(
        sandbox_client,
        "POST",
        "/2/media/upload",
        "t",
        data={"command": "FINALIZE", "media_id": media_id},
    )
    assert final.json()["data"]["processing_info"]["state"] == "in_progress"
    last = [
        status(sandbox_client, "t", media_id).json()["data"]["processing_info"] for _ in range(3)
    ][-1]
    assert (last["state"], last["error"]["name"]) == ("failed", "InvalidMedia")


# -- tweepy over TCP -------------------------------------------------------------------


def test_tweepy_exchanges_refreshes_posts_and_sees_xs_errors() -> None:
    from urllib.parse import parse_qs, urlparse

    import tweepy
    from requests.adapters import HTTPAdapter

    from postiz_pipelines.sandbox.server import running_sandbox

    class ToSandbox(HTTPAdapter):
        """tweepy has no host setting: a requests adapter sends api.twitter.com to us."""

        def __init__(self, target: str) -> None:
            super().__init__()
            self.target = target

        def send(self, request: Any, **kwargs: Any) -> Any:  # type: ignore[override]
            request.url = self.target + request.url[len("https://api.twitter.com") :]
            return super().send(request, **kwargs)

    state = SandboxState()
    state.provision("x", "code:tweepy-code", username="alice")
    scopes = "tweet.read tweet.write users.read offline.access media.write".split()
    with running_sandbox(state=state) as url:
        handler = tweepy.OAuth2UserHandler(
            client_id="cid", redirect_uri="https://app.test/cb", scope=scopes
        )
        handler.mount("https://api.twitter.com/", ToSandbox(f"{url}/x"))
        # The authorization URL makes the PKCE verifier and the state the callback returns.
        state_param = parse_qs(urlparse(handler.get_authorization_url()).query)["state"][0]
        first = handler.fetch_token(f"https://app.test/cb?state={state_param}&code=tweepy-code")
        tokens = handler.refresh_token(
            "https://api.twitter.com/2/oauth2/token",
            refresh_token=first["refresh_token"],
            client_id="cid",
        )
        client = tweepy.Client(bearer_token=tokens["access_token"])
        client.session.mount("https://api.twitter.com/", ToSandbox(f"{url}/x"))
        me = client.get_me(user_auth=False)
        posted = client.create_tweet(text="hello from tweepy", user_auth=False)
        client.create_tweet(text="a reply", in_reply_to_tweet_id=posted.data["id"], user_auth=False)
        with pytest.raises(tweepy.Forbidden) as duplicate:
            client.create_tweet(text="hello from tweepy", user_auth=False)
        state.faults.set("x", burst_429=1, burst_reset_seconds=60)
        with pytest.raises(tweepy.TooManyRequests) as limited:
            client.create_tweet(text="later", user_auth=False)
    assert me.data.username == "alice"
    assert tokens["refresh_token"] != first["refresh_token"]
    assert duplicate.value.api_messages == [
        "You are not allowed to create a Tweet with duplicate content."
    ]
    assert limited.value.reset_time is not None
    assert [(p.text, p.reply_to) for p in state.accepted("x")] == [
        ("hello from tweepy", None),
        ("a reply", posted.data["id"]),
    ]
