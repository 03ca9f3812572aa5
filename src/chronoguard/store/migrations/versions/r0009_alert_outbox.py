"""Alert delivery: episodes of a model's alerts and the outbox of their notifications.

An episode opens when alerts fire for a model while none of its episode is open and
resolves when all of its alerts have resolved; its ``dedup_key`` is what a receiver
deduplicates on (PagerDuty's ``dedup_key``). The outbox holds one row per notification
and channel, written in the transaction that records the alerts, and marked sent only
after the channel accepted it.

Revision ID: r0009_alert_outbox
Revises: r0008_watch_kinds
Create Date: 2025-02-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "r0009_alert_outbox"
down_revision: str | None = "r0008_watch_kinds"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "cg_alert_episodes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("model_name", sa.String(length=200), nullable=False),
        sa.Column("dedup_key", sa.String(length=400), nullable=False),
        sa.Column("status", sa.String(length=100), nullable=False),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("last_notified_at", sa.DateTime(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint(
            "status IN ('open', 'resolved')", name=op.f("ck_cg_alert_episodes_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cg_alert_episodes")),
        sa.UniqueConstraint("dedup_key", name=op.f("uq_cg_alert_episodes_dedup_key")),
    )
    op.create_index(
        "ix_cg_alert_episodes_model_name_status",
        "cg_alert_episodes",
        ["model_name", "status"],
    )
    op.create_table(
        "cg_alert_outbox",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("episode_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.Column("channel", sa.String(length=100), nullable=False),
        sa.Column("event", sa.String(length=100), nullable=False),
        sa.Column("severity", sa.String(length=100), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=100), nullable=False),
        sa.Column("last_error", sa.String(), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint(
            "event IN ('trigger', 'update', 'resolve')", name=op.f("ck_cg_alert_outbox_event")
        ),
        sa.CheckConstraint("status IN ('pending', 'sent')", name=op.f("ck_cg_alert_outbox_status")),
        sa.ForeignKeyConstraint(
            ["episode_id"],
            ["cg_alert_episodes.id"],
            name=op.f("fk_cg_alert_outbox_episode_id_cg_alert_episodes"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cg_alert_outbox")),
        sa.UniqueConstraint("key", "channel", name=op.f("uq_cg_alert_outbox_key_channel")),
    )
    op.create_index(
        "ix_cg_alert_outbox_status_next_attempt_at",
        "cg_alert_outbox",
        ["status", "next_attempt_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_cg_alert_outbox_status_next_attempt_at", table_name="cg_alert_outbox")
    op.drop_table("cg_alert_outbox")
    op.drop_index("ix_cg_alert_episodes_model_name_status", table_name="cg_alert_episodes")
    op.drop_table("cg_alert_episodes")
