"""Watches: a promoted challenger compared prospectively with the version it replaced.

Revision ID: r0004_watches
Revises: r0003_fleet_cycle
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "r0004_watches"
down_revision: str | None = "r0003_fleet_cycle"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "cg_watches",
        sa.Column("model_name", sa.String(length=200), nullable=False),
        sa.Column("unique_id", sa.String(length=200), nullable=False),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("version", sa.String(length=200), nullable=False),
        sa.Column("previous_version", sa.String(length=200), nullable=False),
        sa.Column("periods", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=100), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("challenger_error", sa.Float(), nullable=True),
        sa.Column("previous_error", sa.Float(), nullable=True),
        sa.Column("n_pairs", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(), nullable=True),
        sa.CheckConstraint(
            "status IN ('open', 'confirmed', 'rolled_back', 'superseded')",
            name=op.f("ck_cg_watches_status"),
        ),
        sa.PrimaryKeyConstraint("model_name", "unique_id", "opened_at", name=op.f("pk_cg_watches")),
    )
    op.create_index(
        "ix_cg_watches_model_name_status", "cg_watches", ["model_name", "status"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_cg_watches_model_name_status", table_name="cg_watches")
    op.drop_table("cg_watches")
