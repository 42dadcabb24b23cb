"""/api/v1/webhooks: subscribers to changes and their delivery log (admin)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request

from jobgraph.api.deps import allowed
from jobgraph.api.schemas import (
    DeliveryPublic,
    ListOf,
    WebhookCreate,
    WebhookCreated,
    WebhookPublic,
    WebhookUpdate,
)
from jobgraph.auth.access import Principal
from jobgraph.auth.roles import Action
from jobgraph.webhooks import Webhooks

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])

Manager = Annotated[Principal, Depends(allowed(Action.MANAGE_WEBHOOKS))]
WebhookId = Annotated[int, Path(ge=1, le=2_000_000_000)]


async def webhooks(request: Request) -> Webhooks:
    hooks: Webhooks = request.app.state.webhooks
    return hooks


WebhooksDep = Annotated[Webhooks, Depends(webhooks)]


@router.get("", response_model=ListOf[WebhookPublic], summary="List webhooks")
def list_webhooks(hooks: WebhooksDep, who: Manager) -> Any:
    found = hooks.list()
    return {"data": [WebhookPublic.of(w) for w in found], "count": len(found)}


@router.post("", status_code=201, response_model=WebhookCreated, summary="Add a webhook")
def add_webhook(body: WebhookCreate, hooks: WebhooksDep, who: Manager) -> Any:
    """Every change from now on is POSTed to ``url``, signed with the returned secret."""
    hook, secret = hooks.add(body.url, kinds=[k.value for k in body.kinds], actor=who.name)
    return WebhookCreated(**WebhookPublic.of(hook).model_dump(), secret=secret)


@router.patch("/{webhook_id}", response_model=WebhookPublic, summary="Pause or resume")
def change_webhook(
    webhook_id: WebhookId, body: WebhookUpdate, hooks: WebhooksDep, who: Manager
) -> Any:
    return WebhookPublic.of(hooks.set_active(webhook_id, body.active))


@router.get(
    "/{webhook_id}/deliveries", response_model=ListOf[DeliveryPublic], summary="Delivery log"
)
def list_deliveries(
    webhook_id: WebhookId,
    hooks: WebhooksDep,
    who: Manager,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Any:
    hooks.get(webhook_id)
    found = hooks.deliveries(webhook_id, limit)
    return {"data": [DeliveryPublic.of(d) for d in found], "count": len(found)}
