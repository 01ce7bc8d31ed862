"""Publish windows: the window rule, the sensor's decisions (due windows, one run per window,
the recovery rule) and the window run's loop (each job at its second, jobs created after it
started, nothing past its window)."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from postiz_pipelines.clock import FixedClock, ensure_utc
from postiz_pipelines.core.models import JobStatus, PublishAttempt, PublishJob
from postiz_pipelines.core.publishing import breaker
from postiz_pipelines.core.publishing.dispatch import (
    ENDED,
    RUNNING,
    WAITING,
    DueWindow,
    SeenRun,
    due_windows,
    plan_window_runs,
)
from postiz_pipelines.core.publishing.loop import PublishLoop, Scope
from postiz_pipelines.core.publishing.windows import Window, WindowPolicy
from postiz_pipelines.sandbox import SandboxState, SandboxTransport, create_app

POLICY = WindowPolicy()
T = datetime(2026, 3, 29, 0, 59, 30, tzinfo=UTC)  # the night Europe moves its clocks


# -- the window rule -------------------------------------------------------------------------
def test_windows_tile_time_and_are_shifted_per_partition():
    w = POLICY.window_at("acme", "mastodon", T)
    assert w.contains(T) and w.end - w.start == POLICY.length == timedelta(minutes=10)
    after = POLICY.window_at("acme", "mastodon", w.end)
    assert after.start == w.end  # contiguous: every instant is in exactly one window
    assert POLICY.window_at("acme", "mastodon", w.end - timedelta(microseconds=1)) == w
    starts = {POLICY.window_at(f"ws{i}", "x", T).start.second for i in range(30)}
    assert len(starts) > 10  # 30 partitions do not all start their windows together
    assert POLICY.offset("acme", "mastodon") == POLICY.offset("acme", "mastodon")  # stable
    assert WindowPolicy(stagger=False).window_at("é✨", "x", T).start.minute % 5 == 0


def test_next_window_is_served_only_once_its_lead_began():
    w = POLICY.window_at("acme", "bluesky", T)
    assert POLICY.windows_to_serve(
        "acme", "bluesky", w.end - POLICY.lead - timedelta(seconds=1)
    ) == [w]
    both = POLICY.windows_to_serve("acme", "bluesky", w.end - POLICY.lead)
    assert both == [w, Window(w.end, w.end + POLICY.length)]


def test_window_from_run_tags_round_trips_and_refuses_nonsense():
    w = POLICY.window_at("acme", "x", T)
    assert Window.from_keys(w.key, w.end.strftime("%Y%m%dT%H%M%SZ")) == w
    try:
        Window.from_keys(w.key, w.key)
    except ValueError as exc:
        assert "not after its start" in str(exc)
    else:
        raise AssertionError("an empty window was accepted")


# -- the sensor's decisions -------------------------------------------------------------------
def _due(slug: str = "acme", at: datetime = T) -> DueWindow:
    return DueWindow("ws_1", slug, "mastodon", POLICY.window_at(slug, "mastodon", at))


def _key(d: DueWindow) -> tuple[str, str, str]:
    return (d.workspace_slug, d.platform, d.window.key)


def test_one_request_per_window_and_none_while_its_run_lives():
    d = _due()
    first = plan_window_runs([d], {}, now=T, policy=POLICY)
    assert [r.run_key for r in first.requests] == [f"publish:acme:mastodon:{d.window.key}"]
    for state in (WAITING, RUNNING):
        run = SeenRun("r0", 0, state, started_at=T, heartbeat_at=T)
        plan = plan_window_runs([d], {_key(d): [run]}, now=T + timedelta(seconds=30), policy=POLICY)
        assert plan.requests == [] and plan.waiting == 1


def test_a_failed_run_is_replaced_once_under_a_new_key():
    d = _due()
    failed = [SeenRun("r0", 0, ENDED, started_at=T)]
    a = plan_window_runs([d], {_key(d): failed}, now=T, policy=POLICY)
    b = plan_window_runs([d], {_key(d): failed}, now=T + timedelta(seconds=10), policy=POLICY)
    assert [r.run_key for r in a.requests] == [r.run_key for r in b.requests]  # same key twice
    assert a.requests[0].run_key.endswith(":r1") and a.dead_runs == []
    # once its window is over, the next window's run takes what is left
    over = plan_window_runs([d], {_key(d): failed}, now=d.window.end, policy=POLICY)
    assert over.requests == []


def test_a_silent_run_is_dead_and_replaced():
    d = _due()
    beat = T - timedelta(seconds=46)
    silent = [SeenRun("r0", 0, RUNNING, started_at=T - timedelta(minutes=2), heartbeat_at=beat)]
    plan = plan_window_runs([d], {_key(d): silent}, now=T, policy=POLICY)
    assert plan.dead_runs == ["r0"]
    assert plan.requests[0].attempt == 1 and plan.requests[0].replaces == "r0"
    never_beat = [SeenRun("r0", 0, RUNNING, started_at=T - timedelta(seconds=10))]
    assert plan_window_runs([d], {_key(d): never_beat}, now=T, policy=POLICY).requests == []


def test_replacements_are_bounded():
    d = _due()
    runs = [SeenRun(f"r{i}", i, ENDED) for i in range(POLICY.max_replacements + 1)]
    plan = plan_window_runs([d], {_key(d): runs}, now=T, policy=POLICY)
    assert plan.requests == [] and plan.gave_up == 1


def test_due_windows_are_those_with_jobs(app, make):
    now = datetime.now(UTC).replace(microsecond=0)
    ws = make.workspace(slug="cafe-2", timezone=None)
    acc = make.account(ws)
    assert due_windows_of(app, now) == []  # no jobs: no window, so no empty run
    current = POLICY.window_at(ws.slug, "mastodon", now)
    make.jobs(ws, acc, 1, run_at=now + POLICY.length * 3)  # far ahead: not yet
    assert due_windows_of(app, now) == []
    make.jobs(ws, acc, 2, run_at=now - timedelta(minutes=20))  # overdue: the current window
    assert [d.window for d in due_windows_of(app, now)] == [current]
    following = Window(current.end, current.end + POLICY.length)
    make.jobs(ws, acc, 1, run_at=following.start + timedelta(seconds=1))
    in_lead = current.end - timedelta(seconds=30)
    assert [d.window for d in due_windows_of(app, in_lead)] == [current, following]
    assert [d.window for d in due_windows_of(app, current.end - POLICY.lead * 2)] == [current]
    with app.db.session() as s:  # an open breaker: no runs for the platform
        for _ in range(5):
            breaker.record_failure(
                s, "mastodon", now=now, error="down", policy=breaker.BreakerPolicy()
            )
    assert due_windows_of(app, now) == []


def due_windows_of(app, now: datetime) -> list[DueWindow]:  # type: ignore[no-untyped-def]
    with app.db.read() as s:
        return sorted(due_windows(s, now=now, policy=POLICY), key=lambda d: d.window.start)


# -- the window run --------------------------------------------------------------------------
class CreatesJobWhileRunning(FixedClock):
    """A simulated clock that, at the run's first pause, writes a new job (a user creating a
    post while the run is serving the window)."""

    def __init__(self, start: datetime, create) -> None:  # type: ignore[no-untyped-def]
        super().__init__(start)
        self.create = create
        self.created: list[str] = []

    async def sleep_until(self, when: datetime) -> None:
        if not self.created:
            self.created = await asyncio.to_thread(self.create)
        await super().sleep_until(when)


def test_window_run_claims_jobs_created_after_it_started_each_at_its_second(app, make):
    start = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    begins = POLICY.window_at("acme", "mastodon", start + timedelta(minutes=1)).start
    window = Window(begins, begins + timedelta(minutes=3))  # short: fewer simulated passes
    state = SandboxState(seed=1)
    ws = make.workspace()
    acc = make.account(ws, base_url="http://sandbox.test/mastodon")
    early = make.jobs(ws, acc, 1, run_at=window.start + timedelta(seconds=5), text="early")
    later_at = window.start + timedelta(seconds=90)
    past_end = make.jobs(ws, acc, 1, run_at=window.end + timedelta(seconds=1), text="next")
    clock = CreatesJobWhileRunning(
        window.start - timedelta(seconds=30),
        lambda: make.jobs(ws, acc, 1, run_at=later_at, text="written later ✨"),
    )
    loop = PublishLoop(
        app,
        owner="dagster:run-1",
        clock=clock,
        poll=POLICY.poll,
        scope=Scope(ws.id, "mastodon"),
        due_before=window.end,
        stop_at=POLICY.run_deadline(window),
        transport=SandboxTransport(create_app(state), timeout=5),
    )
    stats = asyncio.run(loop.run())
    assert stats.as_dict()["completed"] == 2 and stats.claimed == 2
    assert sorted(p.text for p in state.accepted("mastodon")) == ["early 0", "written later ✨ 0"]
    with app.db.read() as s:
        jobs = {j.id: j for j in s.scalars(select(PublishJob))}
        attempts = {a.job_id: a for a in s.scalars(select(PublishAttempt))}
    assert {jobs[i].status for i in early + clock.created} == {JobStatus.COMPLETED}
    assert jobs[past_end[0]].status == JobStatus.PENDING  # the next window's
    for job_id in early + clock.created:  # each published at its second, by this run
        late = ensure_utc(attempts[job_id].started_at) - ensure_utc(jobs[job_id].run_at)
        # simulated time: the run's own pauses move the clock while a call begins
        assert timedelta(0) <= late <= POLICY.poll, late
        assert attempts[job_id].lease_owner == "dagster:run-1"
    assert Counter(j.status for j in jobs.values()) == {
        JobStatus.COMPLETED: 2,
        JobStatus.PENDING: 1,
    }
    assert clock.now() >= window.end  # the run lasted its window


# -- carrying on into the next window --------------------------------------------------------
CARRY = WindowPolicy(
    length=timedelta(minutes=2),
    lead=timedelta(seconds=30),
    grace=timedelta(seconds=5),
    carry_ahead=timedelta(seconds=30),
    carry_margin=timedelta(seconds=10),
    max_windows=2,
)


def _carry_run(app, make, *, agree: bool, busy: bool = True):  # type: ignore[no-untyped-def]
    """A window run with the carry-on hook; jobs in its window (when busy), in the next one,
    and in the one after (past ``max_windows``)."""
    from postiz_pipelines.core.publishing.carry import CarryOn

    window = CARRY.window_at("acme", "mastodon", datetime(2026, 11, 28, 12, 0, tzinfo=UTC))
    following = CARRY.following(window)
    state = SandboxState(seed=1)
    ws = make.workspace()
    acc = make.account(ws, base_url="http://sandbox.test/mastodon")
    if busy:
        make.jobs(ws, acc, 1, run_at=window.start + timedelta(seconds=5), text="in its window")
    nxt = make.jobs(ws, acc, 1, run_at=following.start + timedelta(seconds=3), text="next ✨")
    beyond = make.jobs(ws, acc, 1, run_at=following.end + timedelta(seconds=1), text="beyond")
    asked: list[Window] = []

    def ask(w: Window) -> bool:
        asked.append(w)
        return agree

    clock = FixedClock(window.start - timedelta(seconds=2))
    scope = Scope(ws.id, "mastodon")
    carry = CarryOn(app, CARRY, window, scope, ask)
    loop = PublishLoop(
        app,
        owner="dagster:run-c",
        clock=clock,
        poll=CARRY.poll,
        scope=scope,
        due_before=window.end,
        stop_at=CARRY.run_deadline(window),
        transport=SandboxTransport(create_app(state), timeout=5),
        on_pass=carry,
    )
    carry.loop = loop
    stats = asyncio.run(loop.run())
    with app.db.read() as s:
        status = {j.id: j.status for j in s.scalars(select(PublishJob))}
    return stats, carry, asked, following, status[nxt[0]], status[beyond[0]], clock


def test_a_busy_run_carries_on_into_the_next_window_when_no_run_serves_it(app, make):
    stats, carry, asked, following, nxt, beyond, clock = _carry_run(app, make, agree=True)
    assert asked == [following]  # asked once, for the next window only
    assert carry.served == 2 and stats.as_dict()["completed"] == 2
    assert nxt == JobStatus.COMPLETED
    assert beyond == JobStatus.PENDING  # max_windows: a new run serves that one
    assert clock.now() >= following.end


def test_a_run_ends_with_its_window_when_another_run_serves_the_next(app, make):
    stats, carry, asked, following, nxt, beyond, _ = _carry_run(app, make, agree=False)
    assert asked == [following] and carry.served == 1
    assert stats.as_dict()["completed"] == 1 and nxt == JobStatus.PENDING


def test_an_idle_run_only_carries_on_for_jobs_already_in_the_next_window(app, make):
    stats, carry, asked, following, nxt, _, _ = _carry_run(app, make, agree=True, busy=False)
    assert asked == [following]  # nothing claimed, but the next window has a job
    assert nxt == JobStatus.COMPLETED and stats.claimed == 1


def test_covered_keys_follow_a_carried_window_end():
    w = CARRY.window_at("acme", "x", T)
    end = CARRY.following(CARRY.following(w)).end
    assert CARRY.covered_keys(w, w.end) == [w.key]
    assert CARRY.covered_keys(w, end) == [
        w.key,
        CARRY.following(w).key,
        CARRY.following(CARRY.following(w)).key,
    ]
    opens, closes = CARRY.carry_span(w)
    assert opens < closes <= w.end - CARRY.lead  # decided before the sensor asks
