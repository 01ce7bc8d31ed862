"""A window run carrying on into its partition's next window.

Starting a run costs a process start (seconds of CPU, minutes on a busy machine), which is
why the sensor asks for a window's run ahead of it. A run whose partition is busy does
better: once per window, inside ``WindowPolicy.carry_span`` (which closes before the sensor
would ask for the next window's run), it decides whether to serve the next window too:
- only if it claimed a job in this window, or the next window has jobs already (an idle
  partition lets its run end);
- only up to ``max_windows`` windows (a run is recycled now and then: new code, a fresh
  process);
- only if ``ask(next window)`` agrees, which the orchestrator's adapter answers by checking
  that no run exists for that window yet and then recording in the run's tags that this run
  serves it (so that the sensor counts it as that window's run and asks for none).
A run that reaches the span late (it started late, or its pass was slow) does not carry on:
the sensor may already be asking for the next window's run, and two runs would be one too
many (harmless, both claim under leases, but a process wasted).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select

from postiz_pipelines.core.context import AppContext
from postiz_pipelines.core.models import CLAIMABLE_JOB_STATES, PublishJob
from postiz_pipelines.core.publishing.loop import PublishLoop, Scope
from postiz_pipelines.core.publishing.windows import Window, WindowPolicy

Ask = Callable[[Window], bool]
log = logging.getLogger(__name__)


class CarryOn:
    """The loop's per-pass hook (``PublishLoop.on_pass``) that extends a window run."""

    def __init__(
        self, app: AppContext, policy: WindowPolicy, window: Window, scope: Scope, ask: Ask
    ) -> None:
        self.app = app
        self.policy = policy
        self.window = window  # the window being served now
        self.scope = scope
        self.ask = ask
        self.loop: PublishLoop | None = None
        self.served = 1
        self._decided = False
        self._claimed_before = 0

    def __call__(self, now: datetime) -> None:
        loop = self.loop
        if loop is None or self._decided or self.served >= self.policy.max_windows:
            return
        opens, closes = self.policy.carry_span(self.window)
        if now < opens:
            return
        self._decided = True  # once per window, whatever the answer
        if now >= closes:
            return  # too late: the sensor may be asking for the next window's run
        following = self.policy.following(self.window)
        busy = loop.stats.claimed > self._claimed_before or self._has_jobs(following)
        if not busy:
            return
        try:
            agreed = self.ask(following)
        except Exception:  # the orchestrator did not answer: end as planned, a run is asked for
            log.exception("could not carry on into window %s", following.key)
            return
        if not agreed:
            return
        loop.extend(due_before=following.end, stop_at=self.policy.run_deadline(following))
        self.window = following
        self.served += 1
        self._decided = False
        self._claimed_before = loop.stats.claimed

    def _has_jobs(self, window: Window) -> bool:
        q = select(PublishJob.id).where(
            PublishJob.status.in_(CLAIMABLE_JOB_STATES),
            PublishJob.next_attempt_at >= window.start,
            PublishJob.next_attempt_at < window.end,
        )
        if self.scope.workspace_id is not None:
            q = q.where(PublishJob.workspace_id == self.scope.workspace_id)
        if self.scope.platform is not None:
            q = q.where(PublishJob.platform == self.scope.platform)
        with self.app.db.read() as s:
            return s.scalar(q.limit(1)) is not None
