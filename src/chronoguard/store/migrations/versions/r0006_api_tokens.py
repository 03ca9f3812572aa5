"""API tokens: who may act on a workspace, and with which role.

Only the SHA-256 of a token's secret is stored, never the secret. A token is revoked, not
deleted, so the names in the audit log always name a token that existed.

Revision ID: r0006_api_tokens
Revises: r0005_approvals
Create Date: 2025-02-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "r0006_api_tokens"
down_revision: str | None = "r0005_approvals"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "cg_api_tokens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=100), nullable=False),
        sa.Column("secret_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_by", sa.String(length=100), nullable=True),
        sa.CheckConstraint(
            "role IN ('viewer', 'operator', 'approver', 'admin')",
            name=op.f("ck_cg_api_tokens_role"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cg_api_tokens")),
        sa.UniqueConstraint("name", name=op.f("uq_cg_api_tokens_name")),
        sa.UniqueConstraint("secret_sha256", name=op.f("uq_cg_api_tokens_secret_sha256")),
    )


def downgrade() -> None:
    op.drop_table("cg_api_tokens")
