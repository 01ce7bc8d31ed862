"""Memory an emulator keeps beyond ``SandboxState``, renewed when the state is reset.

``world(state, platform, factory)`` returns the platform's own memory object for ``state``
(made by ``factory`` on first use). A marker row in the state's media tells whether the
state was reset since the memory was made (a reset forgets the marker), so whatever was
issued before a reset (tokens, upload sessions) dies with it.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from postiz_pipelines.sandbox.state import SandboxState, StoredMedia

T = TypeVar("T")

_WORLDS: weakref.WeakKeyDictionary[SandboxState, dict[str, Any]] = weakref.WeakKeyDictionary()


def world(state: SandboxState, platform: str, factory: Callable[[], T]) -> T:
    """``platform``'s memory for ``state``; a new one after ``state.reset()``."""
    mark = f"~{platform}-world"
    with state.lock:
        worlds = _WORLDS.setdefault(state, {})
        found = worlds.get(platform)
        if found is None or state.media(platform, mark) is None:
            found = worlds[platform] = factory()
            state.put_media(
                StoredMedia(platform, mark, "", "", 0, "", state.now(), filename="marker")
            )
        return found
