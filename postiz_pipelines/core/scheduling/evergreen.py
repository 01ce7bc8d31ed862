"""Evergreen libraries: reusable posts in categories, published from a weekly timetable.

At each slot instant of the workspace's timetable the slot's category gives one post:
among the posts that are eligible then (created, not expired, under ``max_uses``, out of
their cooldown), the least recently published one, ties by creation order. With
``shuffle`` on, the order within each round of the category is a seeded random draw
instead, still once per post per round, so publication counts stay within one of each
other either way. A paused category gives no post.

Each account receives the variation that follows the one it last received of that post,
skipping variations whose text equals the last one, so an account never gets the same
text twice in a row from a post. Everything here is pure: the plan returns the picks and
the library as it stands after them, for the caller to store.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from postiz_pipelines.core.scheduling.recurrence import aware_problem
from postiz_pipelines.core.scheduling.slots import entry_problems, parse_local_time, weekly_instants
from postiz_pipelines.errors import Problem, ValidationFailed

_NEVER = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class EvergreenPost:
    """A reusable post and its publication record.

    ``uses`` counts slot publications; ``last_variation_by_account`` maps an account id to
    the index of the variation it last received; ``cooldown`` overrides the library's.
    """

    id: str
    category: str
    variations: tuple[str, ...]
    created_at: datetime
    uses: int = 0
    max_uses: int | None = None
    last_published_at: datetime | None = None
    expires_at: datetime | None = None
    cooldown: timedelta | None = None
    last_variation_by_account: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class EvergreenSlot:
    """A timetable entry: weekday (0 = Monday), local "HH:MM", and the category it draws from."""

    weekday: int
    time: str
    category: str


@dataclass(frozen=True)
class EvergreenRules:
    """How a workspace's library is drawn: default cooldown, shuffle and its seed, pauses."""

    cooldown: timedelta = timedelta(0)
    shuffle: bool = False
    seed: int | str = 0
    paused_categories: frozenset[str] = frozenset()


@dataclass(frozen=True)
class EvergreenPick:
    """One publication to make: ``post_id``'s variation ``variation`` to ``account_id``."""

    slot_at: datetime
    category: str
    post_id: str
    account_id: str
    variation: int


@dataclass(frozen=True)
class EvergreenSkip:
    """A slot that gave nothing, and why: ``paused`` or ``no_eligible_post``."""

    slot_at: datetime
    category: str
    reason: str


@dataclass(frozen=True)
class EvergreenPlan:
    """The picks of a window, the slots that gave nothing, and the library afterwards."""

    picks: list[EvergreenPick]
    skipped: list[EvergreenSkip]
    posts: list[EvergreenPost]


def validate_timetable(timetable: Sequence[EvergreenSlot]) -> list[Problem]:
    """Problems of a timetable, naming ``timetable[i].weekday`` / ``.time`` / ``.category``."""
    problems: list[Problem] = []
    seen: set[tuple[int, time, str]] = set()
    for i, slot in enumerate(timetable):
        where = f"timetable[{i}]"
        own = entry_problems(slot, where)
        if not isinstance(slot.category, str) or not slot.category.strip():
            own.append(Problem(f"{where}.category", "must name a category"))
        problems.extend(own)
        moment = parse_local_time(slot.time)
        if own or moment is None:
            continue
        if (slot.weekday, moment, slot.category) in seen:
            problems.append(Problem(where, "repeats an earlier slot", value=slot.time))
        seen.add((slot.weekday, moment, slot.category))
    return problems


def validate_library(posts: Sequence[EvergreenPost]) -> list[Problem]:
    """Problems of a library, naming ``posts[i].<field>``."""
    problems: list[Problem] = []
    ids: set[str] = set()
    for i, post in enumerate(posts):
        where = f"posts[{i}]"
        if post.id in ids:
            problems.append(Problem(f"{where}.id", "repeats an earlier post", value=post.id))
        ids.add(post.id)
        if not post.category:
            problems.append(Problem(f"{where}.category", "must name a category"))
        if not post.variations or any(not text.strip() for text in post.variations):
            problems.append(
                Problem(f"{where}.variations", "needs at least one text, none of them blank")
            )
        if post.max_uses is not None and post.max_uses < 1:
            problems.append(
                Problem(f"{where}.max_uses", "must be at least 1", value=post.max_uses, limit=1)
            )
        if post.uses < 0:
            problems.append(Problem(f"{where}.uses", "must not be negative", value=post.uses))
        if post.cooldown is not None and post.cooldown < timedelta(0):
            problems.append(Problem(f"{where}.cooldown", "must not be negative"))
        for name in ("created_at", "expires_at", "last_published_at"):
            value = getattr(post, name)
            if value is not None:
                issue = aware_problem(value, f"{where}.{name}")
                if issue is not None:
                    problems.append(issue)
    return problems


