"""The read-back rule, through the engine with sandbox faults.

Once any attempt of a job has an unknown outcome, no later attempt publishes until a read-back
(the provider's ``find_recent``) has succeeded and found nothing; a failed read-back is retried
as a read-back. Before a job with an unknown outcome is dead-lettered, it is read back, and the
dead-letter reason says whether the post may be live.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from datetime import datetime

import httpx
import pytest
from PIL import Image
from sqlalchemy import select

from postiz_pipelines.clock import FixedClock
from postiz_pipelines.core.context import AppContext
from postiz_pipelines.core.ids import new_id
from postiz_pipelines.core.media.assets import ingest
from postiz_pipelines.core.media.storage import LocalStorage
from postiz_pipelines.core.models import (
    AttemptOutcome,
    JobStatus,
    Post,
    PostMedia,
    PostTarget,
    PublishAttempt,
    PublishJob,
    TargetStatus,
)
from postiz_pipelines.core.publishing.queue import enqueue, new_job_row
from postiz_pipelines.core.publishing.readback import (
    Action,
    AttemptHistory,
    Plan,
    after_publish_error,
    after_readback_error,
    plan_attempt,
)
from postiz_pipelines.core.publishing.runner import publish_due
from postiz_pipelines.errors import (
    AuthRevoked,
    ContentRejected,
    OutcomeUnknown,
    PartiallyPublished,
    TransientError,
)
from postiz_pipelines.providers.base import IdempotencyMode
from postiz_pipelines.sandbox import FaultSpec, SandboxState, SandboxTransport, create_app
from postiz_pipelines.settings import Settings

SANDBOX = "http://sandbox.test"

# what publishes (and may be dropped) and what reads back, per platform
PUBLISH = {
    "threads": "POST /{version}/{node_id}/threads_publish",
    "facebook": "POST /{version}/{node_id}/feed",
    "instagram": "POST /{version}/{node_id}/media_publish",
    "bluesky": "POST /xrpc/com.atproto.repo.createRecord",
    "mastodon": "POST /api/v1/statuses",
}
READ_BACK = {
    "threads": "GET /{version}/{node_id}/threads",
    "facebook": "GET /{version}/{node_id}/published_posts",
    "instagram": "GET /{version}/{node_id}/media",
    "bluesky": "GET /xrpc/com.atproto.repo.getRecord",
    "mastodon": "GET /api/v1/accounts/{account_id}/statuses",
}


@pytest.fixture
def state(clock: FixedClock) -> SandboxState:
    return SandboxState(clock=clock, seed=4)


@pytest.fixture
def transport(state: SandboxState) -> SandboxTransport:
    return SandboxTransport(create_app(state), timeout=0.3)


@pytest.fixture
def engine_app(env: dict[str, str]) -> Iterator[AppContext]:
    """The app pointed at the in-process sandbox, serving signed media links (Instagram)."""
    ctx = AppContext.from_settings(
        Settings.from_env(
            {**env, "POSTIZ_SANDBOX_URL": SANDBOX, "POSTIZ_PUBLIC_URL": "https://posts.example"}
        )
    )
    yield ctx
    ctx.close()


def connect(app: AppContext, state: SandboxState, transport, make, platform: str):  # type: ignore[no-untyped-def]
    """One account on ``platform`` in a new workspace, connected as a user would."""
    ws = make.workspace(slug=f"ws-{platform}")
    if platform == "bluesky":
        from postiz_pipelines.providers.bluesky import BlueskyProvider

        async def login():  # type: ignore[no-untyped-def]
            async with httpx.AsyncClient(transport=transport) as http:
                return await BlueskyProvider(http, base_url=f"{SANDBOX}/bluesky").login(
                    "zoe.bsky.social", "abcd-efgh-ijkl-mnop"
                )

        session = asyncio.run(login())
        acc = make.account(
            ws,
            platform="bluesky",
            handle=session.handle,
            token=session.tokens.access_token.reveal(),
            external_id=session.did,
            refresh_token=session.tokens.refresh_token.reveal(),
            token_expires_at=session.tokens.expires_at,
            base_url=session.pds_url,
        )
        return ws, acc
    if platform == "mastodon":
        remote = state.provision("mastodon", "tok-zoe", username="zoe")
        acc = make.account(
            ws,
            platform="mastodon",
            handle="zoe",
            token="tok-zoe",
            external_id=remote.id,
            base_url=f"{SANDBOX}/mastodon",
        )
        return ws, acc
    token = f"sandbox-{platform}-token"
    remote = state.provision(platform, token, username=f"{platform}_page")
    settings = {"login": "instagram"} if platform == "instagram" else {}
    acc = make.account(
        ws,
        platform=platform,
        handle=remote.username,
        token=token,
        external_id=remote.id,
        settings=settings,
    )
    return ws, acc


def one_job(app: AppContext, ws, acc, now: datetime, text: str) -> str:  # type: ignore[no-untyped-def]
    """A post of one target (with an image where the platform needs one), due ``now``."""
    with app.db.session() as s:
        post = Post(id=new_id("post"), workspace_id=ws.id, content=text, scheduled_at=now)
        target = PostTarget(id=new_id("tgt"), account_id=acc.id)
        post.targets.append(target)
        if acc.platform == "instagram":
            jpeg = io.BytesIO()
            Image.new("RGB", (1080, 1080), (10, 90, 200)).save(jpeg, "JPEG")
            storage = LocalStorage(app.media_root)
            staged = storage.stage()
            staged.write(jpeg.getvalue())
            asset, _ = ingest(s, storage, staged, workspace_id=ws.id, filename="a.jpg", now=now)
            post.media.append(PostMedia(position=0, media_id=asset.id))
        s.add(post)
        s.flush()
        row = new_job_row(
            workspace_id=ws.id,
            platform=acc.platform,
            post_id=post.id,
            target_id=target.id,
            account_id=acc.id,
            run_at=now,
            now=now,
        )
        enqueue(s, [row])
    return str(row["id"])


def job(app: AppContext, job_id: str) -> PublishJob:
    with app.db.read() as s:
        found = s.get(PublishJob, job_id)
        assert found is not None
        return found


def attempts(app: AppContext, job_id: str) -> list[PublishAttempt]:
    with app.db.read() as s:
        return list(
            s.scalars(
                select(PublishAttempt)
                .where(PublishAttempt.job_id == job_id)
                .order_by(PublishAttempt.attempt_no)
            )
        )


def run_when_due(app: AppContext, clock: FixedClock, transport, job_id: str):  # type: ignore[no-untyped-def]
    clock.set(max(clock.now(), job(app, job_id).next_attempt_at))
    return publish_due(app, owner=f"run-{new_id('r')}", clock=clock, transport=transport)


@pytest.mark.parametrize("platform", ["threads", "facebook", "instagram"])
def test_a_failed_read_back_is_retried_as_a_read_back_never_as_a_blind_publish(
    engine_app, make, clock, state, transport, platform
):
    """Drop the answer of the first publish; make the read-back 503 for the next pass; clear the
    faults; run again: the post is on the platform once, and the job is completed with its id."""
    app = engine_app
    ws, acc = connect(app, state, transport, make, platform)
    job_id = one_job(app, ws, acc, clock.now(), "Grüße aus Köln 🌷 — one post, once")

    state.faults.set(platform, FaultSpec(drops=1, endpoints=frozenset({PUBLISH[platform]})))
    run_when_due(app, clock, transport, job_id)
    assert job(app, job_id).status == JobStatus.RETRYING
    assert len(state.accepted(platform)) == 1  # it did land

    state.faults.set(
        platform, FaultSpec(error_rates={503: 1.0}, endpoints=frozenset({READ_BACK[platform]}))
    )
    run_when_due(app, clock, transport, job_id)
    after_failed_read = job(app, job_id)
    assert after_failed_read.status == JobStatus.RETRYING, after_failed_read.last_error
    assert len(state.accepted(platform)) == 1  # no blind second publish
    assert state.request_count(platform, PUBLISH[platform]) == 1
    assert attempts(app, job_id)[-1].readback == "failed"

    state.faults.reset(platform)
    run_when_due(app, clock, transport, job_id)
    done = job(app, job_id)
    [accepted] = state.accepted(platform)
    assert (done.status, done.remote_id) == (JobStatus.COMPLETED, accepted.remote_id)
    assert state.request_count(platform, PUBLISH[platform]) == 1
    history = attempts(app, job_id)
    assert [a.outcome for a in history] == [
        AttemptOutcome.UNCERTAIN,
        AttemptOutcome.FAILED,
        AttemptOutcome.SUCCEEDED,
    ]
    assert [a.readback for a in history] == [None, "failed", "found"]
    assert done.attempts == 1  # one publish; the read-backs spent no publish attempt
    with app.db.read() as s:
        assert s.get(PostTarget, done.target_id).status == TargetStatus.PUBLISHED


def test_a_read_back_that_finds_nothing_lets_the_next_attempt_publish(
    engine_app, make, clock, state, transport
):
    """A request that timed out never reached Threads: the read-back finds nothing, and the
    same attempt publishes."""
    app = engine_app
    ws, acc = connect(app, state, transport, make, "threads")
    job_id = one_job(app, ws, acc, clock.now(), "never landed")
    state.faults.set("threads", FaultSpec(timeouts=1, endpoints=frozenset({PUBLISH["threads"]})))
    run_when_due(app, clock, transport, job_id)
    assert job(app, job_id).last_error_class == "outcome_unknown"
    assert state.accepted("threads") == []
    run_when_due(app, clock, transport, job_id)
    done = job(app, job_id)
    assert done.status == JobStatus.COMPLETED and len(state.accepted("threads")) == 1
    assert [a.readback for a in attempts(app, job_id)] == [None, "absent"]
    assert done.attempts == 2


def test_bluesky_a_record_that_cannot_be_read_back_is_retried_not_rejected(
    engine_app, make, clock, state, transport
):
    """Drop the answer of the first createRecord; the retry finds the record key taken and its
    read-back answers 503: that is an unknown outcome to retry, never ``content_rejected``."""
    app = engine_app
    ws, acc = connect(app, state, transport, make, "bluesky")
    job_id = one_job(app, ws, acc, clock.now(), "Bluesky: schön 🌷")
    state.faults.set("bluesky", FaultSpec(drops=1, endpoints=frozenset({PUBLISH["bluesky"]})))
    run_when_due(app, clock, transport, job_id)
    state.faults.set(
        "bluesky", FaultSpec(error_rates={503: 1.0}, endpoints=frozenset({READ_BACK["bluesky"]}))
    )
    run_when_due(app, clock, transport, job_id)
    waiting = job(app, job_id)
    assert waiting.status == JobStatus.RETRYING, waiting.last_error
    assert waiting.last_error_class == "outcome_unknown"
    state.faults.reset("bluesky")
    run_when_due(app, clock, transport, job_id)
    done = job(app, job_id)
    [accepted] = state.accepted("bluesky")
    assert (done.status, done.remote_id) == (JobStatus.COMPLETED, accepted.remote_id)
    assert [a.outcome for a in attempts(app, job_id)] == [
        AttemptOutcome.UNCERTAIN,
        AttemptOutcome.UNCERTAIN,
        AttemptOutcome.SUCCEEDED,
    ]


def test_read_back_failures_have_their_own_budget_then_say_the_post_may_be_live(
    engine_app, make, clock, state, transport
):
    app = engine_app
    ws, acc = connect(app, state, transport, make, "facebook")
    job_id = one_job(app, ws, acc, clock.now(), "landed, then the lookup broke")
    state.faults.set("facebook", FaultSpec(drops=1, endpoints=frozenset({PUBLISH["facebook"]})))
    run_when_due(app, clock, transport, job_id)
    state.faults.set(
        "facebook", FaultSpec(error_rates={503: 1.0}, endpoints=frozenset({READ_BACK["facebook"]}))
    )
    for _ in range(20):
        run_when_due(app, clock, transport, job_id)
        if job(app, job_id).status == JobStatus.FAILED:
            break
    failed = job(app, job_id)
    assert failed.status == JobStatus.FAILED
    assert failed.last_error_class == "uncertain_outcome"
    assert "may be live" in (failed.last_error or "")
    assert len(state.accepted("facebook")) == 1
    assert state.request_count("facebook", PUBLISH["facebook"]) == 1
    history = attempts(app, job_id)
    assert [a.readback for a in history][1:] == ["failed"] * (len(history) - 1)
    assert len(history) - 1 == failed.max_attempts  # the read-back's own budget
    assert failed.attempts == 1  # one publish


def test_mastodon_the_last_read_back_failing_says_the_post_may_be_live(
    engine_app, make, clock, state, transport
):
    """Every publish answer is dropped (the key makes the retries one status) and every
    read-back answers 503: the job ends ``uncertain_outcome``, never plainly failed."""
    app = engine_app
    ws, acc = connect(app, state, transport, make, "mastodon")
    job_id = one_job(app, ws, acc, clock.now(), "dropped every time")
    state.faults.set("mastodon", FaultSpec(drops=-1, endpoints=frozenset({PUBLISH["mastodon"]})))
    for _ in range(4):
        run_when_due(app, clock, transport, job_id)
    spent = job(app, job_id)
    assert (spent.status, spent.attempts) == (JobStatus.RETRYING, spent.max_attempts)
    assert len(state.accepted("mastodon")) == 1  # the key made four tries one status
    state.faults.set(
        "mastodon", FaultSpec(error_rates={503: 1.0}, endpoints=frozenset({READ_BACK["mastodon"]}))
    )
    for _ in range(20):
        run_when_due(app, clock, transport, job_id)
        if job(app, job_id).status == JobStatus.FAILED:
            break
    failed = job(app, job_id)
    assert (failed.status, failed.last_error_class) == (JobStatus.FAILED, "uncertain_outcome")
    assert "may be live" in (failed.last_error or "")
    assert state.request_count("mastodon", PUBLISH["mastodon"]) == 4  # none after the budget
    assert [a.readback for a in attempts(app, job_id)][4:] == ["failed"] * failed.max_attempts


def test_mastodon_uncertain_at_the_last_attempt_is_read_back_before_the_dead_letter(
    engine_app, make, clock, state, transport
):
    """Three publishes that time out, a fourth whose answer is dropped: the attempts are
    exhausted with the outcome unknown, so the job is read back and found, not dead-lettered."""
    app = engine_app
    ws, acc = connect(app, state, transport, make, "mastodon")
    job_id = one_job(app, ws, acc, clock.now(), "Mastodon: ça marche 🎉")
    state.faults.set(
        "mastodon", FaultSpec(timeouts=3, drops=1, endpoints=frozenset({PUBLISH["mastodon"]}))
    )
    for _ in range(8):
        run_when_due(app, clock, transport, job_id)
        if job(app, job_id).status in (JobStatus.COMPLETED, JobStatus.FAILED):
            break
    done = job(app, job_id)
    [accepted] = state.accepted("mastodon")
    assert (done.status, done.remote_id) == (JobStatus.COMPLETED, accepted.remote_id)
    history = attempts(app, job_id)
    assert history[-1].readback == "found" and done.attempts == done.max_attempts


def test_mastodon_nothing_found_at_the_end_is_dead_lettered_as_not_published(
    engine_app, make, clock, state, transport
):
    app = engine_app
    ws, acc = connect(app, state, transport, make, "mastodon")
    job_id = one_job(app, ws, acc, clock.now(), "every try timed out")
    state.faults.set("mastodon", FaultSpec(timeouts=-1, endpoints=frozenset({PUBLISH["mastodon"]})))
    for _ in range(8):
        run_when_due(app, clock, transport, job_id)
        if job(app, job_id).status == JobStatus.FAILED:
            break
    failed = job(app, job_id)
    assert failed.status == JobStatus.FAILED and state.accepted("mastodon") == []
    assert failed.last_error_class == "outcome_unknown"
    assert "not published" in (failed.last_error or "")
    assert "may be live" not in (failed.last_error or "")
    assert attempts(app, job_id)[-1].readback == "absent"


# -- the rule's decisions, on attempts and errors alone ------------------------------------


def att(no: int, outcome: str, readback: str | None = None, error: str | None = None):  # type: ignore[no-untyped-def]
    return PublishAttempt(
        attempt_no=no, outcome=outcome, readback=readback, error_class=error, error_message=error
    )


def test_history_reads_attempts_oldest_first_whatever_their_order() -> None:
    U, F, S = AttemptOutcome.UNCERTAIN, AttemptOutcome.FAILED, AttemptOutcome.SUCCEEDED
    assert AttemptHistory.of([]) == AttemptHistory(False, 0, 1)
    # an unknown outcome, then two failed looks: still unresolved, two failures in a row
    h = AttemptHistory.of(
        [att(3, F, "failed"), att(1, U, error="outcome_unknown"), att(2, F, "failed")]
    )
    assert (h.unresolved, h.failed_readbacks, h.next_attempt_no) == (True, 2, 4)
    assert h.last_publish_error_class == "outcome_unknown"  # not the read-backs' errors
    # a look that found nothing resolves it; the same attempt's own publish may open it again
    assert not AttemptHistory.of([att(1, U), att(2, F, "absent", "transient")]).unresolved
    assert AttemptHistory.of([att(1, U), att(2, U, "absent")]).unresolved
    assert not AttemptHistory.of([att(1, U), att(2, S, "found")]).unresolved


@pytest.mark.parametrize(
    ("mode", "reads_back", "unresolved", "publishes", "plan"),
    [
        (IdempotencyMode.LOOKUP, True, False, 1, Plan.PUBLISH),
        (IdempotencyMode.LOOKUP, True, True, 1, Plan.READ_THEN_PUBLISH),
        (IdempotencyMode.LOOKUP, True, True, 4, Plan.READ_ONLY),
        (IdempotencyMode.NATIVE_KEY, True, True, 2, Plan.PUBLISH),  # the key makes it safe
        (IdempotencyMode.NATIVE_KEY, True, True, 4, Plan.READ_ONLY),
        (IdempotencyMode.NATIVE_KEY, False, True, 4, None),  # Discord: nothing left to do
        (IdempotencyMode.NONE, False, False, 4, None),
    ],
)
def test_the_plan_of_the_next_attempt(mode, reads_back, unresolved, publishes, plan) -> None:  # type: ignore[no-untyped-def]
    history = AttemptHistory(unresolved, 0, publishes + 1)
    got = plan_attempt(
        history, mode=mode, reads_back=reads_back, publishes=publishes, max_attempts=4
    )
    assert got == plan


def test_verdicts_after_a_failed_publish() -> None:
    unknown = OutcomeUnknown("no answer", platform="p")

    def verdict(
        exc, mode=IdempotencyMode.NATIVE_KEY, reads_back=True, publishes=4, unresolved=True
    ):  # type: ignore[no-untyped-def]
        return after_publish_error(
            exc,
            platform="p",
            mode=mode,
            reads_back=reads_back,
            publishes=publishes,
            max_attempts=4,
            unresolved=unresolved,
        )

    assert verdict(unknown, publishes=2).action == Action.RETRY
    assert verdict(unknown).action == Action.READ_BACK  # spent: look once more, alone
    # a refusal after an unknown outcome: look before the dead letter, too
    assert verdict(ContentRejected("dup", platform="p"), publishes=2).action == Action.READ_BACK
    discord = verdict(unknown, reads_back=False)
    assert (discord.action, discord.error_class) == (Action.FAIL, "uncertain_outcome")
    assert "may be live" in discord.reason
    x = verdict(unknown, mode=IdempotencyMode.NONE, reads_back=False, publishes=1)
    assert (x.action, x.error_class) == (Action.FAIL, "uncertain_outcome")
    plain = verdict(TransientError("503", platform="p"), unresolved=False)
    assert (plain.action, plain.error_class) == (Action.FAIL, "transient")
    assert "may be live" not in plain.reason and "attempts exhausted (4/4)" in plain.reason
    cut = PartiallyPublished(platform="p", remote_id="r1", item=1, cause=unknown)
    assert verdict(cut).action == Action.FAIL  # what went out is known: never read back


def test_verdicts_after_a_failed_read_back() -> None:
    down = TransientError("503", platform="p")
    again = after_readback_error(down, platform="p", failed_readbacks=3, max_attempts=4)
    assert (again.action, again.error_class, again.nth_retry) == (
        Action.RETRY,
        "readback_failed",
        3,
    )
    spent = after_readback_error(down, platform="p", failed_readbacks=4, max_attempts=4)
    forbidden = after_readback_error(
        AuthRevoked("gone", platform="p"), platform="p", failed_readbacks=1, max_attempts=4
    )
    for v in (spent, forbidden):
        assert (v.action, v.error_class) == (Action.FAIL, "uncertain_outcome")
        assert "may be live" in v.reason
