"""The Bluesky video service (``https://video.bsky.app``), mounted at ``/bluesky/video``.

``uploadVideo?did=&name=`` takes the raw bytes with a service-auth token the PDS issued
(``aud`` = ``did:web:<PDS host>``, ``lxm`` = ``com.atproto.repo.uploadBlob``) and answers
the bare job status ``{did, jobId, state: "JOB_STATE_CREATED"}`` (the real service leaves
out the ``jobStatus`` wrapper its lexicon declares). ``getJobStatus?jobId=`` answers
``{jobStatus: {...}}``: ``JOB_STATE_ENCODING`` with a progress, then ``JOB_STATE_SCANNING``,
then ``JOB_STATE_COMPLETED`` with the blob, which from then on belongs to the account on
the PDS. A file that is not an MP4 (no ``ftyp`` box) ends ``JOB_STATE_FAILED``. The same
bytes uploaded again by the same account answer 409 ``already_exists`` with the finished
job's id, whose status carries the blob.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from starlette.responses import JSONResponse, Response

from postiz_pipelines.sandbox.base import Call, HttpError, endpoint
from postiz_pipelines.sandbox.bluesky_identity import (
    blob_ref,
    cid_for,
    did_web,
    read_jwt,
)
from postiz_pipelines.sandbox.bluesky_records import VIDEO_MAX_BYTES
from postiz_pipelines.sandbox.state import SandboxState, StoredMedia

UPLOAD_LXM = "com.atproto.repo.uploadBlob"
PROCESSING_STAGES = (("JOB_STATE_ENCODING", 50), ("JOB_STATE_SCANNING", 90))
COMPLETED = "JOB_STATE_COMPLETED"
FAILED = "JOB_STATE_FAILED"


@dataclass(frozen=True)
class VideoJob(StoredMedia):
    """A processing job; ``pending_polls`` counts the status polls still in progress."""

    did: str = ""
    blob_cid: str = ""
    playable: bool = True

    def stage(self) -> tuple[str, int | None]:
        if self.pending_polls > 0:
            return PROCESSING_STAGES[len(PROCESSING_STAGES) - self.pending_polls]
        return (COMPLETED, 100) if self.playable else (FAILED, None)


class VideoServiceEndpoints:
    """The video service's endpoints, mixed into the Bluesky emulator."""

    name: ClassVar[str]
    state: SandboxState

    if TYPE_CHECKING:

        def _xrpc(self, status: int, error: str, message: str) -> HttpError: ...

        def _ip_limit(self, call: Call) -> None: ...

    @endpoint("POST", "/video/xrpc/app.bsky.video.uploadVideo")
    async def upload_video(self, call: Call) -> Response:
        self._ip_limit(call)
        did = call.request.query_params.get("did", "")
        account_id = self._service_auth(call, did)
        data = await call.request.body()
        if not data:
            raise self._xrpc(400, "InvalidRequest", "the request body is empty")
        if len(data) > VIDEO_MAX_BYTES:
            raise self._xrpc(
                400, "InvalidRequest", f"video is {len(data)} bytes, limit {VIDEO_MAX_BYTES}"
            )
        sha = hashlib.sha256(data).hexdigest()
        job_id = _job_id(did, sha)
        with self.state.lock:
            existing = self.state.media(self.name, job_id)
            if isinstance(existing, VideoJob) and existing.stage()[0] == COMPLETED:
                body = _bare_status(existing)
                body.update(error="already_exists", message="Video already processed")
                return JSONResponse(body, status_code=409)
            if isinstance(existing, VideoJob) and existing.stage()[0] != FAILED:
                return JSONResponse(_bare_status(existing))
            job = VideoJob(
                platform=self.name,
                id=job_id,
                account_id=account_id,
                mime_type=(call.request.headers.get("content-type") or "video/mp4").split(";")[0],
                size_bytes=len(data),
                sha256=sha,
                created_at=self.state.now(),
                filename=call.request.query_params.get("name", ""),
                pending_polls=len(PROCESSING_STAGES),
                did=did,
                blob_cid=cid_for(data),
                playable=data[4:8] == b"ftyp",
            )
            self.state.put_media(job)
        body = _bare_status(job)
        body["state"] = "JOB_STATE_CREATED"
        return JSONResponse(body)

    @endpoint("GET", "/video/xrpc/app.bsky.video.getJobStatus")
    async def job_status(self, call: Call) -> Response:
        self._ip_limit(call)
        job_id = call.request.query_params.get("jobId")
        if not job_id:
            raise self._xrpc(400, "InvalidRequest", 'Params must have the property "jobId"')
        with self.state.lock:
            job = self.state.media(self.name, job_id)
            if not isinstance(job, VideoJob):
                raise self._xrpc(404, "NotFound", f"job {job_id} not found")
            status = _status(job)
            if job.pending_polls > 0:  # this poll sees the stage; the next one, the one after
                self.state.update_media(self.name, job_id, pending_polls=job.pending_polls - 1)
            elif job.playable:
                status["blob"] = blob_ref(self._blob_of(job))
        return JSONResponse({"jobStatus": status})

    def _blob_of(self, job: VideoJob) -> StoredMedia:
        """The processed video, as a blob of the account on the PDS (made once)."""
        blob = self.state.media(self.name, job.blob_cid)
        if blob is None or blob.account_id != job.account_id:
            blob = self.state.put_media(
                StoredMedia(
                    platform=self.name,
                    id=job.blob_cid,
                    account_id=job.account_id,
                    mime_type="video/mp4",
                    size_bytes=job.size_bytes,
                    sha256=job.sha256,
                    created_at=self.state.now(),
                    filename=job.filename,
                )
            )
        return blob

    def _service_auth(self, call: Call, did: str) -> str:
        """The account id of a valid service-auth token for uploading as ``did``."""
        token = call.bearer_token()
        read = read_jwt(self.state, token) if token else None
        if read is None:
            raise self._xrpc(401, "AuthMissing", "Authentication Required")
        claims = read[1]
        host = call.request.url.hostname or ""
        if claims.get("aud") != did_web(host):
            raise self._xrpc(401, "BadJwtAudience", f"jwt audience does not match {did_web(host)}")
        if claims.get("lxm") != UPLOAD_LXM:
            raise self._xrpc(401, "BadJwtLexiconMethod", f"jwt lxm must be {UPLOAD_LXM}")
        if not isinstance(claims.get("exp"), int) or claims["exp"] <= self.state.now().timestamp():
            raise self._xrpc(401, "JwtExpired", "jwt expired")
        if not did or claims.get("iss") != did:
            raise self._xrpc(401, "BadJwtIssuer", "the did parameter must be the jwt issuer")
        account = self.state.account(self.name, str(claims.get("acct")))
        if account is None or account.disabled:
            raise self._xrpc(401, "AccountTakedown", "Account has been taken down")
        return account.id


def _job_id(did: str, sha: str) -> str:
    """Twenty base32hex characters, like the service's xid job ids, one per account+video."""
    digest = hashlib.sha256(f"{did}:{sha}".encode()).digest()[:12]
    return base64.b32hexencode(digest).decode().lower().rstrip("=")[:20]


def _bare_status(job: VideoJob) -> dict[str, Any]:
    state, _ = job.stage()
    return {"did": job.did, "jobId": job.id, "state": state}


def _status(job: VideoJob) -> dict[str, Any]:
    state, progress = job.stage()
    body: dict[str, Any] = {"jobId": job.id, "did": job.did, "state": state}
    if progress is not None:
        body["progress"] = progress
    if state == FAILED:
        body["error"] = f"video processing error for job: {job.id}"
        body["message"] = "Failed to process video"
    return body
