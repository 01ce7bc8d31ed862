"""Publish windows: each (workspace, platform) partition is served by one run per window.

Time is cut into windows of ``POSTIZ_PUBLISH_WINDOW_SECONDS`` (10 minutes by default). A
partition's run for a window is requested ``POSTIZ_LOOKAHEAD_SECONDS`` before the window
starts, so it is running when the first post falls due; it claims and publishes the
partition's jobs as they fall due through the window and ends when the window and its grace
(``POSTIZ_WINDOW_GRACE_SECONDS``) are over.

The windows of different partitions are shifted by a stable offset (a hash of the partition,
in whole seconds), so that the runs of 30 partitions start one every 10 s instead of 30 at
once: a run's start-up costs seconds of CPU, and 30 at the same instant would starve the runs
publishing the end of the previous windows.

The defaults (10 min windows, asked for 3 min ahead) come from the steady-load benchmark on a
busy 2-core machine, where a run took 1.5 to 6 minutes from its request to its start: shorter
windows launch more runs than such a machine starts, and a shorter lead starts them late.

A run whose partition is busy carries on into the next window instead of ending (up to
``max_windows`` windows, ``POSTIZ_RUN_MAX_WINDOWS``): it decides in its ``carry_span``, which
closes before the sensor would ask for the next window's run, and says so in its run tags
(the window end it now serves), so the sensor counts it as that window's run. A busy
partition then costs one process start an hour instead of one a window, and no post waits
for a run to start.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from postiz_pipelines.settings import Settings

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
KEY_FORMAT = "%Y%m%dT%H%M%SZ"


@dataclass(frozen=True)
class Window:
    """The half-open interval [start, end) of one partition's run."""

    start: datetime
    end: datetime

    @property
    def key(self) -> str:
        """The window's start, compact and sortable: part of the run key."""
        return self.start.strftime(KEY_FORMAT)

    def contains(self, at: datetime) -> bool:
        return self.start <= at < self.end

    @classmethod
    def from_keys(cls, start_key: str, end_key: str) -> Window:
        """The window named by its run tags (``postiz/window``, ``postiz/window_end``)."""
        start = datetime.strptime(start_key, KEY_FORMAT).replace(tzinfo=UTC)
        end = datetime.strptime(end_key, KEY_FORMAT).replace(tzinfo=UTC)
        if end <= start:
            raise ValueError(f"window end {end_key} is not after its start {start_key}")
        return cls(start, end)


@dataclass(frozen=True)
class WindowPolicy:
    """How long windows are, how early their runs are asked for, and when a run counts as
    dead (no heartbeat) so that the recovery rule replaces it."""

    length: timedelta = timedelta(minutes=10)
    lead: timedelta = timedelta(minutes=3)
    grace: timedelta = timedelta(seconds=30)
    poll: timedelta = timedelta(seconds=1)
    heartbeat_every: timedelta = timedelta(seconds=10)
    heartbeat_stale: timedelta = timedelta(seconds=45)
    max_replacements: int = 3
    stagger: bool = True
    max_windows: int = 6  # consecutive windows one run may serve
    carry_ahead: timedelta = timedelta(seconds=90)  # before the lead: when a run decides
    # a sensor tick in flight (seconds, tens of seconds under load) must see the decision
    carry_margin: timedelta = timedelta(seconds=45)

    @classmethod
    def from_settings(cls, s: Settings) -> WindowPolicy:
        """The policy from ``POSTIZ_PUBLISH_WINDOW_SECONDS``, ``POSTIZ_LOOKAHEAD_SECONDS``,
        ``POSTIZ_WINDOW_GRACE_SECONDS`` and ``POSTIZ_RUN_POLL_INTERVAL``."""
        return cls(
            length=timedelta(seconds=s.publish_window_seconds),
            lead=timedelta(seconds=s.lookahead_seconds),
            grace=timedelta(seconds=s.window_grace_seconds),
            poll=timedelta(milliseconds=s.run_poll_interval),
            max_windows=s.run_max_windows,
        )

    def offset(self, workspace_slug: str, platform: str) -> timedelta:
        """The partition's stable shift of its window boundaries, in [0, length)."""
        if not self.stagger:
            return timedelta(0)
        digest = hashlib.sha256(f"{workspace_slug}|{platform}".encode()).digest()
        return timedelta(
            seconds=int.from_bytes(digest[:8], "big") % int(self.length.total_seconds())
        )

    def window_at(self, workspace_slug: str, platform: str, at: datetime) -> Window:
        """The partition's window that contains ``at``."""
        length = int(self.length.total_seconds())
        shift = EPOCH + self.offset(workspace_slug, platform)
        n = int((at - shift).total_seconds() // length)
        start = shift + timedelta(seconds=n * length)
        return Window(start, start + self.length)

    def windows_to_serve(self, workspace_slug: str, platform: str, now: datetime) -> list[Window]:
        """The current window, and the next one once its lead has begun."""
        current = self.window_at(workspace_slug, platform, now)
        out = [current]
        if now >= current.end - self.lead:
            out.append(Window(current.end, current.end + self.length))
        return out

    def run_deadline(self, window: Window) -> datetime:
        """When a window's run stops, whatever is left: the end of the window and its grace."""
        return window.end + self.grace

    def following(self, window: Window) -> Window:
        """The window right after ``window``."""
        return Window(window.end, window.end + self.length)

    def carry_span(self, window: Window) -> tuple[datetime, datetime]:
        """When a run serving ``window`` decides whether it carries on into the next one:
        from ``carry_ahead`` before the next window's lead begins until ``carry_margin``
        before it (the sensor asks for the next window's run once the lead has begun)."""
        lead_begins = window.end - self.lead
        return lead_begins - self.carry_ahead, lead_begins - self.carry_margin

    def covered_keys(self, first: Window, end: datetime) -> list[str]:
        """The keys of the windows a run serves: from ``first`` (its run key's window) up to
        ``end`` (the end it carried on to)."""
        keys, start = [], first.start
        while start < end:
            keys.append(start.strftime(KEY_FORMAT))
            start += self.length
        return keys
