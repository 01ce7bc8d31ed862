"""Identities, tokens and content ids of the Bluesky emulator.

- A handle is the account's username, made a domain under ``bsky.social`` when it has no dot.
- A DID is a pure function of the handle (``did:plc:`` + 24 base32 characters of a hash), so
  ``resolveHandle`` needs no directory: every well-formed handle resolves, except under the
  reserved ``.invalid`` TLD.
- Session and service-auth tokens are real JWTs (HS256 here, where the PDS signs access
  tokens with HS256 and service tokens with the account key). Each carries the sandbox
  account id in ``acct``, because ``SandboxState`` binds a token string to one account only
  when it first sees it. The signing key is kept in the state (a marker row), so a
  ``state.reset()`` invalidates every token issued before it.
- CIDs are CIDv1 with SHA-256, base32: ``raw`` (``bafkrei...``) for blobs, ``dag-cbor``
  (``bafyrei...``) for records; a record's CID hashes its canonical JSON, not DAG-CBOR.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any

from postiz_pipelines.sandbox.atproto_syntax import make_tid
from postiz_pipelines.sandbox.signing import b64url_decode, b64url_encode, sign, verify
from postiz_pipelines.sandbox.state import SandboxAccount, SandboxState, StoredMedia

PLATFORM = "bluesky"
HANDLE_SUFFIX = ".bsky.social"
HANDLE_RE = re.compile(r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")
DID_RE = re.compile(r"^did:[a-z]+:[a-zA-Z0-9._:%-]+$")
RAW_CODEC = 0x55
DAG_CBOR_CODEC = 0x71


def handle_of(account: SandboxAccount) -> str:
    name = account.username.lower()
    return name if "." in name else name + HANDLE_SUFFIX


def is_handle(value: str) -> bool:
    return len(value) <= 253 and bool(HANDLE_RE.match(value.lower()))


def did_for(handle: str) -> str:
    digest = hashlib.sha256(f"sandbox-bluesky:{handle.lower()}".encode()).digest()
    return "did:plc:" + base64.b32encode(digest).decode().lower()[:24]


def did_web(host: str) -> str:
    """The ``did:web`` of a host, as a service-auth ``aud``."""
    return f"did:web:{host}"


def did_doc(did: str, handle: str, pds_url: str) -> dict[str, Any]:
    """A DID document naming the handle and the PDS, as sessions return it."""
    return {
        "@context": ["https://www.w3.org/ns/did/v1"],
        "id": did,
        "alsoKnownAs": [f"at://{handle}"],
        "verificationMethod": [],
        "service": [
            {
                "id": "#atproto_pds",
                "type": "AtprotoPersonalDataServer",
                "serviceEndpoint": pds_url,
            }
        ],
    }


def cid_for(data: bytes, codec: int = RAW_CODEC) -> str:
    """The CIDv1 (SHA-256) of ``data`` in base32, multibase prefix ``b``."""
    raw = bytes([0x01, codec, 0x12, 0x20]) + hashlib.sha256(data).digest()
    return "b" + base64.b32encode(raw).decode().lower().rstrip("=")


def record_cid(record: dict[str, Any]) -> str:
    canonical = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return cid_for(canonical.encode(), DAG_CBOR_CODEC)


def next_tid(state: SandboxState) -> str:
    """A fresh TID on the state's clock; the counter keeps TIDs of one instant apart."""
    n = state.next_number()
    return make_tid(state.now(), clock_id=n)


def blob_ref(media: StoredMedia) -> dict[str, Any]:
    return {
        "$type": "blob",
        "ref": {"$link": media.id},
        "mimeType": media.mime_type,
        "size": media.size_bytes,
    }


# -- JWTs ---------------------------------------------------------------------------------


def mint_jwt(state: SandboxState, typ: str, claims: dict[str, Any]) -> str:
    header = b64url_encode(json.dumps({"typ": typ, "alg": "HS256"}, separators=(",", ":")).encode())
    body = b64url_encode(json.dumps(claims, separators=(",", ":")).encode())
    signature = sign(state, PLATFORM, f"{header}.{body}".encode())
    return f"{header}.{body}.{b64url_encode(signature)}"


def is_jwt(token: str) -> bool:
    """Whether ``token`` has a JWT's shape (three parts, a JSON header naming an ``alg``)."""
    parts = token.split(".")
    if len(parts) != 3:
        return False
    try:
        header = json.loads(b64url_decode(parts[0]))
    except ValueError:
        return False
    return isinstance(header, dict) and "alg" in header


def read_jwt(state: SandboxState, token: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The header and claims of a JWT this sandbox signed; None for any other string."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        signature = b64url_decode(parts[2])
        header = json.loads(b64url_decode(parts[0]))
        claims = json.loads(b64url_decode(parts[1]))
    except ValueError:
        return None
    if not verify(state, PLATFORM, f"{parts[0]}.{parts[1]}".encode(), signature):
        return None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        return None
    return header, claims
