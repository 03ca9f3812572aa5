"""Initial schema: forecasts, actuals, monitoring, alerts, aliases, versions, retrains, audit.

Revision ID: r0001_initial
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "r0001_initial"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

# Frozen copy of the types at this revision: later model changes must not alter history.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "cg_actuals",
        sa.Column("unique_id", sa.String(length=200), nullable=False),
        sa.Column("ds", sa.DateTime(), nullable=False),
        sa.Column("y", sa.Float(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("unique_id", "ds", name=op.f("pk_cg_actuals")),
    )
    op.create_table(
        "cg_alerts",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("ds", sa.DateTime(), nullable=False),
        sa.Column("unique_id", sa.String(length=200), nullable=True),
        sa.Column("feature", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=100), nullable=False),
        sa.Column("method", sa.String(length=100), nullable=False),
        sa.Column("statistic", sa.Float(), nullable=False),
        sa.Column("p_value", sa.Float(), nullable=True),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("severity", sa.String(length=100), nullable=False),
        sa.Column("message", sa.String(), nullable=False),
        sa.Column("version", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=100), nullable=False),
        sa.CheckConstraint(
            "kind IN ('data_drift', 'prediction_drift', 'concept_drift', 'performance_decay', 'data_quality')",
            name=op.f("ck_cg_alerts_kind"),
        ),
        sa.CheckConstraint(
            "status IN ('open', 'acknowledged', 'resolved')", name=op.f("ck_cg_alerts_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cg_alerts")),
    )
    op.create_index("ix_cg_alerts_status_ds", "cg_alerts", ["status", "ds"], unique=False)
    op.create_index("ix_cg_alerts_unique_id_ds", "cg_alerts", ["unique_id", "ds"], unique=False)
    op.create_table(
        "cg_alias_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("model_name", sa.String(length=200), nullable=False),
        sa.Column("alias", sa.String(length=100), nullable=False),
        sa.Column("version", sa.String(length=200), nullable=False),
        sa.Column("previous_version", sa.String(length=200), nullable=True),
        sa.Column("moved_at", sa.DateTime(), nullable=False),
        sa.Column("moved_by", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cg_alias_history")),
    )
    op.create_index(
        "ix_cg_alias_history_model_name_alias",
        "cg_alias_history",
        ["model_name", "alias", "id"],
        unique=False,
    )
    op.create_table(
        "cg_audit_log",
        sa.Column("id", BigId, autoincrement=False, nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("entity", sa.String(length=400), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cg_audit_log")),
        sa.UniqueConstraint("hash", name=op.f("uq_cg_audit_log_hash")),
    )
    op.create_table(
        "cg_forecasts",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("unique_id", sa.String(length=200), nullable=False),
        sa.Column("origin", sa.DateTime(), nullable=False),
        sa.Column("ds", sa.DateTime(), nullable=False),
        sa.Column("horizon", sa.Integer(), nullable=False),
        sa.Column("yhat", sa.Float(), nullable=False),
        sa.Column("yhat_lo", sa.Float(), nullable=True),
        sa.Column("yhat_hi", sa.Float(), nullable=True),
        sa.Column("level", sa.Integer(), nullable=True),
        sa.Column("model_name", sa.String(length=200), nullable=False),
        sa.Column("version", sa.String(length=200), nullable=False),
        sa.Column("alias", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cg_forecasts")),
        sa.UniqueConstraint(
            "unique_id",
            "origin",
            "ds",
            "version",
            name=op.f("uq_cg_forecasts_unique_id_origin_ds_version"),
        ),
    )
    op.create_index(
        "ix_cg_forecasts_unique_id_ds", "cg_forecasts", ["unique_id", "ds"], unique=False
    )
    op.create_index(
        "ix_cg_forecasts_version_origin", "cg_forecasts", ["version", "origin"], unique=False
    )
    op.create_table(
        "cg_model_versions",
        sa.Column("model_name", sa.String(length=200), nullable=False),
        sa.Column("version", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=100), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "status IN ('candidate', 'validated', 'rejected', 'shadow', 'canary', 'champion', 'retired')",
            name=op.f("ck_cg_model_versions_status"),
        ),
        sa.PrimaryKeyConstraint("model_name", "version", name=op.f("pk_cg_model_versions")),
    )
    op.create_table(
        "cg_monitoring_results",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(length=200), nullable=False),
        sa.Column("ds", sa.DateTime(), nullable=False),
        sa.Column("unique_id", sa.String(length=200), nullable=True),
        sa.Column("feature", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=100), nullable=False),
        sa.Column("method", sa.String(length=100), nullable=False),
        sa.Column("statistic", sa.Float(), nullable=False),
        sa.Column("p_value", sa.Float(), nullable=True),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("decision", sa.Boolean(), nullable=False),
        sa.Column("severity", sa.String(length=100), nullable=False),
        sa.Column("version", sa.String(length=200), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('data_drift', 'prediction_drift', 'concept_drift', 'performance_decay', 'data_quality')",
            name=op.f("ck_cg_monitoring_results_kind"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cg_monitoring_results")),
    )
    op.create_index(
        "ix_cg_monitoring_results_run_id", "cg_monitoring_results", ["run_id"], unique=False
    )
    op.create_index(
        "ix_cg_monitoring_results_unique_id_ds",
        "cg_monitoring_results",
        ["unique_id", "ds"],
        unique=False,
    )
    op.create_table(
        "cg_retrain_decisions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ds", sa.DateTime(), nullable=False),
        sa.Column("model_name", sa.String(length=200), nullable=False),
        sa.Column("trigger", sa.String(length=100), nullable=False),
        sa.Column("challenger_version", sa.String(length=200), nullable=False),
        sa.Column("champion_version", sa.String(length=200), nullable=True),
        sa.Column("challenger_error", sa.Float(), nullable=True),
        sa.Column("champion_error", sa.Float(), nullable=True),
        sa.Column("outcome", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.CheckConstraint(
            "outcome IN ('promoted', 'rejected')", name=op.f("ck_cg_retrain_decisions_outcome")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cg_retrain_decisions")),
    )
    op.create_index(
        "ix_cg_retrain_decisions_model_name_ds",
        "cg_retrain_decisions",
        ["model_name", "ds"],
        unique=False,
    )
    op.create_table(
        "cg_version_status_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("model_name", sa.String(length=200), nullable=False),
        sa.Column("version", sa.String(length=200), nullable=False),
        sa.Column("from_status", sa.String(length=100), nullable=True),
        sa.Column("to_status", sa.String(length=100), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("by", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_name", "version"],
            ["cg_model_versions.model_name", "cg_model_versions.version"],
            name=op.f("fk_cg_version_status_history_model_name_version_cg_model_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cg_version_status_history")),
    )
    op.create_index(
        "ix_cg_version_status_history_model_name_version",
        "cg_version_status_history",
        ["model_name", "version"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        "ix_cg_version_status_history_model_name_version", table_name="cg_version_status_history"
    )
    op.drop_table("cg_version_status_history")
    op.drop_index("ix_cg_retrain_decisions_model_name_ds", table_name="cg_retrain_decisions")
    op.drop_table("cg_retrain_decisions")
    op.drop_index("ix_cg_monitoring_results_unique_id_ds", table_name="cg_monitoring_results")
    op.drop_index("ix_cg_monitoring_results_run_id", table_name="cg_monitoring_results")
    op.drop_table("cg_monitoring_results")
    op.drop_table("cg_model_versions")
    op.drop_index("ix_cg_forecasts_version_origin", table_name="cg_forecasts")
    op.drop_index("ix_cg_forecasts_unique_id_ds", table_name="cg_forecasts")
    op.drop_table("cg_forecasts")
    op.drop_table("cg_audit_log")
    op.drop_index("ix_cg_alias_history_model_name_alias", table_name="cg_alias_history")
    op.drop_table("cg_alias_history")
    op.drop_index("ix_cg_alerts_unique_id_ds", table_name="cg_alerts")
    op.drop_index("ix_cg_alerts_status_ds", table_name="cg_alerts")
    op.drop_table("cg_alerts")
    op.drop_table("cg_actuals")
