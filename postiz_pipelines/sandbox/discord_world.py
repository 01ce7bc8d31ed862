"""What the Discord emulator remembers beyond ``SandboxState``: the channels (their state
and who last sent when, for slowmode) and the channel each webhook posts to; and the test
controls of the channels.

Channels exist when first addressed; ``discord_channels(state)`` deletes them (``10003``),
takes away the bot's access (``50001``) or its permission to send (``50013``), or sets a
slowmode (``20016``). The memory belongs to one state and is renewed after
``state.reset()``.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from datetime import datetime

from postiz_pipelines.sandbox.state import SandboxState, StoredMedia

PLATFORM = "discord"


@dataclass
class Channel:
    id: str
    deleted: bool = False
    access: bool = True
    can_send: bool = True
    slowmode_seconds: int = 0
    last_sent: dict[str, datetime] = field(default_factory=dict)  # author id -> instant


@dataclass
class DiscordWorld:
    channels: dict[str, Channel] = field(default_factory=dict)
    webhook_channels: dict[str, str] = field(default_factory=dict)


_WORLDS: weakref.WeakKeyDictionary[SandboxState, DiscordWorld] = weakref.WeakKeyDictionary()
_WORLD_MARK = "~discord-world"


def discord_world(state: SandboxState) -> DiscordWorld:
    """Discord's own memory for ``state``, renewed after ``state.reset()`` (a marker row in
    the state's media tells whether the state was reset since the memory was made)."""
    with state.lock:
        world = _WORLDS.get(state)
        if world is None or state.media(PLATFORM, _WORLD_MARK) is None:
            world = _WORLDS[state] = DiscordWorld()
            state.put_media(StoredMedia(PLATFORM, _WORLD_MARK, "", "", 0, "", state.now()))
        return world


class DiscordChannels:
    """Test controls of the channels a sandbox state knows; see the module docstring."""

    def __init__(self, state: SandboxState) -> None:
        self._state = state

    def _channel(self, channel_id: str) -> Channel:
        return discord_world(self._state).channels.setdefault(channel_id, Channel(channel_id))

    def delete(self, channel_id: str) -> None:
        self._channel(channel_id).deleted = True

    def deny_access(self, channel_id: str) -> None:
        self._channel(channel_id).access = False

    def deny_sending(self, channel_id: str) -> None:
        self._channel(channel_id).can_send = False

    def slowmode(self, channel_id: str, seconds: int) -> None:
        self._channel(channel_id).slowmode_seconds = seconds


def discord_channels(state: SandboxState) -> DiscordChannels:
    """The channel controls of ``state`` (see ``DiscordChannels``)."""
    return DiscordChannels(state)
