"""``/api/postiz/webhooks``: outgoing webhook subscriptions (admin) and their deliveries."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from postiz_pipelines.api.deps import CallerDep, State, WriterDep
from postiz_pipelines.api.idempotency import IdempotentDep
from postiz_pipelines.api.routes.posts import resolve_workspace
from postiz_pipelines.api.schemas.webhooks import (
    DeliveryList,
    DeliveryOut,
    WebhookCreate,
    WebhookCreated,
    WebhookList,
    WebhookOut,
)
from postiz_pipelines.core.models import Role
from postiz_pipelines.core.observability import webhook_subscriptions as webhooks

router = APIRouter(prefix="/api/postiz/webhooks", tags=["webhooks"])


@router.get("", response_model=WebhookList, summary="A workspace's webhooks (admin)")
def list_(
    st: State, caller: CallerDep, workspace_id: Annotated[str | None, Query(max_length=64)] = None
) -> JSONResponse:
    ws_id = resolve_workspace(caller, workspace_id, Role.ADMIN)
    with st.app.db.read() as s:
        return JSONResponse(
            WebhookList(
                webhooks=[WebhookOut.of(w) for w in webhooks.list_subscriptions(s, ws_id)]
            ).dump()
        )


@router.post(
    "",
    status_code=201,
    response_model=WebhookCreated,
    summary="Subscribe a URL to post events; the signing secret is in this answer only",
)
def create(body: WebhookCreate, st: State, caller: WriterDep, idem: IdempotentDep) -> JSONResponse:
    caller.require(body.workspace_id, Role.ADMIN)
    idem.refuse_key("the secret is shown once")
    with st.app.db.session() as s:
        sub, secret = webhooks.create_subscription(
            s,
            st.app.keyring,
            workspace_id=body.workspace_id,
            url=body.url,
            events=body.events,
            now=st.now(),
            actor=caller.actor,
            allow_private=st.app.settings.webhook_allow_private,
        )
        out = WebhookCreated(**WebhookOut.of(sub).model_dump(), secret=secret.reveal())
    return JSONResponse(out.dump(), status_code=201)


@router.delete("/{webhook_id}", status_code=204, summary="Remove a webhook (admin)")
def delete(webhook_id: str, st: State, caller: WriterDep) -> None:
    with st.app.db.session() as s:
        sub = webhooks.get_subscription(s, webhook_id)
        caller.require(sub.workspace_id, Role.ADMIN, kind="webhook", ident=webhook_id)
        webhooks.delete_subscription(s, sub, now=st.now(), actor=caller.actor)


@router.get(
    "/{webhook_id}/deliveries", response_model=DeliveryList, summary="Recent deliveries (admin)"
)
def deliveries(
    webhook_id: str, st: State, caller: CallerDep, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> JSONResponse:
    with st.app.db.read() as s:
        sub = webhooks.get_subscription(s, webhook_id)
        caller.require(sub.workspace_id, Role.ADMIN, kind="webhook", ident=webhook_id)
        rows = webhooks.list_deliveries(s, sub.id, limit=limit)
        return JSONResponse(DeliveryList(deliveries=[DeliveryOut.of(d) for d in rows]).dump())
