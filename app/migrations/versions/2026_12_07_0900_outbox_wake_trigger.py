"""outbox wake trigger

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 09:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The channel app.outbox.service.OUTBOX_CHANNEL names, which every relay LISTENs on.
WAKE = """
CREATE FUNCTION outbox_messages_wake() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('outbox', '');
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    # The relays of every process are woken by the database itself when a message is written
    # or a dead one requeued: one statement fewer for each unit of work that queues a notice
    # (a registration's is on its hot path), and no write that forgets it. PostgreSQL delivers
    # the notification with the commit, never after a rollback. SQLite has one process, whose
    # relay is woken in-process.
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(WAKE)
    op.execute(
        "CREATE TRIGGER outbox_messages_wake_written AFTER INSERT ON outbox_messages"
        " FOR EACH STATEMENT EXECUTE FUNCTION outbox_messages_wake()"
    )
    op.execute(
        "CREATE TRIGGER outbox_messages_wake_requeued AFTER UPDATE OF status ON outbox_messages"
        " FOR EACH ROW WHEN (OLD.status = 'dead' AND NEW.status = 'pending')"
        " EXECUTE FUNCTION outbox_messages_wake()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER outbox_messages_wake_requeued ON outbox_messages")
    op.execute("DROP TRIGGER outbox_messages_wake_written ON outbox_messages")
    op.execute("DROP FUNCTION outbox_messages_wake()")
