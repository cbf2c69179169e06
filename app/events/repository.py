import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, Result, Row, Select, and_, delete, func, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

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


# Built once: building a statement costs more than looking up its compiled form.
PAGE_ROWS = select(*EVENT_COLUMNS).outerjoin(Venue, Venue.id == Event.venue_id)
COUNT = select(func.count()).select_from(Event)


def registration_open(now: datetime) -> ColumnElement[bool]:
    """SQL twin of Event.registration_is_open."""
    return and_(
        Event.provider_status.in_(OPEN_PROVIDER_STATUSES),
        or_(Event.registration_deadline.is_(None), Event.registration_deadline > now),
    )


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _conditions(filters: EventFilters, now: datetime) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.search:
        pattern = f"%{_escape_like(filters.search.casefold())}%"
        conditions.append(Event.name_folded.like(pattern, escape="\\"))
    if filters.status is EventStatus.OPEN:
        conditions.append(registration_open(now))
    elif filters.status is EventStatus.CLOSED:
        conditions.append(not_(registration_open(now)))
    if (start := filters.starts_at_or_after) is not None:
        conditions.append(Event.event_time >= start)
    if (end := filters.starts_before) is not None:
        conditions.append(Event.event_time < end)
    if filters.venue is not None:
        conditions.append(Event.venue_id == filters.venue)
    return conditions


def _order_by(ordering: EventOrdering) -> tuple[ColumnElement[object], ...]:
    column = Event.event_time if ordering.field == "event_time" else Event.name
    direction = column.desc() if ordering.descending else column.asc()
    # Events without a time sort last either way; the id breaks ties so pages are stable.
    tie_breaker = Event.id.desc() if ordering.descending else Event.id.asc()
    return (direction.nulls_last(), tie_breaker)


ORDER_BY = {ordering: _order_by(ordering) for ordering in EventOrdering}


class EventRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def read_outside_transaction(self) -> None:
        """On PostgreSQL, the reads that follow run without BEGIN and ROLLBACK, two round trips
        fewer: under READ COMMITTED each statement sees its own snapshot either way. Call it
        before the session's first statement."""
        if self.session.bind.dialect.name == "postgresql":
            await self.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})

    async def _execute(self, query: Select[tuple[object, ...]]) -> Result[tuple[object, ...]]:
        """Runs a read on the session's connection, past the ORM: the columns are plain, so
        its result machinery would only cost time."""
        connection = await self.session.connection()
        return await connection.execute(query)

    async def count(self, filters: EventFilters, now: datetime) -> int:
        query = COUNT.where(*_conditions(filters, now))
        return (await self._execute(query)).scalar_one()

    async def page(
        self, filters: EventFilters, now: datetime, *, offset: int, limit: int
    ) -> Sequence[Row[tuple[object, ...]]]:
        """The page's rows, each also carrying `total`, the count of all the matching events
        (one statement and one round trip instead of two)."""
        conditions = _conditions(filters, now)
        total = COUNT.where(*conditions).scalar_subquery().label("total")
        query = (
            PAGE_ROWS.add_columns(total)
            .where(*conditions)
            .order_by(*ORDER_BY[filters.ordering])
            .offset(offset)
            .limit(limit)
        )
        return (await self._execute(query)).all()

    async def get(self, event_id: uuid.UUID) -> Row[tuple[object, ...]] | None:
        query = PAGE_ROWS.where(Event.id == event_id)
        return (await self._execute(query)).first()

    async def delete_ended_before(self, cutoff: datetime) -> int:
        statement = delete(Event).where(Event.event_time < cutoff)
        result = await self.session.execute(statement.execution_options(synchronize_session=False))
        return result.rowcount or 0
