"""The catalogue's one owner: events, venues and their seats. Reads for the API; writes for the
sync and the stream (provider records), for registrations (seats), and for the cleanup."""

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from sqlalchemy import Row

from app.core.database import Database, UnitOfWork, utcnow
from app.core.last_write import LastWrite
from app.core.pagination import Found, PageRequest
from app.events.errors import EventNotFoundError
from app.events.models import Event, earliest, free_seats, registration_is_open
from app.events.queries import EVENT_FIELDS, VENUE_FIELDS, EventQueries
from app.events.repository import CatalogueRepository
from app.events.schemas import EventFilters, EventRead, EventStatus
from app.events.version import LatestVersion
from app.provider.changes import Applied
from app.provider.records import ProviderEvent, ProviderPlace, newest_first

logger = logging.getLogger(__name__)

Item = TypeVar("Item")

_VENUE_START = len(EVENT_FIELDS)
_VENUE_END = _VENUE_START + len(VENUE_FIELDS)
_NEXT_HOLD_EXPIRY = _VENUE_END
_DEADLINE = EVENT_FIELDS.index("registration_deadline")
_PROVIDER_STATUS = EVENT_FIELDS.index("provider_status")


def event_fields(row: Row[Any], now: datetime) -> dict[str, Any]:
    """An EventRead's fields from a row read with the queries' READ_COLUMNS, to be
    validated with the rest of the page at once. Read by position: by name costs a dozen times
    more in SQLAlchemy's rows."""
    fields = dict(zip(EVENT_FIELDS, row, strict=False))
    venue = row[_VENUE_START:_VENUE_END]
    fields["venue"] = dict(zip(VENUE_FIELDS, venue, strict=True)) if venue[0] is not None else None
    is_open = registration_is_open(fields["provider_status"], fields["registration_deadline"], now)
    fields["status"] = EventStatus.OPEN if is_open else EventStatus.CLOSED
    if not is_open:  # its waiting list has ended, whether or not the sweep has recorded it
        fields["waitlist_count"] = 0
    fields["seats_left"] = free_seats(fields["capacity"], fields["registrations_count"])
    return fields


def _changes_with_time_at(row: Row[Any], now: datetime) -> datetime | None:
    """When time alone next changes what the row shows (None: never): its deadline closing
    registration, or a hold lapsing (at once, if one may have lapsed already)."""
    moments = []
    deadline = row[_DEADLINE]
    if deadline is not None and registration_is_open(row[_PROVIDER_STATUS], deadline, now):
        moments.append(deadline)
    hold = row[_NEXT_HOLD_EXPIRY]
    if hold is not None:
        moments.append(max(hold, now))
    return min(moments, default=None)


@dataclass(frozen=True, slots=True)
class Shown(Generic[Item]):
    """What a read found, and when time alone will change it (None: only a write will)."""

    found: Item
    changes_at: datetime | None


class EventService:
    """Browsing. Reads run on a connection of their own, handed back to the pool as soon as the
    rows are in (building the response needs none)."""

    def __init__(self, database: Database) -> None:
        self.database = database

    async def list_events(
        self, filters: EventFilters, page: PageRequest
    ) -> Shown[Found[dict[str, Any]]]:
        now = utcnow()
        async with self.database.reading() as connection:
            events = EventQueries(connection)
            rows = await events.page(filters, now, offset=page.offset, limit=page.page_size)
            if page.offset == 0 and len(rows) < page.page_size:
                count = len(rows)  # the first page shows every match: no need to count
            else:
                count = await events.count(filters, now)
        found = Found([event_fields(row, now) for row in rows], count)
        return Shown(found, earliest(_changes_with_time_at(row, now) for row in rows))

    async def get_event(self, event_id: uuid.UUID) -> Shown[EventRead]:
        now = utcnow()
        async with self.database.reading() as connection:
            row = await EventQueries(connection).get(event_id, now)
        if row is None:
            raise EventNotFoundError()
        return Shown(
            EventRead.model_validate(event_fields(row, now)), _changes_with_time_at(row, now)
        )


