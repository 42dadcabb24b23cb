"""Observations: dated measurements about entities (ODI scores per survey wave).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from jobgraph.store.tables import JsonDoc, UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "observations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("entity_id", sa.String(80), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("observed_on", sa.String(10), nullable=False),
        sa.Column("segment", sa.String(200), nullable=False),
        sa.Column("values", JsonDoc, nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("recorded_by", sa.String(200), nullable=False),
        sa.ForeignKeyConstraint(
            ["entity_id"], ["entities.id"], name=op.f("fk_observations_entity_id_entities")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_observations")),
    )
    op.create_index("ix_observations_entity_observed", "observations", ["entity_id", "observed_on"])


def downgrade() -> None:
    op.drop_table("observations")
