"""The catalogue's reads: the statements the API's pages and events are read with, and the
version token they are cached under. The writes are in repository.py."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    String,
    Uuid,
    bindparam,
    case,
    column,
    func,
    not_,
    select,
    table,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.database import UTCDateTime
from app.events.models import CatalogueVersion, Event, Venue, registration_open
from app.events.schemas import EventFilters, EventOrdering, EventRead, EventStatus, VenueRead
from app.provider.records import OPEN_PROVIDER_STATUSES

# What an event is read with: the fields of EventRead (and of its VenueRead) that are columns,
# in that order, so that a field added to the model and the schema is read without a third edit.
EVENT_FIELDS = tuple(name for name in EventRead.model_fields if name in Event.__table__.c)
VENUE_FIELDS = tuple(name for name in VenueRead.model_fields if name in Venue.__table__.c)
NOW = bindparam("now", type_=UTCDateTime())


# The holds as the registrations table stores them: a table clause, not the model, because
# registrations build on the catalogue and not the reverse.
HOLDS = table(
    "registrations",
    column("event_id", Uuid()),
    column("status", String()),
    column("expires_at", UTCDateTime()),
)


def _seats_taken(now: ColumnElement[datetime]) -> ColumnElement[int]:
    """The seats taken now: those recorded, less the pending holds whose time has passed but
    that the sweep has not recorded yet (looked for only when `next_hold_expiry` says some may
    have lapsed)."""
    lapsed = (
        select(func.count())
        .where(
            HOLDS.c.event_id == Event.id,
            HOLDS.c.status == "pending",
            HOLDS.c.expires_at <= now,
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
    # A scan of the events' one integer column each time a process reads the version (twice a
    # second at most): 10,000 events cost it about a millisecond (bench/README.md).
    select(func.coalesce(func.sum(Event.seats_version), 0)).scalar_subquery(),
).where(CatalogueVersion.id == 1)


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


def _order_by(ordering: EventOrdering) -> tuple[ColumnElement[Any], ...]:
    column = Event.event_time if ordering.field == "event_time" else Event.name
    direction = column.desc() if ordering.descending else column.asc()
    # Events without a time sort last either way; the id breaks ties so pages are stable.
    tie_breaker = Event.id.desc() if ordering.descending else Event.id.asc()
    return (direction.nulls_last(), tie_breaker)


@cache
def _count_statement(filter_names: frozenset[str], status: EventStatus | None) -> Select[int]:
    return COUNT.where(*_conditions(filter_names, status))


@cache
def _page_statement(
    filter_names: frozenset[str], status: EventStatus | None, ordering: EventOrdering
) -> Select[*tuple[Any, ...]]:
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


class EventQueries:
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
        """The catalogue's version token (the records' token and the seats' changes), and when
        the next open event's deadline passes."""
        token, next_deadline, seats_changes = (
            await self.connection.execute(VERSION, {"now": now})
        ).one()
        return f"{token}-{seats_changes}", next_deadline
