"""catalogue version; indexes for deep pages, deadlines and name search

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 08:00:00

`catalogue_version` holds one row whose token every write to the catalogue replaces (caches and
ETags derive from it). The indexes: the next registration deadline to pass is found at once;
on PostgreSQL, newest-first pages read in index order as oldest-first ones already do, and a
trigram index serves `name` substring search (pg_trgm, a trusted extension since PostgreSQL 13).
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.core.database import UTCDateTime, utcnow

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    version = op.create_table(
        "catalogue_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.Column("changed_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalogue_version")),
    )
    op.bulk_insert(version, [{"id": 1, "token": uuid.uuid4().hex, "changed_at": utcnow()}])
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_events_registration_deadline"), ["registration_deadline"], unique=False
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE INDEX ix_events_event_time_desc_id_desc ON events "
            "(event_time DESC NULLS LAST, id DESC)"
        )
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute(
            "CREATE INDEX ix_events_name_folded_trgm ON events USING gin (name_folded gin_trgm_ops)"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_events_name_folded_trgm")
        op.execute("DROP INDEX ix_events_event_time_desc_id_desc")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_registration_deadline"))
    op.drop_table("catalogue_version")
