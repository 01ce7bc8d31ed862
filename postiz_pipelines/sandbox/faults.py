"""Fault injection for the sandbox, per platform.

A ``FaultSpec`` says what should go wrong on one platform: added latency, random errors
by status (drawn from a seeded RNG, so a run is reproducible), a burst of 429s with a
reset instant, requests that never get an answer, publishes that are recorded and then
lose their connection, token requests refused as ``invalid_grant``, or a full outage.
``Faults`` holds the active spec of every platform and makes the per-request decision;
counted faults (bursts, timeouts, drops, refusals) are consumed as they fire. ``-1`` as a
count means "every matching request".
"""

from __future__ import annotations

import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from typing import Any

from postiz_pipelines.clock import Clock

FOREVER = -1


class ConnectionDropped(Exception):  # noqa: N818 - it names an event, not a failure of ours
    """Raised by the sandbox app after it started a response it will never finish.

    ``SandboxTransport`` turns it into ``httpx.RemoteProtocolError``; under uvicorn it
    makes the server close the TCP connection mid-response.
    """


@dataclass(frozen=True)
class FaultSpec:
    """What goes wrong on one platform; the defaults mean "nothing"."""

    latency_ms: int = 0
    error_rates: Mapping[int, float] = field(default_factory=dict)  # status -> probability
    seed: int | None = None
    burst_429: int = 0  # the next N matching requests answer 429
    burst_reset_seconds: float = 60.0  # ...with a reset this far after the burst was set
    timeouts: int = 0  # the next N matching requests hang until the client gives up
    drops: int = 0  # the next N successful publishes are recorded, then the connection drops
    outage: bool = False  # every matching request answers 503
    # the next N matching requests are refused as an OAuth token endpoint refuses a grant it
    # no longer honours (invalid_grant, in the platform's own shape): a revocation on demand
    invalid_grants: int = 0
    endpoints: frozenset[str] | None = None  # e.g. {"POST /api/v1/statuses"}; None: all

    def __post_init__(self) -> None:
        for name in ("latency_ms", "burst_429", "timeouts", "drops", "invalid_grants"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < FOREVER:
                raise ValueError(f"{name} must be an integer >= -1, got {value!r}")
        if self.latency_ms < 0:
            raise ValueError(f"latency_ms must be >= 0, got {self.latency_ms!r}")
        if self.burst_reset_seconds < 0:
            raise ValueError(f"burst_reset_seconds must be >= 0, got {self.burst_reset_seconds!r}")
        rates: dict[int, float] = {}
        for status, rate in dict(self.error_rates).items():
            code = int(status)
            if not 400 <= code <= 599:
                raise ValueError(f"error_rates: {status!r} is not an HTTP error status")
            if not 0.0 <= float(rate) <= 1.0:
                raise ValueError(f"error_rates[{code}] must be within 0..1, got {rate!r}")
            rates[code] = float(rate)
        if sum(rates.values()) > 1.0 + 1e-9:
            raise ValueError(f"error_rates add up to {sum(rates.values()):g}, more than 1")
        object.__setattr__(self, "error_rates", rates)
        if self.endpoints is not None:
            object.__setattr__(self, "endpoints", frozenset(self.endpoints))

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FaultSpec:
        """Build a spec from a control-API body; unknown keys and bad values raise ValueError."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown fault field(s): {', '.join(unknown)}")
        values = dict(data)
        if "error_rates" in values:
            values["error_rates"] = {int(k): v for k, v in dict(values["error_rates"]).items()}
        if values.get("endpoints") is not None:
            values["endpoints"] = frozenset(values["endpoints"])
        try:
            return cls(**values)
        except TypeError as exc:
            raise ValueError(str(exc)) from None

    def as_json(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["error_rates"] = {str(k): v for k, v in self.error_rates.items()}
        out["endpoints"] = None if self.endpoints is None else sorted(self.endpoints)
        return out

    def applies_to(self, endpoint: str) -> bool:
        return self.endpoints is None or endpoint in self.endpoints


@dataclass(frozen=True)
class FaultDecision:
    """What the sandbox does with one request before (or instead of) handling it."""

    delay_seconds: float = 0.0
    hang: bool = False
    status: int | None = None  # answer with this error instead of handling the request
    reset_at: datetime | None = None  # for a 429: when the burst's window ends
    refuse_grant: bool = False  # answer as the platform refuses a dead grant


NO_FAULT = FaultDecision()


@dataclass
class _Active:
    spec: FaultSpec
    rng: random.Random
    burst_reset_at: datetime | None


def _take(count: int) -> tuple[bool, int]:
    """Consume one unit of a counted fault: (fires, remaining)."""
    if count == FOREVER:
        return True, FOREVER
    if count > 0:
        return True, count - 1
    return False, 0


class Faults:
    """The active ``FaultSpec`` of each platform, and the per-request decisions."""

    def __init__(self, clock: Clock, *, default_seed: int | None = None) -> None:
        self._clock = clock
        self._default_seed = default_seed
        self._lock = threading.Lock()
        self._active: dict[str, _Active] = {}

    def set(self, platform: str, spec: FaultSpec | None = None, **fields_: Any) -> FaultSpec:
        """Replace the platform's faults with ``spec`` or with a spec built from keywords."""
        if spec is not None and fields_:
            raise TypeError("pass either a FaultSpec or keyword fields, not both")
        spec = spec if spec is not None else FaultSpec(**fields_)
        seed = spec.seed if spec.seed is not None else self._default_seed
        reset_at = self._clock.now() + timedelta(seconds=spec.burst_reset_seconds)
        with self._lock:
            self._active[platform] = _Active(spec, random.Random(seed), reset_at)
        return spec

    def get(self, platform: str) -> FaultSpec:
        """The platform's current spec, with the counts that are left."""
        with self._lock:
            active = self._active.get(platform)
            return active.spec if active else FaultSpec()

    def reset(self, platform: str | None = None) -> None:
        """Clear the faults of one platform, or of all of them."""
        with self._lock:
            if platform is None:
                self._active.clear()
            else:
                self._active.pop(platform, None)

    def decide(self, platform: str, endpoint: str) -> FaultDecision:
        """The fault for one request; consumes counted faults and one RNG draw."""
        with self._lock:
            active = self._active.get(platform)
            if active is None or not active.spec.applies_to(endpoint):
                return NO_FAULT
            spec = active.spec
            delay = spec.latency_ms / 1000
            if spec.outage:
                return FaultDecision(delay, status=503)
            fires, left = _take(spec.timeouts)
            if fires:
                active.spec = replace(spec, timeouts=left)
                return FaultDecision(delay, hang=True)
            fires, left = _take(spec.invalid_grants)
            if fires:
                active.spec = replace(spec, invalid_grants=left)
                return FaultDecision(delay, refuse_grant=True)
            fires, left = _take(spec.burst_429)
            if fires:
                active.spec = replace(spec, burst_429=left)
                return FaultDecision(delay, status=429, reset_at=active.burst_reset_at)
            if spec.error_rates:
                draw = active.rng.random()
                cumulative = 0.0
                for status in sorted(spec.error_rates):
                    cumulative += spec.error_rates[status]
                    if draw < cumulative:
                        return FaultDecision(delay, status=status)
            return FaultDecision(delay)

    def take_drop(self, platform: str, endpoint: str) -> bool:
        """Whether this successful publish loses its connection; consumes one drop."""
        with self._lock:
            active = self._active.get(platform)
            if active is None or not active.spec.applies_to(endpoint):
                return False
            fires, left = _take(active.spec.drops)
            if fires:
                active.spec = replace(active.spec, drops=left)
            return fires
