"""Signed tokens of the emulators: base64url without padding and HMAC-SHA256 with a key
kept in the sandbox state, so a ``state.reset()`` invalidates every token issued before it.

The key is a marker row among the platform's media (``~token-signing-key``), created on
first use; each platform has its own, so a token of one emulator never opens another.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

from postiz_pipelines.sandbox.state import SandboxState, StoredMedia

_KEY_ROW = "~token-signing-key"


def b64url_encode(raw: bytes) -> str:
    """Base64url without ``=`` padding, as JWTs write it."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    """The bytes of unpadded base64url; ``ValueError`` when ``text`` is not base64url."""
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error as exc:
        raise ValueError(str(exc)) from None


def signing_key(state: SandboxState, platform: str) -> bytes:
    """The platform's key in ``state``, made on first use."""
    with state.lock:
        row = state.media(platform, _KEY_ROW)
        if row is None:
            row = state.put_media(
                StoredMedia(platform, _KEY_ROW, "", "", 0, secrets.token_hex(32), state.now())
            )
        return bytes.fromhex(row.sha256)


def sign(state: SandboxState, platform: str, data: bytes, *, length: int = 32) -> bytes:
    """HMAC-SHA256 of ``data`` under the platform's key, cut to ``length`` bytes."""
    return hmac.new(signing_key(state, platform), data, hashlib.sha256).digest()[:length]


def verify(
    state: SandboxState, platform: str, data: bytes, signature: bytes, *, length: int = 32
) -> bool:
    """Whether ``signature`` is ``sign(..., length=length)`` of ``data``, in constant time."""
    return hmac.compare_digest(signature, sign(state, platform, data, length=length))
