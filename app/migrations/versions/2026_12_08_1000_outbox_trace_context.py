"""outbox trace context: the W3C traceparent of the unit of work that wrote each message

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08 10:00:00

The relay's send continues the trace of the request that wrote the message (SPEC §7). Null when
tracing is off, and for the messages written before this migration.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("traceparent", sa.String(length=55), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_column("traceparent")
