import uuid
from collections.abc import Sequence
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
)
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.database import UTCDateTime
from app.events.models import OPEN_PROVIDER_STATUSES, Event, Venue
from app.events.schemas import EventFilters, EventOrdering, EventStatus

EVENT_COLUMNS = (
    Event.id,
    Event.name,
    Event.event_time,
    Event.registration_deadline,
    Event.provider_status,
    Event.number_of_visitors,
    Event.capacity,
    Event.registrations_count,
    Venue.id.label("venue_id"),
    Venue.name.label("venue_name"),
    Venue.city.label("venue_city"),
    Venue.address.label("venue_address"),
)


# Built once: building a statement and computing its cache key cost more than running it. The
# filters' statements are built once per combination of filters in use, with every value bound
# at execution time, so that a request only looks up what it needs.
PAGE_ROWS = select(*EVENT_COLUMNS).outerjoin(Venue, Venue.id == Event.venue_id)
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
    """Reads run past the ORM: the columns are plain, so its result machinery would only cost
    time."""

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

    async def delete_ended_before(self, cutoff: datetime) -> int:
        result = await self.connection.execute(delete(Event).where(Event.event_time < cutoff))
        return result.rowcount or 0
