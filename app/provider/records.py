"""The provider's event records (SPEC §6), read liberally: missing fields, a null or partial
`place`, unknown statuses. A record that cannot be read at all yields None and is counted."""

import logging
import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

logger = logging.getLogger(__name__)

# Provider statuses under which registration can be open; anything else (including statuses
# we have never seen) counts as closed.
OPEN_PROVIDER_STATUSES = frozenset({"new", "published", "open"})
CANCELLED_PROVIDER_STATUS = "cancelled"
KNOWN_PROVIDER_STATUSES = OPEN_PROVIDER_STATUSES | {
    "registration_closed",
    "finished",
    "cancelled",
    "closed",
}
MISSING_STATUS = "unknown"
_SEAT_RANGE = re.compile(r"^\s*[^\W\d_]*(\d+)\s*-\s*[^\W\d_]*(\d+)\s*$")


def capacity_from_seats_pattern(pattern: str | None) -> int | None:
    """`A1-30,B1-50` → 80 seats; None when the pattern is absent or unreadable."""
    if not pattern or not pattern.strip():
        return None
    seats = 0
    for part in pattern.split(","):
        match = _SEAT_RANGE.match(part)
        if match is None:
            return None
        first, last = int(match.group(1)), int(match.group(2))
        if last < first:
            return None
        seats += last - first + 1
    return seats


def _as_utc(value: datetime) -> datetime:
    """A time without an offset is taken to be UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


Timestamp = Annotated[datetime, AfterValidator(_as_utc)]


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class ProviderPlace(_Lenient):
    id: uuid.UUID
    name: str = Field(min_length=1)
    city: str | None = None
    address: str | None = None
    seats_pattern: str | None = None
    changed_at: Timestamp | None = None

    @property
    def capacity(self) -> int | None:
        return capacity_from_seats_pattern(self.seats_pattern)


class ProviderEvent(_Lenient):
    id: uuid.UUID
    name: str = Field(min_length=1, max_length=500)
    place: ProviderPlace | None = None
    event_time: Timestamp | None = None
    registration_deadline: Timestamp | None = None
    status: str | None = Field(default=None, max_length=200)
    number_of_visitors: int = Field(default=0, ge=0)
    changed_at: Timestamp | None = None
    created_at: Timestamp | None = None
    status_changed_at: Timestamp | None = None

    @property
    def provider_status(self) -> str:
        """The provider's status, kept as given (lower case); unknown ones count as closed."""
        return (self.status or MISSING_STATUS).lower()[:64]


def read_event(record: Any) -> ProviderEvent | None:
    """The event in `record`, or None (logged) when it cannot be read."""
    try:
        event = ProviderEvent.model_validate(record)
    except ValidationError as error:
        record_id = record.get("id") if isinstance(record, dict) else None
        fields = sorted({".".join(map(str, item["loc"])) for item in error.errors()})
        logger.warning("sync: skipped unreadable record id=%r (fields: %s)", record_id, fields)
        return None
    if event.provider_status not in KNOWN_PROVIDER_STATUSES:
        logger.warning(
            "sync: event %s has unknown status %r; treated as closed", event.id, event.status
        )
    return event


def newest_first(events: Sequence[ProviderEvent]) -> list[ProviderEvent]:
    """One record per id (the newest change), for a batch that must touch each row once."""
    latest: dict[uuid.UUID, ProviderEvent] = {}
    for event in events:
        kept = latest.get(event.id)
        if kept is None or _changed(event) > _changed(kept):
            latest[event.id] = event
    return list(latest.values())


def _changed(event: ProviderEvent) -> datetime:
    return event.changed_at or datetime.min.replace(tzinfo=UTC)