def slot_instants(
    timetable: Sequence[EvergreenSlot],
    zone: ZoneInfo,
    window_start: datetime,
    window_end: datetime,
) -> list[tuple[datetime, EvergreenSlot]]:
    """Each slot's instants (UTC) in ``[window_start, window_end)``, by instant then order.

    A category fires once per instant even if a DST gap shifts two of its slots together.
    """
    problems = validate_timetable(timetable)
    if problems:
        raise ValidationFailed(problems)
    found: list[tuple[datetime, EvergreenSlot]] = []
    seen: set[tuple[datetime, str]] = set()
    for instant, index in weekly_instants(timetable, zone, window_start, window_end):
        slot = timetable[index]
        if (instant, slot.category) not in seen:
            seen.add((instant, slot.category))
            found.append((instant, slot))
    return found


def is_eligible(post: EvergreenPost, at: datetime, rules: EvergreenRules) -> bool:
    """Whether ``post`` may be published at ``at``: created, unexpired, under max uses, cooled."""
    if post.created_at > at:
        return False
    if post.expires_at is not None and at >= post.expires_at:
        return False
    if post.max_uses is not None and post.uses >= post.max_uses:
        return False
    cooldown = rules.cooldown if post.cooldown is None else post.cooldown
    return post.last_published_at is None or at - post.last_published_at >= cooldown


def _recency(post: EvergreenPost) -> tuple[datetime, datetime, str]:
    return (post.last_published_at or _NEVER, post.created_at, post.id)


def pick_post(
    posts: Sequence[EvergreenPost], category: str, at: datetime, rules: EvergreenRules
) -> EvergreenPost | None:
    """The post ``category`` gives at ``at``, or None when paused or nothing is eligible."""
    if category in rules.paused_categories:
        return None
    members = [post for post in posts if post.category == category]
    ready = sorted((post for post in members if is_eligible(post, at, rules)), key=_recency)
    if not ready:
        return None
    if not rules.shuffle:
        return ready[0]
    # A round gives each ready post once. Its position is read from the uses so far, so
    # the draw needs no stored state and replays identically.
    total = sum(post.uses for post in members)
    done = total % len(ready)
    if done == 0 and total and len(ready) > 1:
        done = 1  # a new round must not open with the post that closed the last one
    rng = random.Random(f"{rules.seed}:{category}:{total}")
    return rng.choice(ready[: len(ready) - done])


def choose_variation(post: EvergreenPost, account_id: str) -> int:
    """The variation index ``account_id`` gets next: the one after its last, skipping repeats."""
    last = post.last_variation_by_account.get(account_id)
    size = len(post.variations)
    if last is None or not 0 <= last < size:
        return 0
    for step in range(1, size + 1):
        candidate = (last + step) % size
        if post.variations[candidate].strip() != post.variations[last].strip():
            return candidate
    return (last + 1) % size


def record_publication(
    post: EvergreenPost, at: datetime, variations: Mapping[str, int]
) -> EvergreenPost:
    """``post`` after being published at ``at`` with ``variations`` (account id -> index)."""
    return replace(
        post,
        uses=post.uses + 1,
        last_published_at=at,
        last_variation_by_account={**post.last_variation_by_account, **variations},
    )


def plan_evergreen(
    posts: Sequence[EvergreenPost],
    timetable: Sequence[EvergreenSlot],
    *,
    zone: ZoneInfo,
    accounts: Sequence[str],
    window_start: datetime,
    window_end: datetime,
    rules: EvergreenRules | None = None,
) -> EvergreenPlan:
    """The picks of every timetable slot in ``[window_start, window_end)``, in slot order.

    Each pick is recorded on the library before the next slot is drawn; the returned
    ``posts`` (same order as given) are what the caller stores. Planning the same window
    from the same library gives the same plan. Raises ``ValidationFailed`` on bad input.
    """
    rules = rules or EvergreenRules()
    problems = validate_library(posts)
    if not accounts:
        problems.append(Problem("accounts", "an evergreen library needs at least one account"))
    if problems:
        raise ValidationFailed(problems)
    library = list(posts)
    position = {post.id: i for i, post in enumerate(library)}
    picks: list[EvergreenPick] = []
    skipped: list[EvergreenSkip] = []
    for at, slot in slot_instants(timetable, zone, window_start, window_end):
        post = pick_post(library, slot.category, at, rules)
        if post is None:
            reason = "paused" if slot.category in rules.paused_categories else "no_eligible_post"
            skipped.append(EvergreenSkip(at, slot.category, reason))
            continue
        chosen = {account: choose_variation(post, account) for account in accounts}
        picks.extend(
            EvergreenPick(at, slot.category, post.id, account, index)
            for account, index in chosen.items()
        )
        library[position[post.id]] = record_publication(post, at, chosen)
    return EvergreenPlan(picks, skipped, library)
