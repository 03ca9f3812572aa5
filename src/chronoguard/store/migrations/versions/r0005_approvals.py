"""Approvals: promotions that wait for people, and their votes.

Revision ID: r0005_approvals
Revises: r0004_watches
Create Date: 2025-01-15
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "r0005_approvals"
down_revision: str | None = "r0004_watches"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "cg_approval_requests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("model_name", sa.String(length=200), nullable=False),
        sa.Column("version", sa.String(length=200), nullable=False),
        sa.Column("series", sa.JSON(), nullable=False),
        sa.Column("tier", sa.String(length=100), nullable=False),
        sa.Column("policy", sa.String(length=100), nullable=False),
        sa.Column("required_approvals", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(length=100), nullable=False),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.Column("as_of", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("closed_reason", sa.String(), nullable=True),
        sa.Column("row_version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'rejected', 'expired', 'superseded')",
            name=op.f("ck_cg_approval_requests_status"),
        ),
        sa.CheckConstraint(
            "policy IN ('one', 'four_eyes')", name=op.f("ck_cg_approval_requests_policy")
        ),
        sa.CheckConstraint(
            "required_approvals IN (1, 2)",
            name=op.f("ck_cg_approval_requests_required_approvals"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cg_approval_requests")),
        sa.UniqueConstraint(
            "model_name",
            "version",
            "as_of",
            "tier",
            name=op.f("uq_cg_approval_requests_model_name_version_as_of_tier"),
        ),
    )
    op.create_index(
        "ix_cg_approval_requests_model_name_status",
        "cg_approval_requests",
        ["model_name", "status"],
        unique=False,
    )
    op.create_table(
        "cg_approval_votes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("by", sa.String(length=100), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("vote", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.CheckConstraint("vote IN ('approve', 'reject')", name=op.f("ck_cg_approval_votes_vote")),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["cg_approval_requests.id"],
            name=op.f("fk_cg_approval_votes_request_id_cg_approval_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cg_approval_votes")),
        sa.UniqueConstraint("request_id", "by", name=op.f("uq_cg_approval_votes_request_id_by")),
    )


def downgrade() -> None:
    op.drop_table("cg_approval_votes")
    op.drop_index("ix_cg_approval_requests_model_name_status", table_name="cg_approval_requests")
    op.drop_table("cg_approval_requests")
