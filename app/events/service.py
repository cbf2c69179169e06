"""The catalogue's one owner: events, venues and their seats. Reads for the API; writes for the
sync and the stream (provider records), for registrations (seats), and for the cleanup."""

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row

from app.core.database import Database, UnitOfWork, utcnow
from app.core.pagination import Found, PageRequest
from app.events.errors import EventNotFoundError
from app.events.models import Event, registration_is_open
from app.events.repository import (
    EVENT_FIELDS,
    VENUE_FIELDS,
    Applied,
    CatalogueRepository,
    EventRepository,
)
from app.events.schemas import EventFilters, EventRead, EventStatus
from app.sync.records import ProviderEvent, ProviderPlace, newest_first

logger = logging.getLogger(__name__)

_VENUE_START = len(EVENT_FIELDS)
_VENUE_END = _VENUE_START + len(VENUE_FIELDS)


def event_fields(row: Row[Any], now: datetime) -> dict[str, Any]:
    """An EventRead's fields from a row read with the repository's READ_COLUMNS, to be
    validated with the rest of the page at once. Read by position: by name costs a dozen times
    more in SQLAlchemy's rows."""
    fields = dict(zip(EVENT_FIELDS, row, strict=False))
    venue = row[_VENUE_START:_VENUE_END]
    fields["venue"] = dict(zip(VENUE_FIELDS, venue, strict=True)) if venue[0] is not None else None
    is_open = registration_is_open(fields["provider_status"], fields["registration_deadline"], now)
    fields["status"] = EventStatus.OPEN if is_open else EventStatus.CLOSED
    if not is_open:  # its waiting list has ended, whether or not the sweep has recorded it
        fields["waitlist_count"] = 0
    capacity = fields["capacity"]
    fields["seats_left"] = (
        None if capacity is None else max(capacity - fields["registrations_count"], 0)
    )
    return fields


class EventService:
    """Browsing. Reads run on a connection of their own, handed back to the pool as soon as the
    rows are in (building the response needs none)."""

    def __init__(self, database: Database) -> None:
        self.database = database

    async def list_events(self, filters: EventFilters, page: PageRequest) -> Found[dict[str, Any]]:
        now = utcnow()
        async with self.database.reading() as connection:
            events = EventRepository(connection)
            rows = await events.page(filters, now, offset=page.offset, limit=page.page_size)
            # An empty page carries no total: then page 1 is empty, and a later one is 404.
            count = rows[0].total if rows else await events.count(filters, now)
        return Found([event_fields(row, now) for row in rows], count)

    async def get_event(self, event_id: uuid.UUID) -> EventRead:
        async with self.database.reading() as connection:
            now = utcnow()
            row = await EventRepository(connection).get(event_id, now)
        if row is None:
            raise EventNotFoundError()
        return EventRead.model_validate(event_fields(row, now))


class Catalogue:
    """The catalogue's writes, in the caller's unit of work."""

    def __init__(self, work: UnitOfWork) -> None:
        self.events = CatalogueRepository(work.session)

    async def apply(self, records: Sequence[ProviderEvent]) -> Applied:
        """Upserts provider records (their venues first): new events are created, those whose
        `changed_at` is newer than the stored one updated, the rest left untouched. The
        changes registrations must follow (app.registrations.lifecycle) come back with the
        counts."""
        records = newest_first(records)
        venues = await self.events.upsert_venues(_places(records))
        return await self.events.upsert_events(records, venues)

    async def lock(self, event_id: uuid.UUID) -> Event:
        """The event with its seats locked for the rest of the unit of work: whoever changes
        the seats of an event (registrations, the waiting list, the sweep, the sync) takes this
        lock first, so that its counters stay exact and nobody deadlocks."""
        event = await self.events.lock(event_id)
        if event is None:
            raise EventNotFoundError()
        return event

    async def lock_unless_busy(self, event_id: uuid.UUID) -> Event | None:
        """The event locked as by `lock`, or None when another transaction holds it (it will
        leave the seats right) or it was deleted meanwhile."""
        return await self.events.lock(event_id, skip_locked=True)

    async def due_for_settling(self, limit: int) -> list[uuid.UUID]:
        return await self.events.due_for_settling(utcnow(), limit)

    async def delete_ended(self, retention_days: int) -> int:
        """Deletes events (with their registrations) that ended more than `retention_days` ago."""
        cutoff = utcnow() - timedelta(days=retention_days)
        deleted = await self.events.delete_ended_before(cutoff)
        logger.info("cleanup: deleted %d events that started before %s", deleted, cutoff)
        return deleted


def _places(records: Sequence[ProviderEvent]) -> list[ProviderPlace]:
    places = {record.place.id: record.place for record in records if record.place is not None}
    return list(places.values())
