"""Slack's ``reactions.get`` (``channel``, ``timestamp``; a read, so GET or POST): the
message with its ``reactions`` (``name``, ``count``, ``users``) and, once people replied in
its thread, ``reply_count``, from the message's engagement (growing with the sandbox
clock: likes are reactions, two in three a ``+1`` and the rest ``tada``; replies are thread
replies). A message without any has no ``reactions`` key, as in Slack. A message that is
not in the channel (deleted, never posted) is ``message_not_found``. Tier 3: 50 calls a
minute per workspace, past that HTTP 429 ``ratelimited`` with ``Retry-After``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from starlette.responses import Response

from postiz_pipelines.sandbox.base import Call, HttpError, endpoint
from postiz_pipelines.sandbox.state import SandboxAccount, SandboxState

if TYPE_CHECKING:
    from postiz_pipelines.sandbox.slack_world import Channel

READ_LIMIT = (50, 60.0)


def reactions(likes: int) -> list[dict[str, Any]]:
    """``likes`` reactions as Slack lists them (users shown for at most ten)."""
    split = [("+1", likes - likes // 3), ("tada", likes // 3)]
    return [
        {"name": name, "count": n, "users": [f"U{i:08d}" for i in range(1, min(n, 10) + 1)]}
        for name, n in split
        if n
    ]


class ReactionEndpoints:
    """Mixed into the Slack emulator."""

    name: ClassVar[str]
    state: SandboxState

    if TYPE_CHECKING:

        def fail(self, error: str, **extra: Any) -> HttpError: ...

        @staticmethod
        def ok(**body: Any) -> Response: ...

        @staticmethod
        def _ratelimited(seconds: int) -> Response: ...

        async def _params(self, call: Call) -> dict[str, Any]: ...

        def _bot(self, call: Call, params: dict[str, Any]) -> SandboxAccount: ...

        def _channel(self, channel_id: str, *, write: bool = True) -> Channel: ...

    @endpoint("GET", "/api/reactions.get")
    async def reactions_get(self, call: Call) -> Response:
        return await self._reactions(call)

    @endpoint("POST", "/api/reactions.get")
    async def reactions_post(self, call: Call) -> Response:
        return await self._reactions(call)

    async def _reactions(self, call: Call) -> Response:
        params = await self._params(call)
        bot = self._bot(call, params)
        channel = self._channel(str(params.get("channel") or ""), write=False)
        window = self.state.hit_rate_limit(
            self.name, "reads", bot.id, limit=READ_LIMIT[0], per_seconds=READ_LIMIT[1]
        )
        if window.exceeded:
            seconds = max(1, int((window.reset_at - self.state.now()).total_seconds()))
            raise HttpError(self._ratelimited(seconds))
        ts = str(params.get("timestamp") or "")
        if not ts:
            raise self.fail("no_item_specified")
        post = self.state.post(self.name, ts)
        counts = self.state.engagement(self.name, ts)
        if post is None or counts is None or post.extra.get("channel") != channel.id:
            raise self.fail("message_not_found")
        message: dict[str, Any] = {
            "type": "message",
            "text": post.text,
            "user": f"U{bot.id:0>8}",
            "bot_id": f"B{bot.id:0>8}",
            "ts": ts,
            "team": "T0SANDBOX",
        }
        if found := reactions(counts["likes"]):
            message["reactions"] = found
        if counts["replies"]:
            message.update(thread_ts=ts, reply_count=counts["replies"], reply_users_count=1)
        return self.ok(type="message", channel=channel.id, message=message)
