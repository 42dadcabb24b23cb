"""Full-text search: SQLite FTS5 table with triggers, PostgreSQL tsvector column with GIN.

The index follows ``entities.title`` and ``entities.search_text`` on every insert and update,
whatever writes them (triggers on SQLite, a generated column on PostgreSQL). See
jobgraph.store.search for how it is queried.

On SQLite the FTS5 table refers to rows of ``entities`` by rowid, and the triggers belong to
``entities``: a later migration that rebuilds ``entities`` (Alembic's batch mode copies it into
a new table) must create the triggers again and run
``INSERT INTO entity_search(entity_search) VALUES ('rebuild')``.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

SQLITE_UP = [
    # external content: the text stays in entities, the FTS table holds only the index
    "CREATE VIRTUAL TABLE entity_search USING fts5(title, search_text, content='entities', "
    "content_rowid='rowid', tokenize='porter unicode61 remove_diacritics 2')",
    "CREATE TRIGGER entity_search_insert AFTER INSERT ON entities BEGIN "
    "INSERT INTO entity_search(rowid, title, search_text) "
    "VALUES (new.rowid, new.title, new.search_text); END",
    "CREATE TRIGGER entity_search_delete AFTER DELETE ON entities BEGIN "
    "INSERT INTO entity_search(entity_search, rowid, title, search_text) "
    "VALUES ('delete', old.rowid, old.title, old.search_text); END",
    "CREATE TRIGGER entity_search_update AFTER UPDATE OF title, search_text ON entities BEGIN "
    "INSERT INTO entity_search(entity_search, rowid, title, search_text) "
    "VALUES ('delete', old.rowid, old.title, old.search_text); "
    "INSERT INTO entity_search(rowid, title, search_text) "
    "VALUES (new.rowid, new.title, new.search_text); END",
    "INSERT INTO entity_search(entity_search) VALUES ('rebuild')",
]

SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS entity_search_update",
    "DROP TRIGGER IF EXISTS entity_search_delete",
    "DROP TRIGGER IF EXISTS entity_search_insert",
    "DROP TABLE IF EXISTS entity_search",
]

# punctuation becomes space first: the default parser would index "job.pay-a-bill" as one
# host name instead of its words
POSTGRES_UP = [
    "ALTER TABLE entities ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ("
    "setweight(to_tsvector('english'::regconfig, "
    "regexp_replace(title, '[^[:alnum:]]+', ' ', 'g')), 'A') || "
    "setweight(to_tsvector('english'::regconfig, "
    "regexp_replace(search_text, '[^[:alnum:]]+', ' ', 'g')), 'B')) STORED",
    "CREATE INDEX ix_entities_search_vector ON entities USING gin (search_vector)",
]

POSTGRES_DOWN = [
    "DROP INDEX IF EXISTS ix_entities_search_vector",
    "ALTER TABLE entities DROP COLUMN IF EXISTS search_vector",
]


def _run(sqlite: list[str], postgres: list[str]) -> None:
    bind = op.get_bind()
    # driver SQL as written: through text() "[:alnum:]" would read as a bind parameter
    for statement in sqlite if bind.dialect.name == "sqlite" else postgres:
        bind.exec_driver_sql(statement)


def upgrade() -> None:
    _run(SQLITE_UP, POSTGRES_UP)


def downgrade() -> None:
    _run(SQLITE_DOWN, POSTGRES_DOWN)