class Catalogue:
    """The catalogue's writes, in the caller's unit of work. A write of provider records replaces
    the version token, as the unit of work's last write; a change to an event's seats grows its
    `seats_version` in the same statement. Either lets this process's `LatestVersion` know
    once it has committed."""

    def __init__(self, work: UnitOfWork, latest: LatestVersion) -> None:
        self.work = work
        self.latest = latest
        self.events = CatalogueRepository(work.session)

    def _records_changing(self) -> None:
        self.work.before_commit("catalogue-version", self.events.replace_version_token)
        self.work.after_commit(self.latest.changed)

    def _seats_changing(self) -> None:
        self.work.after_commit(self.latest.changed)

    async def apply(self, records: Sequence[ProviderEvent]) -> Applied:
        """Upserts provider records (their venues first): new events are created, those whose
        `changed_at` is newer than the stored one updated, the rest left untouched. The
        changes registrations must follow (app.registrations.lifecycle) come back with the
        counts."""
        records = newest_first(records)
        venues = await self.events.upsert_venues(_places(records))
        applied = await self.events.upsert_events(records, venues)
        if venues.written or applied.counts.created or applied.counts.updated or applied.changes:
            self._records_changing()
        return applied

    async def take_seat(
        self,
        event_id: uuid.UUID,
        hold_ends: datetime,
        now: datetime,
        *,
        along: Sequence[LastWrite] = (),
    ) -> bool:
        """Takes one seat of the event for a hold ending at `hold_ends`, in one statement, if a
        seat is free for a direct registration: registration open, nobody waiting, fewer seats
        taken than there are; and makes the writes `along` with it (the registration holding
        the seat), all of them or none. False, with none made, otherwise — full, or maybe only
        seemingly so (holds that lapsed are not counted out here: see `lock`), or one of
        `along` refused. These are the unit of work's last writes: on PostgreSQL the unit of
        work commits with them (`UnitOfWork.commit_with`), and the row is locked only while the
        server runs the seat's UPDATE and the COMMIT."""
        seat = self.events.take_seat(event_id, hold_ends, now)
        taken = await self.work.commit_with(*along, seat)
        if taken:
            self._seats_changing()
        return taken

    async def lock(self, event_id: uuid.UUID) -> Event:
        """The event with its seats locked for the rest of the unit of work: whoever changes
        the seats of an event otherwise than by `take_seat` (registrations, the waiting list,
        the sweep, the sync) takes this lock first, so that its counters stay exact and nobody
        deadlocks."""
        event = await self.events.lock(event_id)
        if event is None:
            raise EventNotFoundError()
        self._seats_changing()  # whoever locks an event's seats is about to change them
        return event

    async def read(self, event_id: uuid.UUID) -> Event:
        """The event with its venue, unlocked: for what is told about it, not its seats."""
        event = await self.events.get_with_venue(event_id)
        if event is None:
            raise EventNotFoundError()
        return event

    async def lock_unless_busy(self, event_id: uuid.UUID) -> Event | None:
        """The event locked as by `lock`, or None when another transaction holds it (it will
        leave the seats right) or it was deleted meanwhile."""
        event = await self.events.lock(event_id, skip_locked=True)
        if event is not None:
            self._seats_changing()
        return event

    async def due_for_settling(self, limit: int) -> list[uuid.UUID]:
        return await self.events.due_for_settling(utcnow(), limit)

    async def delete_ended(self, retention_days: int) -> int:
        """Deletes events (with their registrations) that ended more than `retention_days` ago."""
        cutoff = utcnow() - timedelta(days=retention_days)
        deleted = await self.events.delete_ended_before(cutoff)
        if deleted:
            self._records_changing()
        logger.info("cleanup: deleted %d events that started before %s", deleted, cutoff)
        return deleted


def _places(records: Sequence[ProviderEvent]) -> list[ProviderPlace]:
    places = {record.place.id: record.place for record in records if record.place is not None}
    return list(places.values())
