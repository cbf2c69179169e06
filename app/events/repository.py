import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
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
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.core.database import UTCDateTime, insert_or_update, rows_by_key, utcnow
from app.events.models import (
    CANCELLED_PROVIDER_STATUS,
    OPEN_PROVIDER_STATUSES,
    CatalogueVersion,
    Event,
    Venue,
)
from app.events.schemas import EventFilters, EventOrdering, EventRead, EventStatus, VenueRead
from app.registrations.models import Registration, RegistrationStatus
from app.sync.records import ProviderEvent, ProviderPlace

# What an event is read with: the fields of EventRead (and of its VenueRead) that are columns,
# in that order, so that a field added to the model and the schema is read without a third edit.
EVENT_FIELDS = tuple(name for name in EventRead.model_fields if name in Event.__table__.c)
VENUE_FIELDS = tuple(name for name in VenueRead.model_fields if name in Venue.__table__.c)
NOW = bindparam("now", type_=UTCDateTime())


def _seats_taken(now: ColumnElement[datetime]) -> ColumnElement[int]:
    """The seats taken now: those recorded, less the pending holds whose time has passed but
    that the sweep has not recorded yet (looked for only when `next_hold_expiry` says some may
    have lapsed)."""
    lapsed = (
        select(func.count())
        .where(
            Registration.event_id == Event.id,
            Registration.stored_status == RegistrationStatus.PENDING,
            Registration.expires_at <= now,
        )
        .scalar_subquery()
    )
    return Event.registrations_count - case((Event.next_hold_expiry <= now, lapsed), else_=0)


# Read as computed now rather than as stored.
READ_EXPRESSIONS: dict[str, ColumnElement[Any]] = {"registrations_count": _seats_taken(NOW)}
READ_COLUMNS = (
    *(READ_EXPRESSIONS.get(name, Event.__table__.c[name]).label(name) for name in EVENT_FIELDS),
    *(Venue.__table__.c[name].label(f"venue_{name}") for name in VENUE_FIELDS),
    # Not shown, but says when time alone will change what is: see EventService.
    Event.next_hold_expiry.label("next_hold_expiry"),
)

# Built once: building a statement and computing its cache key cost more than running it. The
# filters' statements are built once per combination of filters in use, with every value bound
# at execution time, so that a request only looks up what it needs.
ROWS = select(*READ_COLUMNS).outerjoin(Venue, Venue.id == Event.venue_id)
COUNT = select(func.count()).select_from(Event)
EVENT_BY_ID = ROWS.where(Event.id == bindparam("event_id"))
VERSION = select(
    CatalogueVersion.token,
    select(func.min(Event.registration_deadline))
    .where(Event.provider_status.in_(OPEN_PROVIDER_STATUSES), Event.registration_deadline > NOW)
    .scalar_subquery(),
).where(CatalogueVersion.id == 1)


def registration_open(now: ColumnElement[datetime]) -> ColumnElement[bool]:
    """SQL twin of Event.registration_is_open."""
    return and_(
        Event.provider_status.in_(OPEN_PROVIDER_STATUSES),
        or_(Event.registration_deadline.is_(None), Event.registration_deadline > now),
    )


# Each filter's condition, under the name of the value it binds.
FILTER_CONDITIONS: dict[str, ColumnElement[bool]] = {
    "name_pattern": Event.name_folded.like(bindparam("name_pattern"), escape="\\"),
    "starts_at_or_after": Event.event_time >= bindparam("starts_at_or_after"),
    "starts_before": Event.event_time < bindparam("starts_before"),
    "venue": Event.venue_id == bindparam("venue"),
}
STATUS_CONDITIONS: dict[EventStatus, ColumnElement[bool]] = {
    EventStatus.OPEN: registration_open(NOW),
    EventStatus.CLOSED: not_(registration_open(NOW)),
}


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _filter_values(filters: EventFilters, now: datetime) -> dict[str, object]:
    """The values the filters in use bind, keyed like FILTER_CONDITIONS (plus `now`, which
    every statement binds)."""
    values: dict[str, object] = {"now": now}
    if filters.name_contains:
        values["name_pattern"] = f"%{_escape_like(filters.name_contains.casefold())}%"
    if (start := filters.starts_at_or_after) is not None:
        values["starts_at_or_after"] = start
    if (end := filters.starts_before) is not None:
        values["starts_before"] = end
    if filters.venue is not None:
        values["venue"] = filters.venue
    return values


