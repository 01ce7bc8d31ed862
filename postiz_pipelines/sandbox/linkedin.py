"""The LinkedIn emulator: the versioned REST Posts API, the member's OpenID ``userinfo``,
and (in ``linkedin_media.py``) the Images and Videos APIs and (in ``linkedin_oauth.py``) the
OAuth 2.0 token endpoint, as LinkedIn answers them. Its memory of tokens and assets is in
``linkedin_world.py``.

Hosts, mounted under ``/linkedin``::

    https://api.linkedin.com/rest/...            -> /linkedin/rest/...
    https://api.linkedin.com/v2/userinfo         -> /linkedin/v2/userinfo
    https://www.linkedin.com/dms-uploads/...     -> /linkedin/dms-uploads/...   (upload URLs)
    https://www.linkedin.com/oauth/v2/accessToken -> /linkedin/oauth/v2/accessToken

Every ``/rest`` call needs ``LinkedIn-Version: YYYYMM`` (versions older than a year are
sunset, and a month not yet released has no version: both 426 ``NONEXISTENT_VERSION``);
creating a post also needs ``X-Restli-Protocol-Version: 2.0.0``. A post
answers 201 with an empty body and its URN in ``x-restli-id``. Commentary is "little
text": reserved characters arrive backslash-escaped and are stored unescaped; its limit
is 3,000 UTF-16 units. The same commentary twice from one author is ``DUPLICATE_POST``
(422). A member may publish 150 posts a day (429, no rate headers; limits reset at
midnight UTC). Errors are Rest.li bodies ``{status, serviceErrorCode, code, message}``:
65600 invalid, 65601 revoked, 65602 expired, 65604 empty token; 403 ``ACCESS_DENIED``.

Tokens: any unseen bearer token is a member; a token from the token endpoint speaks for
the member it was granted to, until it expires.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus
from typing import Any, ClassVar

from starlette.responses import HTMLResponse, JSONResponse, Response

from postiz_pipelines.sandbox.base import Call, HttpError, PlatformSandbox, endpoint
from postiz_pipelines.sandbox.counting import utf16_length
from postiz_pipelines.sandbox.linkedin_media import (
    IMAGE_FORMATS,
    MAX_IMAGE_PIXELS,
    VIDEO_MAX_BYTES,
    VIDEO_MIN_BYTES,
    VIDEO_PART_BYTES,
    VIDEO_PROCESSING_POLLS,
    MediaEndpoints,
)
from postiz_pipelines.sandbox.linkedin_oauth import (
    ACCESS_TOKEN_SECONDS,
    REFRESH_TOKEN_SECONDS,
    OAuthEndpoints,
)
from postiz_pipelines.sandbox.linkedin_world import PLATFORM, linkedin_world, token_digest
from postiz_pipelines.sandbox.state import (
    AcceptedPost,
    SandboxAccount,
    StoredMedia,
    TokenStatus,
)

__all__ = [
    "ACCESS_TOKEN_SECONDS",
    "COMMENTARY_LIMIT",
    "GATEWAY_PAGE",
    "IMAGE_FORMATS",
    "MAX_IMAGES",
    "MAX_IMAGE_PIXELS",
    "ORGANIZATION_PREFIX",
    "PERSON_PREFIX",
    "PLATFORM",
    "POSTS_PER_DAY",
    "REFRESH_TOKEN_SECONDS",
    "TOKEN_ERRORS",
    "UNESCAPE_RE",
    "VERSION_RE",
    "VIDEO_MAX_BYTES",
    "VIDEO_MIN_BYTES",
    "VIDEO_PART_BYTES",
    "VIDEO_PROCESSING_POLLS",
    "LinkedInSandbox",
    "unescape_commentary",
]

COMMENTARY_LIMIT = 3000
MAX_IMAGES = 20
POSTS_PER_DAY = 150
VERSION_RE = re.compile(r"^(\d{4})(\d{2})(?:\.\d{2})?$")
PERSON_PREFIX = "urn:li:person:"
ORGANIZATION_PREFIX = "urn:li:organization:"
UNESCAPE_RE = re.compile(r"\\(.)", re.DOTALL)
TOKEN_ERRORS = {
    "invalid": (65600, "INVALID_ACCESS_TOKEN", "Invalid access token"),
    "revoked": (
        65601,
        "REVOKED_ACCESS_TOKEN",
        "The token used in the request has been revoked by the user",
    ),
    "expired": (65602, "EXPIRED_ACCESS_TOKEN", "The token used in the request has expired"),
    "empty": (65604, "EMPTY_ACCESS_TOKEN", "Empty oauth2 access token"),
}
GATEWAY_PAGE = "<html><body><h1>{0}</h1><p>Request could not be completed.</p></body></html>"


# Little text markup, read left to right: an escaped character, a hashtag template, a
# mention, or any other character (an unescaped reserved one ends what LinkedIn shows).
_LITTLE_TEXT = re.compile(
    r"\\(?P<escaped>.)"
    r"|\{hashtag\|\\#\|(?P<tag>[^{}|]+)\}"
    r"|@\[(?P<name>(?:\\.|[^\]\\])+)\]\((?P<urn>urn:li:(?:person|organization):[^)\s]+)\)"
    r"|(?P<reserved>[|{}@\[\]()<>#*_~])"
    r"|(?P<plain>.)",
    re.DOTALL,
)


@dataclass(frozen=True)
class LittleText:
    """What a commentary shows, and the hashtags and mentions its markup carries."""

    text: str
    hashtags: tuple[str, ...]
    mentions: tuple[tuple[str, str], ...]  # (name, urn)
    cut_at: int | None  # where an unescaped reserved character cut the text short


def read_little_text(commentary: str) -> LittleText:
    """LinkedIn's little text format as readers see it: ``\\(`` is ``(``, a hashtag template
    is ``#word``, a mention is its name; an unescaped reserved character ends the text."""
    shown: list[str] = []
    tags: list[str] = []
    mentions: list[tuple[str, str]] = []
    for m in _LITTLE_TEXT.finditer(commentary):
        if m.group("reserved") is not None:
            return LittleText("".join(shown), tuple(tags), tuple(mentions), m.start())
        if m.group("tag") is not None:
            tags.append(m.group("tag"))
            shown.append("#" + m.group("tag"))
        elif m.group("urn") is not None:
            name = UNESCAPE_RE.sub(r"\1", m.group("name"))
            mentions.append((name, m.group("urn")))
            shown.append(name)
        else:
            shown.append(m.group("escaped") if m.group("escaped") is not None else m.group(0))
    return LittleText("".join(shown), tuple(tags), tuple(mentions), None)


