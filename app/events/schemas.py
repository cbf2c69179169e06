import uuid
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from app.core.pagination import Page, PageRequest
from app.core.query import QueryModel


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
    registrations_count: int = Field(description="Seats taken: pending holds and confirmed")
    seats_left: int | None
    waitlist_count: int = Field(description="Entries on the waiting list")


EventPage = Page[EventRead]


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


class EventFilters(QueryModel):
    """The list's query parameters. A bare date bound covers that whole UTC day; a datetime
    without an offset is read as UTC."""

    name: str | None = Field(
        None, max_length=200, description="Case-insensitive part of the event name, any language"
    )
    search: str | None = Field(None, max_length=200, description="Alias of `name`")
    status: EventStatus | None = Field(None, description="`open`: registration open now; `closed`")
    date_from: DateBound | None = Field(
        None, description="ISO date or datetime; events from then on"
    )
    date_to: DateBound | None = Field(
        None, description="ISO date (that whole day) or datetime; until then"
    )
    venue: uuid.UUID | None = Field(None, description="Venue id")
    ordering: EventOrdering = EventOrdering.EVENT_TIME

    @property
    def name_contains(self) -> str | None:
        return self.name or self.search or None

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


class EventListQuery(EventFilters, PageRequest):
    """The list's whole query string, its filters and its page, read in one validation."""
