"""The per-series production cycle: deployments, check history, decisions, cycle ledger,
intents and lock holders.

Revision ID: r0003_fleet_cycle
Revises: r0002_audit_append_only
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "r0003_fleet_cycle"
down_revision: str | None = "r0002_audit_append_only"
branch_labels: str | None = None
depends_on: str | None = None

# Frozen copy of the types at this revision: later model changes must not alter history.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "cg_deployment_moves",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("model_name", sa.String(length=200), nullable=False),
        sa.Column("unique_id", sa.String(length=200), nullable=False),
        sa.Column("version", sa.String(length=200), nullable=False),
        sa.Column("previous_version", sa.String(length=200), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("by", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("batch", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cg_deployment_moves")),
    )
    op.create_index(
        "ix_cg_deployment_moves_model_name_unique_id",
        "cg_deployment_moves",
        ["model_name", "unique_id", "id"],
        unique=False,
    )
    op.create_table(
        "cg_deployments",
        sa.Column("model_name", sa.String(length=200), nullable=False),
        sa.Column("unique_id", sa.String(length=200), nullable=False),
        sa.Column("version", sa.String(length=200), nullable=False),
        sa.Column("since", sa.DateTime(), nullable=False),
        sa.Column("move_id", BigId, nullable=False),
        sa.ForeignKeyConstraint(
            ["move_id"],
            ["cg_deployment_moves.id"],
            name=op.f("fk_cg_deployments_move_id_cg_deployment_moves"),
        ),
        sa.PrimaryKeyConstraint("model_name", "unique_id", name=op.f("pk_cg_deployments")),
    )
    op.create_table(
        "cg_series_checks",
        sa.Column("model_name", sa.String(length=200), nullable=False),
        sa.Column("unique_id", sa.String(length=200), nullable=False),
        sa.Column("ds", sa.DateTime(), nullable=False),
        sa.Column("version", sa.String(length=200), nullable=False),
        sa.Column("fired", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("model_name", "unique_id", "ds", name=op.f("pk_cg_series_checks")),
    )
    op.create_index(
        "ix_cg_series_checks_model_name_ds", "cg_series_checks", ["model_name", "ds"], unique=False
    )
    op.create_table(
        "cg_series_decisions",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("model_name", sa.String(length=200), nullable=False),
        sa.Column("ds", sa.DateTime(), nullable=False),
        sa.Column("unique_id", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("trigger", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("expected_loss", sa.Float(), nullable=True),
        sa.Column("retrain_cost", sa.Float(), nullable=True),
        sa.Column("cpu_seconds", sa.Float(), nullable=True),
        sa.Column("tier", sa.String(length=100), nullable=True),
        sa.Column("outcome", sa.String(length=100), nullable=False),
        sa.Column("challenger_version", sa.String(length=200), nullable=True),
        sa.Column("champion_version", sa.String(length=200), nullable=True),
        sa.Column("challenger_error", sa.Float(), nullable=True),
        sa.Column("champion_error", sa.Float(), nullable=True),
        sa.Column("gate_reason", sa.String(), nullable=True),
        sa.CheckConstraint(
            "action IN ('retrain', 'keep', 'wait', 'over_budget', 'fallback')",
            name=op.f("ck_cg_series_decisions_action"),
        ),
        sa.CheckConstraint(
            "outcome IN ('none', 'pending', 'promoted', 'rejected', 'awaiting_approval')",
            name=op.f("ck_cg_series_decisions_outcome"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cg_series_decisions")),
        sa.UniqueConstraint(
            "model_name",
            "ds",
            "unique_id",
            name=op.f("uq_cg_series_decisions_model_name_ds_unique_id"),
        ),
    )
    op.create_index(
        "ix_cg_series_decisions_model_name_unique_id_ds",
        "cg_series_decisions",
        ["model_name", "unique_id", "ds"],
        unique=False,
    )
    op.create_table(
        "cg_cycles",
        sa.Column("model_name", sa.String(length=200), nullable=False),
        sa.Column("now", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(length=100), nullable=False),
        sa.Column("stage", sa.String(length=100), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint("status IN ('running', 'done')", name=op.f("ck_cg_cycles_status")),
        sa.PrimaryKeyConstraint("model_name", "now", name=op.f("pk_cg_cycles")),
    )
    op.create_table(
        "cg_intents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("model_name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=100), nullable=False),
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=100), nullable=False),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint(
            "status IN ('open', 'done', 'undone')", name=op.f("ck_cg_intents_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cg_intents")),
        sa.UniqueConstraint(
            "model_name", "kind", "key", name=op.f("uq_cg_intents_model_name_kind_key")
        ),
    )
    op.create_index(
        "ix_cg_intents_model_name_status", "cg_intents", ["model_name", "status"], unique=False
    )
    op.create_table(
        "cg_lock_holders",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("holder", sa.String(), nullable=False),
        sa.Column("acquired_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_cg_lock_holders")),
    )


def downgrade() -> None:
    op.drop_table("cg_lock_holders")
    op.drop_index("ix_cg_intents_model_name_status", table_name="cg_intents")
    op.drop_table("cg_intents")
    op.drop_table("cg_cycles")
    op.drop_index(
        "ix_cg_series_decisions_model_name_unique_id_ds", table_name="cg_series_decisions"
    )
    op.drop_table("cg_series_decisions")
    op.drop_index("ix_cg_series_checks_model_name_ds", table_name="cg_series_checks")
    op.drop_table("cg_series_checks")
    op.drop_table("cg_deployments")
    op.drop_index("ix_cg_deployment_moves_model_name_unique_id", table_name="cg_deployment_moves")
    op.drop_table("cg_deployment_moves")
