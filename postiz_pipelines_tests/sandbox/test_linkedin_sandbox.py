"""The LinkedIn emulator through HTTP: version headers, Rest.li error bodies, the image and
video upload state machines, posts, duplicates, and the OAuth token endpoint."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from postiz_pipelines.clock import FixedClock
from postiz_pipelines.sandbox import SandboxState

L = "/linkedin"
VERSION = "202610"
ALICE = "tok-a"


def headers(
    token: str | None = ALICE, *, restli: bool = True, version: str | None = VERSION
) -> dict[str, str]:
    out: dict[str, str] = {}
    if token:
        out["Authorization"] = f"Bearer {token}"
    if version:
        out["LinkedIn-Version"] = version
    if restli:
        out["X-Restli-Protocol-Version"] = "2.0.0"
    return out


def call(client: httpx.AsyncClient, method: str, path: str, **kw: Any) -> httpx.Response:
    return asyncio.run(client.request(method, path if path.startswith("http") else L + path, **kw))


def person(state: SandboxState, token: str = ALICE) -> str:
    return f"urn:li:person:{state.authenticate('linkedin', token).account.id}"


def post_body(author: str, commentary: str = "hello", **extra: Any) -> dict[str, Any]:
    return {
        "author": author,
        "commentary": commentary,
        "visibility": "PUBLIC",
        "distribution": {"feedDistribution": "MAIN_FEED"},
        "lifecycleState": "PUBLISHED",
        **extra,
    }


def create_post(client: httpx.AsyncClient, body: dict[str, Any], **kw: Any) -> httpx.Response:
    return call(client, "POST", "/rest/posts", headers=headers(**kw), json=body)


def upload_image(client: httpx.AsyncClient, owner: str, data: bytes) -> str:
    init = call(
        client,
        "POST",
        "/rest/images?action=initializeUpload",
        headers=headers(),
        json={"initializeUploadRequest": {"owner": owner}},
    )
    assert init.status_code == 200
    value = init.json()["value"]
    put = call(client, "PUT", value["uploadUrl"], headers=headers(), content=data)
    assert put.status_code == 201
    return value["image"]


# -- posts and headers -----------------------------------------------------------------


def test_a_post_answers_201_with_its_urn_in_x_restli_id(
    sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState, clock: FixedClock
) -> None:
    author = person(sandbox_state)
    response = create_post(sandbox_client, post_body(author, "Hi \\(there\\) \\#tag"))
    assert (response.status_code, response.content) == (201, b"")
    urn = response.headers["x-restli-id"]
    assert urn.startswith("urn:li:share:")
    [post] = sandbox_state.accepted("linkedin")
    assert (post.remote_id, post.text, post.created_at) == (urn, "Hi (there) #tag", clock.now())
    assert (post.extra["author"], post.extra["version"]) == (author, VERSION)


@pytest.mark.parametrize(
    ("kw", "status", "code"),
    [
        ({"version": None}, 400, "VERSION_MISSING"),
        ({"version": "202401"}, 426, "NONEXISTENT_VERSION"),
        ({"version": "latest"}, 426, "NONEXISTENT_VERSION"),
        ({"restli": False}, 400, "ILLEGAL_ARGUMENT"),
    ],
)
def test_version_and_protocol_headers_are_required(
    sandbox_client: httpx.AsyncClient,
    sandbox_state: SandboxState,
    kw: dict[str, Any],
    status: int,
    code: str,
) -> None:
    response = create_post(sandbox_client, post_body(person(sandbox_state)), **kw)
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert sandbox_state.accepted("linkedin") == []


def test_token_errors_carry_linkedins_service_codes(
    sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState
) -> None:
    sandbox_state.revoke_token("linkedin", "tok-revoked")
    sandbox_state.expire_token("linkedin", "tok-expired")
    cases = {None: 65604, "tok-revoked": 65601, "tok-expired": 65602}
    for token, service in cases.items():
        response = create_post(sandbox_client, post_body("urn:li:person:1"), token=token)
        body = response.json()
        assert (response.status_code, body["serviceErrorCode"], body["status"]) == (
            401,
            service,
            401,
        ), token


def test_validation_of_a_post(
    sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState
) -> None:
    author = person(sandbox_state)
    cases = [
        (post_body("urn:li:person:999999"), 403, "ACCESS_DENIED"),
        (post_body(author, "x" * 3001), 422, "UNPROCESSABLE_ENTITY"),
        (post_body(author, ""), 422, "UNPROCESSABLE_ENTITY"),
        (post_body(author, visibility="EVERYONE"), 422, "UNPROCESSABLE_ENTITY"),
        (
            post_body(author, content={"media": {"id": "urn:li:image:nope"}}),
            422,
            "UNPROCESSABLE_ENTITY",
        ),
    ]
    for body, status, code in cases:
        response = create_post(sandbox_client, body)
        assert (response.status_code, response.json()["code"]) == (status, code), body
    # 3,000 UTF-16 units: 1,500 emoji fit exactly, escapes do not count.
    assert create_post(sandbox_client, post_body(author, "👍" * 1500)).status_code == 201
    assert create_post(sandbox_client, post_body(author, "\\(" * 3000)).status_code == 201
    assert create_post(sandbox_client, post_body(author, "👍" * 1500 + "x")).status_code == 422


def test_the_same_commentary_twice_is_a_duplicate(
    sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState
) -> None:
    author = person(sandbox_state)
    first = create_post(sandbox_client, post_body(author, "once")).headers["x-restli-id"]
    again = create_post(sandbox_client, post_body(author, "once"))
    assert (again.status_code, again.json()["code"]) == (422, "DUPLICATE_POST")
    assert again.json()["message"] == f"Content is a duplicate of {first}"
    other = create_post(sandbox_client, post_body("urn:li:organization:5", "once"))
    assert other.status_code == 201  # another author may say the same


def test_a_fault_429_has_linkedins_body_and_no_rate_headers(
    sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState
) -> None:
    sandbox_state.faults.set("linkedin", burst_429=1)
    response = create_post(sandbox_client, post_body(person(sandbox_state)))
    assert response.status_code == 429
    assert response.json()["serviceErrorCode"] == 101
    assert "retry-after" not in response.headers


# -- images and videos -----------------------------------------------------------------


def test_an_image_waits_for_its_bytes_then_is_available(
    sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState, png: Callable[..., bytes]
) -> None:
    author = person(sandbox_state)
    init = call(
        sandbox_client,
        "POST",
        "/rest/images?action=initializeUpload",
        headers=headers(),
        json={"initializeUploadRequest": {"owner": author}},
    ).json()["value"]
    urn = init["image"]
    status_path = f"/rest/images/{quote(urn, safe='')}"
    assert (
        call(sandbox_client, "GET", status_path, headers=headers()).json()["status"]
        == "WAITING_UPLOAD"
    )
    early = create_post(sandbox_client, post_body(author, content={"media": {"id": urn}}))
    assert early.status_code == 422
    assert "WAITING_UPLOAD" in early.json()["message"]
    assert (
        call(
            sandbox_client, "PUT", init["uploadUrl"], headers=headers(), content=png(12, 9)
        ).status_code
        == 201
    )
    assert (
        call(sandbox_client, "GET", status_path, headers=headers()).json()["status"] == "AVAILABLE"
    )
    posted = create_post(sandbox_client, post_body(author, content={"media": {"id": urn}}))
    assert posted.status_code == 201
    [post] = sandbox_state.accepted("linkedin")
    assert [(m.id, m.width, m.height) for m in post.media] == [(urn, 12, 9)]


def test_image_rules(
    sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState, png: Callable[..., bytes]
) -> None:
    author = person(sandbox_state)
    broken = upload_image(sandbox_client, author, b"not an image")
    status = call(
        sandbox_client, "GET", f"/rest/images/{quote(broken, safe='')}", headers=headers()
    )
    assert status.json()["status"] == "PROCESSING_FAILED"
    org_image = upload_image(sandbox_client, "urn:li:organization:7", png())
    wrong_owner = create_post(
        sandbox_client, post_body(author, content={"media": {"id": org_image}})
    )
    assert "owner" in wrong_owner.json()["message"]
    one = upload_image(sandbox_client, author, png())
    single = {"multiImage": {"images": [{"id": one}]}}
    assert create_post(sandbox_client, post_body(author, content=single)).status_code == 422
    someone_else = call(
        sandbox_client, "GET", f"/rest/images/{quote(one, safe='')}", headers=headers("tok-b")
    )
    assert someone_else.status_code == 404


def test_a_video_in_parts_with_etags_then_processing(
    sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState
) -> None:
    author = person(sandbox_state)
    data = b"\x00\x00\x00\x18ftypmp42" + b"\x01" * (4 * 1024 * 1024 + 100)
    init = call(
        sandbox_client,
        "POST",
        "/rest/videos?action=initializeUpload",
        headers=headers(),
        json={"initializeUploadRequest": {"owner": author, "fileSizeBytes": len(data)}},
    ).json()["value"]
    parts = init["uploadInstructions"]
    assert [(p["firstByte"], p["lastByte"]) for p in parts] == [
        (0, 4 * 1024 * 1024 - 1),
        (4 * 1024 * 1024, len(data) - 1),
    ]
    etags = []
    for part in parts:
        chunk = data[part["firstByte"] : part["lastByte"] + 1]
        response = call(sandbox_client, "PUT", part["uploadUrl"], content=chunk)
        assert response.status_code == 200
        etags.append(response.headers["etag"])
    finalize = {
        "finalizeUploadRequest": {
            "video": init["video"],
            "uploadToken": "",
            "uploadedPartIds": etags[::-1],
        }
    }
    path = "/rest/videos?action=finalizeUpload"
    assert call(sandbox_client, "POST", path, headers=headers(), json=finalize).status_code == 400
    finalize["finalizeUploadRequest"]["uploadedPartIds"] = etags
    assert call(sandbox_client, "POST", path, headers=headers(), json=finalize).status_code == 200
    status_path = f"/rest/videos/{quote(init['video'], safe='')}"
    polls = [
        call(sandbox_client, "GET", status_path, headers=headers()).json()["status"]
        for _ in range(3)
    ]
    assert polls == ["PROCESSING", "PROCESSING", "AVAILABLE"]
    posted = create_post(
        sandbox_client, post_body(author, content={"media": {"id": init["video"]}})
    )
    assert posted.headers["x-restli-id"].startswith("urn:li:ugcPost:")


def test_video_size_limits_and_wrong_part_sizes(
    sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState
) -> None:
    author = person(sandbox_state)

    def init(size: int) -> httpx.Response:
        body = {"initializeUploadRequest": {"owner": author, "fileSizeBytes": size}}
        return call(
            sandbox_client,
            "POST",
            "/rest/videos?action=initializeUpload",
            headers=headers(),
            json=body,
        )

    assert init(75 * 1024 - 1).status_code == 400
    assert init(500 * 1024 * 1024 + 1).status_code == 400
    part = init(80_000).json()["value"]["uploadInstructions"][0]
    assert call(sandbox_client, "PUT", part["uploadUrl"], content=b"short").status_code == 400


# -- OAuth -----------------------------------------------------------------------------


def token_call(client: httpx.AsyncClient, **form: str) -> httpx.Response:
    form.setdefault("client_id", "app")
    form.setdefault("client_secret", "secret")
    return call(client, "POST", "/oauth/v2/accessToken", data=form)


def test_code_then_refresh_keeps_the_member_and_the_refresh_token(
    sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState, clock: FixedClock
) -> None:
    granted = token_call(sandbox_client, grant_type="authorization_code", code="c1").json()
    assert (granted["expires_in"], granted["refresh_token_expires_in"]) == (5_184_000, 31_536_000)
    me = call(
        sandbox_client, "GET", "/v2/userinfo", headers=headers(granted["access_token"])
    ).json()
    clock.advance(86400)
    refreshed = token_call(
        sandbox_client, grant_type="refresh_token", refresh_token=granted["refresh_token"]
    ).json()
    assert refreshed["refresh_token"] == granted["refresh_token"]
    assert refreshed["refresh_token_expires_in"] == 31_536_000 - 86400  # not extended
    again = call(
        sandbox_client, "GET", "/v2/userinfo", headers=headers(refreshed["access_token"])
    ).json()
    assert again["sub"] == me["sub"]
    reused = token_call(sandbox_client, grant_type="authorization_code", code="c1")
    assert (reused.status_code, reused.json()["error"]) == (400, "invalid_grant")


def test_token_endpoint_errors(sandbox_client: httpx.AsyncClient, clock: FixedClock) -> None:
    no_client = call(
        sandbox_client, "POST", "/oauth/v2/accessToken", data={"grant_type": "refresh_token"}
    )
    assert (no_client.status_code, no_client.json()["error"]) == (401, "invalid_client")
    unknown = token_call(sandbox_client, grant_type="refresh_token", refresh_token="nope")
    assert (unknown.status_code, unknown.json()["error"]) == (400, "invalid_grant")
    odd = token_call(sandbox_client, grant_type="password")
    assert odd.json()["error"] == "unsupported_grant_type"
    granted = token_call(sandbox_client, grant_type="authorization_code", code="c2").json()
    clock.advance(366 * 86400)
    late = token_call(
        sandbox_client, grant_type="refresh_token", refresh_token=granted["refresh_token"]
    )
    assert late.json()["error"] == "invalid_grant"


def test_a_reset_forgets_issued_tokens(
    sandbox_client: httpx.AsyncClient, sandbox_state: SandboxState
) -> None:
    granted = token_call(sandbox_client, grant_type="authorization_code", code="c3").json()
    sandbox_state.reset()
    refreshed = token_call(
        sandbox_client, grant_type="refresh_token", refresh_token=granted["refresh_token"]
    )
    assert refreshed.json()["error"] == "invalid_grant"
    reused_code = token_call(sandbox_client, grant_type="authorization_code", code="c3")
    assert reused_code.status_code == 200
