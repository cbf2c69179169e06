"""a visitor's own data: erased accounts, notices linked to their account, texts kept masked

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08 09:00:00

`users.erased_at` marks an erased account (SPEC §4.7), and a trigger announces each erasure on
PostgreSQL, so that every process refuses the account's access tokens at once. Outbox messages
name the account they are about (`user_id`) and keep their text with any confirmation code
masked (`masked_text`). Messages queued before this migration have neither: they were either
delivered already (their payload emptied, nothing of the text left) or are delivered within
seconds of the deploy.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.core.database import UTCDateTime

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The channel app.auth.erased.ERASURE_CHANNEL names, which every app process LISTENs on.
ANNOUNCE = """
CREATE FUNCTION users_erased_announce() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('users_erased', '');
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("erased_at", UTCDateTime(), nullable=True))
        batch_op.create_index("ix_users_erased_at", ["erased_at"], unique=False)

    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("user_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("masked_text", sa.Text(), nullable=True))
        batch_op.create_index("ix_outbox_messages_user_id", ["user_id"], unique=False)

    # Delivered with the commit of the erasure, never after a rollback; whatever erases an
    # account (the API, the admin site) cannot forget it. SQLite has one process, which knows
    # its own erasures.
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(ANNOUNCE)
    op.execute(
        "CREATE TRIGGER users_erased_announced AFTER UPDATE OF erased_at ON users"
        " FOR EACH ROW WHEN (OLD.erased_at IS NULL AND NEW.erased_at IS NOT NULL)"
        " EXECUTE FUNCTION users_erased_announce()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER users_erased_announced ON users")
        op.execute("DROP FUNCTION users_erased_announce()")

    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_messages_user_id")
        batch_op.drop_column("masked_text")
        batch_op.drop_column("user_id")

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index("ix_users_erased_at")
        batch_op.drop_column("erased_at")