def unescape_commentary(commentary: str) -> str:
    """What readers see of a commentary (see ``read_little_text``)."""
    return read_little_text(commentary).text


class LinkedInSandbox(OAuthEndpoints, MediaEndpoints, PlatformSandbox):
    """See the module docstring."""

    name: ClassVar[str] = PLATFORM

    # -- error bodies ------------------------------------------------------------------
    def error_response(self, status: int, message: str) -> Response:
        return self.restli_error(status, message)

    def restli_error(
        self, status: int, message: str, *, code: str | None = None, service: int | None = None
    ) -> Response:
        body: dict[str, Any] = {"status": status, "message": message}
        if code:
            body["code"] = code
        if service is not None:
            body["serviceErrorCode"] = service
        return JSONResponse(body, status_code=status)

    def fail(
        self, status: int, message: str, *, code: str | None = None, service: int | None = None
    ) -> HttpError:
        return HttpError(self.restli_error(status, message, code=code, service=service))

    def unprocessable(self, message: str) -> HttpError:
        return self.fail(422, message, code="UNPROCESSABLE_ENTITY")

    def illegal(self, message: str) -> HttpError:
        return self.fail(400, message, code="ILLEGAL_ARGUMENT")

    def fault_response(self, status: int, *, reset_at: datetime | None, call: Call) -> Response:
        if status in (502, 504):  # the edge answers these, as a page
            phrase = "Bad Gateway" if status == 502 else "Gateway Timeout"
            return HTMLResponse(GATEWAY_PAGE.format(f"{status} {phrase}"), status_code=status)
        if status == 429:  # LinkedIn documents no rate-limit headers
            return self.restli_error(
                429, _throttle_message("APPLICATION"), code="TOO_MANY_REQUESTS", service=101
            )
        return self.restli_error(status, HTTPStatus(status).phrase)

    # -- auth --------------------------------------------------------------------------
    def _member(self, call: Call) -> SandboxAccount:
        token = call.bearer_token()
        if token is None:
            raise self._token_error("empty")
        auth = self.state.authenticate(self.name, token)
        issued = linkedin_world(self.state).access.get(token_digest(token))
        account = self.state.account(self.name, issued.account_id) if issued else None
        account = account or auth.account
        if auth.status is TokenStatus.REVOKED:
            raise self._token_error("revoked")
        lapsed = issued is not None and self.state.now() >= issued.expires_at
        if auth.status is TokenStatus.EXPIRED or lapsed:
            raise self._token_error("expired")
        if account.disabled:
            raise self._token_error("invalid")
        return account

    def _token_error(self, kind: str) -> HttpError:
        service, code, message = TOKEN_ERRORS[kind]
        return self.fail(401, message, code=code, service=service)

    def _versioned(self, call: Call, *, restli: bool = False) -> None:
        """LinkedIn's header checks of every ``/rest`` call."""
        version = call.request.headers.get("linkedin-version")
        if not version:
            raise self.fail(
                400,
                "A version must be present. Please specify a version by adding the "
                "LinkedIn-Version header.",
                code="VERSION_MISSING",
            )
        match = VERSION_RE.match(version)
        now = self.state.now()
        oldest, newest = (now.year - 1) * 12 + now.month, now.year * 12 + now.month
        if match is None or not oldest <= int(match[1]) * 12 + int(match[2]) <= newest:
            raise self.fail(
                426, f"Requested version {version} is not active", code="NONEXISTENT_VERSION"
            )
        if restli and call.request.headers.get("x-restli-protocol-version") != "2.0.0":
            raise self.illegal(
                "The X-Restli-Protocol-Version header must be 2.0.0 for this resource"
            )

    def _may_act_as(self, member: SandboxAccount, urn: str, call: Call) -> None:
        """A member acts as themself or as an organization (the sandbox makes every member
        an administrator of every organization)."""
        if urn == f"{PERSON_PREFIX}{member.id}":
            return
        if urn.startswith(ORGANIZATION_PREFIX) and urn[len(ORGANIZATION_PREFIX) :].isdigit():
            return
        version = call.request.headers.get("linkedin-version", "")
        raise self.fail(
            403,
            f"Not enough permissions to access: partnerApiPostsExternal.CREATE.{version}",
            code="ACCESS_DENIED",
            service=100,
        )

    async def _json(self, call: Call) -> dict[str, Any]:
        try:
            body = await call.json_or_form()
        except ValueError:
            raise self.illegal("Unable to parse the request body as JSON") from None
        return body

    # -- identity ----------------------------------------------------------------------
    @endpoint("GET", "/v2/userinfo")
    async def userinfo(self, call: Call) -> Response:
        member = self._member(call)
        return JSONResponse(
            {
                "sub": member.id,
                "name": member.display_name,
                "given_name": member.display_name.split(" ")[0],
                "family_name": "",
                "locale": {"country": "US", "language": "en"},
                "email_verified": True,
            }
        )

    # -- posts -------------------------------------------------------------------------
    @endpoint("POST", "/rest/posts", publish=True)
    async def create_post(self, call: Call) -> Response:
        member = self._member(call)
        self._versioned(call, restli=True)
        body = await self._json(call)
        author = str(body.get("author") or "")
        self._may_act_as(member, author, call)
        little = read_little_text(str(body.get("commentary") or ""))
        text = little.text
        media = self._content_media(member, author, body.get("content"))
        self._check_post(body, text, media)
        window = self.state.hit_rate_limit(
            self.name, "posts", member.id, limit=POSTS_PER_DAY, per_seconds=86400
        )
        if window.exceeded:
            raise self.fail(429, _throttle_message("MEMBER"), code="TOO_MANY_REQUESTS", service=101)
        with self.state.lock:  # the duplicate check and the record are one step
            for earlier in self.state.accepted(self.name):
                if earlier.extra.get("author") == author and text and earlier.text == text:
                    raise self.fail(
                        422, f"Content is a duplicate of {earlier.remote_id}", code="DUPLICATE_POST"
                    )
            kind = "ugcPost" if any(m.id.startswith("urn:li:video:") for m in media) else "share"
            urn = f"urn:li:{kind}:{7_400_000_000_000_000_000 + self.state.next_number()}"
            self.state.record_post(
                AcceptedPost(
                    platform=self.name,
                    account_id=member.id,
                    handle=member.username,
                    text=text,
                    remote_id=urn,
                    created_at=self.state.now(),
                    media=media,
                    extra={
                        "author": author,
                        "visibility": body.get("visibility"),
                        "lifecycleState": body.get("lifecycleState"),
                        "alt_texts": _alt_texts(body.get("content")),
                        "version": call.request.headers.get("linkedin-version"),
                        "hashtags": list(little.hashtags),
                        "mentions": [list(m) for m in little.mentions],
                        "cut_at": little.cut_at,
                    },
                )
            )
        return Response(status_code=201, headers={"x-restli-id": urn})

    def _check_post(self, body: dict[str, Any], text: str, media: tuple[StoredMedia, ...]) -> None:
        if body.get("visibility") not in ("PUBLIC", "CONNECTIONS", "LOGGED_IN", "CONTAINER"):
            raise self.unprocessable(
                "/visibility :: is required and must be PUBLIC, CONNECTIONS, LOGGED_IN or CONTAINER"
            )
        if body.get("lifecycleState") not in ("PUBLISHED", "DRAFT"):
            raise self.unprocessable("/lifecycleState :: must be PUBLISHED or DRAFT")
        distribution = body.get("distribution") or {}
        if distribution.get("feedDistribution") not in ("MAIN_FEED", "NONE"):
            raise self.unprocessable("/distribution/feedDistribution :: is required")
        length = utf16_length(text)
        if length > COMMENTARY_LIMIT:
            raise self.unprocessable(
                f"/commentary :: length {length} exceeds the maximum allowed {COMMENTARY_LIMIT}"
            )
        if not text.strip() and not media:
            raise self.unprocessable("/commentary :: is required when there is no content")

    def _content_media(
        self, member: SandboxAccount, author: str, content: Any
    ) -> tuple[StoredMedia, ...]:
        if not content:
            return ()
        if not isinstance(content, dict):
            raise self.unprocessable("/content :: must be an object")
        if "multiImage" in content:
            images = (content.get("multiImage") or {}).get("images") or []
            if not 2 <= len(images) <= MAX_IMAGES:
                raise self.unprocessable(
                    f"/content/multiImage/images :: must have between 2 and {MAX_IMAGES} items, "
                    f"got {len(images)}"
                )
            ids = [str((i or {}).get("id") or "") for i in images]
            if not all(i.startswith("urn:li:image:") for i in ids):
                raise self.unprocessable("/content/multiImage/images :: only images may be used")
        elif "media" in content:
            ids = [str((content.get("media") or {}).get("id") or "")]
        else:
            raise self.unprocessable("/content :: unsupported content type")
        world = linkedin_world(self.state)
        found = []
        for urn in ids:
            asset = world.assets.get(urn)
            media = self.state.media(self.name, urn)
            if asset is None or media is None or media.account_id != member.id:
                raise self.unprocessable(f"/content :: {urn} does not exist")
            if asset.owner != author:
                raise self.unprocessable(
                    f"/content :: the owner of {urn} must be the author {author}"
                )
            if asset.status != "AVAILABLE":
                raise self.unprocessable(f"/content :: {urn} is not available ({asset.status})")
            found.append(media)
        return tuple(found)


def _throttle_message(scope: str) -> str:
    return f"Resource level throttle {scope} DAY limit for calls to this resource is reached."


def _alt_texts(content: Any) -> list[str]:
    if not isinstance(content, dict):
        return []
    if "multiImage" in content:
        return [str(i.get("altText") or "") for i in content["multiImage"].get("images") or []]
    return [str((content.get("media") or {}).get("altText") or "")]