def _conditions(
    filter_names: frozenset[str], status: EventStatus | None
) -> list[ColumnElement[bool]]:
    conditions = [
        FILTER_CONDITIONS[name] for name in sorted(filter_names & FILTER_CONDITIONS.keys())
    ]
    if status is not None:
        conditions.append(STATUS_CONDITIONS[status])
    return conditions


def _order_by(ordering: EventOrdering) -> tuple[ColumnElement[object], ...]:
    column = Event.event_time if ordering.field == "event_time" else Event.name
    direction = column.desc() if ordering.descending else column.asc()
    # Events without a time sort last either way; the id breaks ties so pages are stable.
    tie_breaker = Event.id.desc() if ordering.descending else Event.id.asc()
    return (direction.nulls_last(), tie_breaker)


@cache
def _count_statement(
    filter_names: frozenset[str], status: EventStatus | None
) -> Select[tuple[int]]:
    return COUNT.where(*_conditions(filter_names, status))


@cache
def _page_statement(
    filter_names: frozenset[str], status: EventStatus | None, ordering: EventOrdering
) -> Select[tuple[object, ...]]:
    """The page's rows. Its ids are found first, on their own: in the order of an index
    (`event_time, id` or `name, id`) they come from the index alone, however deep the page;
    only then are the page's ten rows read and joined with their venues. Asked for the rows at
    once, PostgreSQL sorted the whole catalogue past a few thousand rows of offset (8–9 ms at
    page 900 of 1,000, against 0.5 ms so; bench/README.md)."""
    order = _order_by(ordering)
    page = (
        select(Event.id)
        .where(*_conditions(filter_names, status))
        .order_by(*order)
        .offset(bindparam("offset"))
        .limit(bindparam("limit"))
        .subquery("page")
    )
    return ROWS.join(page, page.c.id == Event.id).order_by(*order)


class EventRepository:
    """The catalogue's reads, on a plain connection: the columns are plain, so the ORM's
    result machinery would only cost time."""

    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection

    async def count(self, filters: EventFilters, now: datetime) -> int:
        values = _filter_values(filters, now)
        statement = _count_statement(frozenset(values), filters.status)
        return (await self.connection.execute(statement, values)).scalar_one()

    async def page(
        self, filters: EventFilters, now: datetime, *, offset: int, limit: int
    ) -> Sequence[Row[Any]]:
        values = _filter_values(filters, now)
        statement = _page_statement(frozenset(values), filters.status, filters.ordering)
        values |= {"offset": offset, "limit": limit}
        return (await self.connection.execute(statement, values)).all()

    async def get(self, event_id: uuid.UUID, now: datetime) -> Row[Any] | None:
        values = {"event_id": event_id, "now": now}
        return (await self.connection.execute(EVENT_BY_ID, values)).first()

    async def version(self, now: datetime) -> tuple[str, datetime | None]:
        """The catalogue's version token, and when the next open event's deadline passes."""
        row = (await self.connection.execute(VERSION, {"now": now})).one()
        return row[0], row[1]


@dataclass
class BatchCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def add(self, other: "BatchCounts") -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged


@dataclass(frozen=True, slots=True)
class EventChange:
    """A change the provider made to a stored event that its registrations must follow."""

    event_id: uuid.UUID
    cancelled: bool = False
    rescheduled_to: datetime | None = None
    # Capacity or provider status changed: seats may be offered, or the waiting list closed.
    seats_or_status: bool = False


@dataclass
class Applied:
    """What one batch of provider records did to the catalogue."""

    counts: BatchCounts = field(default_factory=BatchCounts)
    changes: list[EventChange] = field(default_factory=list)


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
                set_={name: statement.excluded[name] for name in columns},
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

    async def lock(self, event_id: uuid.UUID, *, skip_locked: bool = False) -> Event | None:
        """The event, its row locked until the unit of work ends (on PostgreSQL; SQLite's
        transactions hold the whole database already), read afresh. With `skip_locked`, None
        when another transaction holds it."""
        statement = (
            select(Event)
            .where(Event.id == event_id)
            .with_for_update(skip_locked=skip_locked)
            .execution_options(populate_existing=True)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

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
        return result.rowcount or 0  # type: ignore[attr-defined]


PLACE_FIELDS = ("name", "city", "address", "seats_pattern", "changed_at")


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
