import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert

from app.core.database import utcnow
from app.events.models import Event, Venue
from app.sync.models import Lease, SyncRun
from app.sync.records import ProviderEvent, ProviderPlace


@dataclass
class BatchCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def add(self, other: "BatchCounts") -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged


def _dialect_insert(session: AsyncSession, model: type[Any]) -> Insert:
    """`INSERT` that knows `ON CONFLICT` (both dialects spell it the same way)."""
    if session.bind.dialect.name == "postgresql":
        return postgresql.insert(model)
    return sqlite.insert(model)


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
    """Upserts of provider records, keyed by the provider's ids."""

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
        statement = _dialect_insert(self.session, Venue)
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
        statement = _dialect_insert(self.session, Event)
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


class SyncRunRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def last_successful(self) -> SyncRun | None:
        query = (
            select(SyncRun)
            .where(SyncRun.status == "success")
            .order_by(SyncRun.started_at.desc(), SyncRun.id.desc())
            .limit(1)
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    async def last_finished(self) -> SyncRun | None:
        query = (
            select(SyncRun)
            .where(SyncRun.finished_at.is_not(None))
            .order_by(SyncRun.finished_at.desc(), SyncRun.id.desc())
            .limit(1)
        )
        return (await self.session.execute(query)).scalar_one_or_none()

    async def recent(self, limit: int) -> Sequence[SyncRun]:
        query = select(SyncRun).order_by(SyncRun.started_at.desc(), SyncRun.id.desc()).limit(limit)
        return (await self.session.execute(query)).scalars().all()


class LeaseRepository:
    """Named expiring leases (see Lease). Every method is one statement, so that two replicas
    racing for a lease can never both win."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def acquire(self, name: str, holder: str, ttl: timedelta) -> bool:
        now = utcnow()
        statement = _dialect_insert(self.session, Lease).values(
            name=name, holder=holder, acquired_at=now, expires_at=now + ttl
        )
        statement = statement.on_conflict_do_update(
            index_elements=[Lease.name],
            set_={"holder": holder, "acquired_at": now, "expires_at": now + ttl},
            where=or_(Lease.expires_at < now, Lease.holder == holder),
        ).returning(Lease.holder)
        return (await self.session.execute(statement)).scalar_one_or_none() == holder

    async def renew(self, name: str, holder: str, ttl: timedelta) -> bool:
        result = await self.session.execute(
            update(Lease)
            .where(Lease.name == name, Lease.holder == holder)
            .values(expires_at=utcnow() + ttl)
        )
        return bool(result.rowcount)

    async def release(self, name: str, holder: str) -> None:
        await self.session.execute(delete(Lease).where(Lease.name == name, Lease.holder == holder))
