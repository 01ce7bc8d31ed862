"""Meta's ``signed_request`` (deauthorize callbacks) verified by a pure function: a good one
gives its payload; a missing, malformed, tampered, wrongly keyed or wrong-algorithm one is
refused with a reason naming what is wrong, and never echoes the secret."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest

from postiz_pipelines.core.observability.inbound_signatures import Refused, parse_signed_request

SECRET = "app-secret-ü".encode()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def signed_request(payload: Any, key: bytes = SECRET) -> str:
    body = b64url(json.dumps(payload, ensure_ascii=False).encode())
    return b64url(hmac.new(key, body.encode(), hashlib.sha256).digest()) + "." + body


GOOD = {"algorithm": "HMAC-SHA256", "issued_at": 1764331200, "user_id": "10215", "name": "Zoë ✨"}


def refused(value: str | None) -> Refused:
    with pytest.raises(Refused) as caught:
        parse_signed_request(value, SECRET, "facebook")
    assert SECRET.decode() not in caught.value.detail
    return caught.value


def test_a_good_signed_request_gives_its_payload() -> None:
    assert parse_signed_request(signed_request(GOOD), SECRET, "facebook") == GOOD


def test_a_missing_signed_request_is_refused_as_missing() -> None:
    assert refused(None).reason == "missing_signature"
    assert refused("").reason == "missing_signature"


@pytest.mark.parametrize(
    "value",
    [
        "no-dot-at-all",
        ".e30",  # no signature part
        "c2ln.",  # no payload part
        "c2ln.not*base64",
        "c2ln." + b64url(b"not json"),
        "c2ln." + b64url(b"[1, 2]"),  # JSON, but not an object
    ],
)
def test_a_malformed_signed_request_is_a_bad_signature(value: str) -> None:
    error = refused(value)
    assert error.reason == "bad_signature" and "facebook" in error.detail


def test_another_key_or_a_tampered_payload_is_a_bad_signature() -> None:
    assert refused(signed_request(GOOD, b"another-secret")).reason == "bad_signature"
    sig, _ = signed_request(GOOD).split(".")
    forged = b64url(json.dumps({**GOOD, "user_id": "666"}).encode())
    error = refused(f"{sig}.{forged}")
    assert error.reason == "bad_signature" and "does not match" in error.detail


@pytest.mark.parametrize("algorithm", ["HMAC-SHA1", "none", "", None])
def test_any_algorithm_but_hmac_sha256_is_refused_even_when_signed(algorithm: str | None) -> None:
    payload = {**GOOD, "algorithm": algorithm}
    if algorithm is None:
        del payload["algorithm"]
    error = refused(signed_request(payload))
    assert error.reason == "bad_algorithm" and "HMAC-SHA256" in error.detail
