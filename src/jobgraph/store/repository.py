"""The knowledge base store: current entities, full revision history, optimistic concurrency.

Every write goes through :meth:`KnowledgeBase.write`, which applies a batch of changes in one
transaction: all land or none do. An update names the version it read; when another writer got
there first the conditional UPDATE matches no row and :class:`StaleVersion` is raised.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    Connection,
    Engine,
    Select,
    Text,
    bindparam,
    cast,
    create_engine,
    delete,
    event,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError, OperationalError

from jobgraph.domain.entities import Entity, from_data, references, to_data
from jobgraph.domain.ids import Kind
from jobgraph.errors import DuplicateId, EntityNotFound, InternalError, StaleVersion, UserError
from jobgraph.store.lookup import Lookup, Prepared
from jobgraph.store.search import page_query, search_params, words
from jobgraph.store.tables import EntityRow, LinkRow, ObservationRow, RevisionRow

MIGRATIONS = Path(__file__).parent / "migrations"
_MIGRATE_LOCK = threading.Lock()


@functools.cache
def _head_of(script_location: str) -> str | None:
    cfg = Config()
    cfg.set_main_option("script_location", script_location)
    return ScriptDirectory.from_config(cfg).get_current_head()


def _head(cfg: Config) -> str | None:
    return _head_of(str(cfg.get_main_option("script_location")))


Action = Literal["create", "update", "submit", "approve", "reject", "retire", "merge", "import"]


@dataclass(frozen=True, slots=True)
class Record:
    """An entity as stored: its current value plus bookkeeping."""

    entity: Entity
    version: int
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str

    @property
    def id(self) -> str:
        return self.entity.id


@dataclass(frozen=True, slots=True)
class Revision:
    entity_id: str
    version: int
    action: str
    author: str
    at: datetime
    reason: str
    snapshot: dict[str, Any]

    @property
    def entity(self) -> Entity:
        return from_data(self.snapshot)


@dataclass(frozen=True, slots=True)
class Observation:
    """A dated measurement about an entity, e.g. an outcome's scores from one survey."""

    entity_id: str
    kind: str
    observed_on: date
    segment: str
    values: dict[str, Any]
    source: str
    recorded_at: datetime | None = None
    recorded_by: str | None = None


@dataclass(frozen=True, slots=True)
class Change:
    """One write in a batch: a new entity (expected_version None) or an update of one."""

    entity: Entity
    expected_version: int | None
    action: Action


def _search_text(entity: Entity) -> str:
    parts: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            parts.append(value)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(to_data(entity))
    return " ".join(parts).lower()


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _record(row: EntityRow | Any) -> Record:
    return Record(
        entity=from_data(row.data),
        version=row.version,
        created_at=row.created_at,
        created_by=row.created_by,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
    )


_ENTITY_COLUMNS = [
    EntityRow.data,
    EntityRow.version,
    EntityRow.created_at,
    EntityRow.created_by,
    EntityRow.updated_at,
    EntityRow.updated_by,
]


ENTITY_TEXT_COLUMNS = (
    EntityRow.version,
    EntityRow.status,
    EntityRow.successor,
    cast(EntityRow.data, Text),
    EntityRow.created_at,
    EntityRow.created_by,
    EntityRow.updated_at,
    EntityRow.updated_by,
)
"""What :func:`with_entity` reads of an entity: the document as JSON text, so that a caller
with a cached copy of this version need not parse it."""


def with_entity(query: Select[Any], id_param: str = "id") -> Select[Any]:
    """``query`` with the :data:`ENTITY_TEXT_COLUMNS` of the entity ``:id_param`` beside it
    (outer-joined: all None when there is no such entity), so one round trip answers both."""
    return query.add_columns(*ENTITY_TEXT_COLUMNS).outerjoin(
        EntityRow, EntityRow.id == bindparam(id_param)
    )


