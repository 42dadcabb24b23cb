"""/api/v1/entities: every kind of entity, by stable id. Handlers parse, call the workspace,
format; the rules (governance, linter, concurrency) live in the workspace."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse
from pydantic import BaseModel

from jobgraph.api.deps import (
    Approver,
    Creator,
    Editor,
    Merger,
    Reader,
    Rejecter,
    Retirer,
    Submitter,
    VersionDep,
    WorkspaceDep,
    etag,
)
from jobgraph.api.reading import EntityReader, not_modified
from jobgraph.api.schemas import (
    ChangePublic,
    EntityCreate,
    EntityPublic,
    EntityUpdate,
    FindingPublic,
    Link,
    LinksPublic,
    ListOf,
    Merge,
    Paged,
    Rejection,
    Retirement,
    RevisionPublic,
    StatusChange,
)
from jobgraph.browse import MAX_PAGE, evidence_for, page
from jobgraph.domain.entities import Status, references
from jobgraph.domain.ids import Kind
from jobgraph.service import Workspace
from jobgraph.store.repository import Record

router = APIRouter(prefix="/api/v1", tags=["entities"])

EntityId = Annotated[
    str, Path(max_length=200, description="A stable id such as job.resolve-billing-anomaly.")
]


def _one(record: Record, response: Response) -> EntityPublic:
    response.headers["ETag"] = etag(record.version)
    return EntityPublic.of(record)


def _json(model: BaseModel, headers: dict[str, str] | None = None) -> Response:
    """Serialise a response model directly: the hot read paths skip FastAPI's re-validation
    of what we just built."""
    return Response(model.model_dump_json(), media_type="application/json", headers=headers)


@router.get("/entities", response_model=Paged[EntityPublic], summary="List or search entities")
def list_entities(
    ws: WorkspaceDep,
    who: Reader,
    kind: Kind | None = None,
    status: Status | None = None,
    owner: Annotated[str | None, Query(max_length=200)] = None,
    q: Annotated[
        str | None, Query(max_length=200, description="Words that must all appear.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Any:
    found = page(ws, kind=kind, status=status, owner=owner, text=q, limit=limit, offset=offset)
    return _json(
        Paged[EntityPublic](
            data=[EntityPublic.of(r) for r in found.records],
            count=found.count,
            limit=found.limit,
            offset=found.offset,
        )
    )


@router.post("/entities", status_code=201, response_model=EntityPublic, summary="Create an entity")
def create_entity(
    body: EntityCreate, ws: WorkspaceDep, who: Creator, request: Request, response: Response
) -> Any:
    record = ws.create(body.data, author=who.name, reason=body.reason)
    response.headers["Location"] = str(request.url_for("get_entity", entity_id=record.id))
    return _one(record, response)


@router.get(
    "/entities/{entity_id}",
    response_model=EntityPublic,
    summary="Get an entity by its stable id",
    responses={
        304: {"description": "Not modified: If-None-Match names the current version."},
        307: {"description": "Retired or merged: redirect to the successor."},
    },
)
async def get_entity(
    entity_id: EntityId,
    who: Reader,
    request: Request,
    follow: Annotated[
        bool, Query(description="Redirect a retired or merged id to its successor.")
    ] = True,
    if_none_match: Annotated[
        str | None,
        Header(description='The ETag you hold, e.g. "3": unchanged answers 304 without a body.'),
    ] = None,
) -> Any:
    # async: the usual case is one indexed read (microseconds), cheaper than a thread hop;
    # the rest (redirects, not-found hints) runs in the thread pool
    reader: EntityReader = request.app.state.reader
    body = reader.read(entity_id, follow=follow)
    if body is None:
        ws: Workspace = request.app.state.workspace
        record = await run_in_threadpool(ws.get, entity_id, follow=follow)
        if record.id != entity_id:
            url = request.url_for("get_entity", entity_id=record.id)
            return RedirectResponse(str(url), status_code=307)
        body = reader.body(record)
    if not_modified(body, if_none_match):
        return Response(status_code=304, headers={"ETag": body.etag})
    return Response(body.json, media_type="application/json", headers={"ETag": body.etag})


@router.patch("/entities/{entity_id}", response_model=EntityPublic, summary="Update fields")
def update_entity(
    entity_id: EntityId,
    body: EntityUpdate,
    version: VersionDep,
    ws: WorkspaceDep,
    who: Editor,
    response: Response,
) -> Any:
    record = ws.update(
        entity_id,
        body.changes,
        expected_version=version,
        author=who.name,
        reason=body.reason,
    )
    return _one(record, response)


@router.post("/entities/{entity_id}/submit", response_model=EntityPublic, tags=["review"])
def submit_entity(
    entity_id: EntityId,
    version: VersionDep,
    ws: WorkspaceDep,
    who: Submitter,
    response: Response,
    body: StatusChange | None = None,
) -> Any:
    reason = body.reason if body and body.reason else "submitted for review"
    return _one(
        ws.submit(entity_id, expected_version=version, author=who.name, reason=reason), response
    )


@router.post("/entities/{entity_id}/approve", response_model=EntityPublic, tags=["review"])
def approve_entity(
    entity_id: EntityId,
    version: VersionDep,
    ws: WorkspaceDep,
    who: Approver,
    response: Response,
    body: StatusChange | None = None,
) -> Any:
    reason = body.reason if body and body.reason else "approved"
    return _one(
        ws.approve(entity_id, expected_version=version, author=who.name, reason=reason), response
    )


@router.post("/entities/{entity_id}/reject", response_model=EntityPublic, tags=["review"])
def reject_entity(
    entity_id: EntityId,
    body: Rejection,
    version: VersionDep,
    ws: WorkspaceDep,
    who: Rejecter,
    response: Response,
) -> Any:
    record = ws.reject(entity_id, expected_version=version, author=who.name, reason=body.reason)
    return _one(record, response)


@router.post("/entities/{entity_id}/retire", response_model=EntityPublic, tags=["review"])
def retire_entity(
    entity_id: EntityId,
    version: VersionDep,
    ws: WorkspaceDep,
    who: Retirer,
    response: Response,
    body: Retirement | None = None,
) -> Any:
    body = body or Retirement()
    record = ws.retire(
        entity_id,
        expected_version=version,
        author=who.name,
        reason=body.reason or "retired",
        successor=body.successor,
    )
    return _one(record, response)


@router.post("/entities/{entity_id}/merge", response_model=EntityPublic, tags=["review"])
def merge_entity(
    entity_id: EntityId,
    body: Merge,
    version: VersionDep,
    ws: WorkspaceDep,
    who: Merger,
    response: Response,
) -> Any:
    record = ws.merge(
        entity_id, body.into, expected_version=version, author=who.name, reason=body.reason
    )
    return _one(record, response)


@router.get("/entities/{entity_id}/history", response_model=ListOf[RevisionPublic])
def entity_history(entity_id: EntityId, ws: WorkspaceDep, who: Reader) -> Any:
    revisions = ws.history(entity_id)
    return {"data": [RevisionPublic.of(r) for r in revisions], "count": len(revisions)}


@router.get("/entities/{entity_id}/diff", response_model=ListOf[ChangePublic])
def entity_diff(
    entity_id: EntityId,
    ws: WorkspaceDep,
    who: Reader,
    from_version: Annotated[int, Query(alias="from", ge=1, le=1_000_000_000)],
    to_version: Annotated[int, Query(alias="to", ge=1, le=1_000_000_000)],
) -> Any:
    changes = ws.diff(entity_id, from_version, to_version)
    return {"data": [ChangePublic.of(c) for c in changes], "count": len(changes)}


@router.get("/entities/{entity_id}/links", response_model=LinksPublic, tags=["links"])
def entity_links(entity_id: EntityId, ws: WorkspaceDep, who: Reader) -> Any:
    record = ws.get(entity_id, follow=False)
    outgoing = [Link(id=t, field=f) for f, t, _ in references(record.entity)]
    incoming = [Link(id=s, field=f) for s, f in ws.links_to(record.id)]
    return LinksPublic(id=record.id, outgoing=outgoing, incoming=incoming)


@router.get("/entities/{entity_id}/evidence", response_model=ListOf[EntityPublic], tags=["links"])
def entity_evidence(entity_id: EntityId, ws: WorkspaceDep, who: Reader) -> Any:
    """The evidence entities that support this entity."""
    record = ws.get(entity_id, follow=False)
    data = [EntityPublic.of(r) for r in evidence_for(ws, record.id)]
    return {"data": data, "count": len(data)}


@router.get("/findings", response_model=ListOf[FindingPublic], tags=["quality"])
def findings(
    ws: WorkspaceDep,
    who: Reader,
    entity: Annotated[str | None, Query(max_length=200, description="Only about this id.")] = None,
) -> Any:
    """Every linter finding over the knowledge base: what needs attention."""
    found = [f for f in ws.validate() if entity is None or f.entity_id == entity]
    return {"data": [FindingPublic.of(f) for f in found], "count": len(found)}
