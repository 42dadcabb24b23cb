"""The Alembic migrations build exactly the schema the tables declare."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from jobgraph.service import Workspace
from jobgraph.store.search import include_name
from jobgraph.store.tables import Base


def test_migrations_match_the_models(ws: Workspace) -> None:
    with ws.kb.engine.connect() as conn:
        # the full-text index is not in the models (see jobgraph.store.search)
        context = MigrationContext.configure(conn, opts={"include_name": include_name})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_migrating_twice_is_harmless(ws: Workspace) -> None:
    ws.kb.migrate()
    tables = set(inspect(ws.kb.engine).get_table_names())
    assert {"entities", "revisions", "links", "alembic_version"} <= tables
