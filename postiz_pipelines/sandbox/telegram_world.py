"""What the Telegram emulator remembers beyond ``SandboxState``: the chats its bots write
to and the files they sent (so a ``file_id`` can be sent again); and the test controls of
the chats.

Chats exist as soon as they are addressed: a positive id is a private chat, ``-100…`` a
supergroup, another negative id a basic group, ``@name`` a channel.
``telegram_chats(state)`` steers them in tests: upgrade a group to a supergroup (the old
id then answers ``migrate_to_chat_id``), remove the bot (403), or delete the chat (``chat
not found``). The memory belongs to one state and is renewed after ``state.reset()``.
"""

from __future__ import annotations

import hashlib
import weakref
from dataclasses import dataclass, field
from typing import Any

from postiz_pipelines.sandbox.state import SandboxState, StoredMedia

PLATFORM = "telegram"


@dataclass
class Chat:
    id: int | str
    type: str  # private | group | supergroup | channel
    next_message_id: int = 1
    migrated_to: int | None = None
    bot_removed: bool = False
    deleted: bool = False

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "type": self.type}
        if self.type == "private":
            out["first_name"] = f"User {self.id}"
        elif isinstance(self.id, str):  # a public channel addressed by @name
            number = int(hashlib.sha256(self.id.encode()).hexdigest()[:8], 16)
            out.update(id=-1_000_000_000_000 - number, username=self.id[1:], title=self.id[1:])
        else:
            out["title"] = f"Chat {self.id}"
        return out


@dataclass
class TelegramWorld:
    chats: dict[int | str, Chat] = field(default_factory=dict)
    files: dict[str, StoredMedia] = field(default_factory=dict)  # file_id -> upload


_WORLDS: weakref.WeakKeyDictionary[SandboxState, TelegramWorld] = weakref.WeakKeyDictionary()
_WORLD_MARK = "~telegram-world"


def telegram_world(state: SandboxState) -> TelegramWorld:
    """Telegram's own memory for ``state``, renewed after ``state.reset()`` (a marker row in
    the state's media tells whether the state was reset since the memory was made)."""
    with state.lock:
        world = _WORLDS.get(state)
        if world is None or state.media(PLATFORM, _WORLD_MARK) is None:
            world = _WORLDS[state] = TelegramWorld()
            state.put_media(StoredMedia(PLATFORM, _WORLD_MARK, "", "", 0, "", state.now()))
        return world


def chat_type(chat_id: int | str) -> str:
    """The type of the chat an id names (see the module docstring)."""
    if isinstance(chat_id, str):
        return "channel"
    if chat_id > 0:
        return "private"
    return "supergroup" if str(chat_id).startswith("-100") else "group"


def parse_chat_id(value: Any) -> int | str | None:
    """A ``chat_id`` parameter as a number or an ``@name``; None when it is neither."""
    text = str(value if value is not None else "").strip()
    if not text:
        return None
    if text.startswith("@"):
        return text
    try:
        return int(text)
    except ValueError:
        return None


class TelegramChats:
    """Test controls of the chats a sandbox state knows; see the module docstring."""

    def __init__(self, state: SandboxState) -> None:
        self._state = state

    def _chat(self, chat_id: int | str) -> Chat:
        world = telegram_world(self._state)
        return world.chats.setdefault(chat_id, Chat(chat_id, chat_type(chat_id)))

    def upgrade(self, chat_id: int) -> int:
        """Turn a basic group into a supergroup; returns the supergroup's new id."""
        chat = self._chat(chat_id)
        if chat.type != "group":
            raise ValueError(f"chat {chat_id} is a {chat.type}, only a group can be upgraded")
        chat.migrated_to = int(f"-100{abs(chat_id)}")
        return chat.migrated_to

    def remove_bot(self, chat_id: int | str) -> None:
        """The bot is kicked from a group or channel, or blocked by a private chat's user."""
        self._chat(chat_id).bot_removed = True

    def delete(self, chat_id: int | str) -> None:
        """The chat no longer exists: every call to it answers ``chat not found``."""
        self._chat(chat_id).deleted = True


def telegram_chats(state: SandboxState) -> TelegramChats:
    """The chat controls of ``state`` (see ``TelegramChats``)."""
    return TelegramChats(state)
