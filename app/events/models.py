import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, ForeignKey, Index, String, and_, or_, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.database import Base, one_of, utcnow
from app.provider.records import OPEN_PROVIDER_STATUSES

_WAITING = text("waitlist_count > 0")


def registration_is_open(provider_status: str, deadline: datetime | None, now: datetime) -> bool:
    return provider_status in OPEN_PROVIDER_STATUSES and (deadline is None or deadline > now)


def free_seats(capacity: int | None, taken: int) -> int | None:
    """Seats neither held nor taken (None: unlimited); never negative, even when the provider
    lowered the capacity below the seats taken."""
    return None if capacity is None else max(capacity - taken, 0)


def earliest(moments: Iterable[datetime | None]) -> datetime | None:
    return min((moment for moment in moments if moment is not None), default=None)


def full_until(next_hold_expiry: datetime | None, deadline: datetime | None) -> datetime | None:
    """Until when an event with no seat for a direct registration stays so unless something is
    written: a hold may lapse, or the deadline close registration (None: only a write)."""
    return earliest((next_hold_expiry, deadline))


class Venue(Base):
    """A provider's place, keyed by the provider's id."""

    __tablename__ = "venues"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    city: Mapped[str | None] = mapped_column(String(255))
    address: Mapped[str | None] = mapped_column(String(500))
    seats_pattern: Mapped[str | None] = mapped_column(String(1000))
    capacity: Mapped[int | None]
    changed_at: Mapped[datetime | None]
    synced_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    def __str__(self) -> str:
        return self.name

    @property
    def place_line(self) -> str:
        """Name, city and address, as a visitor reads them (a notice, a calendar entry)."""
        return ", ".join(part for part in (self.name, self.city, self.address) if part)


class Event(Base):
    """A provider's event, keyed by the provider's id.

    `name_folded` is the name case-folded in Python, so that a case-insensitive search works
    in every language on SQLite too (whose LOWER only folds ASCII).

    The seats: `capacity` is copied from the venue's seat pattern at sync time (null: unknown,
    unlimited). `registrations_count` counts the seats taken — pending holds and confirmed
    registrations — as last recorded: a hold whose time has passed still counts until it is
    recorded as expired, which every write to the event's seats does first, and which a read
    discounts by itself. `next_hold_expiry` is never later than the earliest end of a pending
    hold (null: none), so that a read knows when it must look for lapsed holds and the sweep
    knows which events to visit. `waitlist_count` counts the entries waiting. Every change to
    them happens with this row locked (`Catalogue.lock`), so they are counters, not counts.
    """

    __tablename__ = "events"
    __table_args__ = (
        # The orders pages are read in: a page's ids come from an index alone (deep pages).
        Index("ix_events_event_time_id", "event_time", "id"),
        Index(
            "ix_events_event_time_desc_id_desc",
            text("event_time DESC NULLS LAST"),
            text("id DESC"),
        ).ddl_if(dialect="postgresql"),  # SQLite has no NULLS LAST in an index (nor the need)
        Index("ix_events_name_id", "name", "id"),
        # Substring search on the name (LIKE '%…%'), PostgreSQL only.
        Index(
            "ix_events_name_folded_trgm",
            "name_folded",
            postgresql_using="gin",
            postgresql_ops={"name_folded": "gin_trgm_ops"},
        ).ddl_if(dialect="postgresql"),
        # The sweep's other question: which events have somebody waiting.
        Index("ix_events_waiting", "id", sqlite_where=_WAITING, postgresql_where=_WAITING),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(500))
    name_folded: Mapped[str] = mapped_column(String(500))
    event_time: Mapped[datetime | None]
    registration_deadline: Mapped[datetime | None] = mapped_column(index=True)
    provider_status: Mapped[str] = mapped_column(String(64), index=True)
    number_of_visitors: Mapped[int] = mapped_column(default=0)
    venue_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("venues.id", ondelete="SET NULL"), index=True
    )
    capacity: Mapped[int | None]
    registrations_count: Mapped[int] = mapped_column(default=0)
    waitlist_count: Mapped[int] = mapped_column(default=0)
    next_hold_expiry: Mapped[datetime | None] = mapped_column(index=True)
    # Grows with every change to the seats or the waiting list (each write of this row by the
    # ORM, which happens only under `Catalogue.lock`, and each seat taken by `Catalogue.take_seat`):
    # the catalogue's version sums them (app.events.version), so that no row is rewritten by
    # every registration of every event.
    seats_version: Mapped[int] = mapped_column(default=0, server_default="0")
    # How often the provider moved the event: its calendar entry's SEQUENCE (RFC 5545).
    times_moved: Mapped[int] = mapped_column(default=0, server_default="0")
    changed_at: Mapped[datetime | None]
    created_at: Mapped[datetime | None]
    status_changed_at: Mapped[datetime | None]
    # When the provider's record was last written here (not when the seats last changed).
    synced_at: Mapped[datetime] = mapped_column(default=utcnow)

    venue: Mapped[Venue | None] = relationship(lazy="raise")

    __mapper_args__: Mapping[str, Any] = {"version_id_col": seats_version}

    def __str__(self) -> str:
        return self.name

    def registration_is_open(self, now: datetime) -> bool:
        return registration_is_open(self.provider_status, self.registration_deadline, now)

    @property
    def free_seats(self) -> int | None:
        return free_seats(self.capacity, self.registrations_count)

    def full_until(self) -> datetime | None:
        return full_until(self.next_hold_expiry, self.registration_deadline)

    def take_seats(self, count: int, hold_ends: datetime | None = None) -> None:
        self.registrations_count += count
        if hold_ends is not None and (
            self.next_hold_expiry is None or hold_ends < self.next_hold_expiry
        ):
            self.next_hold_expiry = hold_ends

    def release_seats(self, count: int) -> None:
        self.registrations_count = max(self.registrations_count - count, 0)


def registration_open(now: ColumnElement[datetime] | datetime) -> ColumnElement[bool]:
    """SQL twin of Event.registration_is_open."""
    return and_(
        one_of(Event.provider_status, OPEN_PROVIDER_STATUSES),
        or_(Event.registration_deadline.is_(None), Event.registration_deadline > now),
    )


class CatalogueVersion(Base):
    """One row: a token that every write of provider records to the catalogue (events and
    venues, by the sync and the stream; the cleanup) replaces in its own transaction. With the
    sum of the events' `seats_version` it names the catalogue's version: a page read under it
    stays right while it does — but for the passing of time (deadlines, holds), which the
    page's own validity covers — so caches and ETags derive from it. A random token, not a
    counter: a number could come back after a rollback; a token never does. (The sum cannot:
    committed changes only ever add to it.)"""

    __tablename__ = "catalogue_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(32))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
