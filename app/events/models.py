import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.database import Base, utcnow

# Provider statuses under which registration can be open; anything else (including statuses
# we have never seen) counts as closed.
OPEN_PROVIDER_STATUSES = frozenset({"new", "published", "open"})
CANCELLED_PROVIDER_STATUS = "cancelled"
_WAITING = text("waitlist_count > 0")


def registration_is_open(provider_status: str, deadline: datetime | None, now: datetime) -> bool:
    return provider_status in OPEN_PROVIDER_STATUSES and (deadline is None or deadline > now)


def free_seats(capacity: int | None, taken: int) -> int | None:
    """Seats neither held nor taken (None: unlimited); never negative, even when the provider
    lowered the capacity below the seats taken."""
    return None if capacity is None else max(capacity - taken, 0)


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
    changed_at: Mapped[datetime | None]
    created_at: Mapped[datetime | None]
    status_changed_at: Mapped[datetime | None]
    synced_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    venue: Mapped[Venue | None] = relationship(lazy="raise")

    def __str__(self) -> str:
        return self.name

    def registration_is_open(self, now: datetime) -> bool:
        return registration_is_open(self.provider_status, self.registration_deadline, now)

    @property
    def free_seats(self) -> int | None:
        return free_seats(self.capacity, self.registrations_count)

    def take_seats(self, count: int, hold_ends: datetime | None = None) -> None:
        self.registrations_count += count
        if hold_ends is not None and (
            self.next_hold_expiry is None or hold_ends < self.next_hold_expiry
        ):
            self.next_hold_expiry = hold_ends

    def release_seats(self, count: int) -> None:
        self.registrations_count = max(self.registrations_count - count, 0)


class CatalogueVersion(Base):
    """One row: a token that every write to the catalogue (events, venues, their seats and
    waiting lists) replaces in its own transaction. A page of the catalogue read under a token
    stays right while the token does — but for the passing of time (deadlines, holds), which
    the page's own validity covers — so caches and ETags derive from it. A random token, not a
    counter: a number could come back after a rollback; a token never does."""

    __tablename__ = "catalogue_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(32))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
