"""``/api/postiz/accounts``: connected social accounts (tokens go in, never come out), and
their weekly posting slots."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from postiz_pipelines.api import idempotency
from postiz_pipelines.api.deps import CallerDep, State, WriterDep
from postiz_pipelines.api.idempotency import IdempotentDep
from postiz_pipelines.api.routes.posts import resolve_workspace
from postiz_pipelines.api.schemas.accounts import (
    AccountCreate,
    AccountList,
    AccountOut,
    AccountSlotsIn,
    AccountSlotsOut,
)
from postiz_pipelines.api.schemas.oauth import AccountPatch
from postiz_pipelines.core.accounts.settings import update_account
from postiz_pipelines.core.accounts.store import add_account, get_account, list_accounts
from postiz_pipelines.core.models import Role
from postiz_pipelines.core.publishing.account_jobs import remove_account
from postiz_pipelines.core.scheduling.slots import set_posting_slots
from postiz_pipelines.core.scheduling.timeparse import parse_instant
from postiz_pipelines.core.workspaces.store import get_workspace

router = APIRouter(prefix="/api/postiz/accounts", tags=["accounts"])


@router.get("", response_model=AccountList, summary="A workspace's connected accounts")
def list_(
    st: State, caller: CallerDep, workspace_id: Annotated[str | None, Query(max_length=64)] = None
) -> JSONResponse:
    ws_id = resolve_workspace(caller, workspace_id)
    with st.app.db.read() as s:
        return JSONResponse(
            AccountList(accounts=[AccountOut.of(a) for a in list_accounts(s, ws_id)]).dump()
        )


@router.post("", status_code=201, response_model=AccountOut, summary="Connect an account (admin)")
def create(body: AccountCreate, st: State, caller: WriterDep, idem: IdempotentDep) -> JSONResponse:
    caller.require(body.workspace_id, Role.ADMIN)
    expires = (
        parse_instant(body.expires_at, field="expiresAt", fallback_zone="UTC")
        if body.expires_at
        else None
    )

    def work(s: Any) -> tuple[int, dict[str, Any]]:
        acc = add_account(
            s,
            st.app.keyring,
            workspace=get_workspace(s, body.workspace_id),
            platform=body.platform,
            handle=body.handle,
            access_token=body.access_token,
            refresh_token=body.refresh_token,
            token_expires_at=expires,
            external_id=body.external_id,
            base_url=body.base_url,
            display_name=body.display_name,
            settings=body.settings,
            now=st.now(),
            actor=caller.actor,
        )
        return 201, AccountOut.of(acc).dump()

    # the fingerprint leaves the tokens out: it is stored, and a token must never be
    fingerprint = body.model_dump(mode="json", exclude={"access_token", "refresh_token"})
    fingerprint["tokens"] = idempotency.fingerprint("", "", [body.access_token, body.refresh_token])
    return idem.run(work, body=fingerprint)


@router.get("/{account_id}", response_model=AccountOut, summary="One account")
def read(account_id: str, st: State, caller: CallerDep) -> JSONResponse:
    with st.app.db.read() as s:
        acc = get_account(s, account_id)
        caller.require(acc.workspace_id, Role.VIEWER, kind="account", ident=account_id)
        return JSONResponse(AccountOut.of(acc).dump())


@router.patch(
    "/{account_id}",
    response_model=AccountOut,
    summary="Change an account's display name, language or platform settings (admin)",
)
def patch(account_id: str, body: AccountPatch, st: State, caller: WriterDep) -> JSONResponse:
    with st.app.db.session() as s:
        acc = get_account(s, account_id)
        caller.require(acc.workspace_id, Role.ADMIN, kind="account", ident=account_id)
        update_account(
            s,
            acc,
            display_name=body.display_name,
            language=body.language,
            settings=body.settings,
            now=st.now(),
            actor=caller.actor,
        )
        return JSONResponse(AccountOut.of(acc).dump())


@router.delete(
    "/{account_id}",
    status_code=204,
    summary="Disconnect an account (admin); its waiting jobs are canceled",
)
def delete(account_id: str, st: State, caller: WriterDep) -> None:
    with st.app.db.session() as s:
        acc = get_account(s, account_id)
        caller.require(acc.workspace_id, Role.ADMIN, kind="account", ident=account_id)
        remove_account(s, acc, now=st.now(), actor=caller.actor)


@router.put(
    "/{account_id}/slots",
    response_model=AccountSlotsOut,
    summary="Set the account's weekly posting slots (used by scheduledAt 'next_slot')",
)
def put_slots(account_id: str, body: AccountSlotsIn, st: State, caller: WriterDep) -> JSONResponse:
    now = st.now()
    with st.app.db.session() as s:
        acc = get_account(s, account_id)
        caller.require(acc.workspace_id, Role.EDITOR, kind="account", ident=account_id)
        raw = set_posting_slots(
            s, acc, [slot.model_dump() for slot in body.slots], now=now, actor=caller.actor
        )
        return JSONResponse(AccountSlotsOut(account_id=acc.id, slots=raw).dump())
