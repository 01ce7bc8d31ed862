"""``/api/postiz/oauth/{platform}``: connecting accounts without pasting a token.

- ``GET  /authorize?workspace_id=…`` (admin, API token in the ``Authorization`` header only):
  the URL to open as JSON, or with ``redirect=true`` a 302 to it. Either answer sets the
  binding cookie (``HttpOnly``, ``SameSite=Lax``, ``Secure`` when the public URL is https,
  for the state's lifetime) whose nonce's hash is kept on the state. Mastodon takes
  ``instance``, Discord ``mode=webhook``, Reddit ``subreddit``, Pinterest ``board_id``,
  the platforms with several accounts per consent (Facebook Pages, Instagram, Slack and
  Discord channels) ``select`` (ids, repeatable) to choose in advance.
- ``GET  /callback?code&state`` (or ``error``): where the platform sends the browser. The
  state is single use, lives 10 minutes and is bound to who began: a request with an API
  token must be that user's, one without must carry the binding cookie of that state (else
  422 and the state stays unspent). Answers the stored accounts (JSON), or redirects to
  ``POSTIZ_OAUTH_RETURN_URL`` when set.
- ``POST /select`` ``{state, ids}``: store the chosen accounts of a consent that found
  several (bound as the callback is).
- ``POST /connect`` (admin): Bluesky ``{handle, app_password}``, Telegram ``{bot_token,
  chat_id}``: checked with the platform, then stored.
"""

from __future__ import annotations

import asyncio
from typing import Annotated
from urllib.parse import parse_qs, urlencode, urlsplit

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from postiz_pipelines.api.deps import Caller, CallerDep, State, WriterDep, bearer, current_caller
from postiz_pipelines.api.schemas.accounts import AccountOut
from postiz_pipelines.api.schemas.oauth import (
    AuthorizeOut,
    ConnectOut,
    SecretConnectIn,
    SelectIn,
)
from postiz_pipelines.core.accounts.connect import flow, states
from postiz_pipelines.core.models import Role
from postiz_pipelines.providers.connect.oauth import ConnectHttp

router = APIRouter(prefix="/api/postiz/oauth", tags=["connect"])
# the callback and the choice authenticate by the state; an API token, when sent, is checked
STATE_ANSWERS: dict[int | str, dict[str, str]] = {
    401: {"description": "an API token was sent and is not valid"},
    409: {"description": "the account is connected in another workspace"},
    422: {"description": "refused: state, consent, code, or the platform's answer"},
}


def optional_caller(request: Request, st: State) -> Caller | None:
    return current_caller(request, st) if bearer(request) else None


MaybeCaller = Annotated[Caller | None, Depends(optional_caller)]


def _net(st: State) -> ConnectHttp:
    return ConnectHttp(st.transport, st.app.settings.http_timeout_seconds)


def callback_url(request: Request, st: State, platform: str) -> str:
    base = st.app.settings.public_url or str(request.base_url).rstrip("/")
    return f"{base}/api/postiz/oauth/{platform}/callback"


def _cookie_path(request: Request, st: State, platform: str) -> str:
    """The callback's folder as the browser sees it (a public URL may add a prefix)."""
    return urlsplit(callback_url(request, st, platform)).path.rsplit("/", 1)[0] + "/"


def bind_browser(
    response: Response, request: Request, st: State, platform: str, url: str, nonce: str
) -> None:
    """The cookie that binds the state in ``url`` to this browser."""
    raw = parse_qs(urlsplit(url).query)["state"][0]
    base = st.app.settings.public_url or str(request.base_url)
    response.set_cookie(
        states.browser_cookie(raw),
        nonce,
        max_age=st.app.settings.oauth_state_seconds,
        path=_cookie_path(request, st, platform),
        secure=base.startswith("https://"),
        httponly=True,
        samesite="lax",
    )


def browser_nonce(request: Request, state: str | None) -> str | None:
    return request.cookies.get(states.browser_cookie(state)) if state else None


def forget_browser(
    response: Response, request: Request, st: State, platform: str, state: str
) -> None:
    base = st.app.settings.public_url or str(request.base_url)
    response.delete_cookie(
        states.browser_cookie(state),
        path=_cookie_path(request, st, platform),
        secure=base.startswith("https://"),
        httponly=True,
        samesite="lax",
    )


def result_body(result: flow.ConnectResult) -> dict:
    return ConnectOut(
        platform=result.platform,
        accounts=[AccountOut.of(s.account) for s in result.stored],
        reconnected=[s.account.id for s in result.stored if s.reconnected],
        released_jobs=sum(s.released for s in result.stored),
        choices=result.choices,  # type: ignore[arg-type]
    ).dump()


