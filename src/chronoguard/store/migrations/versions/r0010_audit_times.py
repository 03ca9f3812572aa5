"""Audit entries with two times: the data time they concern and the real time they happened.

Adds to ``cg_audit_log``:

* ``as_of`` — the data time the action concerns (the cycle's ``now``, the end of a training
  window, the time a manual command gave); NULL for actions with none (a token created, an
  alert acknowledged);
* ``recorded_at`` — the real time of the action, read by the edge (the CLI, the server) and
  passed down through the store's clock; a replay records the clock its caller gives it.

Rows are listed by ``recorded_at``, then id, and both times are part of each new row's hashed
content.

Existing rows are not rewritten (the log is append-only, even for a migration, and their
hashes cover what they were written with): their one time ``at`` stays, both new columns
stay NULL, and they keep verifying by their old content. They are read with ``at`` as both
times, because what it held cannot be told apart afterwards: the data's time for training,
monitoring and replayed promotions, the wall clock for manual promote, rollback, approvals
and tokens. New rows also carry ``at``, equal to ``recorded_at``, so a reader of this
column alone sees them in the order they happened.

Revision ID: r0010_audit_times
Revises: r0009_alert_outbox
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "r0010_audit_times"
down_revision: str | None = "r0009_alert_outbox"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    # ADD COLUMN on both backends (no table rebuild on SQLite, so the append-only triggers
    # of r0002 stay in place and no row is rewritten).
    op.add_column("cg_audit_log", sa.Column("as_of", sa.DateTime(), nullable=True))
    op.add_column("cg_audit_log", sa.Column("recorded_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    # Rows written since carry both times in their hash, so the chain of a downgraded store
    # no longer verifies from the first of them on; a downgrade is for an empty log or a
    # deliberate reset. SQLite 3.35+ and PostgreSQL both drop a column in place.
    op.execute("ALTER TABLE cg_audit_log DROP COLUMN recorded_at")
    op.execute("ALTER TABLE cg_audit_log DROP COLUMN as_of")
