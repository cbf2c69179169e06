import uuid
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Annotated

from fastapi import Query
from pydantic import BaseModel, BeforeValidator, ConfigDict


class EventStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class EventOrdering(StrEnum):
    EVENT_TIME = "event_time"
    EVENT_TIME_DESC = "-event_time"
    NAME = "name"
    NAME_DESC = "-name"

    @property
    def field(self) -> str:
        return self.value.removeprefix("-")

    @property
    def descending(self) -> bool:
        return self.value.startswith("-")


class VenueRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    city: str | None
    address: str | None


class EventRead(BaseModel):
    id: uuid.UUID
    name: str
    event_time: datetime | None
    registration_deadline: datetime | None
    status: EventStatus
    provider_status: str
    number_of_visitors: int
    venue: VenueRead | None
    capacity: int | None
    registrations_count: int
    seats_left: int | None


def _datetime_when_time_given(value: object) -> object:
    """Keeps `2026-04-06T00:00:00` a datetime (pydantic would read it as a bare date)."""
    if isinstance(value, str) and len(value) > 10:
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return value
    return value


DateBound = Annotated[date | datetime, BeforeValidator(_datetime_when_time_given)]


def _start_of(bound: date | datetime) -> datetime:
    if isinstance(bound, datetime):
        return bound if bound.tzinfo else bound.replace(tzinfo=UTC)
    return datetime.combine(bound, time.min, tzinfo=UTC)


class EventFilters(BaseModel):
    """The list's query parameters. A bare date bound covers that whole UTC day; a datetime
    without an offset is read as UTC."""

    search: str | None = None
    status: EventStatus | None = None
    date_from: DateBound | None = None
    date_to: DateBound | None = None
    venue: uuid.UUID | None = None
    ordering: EventOrdering = EventOrdering.EVENT_TIME

    @property
    def starts_at_or_after(self) -> datetime | None:
        return None if self.date_from is None else _start_of(self.date_from)

    @property
    def starts_before(self) -> datetime | None:
        """Exclusive upper bound: the end of `date_to`'s day, or just after its instant."""
        if self.date_to is None:
            return None
        if isinstance(self.date_to, datetime):
            return _start_of(self.date_to) + timedelta(microseconds=1)
        return _start_of(self.date_to) + timedelta(days=1)


NameQuery = Annotated[
    str | None,
    Query(max_length=200, description="Case-insensitive part of the event name, any language"),
]


async def event_filters(
    name: NameQuery = None,
    search: Annotated[str | None, Query(max_length=200, description="Alias of `name`")] = None,
    status: Annotated[
        EventStatus | None, Query(description="`open`: registration open now; `closed`")
    ] = None,
    date_from: Annotated[
        DateBound | None, Query(description="ISO date or datetime; events from then on")
    ] = None,
    date_to: Annotated[
        DateBound | None, Query(description="ISO date (that whole day) or datetime; until then")
    ] = None,
    venue: Annotated[uuid.UUID | None, Query(description="Venue id")] = None,
    ordering: Annotated[EventOrdering, Query()] = EventOrdering.EVENT_TIME,
) -> EventFilters:
    return EventFilters(
        search=name or search or None,
        status=status,
        date_from=date_from,
        date_to=date_to,
        venue=venue,
        ordering=ordering,
    )
