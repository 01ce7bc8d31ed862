"""Sealing tokens with AES-256-GCM: round trip, key rotation, binding to context, no leaks."""

from __future__ import annotations

import pytest

from postiz_pipelines.crypto import Keyring, Secret
from postiz_pipelines.errors import ConfigError, SealingError


def test_round_trip_and_secret_repr():
    ring = Keyring.parse(Keyring.generate_spec("k1"))
    sealed = ring.seal("xoxb-real-token", context="social_account:a:access")
    assert sealed.startswith("pz1.k1.") and "xoxb" not in sealed
    opened = ring.open(sealed, context="social_account:a:access")
    assert opened == "xoxb-real-token"
    assert "xoxb" not in repr(opened) and "xoxb" not in repr([opened])
    assert isinstance(opened, Secret)


def test_context_binding_refuses_a_moved_ciphertext():
    ring = Keyring.parse(Keyring.generate_spec())
    sealed = ring.seal("t", context="social_account:a:access")
    with pytest.raises(SealingError):
        ring.open(sealed, context="social_account:b:access")


def test_rotation_new_key_seals_old_key_still_opens():
    old = Keyring.generate_spec("old")
    new = Keyring.generate_spec("new")
    sealed_old = Keyring.parse(old).seal("t", context="c")
    rotated = Keyring.parse(f"{new},{old}")
    assert rotated.open(sealed_old, context="c") == "t"
    assert rotated.needs_reseal(sealed_old)
    assert rotated.seal("t", context="c").startswith("pz1.new.")
    with pytest.raises(SealingError, match="no key with id 'old'"):
        Keyring.parse(new).open(sealed_old, context="c")


def test_tampering_is_detected():
    ring = Keyring.parse(Keyring.generate_spec())
    sealed = ring.seal("token", context="c")
    body = sealed.rsplit(".", 1)[1]
    flipped = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1]
    with pytest.raises(SealingError):
        ring.open(sealed.rsplit(".", 1)[0] + "." + flipped, context="c")


@pytest.mark.parametrize("spec", ["", "nocolon", "k1:c2hvcnQ", "bad id:AAAA"])
def test_bad_key_specs_name_the_variable(spec):
    with pytest.raises(ConfigError, match="POSTIZ_ENCRYPTION_KEY"):
        Keyring.parse(spec)


def test_local_key_file_is_private_and_stable(tmp_path):
    path = tmp_path / "encryption.key"
    a = Keyring.local(path)
    b = Keyring.local(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert b.open(a.seal("x", context="c"), context="c") == "x"
