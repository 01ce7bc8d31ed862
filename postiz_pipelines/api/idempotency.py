"""``Idempotency-Key`` on our POST endpoints: a client's retry never does the work twice.

The record (user, key) is inserted and flushed *before* the work, in the work's own
transaction, and completed with the answer before commit. A concurrent duplicate therefore
waits on the unique index (PostgreSQL) or the write lock (SQLite) and then finds the
committed record, whose answer it replays. A request that fails rolls back its record
with everything else, so a failed attempt does not use the key up. The same key with a
different request body is refused (422). Records live for 24 hours.

Routes take ``IdempotentDep`` (the writing caller, the key and the request's path) and hand
it their work: ``return idem.run(work, body=...)``; ``body`` is what identifies the request
(the parsed body, minus anything that must not be stored).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from postiz_pipelines.api.deps import ApiState, Caller, State, WriterDep
from postiz_pipelines.core.ids import new_id
from postiz_pipelines.core.models import IdempotencyRecord
from postiz_pipelines.errors import Problem, ValidationFailed

TTL = timedelta(hours=24)
HEADER = "Idempotency-Key"
Work = Callable[[Session], tuple[int, dict[str, Any]]]
IdemKey = Annotated[str | None, Header(alias=HEADER, max_length=200)]


def fingerprint(method: str, path: str, body: Any) -> str:
    material = json.dumps([method, path, body], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(material.encode()).hexdigest()


def _check_key(key: str) -> None:
    if not 1 <= len(key) <= 200 or not key.isprintable():
        raise ValidationFailed(Problem(HEADER, "must be 1-200 printable characters", key[:50], 200))


def _replay(record: IdempotencyRecord, digest: str) -> JSONResponse:
    if record.request_hash != digest:
        raise ValidationFailed(
            Problem(HEADER, "was already used for a different request; use a new key", record.key)
        )
    return JSONResponse(
        record.response_body,
        status_code=record.status_code,
        headers={"Idempotent-Replayed": "true"},
    )


def run(
    st: ApiState, caller: Caller, key: str | None, *, method: str, path: str, body: Any, work: Work
) -> JSONResponse:
    """Run ``work`` in a write transaction, once per (caller, key); returns its JSON answer."""
    if key is None:
        with st.app.db.session() as s:
            status, out = work(s)
        return JSONResponse(out, status_code=status)
    _check_key(key)
    digest = fingerprint(method, path, body)
    now = st.now()
    with st.app.db.read() as s:
        found = _lookup(s, caller.user_id, key)
        if found is not None and found.expires_at > now:
            return _replay(found, digest)
    try:
        with st.app.db.session() as s:
            s.execute(
                delete(IdempotencyRecord).where(
                    IdempotencyRecord.user_id == caller.user_id, IdempotencyRecord.expires_at <= now
                )
            )
            record = IdempotencyRecord(
                id=new_id("idem"),
                user_id=caller.user_id,
                key=key,
                method=method,
                path=path[:300],
                request_hash=digest,
                status_code=0,
                response_body={},
                created_at=now,
                expires_at=now + TTL,
            )
            s.add(record)
            s.flush()
            status, out = work(s)
            record.status_code = status
            record.response_body = out
    except IntegrityError:
        with st.app.db.read() as s:
            found = _lookup(s, caller.user_id, key)
        if found is None:
            raise
        return _replay(found, digest)
    return JSONResponse(out, status_code=status)


def _lookup(s: Session, user_id: str, key: str) -> IdempotencyRecord | None:
    return s.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.user_id == user_id, IdempotencyRecord.key == key
        )
    )


@dataclass(frozen=True)
class Idempotent:
    """One write request's runner: its state, writing caller, ``Idempotency-Key`` and path."""

    st: ApiState
    caller: Caller
    key: str | None
    method: str
    path: str

    def run(self, work: Work, *, body: Any) -> JSONResponse:
        """``work`` in a write transaction, once per (caller, key); ``body`` identifies the
        request (the same key with another body is refused)."""
        return run(
            self.st, self.caller, self.key, method=self.method, path=self.path, body=body, work=work
        )

    def refuse_key(self, reason: str) -> None:
        """422 when a key was sent to an endpoint whose answer must not be stored."""
        if self.key is not None:
            raise ValidationFailed(Problem(HEADER, f"is not accepted here: {reason}"))


def idempotent(request: Request, st: State, caller: WriterDep, key: IdemKey = None) -> Idempotent:
    """The dependency behind ``IdempotentDep`` (the caller's write budget is spent once)."""
    return Idempotent(st, caller, key, request.method, request.url.path)


IdempotentDep = Annotated[Idempotent, Depends(idempotent)]
