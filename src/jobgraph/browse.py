"""Read-only paging over the knowledge base for front ends that show one page at a time.

``Workspace.list`` and ``Workspace.search`` return whole result sets; the web app and the API
need a page and the total count, filtered and searched together, without loading every entity.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, func, literal, select, true

from jobgraph.domain.entities import Status, from_data
from jobgraph.domain.ids import Kind
from jobgraph.service import Workspace
from jobgraph.store.repository import Record
from jobgraph.store.tables import EntityRow

MAX_PAGE = 500

_COLUMNS = (
    EntityRow.data,
    EntityRow.version,
    EntityRow.created_at,
    EntityRow.created_by,
    EntityRow.updated_at,
    EntityRow.updated_by,
)


@dataclass(frozen=True, slots=True)
class Page:
    records: list[Record]
    count: int
    limit: int
    offset: int


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def page(
    workspace: Workspace,
    *,
    kind: Kind | None = None,
    status: Status | None = None,
    owner: str | None = None,
    text: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Page:
    """One page of entities matching every filter; with ``text``, every word must appear and
    title matches come first (as in ``Workspace.search``), else ordered by id."""
    limit = max(1, min(limit, MAX_PAGE))
    offset = max(0, offset)
    conditions: list[Any] = []
    if kind is not None:
        conditions.append(EntityRow.kind == kind.value)
    if status is not None:
        conditions.append(EntityRow.status == status.value)
    if owner is not None:
        conditions.append(EntityRow.owner == owner)
    order: list[Any] = [EntityRow.id]
    terms = (text or "").lower().split()
    if terms:
        conditions += [
            EntityRow.search_text.like(f"%{_escape_like(t)}%", escape="\\") for t in terms
        ]
        phrase = f"%{_escape_like(' '.join(terms))}%"
        rank = case(
            (func.lower(EntityRow.title).like(phrase, escape="\\"), 0),
            (EntityRow.id.like(phrase, escape="\\"), 1),
            else_=2,
        )
        order = [rank, EntityRow.status == "retired", EntityRow.id]
    where = and_(true(), *conditions)
    with workspace.kb.engine.connect() as conn:
        if terms:
            # one scan finds the page's ids and the total; the sort carries ids only
            hits = conn.execute(
                select(EntityRow.id, func.count().over().label("total"))
                .where(where)
                .order_by(*order)
                .limit(limit)
                .offset(offset)
            ).all()
            ids = [h.id for h in hits]
            count = hits[0].total if hits else None
            rows = conn.execute(select(*_COLUMNS).where(EntityRow.id.in_(ids))).all()
            by_id = {r.data["id"]: r for r in rows}
            rows = [by_id[i] for i in ids if i in by_id]
        else:
            rows = conn.execute(
                select(*_COLUMNS).where(where).order_by(*order).limit(limit).offset(offset)
            ).all()
            count = len(rows) if offset == 0 and len(rows) < limit else None
        if count is None:
            count = conn.execute(
                select(func.count()).select_from(EntityRow).where(where)
            ).scalar_one()
    records = [
        Record(from_data(r.data), r.version, r.created_at, r.created_by, r.updated_at, r.updated_by)
        for r in rows
    ]
    return Page(records, count, limit, offset)


def evidence_for(workspace: Workspace, entity_id: str) -> list[Record]:
    """The evidence entities whose ``supports`` names ``entity_id``, by id."""
    ids = sorted(
        {
            source
            for source, field in workspace.links_to(entity_id)
            if field == "supports" and source.startswith(f"{Kind.EVIDENCE.value}.")
        }
    )
    found = workspace.kb.get_many(ids)
    return [found[i] for i in ids if i in found]


def ping(workspace: Workspace) -> None:
    """Raise if the database cannot be reached (for health checks); cheap at any size."""
    with workspace.kb.engine.connect() as conn:
        conn.execute(select(literal(1))).scalar_one()
