import uuid
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from app.core.pagination import Page, PageRequest
from app.core.query import QueryModel
from app.core.text import STORABLE_TEXT


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

    id: uuid.UUID = Field(description="The venue's id at the provider")
    name: str = Field(description="The venue's name")
    city: str | None = Field(description="Its city; null when the provider gives none")
    address: str | None = Field(description="Its street address; null when the provider gives none")


class EventRead(BaseModel):
    id: uuid.UUID = Field(description="The event's id, the provider's")
    name: str = Field(description="The event's name")
    event_time: datetime | None = Field(
        description="When it starts (UTC); null while the provider has not set a time"
    )
    registration_deadline: datetime | None = Field(
        description="Registration closes then (UTC); null when the provider sets no deadline"
    )
    status: EventStatus = Field(
        description="`open` while registration is open now (the provider's status is `new`, "
        "`published` or `open` and the deadline, if any, is in the future); otherwise `closed`"
    )
    provider_status: str = Field(
        description="The provider's own status (`new`, `published`, `finished`, `cancelled`, …)"
    )
    number_of_visitors: int = Field(
        description="The provider's own figure, as it sends it, for information only: it counts "
        "visitors of its own and is neither our registrations nor a limit. Our seats are "
        "`capacity`, `registrations_count` and `seats_left`"
    )
    venue: VenueRead | None = Field(description="Where it takes place; null when not known")
    capacity: int | None = Field(
        description="Seats in all, from the venue's seat plan (`A1-30,B1-50` is 80); null when "
        "the provider gives no plan: then nothing limits registrations"
    )
    registrations_count: int = Field(description="Seats taken: pending holds and confirmed")
    seats_left: int | None = Field(
        description="Seats not taken (`capacity` − `registrations_count`, never below 0); null "
        "when `capacity` is. While anyone waits, a free seat belongs to the waiting list"
    )
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


# Documented as the date it mostly is: a union of date and date-time would reach generated
# clients as an argument of two types; the datetime it also takes is in each description.
DateBound = Annotated[
    date | datetime,
    BeforeValidator(_datetime_when_time_given),
    WithJsonSchema({"type": "string", "format": "date"}),
]


def _start_of(bound: date | datetime) -> datetime:
    if isinstance(bound, datetime):
        return bound if bound.tzinfo else bound.replace(tzinfo=UTC)
    return datetime.combine(bound, time.min, tzinfo=UTC)


NamePart = Annotated[str, Field(max_length=200), STORABLE_TEXT]


class EventFilters(QueryModel):
    """The list's query parameters. A bare date bound covers that whole UTC day; a datetime
    without an offset is read as UTC."""

    name: NamePart | None = Field(
        None, description="Case-insensitive part of the event name, any language"
    )
    search: NamePart | None = Field(None, description="Alias of `name`")
    status: EventStatus | None = Field(None, description="`open`: registration open now; `closed`")
    date_from: DateBound | None = Field(
        None,
        description="Events from this day on (UTC); an ISO datetime is taken too, for events "
        "from that instant on",
    )
    date_to: DateBound | None = Field(
        None,
        description="Events until the end of this day (UTC); an ISO datetime is taken too, "
        "for events up to that instant",
    )
    venue: uuid.UUID | None = Field(None, description="Venue id")
    ordering: EventOrdering = Field(
        EventOrdering.EVENT_TIME,
        description="`event_time`, `name`, or either with `-` for descending; ties by id",
    )

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
