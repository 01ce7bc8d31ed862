"""``/api/postiz/me`` and ``/api/postiz/tokens``: who you are, and your own API tokens."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse

from postiz_pipelines.api import idempotency
from postiz_pipelines.api.deps import CallerDep, State, WriterDep
from postiz_pipelines.api.schemas_admin import (
    MeOut,
    TokenCreate,
    TokenCreated,
    TokenList,
    TokenOut,
    WorkspaceOut,
)
from postiz_pipelines.core.models import Workspace
from postiz_pipelines.core.workspaces import auth

router = APIRouter(prefix="/api/postiz", tags=["tokens"])


@router.get("/me", response_model=MeOut, summary="The caller and their workspaces")
def me(st: State, caller: CallerDep) -> JSONResponse:
    with st.app.db.read() as s:
        spaces = [
            WorkspaceOut.of(w, caller.roles[w.id])
            for w in (s.get(Workspace, i) for i in caller.roles)
            if w is not None
        ]
    return JSONResponse(
        MeOut(
            id=caller.user_id, email=caller.email, workspaces=sorted(spaces, key=lambda w: w.slug)
        ).dump()
    )


@router.get("/tokens", response_model=TokenList, summary="Your API tokens (never their values)")
def list_(st: State, caller: CallerDep) -> JSONResponse:
    with st.app.db.read() as s:
        return JSONResponse(
            TokenList(tokens=[TokenOut.of(t) for t in auth.list_tokens(s, caller.user_id)]).dump()
        )


@router.post(
    "/tokens",
    status_code=201,
    response_model=TokenCreated,
    summary="Create a token; its value is in this answer only",
)
def create(
    body: TokenCreate,
    request: Request,
    st: State,
    caller: WriterDep,
    key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)] = None,
) -> JSONResponse:
    if key is not None:
        # a replayed answer would have to store the token's value; refuse rather than keep it
        from postiz_pipelines.errors import Problem, ValidationFailed

        raise ValidationFailed(
            Problem("Idempotency-Key", "is not accepted here: a token is shown once")
        )

    def work(s: Any) -> tuple[int, dict[str, Any]]:
        issued = auth.create_token(
            s,
            user_id=caller.user_id,
            name=body.name,
            now=st.now(),
            expires_in_days=body.expires_in_days,
            actor=caller.actor,
        )
        out = TokenCreated(**TokenOut.of(issued.row).model_dump(), token=issued.token)
        return 201, out.dump()

    return idempotency.run(
        st, caller, None, method="POST", path=request.url.path, body=None, work=work
    )


@router.delete("/tokens/{token_id}", response_model=TokenOut, summary="Revoke one of your tokens")
def revoke(token_id: str, st: State, caller: WriterDep) -> JSONResponse:
    with st.app.db.session() as s:
        row = auth.revoke_token(
            s, token_id=token_id, user_id=caller.user_id, now=st.now(), actor=caller.actor
        )
        return JSONResponse(TokenOut.of(row).dump())
