"""Discord's message reads: ``GET /api/v10/channels/{channel_id}/messages/{message_id}``
(a bot with access to the channel) and ``GET /api/webhooks/{id}/{token}/messages/{id}``
(also under ``/api/v10``; a webhook reads only the messages it sent). The message comes
with its ``reactions`` (``count``, ``count_details``, ``emoji``) and, once people replied in
a thread started from it, ``thread.message_count``, from the message's engagement (growing
with the sandbox clock: likes are reactions, two in three a 👍 and the rest 🎉; replies
the thread's messages). A message without reactions has no ``reactions`` key, as in
Discord. A message that is not there (deleted, never sent, another webhook's) is 404
``10008 Unknown Message``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from starlette.responses import JSONResponse, Response

from postiz_pipelines.sandbox.base import Call, endpoint
from postiz_pipelines.sandbox.discord_world import Channel, discord_world
from postiz_pipelines.sandbox.state import AcceptedPost, SandboxAccount, SandboxState, TokenStatus

if TYPE_CHECKING:
    from postiz_pipelines.sandbox.base import HttpError


def reactions(likes: int) -> list[dict[str, Any]]:
    split = [("👍", likes - likes // 3), ("🎉", likes // 3)]
    return [
        {
            "count": n,
            "count_details": {"burst": 0, "normal": n},
            "me": False,
            "me_burst": False,
            "burst_colors": [],
            "emoji": {"id": None, "name": name},
        }
        for name, n in split
        if n
    ]


class MessageReads:
    """Mixed into the Discord emulator."""

    name: ClassVar[str]
    state: SandboxState

    if TYPE_CHECKING:

        def fail(self, status: int, message: str, code: int, **extra: Any) -> HttpError: ...

        def _bot(self, call: Call) -> SandboxAccount: ...

        def _message_json(self, call: Call, post: AcceptedPost) -> dict[str, Any]: ...

    def _with_counts(self, call: Call, post: AcceptedPost | None, channel_id: str) -> Response:
        counts = self.state.engagement(self.name, post.remote_id) if post else None
        if post is None or counts is None or post.extra.get("channel_id") != channel_id:
            raise self.fail(404, "Unknown Message", 10008)
        message = self._message_json(call, post)
        if found := reactions(counts["likes"]):
            message["reactions"] = found
        if counts["replies"]:
            message["thread"] = {
                "id": post.remote_id,
                "type": 11,
                "parent_id": channel_id,
                "name": (post.text or "thread")[:100],
                "message_count": counts["replies"],
                "member_count": 1,
            }
        return JSONResponse(message)

    @endpoint("GET", "/api/v10/channels/{channel_id}/messages/{message_id}")
    async def get_message(self, call: Call) -> Response:
        self._bot(call)
        channel_id = call.request.path_params["channel_id"]
        post = self.state.post(self.name, call.request.path_params["message_id"])
        return self._with_counts(call, post, self._readable(channel_id))

    def _readable(self, channel_id: str) -> str:
        """The channel when the bot may read its history (sending may be off)."""
        if not channel_id.isdigit():
            raise self.fail(404, "Unknown Channel", 10003)
        channel = discord_world(self.state).channels.setdefault(channel_id, Channel(channel_id))
        if channel.deleted:
            raise self.fail(404, "Unknown Channel", 10003)
        if not channel.access:
            raise self.fail(403, "Missing Access", 50001)
        return channel.id

    @endpoint("GET", "/api/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}")
    async def webhook_message(self, call: Call) -> Response:
        return await self._webhook_message(call)

    @endpoint("GET", "/api/v10/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}")
    async def webhook_message_v10(self, call: Call) -> Response:
        return await self._webhook_message(call)

    async def _webhook_message(self, call: Call) -> Response:
        params = call.request.path_params
        auth = self.state.authenticate(self.name, params["webhook_token"])
        if auth.status is not TokenStatus.VALID:
            raise self.fail(404, "Unknown Webhook", 10015)
        post = self.state.post(self.name, params["message_id"])
        if post is not None and post.extra.get("webhook_id") != params["webhook_id"]:
            post = None
        return self._with_counts(call, post, str(post.extra["channel_id"]) if post else "")
