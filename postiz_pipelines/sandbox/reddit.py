"""The Reddit emulator: OAuth API submissions, media asset leases, subreddit rules, the
token endpoint, at ``https://oauth.reddit.com`` and ``https://www.reddit.com`` ->
``/reddit``.

- ``POST /api/v1/access_token`` (HTTP Basic ``client_id:secret``, form): ``refresh_token``
  (permanent: the same one keeps working) and ``password`` (script apps: any password
  works for the account named) grant 1-hour access tokens.
- ``GET /api/v1/me``; ``GET /api/v1/{sr}/post_requirements``; ``GET /r/{sr}/api/link_flair_v2``.
- ``POST /api/media/asset.json`` (``filepath``, ``mimetype``) leases an upload: ``args``
  (``action``, ``fields``) for a multipart POST (here ``/reddit/media-upload``) whose XML
  answer has the file's ``<Location>``.
- ``POST /api/submit`` (form, ``api_type=json``): ``sr``, ``kind`` self|link|image,
  ``title`` (at most 300 characters, or the subreddit's own bounds), ``text`` (40,000),
  ``url``, ``flair_id``, ``nsfw``, ``spoiler``. The answer is HTTP 200
  ``{json: {errors: [[CODE, message, field]], data}}``: ``SUBREDDIT_NOEXIST``,
  ``NO_SELFS``/``NO_LINKS``/``NO_IMAGES``, ``SUBMIT_VALIDATION_FLAIR_REQUIRED``,
  ``TOO_LONG``, ``ALREADY_SUB``, and ``RATELIMIT`` ("Take a break for N minutes") past
  ``posts_per_hour`` a user. A self or link post answers its ``id``/``name``/``url``; an
  image post only its ``user_submitted_page`` and ``websocket_url``, as Reddit does.
- ``GET /user/{name}/submitted``: the user's posts, newest first.
- ``GET /api/info?id=t3_...`` (``reddit_info.py``): posts by fullname with their votes.

Every OAuth call needs a descriptive ``User-Agent`` (a generic one is refused with 429)
and answers ``X-Ratelimit-Used/-Remaining/-Reset`` of a 600-second window of 600 calls.
Subreddits: ``test`` takes everything, ``pics`` images only, ``AskReddit`` text posts
only and a flair; others are added through ``reddit_world(state).subreddits``.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any, ClassVar

from starlette.responses import JSONResponse, Response

from postiz_pipelines.sandbox import oauth2
from postiz_pipelines.sandbox.base import Call, HttpError, PlatformSandbox, endpoint
from postiz_pipelines.sandbox.reddit_info import InfoEndpoints
from postiz_pipelines.sandbox.reddit_world import (
    PLATFORM,
    Subreddit,
    base36,
    reddit_world,
    slug,
    thing,
    truthy,
)
from postiz_pipelines.sandbox.state import AcceptedPost, SandboxAccount, TokenStatus

ACCESS_SECONDS = 3600
WINDOW = (600, 600.0)
TEXT_MAX = 40_000
GENERIC_AGENTS = re.compile(
    r"^(python-httpx|python-requests|curl|Go-http-client|okhttp|Mozilla)", re.I
)


class RedditSandbox(InfoEndpoints, PlatformSandbox):
    """See the module docstring."""

    name: ClassVar[str] = PLATFORM

    def error_response(self, status: int, message: str) -> Response:
        return JSONResponse({"message": message, "error": status}, status_code=status)

    def user(self, call: Call) -> SandboxAccount:
        agent = call.request.headers.get("user-agent", "")
        if not agent or GENERIC_AGENTS.match(agent):
            raise HttpError(
                JSONResponse({"message": "Too Many Requests", "error": 429}, status_code=429)
            )
        token = call.bearer_token()
        status, account = oauth2.who(self.state, PLATFORM, token) if token else (None, None)
        if account is None or status is not TokenStatus.VALID:
            raise HttpError(
                JSONResponse({"message": "Unauthorized", "error": 401}, status_code=401)
            )
        if account.disabled:
            raise HttpError(JSONResponse({"message": "Forbidden", "error": 403}, status_code=403))
        window = self.state.hit_rate_limit(
            PLATFORM, "api", account.id, limit=WINDOW[0], per_seconds=WINDOW[1]
        )
        reset = max(0, int((window.reset_at - self.state.now()).total_seconds()))
        call.headers.update(
            {
                "x-ratelimit-used": str(window.used),
                "x-ratelimit-remaining": f"{float(window.remaining):.1f}",
                "x-ratelimit-reset": str(reset),
            }
        )
        if window.exceeded:
            raise HttpError(
                JSONResponse({"message": "Too Many Requests", "error": 429}, status_code=429)
            )
        return account

    def subreddit(self, name: str) -> Subreddit | None:
        return reddit_world(self.state).subreddits.get(name)

    # -- OAuth -------------------------------------------------------------------------
    @endpoint("POST", "/api/v1/access_token")
    async def token(self, call: Call) -> Response:
        scheme, _, encoded = call.request.headers.get("authorization", "").partition(" ")
        try:
            client = base64.b64decode(encoded).decode() if scheme.lower() == "basic" else ""
        except (binascii.Error, UnicodeDecodeError):
            client = ""
        if ":" not in client:
            return JSONResponse({"message": "Unauthorized", "error": 401}, status_code=401)
        form = await call.json_or_form()
        grant_type = form.get("grant_type")
        if grant_type == "refresh_token":
            try:
                grant = oauth2.grant_refresh(
                    self.state,
                    PLATFORM,
                    str(form.get("refresh_token") or ""),
                    access_seconds=ACCESS_SECONDS,
                    refresh_seconds=None,
                    rotate=False,
                )
            except oauth2.GrantRefused:
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            return JSONResponse(
                {
                    "access_token": grant.access_token,
                    "token_type": "bearer",
                    "expires_in": ACCESS_SECONDS,
                    "scope": "identity submit read",
                }
            )
        if grant_type == "authorization_code":
            try:  # duration=permanent on the consent page: a refresh token that never expires
                grant = oauth2.grant_code(
                    self.state,
                    PLATFORM,
                    str(form.get("code") or ""),
                    access_seconds=ACCESS_SECONDS,
                    refresh_seconds=None,
                )
            except oauth2.GrantRefused:
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            return JSONResponse(
                {
                    "access_token": grant.access_token,
                    "refresh_token": grant.refresh_token,
                    "token_type": "bearer",
                    "expires_in": ACCESS_SECONDS,
                    "scope": "identity submit read flair",
                }
            )
        if grant_type == "password" and form.get("username") and form.get("password"):
            account = self.state.authenticate(PLATFORM, f"user:{form['username']}").account
            grant = oauth2.issue(
                self.state, PLATFORM, account, access_seconds=ACCESS_SECONDS, refresh_seconds=None
            )
            return JSONResponse(
                {
                    "access_token": grant.access_token,
                    "token_type": "bearer",
                    "expires_in": ACCESS_SECONDS,
                    "scope": "*",
                }
            )
        return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)

    # -- reads -------------------------------------------------------------------------
    @endpoint("GET", "/api/v1/me")
    async def me(self, call: Call) -> Response:
        account = self.user(call)
        return JSONResponse({"name": account.username, "id": account.id})

    @endpoint("GET", "/api/v1/{sr}/post_requirements")
    async def post_requirements(self, call: Call) -> Response:
        self.user(call)
        sub = self.subreddit(call.request.path_params["sr"])
        if sub is None:
            return JSONResponse(
                {
                    "explanation": "Please enter a valid subreddit",
                    "message": "Not Found",
                    "reason": "SUBREDDIT_NOEXIST",
                },
                status_code=404,
            )
        return JSONResponse(
            {
                "title_text_min_length": sub.title_min,
                "title_text_max_length": sub.title_max,
                "is_flair_required": sub.flair_required,
                "body_restriction_policy": sub.body_policy,
                "link_restriction_policy": "none" if "link" in sub.kinds else "blacklist",
                "domain_blacklist": [],
                "title_blacklisted_strings": [],
                "body_blacklisted_strings": [],
            }
        )

    @endpoint("GET", "/r/{sr}/api/link_flair_v2")
    async def flairs(self, call: Call) -> Response:
        self.user(call)
        sub = self.subreddit(call.request.path_params["sr"])
        if sub is None:
            return JSONResponse({"message": "Not Found", "error": 404}, status_code=404)
        return JSONResponse(
            [{"id": i, "text": t, "text_editable": False, "type": "text"} for i, t in sub.flairs]
        )

    @endpoint("GET", "/user/{name}/submitted")
    async def submitted(self, call: Call) -> Response:
        self.user(call)
        name = call.request.path_params["name"]
        limit = min(100, int(call.request.query_params.get("limit") or 25))
        mine = [p for p in self.state.accepted(PLATFORM) if p.handle == name]
        children = [{"kind": "t3", "data": thing(p)} for p in reversed(mine[-limit:])]
        return JSONResponse({"kind": "Listing", "data": {"children": children, "after": None}})

    # -- media -------------------------------------------------------------------------
    @endpoint("POST", "/api/media/asset.json")
    async def asset(self, call: Call) -> Response:
        account = self.user(call)
        form = await call.json_or_form()
        mime = str(form.get("mimetype") or "")
        if not form.get("filepath") or mime not in (
            "image/png",
            "image/jpeg",
            "image/gif",
            "video/mp4",
        ):
            return JSONResponse(
                {"json": {"errors": [["BAD_IMAGE", "Invalid image", "mimetype"]]}}, status_code=400
            )
        asset_id = f"a{self.state.next_number():08d}"
        reddit_world(self.state).uploads[asset_id] = account.id
        key = f"rte_images/{asset_id}/{form['filepath']}"
        fields = [
            {"name": "key", "value": key},
            {"name": "Content-Type", "value": mime},
            {"name": "x-amz-signature", "value": "sandbox"},
        ]
        return JSONResponse(
            {
                "args": {"action": f"{call.platform_url}/media-upload", "fields": fields},
                "asset": {
                    "asset_id": asset_id,
                    "processing_state": "incomplete",
                    "websocket_url": f"wss://ws.sandbox.test/rte_images/{asset_id}",
                },
            }
        )

    @endpoint("POST", "/media-upload")
    async def media_upload(self, call: Call) -> Response:
        form = await call.request.form()
        key, file = str(form.get("key") or ""), form.get("file")
        asset_id = key.split("/")[1] if key.count("/") >= 2 else ""
        if (
            asset_id not in reddit_world(self.state).uploads
            or file is None
            or isinstance(file, str)
        ):
            return Response(
                "<Error><Code>AccessDenied</Code></Error>",
                status_code=403,
                media_type="application/xml",
            )
        reddit_world(self.state).uploaded.add(asset_id)
        location = f"https://i.redd.it/{asset_id}.png"
        xml = (
            '<?xml version="1.0" encoding="UTF-8"?><PostResponse>'
            f"<Location>{location}</Location><Key>{key}</Key></PostResponse>"
        )
        return Response(xml, status_code=201, media_type="application/xml")

    # -- submit ------------------------------------------------------------------------
    @endpoint("POST", "/api/submit", publish=True)
    async def submit(self, call: Call) -> Response:
        account = self.user(call)
        form = await call.json_or_form()
        error = self.refusal(account, form)
        if error is not None:
            return JSONResponse({"json": {"errors": [list(error)]}})
        kind = str(form["kind"])
        number = self.state.next_number()
        post_id = base36(2_000_000_000 + number)
        sr = str(form["sr"])
        permalink = f"/r/{sr}/comments/{post_id}/{slug(str(form['title']))}/"
        url = str(form.get("url") or f"https://www.reddit.com{permalink}")
        self.state.record_post(
            AcceptedPost(
                platform=PLATFORM,
                account_id=account.id,
                handle=account.username,
                text=str(form.get("text") or ""),
                remote_id=f"t3_{post_id}",
                created_at=self.state.now(),
                extra={
                    "sr": sr,
                    "kind": kind,
                    "title": str(form["title"]),
                    "url": url,
                    "flair_id": form.get("flair_id"),
                    "nsfw": truthy(form.get("nsfw")),
                    "spoiler": truthy(form.get("spoiler")),
                    "permalink": permalink,
                    "user_agent": call.request.headers.get("user-agent"),
                },
            )
        )
        if kind == "image":
            data: dict[str, Any] = {
                "user_submitted_page": f"https://www.reddit.com/user/{account.username}/submitted/",
                "websocket_url": f"wss://ws.sandbox.test/rte_images/{post_id}",
            }
        else:
            data = {
                "id": post_id,
                "name": f"t3_{post_id}",
                "url": f"https://www.reddit.com{permalink}",
            }
        return JSONResponse({"json": {"errors": [], "data": data}})

    @endpoint("POST", "/api/submit/", publish=True)
    async def submit_slash(self, call: Call) -> Response:
        """Reddit serves its API paths with and without the trailing slash (PRAW sends it)."""
        return await self.submit(call)

    def refusal(self, account: SandboxAccount, form: dict[str, Any]) -> tuple[str, str, str] | None:
        """Reddit's reason to refuse a submission, as an entry of ``json.errors``."""
        sub = self.subreddit(str(form.get("sr") or ""))
        if sub is None:
            return ("SUBREDDIT_NOEXIST", "that subreddit doesn't exist", "sr")
        kind = str(form.get("kind") or "")
        if kind not in ("self", "link", "image"):
            return ("INVALID_OPTION", "that option is not valid", "kind")
        if kind not in sub.kinds:
            code = {"self": "NO_SELFS", "link": "NO_LINKS", "image": "NO_IMAGES"}[kind]
            return (code, f"This community doesn't allow {kind} posts.", "sr")
        title = str(form.get("title") or "")
        if not title.strip():
            return ("NO_TEXT", "we need something here", "title")
        if len(title) > sub.title_max:
            return ("TOO_LONG", f"this is too long (max: {sub.title_max})", "title")
        if len(title) < sub.title_min:
            return ("TOO_SHORT", f"this is too short (min: {sub.title_min})", "title")
        body = str(form.get("text") or "")
        if len(body) > TEXT_MAX:
            return ("TOO_LONG", f"this is too long (max: {TEXT_MAX})", "text")
        if kind == "self" and sub.body_policy == "notAllowed" and body.strip():
            return ("BODY_NOT_ALLOWED", "This community doesn't allow a post body.", "text")
        if kind == "self" and sub.body_policy == "required" and not body.strip():
            return ("BODY_REQUIRED", "This community requires a post body.", "text")
        if kind in ("link", "image") and not str(form.get("url") or "").startswith(
            ("http://", "https://")
        ):
            return ("BAD_URL", "you should check that url", "url")
        if kind == "image" and not str(form["url"]).startswith("https://i.redd.it/"):
            return ("BAD_URL", "images are submitted from an uploaded asset", "url")
        flair = form.get("flair_id")
        if sub.flair_required and not flair:
            return (
                "SUBMIT_VALIDATION_FLAIR_REQUIRED",
                "Your post must contain post flair.",
                "flair",
            )
        if flair and flair not in {i for i, _ in sub.flairs}:
            return ("BAD_FLAIR_TEMPLATE_ID", "That flair template does not exist.", "flair")
        mine = [p for p in self.state.accepted(PLATFORM) if p.account_id == account.id]
        if kind == "link" and any(
            p.extra["url"] == form["url"] and p.extra["sr"] == sub.name for p in mine
        ):
            return ("ALREADY_SUB", "that link has already been submitted", "url")
        hour_ago = self.state.now().timestamp() - 3600
        recent = [p for p in mine if p.created_at.timestamp() > hour_ago]
        if len(recent) >= reddit_world(self.state).posts_per_hour:
            left = recent[0].created_at.timestamp() + 3600 - self.state.now().timestamp()
            wait = max(1, -(-int(left) // 60))  # whole minutes, rounded up
            return (
                "RATELIMIT",
                "Looks like you've been doing that a lot. "
                f"Take a break for {wait} minutes before trying again.",
                "ratelimit",
            )
        return None
