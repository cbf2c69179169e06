"""tickets and check-in: the way to the door (SPEC §4.6)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 10:00:00

Registrations confirmed before this migration get their ticket as issued when they were
confirmed.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.core.database import UTCDateTime

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ticket_signing_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seed", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_signing_keys")),
    )
    op.create_table(
        "event_reminders",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("offset_seconds", sa.Integer(), nullable=False),
        sa.Column("event_time", UTCDateTime(), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_event_reminders_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "event_id", "offset_seconds", "event_time", name=op.f("pk_event_reminders")
        ),
    )
    op.create_table(
        "checkin_scans",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("nonce", sa.String(length=128), nullable=True),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("registration_id", sa.Uuid(), nullable=True),
        sa.Column("scanned_by", sa.Uuid(), nullable=True),
        sa.Column("result", sa.String(length=32), nullable=True),
        sa.Column("checked_in_at", UTCDateTime(), nullable=True),
        sa.Column("scanned_at", UTCDateTime(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_checkin_scans_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registrations.id"],
            name=op.f("fk_checkin_scans_registration_id_registrations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["scanned_by"],
            ["users.id"],
            name=op.f("fk_checkin_scans_scanned_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkin_scans")),
        sa.UniqueConstraint("nonce", name=op.f("uq_checkin_scans_nonce")),
    )
    with op.batch_alter_table("checkin_scans", schema=None) as batch_op:
        batch_op.create_index(
            "ix_checkin_scans_event_id_received_at", ["event_id", "received_at"], unique=False
        )

    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("times_moved", sa.Integer(), server_default="0", nullable=False)
        )

    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("ticket_version", sa.Integer(), server_default="1", nullable=False)
        )
        batch_op.add_column(sa.Column("ticket_issued_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("ticket_changed_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("checked_in_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("link_base", sa.String(length=500), nullable=True))
        batch_op.create_index(
            "ix_registrations_event_id_ticket_changed_at",
            ["event_id", "ticket_changed_at"],
            unique=False,
        )

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("is_door", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.execute(
        "UPDATE registrations SET ticket_issued_at = confirmed_at, ticket_changed_at = confirmed_at"
        " WHERE confirmed_at IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("is_door")

    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.drop_index("ix_registrations_event_id_ticket_changed_at")
        batch_op.drop_column("link_base")
        batch_op.drop_column("checked_in_at")
        batch_op.drop_column("ticket_changed_at")
        batch_op.drop_column("ticket_issued_at")
        batch_op.drop_column("ticket_version")

    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_column("times_moved")

    with op.batch_alter_table("checkin_scans", schema=None) as batch_op:
        batch_op.drop_index("ix_checkin_scans_event_id_received_at")

    op.drop_table("checkin_scans")
    op.drop_table("event_reminders")
    op.drop_table("ticket_signing_keys")
