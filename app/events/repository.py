import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    and_,
    bindparam,
    delete,
    func,
    not_,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.core.database import UTCDateTime, insert_or_update, utcnow
from app.events.models import OPEN_PROVIDER_STATUSES, Event, Venue
from app.events.schemas import EventFilters, EventOrdering, EventRead, EventStatus, VenueRead
from app.sync.records import ProviderEvent, ProviderPlace

# What an event is read with: the fields of EventRead (and of its VenueRead) that are columns,
# in that order, so that a field added to the model and the schema is read without a third edit.
EVENT_FIELDS = tuple(name for name in EventRead.model_fields if name in Event.__table__.c)
VENUE_FIELDS = tuple(name for name in VenueRead.model_fields if name in Venue.__table__.c)
READ_COLUMNS = (
    *(Event.__table__.c[name] for name in EVENT_FIELDS),
    *(Venue.__table__.c[name].label(f"venue_{name}") for name in VENUE_FIELDS),
)

# Built once: building a statement and computing its cache key cost more than running it. The
# filters' statements are built once per combination of filters in use, with every value bound
# at execution time, so that a request only looks up what it needs.
PAGE_ROWS = select(*READ_COLUMNS).outerjoin(Venue, Venue.id == Event.venue_id)
COUNT = select(func.count()).select_from(Event)
EVENT_BY_ID = PAGE_ROWS.where(Event.id == bindparam("event_id"))


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
    EventStatus.OPEN: registration_open(bindparam("now", type_=UTCDateTime())),
    EventStatus.CLOSED: not_(registration_open(bindparam("now", type_=UTCDateTime()))),
}


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _filter_values(filters: EventFilters, now: datetime) -> dict[str, object]:
    """The values the filters in use bind, keyed like FILTER_CONDITIONS (plus `now`)."""
    values: dict[str, object] = {}
    if filters.name_contains:
        values["name_pattern"] = f"%{_escape_like(filters.name_contains.casefold())}%"
    if filters.status is not None:
        values["now"] = now
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
    """The page's rows, each also carrying `total`, the count of all the matching events
    (one statement and one round trip instead of two)."""
    total = _count_statement(filter_names, status).scalar_subquery().label("total")
    return (
        PAGE_ROWS.add_columns(total)
        .where(*_conditions(filter_names, status))
        .order_by(*_order_by(ordering))
        .offset(bindparam("offset"))
        .limit(bindparam("limit"))
    )


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
        """The page's rows, each also carrying `total`, the count of all the matching events."""
        values = _filter_values(filters, now)
        statement = _page_statement(frozenset(values), filters.status, filters.ordering)
        values |= {"offset": offset, "limit": limit}
        return (await self.connection.execute(statement, values)).all()

    async def get(self, event_id: uuid.UUID) -> Row[Any] | None:
        return (await self.connection.execute(EVENT_BY_ID, {"event_id": event_id})).first()


@dataclass
class BatchCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def add(self, other: "BatchCounts") -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged


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


def _event_row(event: ProviderEvent, now: datetime) -> dict[str, Any]:
    return {
        "id": event.id,
        "name": event.name,
        "name_folded": event.name.casefold(),
        "event_time": event.event_time,
        "registration_deadline": event.registration_deadline,
        "provider_status": event.provider_status,
        "number_of_visitors": event.number_of_visitors,
        "venue_id": event.place.id if event.place else None,
        "changed_at": event.changed_at,
        "created_at": event.created_at,
        "status_changed_at": event.status_changed_at,
        "synced_at": now,
    }


