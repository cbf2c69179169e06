import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.database import Base, utcnow

MAX_FAILED_CONFIRMATIONS = 5


class RegistrationStatus(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"


_ACTIVE = text("status != 'cancelled'")


def email_key(email: str) -> str:
    """The form in which two emails are compared: case-insensitively."""
    return email.strip().casefold()


class Registration(Base):
    """A visitor's seat at an event, pending until confirmed with the code sent by email.

    `email_key` is the email case-folded, so that the partial unique index lets an email hold
    one registration per event that is not cancelled, on SQLite and PostgreSQL alike. The code
    is kept only as a keyed hash (`code_hash`). `code_message_id` and `cancel_message_id` name
    the outbox messages that carry the code and the cancellation notice.
    """

    __tablename__ = "registrations"
    __table_args__ = (
        Index(
            "uq_registrations_event_id_email_key_active",
            "event_id",
            "email_key",
            unique=True,
            sqlite_where=_ACTIVE,
            postgresql_where=_ACTIVE,
        ),
        Index("ix_registrations_user_id_created_at", "user_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    event_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("events.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    full_name: Mapped[str] = mapped_column(String(255))
    email: Mapped[str] = mapped_column(String(254))
    email_key: Mapped[str] = mapped_column(String(254))
    status: Mapped[str] = mapped_column(String(16), default=RegistrationStatus.PENDING)
    code_hash: Mapped[str] = mapped_column(String(64))
    failed_attempts: Mapped[int] = mapped_column(default=0)
    code_message_id: Mapped[uuid.UUID | None]
    cancel_message_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]

    def __str__(self) -> str:
        return f"{self.full_name} <{self.email}>"

    @property
    def locked(self) -> bool:
        return self.failed_attempts >= MAX_FAILED_CONFIRMATIONS
