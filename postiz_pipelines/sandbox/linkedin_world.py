"""What the LinkedIn emulator remembers beyond ``SandboxState``: the tokens its token
endpoint issued and the authorization codes used up, and the images and videos of the
Assets service with their video upload sessions.

The memory belongs to one state and is renewed after ``state.reset()``, so tokens and
assets made before a reset die with it.
"""

from __future__ import annotations

import hashlib
import weakref
from dataclasses import dataclass, field
from datetime import datetime

from postiz_pipelines.sandbox.state import SandboxState, StoredMedia

PLATFORM = "linkedin"


def token_digest(token: str) -> str:
    """The key a token is filed under in the memory: its SHA-256, in hex."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class Issued:
    """A token the token endpoint issued: the member it speaks for, and its end of life."""

    account_id: str
    expires_at: datetime


@dataclass
class VideoUpload:
    """A video upload session: its parts' ETags and the bytes received so far."""

    account_id: str
    size: int
    etags: list[str]
    parts: dict[int, bytes] = field(default_factory=dict)


@dataclass
class Asset:
    """An image or video as the Assets service tracks it: its owner URN and status."""

    owner: str
    status: str = "WAITING_UPLOAD"
    polls_left: int = 0  # status polls still answered PROCESSING


@dataclass
class LinkedInWorld:
    access: dict[str, Issued] = field(default_factory=dict)  # token digest -> member
    refresh: dict[str, Issued] = field(default_factory=dict)
    codes: set[str] = field(default_factory=set)
    assets: dict[str, Asset] = field(default_factory=dict)  # URN -> asset
    uploads: dict[str, VideoUpload] = field(default_factory=dict)  # video URN -> session


_WORLDS: weakref.WeakKeyDictionary[SandboxState, LinkedInWorld] = weakref.WeakKeyDictionary()
_WORLD_MARK = "~linkedin-world"


def linkedin_world(state: SandboxState) -> LinkedInWorld:
    """LinkedIn's own memory for ``state``, renewed after ``state.reset()``.

    A marker row in the state's media tells whether the state was reset since the memory
    was made (a reset forgets the marker), so tokens issued before a reset die with it.
    """
    with state.lock:
        world = _WORLDS.get(state)
        if world is None or state.media(PLATFORM, _WORLD_MARK) is None:
            world = _WORLDS[state] = LinkedInWorld()
            state.put_media(
                StoredMedia(PLATFORM, _WORLD_MARK, "", "", 0, "", state.now(), filename="marker")
            )
        return world
