"""Rollout stages: a watch is a post-promotion watch, a canary or a shadow trial.

A shadow trial (the champion serves, the challenger forecasts in shadow) closes
``promoted`` or ``rejected``; existing watches are post-promotion watches.

Revision ID: r0008_watch_kinds
Revises: r0007_decision_group
Create Date: 2025-02-15
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "r0008_watch_kinds"
down_revision: str | None = "r0007_decision_group"
branch_labels: str | None = None
depends_on: str | None = None

_OLD = "status IN ('open', 'confirmed', 'rolled_back', 'superseded')"
_NEW = "status IN ('open', 'confirmed', 'rolled_back', 'superseded', 'promoted', 'rejected')"


def upgrade() -> None:
    with op.batch_alter_table("cg_watches", recreate="auto") as batch:
        batch.add_column(
            sa.Column("kind", sa.String(length=100), server_default="watch", nullable=False)
        )
        batch.drop_constraint(op.f("ck_cg_watches_status"), type_="check")
        batch.create_check_constraint(op.f("ck_cg_watches_status"), _NEW)
        batch.create_check_constraint(
            op.f("ck_cg_watches_kind"), "kind IN ('watch', 'canary', 'shadow')"
        )


def downgrade() -> None:
    # The old schema has no trial outcomes: a promoted trial reads as confirmed, a rejected
    # one as superseded (the challenger never served either way).
    op.execute("UPDATE cg_watches SET status = 'confirmed' WHERE status = 'promoted'")
    op.execute("UPDATE cg_watches SET status = 'superseded' WHERE status = 'rejected'")
    with op.batch_alter_table("cg_watches", recreate="auto") as batch:
        batch.drop_constraint(op.f("ck_cg_watches_kind"), type_="check")
        batch.drop_constraint(op.f("ck_cg_watches_status"), type_="check")
        batch.create_check_constraint(op.f("ck_cg_watches_status"), _OLD)
        batch.drop_column("kind")