@dataclass(frozen=True, slots=True)
class Head:
    """What a reader needs to know about an entity before fetching it: its version (which
    changes on every write) and whether it points elsewhere."""

    version: int
    status: str
    successor: str | None


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction that writes: on SQLite it begins with ``BEGIN IMMEDIATE``
    (see the engine's ``begin`` hook), so writers queue for the lock up front instead of
    failing to upgrade a read lock halfway through."""
    with engine.connect() as conn:
        conn = conn.execution_options(jobgraph_write=True)
        with conn.begin():
            yield conn


class KnowledgeBase:
    """The knowledge base behind a database URL (SQLite file or PostgreSQL)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = self._make_engine(url)
        self.lookup = Lookup(self.engine)
        by_id = EntityRow.id == bindparam("id")
        self._get = self.lookup.prepare(select(*_ENTITY_COLUMNS).where(by_id))
        self._search_pages: dict[tuple[bool, bool, bool], Prepared] = {}
        self._head = self.lookup.prepare(
            select(EntityRow.version, EntityRow.status, EntityRow.successor).where(by_id)
        )

    @staticmethod
    def _make_engine(url: str) -> Engine:
        if url.startswith("sqlite"):
            engine = create_engine(url)

            @event.listens_for(engine, "connect")
            def _on_connect(dbapi_conn: Any, _record: Any) -> None:
                # we issue BEGIN ourselves so that writers take the lock up front
                dbapi_conn.isolation_level = None
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA foreign_keys=ON")
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA busy_timeout=30000")
                cur.close()

            @event.listens_for(engine, "begin")
            def _on_begin(conn: Connection) -> None:
                immediate = conn.get_execution_options().get("jobgraph_write", False)
                conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

            return engine
        return create_engine(url, pool_pre_ping=True)

    def migrate(self) -> None:
        """Bring the schema to the newest migration (serialised: Alembic is not thread-safe)."""
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        try:
            with _MIGRATE_LOCK, self.engine.begin() as conn:
                current = MigrationContext.configure(conn).get_current_revision()
                if current == _head(cfg):
                    return
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        except OperationalError as exc:
            raise UserError(
                f"cannot open the database {self.engine.url.render_as_string(hide_password=True)}:"
                f" {exc.orig}. Check the database URL and that the server is running."
            ) from exc

    def close(self) -> None:
        self.lookup.close()
        self.engine.dispose()

    # reads

    def get(self, entity_id: str) -> Record | None:
        row = self.lookup.one(self._get, {"id": entity_id})
        if row is None:
            return None
        data, version, created_at, created_by, updated_at, updated_by = row
        return Record(from_data(data), version, created_at, created_by, updated_at, updated_by)

    def head(self, entity_id: str) -> Head | None:
        """The version and status of an entity, without reading its fields."""
        row = self.lookup.one(self._head, {"id": entity_id})
        return Head(*row) if row is not None else None

    def get_many(self, entity_ids: Iterable[str]) -> dict[str, Record]:
        wanted = sorted(set(entity_ids))
        out: dict[str, Record] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                query = select(*_ENTITY_COLUMNS).where(EntityRow.id.in_(chunk))
                for row in conn.execute(query):
                    record = _record(row)
                    out[record.id] = record
        return out

    def records(
        self, kind: Kind | None = None, status: str | None = None, owner: str | None = None
    ) -> list[Record]:
        query = select(*_ENTITY_COLUMNS).order_by(EntityRow.id)
        if kind is not None:
            query = query.where(EntityRow.kind == kind.value)
        if status is not None:
            query = query.where(EntityRow.status == status)
        if owner is not None:
            query = query.where(EntityRow.owner == owner)
        with self.engine.connect() as conn:
            return [_record(r) for r in conn.execute(query)]

    def count(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(EntityRow.kind, func.count()).group_by(EntityRow.kind)).all()
        return {kind: n for kind, n in rows}

    def search(self, text: str, kind: Kind | None = None, limit: int = 50) -> list[Record]:
        """Entities matching every word of ``text``, most relevant first (full-text index:
        see jobgraph.store.search)."""
        if not words(text):
            return []
        return self.search_page(text, kind=kind.value if kind else None, limit=limit)[0]

    def search_page(
        self,
        text: str,
        *,
        kind: str | None = None,
        status: str | None = None,
        owner: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[Record], int | None]:
        """One page of :meth:`search` results, filtered, and the number of matches in all
        (None when the page is past the last match). ``text`` must contain a word."""
        dialect = self.engine.dialect.name
        shape = (kind is not None, status is not None, owner is not None)
        prepared = self._search_pages.get(shape)
        if prepared is None:
            k, s, o = shape
            query = page_query(_ENTITY_COLUMNS, dialect, kind=k, status=s, owner=o)
            prepared = self._search_pages[shape] = self.lookup.prepare(query)
        params = {
            **search_params(text, dialect),
            "kind": kind,
            "status": status,
            "owner": owner,
            "limit": limit,
            "offset": offset,
        }
        rows = self.lookup.all(prepared, params)
        records = [
            Record(from_data(data), version, created_at, created_by, updated_at, updated_by)
            for data, version, created_at, created_by, updated_at, updated_by, _ in rows
        ]
        return records, (rows[0][-1] if rows else None)

    def history(self, entity_id: str) -> list[Revision]:
        query = (
            select(RevisionRow)
            .where(RevisionRow.entity_id == entity_id)
            .order_by(RevisionRow.version)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        # JSONB (PostgreSQL) does not keep key order: rebuild snapshots in field order
        return [
            Revision(
                r.entity_id,
                r.version,
                r.action,
                r.author,
                r.at,
                r.reason,
                to_data(from_data(r.snapshot)),
            )
            for r in rows
        ]

    def links_to(self, entity_id: str) -> list[tuple[str, str]]:
        """Entities that refer to ``entity_id``: (source id, field)."""
        query = (
            select(LinkRow.source_id, LinkRow.field)
            .where(LinkRow.target_id == entity_id)
            .order_by(LinkRow.source_id, LinkRow.field)
        )
        with self.engine.connect() as conn:
            return [(s, f) for s, f in conn.execute(query)]

    def ids(self) -> set[str]:
        with self.engine.connect() as conn:
            return set(conn.execute(select(EntityRow.id)).scalars())

    # writes

    def write(
        self, changes: Sequence[Change], author: str, reason: str, at: datetime
    ) -> list[Record]:
        """Apply every change in one transaction and return the new records."""
        if not author:
            raise UserError("every change needs an author; pass --author or set JOBGRAPH_USER")
        if len(author) > 200:
            raise UserError("an author name is at most 200 characters")
        by_id: dict[str, Record] = {}
        try:
            with write_transaction(self.engine) as conn:
                creates = [c for c in changes if c.expected_version is None]
                if creates:
                    for record in self._insert_new(conn, creates, author, reason, at):
                        by_id[record.id] = record
                for change in changes:
                    if change.expected_version is not None:
                        by_id[change.entity.id] = self._apply(conn, change, author, reason, at)
        except IntegrityError as exc:
            text = str(exc.orig).lower()
            if "entities" in text and ("unique" in text or "duplicate" in text):
                ids = ", ".join(c.entity.id for c in changes if c.expected_version is None)
                raise DuplicateId(
                    f"{ids}: another writer created it a moment ago; ids are never "
                    "reused, so read it and update it instead"
                ) from exc
            raise InternalError(f"the database refused a write: {exc.orig}") from exc
        return [by_id[c.entity.id] for c in changes]

    @staticmethod
    def _columns(entity: Entity, data: dict[str, Any], author: str, at: datetime) -> dict[str, Any]:
        return {
            "kind": entity.kind.value,
            "title": entity.title,
            "status": entity.status.value,
            "owner": entity.owner,
            "review_due": entity.review_due.isoformat() if entity.review_due else None,
            "successor": entity.successor,
            "data": data,
            "search_text": _search_text(entity),
            "updated_at": at,
            "updated_by": author,
        }

    def _insert_new(
        self,
        conn: Connection,
        changes: Sequence[Change],
        author: str,
        reason: str,
        at: datetime,
    ) -> list[Record]:
        """Insert new entities in bulk: three statements however many there are."""
        ids = [c.entity.id for c in changes]
        for start in range(0, len(ids), 500):
            taken = conn.execute(
                select(EntityRow.id, EntityRow.status).where(
                    EntityRow.id.in_(ids[start : start + 500])
                )
            ).first()
            if taken is not None:
                raise DuplicateId(
                    f"{taken[0]} already exists (status {taken[1]}); ids are never reused, "
                    "so pick another id or update the existing entity"
                )
        rows: list[dict[str, Any]] = []
        revisions: list[dict[str, Any]] = []
        links: list[dict[str, Any]] = []
        for change in changes:
            entity = change.entity
            data = to_data(entity)
            rows.append(
                {
                    "id": entity.id,
                    "version": 1,
                    "created_at": at,
                    "created_by": author,
                    **self._columns(entity, data, author, at),
                }
            )
            revisions.append(
                {
                    "entity_id": entity.id,
                    "version": 1,
                    "action": change.action,
                    "snapshot": data,
                    "author": author,
                    "at": at,
                    "reason": reason,
                }
            )
            links += [
                {"source_id": entity.id, "field": f, "target_id": t}
                for f, t in sorted({(f, t) for f, t, _ in references(entity)})
            ]
        conn.execute(insert(EntityRow), rows)
        conn.execute(insert(RevisionRow), revisions)
        if links:
            conn.execute(insert(LinkRow), links)
        return [Record(c.entity, 1, at, author, at, author) for c in changes]

    def _apply(
        self, conn: Connection, change: Change, author: str, reason: str, at: datetime
    ) -> Record:
        """Update one entity if it is still at the version the change names."""
        entity = change.entity
        data = to_data(entity)
        version = (change.expected_version or 0) + 1
        result = conn.execute(
            update(EntityRow)
            .where(EntityRow.id == entity.id, EntityRow.version == change.expected_version)
            .values(version=version, **self._columns(entity, data, author, at))
            .returning(EntityRow.created_at, EntityRow.created_by)
        )
        row = result.one_or_none()
        if row is None:
            current = conn.execute(
                select(EntityRow.version).where(EntityRow.id == entity.id)
            ).scalar_one_or_none()
            if current is None:
                raise EntityNotFound(f"{entity.id} does not exist; nothing was written")
            raise StaleVersion(entity.id, change.expected_version or 0, current)
        created_at, created_by = row
        conn.execute(
            insert(RevisionRow).values(
                entity_id=entity.id,
                version=version,
                action=change.action,
                snapshot=data,
                author=author,
                at=at,
                reason=reason,
            )
        )
        conn.execute(delete(LinkRow).where(LinkRow.source_id == entity.id))
        links = sorted({(f, t) for f, t, _ in references(entity)})
        if links:
            conn.execute(
                insert(LinkRow),
                [{"source_id": entity.id, "field": f, "target_id": t} for f, t in links],
            )
        return Record(entity, version, created_at, created_by, at, author)


def add_observations(
    kb: KnowledgeBase, observations: Sequence[Observation], author: str, at: datetime
) -> int:
    """Add observations in one transaction (all or none). Saving the same source again for the
    same entity, kind, date and segment replaces the earlier value instead of counting it twice."""
    rows = [
        {
            "entity_id": o.entity_id,
            "kind": o.kind,
            "observed_on": o.observed_on.isoformat(),
            "segment": o.segment,
            "values": o.values,
            "source": o.source,
            "recorded_at": at,
            "recorded_by": author,
        }
        for o in observations
    ]
    if rows:
        with write_transaction(kb.engine) as conn:
            for o in observations:
                conn.execute(
                    delete(ObservationRow).where(
                        ObservationRow.entity_id == o.entity_id,
                        ObservationRow.kind == o.kind,
                        ObservationRow.observed_on == o.observed_on.isoformat(),
                        ObservationRow.segment == o.segment,
                        ObservationRow.source == o.source,
                    )
                )
            conn.execute(insert(ObservationRow), rows)
    return len(rows)


def observations_of(
    kb: KnowledgeBase, entity_id: str, kind: str | None = None
) -> list[Observation]:
    query = (
        select(ObservationRow)
        .where(ObservationRow.entity_id == entity_id)
        .order_by(ObservationRow.observed_on, ObservationRow.segment, ObservationRow.id)
    )
    if kind is not None:
        query = query.where(ObservationRow.kind == kind)
    with kb.engine.connect() as conn:
        return [_observation(r) for r in conn.execute(query)]


def observations_by_entity(kb: KnowledgeBase, kind: str) -> dict[str, list[Observation]]:
    """Every saved observation of ``kind``, by entity, oldest first, in one query."""
    query = (
        select(ObservationRow)
        .where(ObservationRow.kind == kind)
        .order_by(ObservationRow.entity_id, ObservationRow.observed_on, ObservationRow.id)
    )
    out: dict[str, list[Observation]] = {}
    with kb.engine.connect() as conn:
        for r in conn.execute(query):
            out.setdefault(r.entity_id, []).append(_observation(r))
    return out


def fingerprint(kb: KnowledgeBase) -> tuple[int, int]:
    """The number of entities and the sum of their versions: it changes with every write."""
    with kb.engine.connect() as conn:
        count, versions = conn.execute(
            select(func.count(), func.coalesce(func.sum(EntityRow.version), 0))
        ).one()
    return int(count), int(versions)


def _observation(r: Any) -> Observation:
    return Observation(
        r.entity_id,
        r.kind,
        date.fromisoformat(r.observed_on),
        r.segment,
        r.values,
        r.source,
        r.recorded_at,
        r.recorded_by,
    )


def ids_like(kb: KnowledgeBase, prefix: str) -> set[str]:
    """Ids that start with ``prefix`` (used to find a free id)."""
    with kb.engine.connect() as conn:
        return set(
            conn.execute(
                select(EntityRow.id).where(
                    or_(
                        EntityRow.id == prefix,
                        EntityRow.id.like(f"{_escape_like(prefix)}-%", escape="\\"),
                    )
                )
            ).scalars()
        )
