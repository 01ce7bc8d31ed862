"""The Instagram emulator through HTTP: containers and their status, carousels, publishing,
the daily publishing limit, reading media back, and token refresh."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from postiz_pipelines.clock import FixedClock
from postiz_pipelines.sandbox import SandboxState

V = "/instagram/v24.0"
TOKEN = "IGAA-user-token"
JPEG = "https://cdn.example/photo.jpg"
MP4 = "https://cdn.example/clip.mp4"


def call(
    client: httpx.AsyncClient, method: str, path: str, token: str | None = TOKEN, **kw: Any
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return asyncio.run(client.request(method, path, headers=headers, **kw))


def error(response: httpx.Response) -> tuple[int, int, int | None]:
    body = response.json()["error"]
    return response.status_code, body["code"], body.get("error_subcode")


@pytest.fixture
def user(sandbox_state: SandboxState) -> str:
    return sandbox_state.provision("instagram", TOKEN, username="brand").id


def container(client: httpx.AsyncClient, user: str, **fields: str) -> httpx.Response:
    return call(client, "POST", f"{V}/{user}/media", data=fields)


def status(client: httpx.AsyncClient, container_id: str) -> dict[str, Any]:
    return call(
        client, "GET", f"{V}/{container_id}", params={"fields": "status_code,status"}
    ).json()


def publish(client: httpx.AsyncClient, user: str, creation_id: str) -> httpx.Response:
    return call(client, "POST", f"{V}/{user}/media_publish", data={"creation_id": creation_id})


# -- single posts ------------------------------------------------------------------------


def test_an_image_is_ready_at_once_and_published(
    sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState, user: str
) -> None:
    created = container(sandbox_client, user, image_url=JPEG, caption="Hello #sandbox")
    container_id = created.json()["id"]
    assert status(sandbox_client, container_id) == {
        "id": container_id,
        "status_code": "FINISHED",
        "status": "Finished: Media has been uploaded and it is ready to be published.",
    }
    media_id = publish(sandbox_client, user, container_id).json()["id"]
    [post] = sandbox_state.accepted("instagram")
    assert (post.remote_id, post.text, post.handle) == (media_id, "Hello #sandbox", "brand")
    assert [m.filename for m in post.media] == [JPEG]
    assert status(sandbox_client, container_id)["status_code"] == "PUBLISHED"
    read = call(
        sandbox_client,
        "GET",
        f"{V}/{media_id}",
        params={"fields": "caption,media_type,permalink,timestamp"},
    ).json()
    assert read["caption"] == "Hello #sandbox"
    assert read["media_type"] == "IMAGE"
    assert read["permalink"].startswith("http://sandbox.test/instagram/p/")
    assert read["timestamp"] == "2026-11-28T12:00:00+0000"
    again = publish(sandbox_client, user, container_id)
    assert error(again) == (400, 24, 2207006)


def test_a_reel_processes_before_it_can_be_published(
    sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState, user: str
) -> None:
    container_id = container(sandbox_client, user, media_type="REELS", video_url=MP4).json()["id"]
    not_ready = publish(sandbox_client, user, container_id)
    assert error(not_ready) == (400, 9007, 2207027)
    codes = [status(sandbox_client, container_id)["status_code"] for _ in range(3)]
    assert codes == ["IN_PROGRESS", "IN_PROGRESS", "FINISHED"]
    assert publish(sandbox_client, user, container_id).status_code == 200
    assert sandbox_state.accepted("instagram")[0].extra["media_type"] == "REELS"


def test_a_video_in_a_format_instagram_refuses_ends_in_error(
    sandbox_client: httpx.AsyncClient, user: str
) -> None:
    container_id = container(
        sandbox_client, user, media_type="REELS", video_url="https://cdn.example/clip.webm"
    ).json()["id"]
    seen = [status(sandbox_client, container_id) for _ in range(3)]
    assert seen[-1] == {
        "id": container_id,
        "status_code": "ERROR",
        "status": "Error: Media upload has failed with error code 2207026",
    }
    assert error(publish(sandbox_client, user, container_id)) == (400, 352, 2207026)


def test_container_validation(sandbox_client: httpx.AsyncClient, user: str) -> None:
    assert error(container(sandbox_client, user, image_url=JPEG, caption="x" * 2201)) == (
        400,
        100,
        2207010,
    )
    tags = " ".join(f"#t{i}" for i in range(31))
    assert error(container(sandbox_client, user, image_url=JPEG, caption=tags)) == (
        400,
        100,
        2207010,
    )
    assert container(sandbox_client, user, image_url=JPEG, caption="é" * 2200).status_code == 200
    png = container(sandbox_client, user, image_url="https://cdn.example/a.png")
    assert error(png) == (400, 36001, 2207005)
    unreachable = container(sandbox_client, user, image_url="https://cdn.invalid/a.jpg")
    assert error(unreachable) == (400, 9004, 2207052)
    assert "could not be fetched" in unreachable.json()["error"]["error_user_msg"]
    assert error(container(sandbox_client, user, media_type="VIDEO", video_url=MP4)) == (
        400,
        100,
        None,
    )
    assert error(container(sandbox_client, user, caption="no media")) == (400, 100, None)
    elsewhere = call(sandbox_client, "POST", f"{V}/999/media", data={"image_url": JPEG})
    assert error(elsewhere) == (400, 100, 33)


def test_a_container_expires_after_a_day(
    sandbox_client: httpx.AsyncClient, user: str, clock: FixedClock
) -> None:
    container_id = container(sandbox_client, user, image_url=JPEG).json()["id"]
    clock.advance(24 * 3600)
    assert status(sandbox_client, container_id)["status_code"] == "EXPIRED"
    assert error(publish(sandbox_client, user, container_id)) == (400, -2, 2207020)


# -- carousels ---------------------------------------------------------------------------


def test_a_carousel_publishes_its_children_as_one_post(
    sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState, user: str
) -> None:
    image = container(sandbox_client, user, image_url=JPEG, is_carousel_item="true").json()["id"]
    video = container(
        sandbox_client, user, media_type="VIDEO", video_url=MP4, is_carousel_item="true"
    ).json()["id"]
    early = container(sandbox_client, user, media_type="CAROUSEL", children=f"{image},{video}")
    assert error(early) == (400, 9007, 2207027)
    assert [status(sandbox_client, video)["status_code"] for _ in range(2)] == ["IN_PROGRESS"] * 2
    assert status(sandbox_client, video)["status_code"] == "FINISHED"
    parent = container(
        sandbox_client, user, media_type="CAROUSEL", children=f"{image},{video}", caption="both"
    ).json()["id"]
    assert error(publish(sandbox_client, user, image)) == (400, 24, 2207006)
    assert publish(sandbox_client, user, parent).status_code == 200
    [post] = sandbox_state.accepted("instagram")
    assert (post.text, [m.filename for m in post.media]) == ("both", [JPEG, MP4])
    assert status(sandbox_client, parent)["status_code"] == "PUBLISHED"


def test_a_carousel_needs_two_to_ten_carousel_items(
    sandbox_client: httpx.AsyncClient, user: str
) -> None:
    item = container(sandbox_client, user, image_url=JPEG, is_carousel_item="true").json()["id"]
    single = container(sandbox_client, user, image_url=JPEG).json()["id"]
    assert error(container(sandbox_client, user, media_type="CAROUSEL", children=item)) == (
        400,
        100,
        2207028,
    )
    not_items = container(sandbox_client, user, media_type="CAROUSEL", children=f"{item},{single}")
    assert error(not_items) == (400, 100, 2207028)
    eleven = ",".join([item] * 11)
    assert error(container(sandbox_client, user, media_type="CAROUSEL", children=eleven)) == (
        400,
        100,
        2207028,
    )


# -- the publishing limit ----------------------------------------------------------------


def test_the_daily_publishing_limit_counts_posts_and_resets_at_midnight(
    sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState, user: str, clock: FixedClock
) -> None:
    sandbox_state.override_rate_limit("instagram", "publish", limit=2, per_seconds=86_400)
    for _ in range(2):
        assert (
            publish(
                sandbox_client, user, container(sandbox_client, user, image_url=JPEG).json()["id"]
            ).status_code
            == 200
        )
    third = container(sandbox_client, user, image_url=JPEG).json()["id"]
    refused = publish(sandbox_client, user, third)
    assert error(refused) == (400, 9, 2207042)
    assert "maximum number of posts" in refused.json()["error"]["error_user_msg"]
    limit = call(sandbox_client, "GET", f"{V}/{user}/content_publishing_limit").json()
    assert limit == {
        "data": [{"quota_usage": 2, "config": {"quota_total": 2, "quota_duration": 86400}}]
    }
    clock.advance(12 * 3600)
    assert publish(sandbox_client, user, third).status_code == 200


def test_the_media_edge_lists_newest_first_with_paging(
    sandbox_client: httpx.AsyncClient, user: str
) -> None:
    ids = []
    for i in range(3):
        created = container(sandbox_client, user, image_url=JPEG, caption=f"post {i}").json()["id"]
        ids.append(publish(sandbox_client, user, created).json()["id"])
    first = call(
        sandbox_client, "GET", f"{V}/{user}/media", params={"fields": "caption", "limit": "2"}
    ).json()
    assert first["data"] == [
        {"id": ids[2], "caption": "post 2"},
        {"id": ids[1], "caption": "post 1"},
    ]
    after = first["paging"]["cursors"]["after"]
    rest = call(
        sandbox_client, "GET", f"{V}/{user}/media", params={"fields": "caption", "after": after}
    ).json()
    assert rest["data"] == [{"id": ids[0], "caption": "post 0"}]


# -- tokens ------------------------------------------------------------------------------


def refresh(
    client: httpx.AsyncClient, token: str, grant: str = "ig_refresh_token"
) -> httpx.Response:
    return asyncio.run(
        client.get(
            "/instagram/refresh_access_token",
            params={"grant_type": grant, "access_token": token},
        )
    )


def test_refresh_issues_a_60_day_token_for_the_same_account(
    sandbox_client: httpx.AsyncClient, user: str, clock: FixedClock
) -> None:
    answer = refresh(sandbox_client, TOKEN)
    body = answer.json()
    assert (body["token_type"], body["expires_in"]) == ("bearer", 5_183_944)
    new = body["access_token"]
    assert new != TOKEN
    assert call(sandbox_client, "GET", f"{V}/me", token=new).json()["id"] == user
    assert call(sandbox_client, "GET", f"{V}/me", token=TOKEN).json()["id"] == user
    clock.advance(5_183_944)
    lapsed = call(sandbox_client, "GET", f"{V}/me", token=new)
    assert error(lapsed) == (400, 190, 463)
    assert error(refresh(sandbox_client, new)) == (400, 190, 463)


def test_refresh_refuses_an_expired_token_and_a_wrong_grant(
    sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState, user: str
) -> None:
    assert error(refresh(sandbox_client, TOKEN, grant="fb_exchange_token")) == (400, 100, None)
    sandbox_state.expire_token("instagram", TOKEN)
    assert error(refresh(sandbox_client, TOKEN)) == (400, 190, 463)
