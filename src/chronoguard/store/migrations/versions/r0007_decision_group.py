"""The group a series was placed in, recorded with each of its decisions.

Rollback of a group and reports by group read a series' group from its latest decision,
so they need no data file (a group may be defined by a column of the data).

Revision ID: r0007_decision_group
Revises: r0006_api_tokens
Create Date: 2025-02-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "r0007_decision_group"
down_revision: str | None = "r0006_api_tokens"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("cg_series_decisions") as batch:
        batch.add_column(sa.Column("group", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cg_series_decisions") as batch:
        batch.drop_column("group")
