"""``/api/postiz/workspaces``: the caller's workspaces and their members."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from postiz_pipelines.api.deps import Caller, CallerDep, State, WriterDep
from postiz_pipelines.api.idempotency import IdempotentDep
from postiz_pipelines.api.problems import forbidden
from postiz_pipelines.api.schemas.workspaces import (
    MemberIn,
    MemberList,
    MemberOut,
    MemberPatch,
    WorkspaceCreate,
    WorkspaceList,
    WorkspaceOut,
    WorkspacePatch,
)
from postiz_pipelines.core.models import Role, Workspace
from postiz_pipelines.core.workspaces import auth
from postiz_pipelines.core.workspaces.changes import create_owned_workspace, update_workspace
from postiz_pipelines.errors import NotFound

router = APIRouter(prefix="/api/postiz/workspaces", tags=["workspaces"])


def _workspace(s: Any, caller: Caller, workspace_id: str, role: Role) -> Workspace:
    caller.require(workspace_id, role)
    ws = s.get(Workspace, workspace_id)
    if ws is None or ws.deleted_at is not None:
        raise NotFound("workspace", workspace_id)
    return ws


@router.get("", response_model=WorkspaceList, summary="The workspaces you belong to")
def list_(st: State, caller: CallerDep) -> JSONResponse:
    with st.app.db.read() as s:
        rows = [s.get(Workspace, ws_id) for ws_id in caller.roles]
        out = [WorkspaceOut.of(w, caller.roles[w.id]) for w in rows if w is not None]
    return JSONResponse(WorkspaceList(workspaces=sorted(out, key=lambda w: w.slug)).dump())


@router.post(
    "",
    status_code=201,
    response_model=WorkspaceOut,
    summary="Create a workspace; you become its owner (admin somewhere)",
)
def create(
    body: WorkspaceCreate, st: State, caller: WriterDep, idem: IdempotentDep
) -> JSONResponse:
    caller.require_somewhere(Role.ADMIN, "creating a workspace")

    def work(s: Any) -> tuple[int, dict[str, Any]]:
        ws = create_owned_workspace(
            s,
            slug=body.slug,
            name=body.name,
            timezone=body.timezone,
            language=body.language,
            owner_id=caller.user_id,
            now=st.now(),
            actor=caller.actor,
        )
        return 201, WorkspaceOut.of(ws, Role.OWNER).dump()

    return idem.run(work, body=body.model_dump(mode="json"))


@router.get("/{workspace_id}", response_model=WorkspaceOut, summary="One workspace")
def read(workspace_id: str, st: State, caller: CallerDep) -> JSONResponse:
    with st.app.db.read() as s:
        ws = _workspace(s, caller, workspace_id, Role.VIEWER)
        return JSONResponse(WorkspaceOut.of(ws, caller.roles[ws.id]).dump())


@router.patch(
    "/{workspace_id}",
    response_model=WorkspaceOut,
    summary="Rename, change time zone or language (admin)",
)
def edit(workspace_id: str, body: WorkspacePatch, st: State, caller: WriterDep) -> JSONResponse:
    with st.app.db.session() as s:
        ws = _workspace(s, caller, workspace_id, Role.ADMIN)
        update_workspace(
            s,
            ws,
            name=body.name,
            timezone=body.timezone,
            language=body.language,
            now=st.now(),
            actor=caller.actor,
        )
        return JSONResponse(WorkspaceOut.of(ws, caller.roles[ws.id]).dump())


@router.get("/{workspace_id}/members", response_model=MemberList, summary="Members and their roles")
def members(workspace_id: str, st: State, caller: CallerDep) -> JSONResponse:
    with st.app.db.read() as s:
        _workspace(s, caller, workspace_id, Role.VIEWER)
        rows = auth.list_members(s, workspace_id)
        out = [MemberOut(user_id=u.id, email=u.email, role=m.role) for m, u in rows]
    return JSONResponse(MemberList(members=out).dump())


def _may_assign(caller: Caller, workspace_id: str, *, old: str | None, new: str | None) -> None:
    """Admins manage editors and viewers; only an owner touches owners and admins."""
    if Role.OWNER in (old, new) or Role.ADMIN in (old, new):
        if caller.roles.get(workspace_id) != Role.OWNER:
            raise forbidden("only an owner can grant, change or remove the owner and admin roles")


@router.post(
    "/{workspace_id}/members",
    status_code=201,
    response_model=MemberOut,
    summary="Add an existing user by email (admin)",
)
def add_member(
    workspace_id: str, body: MemberIn, st: State, caller: WriterDep, idem: IdempotentDep
) -> JSONResponse:
    def work(s: Any) -> tuple[int, dict[str, Any]]:
        _workspace(s, caller, workspace_id, Role.ADMIN)
        user = auth.get_user(s, body.email)
        old = auth.role_of(s, user_id=user.id, workspace_id=workspace_id)
        _may_assign(caller, workspace_id, old=old, new=body.role)
        m = auth.set_member(
            s,
            workspace_id=workspace_id,
            user_id=user.id,
            role=body.role,
            now=st.now(),
            actor=caller.actor,
        )
        return 201, MemberOut(user_id=user.id, email=user.email, role=m.role).dump()

    return idem.run(work, body=body.model_dump(mode="json"))


@router.patch(
    "/{workspace_id}/members/{user_id}", response_model=MemberOut, summary="Change a role (admin)"
)
def change_member(
    workspace_id: str, user_id: str, body: MemberPatch, st: State, caller: WriterDep
) -> JSONResponse:
    with st.app.db.session() as s:
        _workspace(s, caller, workspace_id, Role.ADMIN)
        old = auth.role_of(s, user_id=user_id, workspace_id=workspace_id)
        if old is None:
            raise NotFound("member", user_id)
        _may_assign(caller, workspace_id, old=old, new=body.role)
        m = auth.set_member(
            s,
            workspace_id=workspace_id,
            user_id=user_id,
            role=body.role,
            now=st.now(),
            actor=caller.actor,
        )
        user = auth.get_user(s, user_id)
        return JSONResponse(MemberOut(user_id=user.id, email=user.email, role=m.role).dump())


@router.delete(
    "/{workspace_id}/members/{user_id}", status_code=204, summary="Remove a member (admin)"
)
def remove_member(workspace_id: str, user_id: str, st: State, caller: WriterDep) -> None:
    with st.app.db.session() as s:
        _workspace(s, caller, workspace_id, Role.ADMIN)
        old = auth.role_of(s, user_id=user_id, workspace_id=workspace_id)
        if old is None:
            raise NotFound("member", user_id)
        _may_assign(caller, workspace_id, old=old, new=None)
        auth.remove_member(
            s, workspace_id=workspace_id, user_id=user_id, now=st.now(), actor=caller.actor
        )
