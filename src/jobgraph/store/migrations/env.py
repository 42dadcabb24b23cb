"""Alembic environment: jobgraph passes an open connection in ``config.attributes``."""

from __future__ import annotations

from alembic import context

from jobgraph.store.search import include_name
from jobgraph.store.tables import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    include_name=include_name,
)
with context.begin_transaction():
    context.run_migrations()
