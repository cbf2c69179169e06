"""Browsing the local catalogue, and deleting events long past."""

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from fastapi import Request
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.database import reading, utcnow
from app.core.errors import NotFoundError
from app.core.pagination import PageRequest, page_links
from app.events.models import registration_is_open
from app.events.repository import EventRepository
from app.events.schemas import EventFilters, EventPage, EventRead, EventStatus

logger = logging.getLogger(__name__)


def _status(row: Any, now: datetime) -> EventStatus:
    if registration_is_open(row.provider_status, row.registration_deadline, now):
        return EventStatus.OPEN
    return EventStatus.CLOSED


def _event_fields(row: Row[Any], now: datetime) -> dict[str, Any]:
    """An EventRead's fields from a row, to be validated with the rest of the page at once."""
    venue = None
    if row.venue_id is not None:
        venue = {
            "id": row.venue_id,
            "name": row.venue_name,
            "city": row.venue_city,
            "address": row.venue_address,
        }
    seats_left = None
    if row.capacity is not None:
        seats_left = max(row.capacity - row.registrations_count, 0)
    return {
        "id": row.id,
        "name": row.name,
        "event_time": row.event_time,
        "registration_deadline": row.registration_deadline,
        "status": _status(row, now),
        "provider_status": row.provider_status,
        "number_of_visitors": row.number_of_visitors,
        "venue": venue,
        "capacity": row.capacity,
        "registrations_count": row.registrations_count,
        "seats_left": seats_left,
    }


class EventService:
    """Takes the engine rather than a session: its reads run on a connection of their own,
    handed back to the pool as soon as the rows are in (building the response needs none)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def list_events(
        self, filters: EventFilters, page: PageRequest, request: Request
    ) -> EventPage:
        now = utcnow()
        async with reading(self.engine) as connection:
            events = EventRepository(connection)
            rows = await events.page(filters, now, offset=page.offset, limit=page.page_size)
            # An empty page carries no total: then page 1 is empty, and a later one is 404.
            count = rows[0].total if rows else await events.count(filters, now)
        page.require_exists(count)
        next_url, previous_url = page_links(request, page, count)
        results = [_event_fields(row, now) for row in rows]
        # One validation for the whole page: cheaper than one model per event.
        return EventPage.model_validate(
            {"count": count, "next": next_url, "previous": previous_url, "results": results}
        )

    async def get_event(self, event_id: uuid.UUID) -> EventRead:
        async with reading(self.engine) as connection:
            row = await EventRepository(connection).get(event_id)
        if row is None:
            raise NotFoundError("Event not found.")
        return EventRead.model_validate(_event_fields(row, utcnow()))

    async def delete_ended(self, retention_days: int) -> int:
        """Deletes events (with their registrations) that ended more than `retention_days` ago."""
        cutoff = utcnow() - timedelta(days=retention_days)
        async with self.engine.begin() as connection:
            deleted = await EventRepository(connection).delete_ended_before(cutoff)
        logger.info("cleanup: deleted %d events that started before %s", deleted, cutoff)
        return deleted
