"""Shared fixtures: a fixed clock, and workspaces on SQLite and (when available) PostgreSQL.

PostgreSQL tests run when JOBGRAPH_TEST_POSTGRES_URL is set (``.ci/run`` sets it); each test
gets a schema of its own, dropped afterwards. Without the variable they are skipped, and the
skip reason says so.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import settings as hypothesis_settings

from jobgraph.config import Settings
from jobgraph.service import Workspace

# Speed is measured by bench/, never by tests: no per-example deadline (CI machines are shared).
hypothesis_settings.register_profile("jobgraph", deadline=None)
hypothesis_settings.load_profile("jobgraph")

PG_URL = os.environ.get("JOBGRAPH_TEST_POSTGRES_URL")
START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


class Clock:
    """A clock that moves one second per reading, so revisions have distinct times."""

    def __init__(self, start: datetime = START) -> None:
        self._ticks = itertools.count()
        self.start = start

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=next(self._ticks))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def settings() -> Settings:
    return Settings(user="alice", workspace=None, database_url=None)


class PgSchemas:
    """Makes a fresh schema per database URL asked for and drops them all afterwards."""

    def __init__(self) -> None:
        from sqlalchemy.engine import make_url

        url = make_url(PG_URL or "")
        self.conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self.schemas: list[str] = []

    def new_url(self) -> str:
        import psycopg

        schema = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.conninfo, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        self.schemas.append(schema)
        return f"{PG_URL}?options={quote(f'-csearch_path={schema}')}"

    def drop_all(self) -> None:
        import psycopg

        with psycopg.connect(self.conninfo, autocommit=True) as conn:
            for schema in self.schemas:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


UrlFactory = Callable[[Path], str]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def new_database_url(request: pytest.FixtureRequest) -> Iterator[UrlFactory]:
    """Makes fresh, empty databases on each backend (one per call)."""
    if request.param == "sqlite":
        yield lambda folder: f"sqlite:///{folder / 'kb.db'}"
        return
    if not PG_URL:
        pytest.skip("PostgreSQL not configured: set JOBGRAPH_TEST_POSTGRES_URL to run this")
    schemas = PgSchemas()
    try:
        yield lambda folder: schemas.new_url()
    finally:
        schemas.drop_all()


WorkspaceFactory = Callable[..., Workspace]


@pytest.fixture
def make_workspace(
    tmp_path: Path, new_database_url: UrlFactory, clock: Clock, settings: Settings
) -> Iterator[WorkspaceFactory]:
    opened: list[Workspace] = []

    def make(starter: str | None = None, name: str = "ws") -> Workspace:
        root = tmp_path / name
        root.mkdir()
        ws = Workspace.init(
            root,
            starter=starter,
            database_url=new_database_url(root),
            author="alice",
            settings=settings,
            clock=clock,
        )
        opened.append(ws)
        return ws

    yield make
    for ws in opened:
        ws.close()


@pytest.fixture
def ws(make_workspace: WorkspaceFactory) -> Workspace:
    """An empty workspace; alice is on the council."""
    return make_workspace()


@pytest.fixture
def sqlite_ws(tmp_path: Path, clock: Clock, settings: Settings) -> Iterator[Workspace]:
    """An empty SQLite workspace (for tests that are about files or the CLI, not the backend)."""
    w = Workspace.init(tmp_path / "sqlite-ws", author="alice", settings=settings, clock=clock)
    yield w
    w.close()


JOB = {
    "id": "job.resolve-billing-anomaly",
    "title": "Resolve a billing anomaly",
    "owner": "bob",
    "statement": "When I notice an unexpected charge on my bill, I want to resolve the billing "
    "anomaly, so I can trust my bill without fear of service interruption.",
    "dimension": "functional",
    "level": "high_level",
}
