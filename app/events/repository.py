"""The catalogue's writes, in a unit of work's session: provider records upserted, seats locked,
the version token replaced, events long past deleted. The reads are in queries.py."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Row,
    and_,
    bindparam,
    case,
    delete,
    func,
    not_,
    or_,
    select,
    union,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from app.core.database import UTCDateTime, insert_or_update, rowcount, rows_by_key, utcnow
from app.core.last_write import LastWrite
from app.events.models import CatalogueVersion, Event, Venue, registration_open
from app.provider.changes import Applied, EventChange
from app.provider.records import CANCELLED_PROVIDER_STATUS, ProviderEvent, ProviderPlace


def _venue_row(place: ProviderPlace, now: datetime) -> dict[str, Any]:
    return {
        "id": place.id,
        "name": place.name,
        "city": place.city,
        "address": place.address,
        "seats_pattern": place.seats_pattern,
        "capacity": place.capacity,
        "changed_at": place.changed_at,
        "synced_at": now,
    }


def _event_row(event: ProviderEvent, capacity: int | None, now: datetime) -> dict[str, Any]:
    return {
        "id": event.id,
        "name": event.name,
        "name_folded": event.name.casefold(),
        "event_time": event.event_time,
        "registration_deadline": event.registration_deadline,
        "provider_status": event.provider_status,
        "number_of_visitors": event.number_of_visitors,
        "venue_id": event.place.id if event.place else None,
        "capacity": capacity,
        "changed_at": event.changed_at,
        "created_at": event.created_at,
        "status_changed_at": event.status_changed_at,
        "synced_at": now,
    }


@dataclass
class VenueSeats:
    """What a batch's events need of their venues: the capacity of each venue the batch
    names (events carry it, so that seats are counted on the event's own row), and the venues
    whose capacity the batch changed, with the new one."""

    capacity: dict[uuid.UUID, int | None] = field(default_factory=dict)
    resized: dict[uuid.UUID, int | None] = field(default_factory=dict)
    written: list[uuid.UUID] = field(default_factory=list)  # venues new or changed


EVENTS = Event.__table__
VENUES = Venue.__table__
# What the upsert compares a record with.
STORED_EVENT_FIELDS = ("id", "changed_at", "provider_status", "event_time", "capacity")
# What a write returns of an event: its id, its capacity, and whether anybody holds, waits
# for or is offered one of its seats (only then must registrations follow its changes).
WRITTEN_EVENT = (
    EVENTS.c.id,
    EVENTS.c.capacity,
    EVENTS.c.registrations_count,
    EVENTS.c.waitlist_count,
    EVENTS.c.next_hold_expiry,
)


HOLD_ENDS = bindparam("hold_ends", type_=UTCDateTime())
# A seat taken in one statement, its conditions checked on the row it locks. Built once: building
# an UPDATE costs more than running it.
TAKE_SEAT = (
    update(EVENTS)
    .where(
        EVENTS.c.id == bindparam("event_id"),
        EVENTS.c.waitlist_count == 0,
        or_(EVENTS.c.capacity.is_(None), EVENTS.c.registrations_count < EVENTS.c.capacity),
        registration_open(bindparam("now", type_=UTCDateTime())),
    )
    .values(
        registrations_count=EVENTS.c.registrations_count + 1,
        next_hold_expiry=case(
            (
                or_(EVENTS.c.next_hold_expiry.is_(None), EVENTS.c.next_hold_expiry > HOLD_ENDS),
                HOLD_ENDS,
            ),
            else_=EVENTS.c.next_hold_expiry,
        ),
        seats_version=EVENTS.c.seats_version + 1,
    )
)


class CatalogueRepository:
    """The catalogue's writes, in a unit of work's session: upserts of provider records keyed
    by the provider's ids, seats, and the cleanup of events long past.

    A batch of records costs a fixed number of statements whatever its size and whatever the
    catalogue's: each lookup reads the primary key's index (`rows_by_key`), and each upsert is one
    multi-row `INSERT … ON CONFLICT` of Core rows (through the ORM, rows whose absent fields
    differ were split into statements of a few rows each)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def upsert_venues(self, places: Sequence[ProviderPlace]) -> VenueSeats:
        """Writes the new and changed venues (in id order, as the events); a partial place
        (only id and name) keeps what an earlier full record said. Most batches name venues
        already stored as they are, and rewriting those rows every batch cost more than the
        events."""
        seats = VenueSeats()
        if not places:
            return seats
        stored = await self._stored_venues([place.id for place in places])
        seats.capacity = {venue_id: row.capacity for venue_id, row in stored.items()}
        places = [place for place in places if _place_differs(place, stored.get(place.id))]
        if not places:
            return seats
        now = utcnow()
        statement = insert_or_update(self.session, VENUES)
        kept = {
            column: func.coalesce(statement.excluded[column], VENUES.c[column])
            for column in ("city", "address", "seats_pattern", "capacity", "changed_at")
        }
        written = await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[VENUES.c.id],
                set_={
                    "name": statement.excluded.name,
                    "synced_at": statement.excluded.synced_at,
                    **kept,
                },
            ).returning(VENUES.c.id, VENUES.c.capacity),
            [_venue_row(place, now) for place in sorted(places, key=lambda place: place.id)],
        )
        for venue_id, capacity in written:
            seats.written.append(venue_id)
            before = stored.get(venue_id)
            if before is not None and before.capacity != capacity:
                seats.resized[venue_id] = capacity
            seats.capacity[venue_id] = capacity
        return seats

    async def _stored_venues(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Row[Any]]:
        columns = (VENUES.c[name] for name in ("id", *PLACE_FIELDS, "capacity"))
        rows = await self.session.execute(rows_by_key(self.session, VENUES.c.id, ids, *columns))
        return {row.id: row for row in rows}

    async def _stored_events(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Row[Any]]:
        columns = (EVENTS.c[name] for name in STORED_EVENT_FIELDS)
        rows = await self.session.execute(rows_by_key(self.session, EVENTS.c.id, ids, *columns))
        return {row.id: row for row in rows}

    async def upsert_events(self, events: Sequence[ProviderEvent], venues: VenueSeats) -> Applied:
        """Inserts new events and updates those whose provider `changed_at` is newer than the
        stored one (or unknown); the rest are left untouched and counted as unchanged. Each
        event gets its venue's capacity, and so do the stored events of a venue resized.
        Reports the changes that registrations must follow, for the rows this call really
        wrote and that somebody holds or waits for: a record applied again, here or by
        another replica at once, reports nothing."""
        applied = Applied()
        stored = await self._stored_events([event.id for event in events]) if events else {}
        changed = [event for event in events if _is_newer(event, stored.get(event.id))]
        counts = applied.counts
        counts.unchanged = len(events) - len(changed)
        counts.created = sum(1 for event in changed if event.id not in stored)
        counts.updated = len(changed) - counts.created
        written = await self._write_events(changed, venues.capacity) if changed else {}
        for event in changed:
            row, before = written.get(event.id), stored.get(event.id)
            if row is not None and before is not None and _has_visitors(row):
                change = _change(event, before, row.capacity)
                if change is not None:
                    applied.changes.append(change)
        for venue_id, capacity in venues.resized.items():
            applied.changes.extend(
                EventChange(event_id, seats_or_status=True)
                for event_id in await self._resize_events_at(venue_id, capacity)
            )
        return applied

    async def _write_events(
        self, events: Sequence[ProviderEvent], capacity: dict[uuid.UUID, int | None]
    ) -> dict[uuid.UUID, Row[Any]]:
        """Upserts the events (in id order, so that two writers lock rows in the same order);
        returns the rows written (WRITTEN_EVENT)."""
        now = utcnow()
        rows = [
            _event_row(event, capacity[event.place.id] if event.place else None, now)
            for event in sorted(events, key=lambda event: event.id)
        ]
        statement = insert_or_update(self.session, EVENTS)
        columns = [name for name in rows[0] if name != "id"]
        newer = or_(
            EVENTS.c.changed_at.is_(None),
            statement.excluded.changed_at.is_(None),
            statement.excluded.changed_at > EVENTS.c.changed_at,
        )
        result = await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[EVENTS.c.id],
                set_={
                    **{name: statement.excluded[name] for name in columns},
                    "times_moved": EVENTS.c.times_moved + _moved(statement.excluded.event_time),
                },
                where=newer,
            ).returning(*WRITTEN_EVENT),
            rows,
        )
        return {row.id: row for row in result}

    async def _resize_events_at(self, venue_id: uuid.UUID, capacity: int | None) -> list[uuid.UUID]:
        """Gives the venue's stored events its new capacity; returns the ids of those that
        somebody holds or waits for."""
        result = await self.session.execute(
            update(EVENTS)
            .where(EVENTS.c.venue_id == venue_id, EVENTS.c.capacity.is_distinct_from(capacity))
            .values(capacity=capacity)
            .returning(*WRITTEN_EVENT)
        )
        return [row.id for row in result if _has_visitors(row)]

    async def replace_version_token(self) -> None:
        await self.session.execute(
            update(CatalogueVersion)
            .where(CatalogueVersion.id == 1)
            .values(token=uuid.uuid4().hex, changed_at=utcnow())
        )

    def take_seat(self, event_id: uuid.UUID, hold_ends: datetime, now: datetime) -> LastWrite:
        """The write that takes a seat, for the unit of work to end with."""
        return LastWrite(TAKE_SEAT, {"event_id": event_id, "hold_ends": hold_ends, "now": now})

    async def lock(self, event_id: uuid.UUID, *, skip_locked: bool = False) -> Event | None:
        """The event, its row locked until the unit of work ends (on PostgreSQL; SQLite's
        transactions hold the whole database already), read afresh. With `skip_locked`, None
        when another transaction holds it.

        FOR NO KEY UPDATE, as an UPDATE of the row takes: a registration inserted meanwhile
        holds KEY SHARE on its event (the foreign key), and FOR UPDATE would wait for it while
        that registration's own seat UPDATE queued behind the lock — a deadlock a second."""
        statement = (
            select(Event)
            .where(Event.id == event_id)
            .with_for_update(key_share=True, skip_locked=skip_locked)
            .execution_options(populate_existing=True)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def get_with_venue(self, event_id: uuid.UUID) -> Event | None:
        return await self.session.scalar(
            select(Event).where(Event.id == event_id).options(joinedload(Event.venue))
        )

    async def due_for_settling(self, now: datetime, limit: int) -> list[uuid.UUID]:
        """Events whose seats need the sweep: a hold may have lapsed, or somebody waits while
        a seat is free or registration has closed."""
        lapsed = select(Event.id).where(Event.next_hold_expiry <= now)
        waiting = select(Event.id).where(
            Event.waitlist_count > 0,
            or_(
                Event.capacity.is_(None),
                Event.registrations_count < Event.capacity,
                not_(registration_open(now)),
            ),
        )
        rows = await self.session.execute(union(lapsed, waiting).limit(limit))
        return list(rows.scalars())

    async def delete_ended_before(self, cutoff: datetime) -> int:
        result = await self.session.execute(delete(Event).where(Event.event_time < cutoff))
        return rowcount(result) or 0


PLACE_FIELDS = ("name", "city", "address", "seats_pattern", "changed_at")


def _moved(new_time: ColumnElement[datetime | None]) -> ColumnElement[int]:
    """1 where an upsert moves the stored event to another time, else 0."""
    stored = EVENTS.c.event_time
    return case((and_(stored.is_not(None), new_time.is_distinct_from(stored)), 1), else_=0)


def _place_differs(place: ProviderPlace, stored: Row[Any] | None) -> bool:
    """Whether writing `place` would change the stored venue (absent fields change nothing)."""
    if stored is None:
        return True
    return any(
        (value := getattr(place, field)) is not None and value != getattr(stored, field)
        for field in PLACE_FIELDS
    )


def _is_newer(event: ProviderEvent, stored: Row[Any] | None) -> bool:
    if stored is None or stored.changed_at is None:
        return True
    return event.changed_at is None or event.changed_at > stored.changed_at


def _has_visitors(written: Row[Any]) -> bool:
    """Whether anybody holds, waits for or is offered a seat of the event written (its row is
    locked by the write until the unit of work ends, so that stays true or false until then)."""
    return bool(written.registrations_count or written.waitlist_count or written.next_hold_expiry)


def _change(event: ProviderEvent, stored: Row[Any], capacity: int | None) -> EventChange | None:
    cancelled = (
        event.provider_status == CANCELLED_PROVIDER_STATUS
        and stored.provider_status != CANCELLED_PROVIDER_STATUS
    )
    moved = (
        event.event_time is not None
        and stored.event_time is not None
        and event.event_time != stored.event_time
    )
    status_changed = event.provider_status != stored.provider_status
    reseated = capacity != stored.capacity
    if not (cancelled or moved or status_changed or reseated):
        return None
    return EventChange(
        event.id,
        cancelled=cancelled,
        rescheduled_to=event.event_time if moved else None,
        seats_or_status=reseated or status_changed,
    )
