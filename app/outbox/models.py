import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.database import Base, utcnow


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    DEAD = "dead"


class OutboxMessage(Base):
    """A notification to deliver, written in the same transaction as the change it announces.

    `id` is the notification's idempotency key: the relay sends it as the notification's
    `id`, so a message delivered twice (at-least-once) is still one notification. A relay
    claims a message by setting `lease_holder` and `leased_until`; until the lease runs out no
    other relay touches it. `payload` carries the visitor's email and the message text (with
    the confirmation code): it is never logged nor shown in the admin site, and it is emptied
    once the message is delivered (a dead one keeps its email, and its text with the code
    masked). `masked_text` is the text as kept, any code in it masked from the start: what the
    admin site and the visitor's export show (SPEC §4.7); null once the visitor is erased.
    `user_id` is the account whose registration or waiting entry the notice is about.
    """

    __tablename__ = "outbox_messages"
    __table_args__ = (
        Index("ix_outbox_messages_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_outbox_messages_user_id", "user_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    topic: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    user_id: Mapped[uuid.UUID | None]
    masked_text: Mapped[str | None] = mapped_column(Text)
    # The W3C trace context of the unit of work that wrote it (null: tracing off), which the
    # relay's send continues: one trace from the request to the notification service.
    traceparent: Mapped[str | None] = mapped_column(String(55))
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    leased_until: Mapped[datetime | None]
    lease_holder: Mapped[str | None] = mapped_column(String(128))
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    def __str__(self) -> str:
        return f"{self.topic} {self.id}"
