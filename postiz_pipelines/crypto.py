"""Sealing secrets at rest with AES-256-GCM, with key ids so keys can rotate.

A sealed value reads ``pz1.<kid>.<base64url(nonce || ciphertext || tag)>``. The first
key of the ring seals; any key of the ring opens. The associated data binds a sealed
value to its purpose (e.g. ``social_account:<id>:access``) so it cannot be moved.
"""

from __future__ import annotations

import base64
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from postiz_pipelines.errors import ConfigError, SealingError

VERSION = "pz1"


class Secret(str):
    """A string that never shows itself in ``repr`` or ``str`` formatting of containers."""

    def __repr__(self) -> str:
        return "Secret('**********')"

    def reveal(self) -> str:
        return str.__str__(self)


def _b64d(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def _b64e(value: bytes) -> str:
    return base64.urlsafe_b64encode(value).rstrip(b"=").decode()


@dataclass(frozen=True)
class _Key:
    kid: str
    aead: AESGCM
    raw: bytes

    def __repr__(self) -> str:  # never the key material
        return f"_Key(kid={self.kid!r})"


class Keyring:
    """Keys by id; the first one seals."""

    def __init__(self, keys: list[tuple[str, bytes]]) -> None:
        if not keys:
            raise ConfigError("POSTIZ_ENCRYPTION_KEY: at least one key is required")
        self._keys: dict[str, _Key] = {}
        for kid, raw in keys:
            if len(raw) != 32:
                raise ConfigError(
                    f"POSTIZ_ENCRYPTION_KEY: key {kid!r} is {len(raw)} bytes, AES-256 needs 32"
                )
            self._keys[kid] = _Key(kid, AESGCM(raw), raw)
        self.primary = keys[0][0]

    @classmethod
    def parse(cls, spec: str) -> Keyring:
        """Parse ``kid:base64key[,kid:base64key...]``."""
        keys: list[tuple[str, bytes]] = []
        for part in spec.split(","):
            part = part.strip()
            if not part:
                continue
            kid, sep, b64 = part.partition(":")
            if not sep or not kid.isalnum():
                raise ConfigError(
                    "POSTIZ_ENCRYPTION_KEY: each entry must read kid:base64key (kid alphanumeric)"
                )
            try:
                raw = _b64d(b64)
            except (ValueError, TypeError):
                raise ConfigError(f"POSTIZ_ENCRYPTION_KEY: key {kid!r} is not base64") from None
            keys.append((kid, raw))
        return cls(keys)

    @classmethod
    def local(cls, path: Path) -> Keyring:
        """A key kept in a file (created once, mode 0600): the embedded default."""
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(
                    f"local{secrets.token_hex(3)}:{_b64e(AESGCM.generate_key(bit_length=256))}\n"
                )
        return cls.parse(path.read_text().strip())

    @staticmethod
    def generate_spec(kid: str = "k1") -> str:
        return f"{kid}:{_b64e(AESGCM.generate_key(bit_length=256))}"

    def seal(self, plaintext: str, *, context: str) -> str:
        key = self._keys[self.primary]
        nonce = secrets.token_bytes(12)
        ct = key.aead.encrypt(nonce, plaintext.encode(), context.encode())
        return f"{VERSION}.{key.kid}.{_b64e(nonce + ct)}"

    def open(self, sealed: str, *, context: str) -> Secret:
        try:
            version, kid, body = sealed.split(".", 2)
        except ValueError:
            raise SealingError("sealed value is malformed") from None
        if version != VERSION:
            raise SealingError(f"unknown sealing version {version!r}")
        key = self._keys.get(kid)
        if key is None:
            raise SealingError(f"no key with id {kid!r} in POSTIZ_ENCRYPTION_KEY")
        raw = _b64d(body)
        try:
            return Secret(key.aead.decrypt(raw[:12], raw[12:], context.encode()).decode())
        except InvalidTag:
            raise SealingError("sealed value failed authentication") from None

    @property
    def kids(self) -> list[str]:
        """The key ids of the ring, the primary first."""
        return list(self._keys)

    def needs_reseal(self, sealed: str) -> bool:
        return sealed.split(".", 2)[1:2] != [self.primary]

    def __repr__(self) -> str:
        return f"Keyring(kids={list(self._keys)!r}, primary={self.primary!r})"
