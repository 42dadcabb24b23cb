"""Read-only paging over the knowledge base for front ends that show one page at a time.

``Workspace.list`` and ``Workspace.search`` return whole result sets; the web app and the API
need a page and the total count, filtered and searched together, without loading every entity.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, literal, select, true

from jobgraph.domain.entities import Status, from_data
from jobgraph.domain.ids import Kind
from jobgraph.service import Workspace
from jobgraph.store.repository import Record
from jobgraph.store.search import words
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
    """One page of entities matching every filter; with ``text``, every word must match (the
    full-text index, as in ``Workspace.search``) and the most relevant come first, else they
    are ordered by id."""
    limit = max(1, min(limit, MAX_PAGE))
    offset = max(0, offset)
    if text and text.strip():
        return _search_page(workspace, text, kind, status, owner, limit, offset)
    conditions: list[Any] = []
    if kind is not None:
        conditions.append(EntityRow.kind == kind.value)
    if status is not None:
        conditions.append(EntityRow.status == status.value)
    if owner is not None:
        conditions.append(EntityRow.owner == owner)
    order: list[Any] = [EntityRow.id]
    where = and_(true(), *conditions)
    with workspace.kb.engine.connect() as conn:
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


def _search_page(
    workspace: Workspace,
    text: str,
    kind: Kind | None,
    status: Status | None,
    owner: str | None,
    limit: int,
    offset: int,
) -> Page:
    if not words(text):
        return Page([], 0, limit, offset)  # nothing searchable in it (e.g. "%_") matches nothing
    filters = {
        "kind": kind.value if kind else None,
        "status": status.value if status else None,
        "owner": owner,
    }
    records, count = workspace.kb.search_page(text, **filters, limit=limit, offset=offset)
    if count is None and offset > 0:  # past the last page: count the matches on their own
        count = workspace.kb.search_page(text, **filters, limit=1, offset=0)[1]
    return Page(records, count or 0, limit, offset)


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
