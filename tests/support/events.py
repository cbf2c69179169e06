"""Rows for tests that need events without going through a sync."""

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update

from app.core.database import Database, utcnow
from app.events.models import Event, Venue
from app.events.repository import CatalogueRepository


async def create_venue(database: Database, **fields: Any) -> Venue:
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "name": "Екатеринбург Арена",
        "city": "Екатеринбург",
        "address": "Репина ул., 5",
        "seats_pattern": "A1-50",
        "capacity": 50,
    }
    values.update(fields)
    venue = Venue(**values)
    async with database.transaction() as work:
        work.session.add(venue)
        await CatalogueRepository(work.session).replace_version_token()
    return venue


async def create_event(
    database: Database,
    *,
    venue: Venue | None = None,
    **fields: Any,
) -> Event:
    """An event open for registration a week from now, unless `fields` say otherwise."""
    now = utcnow()
    name = fields.pop("name", f"Конференция по Python {uuid.uuid4().hex[:6]}")
    event_time: datetime | None = fields.pop("event_time", now + timedelta(days=7))
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "name": name,
        "name_folded": name.casefold(),
        "event_time": event_time,
        "registration_deadline": event_time - timedelta(days=1) if event_time else None,
        "provider_status": "published",
        "venue_id": venue.id if venue else None,
        "capacity": venue.capacity if venue else None,
        "changed_at": now,
        "created_at": now,
    }
    values.update(fields)
    event = Event(**values)
    async with database.transaction() as work:
        work.session.add(event)
        await CatalogueRepository(work.session).replace_version_token()
    return event


async def update_event(database: Database, event_id: uuid.UUID, **values: Any) -> None:
    """Changes the stored event as a write to the catalogue does (its version token too)."""
    async with database.transaction() as work:
        await work.session.execute(update(Event).where(Event.id == event_id).values(**values))
        await CatalogueRepository(work.session).replace_version_token()


async def event_with_seats(database: Database, seats: int = 5, **fields: Any) -> Event:
    """An event (open for registration, unless `fields` say otherwise) at a venue of `seats`."""
    venue = await create_venue(database, seats_pattern=f"A1-{seats}", capacity=seats)
    return await create_event(database, venue=venue, **fields)
