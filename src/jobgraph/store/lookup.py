"""Keyed reads for the hot paths of the server: one statement, one row, no ORM on the way.

Going through SQLAlchemy's pool for a single-row read costs a checkout, a ``BEGIN``, a
rollback on return and, on PostgreSQL, a pre-ping round trip: ten to thirty times the query
itself. :class:`Lookup` keeps a few DBAPI connections of its own in autocommit mode (each
statement sees every transaction committed before it, so a write by another process is seen
by the next read) and runs statements compiled once by SQLAlchemy, applying the column types'
result processors so rows come back as the ORM would give them.

An in-memory SQLite database cannot be shared with a second connection: there the reads go
through the engine as usual.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.sql import Select

IDLE_CONNECTIONS = 4


@dataclass(frozen=True, slots=True)
class Prepared:
    """A SELECT compiled for one dialect, with how to pass its parameters and read its row."""

    sql: str
    positional: tuple[str, ...] | None
    defaults: dict[str, Any]
    processors: tuple[Callable[[Any], Any] | None, ...]
    statement: Select[*tuple[Any, ...]]


def _shareable(engine: Engine) -> bool:
    url = engine.url
    if url.get_backend_name() != "sqlite":
        return True
    database = url.database or ""
    return database not in ("", ":memory:") and "mode=memory" not in str(url)


class Lookup:
    """Single-row reads on connections kept outside the engine's pool."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect
        self.direct = _shareable(engine)
        self._sqlite = engine.url.get_backend_name() == "sqlite"
        cargs, cparams = self.dialect.create_connect_args(engine.url)
        if self._sqlite:
            cparams = {**cparams, "check_same_thread": False}  # a connection moves between threads
        self._connect_args = (cargs, cparams)
        dbapi = self.dialect.loaded_dbapi
        self._lost: tuple[type[BaseException], ...] = (dbapi.OperationalError, dbapi.InterfaceError)
        self._idle: list[Any] = []
        self._lock = threading.Lock()
        self._closed = False

    def prepare(self, statement: Select[*tuple[Any, ...]]) -> Prepared:
        compiled = statement.compile(dialect=self.dialect)
        processors = tuple(
            column.type.dialect_impl(self.dialect).result_processor(self.dialect, None)
            for column in statement.selected_columns
        )
        positional = tuple(compiled.positiontup) if compiled.positiontup is not None else None
        # values the statement carries itself (literals such as 10.0 in bm25(t, 10.0, 1.0))
        defaults = {
            name: bind.effective_value for name, bind in compiled.binds.items() if not bind.required
        }
        return Prepared(compiled.string, positional, defaults, processors, statement)

    def one(self, prepared: Prepared, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """The first row of ``prepared`` with ``params``, or None."""
        rows = self._rows(prepared, params, many=False)
        return rows[0] if rows else None

    def all(self, prepared: Prepared, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Every row of ``prepared`` with ``params`` (for small results: pages, not tables)."""
        return self._rows(prepared, params, many=True)

    def _rows(
        self, prepared: Prepared, params: Mapping[str, Any], *, many: bool
    ) -> list[tuple[Any, ...]]:
        if not self.direct:
            with self.engine.connect() as conn:
                result = conn.execute(prepared.statement, dict(params))
                found = result.all() if many else result.fetchmany(1)
            return [tuple(r) for r in found]
        values = {**prepared.defaults, **params} if prepared.defaults else params
        args: Any = (
            tuple(values[name] for name in prepared.positional)
            if prepared.positional is not None
            else dict(values)
        )
        processors = prepared.processors
        return [
            tuple(
                value if process is None or value is None else process(value)
                for value, process in zip(row, processors, strict=True)
            )
            for row in self._run(prepared.sql, args, many)
        ]

    def _run(self, sql: str, args: Any, many: bool) -> list[Any]:
        for attempt in (1, 2):
            conn = self._checkout()
            try:
                cursor = conn.cursor()
                try:
                    cursor.execute(sql, args)
                    rows = cursor.fetchall() if many else cursor.fetchmany(1)
                finally:
                    cursor.close()
            except self._lost:
                # the server restarted or the connection dropped: retry once on a new one
                self._discard(conn)
                if attempt == 2:
                    raise
                continue
            except BaseException:
                self._discard(conn)
                raise
            self._checkin(conn)
            return list(rows)
        raise AssertionError("unreachable")

    def _connect(self) -> Any:
        cargs, cparams = self._connect_args
        conn = self.dialect.connect(*cargs, **cparams)
        if self._sqlite:
            conn.isolation_level = None
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute("PRAGMA query_only=ON")
        else:
            conn.autocommit = True
        return conn

    def _checkout(self) -> Any:
        try:
            return self._idle.pop()
        except IndexError:
            return self._connect()

    def _checkin(self, conn: Any) -> None:
        with self._lock:
            if not self._closed and len(self._idle) < IDLE_CONNECTIONS:
                self._idle.append(conn)
                return
        conn.close()

    @staticmethod
    def _discard(conn: Any) -> None:
        with contextlib.suppress(Exception):  # it is being thrown away
            conn.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            self._discard(conn)
