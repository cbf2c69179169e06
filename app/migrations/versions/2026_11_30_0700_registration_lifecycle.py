"""registration lifecycle: holds that expire, new codes, the waiting list

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 07:00:00

A pending registration held its seat for ever before; from here on it is a hold that ends at
`expires_at`. Pending registrations made before this migration get the default hold (30
minutes) from their creation, so the oldest ones lapse and free their seats at once.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from alembic.operations import BatchOperations

from app.core.database import UTCDateTime

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HOLD_SECONDS = 1800
ACTIVE = sa.text("status IN ('pending', 'confirmed')")
NOT_CANCELLED = sa.text("status != 'cancelled'")
WAITING_ENTRY = sa.text("status = 'waiting'")
WAITING_EVENT = sa.text("waitlist_count > 0")


def upgrade() -> None:
    _create_waitlist_entries()
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("waitlist_count", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("next_hold_expiry", UTCDateTime(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_events_next_hold_expiry"), ["next_hold_expiry"], unique=False
        )
        batch_op.create_index(
            "ix_events_waiting",
            ["id"],
            unique=False,
            sqlite_where=WAITING_EVENT,
            postgresql_where=WAITING_EVENT,
        )
    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expires_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("code_sent_at", UTCDateTime(), nullable=True))
        batch_op.add_column(
            sa.Column("codes_resent", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("notice_message_id", sa.Uuid(), nullable=True))
    _fill_new_registration_columns()
    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.alter_column("code_sent_at", existing_type=UTCDateTime(), nullable=False)
        batch_op.drop_column("code_message_id")
        batch_op.drop_column("cancel_message_id")
        _one_active_registration_per_email(batch_op, ACTIVE)
        batch_op.create_index(
            "ix_registrations_event_id_status_expires_at",
            ["event_id", "status", "expires_at"],
            unique=False,
        )


def _one_active_registration_per_email(batch_op: BatchOperations, active: sa.TextClause) -> None:
    """The partial unique index, again, over what `active` counts as holding a seat."""
    batch_op.drop_index("uq_registrations_event_id_email_key_active")
    batch_op.create_index(
        "uq_registrations_event_id_email_key_active",
        ["event_id", "email_key"],
        unique=True,
        sqlite_where=active,
        postgresql_where=active,
    )


def _create_waitlist_entries() -> None:
    op.create_table(
        "waitlist_entries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("full_name", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("email_key", sa.String(length=254), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("registration_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("offered_at", UTCDateTime(), nullable=True),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_waitlist_entries_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registrations.id"],
            name=op.f("fk_waitlist_entries_registration_id_registrations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_waitlist_entries_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_waitlist_entries")),
    )
    with op.batch_alter_table("waitlist_entries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_waitlist_entries_event_id_status_created_at",
            ["event_id", "status", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_waitlist_entries_user_id_created_at", ["user_id", "created_at"], unique=False
        )
        batch_op.create_index(
            "uq_waitlist_entries_event_id_email_key_waiting",
            ["event_id", "email_key"],
            unique=True,
            sqlite_where=WAITING_ENTRY,
            postgresql_where=WAITING_ENTRY,
        )


def _fill_new_registration_columns() -> None:
    """The last code went out at creation; the latest notice is the cancellation's, else the
    code's; a pending registration holds its seat for the default hold from its creation."""
    if op.get_bind().dialect.name == "postgresql":
        hold_end = f"created_at + interval '{HOLD_SECONDS} seconds'"
    else:
        hold_end = f"strftime('%Y-%m-%d %H:%M:%f', created_at, '+{HOLD_SECONDS} seconds')"
    op.execute(
        "UPDATE registrations SET code_sent_at = created_at, "
        "notice_message_id = COALESCE(cancel_message_id, code_message_id)"
    )
    op.execute(f"UPDATE registrations SET expires_at = {hold_end} WHERE status = 'pending'")  # noqa: S608
    op.execute(
        "UPDATE events SET next_hold_expiry = (SELECT min(r.expires_at) FROM registrations r "
        "WHERE r.event_id = events.id AND r.status = 'pending')"
    )


def downgrade() -> None:
    # Expired holds were active before; cancelled is the nearest older status (they hold no seat).
    op.execute("UPDATE registrations SET status = 'cancelled' WHERE status = 'expired'")
    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("code_message_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("cancel_message_id", sa.Uuid(), nullable=True))
    op.execute("UPDATE registrations SET code_message_id = notice_message_id")
    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.drop_index("ix_registrations_event_id_status_expires_at")
        _one_active_registration_per_email(batch_op, NOT_CANCELLED)
        batch_op.drop_column("notice_message_id")
        batch_op.drop_column("codes_resent")
        batch_op.drop_column("code_sent_at")
        batch_op.drop_column("expires_at")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_waiting")
        batch_op.drop_index(batch_op.f("ix_events_next_hold_expiry"))
        batch_op.drop_column("next_hold_expiry")
        batch_op.drop_column("waitlist_count")
    op.drop_table("waitlist_entries")
