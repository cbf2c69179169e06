import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.database import Base, utcnow
from app.events.models import Event

MAX_FAILED_CONFIRMATIONS = 5
MAX_CODE_RESENDS = 3


class RegistrationStatus(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


ACTIVE_STATUSES = (RegistrationStatus.PENDING, RegistrationStatus.CONFIRMED)
_ACTIVE = text("status IN ('pending', 'confirmed')")


class WaitlistStatus(StrEnum):
    WAITING = "waiting"
    OFFERED = "offered"
    CLAIMED = "claimed"
    LEFT = "left"
    EXPIRED = "expired"


_WAITING = text("status = 'waiting'")


def email_key(email: str) -> str:
    """The form in which two emails are compared: case-insensitively."""
    return email.strip().casefold()


class Registration(Base):
    """A visitor's seat at an event: a hold (`pending`) until confirmed with the code sent by
    email, or until `expires_at` passes.

    `stored_status` is what was last recorded; `status` is what it is now: a pending hold whose
    `expires_at` has passed is `expired` whether or not the sweep has recorded it yet. `email_key`
    is the email case-folded, so that the partial unique index lets an email hold one active
    (pending or confirmed) registration per event, on SQLite and PostgreSQL alike. The code is
    kept only as a keyed hash (`code_hash`). `notice_message_id` names the outbox message of the
    latest notice about it.
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
        Index("ix_registrations_event_id_status_expires_at", "event_id", "status", "expires_at"),
        # An offline scanner's download: what changed about the event's tickets since then.
        Index("ix_registrations_event_id_ticket_changed_at", "event_id", "ticket_changed_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    event_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("events.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    full_name: Mapped[str] = mapped_column(String(255))
    email: Mapped[str] = mapped_column(String(254))
    email_key: Mapped[str] = mapped_column(String(254))
    stored_status: Mapped[str] = mapped_column(
        "status", String(16), default=RegistrationStatus.PENDING
    )
    expires_at: Mapped[datetime | None]
    code_hash: Mapped[str] = mapped_column(String(64))
    code_sent_at: Mapped[datetime] = mapped_column(default=utcnow)
    codes_resent: Mapped[int] = mapped_column(default=0)
    failed_attempts: Mapped[int] = mapped_column(default=0)
    notice_message_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    # The ticket (SPEC §4.6): its version is in the signed token, so that a reissue revokes the
    # old one; `ticket_changed_at` moves with everything an offline scanner must learn (issued,
    # reissued, revoked, checked in). `link_base` is where the visitor reached us when they
    # confirmed: the links of later notices, when PUBLIC_BASE_URL is not set.
    ticket_version: Mapped[int] = mapped_column(default=1, server_default="1")
    ticket_issued_at: Mapped[datetime | None]
    ticket_changed_at: Mapped[datetime | None]
    checked_in_at: Mapped[datetime | None]
    link_base: Mapped[str | None] = mapped_column(String(500))

    def __str__(self) -> str:
        return f"{self.full_name} <{self.email}>"

    def status_at(self, now: datetime) -> RegistrationStatus:
        status = RegistrationStatus(self.stored_status)
        if status is RegistrationStatus.PENDING and self.hold_lapsed(now):
            return RegistrationStatus.EXPIRED
        return status

    @property
    def status(self) -> RegistrationStatus:
        return self.status_at(utcnow())

    def hold_lapsed(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    @property
    def locked(self) -> bool:
        return self.failed_attempts >= MAX_FAILED_CONFIRMATIONS


class WaitlistEntry(Base):
    """A visitor waiting for a seat at a full event. The oldest `waiting` entry is offered the
    next seat that frees: a pending registration (`registration_id`) is made for it, held for
    WAITLIST_OFFER_SECONDS. `stored_status` is what was last recorded; `status_at` says what it
    is now (an offer confirmed is `claimed`; an offer whose hold lapsed is `expired`, and so is a
    waiting entry of an event whose registration has closed)."""

    __tablename__ = "waitlist_entries"
    __table_args__ = (
        Index(
            "uq_waitlist_entries_event_id_email_key_waiting",
            "event_id",
            "email_key",
            unique=True,
            sqlite_where=_WAITING,
            postgresql_where=_WAITING,
        ),
        Index("ix_waitlist_entries_event_id_status_created_at", "event_id", "status", "created_at"),
        Index("ix_waitlist_entries_user_id_created_at", "user_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    full_name: Mapped[str] = mapped_column(String(255))
    email: Mapped[str] = mapped_column(String(254))
    email_key: Mapped[str] = mapped_column(String(254))
    stored_status: Mapped[str] = mapped_column("status", String(16), default=WaitlistStatus.WAITING)
    registration_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("registrations.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    offered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]

    event: Mapped[Event] = relationship(lazy="raise")
    registration: Mapped[Registration | None] = relationship(lazy="raise")

    def __str__(self) -> str:
        return f"{self.full_name} <{self.email}>"

    def status_at(self, now: datetime) -> WaitlistStatus:
        """Needs `event` and `registration` loaded."""
        status = WaitlistStatus(self.stored_status)
        if status is WaitlistStatus.WAITING and not self.event.registration_is_open(now):
            return WaitlistStatus.EXPIRED
        offer = self.registration
        if status is not WaitlistStatus.OFFERED or offer is None:
            return status
        if offer.confirmed_at is not None:
            return WaitlistStatus.CLAIMED
        if offer.status_at(now) is RegistrationStatus.EXPIRED:
            return WaitlistStatus.EXPIRED
        return status
