"""``/api/postiz/me`` and ``/api/postiz/tokens``: who you are, and your own API tokens."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from postiz_pipelines.api.deps import CallerDep, State, WriterDep
from postiz_pipelines.api.idempotency import IdempotentDep
from postiz_pipelines.api.schemas.tokens import (
    MeOut,
    TokenCreate,
    TokenCreated,
    TokenList,
    TokenOut,
)
from postiz_pipelines.api.schemas.workspaces import WorkspaceOut
from postiz_pipelines.core.models import Role, Workspace
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
    summary="Create a token (editor somewhere); its value is in this answer only",
)
def create(body: TokenCreate, st: State, caller: WriterDep, idem: IdempotentDep) -> JSONResponse:
    caller.require_somewhere(Role.EDITOR, "creating an API token")
    # a replayed answer would have to store the token's value; refuse rather than keep it
    idem.refuse_key("a token is shown once")
    with st.app.db.session() as s:
        issued = auth.create_token(
            s,
            user_id=caller.user_id,
            name=body.name,
            now=st.now(),
            expires_in_days=body.expires_in_days,
            actor=caller.actor,
        )
        out = TokenCreated(**TokenOut.of(issued.row).model_dump(), token=issued.token)
    return JSONResponse(out.dump(), status_code=201)


@router.delete("/tokens/{token_id}", response_model=TokenOut, summary="Revoke one of your tokens")
def revoke(token_id: str, st: State, caller: WriterDep) -> JSONResponse:
    with st.app.db.session() as s:
        row = auth.revoke_token(
            s, token_id=token_id, user_id=caller.user_id, now=st.now(), actor=caller.actor
        )
        return JSONResponse(TokenOut.of(row).dump())
