"""The Bluesky emulator through HTTP: sessions and their tokens, blobs, records and their
lexicon checks, the video service, rate limits, and the ``atproto`` SDK over real TCP."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from postiz_pipelines.clock import FixedClock
from postiz_pipelines.providers.atproto import is_tid, tid_time
from postiz_pipelines.sandbox import SandboxState
from postiz_pipelines.sandbox.bluesky_identity import did_for

B = "/bluesky/xrpc"
V = "/bluesky/video/xrpc"
PASSWORD = "abcd-efgh-ijkl-mnop"
HANDLE = "alice.bsky.social"
DID = did_for(HANDLE)
MP4 = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 256
Client = httpx.AsyncClient


def call(
    client: Client, method: str, path: str, token: str | None = None, **kw: Any
) -> httpx.Response:
    headers = dict(kw.pop("headers", {}))
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return asyncio.run(client.request(method, path, headers=headers, **kw))


def login(client: Client, identifier: str = HANDLE, password: str = PASSWORD) -> dict[str, Any]:
    response = call(
        client,
        "POST",
        f"{B}/com.atproto.server.createSession",
        json={"identifier": identifier, "password": password},
    )
    assert response.status_code == 200, response.text
    return response.json()


def post_record(client: Client, token: str, record: dict[str, Any], **body: Any) -> httpx.Response:
    payload = {"repo": DID, "collection": "app.bsky.feed.post", "record": record, **body}
    return call(client, "POST", f"{B}/com.atproto.repo.createRecord", token, json=payload)


def post(text: str = "hello", **fields: Any) -> dict[str, Any]:
    return {
        "$type": "app.bsky.feed.post",
        "text": text,
        "createdAt": "2026-11-28T12:00:00Z",
        **fields,
    }


def upload(client: Client, token: str, data: bytes, mime: str = "image/png") -> dict[str, Any]:
    response = call(
        client,
        "POST",
        f"{B}/com.atproto.repo.uploadBlob",
        token,
        content=data,
        headers={"Content-Type": mime},
    )
    assert response.status_code == 200, response.text
    return response.json()["blob"]


# -- sessions --------------------------------------------------------------------------


def test_create_session_names_an_unseen_app_passwords_account_after_the_identifier(
    sandbox_client: Client, sandbox_state: SandboxState, clock: FixedClock
) -> None:
    session = login(sandbox_client)
    assert (session["handle"], session["did"], session["active"]) == (HANDLE, DID, True)
    service = session["didDoc"]["service"][0]
    assert (service["id"], service["serviceEndpoint"]) == (
        "#atproto_pds",
        "http://sandbox.test/bluesky",
    )
    again = login(sandbox_client, identifier=DID)
    assert again["did"] == DID and again["accessJwt"] != session["accessJwt"]
    wrong = call(
        sandbox_client,
        "POST",
        f"{B}/com.atproto.server.createSession",
        json={"identifier": "bob.bsky.social", "password": PASSWORD},
    )
    assert (wrong.status_code, wrong.json()) == (
        401,
        {"error": "AuthenticationRequired", "message": "Invalid identifier or password"},
    )
    missing = call(
        sandbox_client, "POST", f"{B}/com.atproto.server.createSession", json={"identifier": HANDLE}
    )
    assert missing.json()["message"] == 'Input must have the property "password"'


def test_sessions_are_limited_per_identifier(
    sandbox_client: Client, sandbox_state: SandboxState, clock: FixedClock
) -> None:
    sandbox_state.override_rate_limit("bluesky", "session:0", limit=2, per_seconds=300)
    body = {"identifier": HANDLE, "password": PASSWORD}
    path = f"{B}/com.atproto.server.createSession"
    responses = [call(sandbox_client, "POST", path, json=body) for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 429]
    assert responses[2].json() == {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}
    assert [r.headers["ratelimit-remaining"] for r in responses] == ["1", "0", "0"]
    assert responses[2].headers["ratelimit-policy"] == "2;w=300"
    # Windows are aligned to multiples of their length; the clock stands at 12:00:00.
    assert responses[2].headers["ratelimit-reset"] == str(int(clock.now().timestamp()) + 300)


def test_refresh_rotates_and_revokes_the_used_refresh_token(sandbox_client: Client) -> None:
    session = login(sandbox_client)
    path = f"{B}/com.atproto.server.refreshSession"
    fresh = call(sandbox_client, "POST", path, session["refreshJwt"])
    assert fresh.status_code == 200
    assert set(fresh.json()) >= {"accessJwt", "refreshJwt", "handle", "did", "didDoc"}
    reused = call(sandbox_client, "POST", path, session["refreshJwt"])
    assert reused.json() == {"error": "ExpiredToken", "message": "Token has been revoked"}
    as_access = call(sandbox_client, "POST", path, session["accessJwt"])
    assert as_access.json() == {"error": "InvalidToken", "message": "Invalid token type"}
    raw = call(sandbox_client, "POST", path, "not-a-jwt")
    assert raw.json()["error"] == "InvalidToken"
    me = call(
        sandbox_client, "GET", f"{B}/com.atproto.server.getSession", fresh.json()["accessJwt"]
    )
    assert (me.json()["handle"], "accessJwt" in me.json()) == (HANDLE, False)


def test_token_failures_answer_as_the_pds_does(
    sandbox_client: Client, sandbox_state: SandboxState, clock: FixedClock
) -> None:
    session = login(sandbox_client)
    path = f"{B}/com.atproto.server.getSession"
    refresh_as_access = call(sandbox_client, "GET", path, session["refreshJwt"])
    assert refresh_as_access.json() == {"error": "InvalidToken", "message": "Bad token scope"}
    none = call(sandbox_client, "GET", path)
    assert (none.status_code, none.json()["error"]) == (401, "AuthMissing")
    sandbox_state.revoke_token("bluesky", "tok-revoked")
    revoked = call(sandbox_client, "GET", path, "tok-revoked")
    assert (revoked.status_code, revoked.json()["message"]) == (400, "Token has been revoked")
    sandbox_state.provision("bluesky", "tok-off", disabled=True)
    off = call(sandbox_client, "GET", path, "tok-off")
    assert (off.status_code, off.json()["error"]) == (401, "AccountTakedown")
    clock.advance(2 * 3600)
    late = call(sandbox_client, "GET", path, session["accessJwt"])
    assert late.json() == {"error": "ExpiredToken", "message": "Token has expired"}
    sandbox_state.reset()
    forgotten = call(sandbox_client, "GET", path, session["refreshJwt"])
    assert forgotten.json()["error"] == "InvalidToken"


def test_resolve_handle_and_profile(sandbox_client: Client, sandbox_state: SandboxState) -> None:
    path = f"{B}/com.atproto.identity.resolveHandle"
    unknown = call(sandbox_client, "GET", path, params={"handle": "bob.example.com"})
    assert (unknown.status_code, unknown.json()) == (
        400,
        {"error": "InvalidRequest", "message": "Unable to resolve handle"},
    )
    sandbox_state.configure("bluesky", known_handles=["bob.example.com"])
    ok = call(sandbox_client, "GET", path, params={"handle": "Bob.Example.com"})
    assert ok.json() == {"did": did_for("bob.example.com")}
    sandbox_state.provision("bluesky", "tok-carol", username="carol")
    carol = call(sandbox_client, "GET", path, params={"handle": "carol.bsky.social"})
    assert carol.json() == {"did": did_for("carol.bsky.social")}
    assert call(sandbox_client, "GET", path, params={"handle": "x.invalid"}).status_code == 400
    assert call(sandbox_client, "GET", path, params={"handle": "not a handle"}).status_code == 400
    token = login(sandbox_client)["accessJwt"]
    profile = call(
        sandbox_client, "GET", f"{B}/app.bsky.actor.getProfile", token, params={"actor": HANDLE}
    )
    assert (profile.json()["did"], profile.json()["postsCount"]) == (DID, 0)
    other = call(
        sandbox_client, "GET", f"{B}/app.bsky.actor.getProfile", token, params={"actor": "bob.test"}
    )
    assert other.status_code == 400


# -- blobs and records -----------------------------------------------------------------


def test_a_post_with_an_image_is_recorded_with_its_blob(
    sandbox_client: Client,
    sandbox_state: SandboxState,
    png: Callable[..., bytes],
    clock: FixedClock,
) -> None:
    token = login(sandbox_client)["accessJwt"]
    blob = upload(sandbox_client, token, png(40, 30), mime="*/*")
    assert blob["mimeType"] == "image/png" and blob["ref"]["$link"].startswith("bafkrei")
    embed = {"$type": "app.bsky.embed.images", "images": [{"image": blob, "alt": "red"}]}
    response = post_record(sandbox_client, token, post("pic", embed=embed))
    assert response.status_code == 200
    body = response.json()
    assert body["cid"].startswith("bafyrei") and body["validationStatus"] == "valid"
    rkey = body["uri"].rsplit("/", 1)[1]
    assert is_tid(rkey) and tid_time(rkey).replace(microsecond=0) == clock.now()
    [accepted] = sandbox_state.accepted("bluesky")
    assert (accepted.remote_id, accepted.text, accepted.extra["alts"]) == (
        body["uri"],
        "pic",
        ["red"],
    )
    assert [(m.width, m.height) for m in accepted.media] == [(40, 30)]
    stored = sandbox_state.media("bluesky", blob["ref"]["$link"])
    assert stored is not None and stored.attached_to == body["uri"]
    read = call(
        sandbox_client,
        "GET",
        f"{B}/com.atproto.repo.getRecord",
        params={"repo": HANDLE, "collection": "app.bsky.feed.post", "rkey": rkey},
    )
    assert (read.json()["cid"], read.json()["value"]["text"]) == (body["cid"], "pic")


def test_a_client_chosen_rkey_must_be_a_tid_and_is_used_once(
    sandbox_client: Client, sandbox_state: SandboxState
) -> None:
    token = login(sandbox_client)["accessJwt"]
    first = post_record(sandbox_client, token, post(), rkey="3n3enpckfvojk")
    assert first.json()["uri"] == f"at://{DID}/app.bsky.feed.post/3n3enpckfvojk"
    second = post_record(sandbox_client, token, post("other"), rkey="3n3enpckfvojk")
    assert (second.status_code, second.json()["error"]) == (400, "RecordAlreadyExists")
    not_tid = post_record(sandbox_client, token, post(), rkey="my-post")
    assert "must be keyed by a TID" in not_tid.json()["message"]
    assert [p.idempotency_key for p in sandbox_state.accepted("bluesky")] == ["3n3enpckfvojk"]
    missing = call(
        sandbox_client,
        "GET",
        f"{B}/com.atproto.repo.getRecord",
        params={"repo": DID, "collection": "app.bsky.feed.post", "rkey": "3n3enpckfvoja"},
    )
    assert (missing.status_code, missing.json()["error"]) == (400, "RecordNotFound")


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (post("x" * 301), "Record/text must not be longer than 300 graphemes"),
        (post("👨‍👩‍👧" * 200), "Record/text must not be longer than 3000 characters"),
        ({"$type": "app.bsky.feed.post", "text": "x"}, 'Record must have the property "createdAt"'),
        (post(createdAt="yesterday"), "Record/createdAt must be an valid atproto datetime"),
        (post(langs=["en", "de", "fr", "ja"]), "Record/langs must not have more than 3 elements"),
        (
            post(
                facets=[
                    {
                        "index": {"byteStart": 2, "byteEnd": 9},
                        "features": [{"$type": "app.bsky.richtext.facet#link", "uri": "x"}],
                    }
                ]
            ),
            "Record/facets/0/index [2, 9) is outside the text's 5 bytes",
        ),
        (
            post(
                reply={"root": {"uri": "nope", "cid": "c"}, "parent": {"uri": "nope", "cid": "c"}}
            ),
            "Record/reply/root/uri must be a valid at-uri",
        ),
        (post(embed={"$type": "app.bsky.embed.record"}), "Record/embed has an unsupported $type"),
        (
            post(embed={"$type": "app.bsky.embed.images", "images": [{"alt": "x"}] * 5}),
            "must not have more than 4",
        ),
    ],
)
def test_post_records_are_checked_against_the_lexicon(
    sandbox_client: Client, record: dict[str, Any], message: str
) -> None:
    token = login(sandbox_client)["accessJwt"]
    response = post_record(sandbox_client, token, record)
    assert response.status_code == 400
    assert response.json()["error"] == "InvalidRequest"
    assert response.json()["message"].startswith("Invalid app.bsky.feed.post record: ")
    assert message in response.json()["message"]


def test_create_record_refuses_other_repos_collections_types_and_blobs(
    sandbox_client: Client, png: Callable[..., bytes]
) -> None:
    token = login(sandbox_client)["accessJwt"]
    other_repo = post_record(sandbox_client, token, post(), repo="did:plc:someoneelse")
    assert other_repo.json()["message"] == "Could not find repo: did:plc:someoneelse"
    like = post_record(sandbox_client, token, post(), collection="app.bsky.feed.like")
    assert like.json()["message"] == "Lexicon not found: lex:app.bsky.feed.like"
    wrong_type = post_record(sandbox_client, token, post(**{"$type": "app.bsky.feed.like"}))
    assert "Invalid $type" in wrong_type.json()["message"]
    bobs_blob = upload(sandbox_client, "tok-bob", png())
    embed = {"$type": "app.bsky.embed.images", "images": [{"image": bobs_blob, "alt": ""}]}
    stolen = post_record(sandbox_client, token, post(embed=embed))
    assert stolen.json()["error"] == "BlobNotFound"
    no_alt = {
        "$type": "app.bsky.embed.images",
        "images": [{"image": upload(sandbox_client, token, png())}],
    }
    assert (
        'must have the property "alt"'
        in post_record(sandbox_client, token, post(embed=no_alt)).json()["message"]
    )


def test_blobs_are_sniffed_and_capped(sandbox_client: Client) -> None:
    token = login(sandbox_client)["accessJwt"]
    assert (
        upload(sandbox_client, token, b"garbage", "image/png")["mimeType"]
        == "application/octet-stream"
    )
    assert upload(sandbox_client, token, MP4, "*/*")["mimeType"] == "video/mp4"
    too_big = call(
        sandbox_client,
        "POST",
        f"{B}/com.atproto.repo.uploadBlob",
        token,
        content=b"\x00" * 50_000_001,
        headers={"Content-Type": "video/mp4"},
    )
    assert (too_big.status_code, too_big.json()["error"]) == (400, "BlobTooLarge")


def test_writes_cost_three_points_per_create(
    sandbox_client: Client, sandbox_state: SandboxState
) -> None:
    sandbox_state.override_rate_limit("bluesky", "write:0", limit=6, per_seconds=3600)
    token = login(sandbox_client)["accessJwt"]
    responses = [post_record(sandbox_client, token, post(f"p{i}")) for i in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 429]
    assert [r.headers["ratelimit-remaining"] for r in responses] == ["3", "0", "0"]
    assert responses[0].headers["ratelimit-policy"] == "6;w=3600"
    assert len(sandbox_state.accepted("bluesky")) == 2


def test_faults_use_xrpc_error_bodies_and_rate_headers(
    sandbox_client: Client, sandbox_state: SandboxState, clock: FixedClock
) -> None:
    sandbox_state.faults.set("bluesky", burst_429=1, burst_reset_seconds=30)
    limited = call(
        sandbox_client,
        "GET",
        f"{B}/com.atproto.identity.resolveHandle",
        params={"handle": "a.test"},
    )
    assert limited.json() == {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}
    reset = str(int(clock.now().timestamp()) + 30)
    assert (limited.headers["ratelimit-reset"], limited.headers["ratelimit-policy"]) == (
        reset,
        "3000;w=300",
    )
    sandbox_state.faults.set("bluesky", error_rates={502: 1.0})
    upstream = call(
        sandbox_client,
        "GET",
        f"{B}/com.atproto.identity.resolveHandle",
        params={"handle": "a.test"},
    )
    assert (upstream.status_code, upstream.json()["error"]) == (502, "UpstreamFailure")


# -- the video service -----------------------------------------------------------------


def service_token(client: Client, token: str, **params: Any) -> httpx.Response:
    query = {"aud": "did:web:sandbox.test", "lxm": "com.atproto.repo.uploadBlob", **params}
    return call(client, "GET", f"{B}/com.atproto.server.getServiceAuth", token, params=query)


def upload_video(client: Client, token: str, data: bytes = MP4, did: str = DID) -> httpx.Response:
    return call(
        client,
        "POST",
        f"{V}/app.bsky.video.uploadVideo",
        token,
        params={"did": did, "name": "clip.mp4"},
        content=data,
        headers={"Content-Type": "video/mp4"},
    )


def job(client: Client, job_id: str) -> dict[str, Any]:
    return call(client, "GET", f"{V}/app.bsky.video.getJobStatus", params={"jobId": job_id}).json()


def test_a_video_job_is_polled_to_a_blob_and_posted(
    sandbox_client: Client, sandbox_state: SandboxState
) -> None:
    access = login(sandbox_client)["accessJwt"]
    svc = service_token(sandbox_client, access).json()["token"]
    created = upload_video(sandbox_client, svc)
    assert created.status_code == 200
    assert set(created.json()) == {"did", "jobId", "state"}  # bare, no jobStatus wrapper
    assert created.json()["state"] == "JOB_STATE_CREATED"
    polls = [job(sandbox_client, created.json()["jobId"])["jobStatus"] for _ in range(3)]
    assert [(p["state"], p.get("progress")) for p in polls] == [
        ("JOB_STATE_ENCODING", 50),
        ("JOB_STATE_SCANNING", 90),
        ("JOB_STATE_COMPLETED", 100),
    ]
    blob = polls[2]["blob"]
    assert (blob["mimeType"], blob["size"]) == ("video/mp4", len(MP4))
    embed = {"$type": "app.bsky.embed.video", "video": blob}
    assert post_record(sandbox_client, access, post("clip", embed=embed)).status_code == 200
    again = upload_video(sandbox_client, svc)
    assert again.status_code == 409
    assert again.json() == {
        "did": DID,
        "jobId": created.json()["jobId"],
        "state": "JOB_STATE_COMPLETED",
        "error": "already_exists",
        "message": "Video already processed",
    }
    assert sandbox_state.accepted("bluesky")[0].media[0].id == blob["ref"]["$link"]


def test_a_file_that_is_no_mp4_fails_processing(sandbox_client: Client) -> None:
    svc = service_token(sandbox_client, login(sandbox_client)["accessJwt"]).json()["token"]
    job_id = upload_video(sandbox_client, svc, data=b"not a video").json()["jobId"]
    final = [job(sandbox_client, job_id)["jobStatus"] for _ in range(3)][-1]
    assert (final["state"], final["message"]) == ("JOB_STATE_FAILED", "Failed to process video")
    assert "blob" not in final
    assert (
        call(
            sandbox_client, "GET", f"{V}/app.bsky.video.getJobStatus", params={"jobId": "nope"}
        ).status_code
        == 404
    )


def test_upload_video_checks_the_service_token(sandbox_client: Client, clock: FixedClock) -> None:
    access = login(sandbox_client)["accessJwt"]
    wrong_aud = service_token(sandbox_client, access, aud="did:web:elsewhere.test").json()["token"]
    wrong_lxm = service_token(sandbox_client, access, lxm="app.bsky.feed.getTimeline").json()[
        "token"
    ]
    svc = service_token(sandbox_client, access).json()["token"]
    assert upload_video(sandbox_client, wrong_aud).json()["error"] == "BadJwtAudience"
    assert upload_video(sandbox_client, wrong_lxm).json()["error"] == "BadJwtLexiconMethod"
    assert upload_video(sandbox_client, svc, did="did:plc:other").json()["error"] == "BadJwtIssuer"
    assert upload_video(sandbox_client, access).status_code == 401
    assert upload_video(sandbox_client, "raw-token").json()["error"] == "AuthMissing"
    far = service_token(sandbox_client, access, exp=str(int(clock.now().timestamp()) + 3601))
    assert (far.status_code, far.json()["error"]) == (400, "BadExpiration")
    clock.advance(61)  # the default lifetime is a minute
    assert upload_video(sandbox_client, svc).json()["error"] == "JwtExpired"


# -- the atproto SDK over TCP ------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:Use 'content=<...>'")  # raised inside the SDK
def test_the_atproto_sdk_logs_in_posts_and_reads_back() -> None:
    from atproto import Client as AtprotoClient
    from atproto import client_utils, models

    from postiz_pipelines.sandbox.server import running_sandbox

    state = SandboxState()
    state.provision("bluesky", PASSWORD, username=HANDLE)
    with running_sandbox(state=state) as url:
        client = AtprotoClient(base_url=f"{url}/bluesky")
        profile = client.login(HANDLE, PASSWORD)
        assert profile is not None and (profile.did, profile.handle) == (DID, HANDLE)
        text = client_utils.TextBuilder().text("👋 read ").link("the docs", "https://example.com")
        first = client.send_post(text)
        ref = models.create_strong_ref(first)
        reply = models.AppBskyFeedPost.ReplyRef(root=ref, parent=ref)
        client.send_post("and a reply", reply_to=reply)
        from PIL import Image

        buf = io.BytesIO()
        Image.new("RGB", (12, 9), (0, 90, 200)).save(buf, "PNG")
        client.send_image("a picture", buf.getvalue(), "blue")
        read = client.get_post(first.uri.rsplit("/", 1)[1], profile.did)
    assert read.value.text == "👋 read the docs"
    assert read.value.facets is not None and read.value.facets[0].index.byte_start == 10
    posts = state.accepted("bluesky")
    assert [p.text for p in posts] == ["👋 read the docs", "and a reply", "a picture"]
    assert posts[1].reply_to == first.uri
    assert (posts[2].extra["alts"], posts[2].media[0].mime_type) == (["blue"], "image/png")
