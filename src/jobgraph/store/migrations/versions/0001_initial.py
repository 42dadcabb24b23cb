"""The knowledge base: entities, revisions, links.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from jobgraph.store.tables import JsonDoc, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "entities",
        sa.Column("id", sa.String(80), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("owner", sa.String(200), nullable=True),
        sa.Column("review_due", sa.String(10), nullable=True),
        sa.Column("successor", sa.String(80), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("data", JsonDoc, nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entities")),
    )
    op.create_index(op.f("ix_entities_kind"), "entities", ["kind"])
    op.create_index(op.f("ix_entities_status"), "entities", ["status"])
    op.create_table(
        "revisions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("entity_id", sa.String(80), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("snapshot", JsonDoc, nullable=False),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["entity_id"], ["entities.id"], name=op.f("fk_revisions_entity_id_entities")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_revisions")),
    )
    op.create_index(
        "ix_revisions_entity_version", "revisions", ["entity_id", "version"], unique=True
    )
    op.create_index(op.f("ix_revisions_at"), "revisions", ["at"])
    op.create_table(
        "links",
        sa.Column("source_id", sa.String(80), nullable=False),
        sa.Column("field", sa.String(64), nullable=False),
        sa.Column("target_id", sa.String(80), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_id"], ["entities.id"], name=op.f("fk_links_source_id_entities")
        ),
        sa.PrimaryKeyConstraint("source_id", "field", "target_id", name=op.f("pk_links")),
    )
    op.create_index(op.f("ix_links_target_id"), "links", ["target_id"])


def downgrade() -> None:
    op.drop_table("links")
    op.drop_table("revisions")
    op.drop_table("entities")
