"""What the Slack emulator remembers beyond ``SandboxState``: the workspace's channels, the
external file uploads, and the tokens ``oauth.v2.access`` issued and the codes used up;
and the test controls of the channels.

Channels exist when first addressed, with the bot a member; a ``C…`` id is a public
channel, any other a private one. ``slack_channels(state)`` removes the bot from a
channel, archives it or deletes it. The memory belongs to one state and is renewed after
``state.reset()``.
"""

from __future__ import annotations

import hashlib
import weakref
from dataclasses import dataclass, field
from datetime import datetime

from postiz_pipelines.sandbox.state import SandboxState, StoredMedia

PLATFORM = "slack"


@dataclass
class Channel:
    id: str
    member: bool = True
    archived: bool = False
    deleted: bool = False

    @property
    def private(self) -> bool:
        return not self.id.startswith("C")


@dataclass
class FileUpload:
    """A file of the external upload: announced, then its bytes, then maybe shared."""

    file_id: str
    account_id: str
    filename: str
    length: int
    alt_text: str
    data: bytes | None = None
    share: tuple[str, str, str | None] | None = None  # channel, ts, thread_ts
    hidden_polls: int = 0  # files.info reads that do not show the share yet


@dataclass
class Issued:
    """A token ``oauth.v2.access`` issued: the bot it speaks for, until when, and whether
    it was revoked (a refresh token is, once used)."""

    account_id: str
    expires_at: datetime | None = None
    revoked: bool = False


@dataclass
class SlackWorld:
    channels: dict[str, Channel] = field(default_factory=dict)
    uploads: dict[str, FileUpload] = field(default_factory=dict)  # upload key -> upload
    files: dict[str, FileUpload] = field(default_factory=dict)  # file id -> upload
    access: dict[str, Issued] = field(default_factory=dict)  # token digest -> bot
    refresh: dict[str, Issued] = field(default_factory=dict)
    codes: set[str] = field(default_factory=set)


_WORLDS: weakref.WeakKeyDictionary[SandboxState, SlackWorld] = weakref.WeakKeyDictionary()
_WORLD_MARK = "~slack-world"


def slack_world(state: SandboxState) -> SlackWorld:
    """Slack's own memory for ``state``, renewed after ``state.reset()`` (a marker row in
    the state's media tells whether the state was reset since the memory was made)."""
    with state.lock:
        world = _WORLDS.get(state)
        if world is None or state.media(PLATFORM, _WORLD_MARK) is None:
            world = _WORLDS[state] = SlackWorld()
            state.put_media(StoredMedia(PLATFORM, _WORLD_MARK, "", "", 0, "", state.now()))
        return world


def token_digest(token: str) -> str:
    """The key a token is filed under in the memory: its SHA-256, in hex."""
    return hashlib.sha256(token.encode()).hexdigest()


class SlackChannels:
    """Test controls of the channels a sandbox state knows; see the module docstring."""

    def __init__(self, state: SandboxState) -> None:
        self._state = state

    def _channel(self, channel_id: str) -> Channel:
        return slack_world(self._state).channels.setdefault(channel_id, Channel(channel_id))

    def remove_bot(self, channel_id: str) -> None:
        self._channel(channel_id).member = False

    def archive(self, channel_id: str) -> None:
        self._channel(channel_id).archived = True

    def delete(self, channel_id: str) -> None:
        self._channel(channel_id).deleted = True


def slack_channels(state: SandboxState) -> SlackChannels:
    """The channel controls of ``state`` (see ``SlackChannels``)."""
    return SlackChannels(state)
