"""What the way to the door keeps (SPEC §4.6): the development signing key, every scan at the
door, and the reminders already sent."""

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.auth.models import User
from app.core.database import Base, utcnow
from app.events.models import Event
from app.registrations.models import Registration


class TicketSigningKey(Base):
    """The one key generated where TICKET_SIGNING_KEY is not set (development and test), kept
    here so that every replica and every restart signs and verifies with the same key. Never
    used in production, which refuses to start without TICKET_SIGNING_KEY."""

    __tablename__ = "ticket_signing_keys"

    id: Mapped[int] = mapped_column(primary_key=True)  # always 1: one key, whoever makes it
    seed: Mapped[str] = mapped_column(String(64))  # base64url of the 32-byte Ed25519 seed
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ScanResult(StrEnum):
    OK = "ok"
    ALREADY_CHECKED_IN = "already-checked-in"
    INVALID_TICKET = "invalid-ticket"
    REVOKED_TICKET = "revoked-ticket"
    WRONG_EVENT = "wrong-event"
    EVENT_CANCELLED = "event-cancelled"
    NONCE_REUSED = "nonce-reused"  # never recorded: the nonce's scan was of another ticket


class CheckinScan(Base):
    """One scan at the door, as it reached the service, with the result it was given: a scan
    sent again with the same `nonce` gets that result back, and the scans of tickets already
    checked in are the duplicates an operator looks at."""

    __tablename__ = "checkin_scans"
    __table_args__ = (Index("ix_checkin_scans_event_id_received_at", "event_id", "received_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    nonce: Mapped[str | None] = mapped_column(String(128), unique=True)
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    # SHA-256 of the token, in hex, so that a nonce replays only the scan of the same ticket
    # (null for scans recorded before it was kept).
    token_digest: Mapped[str | None] = mapped_column(String(64))
    registration_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("registrations.id", ondelete="SET NULL")
    )
    scanned_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    result: Mapped[str | None] = mapped_column(String(32))  # null only while being judged
    # The ticket's check-in as this scan found or made it (null: no valid ticket).
    checked_in_at: Mapped[datetime | None]
    scanned_at: Mapped[datetime]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)

    event: Mapped[Event] = relationship(lazy="raise")
    registration: Mapped[Registration | None] = relationship(lazy="raise")
    door_user: Mapped[User | None] = relationship(lazy="raise")

    def __str__(self) -> str:
        return f"{self.result} {self.scanned_at:%Y-%m-%d %H:%M:%S}"


class EventReminder(Base):
    """A reminder round done: every visitor confirmed before the window opened (`offset_seconds`
    before `event_time`) was sent a reminder, in the unit of work that wrote this row. Its key
    makes the round happen once, whichever replica gets there first; a moved event has a new
    `event_time`, and so rounds of its own."""

    __tablename__ = "event_reminders"

    event_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("events.id", ondelete="CASCADE"), primary_key=True
    )
    offset_seconds: Mapped[int] = mapped_column(primary_key=True)
    event_time: Mapped[datetime] = mapped_column(primary_key=True)
    recipients: Mapped[int]
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
