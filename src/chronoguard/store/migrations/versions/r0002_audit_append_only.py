"""Make the audit log append-only in the database itself.

The store API never updates or deletes audit rows; these triggers also refuse it to anyone
else holding a connection (a hand-written ``UPDATE`` in psql, another tool), so tampering
needs a deliberate ``DROP TRIGGER`` first — and the hash chain still shows it.

Revision ID: r0002_audit_append_only
Revises: r0001_initial
Create Date: 2025-01-01
"""

from __future__ import annotations

from alembic import op

revision: str = "r0002_audit_append_only"
down_revision: str | None = "r0001_initial"
branch_labels: str | None = None
depends_on: str | None = None

MESSAGE = "cg_audit_log is append-only: UPDATE and DELETE are refused"


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(
            f"""
            CREATE FUNCTION cg_audit_log_refuse_change() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'restrict_violation';
            END
            $$
            """
        )
        # FOR EACH STATEMENT also catches TRUNCATE, which row triggers never see.
        op.execute(
            "CREATE TRIGGER cg_audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE "
            "ON cg_audit_log FOR EACH STATEMENT EXECUTE FUNCTION cg_audit_log_refuse_change()"
        )
    elif dialect == "sqlite":
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER cg_audit_log_no_{event.lower()} BEFORE {event} ON cg_audit_log "
                f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
            )
    # Other dialects: the store API is the only guard (no UPDATE/DELETE path exists).


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP TRIGGER cg_audit_log_append_only ON cg_audit_log")
        op.execute("DROP FUNCTION cg_audit_log_refuse_change()")
    elif dialect == "sqlite":
        for event in ("update", "delete"):
            op.execute(f"DROP TRIGGER cg_audit_log_no_{event}")