@router.get(
    "/{platform}/authorize",
    response_model=AuthorizeOut,
    summary="Begin a connect (admin)",
    responses={
        302: {"description": "redirect=true: to the platform's consent page"},
        503: {"description": "no OAuth client configured for the platform"},
    },
)
def authorize(
    platform: str,
    request: Request,
    st: State,
    caller: CallerDep,
    workspace_id: Annotated[str, Query(min_length=1, max_length=64)],
    instance: Annotated[str | None, Query(max_length=500)] = None,
    mode: Annotated[str | None, Query(pattern="^(bot|webhook)$")] = None,
    subreddit: Annotated[str | None, Query(max_length=100)] = None,
    board_id: Annotated[str | None, Query(max_length=100)] = None,
    select: Annotated[list[str] | None, Query(max_length=50)] = None,
    redirect: bool = False,
) -> Response:
    caller.require(workspace_id, Role.ADMIN)
    nonce = states.new_browser_nonce()
    url = asyncio.run(
        flow.begin(
            st.app,
            platform=platform,
            workspace_id=workspace_id,
            user_id=caller.user_id,
            redirect_uri=callback_url(request, st, platform),
            net=_net(st),
            now=st.now(),
            options={
                "instance": instance,
                "mode": mode,
                "subreddit": subreddit,
                "board_id": board_id,
                "select": select,
            },
            browser_nonce=nonce,
        )
    )
    out = AuthorizeOut(platform=platform, url=url, expires_in=st.app.settings.oauth_state_seconds)
    response: Response = (
        RedirectResponse(url, status_code=302) if redirect else JSONResponse(out.dump())
    )
    bind_browser(response, request, st, platform, url, nonce)
    return response


@router.get(
    "/{platform}/callback",
    response_model=ConnectOut,
    summary="The platform's redirect",
    responses={
        **STATE_ANSWERS,
        303: {"description": "stored; redirected to POSTIZ_OAUTH_RETURN_URL"},
    },
)
def callback(
    platform: str,
    request: Request,
    st: State,
    caller: MaybeCaller,
    state: Annotated[str | None, Query(max_length=200)] = None,
    code: Annotated[str | None, Query(max_length=2000)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
    error_description: Annotated[str | None, Query(max_length=1000)] = None,
) -> Response:
    result = asyncio.run(
        flow.complete(
            st.app,
            platform=platform,
            state=state,
            code=code,
            error=error,
            error_description=error_description,
            user_id=caller.user_id if caller else None,
            net=_net(st),
            now=st.now(),
            actor=caller.actor if caller else None,
            browser_nonce=browser_nonce(request, state),
        )
    )
    response: Response
    if result.return_to and result.stored:
        query = urlencode(
            {"platform": platform, "accounts": ",".join(a.id for a in result.accounts)}
        )
        response = RedirectResponse(f"{result.return_to}?{query}", status_code=303)
    else:
        response = JSONResponse(result_body(result))
    if result.stored and state:  # spent: its cookie has no more use
        forget_browser(response, request, st, platform, state)
    return response


@router.post(
    "/{platform}/select",
    response_model=ConnectOut,
    summary="Choose found accounts",
    responses=STATE_ANSWERS,
)
def choose(
    platform: str, body: SelectIn, request: Request, st: State, caller: MaybeCaller
) -> JSONResponse:
    result = flow.select(
        st.app,
        platform=platform,
        state=body.state,
        ids=body.ids,
        user_id=caller.user_id if caller else None,
        now=st.now(),
        actor=caller.actor if caller else None,
        browser_nonce=browser_nonce(request, body.state),
    )
    response = JSONResponse(result_body(result))
    if result.stored:
        forget_browser(response, request, st, platform, body.state)
    return response


@router.post(
    "/{platform}/connect",
    status_code=201,
    response_model=ConnectOut,
    summary="Connect Bluesky (app password) or Telegram (bot token) (admin)",
)
def connect(platform: str, body: SecretConnectIn, st: State, caller: WriterDep) -> JSONResponse:
    caller.require(body.workspace_id, Role.ADMIN)
    result = asyncio.run(
        flow.connect_secret(
            st.app,
            platform=platform,
            workspace_id=body.workspace_id,
            fields=body.model_dump(exclude={"workspace_id"}),
            net=_net(st),
            now=st.now(),
            actor=caller.actor,
        )
    )
    return JSONResponse(result_body(result), status_code=201)