class CatalogueRepository:
    """The catalogue's writes, in a unit of work's session: upserts of provider records keyed
    by the provider's ids, seats, and the cleanup of events long past."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def upsert_venues(self, places: Sequence[ProviderPlace]) -> None:
        """Writes the new and changed venues; a partial place (only id and name) keeps what an
        earlier full record said. Most batches name venues already stored as they are, and
        rewriting those rows every batch cost more than the events themselves."""
        stored = await self._stored_venues([place.id for place in places]) if places else {}
        places = [place for place in places if _place_differs(place, stored.get(place.id))]
        if not places:
            return
        now = utcnow()
        statement = insert_or_update(self.session, Venue)
        kept = {
            column: func.coalesce(statement.excluded[column], getattr(Venue, column))
            for column in ("city", "address", "seats_pattern", "capacity", "changed_at")
        }
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[Venue.id],
                set_={
                    "name": statement.excluded.name,
                    "synced_at": statement.excluded.synced_at,
                    **kept,
                },
            ),
            [_venue_row(place, now) for place in places],
        )

    async def _stored_venues(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Row[Any]]:
        rows = await self.session.execute(
            select(Venue.id, *(getattr(Venue, field) for field in PLACE_FIELDS)).where(
                Venue.id.in_(ids)
            )
        )
        return {row.id: row for row in rows}

    async def stored_changed_at(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, datetime | None]:
        rows = await self.session.execute(
            select(Event.id, Event.changed_at).where(Event.id.in_(ids))
        )
        return {row.id: row.changed_at for row in rows}

    async def upsert_events(self, events: Sequence[ProviderEvent]) -> BatchCounts:
        """Inserts new events and updates those whose provider `changed_at` is newer than the
        stored one (or unknown); the rest are left untouched and counted as unchanged."""
        counts = BatchCounts()
        if not events:
            return counts
        stored = await self.stored_changed_at([event.id for event in events])
        changed = [event for event in events if _is_newer(event, stored)]
        counts.unchanged = len(events) - len(changed)
        counts.created = sum(1 for event in changed if event.id not in stored)
        counts.updated = len(changed) - counts.created
        if changed:
            await self._write_events(changed)
        return counts

    async def _write_events(self, events: Sequence[ProviderEvent]) -> None:
        now = utcnow()
        rows = [_event_row(event, now) for event in events]
        statement = insert_or_update(self.session, Event)
        columns = [name for name in rows[0] if name != "id"]
        newer = or_(
            Event.changed_at.is_(None),
            statement.excluded.changed_at.is_(None),
            statement.excluded.changed_at > Event.changed_at,
        )
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[Event.id],
                set_={name: statement.excluded[name] for name in columns},
                where=newer,
            ),
            rows,
        )
        await self._copy_venue_capacity([event.id for event in events])

    async def _copy_venue_capacity(self, event_ids: Sequence[uuid.UUID]) -> None:
        """Events carry their venue's capacity, so that taking a seat is one UPDATE."""
        venue_capacity = select(Venue.capacity).where(Venue.id == Event.venue_id).scalar_subquery()
        await self.session.execute(
            update(Event)
            .where(Event.id.in_(event_ids))
            .values(capacity=venue_capacity)
            .execution_options(synchronize_session=False)
        )

    async def take_seat(self, event_id: uuid.UUID) -> bool:
        """Counts one more seat taken, unless the event is full: one conditional UPDATE, so
        concurrent registrations (in any process) can never overbook."""
        result = await self.session.execute(
            update(Event)
            .where(
                Event.id == event_id,
                or_(Event.capacity.is_(None), Event.registrations_count < Event.capacity),
            )
            .values(registrations_count=Event.registrations_count + 1)
        )
        return result.rowcount == 1  # type: ignore[attr-defined]

    async def free_seat(self, event_id: uuid.UUID) -> None:
        await self.session.execute(
            update(Event)
            .where(Event.id == event_id, Event.registrations_count > 0)
            .values(registrations_count=Event.registrations_count - 1)
        )

    async def get(self, event_id: uuid.UUID) -> Event | None:
        return await self.session.get(Event, event_id)

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


def _is_newer(event: ProviderEvent, stored: dict[uuid.UUID, datetime | None]) -> bool:
    if event.id not in stored:
        return True
    known = stored[event.id]
    return known is None or event.changed_at is None or event.changed_at > known
